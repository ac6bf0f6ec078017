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

// The encoding in two parts, for callers that have the payload's canonical
// form already (the extension canonicalizes jsonb directly) or learn the seq
// last (record() prepares everything before it takes the chain lock).
// AppendLedgerEntryHead writes everything up to the seq's value:
// {"kind":…,"payload":…,…,"seq":
void AppendLedgerEntryHead(std::string_view kind, std::string_view canonical_payload, const CanonicalId& person,
                           std::string_view platform, std::int64_t recorded_at_us, std::string& out);
// Completes the encoding: the seq and the closing brace. Throws unless seq is
// in 1..2^53 (exact as a JSON number).
void AppendLedgerEntryTail(std::int64_t seq, std::string& out);

// SHA-256(prev_hash || encoded) with one digest context kept across calls,
// for the per-row loops (appending, verifying).
class LedgerHasher {
 public:
  LedgerHasher();
  ~LedgerHasher();
  LedgerHasher(const LedgerHasher&) = delete;
  LedgerHasher& operator=(const LedgerHasher&) = delete;
  Sha256Digest Hash(const Sha256Digest& prev_hash, std::string_view encoded);

 private:
  void* ctx_;  // EVP_MD_CTX, kept opaque so this header needs no OpenSSL
};

// "YYYY-MM-DDTHH:MM:SS.ffffffZ" for microseconds since the Unix epoch (UTC).
std::string FormatUtcMicros(std::int64_t unix_us);

}  // namespace crosswalk
