// crosswalk-sync's metrics: one process-wide registry that every peer's
// thread and the monitor write to, rendered in the Prometheus text
// exposition format for /metrics and summarised for /healthz.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace crosswalk::cdc {

// What one peer's thread is doing, for /healthz and the peer_state gauge.
enum class PeerState { kStarting, kSnapshot, kStreaming, kReconnecting, kPaused, kStopped, kFailed };
const char* PeerStateName(PeerState state);

// The slot of one peer as the monitor last saw it on the source.
struct SlotSample {
  bool exists = false;
  bool active = false;
  double lag_bytes = 0;       // WAL written since confirmed_flush_lsn
  double retained_bytes = 0;  // WAL kept since restart_lsn
  double lag_seconds = 0;     // age of the oldest WAL the slot has not confirmed
};

class Metrics {
 public:
  // The process-wide registry.
  static Metrics& Get();

  // Rows committed on a peer, by source table and operation.
  void AddRows(const std::string& peer, const std::string& table, const std::string& operation, std::uint64_t rows);
  void AddTransactions(const std::string& peer, std::uint64_t transactions);
  // Source commit to peer commit, in seconds, one observation per source transaction.
  void ObserveApplyLatency(const std::string& peer, double seconds);
  void AddDeadLetters(const std::string& peer, std::uint64_t count);
  void AddReconnect(const std::string& peer);
  void AddError(const std::string& peer, const std::string& sqlstate);
  void SetPeerState(const std::string& peer, PeerState state);
  void SetSlot(const std::string& peer, const std::string& slot, const SlotSample& sample);
  // Dead letters waiting on the peer (crosswalk_sync.dead_letter rows).
  void SetDeadLettersPending(const std::string& peer, std::int64_t count);
  // Conflicts recorded for a two-way peer (crosswalk_sync.conflicts rows).
  void SetConflicts(const std::string& peer, std::int64_t count);
  void SetSourceUp(bool up);

  // The Prometheus text exposition of everything above.
  std::string Render() const;
  // True when the source answers and no peer has failed; `detail` is a JSON
  // object with each peer's state.
  bool Healthy(std::string& detail) const;
  // Forgets everything (between tests in one process).
  void Reset();

  static const std::vector<double>& LatencyBuckets();

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative at render time; here per bucket
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> rows_;
  std::map<std::string, std::uint64_t> transactions_, dead_letters_, reconnects_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> errors_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, PeerState> states_;
  std::map<std::string, std::pair<std::string, SlotSample>> slots_;
  std::map<std::string, std::int64_t> dead_letters_pending_, conflicts_;
  bool source_up_ = true;
};

}  // namespace crosswalk::cdc
