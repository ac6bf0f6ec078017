// One peer's whole life: prepare the peer, create the slot and migrate when
// the peer has never been applied, then stream the slot into the peer until
// asked to stop. Connection failures reconnect with exponential backoff and
// jitter; protocol errors and a lost slot stop this peer only.
#pragma once

#include <atomic>

#include "config.hpp"
#include "peer_sink.hpp"

namespace crosswalk::cdc {

// Creates the publication when missing and source.create_publication says
// so; otherwise checks that it exists and publishes every mapped table.
void EnsurePublication(const Config& config, bool may_create);

class PeerStream {
 public:
  PeerStream(const Config& config, const PeerConfig& peer, const std::atomic<bool>& stop);

  // Runs until `stop` (returns normally) or a fatal error for this peer
  // (throws). With snapshot_only, returns once the migration is committed.
  void Run(bool snapshot_only);

 private:
  void RunOnce(bool snapshot_only);
  void Stream(Lsn start);
  bool SleepUnlessStopped(int milliseconds) const;
  // Throws 55000 when the slot confirmed past the peer's stored position.
  void CheckSlotNotAhead(const std::optional<std::string>& confirmed, Lsn stored) const;

  const Config& config_;
  const PeerConfig& peer_;
  const std::atomic<bool>& stop_;
  PeerSink applier_;       // the database applier or an event sink
  bool streamed_ = false;  // the current connection reached streaming
};

}  // namespace crosswalk::cdc
