#include "monitor.hpp"

#include <httplib.h>

#include <map>
#include <thread>

#include "log.hpp"
#include "pq.hpp"
#include "two_way.hpp"  // HasTwoWayTables

namespace crosswalk::cdc {

void LagClock::AddSample(Clock::time_point at, Lsn current) {
  if (!samples_.empty() && samples_.back().second >= current) return;  // nothing new written
  samples_.emplace_back(at, current);
  // A bound for a slot that never confirms: one sample a second for a day.
  if (samples_.size() > 86400) samples_.pop_front();
}

double LagClock::LagSeconds(Clock::time_point now, Lsn confirmed) const {
  for (const auto& [at, lsn] : samples_) {
    if (lsn > confirmed) return std::chrono::duration<double>(now - at).count();
  }
  return 0;
}

void LagClock::Prune(Lsn oldest_confirmed) {
  while (!samples_.empty() && samples_.front().second <= oldest_confirmed) samples_.pop_front();
}

Monitor::Monitor(const Config& config, const std::vector<Config>& reverse, const std::atomic<bool>& stop)
    : config_(config), stop_(stop), alerter_(config.alerts) {
  streams_.push_back(Stream{&config_, false, {}, nullptr});
  for (const auto& rc : reverse) streams_.push_back(Stream{&rc, true, {}, nullptr});
  if (!config_.metrics.listen) return;
  const std::string& listen = *config_.metrics.listen;
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::stoi(listen.substr(colon + 1));
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(Metrics::Get().Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    std::string detail;
    res.status = Metrics::Get().Healthy(detail) ? 200 : 503;
    res.set_content(detail + "\n", "application/json");
  });
  if (port < 1 || port > 65535 || !server_->bind_to_port(host.c_str(), port)) {
    throw Error(sqlstate::kConfigFileError, "config: metrics.listen: cannot listen on " + listen,
                "Is another process (another crosswalk-sync?) using that port?");
  }
  server_thread_ = std::make_unique<std::thread>([this] { server_->listen_after_bind(); });
  Log(LogLevel::kInfo, "metrics_listening", {{"listen", listen}});
}

Monitor::~Monitor() {
  if (server_) server_->stop();
  if (server_thread_) server_thread_->join();
}

void Monitor::Run(const std::atomic<bool>& done) {
  auto next = std::chrono::steady_clock::now();
  while (!stop_ && !done) {
    if (std::chrono::steady_clock::now() >= next) {
      SampleOnce();
      next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Monitor::SampleOnce() {
  for (auto& stream : streams_) SampleStream(stream);
}

void Monitor::SampleStream(Stream& stream) {
  const Config& config = *stream.config;
  Metrics& m = Metrics::Get();
  auto now = std::chrono::steady_clock::now();
  std::map<std::string, std::optional<double>> lag;
  try {
    if (!stream.source) stream.source = std::make_unique<pq::Connection>(config.source.dsn);
    pq::Result r = stream.source->Exec(
        "SELECT pg_catalog.pg_current_wal_lsn()::text, slot_name, confirmed_flush_lsn::text, restart_lsn::text, "
        "active FROM (SELECT 1) x LEFT JOIN pg_catalog.pg_replication_slots ON slot_type = 'logical'");
    Lsn current = ParseLsn(r.value(0, 0));
    stream.lag_clock.AddSample(now, current);
    std::map<std::string, int> by_slot;
    for (int i = 0; i < r.rows(); ++i) {
      if (!r.is_null(i, 1)) by_slot[r.value(i, 1)] = i;
    }
    Lsn oldest = current;
    for (const auto& p : config.peers) {
      SlotSample s;
      auto it = by_slot.find(p.slot);
      if (it != by_slot.end() && !r.is_null(it->second, 2)) {
        Lsn confirmed = ParseLsn(r.value(it->second, 2));
        Lsn restart = r.is_null(it->second, 3) ? confirmed : ParseLsn(r.value(it->second, 3));
        s.exists = true;
        s.active = r.value(it->second, 4) == "t";
        s.lag_bytes = current > confirmed ? static_cast<double>(current - confirmed) : 0;
        s.retained_bytes = current > restart ? static_cast<double>(current - restart) : 0;
        s.lag_seconds = stream.lag_clock.LagSeconds(now, confirmed);
        oldest = std::min(oldest, confirmed);
        lag[p.name] = s.lag_seconds;
      }
      m.SetSlot(p.name, p.slot, s);
    }
    stream.lag_clock.Prune(oldest);
    if (!stream.reverse) m.SetSourceUp(true);
  } catch (const Error& e) {
    stream.source.reset();
    // A reverse stream's source is a peer, which its stream thread reports.
    if (!stream.reverse) {
      m.SetSourceUp(false);
      Log(LogLevel::kWarning, "monitor_source_unreachable", {{"sqlstate", e.sqlstate()}, {"message", e.what()}});
    }
  }
  for (const auto& p : config.peers) {
    if (p.kind != PeerKind::kDatabase) {  // an event peer has no dead letters
      alerter_.Evaluate(p.name, lag.count(p.name) ? lag[p.name] : std::nullopt, std::nullopt);
      continue;
    }
    std::optional<std::int64_t> dead;
    try {
      auto& peer = peers_[p.name];
      if (!peer) peer = std::make_unique<pq::Connection>(p.dsn);
      if (peer->Scalar("SELECT pg_catalog.to_regclass('crosswalk_sync.dead_letter')::text")) {
        dead = std::stoll(
            peer->Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter WHERE slot = $1", {p.slot}).value_or("0"));
        m.SetDeadLettersPending(p.name, *dead);
      }
      if (HasTwoWayTables(p) && peer->Scalar("SELECT pg_catalog.to_regclass('crosswalk_sync.conflicts')::text")) {
        m.SetConflicts(
            p.name,
            std::stoll(
                peer->Scalar("SELECT count(*) FROM crosswalk_sync.conflicts WHERE slot = $1", {p.slot}).value_or("0")));
      }
    } catch (const Error&) {
      peers_.erase(p.name);
      // The peer is down or not prepared yet: its stream thread reports it.
    }
    alerter_.Evaluate(p.name, lag.count(p.name) ? lag[p.name] : std::nullopt, dead);
  }
}

}  // namespace crosswalk::cdc
