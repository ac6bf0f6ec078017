// The pieces of crosswalk.ledger's chain shared by the chaining trigger,
// record() and verify_ledger().
#include <sched.h>

#include <cstring>

#include "json_canonical.hpp"
#include "ledger.hpp"

#include "ledger_chain.hpp"

#include "guard.hpp"
#include "jsonb_canonical.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
}

namespace crosswalk::pg::ledger {
namespace {

// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
constexpr std::int64_t kPostgresEpochUnixMicros = 946684800LL * 1000000LL;

// The advisory locks' first keys: 'cwlk' for the chain, 'cwlq' for the
// right to poll for it.
constexpr std::uint32_t kChainLockKey = 0x63776c6b;
constexpr std::uint32_t kChainQueueLockKey = 0x63776c71;

// How long the head of the queue polls before it waits in the lock's queue.
constexpr int kChainPollMillis = 2;

int Attnum(TupleDesc desc, const char* name) {
  for (int i = 0; i < desc->natts; ++i) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (!att->attisdropped && std::strcmp(NameStr(att->attname), name) == 0) return i + 1;
  }
  throw Error(sqlstate::kInternalError, std::string("crosswalk.ledger has no column ") + name);
}

// The row record() chained, until the trigger has seen it: its oid and a
// copy of its data after the header (kept in C++ memory, so that no
// transaction's end can leave it dangling).
struct Prechained {
  Oid ledger_oid = InvalidOid;
  std::uint16_t has_nulls = 0;
  std::string data;
};
Prechained prechained;

std::string_view TupleData(HeapTuple row) {
  const std::uint32_t hoff = row->t_data->t_hoff;
  return std::string_view(reinterpret_cast<const char*>(row->t_data) + hoff, row->t_len - hoff);
}

}  // namespace

Columns ResolveColumns(TupleDesc desc) {
  return Columns{Attnum(desc, "seq"),       Attnum(desc, "recorded_at"), Attnum(desc, "kind"),
                 Attnum(desc, "person"),    Attnum(desc, "platform"),    Attnum(desc, "payload"),
                 Attnum(desc, "prev_hash"), Attnum(desc, "hash")};
}

Oid LedgerOid() {
  Oid oid = PgCall([] { return get_relname_relid("ledger", get_namespace_oid("crosswalk", false)); });
  if (oid == InvalidOid) throw Error("42P01", "crosswalk.ledger does not exist");
  return oid;
}

void LockChain(Oid ledger_oid) {
  PgCall([&] {
    LOCKTAG chain;
    SET_LOCKTAG_ADVISORY(chain, MyDatabaseId, kChainLockKey, static_cast<uint32>(ledger_oid), 2);
    if (LockAcquire(&chain, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL) return;
    // Taken. Waiting in the lock's queue would hand the lock over on release
    // to a sleeping backend, and every append would then wait for that
    // backend to be woken and scheduled. Instead, one appender at a time
    // (the holder of the queue lock) polls for the chain lock, so it takes
    // it the moment it is free while the next one is being woken.
    LOCKTAG queue;
    SET_LOCKTAG_ADVISORY(queue, MyDatabaseId, kChainQueueLockKey, static_cast<uint32>(ledger_oid), 2);
    (void)LockAcquire(&queue, ExclusiveLock, false, false);
    const TimestampTz give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kChainPollMillis);
    bool taken = false;
    while (!taken) {
      CHECK_FOR_INTERRUPTS();
      taken = LockAcquire(&chain, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
      if (!taken && GetCurrentTimestamp() > give_up) break;
      if (!taken) sched_yield();
    }
    // A holder that takes long (a long transaction, or one waiting for
    // something this backend holds): wait in the lock's queue, where the
    // deadlock detector sees the wait.
    if (!taken) (void)LockAcquire(&chain, ExclusiveLock, false, false);
    LockRelease(&queue, ExclusiveLock, false);
  });
}

TipScan::TipScan(Relation ledger) : ledger_(ledger) {
  const Columns cols = ResolveColumns(RelationGetDescr(ledger));
  seq_attnum_ = cols.seq;
  hash_attnum_ = cols.hash;
  Oid pk = PgCall([&] { return RelationGetPrimaryKeyIndex(ledger); });
  if (pk == InvalidOid) throw Error(sqlstate::kInternalError, "crosswalk.ledger has no primary key");
  PgCall([&] {
    index_ = index_open(pk, AccessShareLock);
    if (index_->rd_index->indnatts != 1 || index_->rd_index->indkey.values[0] != seq_attnum_) {
      elog(ERROR, "crosswalk.ledger's primary key is not (seq)");
    }
    slot_ = table_slot_create(ledger_, nullptr);
    scan_ = index_beginscan(ledger_, index_, SnapshotSelf, 0, 0);
  });
}

Tip TipScan::Read() {
  Tip tip;
  bool found = false;
  int64 seq = 0;
  Datum hash_datum = 0;
  PgCall([&] {
    index_rescan(scan_, nullptr, 0, nullptr, 0);
    if (index_getnext_slot(scan_, BackwardScanDirection, slot_)) {
      bool isnull = false;
      seq = DatumGetInt64(slot_getattr(slot_, seq_attnum_, &isnull));
      Datum h = slot_getattr(slot_, hash_attnum_, &isnull);
      hash_datum = isnull ? 0 : PointerGetDatum(PG_DETOAST_DATUM_COPY(h));
      found = true;
    }
    index_endscan(scan_);
    ExecDropSingleTupleTableSlot(slot_);
    index_close(index_, AccessShareLock);
  });
  if (found) {
    tip.seq = seq;
    std::string_view h = hash_datum == 0 ? std::string_view() : DatumBytes(hash_datum);
    if (h.size() != tip.hash.size()) throw Error(sqlstate::kDataCorrupted, "the ledger's tip has a malformed hash");
    std::memcpy(tip.hash.data(), h.data(), h.size());
    pfree(DatumGetPointer(hash_datum));
  }
  return tip;
}

Tip ReadTip(Relation ledger) { return TipScan(ledger).Read(); }

void CheckPayload(const Jsonb* payload) {
  if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload)) {
    throw Error(sqlstate::kInvalidParameterValue, std::string("a ledger payload must be a JSON object, not ") +
                                                      (JB_ROOT_IS_SCALAR(payload) ? "a scalar" : "an array"));
  }
  if (VARSIZE(payload) > kMaxPayloadBytes) {
    throw Error(sqlstate::kProgramLimitExceeded,
                "ledger payload too large: " + std::to_string(VARSIZE(payload)) + " bytes",
                "A ledger payload is at most 64 KiB (its jsonb size).");
  }
}

void AppendEntryHead(std::string_view kind, const Jsonb* payload, const CanonicalId& person, std::string_view platform,
                     TimestampTz recorded_at, std::string& out) {
  if (TIMESTAMP_NOT_FINITE(recorded_at)) {
    throw Error(sqlstate::kInvalidParameterValue, "ledger timestamps must be finite");
  }
  std::string canonical_payload;
  canonical_payload.reserve(VARSIZE(payload));
  AppendCanonicalJsonb(payload, canonical_payload);
  AppendLedgerEntryHead(kind, canonical_payload, person, platform, recorded_at + kPostgresEpochUnixMicros, out);
}

std::string_view DatumBytes(Datum d) {
  struct varlena* v = PgCall([&] { return PG_DETOAST_DATUM_PACKED(d); });
  return std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

void ExpectPrechained(Oid ledger_oid, HeapTuple row) {
  prechained.data.assign(TupleData(row));
  prechained.has_nulls = row->t_data->t_infomask & HEAP_HASNULL;
  prechained.ledger_oid = ledger_oid;
}

void ForgetPrechained() { prechained.ledger_oid = InvalidOid; }

bool TakePrechained(Oid ledger_oid, HeapTuple row) {
  if (prechained.ledger_oid == InvalidOid || prechained.ledger_oid != ledger_oid) return false;
  const bool same =
      (row->t_data->t_infomask & HEAP_HASNULL) == prechained.has_nulls && TupleData(row) == prechained.data;
  if (same) ForgetPrechained();
  return same;
}

}  // namespace crosswalk::pg::ledger
