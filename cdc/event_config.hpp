// The config of event peers: `"kafka": {...}` or `"file": PATH` instead of a
// dsn (docs/config.md "Event peers"). Parsed as strictly as database peers:
// an unknown key, a key that has no meaning for events (dsn, target, where)
// or a librdkafka property librdkafka refuses is an Error F0000 naming its
// JSON path.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config.hpp"

namespace crosswalk::cdc {

// Parses one peer object that has a "kafka" or a "file" key.
PeerConfig ParseEventPeer(const nlohmann::json& j, const std::string& path);

// True for peers whose changes become events (kafka, file).
inline bool IsEventPeer(const PeerConfig& peer) { return peer.kind != PeerKind::kDatabase; }

}  // namespace crosswalk::cdc
