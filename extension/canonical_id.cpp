// SQL type crosswalk.canonical_id: a 16-byte UUID naming one person across
// platforms. Same on-disk layout as uuid (so the casts are binary), compared
// bytewise (so the order agrees with uuid's and with UUIDv7 creation time).
#include "guard.hpp"

#include <cstring>

#include "canonical_id.hpp"

extern "C" {
#include "access/hash.h"
#include "common/hashfn.h"
}

namespace {

using crosswalk::CanonicalId;

CanonicalId* GetId(FunctionCallInfo fcinfo, int n) {
  return reinterpret_cast<CanonicalId*>(PG_GETARG_POINTER(n));
}

Datum ReturnId(const CanonicalId& id) {
  auto* out = static_cast<CanonicalId*>(crosswalk::pg::PgAlloc(sizeof(CanonicalId)));
  std::memcpy(out->data(), id.data(), id.size());
  return PointerGetDatum(out);
}

int Compare(FunctionCallInfo fcinfo) {
  return std::memcmp(GetId(fcinfo, 0)->data(), GetId(fcinfo, 1)->data(), crosswalk::kCanonicalIdSize);
}

}  // namespace

CROSSWALK_FUNCTION(canonical_id_in) {
  const char* text = PG_GETARG_CSTRING(0);
  return ReturnId(crosswalk::ParseCanonicalId(text));
}

CROSSWALK_FUNCTION(canonical_id_out) {
  char* out = static_cast<char*>(crosswalk::pg::PgAlloc(crosswalk::kCanonicalIdTextSize + 1));
  crosswalk::FormatCanonicalId(*GetId(fcinfo, 0), out);
  out[crosswalk::kCanonicalIdTextSize] = '\0';
  PG_RETURN_CSTRING(out);
}

CROSSWALK_FUNCTION(canonical_id_recv) {
  StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
  if (buf->len - buf->cursor != static_cast<int>(crosswalk::kCanonicalIdSize)) {
    throw crosswalk::Error("22P03", "invalid binary canonical_id: expected 16 bytes, got " +
                                        std::to_string(buf->len - buf->cursor));
  }
  CanonicalId id;
  std::memcpy(id.data(), buf->data + buf->cursor, id.size());
  buf->cursor += static_cast<int>(id.size());
  return ReturnId(id);
}

CROSSWALK_FUNCTION(canonical_id_send) {
  const CanonicalId* id = GetId(fcinfo, 0);
  bytea* out = static_cast<bytea*>(crosswalk::pg::PgAlloc(VARHDRSZ + id->size()));
  SET_VARSIZE(out, VARHDRSZ + id->size());
  std::memcpy(VARDATA(out), id->data(), id->size());
  PG_RETURN_BYTEA_P(out);
}

CROSSWALK_FUNCTION(canonical_id_eq) { PG_RETURN_BOOL(Compare(fcinfo) == 0); }
CROSSWALK_FUNCTION(canonical_id_ne) { PG_RETURN_BOOL(Compare(fcinfo) != 0); }
CROSSWALK_FUNCTION(canonical_id_lt) { PG_RETURN_BOOL(Compare(fcinfo) < 0); }
CROSSWALK_FUNCTION(canonical_id_le) { PG_RETURN_BOOL(Compare(fcinfo) <= 0); }
CROSSWALK_FUNCTION(canonical_id_gt) { PG_RETURN_BOOL(Compare(fcinfo) > 0); }
CROSSWALK_FUNCTION(canonical_id_ge) { PG_RETURN_BOOL(Compare(fcinfo) >= 0); }

CROSSWALK_FUNCTION(canonical_id_cmp) {
  int c = Compare(fcinfo);
  PG_RETURN_INT32(c < 0 ? -1 : (c > 0 ? 1 : 0));
}

CROSSWALK_FUNCTION(canonical_id_hash) {
  // hash_any cannot fail; it is a pure function over the bytes.
  return hash_any(GetId(fcinfo, 0)->data(), static_cast<int>(crosswalk::kCanonicalIdSize));
}

CROSSWALK_FUNCTION(canonical_id_hash_extended) {
  return hash_any_extended(GetId(fcinfo, 0)->data(), static_cast<int>(crosswalk::kCanonicalIdSize),
                           PG_GETARG_INT64(1));
}

CROSSWALK_FUNCTION(new_canonical_id) { return ReturnId(crosswalk::NewCanonicalId()); }
