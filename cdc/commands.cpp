#include "commands.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "apply.hpp"
#include "event_commands.hpp"
#include "event_config.hpp"
#include "drift.hpp"
#include "identity.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "monitor.hpp"
#include "pq.hpp"
#include "snapshot.hpp"
#include "stream.hpp"
#include "two_way.hpp"

namespace crosswalk::cdc {

void ValidateConfig(const Config& config, std::ostream& out, bool tolerate_down_peers);

int RunPeers(const Config& config, bool snapshot_only, const std::atomic<bool>& stop, const ReloadRequest* reload) {
  // Every mapping is checked before anything streams: a bad field stops the
  // run at once, naming its path.
  std::ostringstream plan;
  ValidateConfig(config, plan, /*tolerate_down_peers=*/true);
  // Two-way tables: the reverse streams run beside the forward ones.
  const std::vector<Config> reverse = DeriveReverseConfigs(config);
  for (const auto& rc : reverse) ValidateConfig(rc, plan, /*tolerate_down_peers=*/true);
  std::vector<std::pair<const Config*, const PeerConfig*>> streams;
  for (const auto& peer : config.peers) streams.emplace_back(&config, &peer);
  for (const auto& rc : reverse) streams.emplace_back(&rc, &rc.peers.front());
  // The monitor (metrics endpoint, slot lag, alerts) runs beside the peers
  // and ends when they all have.
  std::unique_ptr<Monitor> monitor;
  if (!snapshot_only) monitor = std::make_unique<Monitor>(config, reverse, stop);
  std::atomic<bool> peers_done{false};
  std::thread monitor_thread;
  if (monitor) monitor_thread = std::thread([&] { monitor->Run(peers_done); });
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  // Reverse streams (two-way tables) are derived from the file at start
  // and take no reloads; the forward ones do.
  std::atomic<std::size_t> running{streams.size()};
  std::mutex done_mu;
  std::condition_variable done_cv;  // a peer's thread has ended
  ReloadChannel reloads;
  for (const auto& [stream_config, peer_ptr] : streams) {
    const Config& cfg = *stream_config;
    const PeerConfig& peer = *peer_ptr;
    const ReloadChannel* channel = stream_config == &config ? &reloads : nullptr;
    Metrics::Get().SetPeerState(peer.name, PeerState::kStarting);
    threads.emplace_back([&cfg, &peer, &stop, &failed, &running, &done_mu, &done_cv, channel, snapshot_only] {
      struct Done {
        std::atomic<std::size_t>& running;
        std::mutex& mu;
        std::condition_variable& cv;
        ~Done() {
          {
            std::lock_guard<std::mutex> lock(mu);
            --running;
          }
          cv.notify_all();
        }
      } done{running, done_mu, done_cv};
      try {
        PeerStream stream(cfg, peer, stop, channel);
        stream.Run(snapshot_only);
        Metrics::Get().SetPeerState(peer.name, PeerState::kStopped);
      } catch (const Error& e) {
        ++failed;  // logged by PeerStream; the other peers go on
        Metrics::Get().SetPeerState(peer.name, PeerState::kFailed);
      } catch (const std::exception& e) {
        Log(LogLevel::kError, "peer_stopped", {{"peer", peer.name}, {"message", e.what()}});
        Metrics::Get().SetPeerState(peer.name, PeerState::kFailed);
        ++failed;
      }
    });
  }
  // The main thread waits for the peers, reloading the config on request.
  Config current = config;
  while (running > 0) {
    if (reload && reload->requested->exchange(false)) ReloadConfig(reload->config_path, current, reloads);
    // Woken as soon as the last peer ends (a snapshot's exit waits for no
    // tick), and every 50 ms to look for a reload.
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return running == 0; });
  }
  for (auto& t : threads) t.join();
  peers_done = true;
  if (monitor_thread.joinable()) monitor_thread.join();
  return failed == 0 ? 0 : 1;
}

void ValidateConfig(const Config& config, std::ostream& out, bool tolerate_down_peers) {
  pq::Connection source(config.source.dsn);
  auto wal_level = source.Scalar("SHOW wal_level");
  if (wal_level != "logical") {
    throw Error("55000", "source: wal_level is " + wal_level.value_or("?") + ", not logical",
                "Set wal_level = logical in postgresql.conf and restart the server.");
  }
  EnsurePublication(config, /*may_create=*/true);
  out << "source " << pq::MaskDsn(config.source.dsn) << ": wal_level logical, publication " << config.source.publication
      << " publishes every mapped table\n";
  std::map<QualifiedName, std::shared_ptr<const Relation>> relations;
  for (const auto& p : config.peers) {
    for (const auto& t : p.tables) {
      if (!relations.count(t.source))
        relations[t.source] = LoadSourceRelation(source, t.source, "config: " + t.path + ".source");
    }
  }
  for (const auto& p : config.peers) {
    if (IsEventPeer(p)) {
      CheckEventPeer(config, p, relations, out, tolerate_down_peers);
      continue;
    }
    bool uses_identity = p.on_unmapped_identity == UnmappedIdentity::kProvision;
    for (const auto& t : p.tables) {
      for (const auto& c : t.columns) uses_identity = uses_identity || c.identity_column.has_value();
    }
    if (uses_identity) {
      try {
        IdentityTranslator(config.identity.dsn, config.source.platform, p.platform, 0).Check();
      } catch (const Error& e) {
        throw Error(e.sqlstate(),
                    "config: identity.dsn: cannot translate " + config.source.platform + " to " + p.platform +
                        " ids: " + e.what(),
                    "The identity database needs CREATE EXTENSION crosswalk and both platforms registered.");
      }
    }
    PeerApplier applier(config, p);
    try {
      applier.Prepare();
    } catch (const Error& e) {
      // A peer that is down does not stop `run`: its thread retries.
      if (!tolerate_down_peers || std::string(e.sqlstate()).compare(0, 2, "08") != 0) throw;
      Log(LogLevel::kWarning, "peer_unreachable", {{"peer", p.name}, {"message", e.what()}});
      continue;
    }
    try {
      applier.CheckMappings(relations);
    } catch (const Error& e) {
      throw Error(e.sqlstate(), e.what() + ExplainMissingColumns(p, relations, e.what()), e.hint());
    }
    auto slot = source.Scalar(
        "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", {p.slot});
    auto stored = applier.StoredPosition();
    out << "peer " << p.name << " (" << pq::MaskDsn(p.dsn) << "), platform " << p.platform << ", slot " << p.slot
        << ": ";
    if (!stored) {
      out << "will create the slot and migrate a snapshot, then stream\n";
    } else if (!slot) {
      out << "SLOT LOST (peer applied up to " << FormatLsn(*stored) << "): run refuses to start\n";
    } else if (ParseLsn(*slot) > *stored) {
      out << "SLOT AHEAD OF PEER (slot confirmed " << *slot << ", peer stores " << FormatLsn(*stored)
          << "): run refuses to start\n";
    } else {
      out << "will stream from " << FormatLsn(*stored) << "\n";
    }
    out << "  unmapped identities: " << UnmappedIdentityName(p.on_unmapped_identity) << "\n";
    for (const auto& t : p.tables) {
      const Relation& rel = *relations.at(t.source);
      out << "  " << t.source.Display() << " (replica identity " << rel.replica_identity << ") -> "
          << t.target.Display() << " key (";
      for (std::size_t i = 0; i < t.key.size(); ++i) out << (i ? ", " : "") << t.key[i];
      out << ")" << (t.where ? " where " + *t.where : "");
      if (t.two_way) {
        out << " two-way, conflicts " << ConflictPolicyName(t.two_way->conflicts)
            << (t.two_way->priority ? " (" + *t.two_way->priority + " wins)" : "");
      }
      out << "\n";
      for (const auto& c : t.columns) {
        out << "    " << c.target << " = "
            << (c.identity_column ? "identity(" + *c.identity_column + ")" : c.expression);
        // The source columns it reads and their types now: what a paused
        // peer's schema_drift line is about.
        std::string reads;
        for (const RelationColumn* col : ColumnsRead(c, rel)) {
          reads += (reads.empty() ? "" : ", ") + col->name + " " +
                   source
                       .Scalar("SELECT pg_catalog.format_type($1::oid, $2::int)",
                               {std::to_string(col->type_oid), std::to_string(col->type_mod)})
                       .value_or("?");
        }
        out << (reads.empty() ? "" : "  -- reads " + reads) << "\n";
      }
    }
  }
  out << "ok\n";
}

void CheckConfig(const Config& config, std::ostream& out) {
  // The inverse mappings first: a two-way table that cannot be mapped back
  // is a config error whatever the servers say.
  const std::vector<Config> reverse = DeriveReverseConfigs(config);
  ValidateConfig(config, out, false);
  for (const auto& rc : reverse) {
    out << "reverse stream of two-way tables, " << rc.source.platform << " -> " << rc.peers.front().platform << ":\n";
    ValidateConfig(rc, out, false);
  }
}

namespace {

void PrintStreamStatus(const Config& config, std::ostream& out) {
  pq::Connection source(config.source.dsn);
  for (const auto& p : config.peers) {
    out << "peer=" << p.name << " slot=" << p.slot;
    if (IsEventPeer(p)) {
      PrintEventPeerStatus(source, p, out);
      continue;
    }
    pq::Result s = source.ExecParams(
        "SELECT confirmed_flush_lsn::text, active, "
        "pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
        "pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::bigint "
        "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
        {p.slot});
    if (s.rows() == 0) {
      out << " slot_state=missing";
    } else {
      out << " slot_state=" << (s.value(0, 1) == "t" ? "active" : "inactive") << " confirmed_lsn=" << s.value(0, 0)
          << " lag_bytes=" << s.value(0, 2) << " retained_wal_bytes=" << s.value(0, 3);
    }
    try {
      pq::Connection peer(p.dsn);
      pq::Result r = peer.ExecParams(
          "SELECT applied_lsn::text, rows_applied, transactions, updated_at, "
          "(SELECT count(*) FROM crosswalk_sync.dead_letter d WHERE d.slot = $1), "
          "(SELECT count(*) FROM crosswalk_sync.held h WHERE h.slot = $1) "
          "FROM (SELECT NULL) x LEFT JOIN crosswalk_sync.progress p ON p.slot = $1",
          {p.slot});
      out << " applied_lsn=" << r.get(0, 0).value_or("none") << " rows_applied=" << r.get(0, 1).value_or("0")
          << " transactions=" << r.get(0, 2).value_or("0") << " dead_letters=" << r.value(0, 4)
          << " held=" << r.value(0, 5);
      if (HasTwoWayTables(p)) {
        out << " conflicts="
            << peer.Scalar("SELECT count(*) FROM crosswalk_sync.conflicts WHERE slot = $1", {p.slot}).value_or("0");
      }
    } catch (const Error& e) {
      out << " peer_error=\"" << e.what() << "\"";
    }
    out << "\n";
  }
}

}  // namespace

void PrintStatus(const Config& config, std::ostream& out) {
  PrintStreamStatus(config, out);
  for (const auto& rc : DeriveReverseConfigs(config)) PrintStreamStatus(rc, out);
}

std::size_t RetryDeadLetters(const Config& config, std::ostream& out) {
  std::size_t left_total = 0;
  const std::vector<Config> reverse = DeriveReverseConfigs(config);
  std::vector<std::pair<const Config*, const PeerConfig*>> streams;
  for (const auto& p : config.peers) streams.emplace_back(&config, &p);
  for (const auto& rc : reverse) streams.emplace_back(&rc, &rc.peers.front());
  for (const auto& [stream_config, peer] : streams) {
    const PeerConfig& p = *peer;
    if (IsEventPeer(p)) continue;  // events have no dead letters
    PeerApplier applier(*stream_config, p);
    applier.Prepare();
    auto [applied, left] = applier.RetryDeadLetters();
    out << "peer=" << p.name << " retried=" << (applied + left) << " applied=" << applied << " left=" << left << "\n";
    left_total += left;
  }
  return left_total;
}

}  // namespace crosswalk::cdc
