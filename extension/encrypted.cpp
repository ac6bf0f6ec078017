// SQL type crosswalk.encrypted: a ciphertext envelope (lib/envelope.hpp) in a
// varlena. Its text form is "cw1:" + base64url; input and binary receive
// check the structure (they cannot check the tag), so pg_dump, COPY and
// logical replication carry values unchanged and garbage is refused at the
// door. Equality and ordering are bytewise: with deterministic (AES-SIV) keys
// equal plaintexts have equal envelopes, so the type carries unique indexes
// and joins.
#include "guard.hpp"

#include <cstring>

#include "canonical_id.hpp"
#include "envelope.hpp"

extern "C" {
#include "common/hashfn.h"
#include "utils/uuid.h"
}

namespace {

using crosswalk::ByteView;

static_assert(crosswalk::kEnvelopeHeaderSize == 22, "envelope layout is part of the on-disk format");

// The argument detoasted (PG_DETOAST_DATUM_PACKED can ereport: through PgCall).
struct varlena* GetEncrypted(FunctionCallInfo fcinfo, int n) {
  Datum d = PG_GETARG_DATUM(n);
  return crosswalk::pg::PgCall([&] { return PG_DETOAST_DATUM_PACKED(d); });
}

ByteView BytesOf(const struct varlena* v) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v));
}

int Compare(FunctionCallInfo fcinfo) {
  ByteView a = BytesOf(GetEncrypted(fcinfo, 0));
  ByteView b = BytesOf(GetEncrypted(fcinfo, 1));
  int c = std::memcmp(a.data, b.data, a.size < b.size ? a.size : b.size);
  if (c != 0) return c;
  return a.size < b.size ? -1 : (a.size > b.size ? 1 : 0);
}

}  // namespace

CROSSWALK_FUNCTION(encrypted_in) {
  const char* str = PG_GETARG_CSTRING(0);
  std::string_view text(str);
  const std::size_t n = crosswalk::EncryptedTextDecodedSize(text);
  if (n > MaxAllocSize - VARHDRSZ) {
    throw crosswalk::Error(crosswalk::sqlstate::kProgramLimitExceeded, "encrypted value is too large");
  }
  auto* out = static_cast<struct varlena*>(crosswalk::pg::PgAlloc(VARHDRSZ + n));
  SET_VARSIZE(out, VARHDRSZ + n);
  crosswalk::ParseEncryptedText(text, reinterpret_cast<std::uint8_t*>(VARDATA(out)));
  PG_RETURN_POINTER(out);
}

CROSSWALK_FUNCTION(encrypted_out) {
  ByteView bytes = BytesOf(GetEncrypted(fcinfo, 0));
  const std::size_t n = crosswalk::EncryptedTextSize(bytes.size);
  if (n + 1 > MaxAllocSize) {
    throw crosswalk::Error(crosswalk::sqlstate::kProgramLimitExceeded,
                           "encrypted value of " + std::to_string(bytes.size) +
                               " bytes is too large for its text form (" + std::to_string(n) + " characters)",
                           "Values over about 805 MB can be stored and decrypted but not written as text; use binary "
                           "COPY or send the value in binary.");
  }
  char* out = static_cast<char*>(crosswalk::pg::PgAlloc(n + 1));
  crosswalk::FormatEncryptedText(bytes, out);
  out[n] = '\0';
  PG_RETURN_CSTRING(out);
}

CROSSWALK_FUNCTION(encrypted_recv) {
  StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
  const std::size_t n = static_cast<std::size_t>(buf->len - buf->cursor);
  ByteView bytes(reinterpret_cast<const std::uint8_t*>(buf->data + buf->cursor), n);
  crosswalk::Envelope envelope;
  if (const char* why = crosswalk::DecodeEnvelope(bytes, &envelope)) {
    throw crosswalk::Error("22P03",
                           std::string("invalid binary encrypted value of ") + std::to_string(n) + " bytes: " + why);
  }
  auto* out = static_cast<struct varlena*>(crosswalk::pg::PgAlloc(VARHDRSZ + n));
  SET_VARSIZE(out, VARHDRSZ + n);
  std::memcpy(VARDATA(out), bytes.data, n);
  buf->cursor = buf->len;
  PG_RETURN_POINTER(out);
}

CROSSWALK_FUNCTION(encrypted_send) {
  ByteView bytes = BytesOf(GetEncrypted(fcinfo, 0));
  auto* out = static_cast<bytea*>(crosswalk::pg::PgAlloc(VARHDRSZ + bytes.size));
  SET_VARSIZE(out, VARHDRSZ + bytes.size);
  std::memcpy(VARDATA(out), bytes.data, bytes.size);
  PG_RETURN_BYTEA_P(out);
}

CROSSWALK_FUNCTION(encrypted_eq) { PG_RETURN_BOOL(Compare(fcinfo) == 0); }
CROSSWALK_FUNCTION(encrypted_ne) { PG_RETURN_BOOL(Compare(fcinfo) != 0); }
CROSSWALK_FUNCTION(encrypted_lt) { PG_RETURN_BOOL(Compare(fcinfo) < 0); }
CROSSWALK_FUNCTION(encrypted_le) { PG_RETURN_BOOL(Compare(fcinfo) <= 0); }
CROSSWALK_FUNCTION(encrypted_gt) { PG_RETURN_BOOL(Compare(fcinfo) > 0); }
CROSSWALK_FUNCTION(encrypted_ge) { PG_RETURN_BOOL(Compare(fcinfo) >= 0); }

CROSSWALK_FUNCTION(encrypted_cmp) {
  int c = Compare(fcinfo);
  PG_RETURN_INT32(c < 0 ? -1 : (c > 0 ? 1 : 0));
}

CROSSWALK_FUNCTION(encrypted_hash) {
  ByteView b = BytesOf(GetEncrypted(fcinfo, 0));
  return hash_any(b.data, static_cast<int>(b.size));
}

CROSSWALK_FUNCTION(encrypted_hash_extended) {
  ByteView b = BytesOf(GetEncrypted(fcinfo, 0));
  return hash_any_extended(b.data, static_cast<int>(b.size), PG_GETARG_INT64(1));
}

// The key id and key version a value names (not secret: the header is clear
// text), for rotation in batches: WHERE key_version_of(col) < current.
CROSSWALK_FUNCTION(encrypted_key_id) {
  ByteView b = BytesOf(GetEncrypted(fcinfo, 0));
  crosswalk::Envelope e;
  if (const char* why = crosswalk::DecodeEnvelope(b, &e)) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted,
                           std::string("stored encrypted value is corrupt: ") + why);
  }
  auto* out = static_cast<pg_uuid_t*>(crosswalk::pg::PgAlloc(sizeof(pg_uuid_t)));
  std::memcpy(out->data, b.data + 2, crosswalk::kKeyIdSize);
  PG_RETURN_UUID_P(out);
}

CROSSWALK_FUNCTION(encrypted_key_version) {
  ByteView b = BytesOf(GetEncrypted(fcinfo, 0));
  crosswalk::Envelope e;
  if (const char* why = crosswalk::DecodeEnvelope(b, &e)) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted,
                           std::string("stored encrypted value is corrupt: ") + why);
  }
  PG_RETURN_INT32(static_cast<int32>(e.header.key_version));
}
