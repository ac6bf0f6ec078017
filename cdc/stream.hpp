// One peer's whole life: prepare the peer, create the slot and migrate when
// the peer has never been applied, then stream the slot into the peer until
// asked to stop. Connection failures reconnect with exponential backoff and
// jitter; protocol errors and a lost slot stop this peer only.
#pragma once

#include <atomic>

#include "config.hpp"
#include "peer_sink.hpp"
#include "drift.hpp"
#include "reload.hpp"

namespace crosswalk::cdc {

// Creates the publication when missing and source.create_publication says
// so; otherwise checks that it exists and publishes every mapped table.
void EnsurePublication(const Config& config, bool may_create);

class PeerStream {
 public:
  // With `reloads`, takes the configs the main thread publishes on SIGHUP
  // (between peer transactions, once the peer accepted the new mapping).
  PeerStream(const Config& config, const PeerConfig& peer, const std::atomic<bool>& stop,
             const ReloadChannel* reloads = nullptr);

  // Runs until `stop` (returns normally) or a fatal error for this peer
  // (throws). With snapshot_only, returns once the migration is committed.
  void Run(bool snapshot_only);

 private:
  void RunOnce(bool snapshot_only);
  void Stream(Lsn start);
  bool SleepUnlessStopped(int milliseconds) const;
  // Throws 55000 when the slot confirmed past the peer's stored position.
  void CheckSlotNotAhead(const std::optional<std::string>& confirmed, Lsn stored) const;

  // A reload newer than the one this peer last took is waiting.
  bool ReloadPending() const { return reloads_ && reloads_->generation() != reload_seen_; }
  // Checks the latest published config against this peer (it plans every
  // mapping, also over a layout that paused the stream); true when it is
  // accepted: next_ holds it until RunOnce has ended.
  bool TakeReload();
  // Acknowledges the source catalog's layout of each mapped table.
  void AcknowledgeSourceLayouts(pq::Connection& source);

  // This peer's own copies: a reload replaces them between connections.
  Config config_;
  PeerConfig peer_;
  const std::atomic<bool>& stop_;
  PeerSink applier_;       // the database applier or an event sink
  bool streamed_ = false;  // the current connection reached streaming
  const ReloadChannel* reloads_;
  std::uint64_t reload_seen_ = 0;
  std::optional<std::pair<Config, PeerConfig>> next_;  // an accepted reload to switch to
  SchemaDriftGuard drift_;
  bool layouts_acknowledged_ = false;
};

}  // namespace crosswalk::cdc
