// SQL functions behind crosswalk.ledger: the RFC 8785 canonical form of a
// jsonb value and the hash that chains one ledger entry to the previous one.
// lib/ headers first: PostgreSQL's headers redefine snprintf and friends,
// which nlohmann/json (behind json_canonical.hpp) must not see.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

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

// ---------------------------------------------------------------------------
// The chaining trigger: BEFORE INSERT FOR EACH ROW on crosswalk.ledger.
// ---------------------------------------------------------------------------
extern "C" {
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/rel.h"
}

namespace {

// The advisory lock that serializes appends: ('cwlk', the ledger's oid), the
// same tag pg_advisory_xact_lock(int4, int4) would take.
constexpr std::uint32_t kChainLockKey = 0x63776c6b;

struct Tip {
  std::int64_t seq = 0;
  crosswalk::Sha256Digest hash{};  // all zero before the first entry
};

// Takes the chain lock for this transaction, then reads the tip with a fresh
// snapshot (after a command counter increment, as a volatile SQL function
// would), so it sees every append committed before the lock was granted and
// every row this statement inserted before this one.
Tip LockAndReadTip(Oid ledger_oid) {
  static SPIPlanPtr plan = nullptr;
  Tip tip;
  bool found = false;
  bool bad_hash = false;
  crosswalk::pg::PgCall([&] {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kChainLockKey, static_cast<uint32>(ledger_oid), 2);
    (void)LockAcquire(&tag, ExclusiveLock, false, false);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "crosswalk: SPI_connect failed");
    if (plan == nullptr) {
      SPIPlanPtr p = SPI_prepare("SELECT seq, hash FROM crosswalk.ledger ORDER BY seq DESC LIMIT 1", 0, nullptr);
      if (p == nullptr || SPI_keepplan(p) != 0) elog(ERROR, "crosswalk: could not prepare the ledger tip query");
      plan = p;
    }
    if (SPI_execute_plan(plan, nullptr, nullptr, false, 1) != SPI_OK_SELECT) {
      elog(ERROR, "crosswalk: could not read the ledger tip");
    }
    if (SPI_processed == 1) {
      bool isnull = false;
      HeapTuple row = SPI_tuptable->vals[0];
      TupleDesc desc = SPI_tuptable->tupdesc;
      tip.seq = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
      bytea* h = DatumGetByteaPP(SPI_getbinval(row, desc, 2, &isnull));
      if (VARSIZE_ANY_EXHDR(h) == tip.hash.size()) {
        std::memcpy(tip.hash.data(), VARDATA_ANY(h), tip.hash.size());
      } else {
        bad_hash = true;
      }
      found = true;
    }
    SPI_finish();
  });
  if (found && bad_hash) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted, "the ledger's tip has a malformed hash");
  }
  return tip;
}

int Attnum(TupleDesc desc, const char* name) {
  int n = SPI_fnumber(desc, name);
  if (n <= 0) throw crosswalk::Error(crosswalk::sqlstate::kInternalError, std::string("ledger has no column ") + name);
  return n;
}

std::string TextAttr(HeapTuple tup, TupleDesc desc, int attnum, const char* name) {
  bool isnull = false;
  Datum d = heap_getattr(tup, attnum, desc, &isnull);
  if (isnull) {
    throw crosswalk::Error("23502", std::string("a ledger entry needs a ") + name + ", got NULL");
  }
  struct varlena* v = crosswalk::pg::PgCall([&] { return PG_DETOAST_DATUM_PACKED(d); });
  return std::string(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

bool SameBytes(Datum bytea_datum, const crosswalk::Sha256Digest& digest) {
  struct varlena* v = crosswalk::pg::PgCall([&] { return PG_DETOAST_DATUM_PACKED(bytea_datum); });
  return VARSIZE_ANY_EXHDR(v) == digest.size() && std::memcmp(VARDATA_ANY(v), digest.data(), digest.size()) == 0;
}

}  // namespace

// _ledger_chain(): fills in (or checks) seq, prev_hash and hash of a new entry.
CROSSWALK_FUNCTION(ledger_chain) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw crosswalk::Error("39P01", "crosswalk._ledger_chain() is a trigger function");
  }
  auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
  if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
      !TRIGGER_FIRED_BY_INSERT(td->tg_event)) {
    throw crosswalk::Error("39P01", "crosswalk._ledger_chain() runs BEFORE INSERT FOR EACH ROW only");
  }
  Relation rel = td->tg_relation;
  TupleDesc desc = RelationGetDescr(rel);
  HeapTuple tup = td->tg_trigtuple;
  const int a_seq = Attnum(desc, "seq"), a_at = Attnum(desc, "recorded_at"), a_kind = Attnum(desc, "kind"),
            a_person = Attnum(desc, "person"), a_platform = Attnum(desc, "platform"),
            a_payload = Attnum(desc, "payload"), a_prev = Attnum(desc, "prev_hash"), a_hash = Attnum(desc, "hash");

  // The payload first: cheap checks before taking the chain lock.
  bool isnull = false;
  Datum payload_datum = heap_getattr(tup, a_payload, desc, &isnull);
  if (isnull) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue,
                           "a ledger payload must be a JSON object, not NULL");
  }
  Jsonb* payload = crosswalk::pg::PgCall([&] { return DatumGetJsonbP(payload_datum); });
  if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload)) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue,
                           std::string("a ledger payload must be a JSON object, not ") +
                               (JB_ROOT_IS_SCALAR(payload) ? "a scalar" : "an array"));
  }
  if (VARSIZE(payload) > 65536) {
    throw crosswalk::Error(crosswalk::sqlstate::kProgramLimitExceeded,
                           "ledger payload too large: " + std::to_string(VARSIZE(payload)) + " bytes",
                           "A ledger payload is at most 64 KiB (its jsonb size).");
  }

  crosswalk::LedgerEntry entry;
  Datum at = heap_getattr(tup, a_at, desc, &isnull);
  if (isnull) throw crosswalk::Error("23502", "a ledger entry needs a recorded_at, got NULL");
  TimestampTz ts = DatumGetTimestampTz(at);
  if (TIMESTAMP_NOT_FINITE(ts)) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue, "ledger timestamps must be finite");
  }
  entry.recorded_at_us = ts + kPostgresEpochUnixMicros;
  entry.kind = TextAttr(tup, desc, a_kind, "kind");
  entry.platform = TextAttr(tup, desc, a_platform, "platform");
  Datum person = heap_getattr(tup, a_person, desc, &isnull);
  if (isnull) throw crosswalk::Error("23502", "a ledger entry needs a person, got NULL");
  std::memcpy(entry.person.data(), DatumGetPointer(person), entry.person.size());
  entry.payload_json = crosswalk::pg::PgCall([&] { return JsonbToCString(nullptr, &payload->root, VARSIZE(payload)); });

  const Tip tip = LockAndReadTip(RelationGetRelid(rel));

  Datum given_seq = heap_getattr(tup, a_seq, desc, &isnull);
  entry.seq = tip.seq + 1;
  if (!isnull && DatumGetInt64(given_seq) != entry.seq) {
    throw crosswalk::Error("40001",
                           "ledger entry " + std::to_string(DatumGetInt64(given_seq)) + " does not follow the tip " +
                               std::to_string(tip.seq),
                           "Entries are appended in sequence, without gaps.");
  }
  Datum given_prev = heap_getattr(tup, a_prev, desc, &isnull);
  if (!isnull && !SameBytes(given_prev, tip.hash)) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted,
                           "ledger entry " + std::to_string(entry.seq) + " does not chain to entry " +
                               std::to_string(tip.seq) + ": prev_hash differs");
  }
  const crosswalk::Sha256Digest hash = crosswalk::LedgerEntryHash(tip.hash, entry);
  Datum given_hash = heap_getattr(tup, a_hash, desc, &isnull);
  if (!isnull && !SameBytes(given_hash, hash)) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted,
                           "ledger entry " + std::to_string(entry.seq) + " has a hash that does not match its contents");
  }

  // The row as stored: seq, prev_hash and hash set.
  Datum prev_datum = crosswalk::pg::ReturnVarlena(tip.hash);
  Datum hash_datum = crosswalk::pg::ReturnVarlena(hash);
  const int natts = desc->natts;
  std::vector<Datum> values(static_cast<std::size_t>(natts));
  auto nulls = std::make_unique<bool[]>(static_cast<std::size_t>(natts));  // all false
  auto replace = std::make_unique<bool[]>(static_cast<std::size_t>(natts));
  values[a_seq - 1] = Int64GetDatum(entry.seq);
  values[a_prev - 1] = prev_datum;
  values[a_hash - 1] = hash_datum;
  replace[a_seq - 1] = replace[a_prev - 1] = replace[a_hash - 1] = true;
  Datum* value_array = values.data();
  bool* null_flags = nulls.get();
  bool* replace_flags = replace.get();
  HeapTuple out =
      crosswalk::pg::PgCall([&] { return heap_modify_tuple(tup, desc, value_array, null_flags, replace_flags); });
  return PointerGetDatum(out);
}
