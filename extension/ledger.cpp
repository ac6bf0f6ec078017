// SQL functions behind crosswalk.ledger: the RFC 8785 canonical form of a
// jsonb value and the hash that chains one ledger entry to the previous one.
// lib/ headers first: PostgreSQL's headers redefine snprintf and friends,
// which nlohmann/json (behind json_canonical.hpp) must not see.
#include <cstring>
#include <string>

#include "json_canonical.hpp"
#include "ledger.hpp"

#include "datum.hpp"
#include "guard.hpp"

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

}  // namespace

// canonical_json(jsonb) → text
CROSSWALK_FUNCTION(canonical_json) {
  const std::string canonical = crosswalk::CanonicalizeJson(JsonbArgText(fcinfo, 0));
  return crosswalk::pg::ReturnVarlena(std::string_view(canonical));
}

// ledger_entry_hash(prev_hash bytea, seq bigint, recorded_at timestamptz,
//                   kind text, person canonical_id, platform text, payload jsonb) → bytea
CROSSWALK_FUNCTION(ledger_entry_hash) {
  crosswalk::ByteView prev = crosswalk::pg::ArgBytes(fcinfo, 0);
  crosswalk::Sha256Digest prev_hash{};
  if (prev.size != prev_hash.size()) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue,
                           "prev_hash must be 32 bytes, got " + std::to_string(prev.size));
  }
  std::memcpy(prev_hash.data(), prev.data, prev.size);

  crosswalk::LedgerEntry entry;
  entry.seq = PG_GETARG_INT64(1);
  TimestampTz ts = PG_GETARG_TIMESTAMPTZ(2);
  if (TIMESTAMP_NOT_FINITE(ts)) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue, "ledger timestamps must be finite");
  }
  entry.recorded_at_us = ts + kPostgresEpochUnixMicros;
  entry.kind = crosswalk::pg::ArgText(fcinfo, 3);
  std::memcpy(entry.person.data(), PG_GETARG_POINTER(4), entry.person.size());
  entry.platform = crosswalk::pg::ArgText(fcinfo, 5);
  entry.payload_json = JsonbArgText(fcinfo, 6);

  return crosswalk::pg::ReturnVarlena(crosswalk::LedgerEntryHash(prev_hash, entry));
}
