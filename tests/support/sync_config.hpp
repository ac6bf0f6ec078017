// The daemon's config for the integration tests: the source database
// `learnhub` and one or more peer databases, each peer named and given a
// platform after its database. Only what differs between tests is spelled out
// in them: the peers' tables, and any top-level section.
#pragma once

#include <string>
#include <vector>

#include "cluster.hpp"

namespace crosswalk::test {

struct TestPeer {
  const Cluster& cluster;
  std::string db;      // also the peer's name and platform
  std::string tables;  // the peer's "tables" JSON array
};

// The config's JSON: source `learnhub` on `source` (platform learnhub,
// publication "crosswalk", created when missing) and `peers`; `extra` holds
// further top-level members (e.g. R"("metrics": {...})"), without a comma.
std::string SyncConfig(const Cluster& source, const std::vector<TestPeer>& peers, const std::string& extra = "");

// SyncConfig written to `path`; returns the path.
std::string WriteSyncConfig(const std::string& path, const Cluster& source, const std::vector<TestPeer>& peers,
                            const std::string& extra = "");

}  // namespace crosswalk::test
