#include "stream.hpp"

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "event_config.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "origin.hpp"
#include "replication.hpp"
#include "snapshot.hpp"
#include "sqltext.hpp"
#include "two_way.hpp"

namespace crosswalk::cdc {

namespace {

using Clock = std::chrono::steady_clock;

// Errors after which retrying cannot help: the stream itself is wrong, the
// config is, or the slot is gone. Everything else is retried.
bool IsFatal(const Error& e) {
  std::string code = e.sqlstate();
  return code == kProtocolViolation || code == sqlstate::kConfigFileError || code == "55000" ||
         code == sqlstate::kDataCorrupted;
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

void EnsurePublication(const Config& config, bool may_create) {
  pq::Connection source(config.source.dsn);
  std::set<QualifiedName> tables;
  for (const auto& p : config.peers) {
    for (const auto& t : p.tables) {
      if (!tables.insert(t.source).second) continue;
      if (!source.Scalar("SELECT pg_catalog.to_regclass($1)::text", {t.source.Quoted()})) {
        throw Error(sqlstate::kConfigFileError,
                    "config: " + t.path + ".source: source table " + t.source.Display() + " not found");
      }
    }
  }
  auto exists =
      source.Scalar("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", {config.source.publication});
  if (!exists) {
    if (!may_create || !config.source.create_publication) {
      throw Error(sqlstate::kConfigFileError,
                  "config: source.publication: publication \"" + config.source.publication + "\" does not exist",
                  "Create it (CREATE PUBLICATION ... FOR TABLE ...) or set source.create_publication to true.");
    }
    std::string list;
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + t.Quoted();
    source.Exec("CREATE PUBLICATION " + QuoteIdent(config.source.publication) + " FOR TABLE " + list);
    Log(LogLevel::kInfo, "publication_created", {{"publication", config.source.publication}});
    return;
  }
  for (const auto& t : tables) {
    auto in = source.Scalar(
        "SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
        {config.source.publication, t.schema, t.name});
    if (!in) {
      throw Error(sqlstate::kConfigFileError,
                  "config: source.publication: publication \"" + config.source.publication + "\" does not publish " +
                      t.Display(),
                  "ALTER PUBLICATION " + QuoteIdent(config.source.publication) + " ADD TABLE " + t.Quoted() + ";");
    }
  }
}

PeerStream::PeerStream(const Config& config, const PeerConfig& peer, const std::atomic<bool>& stop,
                       const ReloadChannel* reloads)
    : config_(config), peer_(peer), stop_(stop), applier_(config_, peer_), reloads_(reloads) {
  if (reloads_) reload_seen_ = reloads_->generation();
  drift_.SetMapping(peer_);
}

void PeerStream::CheckSlotNotAhead(const std::optional<std::string>& confirmed_text, Lsn stored) const {
  // The daemon stores a position on the peer before it confirms it to the
  // slot, so a slot that confirmed more than the peer stores is not the one
  // this peer followed (dropped and created again, advanced by hand) or the
  // peer went back (restored from a backup): the changes in between are on
  // neither side any more, and streaming on would hide that.
  if (!confirmed_text) return;
  Lsn confirmed = ParseLsn(*confirmed_text);
  if (confirmed <= stored) return;
  throw Error("55000",
              "replication slot " + peer_.slot + " has confirmed up to " + FormatLsn(confirmed) + " but peer " +
                  peer_.name + " stores " + FormatLsn(stored) +
                  ": the slot was created again or advanced, or the peer restored from an older backup; the changes "
                  "in between would be lost",
              "Refusing to stream from it. To migrate again: DELETE FROM crosswalk_sync.progress WHERE slot = '" +
                  peer_.slot + "' on the peer, empty the target tables, and run again.");
}

bool PeerStream::SleepUnlessStopped(int ms) const {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    if (stop_) return false;
    if (ReloadPending()) return true;  // a paused peer tries the new mapping at once
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !stop_;
}

void PeerStream::Run(bool snapshot_only) {
  std::mt19937 rng(std::random_device{}());
  int backoff_ms = 500;
  while (!stop_) {
    try {
      if (ReloadPending()) TakeReload();
      if (next_) {
        // Between connections: the applier re-prepares its plans from the
        // new mapping when RunOnce starts.
        config_ = std::move(next_->first);
        peer_ = std::move(next_->second);
        next_.reset();
      }
      RunOnce(snapshot_only);
      if (!next_) return;
      backoff_ms = 500;
      continue;
    } catch (const Error& e) {
      applier_.AbortTransaction();
      Metrics::Get().AddError(peer_.name, e.sqlstate());
      if (const auto* drift = dynamic_cast<const SchemaDriftError*>(&e)) {
        int wait = backoff_ms / 2 + static_cast<int>(rng() % static_cast<unsigned>(backoff_ms / 2 + 1));
        Log(LogLevel::kError, "schema_drift",
            {{"peer", peer_.name},
             {"table", drift->table},
             {"column", drift->column},
             {"path", drift->path},
             {"sqlstate", e.sqlstate()},
             {"message", e.what()},
             {"hint", e.hint()},
             {"retry_in_ms", wait}});
        Metrics::Get().SetPeerState(peer_.name, PeerState::kPaused);
        streamed_ = false;
        if (!SleepUnlessStopped(wait)) return;
        backoff_ms = std::min(backoff_ms * 2, 30000);
        continue;
      }
      if (IsFatal(e)) {
        Log(LogLevel::kError, "peer_stopped",
            {{"peer", peer_.name}, {"sqlstate", e.sqlstate()}, {"message", e.what()}, {"hint", e.hint()}});
        throw;
      }
      // A connection that got as far as streaming starts the backoff over.
      if (streamed_) backoff_ms = 500;
      streamed_ = false;
      int wait = backoff_ms / 2 + static_cast<int>(rng() % static_cast<unsigned>(backoff_ms / 2 + 1));
      Log(LogLevel::kWarning, "reconnect",
          {{"peer", peer_.name}, {"sqlstate", e.sqlstate()}, {"message", e.what()}, {"retry_in_ms", wait}});
      Metrics::Get().AddReconnect(peer_.name);
      Metrics::Get().SetPeerState(peer_.name, PeerState::kReconnecting);
      if (!SleepUnlessStopped(wait)) return;
      backoff_ms = std::min(backoff_ms * 2, 30000);
    }
  }
}

void PeerStream::RunOnce(bool snapshot_only) {
  applier_.Prepare();
  applier_.LockSlot();
  pq::Connection source(config_.source.dsn);
  std::optional<Lsn> stored = applier_.StoredPosition();
  pq::Result slot = source.ExecParams(
      "SELECT plugin, database = pg_catalog.current_database(), active, confirmed_flush_lsn::text "
      "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
      {peer_.slot});
  bool slot_exists = slot.rows() == 1;
  if (slot_exists && (slot.value(0, 0) != "pgoutput" || slot.value(0, 1) != "t")) {
    throw Error("55000", "replication slot " + peer_.slot + " exists but is not a pgoutput slot of this database",
                "Give this peer another slot name (peers[].slot).");
  }

  ReplicationConnection repl(config_.source.dsn);
  if (!stored) {
    // Never applied here: a slot left by a migration that did not commit is
    // useless (its snapshot is gone) and is replaced.
    if (slot_exists) {
      source.ExecParams("SELECT pg_catalog.pg_drop_replication_slot($1)", {peer_.slot});
      Log(LogLevel::kInfo, "slot_dropped",
          {{"peer", peer_.name}, {"slot", peer_.slot}, {"reason", "no migration committed"}});
    }
    CreatedSlot created = repl.CreateSlot(peer_.slot);
    if (!peer_.migrate) {
      // A derived reverse stream (two_way.hpp) starts where its slot does.
      applier_.BeginTransaction();
      applier_.CommitTransaction(created.consistent_point, true);
    }
    Metrics::Get().SetPeerState(peer_.name, PeerState::kSnapshot);
    Log(LogLevel::kInfo, "snapshot_start",
        {{"peer", peer_.name}, {"slot", peer_.slot}, {"lsn", FormatLsn(created.consistent_point)}});
    auto t0 = Clock::now();
    std::uint64_t rows =
        peer_.migrate ? applier_.Snapshot(config_.source.dsn, created.snapshot_name, created.consistent_point) : 0;
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    Log(LogLevel::kInfo, "snapshot_done",
        {{"peer", peer_.name}, {"rows", rows}, {"seconds", secs}, {"lsn", FormatLsn(created.consistent_point)}});
    stored = created.consistent_point;
  } else if (!slot_exists) {
    throw Error(
        "55000",
        "replication slot " + peer_.slot + " is gone but peer " + peer_.name + " was applied up to " +
            FormatLsn(*stored) + ": changes since then are lost on the source",
        "Refusing to start from a new slot. To migrate again: DELETE FROM crosswalk_sync.progress WHERE slot = '" +
            peer_.slot + "' on the peer, empty the target tables, and run again.");
  } else {
    std::optional<std::string> confirmed = slot.get(0, 3);
    if (!applier_.stored_guards_slot() && confirmed && ParseLsn(*confirmed) > *stored) {
      // Progress kept by an earlier daemon, which confirmed positions past
      // the stored one when nothing for this peer lay between them (an idle
      // source, other tables): the slot's position is the applied one.
      Log(LogLevel::kInfo, "adopt_slot_position",
          {{"peer", peer_.name}, {"slot", peer_.slot}, {"stored_lsn", FormatLsn(*stored)}, {"lsn", *confirmed}});
      applier_.StorePosition(ParseLsn(*confirmed));
      stored = ParseLsn(*confirmed);
    }
    CheckSlotNotAhead(confirmed, *stored);
    Log(LogLevel::kInfo, "resume", {{"peer", peer_.name}, {"slot", peer_.slot}, {"lsn", FormatLsn(*stored)}});
  }
  applier_.GuardSlot();
  if (snapshot_only) return;
  if (!layouts_acknowledged_) {
    AcknowledgeSourceLayouts(source);
    layouts_acknowledged_ = true;
  }
  repl.StartReplication(peer_.slot, *stored, config_.source.publication);
  Log(LogLevel::kInfo, "streaming", {{"peer", peer_.name}, {"lsn", FormatLsn(*stored)}});
  Metrics::Get().SetPeerState(peer_.name, PeerState::kStreaming);
  streamed_ = true;

  RelationCache relations;
  Lsn applied = *stored;   // end of the last transaction committed on the peer
  Lsn received = *stored;  // furthest position the server told us about
  bool in_tx = false, skipping = false;
  Lsn reported = 0;
  auto last_status = Clock::now();
  auto last_release = Clock::now();
  const auto status_every = std::chrono::seconds(config_.apply.status_interval_seconds);

  // Group commit: source transactions that have already arrived while one
  // is applied join its peer transaction (each whole, in order), up to
  // batch_rows rows or kGroupAge; the group commits as soon as the stream
  // pauses. The stored position is the group's last end LSN, so a crash
  // rolls the group back and it comes again from the slot.
  constexpr auto kGroupAge = std::chrono::milliseconds(50);
  bool group_open = false;
  std::uint64_t group_transactions = 0;
  Lsn group_end = 0;
  auto group_start = Clock::now();
  std::optional<std::string> lookahead;
  std::int64_t tx_commit_time = 0;  // of the source transaction being read
  Lsn tx_final_lsn = 0;
  // Conflicts are settled by source commit time, which the peer commit
  // carries: a peer with two-way tables commits each source transaction on
  // its own. Others group only transactions of one origin.
  const bool may_group = !HasTwoWayTables(peer_);
  std::string group_origin;
  std::uint64_t echoes = 0;  // transactions not sent back where they came from
  // The origin is known from the Origin message that follows Begin, or from
  // its absence once the first change comes: decided then, not at Begin,
  // so that a group is never given the next transaction's commit time.
  bool origin_pending = false;
  BeginMessage tx_begin;
  std::vector<std::int64_t> group_commit_times;  // of each source transaction in the group
  auto commit_group = [&] {
    applier_.CommitTransaction(group_end, false, group_transactions);
    std::int64_t now_us = PostgresNow();
    for (auto t : group_commit_times) {
      Metrics::Get().ObserveApplyLatency(peer_.name, static_cast<double>(std::max<std::int64_t>(0, now_us - t)) / 1e6);
    }
    group_commit_times.clear();
    applied = group_end;
    group_open = false;
    group_transactions = 0;
  };

  // What may be confirmed: nothing pending (an event peer: nothing
  // unacknowledged either) means everything received is applied or not ours.
  auto flush_position = [&] {
    Lsn durable = applier_.DurablePosition(applied);
    return (in_tx || group_open || durable < applied) ? durable : std::max(durable, received);
  };

  // Decides from the transaction's origin (origin.hpp) whether to skip it
  // and under which origin to apply it; a group of another origin (or any
  // group, when grouping is off) is committed first.
  auto start_origin = [&](const std::optional<std::string>& origin_name) {
    OriginDecision d = DecideOrigin(origin_name, config_.source.platform, peer_.platform, peer_.forward_origins);
    if (d.skip) {
      skipping = true;
      ++echoes;
      return;
    }
    if (group_open && (d.platform != group_origin || !may_group)) {
      commit_group();
      applier_.BeginTransaction();
      group_start = Clock::now();
    }
    group_origin = d.platform;
    applier_.SetOrigin(d.platform, tx_final_lsn, tx_commit_time);
    applier_.BeginSourceTransaction(tx_begin);
  };

  auto ensure_origin = [&] {
    if (!origin_pending) return;
    origin_pending = false;
    start_origin(std::nullopt);  // no Origin message: a change made on the source itself
  };

  auto send_status = [&](bool reply) {
    Lsn flush = flush_position();
    // The slot never confirms past what the peer stores (see
    // CheckSlotNotAhead); inside a peer transaction it waits for the commit.
    if (flush > applier_.stored_position()) {
      if (applier_.in_transaction()) {
        flush = applier_.stored_position();
      } else {
        applier_.StorePosition(flush);
      }
    }
    repl.SendStatus(received, flush, reply);
    reported = flush;
    last_status = Clock::now();
  };

  while (!stop_) {
    // A reload is taken between peer transactions only (here no group is
    // open): the connection ends as on a stop, and Run starts it again
    // with the new mapping from the stored position.
    if (!lookahead && !in_tx && !group_open && ReloadPending() && TakeReload()) break;
    std::optional<std::string> frame = lookahead ? std::move(lookahead) : repl.ReadFrame(200);
    lookahead.reset();
    bool reply_now = false;
    if (frame) {
      CopyFrame f = DecodeCopyFrame(*frame);
      if (auto* k = std::get_if<Keepalive>(&f)) {
        received = std::max(received, k->wal_end);
        reply_now = k->reply_requested;
      } else {
        const XLogData& x = std::get<XLogData>(f);
        Message m = DecodeMessage(x.payload, x.start);
        std::visit(
            Overloaded{
                [&](const BeginMessage& b) {
                  in_tx = true;
                  // Already applied before a crash that came ahead of
                  // the slot's confirmation: skip it whole.
                  skipping = b.final_lsn < applied;
                  tx_commit_time = b.commit_time;
                  tx_begin = b;  // the sink hears of it once it is known not to be an echo
                  tx_final_lsn = b.final_lsn;
                  // A transaction the peer refused within a group at COMMIT
                  // goes alone (PeerApplier::immediate_through).
                  if (!skipping && group_open && b.final_lsn <= applier_.immediate_through()) {
                    commit_group();
                  }
                  if (!skipping && !group_open) {
                    applier_.BeginTransaction();
                    group_start = Clock::now();
                  }
                  origin_pending = !skipping;
                },
                [&](const CommitMessage& c) {
                  ensure_origin();
                  if (!skipping) {
                    applier_.EndSourceTransaction(c);
                    group_open = true;
                    ++group_transactions;
                    group_end = c.end_lsn;
                    group_commit_times.push_back(tx_commit_time);
                  }
                  received = std::max(received, c.end_lsn);
                  in_tx = skipping = false;
                },
                [&](const Relation& r) {
                  relations.Store(r);
                  // Sent without a position of its own: its transaction's
                  // commit position stands for it.
                  drift_.Observe(relations.Get(r.oid, x.start), tx_final_lsn);
                },
                [&](const InsertMessage& i) {
                  ensure_origin();
                  if (skipping) return;
                  RowChange c{ChangeOp::kInsert, relations.Get(i.relation_oid, x.start), 0, {}, i.new_tuple, x.start};
                  applier_.AddChange(std::move(c));
                },
                [&](const UpdateMessage& u) {
                  ensure_origin();
                  if (skipping) return;
                  RowChange c{ChangeOp::kUpdate, relations.Get(u.relation_oid, x.start),
                              u.old_kind,        u.old_tuple,
                              u.new_tuple,       x.start};
                  applier_.AddChange(std::move(c));
                },
                [&](const DeleteMessage& d) {
                  ensure_origin();
                  if (skipping) return;
                  RowChange c{
                      ChangeOp::kDelete, relations.Get(d.relation_oid, x.start), d.old_kind, d.old_tuple, {}, x.start};
                  applier_.AddChange(std::move(c));
                },
                [&](const TruncateMessage& t) {
                  ensure_origin();
                  if (skipping) return;
                  std::vector<std::shared_ptr<const Relation>> rels;
                  for (auto oid : t.relation_oids) rels.push_back(relations.Get(oid, x.start));
                  applier_.Truncate(rels, (t.options & TruncateMessage::kRestartIdentity) != 0);
                },
                [&](const OriginMessage& o) {
                  if (!in_tx || !origin_pending) return;
                  origin_pending = false;
                  start_origin(o.name);
                },
                [&](const TypeMessage&) {},
                [&](const LogicalMessage&) {},
            },
            m);
      }
    }
    if (group_open && !in_tx) {
      bool full = !may_group || applier_.open_rows() >= static_cast<std::uint64_t>(config_.apply.batch_rows) ||
                  Clock::now() - group_start >= kGroupAge || group_end <= applier_.immediate_through();
      if (!full) lookahead = repl.ReadFrame(0);
      if (full || !lookahead) commit_group();
    }
    auto now = Clock::now();
    Lsn flush_now = flush_position();
    if (reply_now || now - last_status >= status_every ||
        (flush_now != reported && now - last_status >= std::chrono::seconds(1))) {
      send_status(false);
    }
    if (!in_tx && !group_open && applier_.held_keys() > 0 && now - last_release >= std::chrono::seconds(1)) {
      applier_.ReleaseHeld();
      last_release = now;
    }
  }
  // Stopping: whole source transactions already applied are committed; a
  // transaction half applied is rolled back on the peer (it will come again
  // from the slot); what is committed is confirmed.
  if (group_open && !in_tx) commit_group();
  applier_.AbortTransaction();
  in_tx = false;
  applied = applier_.DurablePosition(applied);
  received = std::max(received, applied);
  applier_.StorePosition(applied);
  repl.SendStatus(applied, applied, false);
  repl.Finish();  // the reader stops; that last status is sent from here
  Log(LogLevel::kInfo, next_ ? "reconnect_for_reload" : "stopped",
      {{"peer", peer_.name}, {"applied_lsn", FormatLsn(applied)}, {"echoes_skipped", echoes}});
}

void PeerStream::AcknowledgeSourceLayouts(pq::Connection& source) {
  for (const auto& t : peer_.tables) {
    drift_.Acknowledge(*LoadSourceRelation(source, t.source, "config: " + t.path + ".source"));
  }
  // Read after the layouts: a change before this position may have been
  // sent with an older layout than the catalog showed, and is accepted.
  drift_.SetAcknowledgedAt(ParseLsn(*source.Scalar("SELECT pg_catalog.pg_current_wal_lsn()::text")));
}

bool PeerStream::TakeReload() {
  auto [generation, next] = reloads_->Latest();
  reload_seen_ = generation;
  const PeerConfig* peer = nullptr;
  for (const auto& p : next->peers) {
    if (p.name == peer_.name) peer = &p;
  }
  if (!peer) return false;  // the main thread refuses removing a peer
  std::shared_ptr<const Relation> drifted = drift_.drifted();
  // Nothing of this peer changed and nothing to acknowledge: no reconnect.
  bool changed = false;
  for (const auto& d : CompareConfigs(config_, *next)) {
    changed = changed || d.path.rfind(peer->path + ".", 0) == 0 || d.path.rfind("apply.", 0) == 0 ||
              d.path.rfind("identity.", 0) == 0;
  }
  if (!changed && !drifted) {
    Log(LogLevel::kInfo, "reload_unchanged", {{"peer", peer_.name}, {"generation", generation}});
    return false;
  }
  try {
    pq::Connection source(next->source.dsn);
    std::map<QualifiedName, std::shared_ptr<const Relation>> layouts;
    for (const auto& t : peer->tables) {
      if (!layouts.count(t.source))
        layouts[t.source] = LoadSourceRelation(source, t.source, "config: " + t.path + ".source");
    }
    if (!IsEventPeer(*peer)) {
      // The peer plans every statement of the new mapping over the source's
      // current layouts and over the one that paused this stream, on
      // connections of its own: the stream is not disturbed by a rejection.
      PeerApplier probe(*next, *peer);
      probe.Prepare();
      probe.CheckMappings(layouts);
      if (drifted) probe.CheckMappings({{QualifiedName{drifted->schema, drifted->name}, drifted}});
    }
    drift_.SetMapping(*peer);
    for (const auto& [name, layout] : layouts) drift_.Acknowledge(*layout);
    if (drifted) drift_.Acknowledge(*drifted);
    drift_.ClearDrifted();
    next_.emplace(*next, *peer);
  } catch (const Error& e) {
    Log(LogLevel::kError, "reload_rejected_by_peer",
        {{"peer", peer_.name},
         {"sqlstate", e.sqlstate()},
         {"message", e.what()},
         {"hint", "This peer keeps its running mapping; fix the file and send SIGHUP again."}});
    return false;
  }
  Log(LogLevel::kInfo, "reloaded", {{"peer", peer_.name}, {"generation", generation}});
  return true;
}

}  // namespace crosswalk::cdc
