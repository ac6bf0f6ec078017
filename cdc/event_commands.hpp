// `check` and `status` for event peers (kafka, file): what cdc/commands.cpp
// prints for them instead of a database peer's plan and progress.
#pragma once

#include <map>
#include <memory>
#include <ostream>

#include "config.hpp"
#include "pgoutput.hpp"
#include "pq.hpp"

namespace crosswalk::cdc {

// Checks an event peer's tables against the source, the identity database
// when a column is mapped {"identity": ...}, and the Kafka cluster (or the
// file); prints its plan. Throws naming the config path. With
// tolerate_unreachable (`run`), a Kafka cluster that does not answer is
// logged and skipped: the peer's thread retries.
void CheckEventPeer(const Config& config, const PeerConfig& peer,
                    const std::map<QualifiedName, std::shared_ptr<const Relation>>& relations, std::ostream& out,
                    bool tolerate_unreachable);

// The snapshot state kept on the source for an event peer, after the slot's.
void PrintEventPeerStatus(pq::Connection& source, const PeerConfig& peer, std::ostream& out);

}  // namespace crosswalk::cdc
