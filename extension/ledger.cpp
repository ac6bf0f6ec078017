// SQL functions behind crosswalk.ledger: the RFC 8785 canonical form of a
// jsonb value, the hash that chains one ledger entry to the previous one, and
// the trigger that chains every row inserted by other means than record().
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
#include "ledger_chain.hpp"

extern "C" {
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
}

namespace ledger = crosswalk::pg::ledger;

// canonical_json(jsonb) → text. Deliberately through JSON text and the
// parser (lib/json_canonical.cpp): the reference that the jsonb walker behind
// the ledger's hashes is tested against.
CROSSWALK_FUNCTION(canonical_json) {
  const char* text = crosswalk::pg::PgCall([&] {
    Jsonb* jb = PG_GETARG_JSONB_P(0);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  const std::string canonical = crosswalk::CanonicalizeJson(text);
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
  const int64 seq = PG_GETARG_INT64(1);
  crosswalk::CanonicalId person;
  std::memcpy(person.data(), PG_GETARG_POINTER(4), person.size());
  const Jsonb* payload = crosswalk::pg::PgCall([&] { return PG_GETARG_JSONB_P(6); });
  if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload)) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue, "ledger payload must be a JSON object");
  }
  std::string encoded;
  ledger::AppendEntryHead(crosswalk::pg::ArgText(fcinfo, 3), payload, person, crosswalk::pg::ArgText(fcinfo, 5),
                          PG_GETARG_TIMESTAMPTZ(2), encoded);
  crosswalk::AppendLedgerEntryTail(seq, encoded);
  return crosswalk::pg::ReturnVarlena(crosswalk::LedgerHasher().Hash(prev_hash, encoded));
}

// ---------------------------------------------------------------------------
// The chaining trigger: BEFORE INSERT FOR EACH ROW on crosswalk.ledger.
// ---------------------------------------------------------------------------
namespace {

std::string_view TextColumn(HeapTuple tup, TupleDesc desc, int attnum, const char* name) {
  bool isnull = false;
  Datum d = heap_getattr(tup, attnum, desc, &isnull);
  if (isnull) throw crosswalk::Error("23502", std::string("a ledger entry needs a ") + name + ", got NULL");
  return ledger::DatumBytes(d);
}

bool SameBytes(Datum bytea_datum, const crosswalk::Sha256Digest& digest) {
  std::string_view v = ledger::DatumBytes(bytea_datum);
  return v.size() == digest.size() && std::memcmp(v.data(), digest.data(), digest.size()) == 0;
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
  HeapTuple tup = td->tg_trigtuple;
  // The row record() has just chained under the chain lock: exactly that row
  // passes; anything else (another trigger's change to it included) is
  // chained, or checked, below.
  if (ledger::TakePrechained(RelationGetRelid(rel), tup)) return PointerGetDatum(tup);

  TupleDesc desc = RelationGetDescr(rel);
  const ledger::Columns cols = ledger::ResolveColumns(desc);
  // Reading the tip is reading the ledger: whoever inserts must be allowed to.
  AclResult acl =
      crosswalk::pg::PgCall([&] { return pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT); });
  if (acl != ACLCHECK_OK) {
    crosswalk::pg::PgCall([&] { aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel)); });
  }

  // The row's own checks and its encoding first, before taking the chain lock.
  bool isnull = false;
  Datum payload_datum = heap_getattr(tup, cols.payload, desc, &isnull);
  if (isnull) {
    throw crosswalk::Error(crosswalk::sqlstate::kInvalidParameterValue,
                           "a ledger payload must be a JSON object, not NULL");
  }
  const Jsonb* payload = crosswalk::pg::PgCall([&] { return DatumGetJsonbP(payload_datum); });
  ledger::CheckPayload(payload);
  Datum at = heap_getattr(tup, cols.recorded_at, desc, &isnull);
  if (isnull) throw crosswalk::Error("23502", "a ledger entry needs a recorded_at, got NULL");
  const std::string_view kind = TextColumn(tup, desc, cols.kind, "kind");
  const std::string_view platform = TextColumn(tup, desc, cols.platform, "platform");
  Datum person_datum = heap_getattr(tup, cols.person, desc, &isnull);
  if (isnull) throw crosswalk::Error("23502", "a ledger entry needs a person, got NULL");
  crosswalk::CanonicalId person;
  std::memcpy(person.data(), DatumGetPointer(person_datum), person.size());
  std::string encoded;
  ledger::AppendEntryHead(kind, payload, person, platform, DatumGetTimestampTz(at), encoded);

  ledger::LockChain(RelationGetRelid(rel));
  const ledger::Tip tip = ledger::ReadTip(rel);

  const int64 seq = tip.seq + 1;
  Datum given_seq = heap_getattr(tup, cols.seq, desc, &isnull);
  if (!isnull && DatumGetInt64(given_seq) != seq) {
    throw crosswalk::Error("40001",
                           "ledger entry " + std::to_string(DatumGetInt64(given_seq)) + " does not follow the tip " +
                               std::to_string(tip.seq),
                           "Entries are appended in sequence, without gaps.");
  }
  Datum given_prev = heap_getattr(tup, cols.prev_hash, desc, &isnull);
  if (!isnull && !SameBytes(given_prev, tip.hash)) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted, "ledger entry " + std::to_string(seq) +
                                                                    " does not chain to entry " +
                                                                    std::to_string(tip.seq) + ": prev_hash differs");
  }
  crosswalk::AppendLedgerEntryTail(seq, encoded);
  const crosswalk::Sha256Digest hash = crosswalk::LedgerHasher().Hash(tip.hash, encoded);
  Datum given_hash = heap_getattr(tup, cols.hash, desc, &isnull);
  if (!isnull && !SameBytes(given_hash, hash)) {
    throw crosswalk::Error(crosswalk::sqlstate::kDataCorrupted,
                           "ledger entry " + std::to_string(seq) + " has a hash that does not match its contents");
  }

  // The row as stored: seq, prev_hash and hash set.
  Datum prev_datum = crosswalk::pg::ReturnVarlena(tip.hash);
  Datum hash_datum = crosswalk::pg::ReturnVarlena(hash);
  const int natts = desc->natts;
  std::vector<Datum> values(static_cast<std::size_t>(natts));
  auto nulls = std::make_unique<bool[]>(static_cast<std::size_t>(natts));  // all false
  auto replace = std::make_unique<bool[]>(static_cast<std::size_t>(natts));
  values[cols.seq - 1] = Int64GetDatum(seq);
  values[cols.prev_hash - 1] = prev_datum;
  values[cols.hash - 1] = hash_datum;
  replace[cols.seq - 1] = replace[cols.prev_hash - 1] = replace[cols.hash - 1] = true;
  Datum* value_array = values.data();
  bool* null_flags = nulls.get();
  bool* replace_flags = replace.get();
  HeapTuple out =
      crosswalk::pg::PgCall([&] { return heap_modify_tuple(tup, desc, value_array, null_flags, replace_flags); });
  return PointerGetDatum(out);
}
