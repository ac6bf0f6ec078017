// What PeerStream writes a peer's changes to: the database applier
// (cdc/apply.hpp, exactly once through the peer's progress table) or an
// event sink (cdc/event_sink.hpp, at-least-once to Kafka or a file). One
// interface for the stream's loop; the calls that only one kind needs are
// no-ops for the other.
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apply.hpp"
#include "event_sink.hpp"

namespace crosswalk::cdc {

class PeerSink {
 public:
  PeerSink(const Config& config, const PeerConfig& peer);
  ~PeerSink();

  void Prepare();
  std::optional<Lsn> StoredPosition();
  // The migration from the slot's exported snapshot; returns rows read.
  std::uint64_t Snapshot(const std::string& source_dsn, const std::string& snapshot_name, Lsn consistent_point);

  // Source transactions as they arrive (events need each one's xid, commit
  // time and end); a peer transaction may group several (BeginTransaction
  // .. CommitTransaction).
  void BeginSourceTransaction(const BeginMessage& begin);
  void EndSourceTransaction(const CommitMessage& commit);
  // Where the next source transaction began (PeerApplier::SetOrigin); an
  // event peer has no origins.
  void SetOrigin(const std::string& platform, Lsn commit_lsn, std::int64_t commit_time);
  void BeginTransaction();
  void AddChange(RowChange change);
  void Truncate(const std::vector<std::shared_ptr<const Relation>>& relations, bool restart_identity);
  void CommitTransaction(Lsn end_lsn, bool snapshot = false, std::uint64_t source_transactions = 1);
  void AbortTransaction();
  std::uint64_t open_rows() const;

  // The position that may be confirmed to the slot given `committed`, the
  // end of the last group committed: the same for a database peer (its
  // commit is durable); for events, the end of the last transaction whose
  // every event is acknowledged.
  Lsn DurablePosition(Lsn committed);

  // The database peer's stored position and its session lock (see
  // PeerApplier). An event peer has no store but the slot itself, which
  // DurablePosition already bounds: no lock, nothing to store, no cap.
  void LockSlot();
  void StorePosition(Lsn lsn);
  Lsn stored_position() const;
  bool stored_guards_slot() const;
  void GuardSlot();
  bool in_transaction() const;
  // PeerApplier::immediate_through; 0 for an event peer.
  Lsn immediate_through() const;

  std::size_t held_keys() const;
  std::size_t ReleaseHeld();

  // The database applier; null for an event peer.
  PeerApplier* applier() { return applier_.get(); }
  EventSink* events() { return events_.get(); }

 private:
  std::unique_ptr<PeerApplier> applier_;
  std::unique_ptr<EventSink> events_;
};

}  // namespace crosswalk::cdc
