// An event peer (kafka or file): each row change of a mapped source table
// becomes a Debezium-compatible event (cdc/debezium.hpp) written through an
// EventWriter, keyed by the row's key so that a key's events keep their
// order. Delivery is at-least-once: the slot is confirmed only up to the end
// of the last source transaction whose every event has been acknowledged, so
// after a crash the unacknowledged transactions come again, whole; each
// event carries (source.commit_lsn, source.event_seq), unique per event, for
// consumers to drop the repeats. The snapshot's progress is kept on the
// source (crosswalk_sync.event_progress), since an event peer has no
// database of its own.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apply.hpp"
#include "identity.hpp"
#include "config.hpp"
#include "debezium.hpp"
#include "event_writer.hpp"
#include "pgoutput.hpp"
#include "pq.hpp"

namespace crosswalk::cdc {

class EventSink {
 public:
  EventSink(const Config& config, const PeerConfig& peer);
  ~EventSink();

  // A new writer (producer or file), the source connection for progress, the
  // identity database when a column is mapped {"identity": ...}; forgets
  // whatever a previous connection left unacknowledged. `check_only`: for
  // `check`, which only opens the file (a running daemon may be writing it).
  void Prepare(bool check_only = false);
  // The slot's confirmed position once this peer's snapshot has been wholly
  // acknowledged, or nullopt when a snapshot is needed.
  std::optional<Lsn> StoredPosition();
  // Checks each table's columns and key against the source table (`check`).
  void CheckTables(const std::map<QualifiedName, std::shared_ptr<const Relation>>& relations);
  // Asks the Kafka cluster for its metadata / opens the file (`check`).
  void CheckConnection();

  // The source transaction's changes; Begin/End bracket each one.
  void BeginSourceTransaction(const BeginMessage& begin);
  void AddChange(RowChange change);
  void Truncate(const std::vector<std::shared_ptr<const Relation>>& relations);
  void EndSourceTransaction(const CommitMessage& commit);
  // Sends the events still buffered (a group of transactions is complete).
  void Send();
  // Serves acknowledgements and returns the position up to which every
  // event is acknowledged: `committed` when nothing is outstanding. Throws
  // Error 08006 when a delivery failed (the peer then reconnects and
  // resends from the slot's confirmed position).
  Lsn DurablePosition(Lsn committed);
  // Drops the open transaction's buffered events (it comes again from the
  // slot) and waits a little for the acknowledgements of what was sent.
  void Abandon();
  // Events "r" of every mapped table from the exported snapshot; returns
  // once all are acknowledged and the snapshot is recorded as done. A
  // snapshot that a crash interrupted is redone from a new slot, preceded by
  // a truncate event ("t") per table so that consumers drop what the partial
  // one gave them (docs/operations.md).
  std::uint64_t Snapshot(const std::string& source_dsn, const std::string& snapshot_name, Lsn consistent_point);

  std::uint64_t buffered() const { return pending_.size(); }

 private:
  struct Field {
    std::string name;
    int column = 0;  // index in the relation
    bool identity = false;
    std::uint32_t type_oid = 0;
  };
  struct TablePlan {
    const TableMapping* mapping = nullptr;
    std::shared_ptr<const Relation> relation;
    std::vector<Field> fields;
    std::vector<int> key;  // indices into fields
  };
  struct Event {
    char op = 'c';
    const TablePlan* plan = nullptr;  // the table of a truncate too
    RowChange change;                 // old_tuple is "before" when old_kind != 0
    EventSource source;
    std::uint64_t tx = 0;
  };
  struct TxTrack {
    std::uint64_t id = 0;
    Lsn end_lsn = 0;
    std::uint64_t outstanding = 0;
    bool closed = false;
    std::int64_t commit_time = 0;
    std::map<std::pair<std::string, char>, std::uint64_t> rows;  // by table and op
  };

  const TablePlan* PlanFor(const std::shared_ptr<const Relation>& relation);
  TablePlan BuildPlan(const TableMapping& mapping, const std::shared_ptr<const Relation>& relation) const;
  void Queue(char op, const TablePlan* plan, RowChange change, Lsn lsn);
  void FlushPending(bool keep_last);
  void Apply(const std::vector<Delivery>& deliveries);
  void EnsureProgressTable();
  TxTrack& OpenTx(std::uint32_t xid, std::int64_t commit_time, Lsn commit_lsn);
  void WaitAcknowledged();

  const Config& config_;
  const PeerConfig& peer_;
  std::unique_ptr<EventWriter> writer_;
  std::unique_ptr<pq::Connection> source_;
  std::unique_ptr<CanonicalIdResolver> ids_;
  std::string database_;
  std::map<const Relation*, std::pair<std::shared_ptr<const Relation>, TablePlan>> plans_;
  std::vector<Event> pending_;
  std::deque<TxTrack> txs_;
  std::uint64_t next_tx_ = 1;
  Lsn acked_ = 0;
  // The source transaction being read.
  std::uint32_t xid_ = 0;
  std::int64_t commit_time_ = 0;
  Lsn commit_lsn_ = 0;
  std::uint64_t event_seq_ = 0;
  bool in_snapshot_ = false;
};

}  // namespace crosswalk::cdc
