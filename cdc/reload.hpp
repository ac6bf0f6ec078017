// Reloading crosswalk-sync's config on SIGHUP. The main thread re-reads the
// file and compares it with the running config: a change that is safe
// without a re-snapshot or a new slot (column expressions, `where`
// filters, provision_sql, apply.*, identity.cache_seconds) is published to
// the peer threads, which each take it between peer transactions after
// their peer has planned the new mapping; any other change (a peer, table,
// key, target, slot or connection added, removed or changed), or a file
// that does not parse, refuses the whole reload, one log line per
// difference naming its JSON path, and the running config stays.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"

namespace crosswalk::cdc {

// One difference between the running config and the file.
struct ConfigDifference {
  std::string path;  // JSON path in the new file (in the old one when removed)
  std::string what;  // what changed, and why it needs a restart when it does
  bool reloadable = false;
};

// Every difference between `running` and `next`, in config order.
std::vector<ConfigDifference> CompareConfigs(const Config& running, const Config& next);

// The configs the main thread accepted, for the peer threads to take.
class ReloadChannel {
 public:
  void Publish(const Config& config);
  // 0 until the first reload.
  std::uint64_t generation() const { return generation_; }
  std::pair<std::uint64_t, std::shared_ptr<const Config>> Latest() const;

 private:
  mutable std::mutex mutex_;
  std::atomic<std::uint64_t> generation_{0};
  std::shared_ptr<const Config> latest_;
};

// What `run` needs to reload: the flag SIGHUP sets and the file to read.
struct ReloadRequest {
  std::atomic<bool>* requested = nullptr;
  std::string config_path;
};

// Reads `path`; when it parses and differs from `running` only in what is
// reloadable, publishes it on `channel`, makes it `running` and returns
// true. Otherwise logs why (reload_refused per difference) and returns
// false. An unchanged file is published too: a peer paused by schema drift
// then checks its mapping against the source again.
bool ReloadConfig(const std::string& path, Config& running, ReloadChannel& channel);

}  // namespace crosswalk::cdc
