// The monitor of a `run`: once a second it reads every peer's slot on the
// source (lag, retained WAL) and each peer's dead-letter count (and, for
// two-way peers, conflict count), publishes them as metrics, evaluates the
// alerts, and serves /metrics and /healthz on metrics.listen (cpp-httplib).
// Reverse streams of two-way tables (two_way.hpp) are watched the same way:
// their slot is on the peer, their dead letters and conflicts on the source.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "alerts.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "pgoutput.hpp"
#include "pq.hpp"

namespace httplib {
class Server;
}

namespace crosswalk::cdc {

// Turns successive (time, current WAL position) samples of the source into
// the age of the oldest WAL a slot has not confirmed.
class LagClock {
 public:
  using Clock = std::chrono::steady_clock;
  void AddSample(Clock::time_point at, Lsn current);
  // Seconds since the first sample whose WAL position was past `confirmed`
  // (0 when the slot has confirmed everything sampled).
  double LagSeconds(Clock::time_point now, Lsn confirmed) const;
  // Drops samples no slot needs any more (every slot confirmed past them).
  void Prune(Lsn oldest_confirmed);
  std::size_t size() const { return samples_.size(); }

 private:
  std::deque<std::pair<Clock::time_point, Lsn>> samples_;
};

class Monitor {
 public:
  // Binds metrics.listen when configured; throws Error F0000 naming the
  // field when the address cannot be bound.
  // `reverse`: the reverse streams run beside the config's (DeriveReverseConfigs).
  Monitor(const Config& config, const std::vector<Config>& reverse, const std::atomic<bool>& stop);
  ~Monitor();

  // Samples and alerts until `stop` or `done`; then stops the HTTP server.
  void Run(const std::atomic<bool>& done);

 private:
  // One stream's source and peers: the config's own, or a reverse stream's.
  struct Stream {
    const Config* config;
    bool reverse;
    LagClock lag_clock;
    std::unique_ptr<pq::Connection> source;
  };
  void SampleOnce();
  void SampleStream(Stream& stream);

  const Config& config_;
  const std::atomic<bool>& stop_;
  Alerter alerter_;
  std::vector<Stream> streams_;
  std::map<std::string, std::unique_ptr<pq::Connection>> peers_;  // by peer name
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<std::thread> server_thread_;
};

}  // namespace crosswalk::cdc
