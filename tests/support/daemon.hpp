// A crosswalk-sync child process for integration tests, and the helpers the
// sync tests share: waiting for slots to drain and comparing a peer with the
// mapped source row for row.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pq.hpp"

namespace crosswalk::test {

// The crosswalk-sync binary of this build.
std::string DaemonPath();

// `crosswalk-sync COMMAND -c CONFIG [extra...]` with stdout and stderr
// appended to `log`; killed (SIGKILL) if still running when destroyed.
class Daemon {
 public:
  Daemon(const std::string& command, const std::string& config, const std::string& log,
         const std::vector<std::string>& extra = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` without waiting.
  void Signal(int sig) const;
  // Sends `sig` and waits; returns the exit status (128+signal when killed).
  int Stop(int sig);
  int Wait();
  // True while the process has not exited (reaps it when it has).
  bool Running();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

std::string ReadFile(const std::string& path);
std::string WriteFile(const std::string& path, const std::string& text);

// COPY (query) TO STDOUT as text.
std::string CopyOut(pq::Connection& c, const std::string& query);

// Waits until every slot has confirmed what the source has written so far;
// returns false at the timeout.
bool WaitDrained(pq::Connection& source, const std::vector<std::string>& slots, std::chrono::seconds timeout);

// A peer database and the slot that feeds it, for WaitPeersDrained.
struct PeerSlot {
  pq::Connection* peer;
  std::string slot;
};

// Waits until, for every peer, both the slot has confirmed and the peer's
// crosswalk_sync.progress stores what the source has written so far. A slot
// alone is not enough: a fresh slot confirms its consistent point before the
// peer has committed the snapshot. Returns false at the timeout.
bool WaitPeersDrained(pq::Connection& source, const std::vector<PeerSlot>& peers, std::chrono::seconds timeout);

// Polls `done` every 50 ms until it returns true or `timeout` passes.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// The daemon's JSON log lines since byte `from` of `log` whose event is
// `event`.
std::vector<nlohmann::json> LogEvents(const std::string& log, std::size_t from, const std::string& event);

// Compares `expected_query` (run on the source) with `actual_query` (run on
// the peer), each one text column: EXCEPT ALL both ways, as gtest failures
// with examples. Returns the number of expected rows.
long long ExpectSameRows(pq::Connection& source, pq::Connection& peer, const std::string& expected_query,
                         const std::string& actual_query);

// A TCP port nobody listens on right now (bound and released).
int FreePort();

}  // namespace crosswalk::test
