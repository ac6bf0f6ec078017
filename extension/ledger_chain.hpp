// What appending to and verifying crosswalk.ledger share: the chain lock, the
// tip, the row's columns and its canonical encoding, and the hand-off by
// which record() tells the chaining trigger that it chained a row itself.
#pragma once

#include <cstdint>
#include <string>

#include "ledger.hpp"
#include "postgres_headers.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "executor/tuptable.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

namespace crosswalk::pg::ledger {

// Attribute numbers (1-based) of the ledger's columns, found by name.
struct Columns {
  int seq, recorded_at, kind, person, platform, payload, prev_hash, hash;
};
Columns ResolveColumns(TupleDesc desc);

// The oid of crosswalk.ledger.
Oid LedgerOid();

// The lock that serializes appends, held to the end of the transaction: the
// advisory lock ('cwlk', the ledger's oid), the one pg_advisory_xact_lock(int4,
// int4) would take, so every version of the chaining code excludes the others.
// When it is taken, the caller polls for it for up to 2 ms if it is first in
// line (holds the advisory lock ('cwlq', oid) meanwhile), then waits for it.
void LockChain(Oid ledger_oid);

struct Tip {
  std::int64_t seq = 0;
  Sha256Digest hash{};  // all zero before the first entry
};

// The scan that reads the last entry through the primary key, newest first,
// with SnapshotSelf: every committed entry (the lock holder before us has
// ended) and this transaction's own, even from this very command. Opening the
// index, beginning its scan and making a slot need no chain lock, so record()
// does them before it takes the lock and only reads under it.
class TipScan {
 public:
  explicit TipScan(Relation ledger);
  // Reads the tip (call under the chain lock) and ends the scan.
  Tip Read();

 private:
  Relation ledger_;
  Relation index_ = nullptr;
  TupleTableSlot* slot_ = nullptr;
  IndexScanDesc scan_ = nullptr;
  int seq_attnum_ = 0;
  int hash_attnum_ = 0;
};

// The last entry, read under the chain lock (a TipScan set up and read at once).
Tip ReadTip(Relation ledger);

// The largest jsonb payload accepted, in bytes.
inline constexpr std::size_t kMaxPayloadBytes = 65536;

// Checks a payload (detoasted): an object of at most kMaxPayloadBytes.
void CheckPayload(const Jsonb* payload);

// Appends the encoding of an entry up to its seq (see AppendLedgerEntryHead).
void AppendEntryHead(std::string_view kind, const Jsonb* payload, const CanonicalId& person, std::string_view platform,
                     TimestampTz recorded_at, std::string& out);

// The bytes of a bytea/text Datum (detoasted through PgCall).
std::string_view DatumBytes(Datum d);

// record() builds and chains its row itself, then inserts it through the
// executor so that constraints, indexes and other triggers apply; it leaves
// the row here so that the chaining trigger passes exactly that row through
// instead of chaining it a second time. Anything else inserted meanwhile is
// chained as usual.
void ExpectPrechained(Oid ledger_oid, HeapTuple row);
void ForgetPrechained();
// Whether row is the one record() left; forgets it if so.
bool TakePrechained(Oid ledger_oid, HeapTuple row);

}  // namespace crosswalk::pg::ledger
