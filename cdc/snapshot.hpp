// The one-shot migration: every mapped table copied from the snapshot a new
// slot exported, through the same mapping as the stream, into the peer in
// one transaction that records the slot's consistent point. Streaming then
// starts exactly there: no gap, no overlap.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "apply.hpp"
#include "pgoutput.hpp"
#include "pq.hpp"

namespace crosswalk::cdc {

// A source table described the way pgoutput would describe it (columns in
// order, generated ones left out, replica identity columns flagged).
std::shared_ptr<const Relation> LoadSourceRelation(pq::Connection& source, const QualifiedName& table,
                                                   const std::string& what);

// Copies each table `applier` maps from `snapshot_name` (exported by the
// slot's creation) and commits on the peer with `consistent_point` as the
// applied position. Returns the rows read from the source.
std::uint64_t SnapshotPeer(const std::string& source_dsn, const std::string& snapshot_name, Lsn consistent_point,
                           PeerApplier& applier);

}  // namespace crosswalk::cdc
