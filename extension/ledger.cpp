// SQL functions behind crosswalk.ledger: the RFC 8785 canonical form of a
// jsonb value and the hash that chains one ledger entry to the previous one.
#include "guard.hpp"

#include <cstring>
#include <string>

#include "json_canonical.hpp"
#include "ledger.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
}

namespace {

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr std::int64_t kPostgresEpochUnixMicros = 946684800LL * 1000000LL;

// The jsonb argument n as JSON text.
std::string JsonbArgText(FunctionCallInfo fcinfo, int n) {
  const char* text = crosswalk::pg::PgCall([&] {
    Jsonb* jb = PG_GETARG_JSONB_P(n);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  return text;
}

// The text (or bytea) argument n as bytes, detoasted through PgCall.
std::string VarlenaArg(FunctionCallInfo fcinfo, int n) {
  struct varlena* v = crosswalk::pg::PgCall([&] { return PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)); });
  return std::string(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

}  // namespace

// canonical_json(jsonb) → text
CROSSWALK_FUNCTION(canonical_json) {
  std::string canonical = crosswalk::CanonicalizeJson(JsonbArgText(fcinfo, 0));
  text* out = static_cast<text*>(crosswalk::pg::PgAlloc(VARHDRSZ + canonical.size()));
  SET_VARSIZE(out, VARHDRSZ + canonical.size());
  std::memcpy(VARDATA(out), canonical.data(), canonical.size());
  PG_RETURN_TEXT_P(out);
}

// ledger_entry_hash(prev_hash bytea, seq bigint, recorded_at timestamptz,
//                   kind text, person canonical_id, platform text, payload jsonb) → bytea
CROSSWALK_FUNCTION(ledger_entry_hash) {
  std::string prev = VarlenaArg(fcinfo, 0);
  crosswalk::Sha256Digest prev_hash{};
  if (prev.size() != prev_hash.size()) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue,
                           "prev_hash must be 32 bytes, got " + std::to_string(prev.size()));
  }
  std::memcpy(prev_hash.data(), prev.data(), prev.size());

  crosswalk::LedgerEntry entry;
  entry.seq = PG_GETARG_INT64(1);
  TimestampTz ts = PG_GETARG_TIMESTAMPTZ(2);
  if (TIMESTAMP_NOT_FINITE(ts)) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue, "ledger timestamps must be finite");
  }
  entry.recorded_at_us = ts + kPostgresEpochUnixMicros;
  entry.kind = VarlenaArg(fcinfo, 3);
  std::memcpy(entry.person.data(), PG_GETARG_POINTER(4), entry.person.size());
  entry.platform = VarlenaArg(fcinfo, 5);
  entry.payload_json = JsonbArgText(fcinfo, 6);

  crosswalk::Sha256Digest digest = crosswalk::LedgerEntryHash(prev_hash, entry);
  bytea* out = static_cast<bytea*>(crosswalk::pg::PgAlloc(VARHDRSZ + digest.size()));
  SET_VARSIZE(out, VARHDRSZ + digest.size());
  std::memcpy(VARDATA(out), digest.data(), digest.size());
  PG_RETURN_BYTEA_P(out);
}
