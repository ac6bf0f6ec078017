// Translating user ids between platforms through the identity database
// (crosswalk.translate), batched (one query per batch of distinct ids) and
// cached for identity.cache_seconds; and linking accounts that provisioning
// created (crosswalk.link).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pq.hpp"

namespace crosswalk::cdc {

class IdentityTranslator {
 public:
  IdentityTranslator(const std::string& dsn, std::string from_platform, std::string to_platform, int cache_seconds);

  // Translates every id in `ids` (duplicates allowed) in one round trip for
  // those not cached; the result maps each to its peer id, or nullopt when
  // the person has no account on the peer platform (yet).
  std::unordered_map<std::string, std::optional<std::string>> TranslateBatch(const std::vector<std::string>& ids);

  // Links `peer_id` on the peer platform to the person behind `source_id`
  // (creating that person when the source account is not linked yet), and
  // caches the translation.
  void LinkProvisioned(const std::string& source_id, const std::string& peer_id);

  // Checks that the identity database has the extension and both platforms.
  void Check();

  std::size_t cache_size() const { return cache_.size(); }

 private:
  pq::Connection conn_;
  std::string from_, to_;
  std::chrono::seconds ttl_;
  struct Entry {
    std::string peer_id;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Entry> cache_;
};

}  // namespace crosswalk::cdc
