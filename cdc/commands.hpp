// crosswalk-sync's commands (DESIGN.md "The daemon"), callable from main and
// from the tests: each takes a parsed config and writes its report to `out`.
#pragma once

#include <atomic>
#include <ostream>

#include "config.hpp"
#include "reload.hpp"

namespace crosswalk::cdc {

// run / snapshot: one thread per peer; returns the process exit status
// (0 when stopped by `stop` or every snapshot committed, 1 when a peer
// stopped on a fatal error).
// With `reload`, the main thread re-reads the config file whenever
// *reload->requested is set (SIGHUP) and passes what is reloadable on.
int RunPeers(const Config& config, bool snapshot_only, const std::atomic<bool>& stop,
             const ReloadRequest* reload = nullptr);
// check: validates connections, wal_level, publication, identity, target
// tables, key columns and every mapping (the peer plans each statement);
// prints the plan. Throws on the first problem.
void CheckConfig(const Config& config, std::ostream& out);
// status: per peer, one line of key=value pairs.
void PrintStatus(const Config& config, std::ostream& out);
// retry: re-applies each peer's dead letters; returns how many are left.
std::size_t RetryDeadLetters(const Config& config, std::ostream& out);

}  // namespace crosswalk::cdc
