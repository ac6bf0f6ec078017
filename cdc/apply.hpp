// Applying source row changes to one peer, mapped (DESIGN.md "The daemon"):
// each source transaction becomes one peer transaction that also stores the
// applied position in crosswalk_sync.progress, so a crash anywhere neither
// loses nor repeats a change. Changes are applied in segments (consecutive
// changes of one table and one kind), each staged in one go (a VALUES list,
// or COPY into a temporary table when large) and applied by one statement
// per mapping whose expressions the peer evaluates: never a round trip per
// row. A segment the peer rejects is retried row by row under savepoints;
// the rows it still rejects go to crosswalk_sync.dead_letter.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config.hpp"
#include "identity.hpp"
#include "origin.hpp"
#include "pgoutput.hpp"
#include "pq.hpp"

namespace crosswalk::cdc {

enum class ChangeOp : char { kInsert = 'I', kUpdate = 'U', kDelete = 'D' };
const char* ChangeOpName(ChangeOp op);

// One row change with the relation layout it was decoded with.
struct RowChange {
  ChangeOp op = ChangeOp::kInsert;
  std::shared_ptr<const Relation> relation;
  char old_kind = 0;  // 0 (no old tuple), 'K' or 'O'
  Tuple old_tuple;
  Tuple new_tuple;
  Lsn lsn = 0;
};

// A change as JSON ({"op", "relation", "old_kind", "old", "new"}), for dead
// letters and held rows; values by column name, unchanged TOAST omitted.
nlohmann::json EncodeChange(const RowChange& change);
RowChange DecodeChange(const nlohmann::json& change, Lsn lsn);
// A tuple as {"column": "text value" or null}; 'u' columns are left out.
nlohmann::json TupleToJson(const Relation& relation, const Tuple& tuple);

// COPY text format: escapes one value / parses one line into values.
void AppendCopyValue(std::string& out, const TupleValue& value);
Tuple ParseCopyLine(std::string_view line, std::size_t expected_columns);

// The peer-side schema crosswalk-sync keeps its state in.
void EnsurePeerSchema(pq::Connection& peer);

// What happened to a peer since it was prepared (for logs and status).
struct ApplyCounters {
  std::uint64_t transactions = 0;
  std::uint64_t rows_applied = 0;
  std::uint64_t dead_letters = 0;
  std::uint64_t held = 0;
  std::uint64_t provisioned = 0;
};

class PeerApplier {
 public:
  PeerApplier(const Config& config, const PeerConfig& peer);
  ~PeerApplier();

  // Connects, creates crosswalk_sync on the peer if missing, and loads each
  // target table's columns; throws naming the config path of a missing one.
  void Prepare();
  // Checks each mapping against the peer by running its INSERT over an empty
  // staged row set of `relation` (what `check` does); throws naming the path.
  void CheckMappings(const std::map<QualifiedName, std::shared_ptr<const Relation>>& relations);

  // The applied position stored on the peer, or nullopt when this slot has
  // never been applied here (a snapshot is needed).
  std::optional<Lsn> StoredPosition();
  // Claims this peer's slot for this session (a session-level advisory lock
  // on the peer, held until the connection closes). A session of a killed
  // daemon may still be running, even committing, its last transaction;
  // until it has ended, crosswalk_sync.progress is not final. Throws 55P03
  // (retried) naming the session that holds it.
  void LockSlot();
  // Records `lsn` as applied although no change of this peer's came up to
  // it (transactions not mapped here, keepalives), outside any peer
  // transaction, so the slot is never confirmed past what the peer stores.
  void StorePosition(Lsn lsn);
  // Whether the stored position was kept by a daemon that stores before it
  // confirms (false: an earlier daemon's, which may trail its slot), and
  // marking it so once this daemon takes it over.
  bool stored_guards_slot() const { return stored_guards_slot_; }
  void GuardSlot();
  // The position last read from or written to crosswalk_sync.progress.
  Lsn stored_position() const { return stored_; }

  bool MapsTable(const QualifiedName& source) const { return plans_.count(source) > 0; }

  // One source transaction. Changes are applied as segments fill; the peer
  // transaction commits in CommitTransaction with `end_lsn` as the position.
  void BeginTransaction();
  void AddChange(RowChange change);
  void Truncate(const std::vector<std::shared_ptr<const Relation>>& relations, bool restart_identity);
  // `source_transactions` counts the source transactions this peer
  // transaction holds (consecutive ones may be grouped, each whole).
  void CommitTransaction(Lsn end_lsn, bool snapshot = false, std::uint64_t source_transactions = 1);
  // Where the next source transaction began (its replication origin on the
  // peer, origin.hpp) and when and where it committed on the source. Called
  // between peer transactions when the platform changes; the commit carries
  // the time (pg_replication_origin_xact_setup) so that last_writer_wins
  // compares source commit times on both sides.
  void SetOrigin(const std::string& platform, Lsn commit_lsn, std::int64_t commit_time);
  // Rows in the open peer transaction, applied or pending.
  std::uint64_t open_rows() const {
    std::uint64_t rows = tx_rows_ + pending_.rows.size();
    for (const auto& g : later_) rows += g.rows.size();
    return rows;
  }
  // Source transactions ending at or before this position are applied one
  // per peer transaction with SET CONSTRAINTS ALL IMMEDIATE: a group the
  // peer rejected at COMMIT (a deferred constraint) is replayed that way, so
  // the rows at fault fail their own statement and are dead-lettered
  // instead of failing the group again at every retry.
  Lsn immediate_through() const { return immediate_through_; }
  // Rolls back an open peer transaction (on shutdown or error).
  void AbortTransaction();
  bool in_transaction() const { return tx_open_ || !pending_.rows.empty(); }

  // Applies held rows whose identity is now linked; returns how many.
  std::size_t ReleaseHeld();
  std::size_t held_keys() const { return held_keys_.size(); }
  // Re-applies this peer's dead letters one by one; returns {applied, left}.
  std::pair<std::size_t, std::size_t> RetryDeadLetters();

  // The migration's fast path, one COPY per table: when `relation` has one
  // mapping, with no filter, whose every target column is a same-typed
  // source column or a translated id, BeginCopy opens `COPY target FROM
  // STDIN` under a savepoint and returns true. CopyLines rewrites the
  // source's COPY text lines field by field (no reparsing but of identity
  // values, translated in one batch per call) and streams them; a row whose
  // id does not translate is kept for the statement path (provision, hold,
  // dead letter). EndCopy ends the COPY: true when the peer took it; false,
  // rolled back to the savepoint, when the peer rejected a row, so the caller
  // replays the table through AddChange, which finds and dead-letters it.
  bool BeginCopy(const std::shared_ptr<const Relation>& relation, Lsn lsn);
  void CopyLines(const std::vector<std::string>& lines);
  bool EndCopy();
  // Ends an open COPY with an error (the transaction is then rolled back).
  void AbortCopy();

  // Larger segments for the one-shot migration (fewer, bigger statements);
  // the byte bound still applies.
  void set_bulk(bool bulk) { bulk_ = bulk; }

  const ApplyCounters& counters() const { return counters_; }
  pq::Connection& connection() { return *conn_; }
  const PeerConfig& peer() const { return peer_; }

 private:
  struct TargetColumn {
    std::string type;       // format_type with typmod
    std::string base_type;  // without typmod, for key comparisons
  };
  struct MappingPlan {
    const TableMapping* mapping;
    std::map<std::string, TargetColumn> target_columns;
    std::map<std::string, std::set<std::string>> refs;  // target column -> identifiers its expression reads
    std::set<std::string> where_refs;
  };
  struct Segment {
    std::shared_ptr<const Relation> relation;
    ChangeOp op = ChangeOp::kInsert;
    std::vector<RowChange> rows;
    std::string mask;  // per column '1' when unchanged TOAST with no value (updates)
    std::size_t bytes = 0;
  };
  struct DirectCopy {
    std::shared_ptr<const Relation> relation;
    std::vector<int> columns;  // per target column: source index, or -1 - index for a translated id
    std::vector<int> id_columns;
    Lsn lsn = 0;
    std::vector<std::string> deferred;  // lines whose id did not translate
    std::uint64_t rows = 0;
  };
  enum class RowFate { kApply, kDeadLetter, kHold };
  struct Prepared {  // a row ready to stage: identity values translated
    const RowChange* change;
    std::map<int, std::optional<std::string>> new_ids, old_ids;  // by source column index
  };

  // `sql` preceded by BEGIN (and the origin) when no peer transaction is
  // open yet, which it then counts as open.
  std::string InTransaction(const std::string& sql);
  void ExecInTransaction(const std::string& sql);
  // Appended to COMMIT / ROLLBACK: lets go of the replication origin.
  std::string ReleaseOrigin() const { return origins_ ? kReleaseOriginSql : ""; }
  void Flush();
  // pending_ and later_, in the order they apply; both left empty.
  std::vector<Segment> TakePending();
  // With on_unmapped_identity "hold", holds `change` when its row (`key`)
  // has a held change; when the row (`key`, and `new_key` for an update
  // that moves it) has a dead letter waiting, dead-letters it as queued
  // behind it. True when it did either: the one check every change passes,
  // when added and again before a later generation is applied.
  bool QueuedBehind(const RowChange& change, const std::string& key, const std::string& new_key);
  // Writes the progress row and COMMITs, given the rows applied in total.
  using CommitSql = std::function<std::string(std::size_t)>;
  // Applies a run's segments in order, the last one carrying `commit` (when
  // given); true when it did (as ApplySegment).
  bool ApplyRun(std::vector<Segment> segments, const CommitSql* commit);
  // Both return true when they also ran `commit` (the segment's statement
  // carried the transaction's end).
  bool ApplySegment(Segment& segment, bool throw_on_error, const CommitSql* commit = nullptr);
  bool ApplyPrepared(const Segment& segment, const std::vector<Prepared>& rows, const CommitSql* commit = nullptr);
  std::vector<Prepared> TranslateIdentities(const Segment& segment,
                                            std::vector<std::pair<const RowChange*, std::string>>& unmapped);
  std::string Provision(const RowChange& change, const std::string& source_id);
  void UndoSegment();
  void DeadLetter(const RowChange& change, const std::string& sqlstate, const std::string& error);
  void Hold(const RowChange& change);
  std::string RowKey(const RowChange& change) const;
  // The key an update moves its row to (empty unless it sent an old key).
  std::string NewRowKey(const RowChange& change) const;
  // Whether `key` has a dead letter still waiting (checked on the peer).
  bool IsDeadKey(const std::string& key);
  std::string SegmentMask(const RowChange& change) const;
  const std::vector<int>& IdentityColumns(const Relation& relation);
  std::string StageTypes(const Relation& relation, std::vector<std::string>& types);
  std::optional<std::vector<int>> DirectColumns(const MappingPlan& plan, const Relation& relation,
                                                const std::vector<std::string>& types);
  std::string BuildStatement(const MappingPlan& plan, const Relation& relation, ChangeOp op, const std::string& mask,
                             const std::string& stage, bool& count_missing);

  const Config& config_;
  const PeerConfig& peer_;
  std::unique_ptr<pq::Connection> conn_;
  std::unique_ptr<pq::Connection> provision_conn_;
  std::unique_ptr<IdentityTranslator> ids_;
  std::map<QualifiedName, std::vector<MappingPlan>> plans_;
  std::map<std::pair<std::uint32_t, std::int32_t>, std::string> type_names_;
  std::unordered_map<std::string, std::vector<int>> identity_columns_;  // by relation signature
  std::unordered_map<std::string, std::string> stage_tables_;           // by relation signature
  std::unordered_set<std::string> held_keys_;
  std::unordered_set<std::string> dead_keys_;
  bool stored_guards_slot_ = false;  // rows with a dead letter: later changes queue behind it
  Segment pending_;
  // Later changes of rows pending_ already changes (updates only): the
  // n-th generation holds each row's (n+1)-th change of the run.
  std::vector<Segment> later_;
  std::unordered_map<std::string, std::size_t> row_changes_;  // per row key, its changes in the run
  std::optional<DirectCopy> copy_;
  bool tx_open_ = false;
  bool stage_used_in_tx_ = false;
  bool savepoint_open_ = false;
  bool bulk_ = false;
  Lsn stored_ = 0;
  Lsn immediate_through_ = 0;    // see immediate_through()
  bool immediate_bulk_ = false;  // the same for a migration rejected at COMMIT
  std::uint64_t tx_rows_ = 0;
  // Rows of the open peer transaction by (source table, operation), for
  // the rows_applied metric once it commits.
  std::map<std::pair<std::string, ChangeOp>, std::uint64_t> tx_table_rows_;
  void PublishCommittedRows();
  int stage_counter_ = 0;
  ApplyCounters counters_;
  // The replication origin this session writes under (platform), and the
  // source transaction's commit position and time (0: a local commit time).
  std::string session_origin_;
  Lsn origin_lsn_ = 0;
  std::int64_t origin_time_ = 0;
  bool two_way_ = false;
  bool origins_ = true;  // false when the role may not use replication origins (one-way peers only)
  std::chrono::steady_clock::time_point last_prune_;
};

}  // namespace crosswalk::cdc
