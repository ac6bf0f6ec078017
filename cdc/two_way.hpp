// Two-way tables (docs/config.md "Two-way tables"): one daemon runs both
// directions. Each peer with a two-way table gets a derived reverse stream
// whose source is the peer (its own slot and publication there) and whose
// only peer is the source platform, with every two-way mapping inverted.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace crosswalk::cdc {

// The inverse of a two-way mapping: target table -> source table. A target
// column mapped from a plain source column or {"identity": COL} inverts by
// itself; a source column that another expression reads needs an explicit
// two_way.reverse entry. Throws Error F0000 naming the path and every
// source column that cannot be mapped back.
TableMapping InvertMapping(const TableMapping& forward);

// One reverse Config per peer that has two-way tables (empty when none).
// The result owns its PeerConfigs: keep it alive while streams use it.
std::vector<Config> DeriveReverseConfigs(const Config& config);

// True when the peer has at least one two-way table.
bool HasTwoWayTables(const PeerConfig& peer);

}  // namespace crosswalk::cdc
