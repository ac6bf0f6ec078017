// A platform's user ids resolved to canonical ids through the identity
// database (crosswalk.resolve), batched and cached like IdentityTranslator:
// what event peers add to a row for a column mapped {"identity": COL}.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pq.hpp"

namespace crosswalk::cdc {

class CanonicalIdResolver {
 public:
  CanonicalIdResolver(const std::string& dsn, std::string platform, int cache_seconds);

  // Resolves every id (duplicates allowed) in one round trip for those not
  // cached; nullopt when the account is not linked (yet).
  std::unordered_map<std::string, std::optional<std::string>> ResolveBatch(const std::vector<std::string>& ids);

 private:
  pq::Connection conn_;
  std::string platform_;
  std::chrono::seconds ttl_;
  struct Entry {
    std::string person;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Entry> cache_;
};

}  // namespace crosswalk::cdc
