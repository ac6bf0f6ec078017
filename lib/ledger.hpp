// The ledger's hash chain: each entry's hash is SHA-256 over the previous
// entry's hash and the entry's canonical encoding, an RFC 8785 JSON object, so
// that any platform recomputes the same chain from the same rows whatever its
// jsonb layout.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "canonical_id.hpp"

namespace crosswalk {

using Sha256Digest = std::array<std::uint8_t, 32>;

struct LedgerEntry {
  std::int64_t seq = 0;
  std::int64_t recorded_at_us = 0;  // microseconds since 1970-01-01 00:00:00 UTC
  std::string kind;
  CanonicalId person{};
  std::string platform;
  std::string payload_json;  // a JSON object, in any layout
};

// The canonical encoding hashed for an entry:
// {"kind":…,"payload":{…},"person":"uuid","platform":…,"recorded_at":"YYYY-MM-DDTHH:MM:SS.ffffffZ","seq":n}
std::string EncodeLedgerEntry(const LedgerEntry& entry);

// SHA-256(prev_hash || EncodeLedgerEntry(entry)).
Sha256Digest LedgerEntryHash(const Sha256Digest& prev_hash, const LedgerEntry& entry);

// "YYYY-MM-DDTHH:MM:SS.ffffffZ" for microseconds since the Unix epoch (UTC).
std::string FormatUtcMicros(std::int64_t unix_us);

}  // namespace crosswalk
