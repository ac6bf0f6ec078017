// crosswalk.verify_ledger() → (ok, first_bad): one pass over the ledger in
// seq order through its primary key, recomputing each entry's hash from the
// row's columns (the payload canonicalized straight from jsonb), with one
// digest context and one scratch buffer for the whole pass.
#include <cstring>
#include <optional>
#include <string>

#include "ledger.hpp"

#include "guard.hpp"
#include "ledger_chain.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
}

namespace ledger = crosswalk::pg::ledger;
using crosswalk::pg::PgCall;

namespace {

// Whether one row, given the previous entry's seq and hash, is the entry
// that should follow it: in sequence, linked to it, and hashing to its own
// hash. A row whose contents cannot even be encoded (a payload no entry can
// hold, a timestamp out of range) does not match either.
bool RowFollows(TupleTableSlot* slot, const ledger::Columns& cols, std::int64_t prev_seq,
                const crosswalk::Sha256Digest& prev_hash, crosswalk::LedgerHasher& hasher, std::string& scratch,
                crosswalk::Sha256Digest* own_hash) {
  const Datum* values = slot->tts_values;
  const bool* nulls = slot->tts_isnull;
  auto is_null = [&](int attnum) { return nulls[attnum - 1]; };
  if (is_null(cols.seq) || is_null(cols.recorded_at) || is_null(cols.kind) || is_null(cols.person) ||
      is_null(cols.platform) || is_null(cols.payload) || is_null(cols.prev_hash) || is_null(cols.hash)) {
    return false;
  }
  const std::int64_t seq = DatumGetInt64(values[cols.seq - 1]);
  if (seq != prev_seq + 1) return false;
  const std::string_view stored_prev = ledger::DatumBytes(values[cols.prev_hash - 1]);
  const std::string_view stored_hash = ledger::DatumBytes(values[cols.hash - 1]);
  if (stored_prev.size() != prev_hash.size() || stored_hash.size() != own_hash->size() ||
      std::memcmp(stored_prev.data(), prev_hash.data(), prev_hash.size()) != 0) {
    return false;
  }
  crosswalk::CanonicalId person;
  std::memcpy(person.data(), DatumGetPointer(values[cols.person - 1]), person.size());
  const Datum payload_datum = values[cols.payload - 1];
  const Jsonb* payload = PgCall([&] { return DatumGetJsonbP(payload_datum); });
  scratch.clear();
  try {
    if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload)) return false;
    ledger::AppendEntryHead(ledger::DatumBytes(values[cols.kind - 1]), payload, person,
                            ledger::DatumBytes(values[cols.platform - 1]),
                            DatumGetTimestampTz(values[cols.recorded_at - 1]), scratch);
    crosswalk::AppendLedgerEntryTail(seq, scratch);
  } catch (const crosswalk::Error&) {
    return false;
  }
  *own_hash = hasher.Hash(prev_hash, scratch);
  return std::memcmp(stored_hash.data(), own_hash->data(), own_hash->size()) == 0;
}

}  // namespace

// verify_ledger(OUT ok boolean, OUT first_bad bigint)
CROSSWALK_FUNCTION(verify_ledger) {
  const Oid ledger_oid = ledger::LedgerOid();
  // It reads every entry: the caller must be allowed to, and see them all.
  AclResult acl = PgCall([&] { return pg_class_aclcheck(ledger_oid, GetUserId(), ACL_SELECT); });
  if (acl != ACLCHECK_OK) PgCall([&] { aclcheck_error(acl, OBJECT_TABLE, "ledger"); });
  if (PgCall([&] { return check_enable_rls(ledger_oid, InvalidOid, false); }) == RLS_ENABLED) {
    throw crosswalk::Error(crosswalk::sqlstate::kInsufficientPrivilege,
                           "verify_ledger() needs every entry, and row-level security hides some from this role");
  }

  Relation rel = PgCall([&] { return table_open(ledger_oid, AccessShareLock); });
  const ledger::Columns cols = ledger::ResolveColumns(RelationGetDescr(rel));
  Oid pk = PgCall([&] { return RelationGetPrimaryKeyIndex(rel); });
  if (pk == InvalidOid)
    throw crosswalk::Error(crosswalk::sqlstate::kInternalError, "crosswalk.ledger has no primary key");
  Relation index = PgCall([&] { return index_open(pk, AccessShareLock); });
  if (index->rd_index->indnatts != 1 || index->rd_index->indkey.values[0] != cols.seq) {
    throw crosswalk::Error(crosswalk::sqlstate::kInternalError, "crosswalk.ledger's primary key is not (seq)");
  }
  // Detoasted payloads and numbers' text are freed row by row.
  MemoryContext row_context = PgCall([] {
    return AllocSetContextCreate(CurrentMemoryContext, "crosswalk verify_ledger row", ALLOCSET_DEFAULT_SIZES);
  });
  TupleTableSlot* slot = PgCall([&] { return table_slot_create(rel, nullptr); });
  // The snapshot of the calling statement: appends committed meanwhile are
  // not seen, and those seen form a prefix of the chain (they commit in seq
  // order, each under the chain lock).
  IndexScanDesc scan = PgCall([&] {
    IndexScanDesc s = index_beginscan(rel, index, GetActiveSnapshot(), 0, 0);
    index_rescan(s, nullptr, 0, nullptr, 0);
    return s;
  });

  crosswalk::LedgerHasher hasher;
  std::string scratch;
  scratch.reserve(4096);
  std::int64_t prev_seq = 0;
  crosswalk::Sha256Digest prev_hash{};
  std::optional<std::int64_t> first_bad;
  while (true) {
    const bool more = PgCall([&] {
      CHECK_FOR_INTERRUPTS();
      MemoryContextReset(row_context);
      if (!index_getnext_slot(scan, ForwardScanDirection, slot)) return false;
      slot_getallattrs(slot);
      return true;
    });
    if (!more) break;
    MemoryContext caller = MemoryContextSwitchTo(row_context);
    crosswalk::Sha256Digest own{};
    bool follows = false;
    try {
      follows = RowFollows(slot, cols, prev_seq, prev_hash, hasher, scratch, &own);
    } catch (...) {
      MemoryContextSwitchTo(caller);
      throw;
    }
    MemoryContextSwitchTo(caller);
    if (!follows) {
      bool isnull = false;
      Datum seq = PgCall([&] { return slot_getattr(slot, cols.seq, &isnull); });
      first_bad = DatumGetInt64(seq);
      break;
    }
    prev_seq += 1;
    prev_hash = own;
  }
  PgCall([&] {
    index_endscan(scan);
    ExecDropSingleTupleTableSlot(slot);
    MemoryContextDelete(row_context);
    index_close(index, AccessShareLock);
    table_close(rel, AccessShareLock);
  });

  return PgCall([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
      elog(ERROR, "crosswalk: verify_ledger() must return a record");
    }
    desc = BlessTupleDesc(desc);
    Datum values[2] = {BoolGetDatum(!first_bad.has_value()), Int64GetDatum(first_bad.value_or(0))};
    bool nulls[2] = {false, !first_bad.has_value()};
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
  });
}
