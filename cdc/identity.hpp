// Mapping user ids through the identity database, batched (one query per
// batch of distinct ids) and cached for identity.cache_seconds: translating
// them between platforms (crosswalk.translate) for database peers, resolving
// them to canonical ids (crosswalk.resolve) for event peers, and linking
// accounts that provisioning created (crosswalk.link).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pq.hpp"

namespace crosswalk::cdc {

// Ids looked up by `sql`, which gets the ids as a JSON array in $1 and
// `params` as $2, $3, ... and returns (id, value) rows. Hits are cached for
// `cache_seconds`; misses never are (an account may be linked any moment).
class CachedIdLookup {
 public:
  CachedIdLookup(const std::string& dsn, std::string sql, std::vector<std::string> params, int cache_seconds);

  // Every id in `ids` (duplicates allowed), in one round trip for those not
  // cached; nullopt for an id the query maps to NULL.
  std::unordered_map<std::string, std::optional<std::string>> Lookup(const std::vector<std::string>& ids);
  // Caches a value learnt otherwise (e.g. by linking).
  void Remember(const std::string& id, const std::string& value);

  pq::Connection& connection() { return conn_; }

 private:
  pq::Connection conn_;
  std::string sql_;
  std::vector<std::string> params_;
  std::chrono::seconds ttl_;
  struct Entry {
    std::string value;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Entry> cache_;
};

class IdentityTranslator {
 public:
  IdentityTranslator(const std::string& dsn, std::string from_platform, std::string to_platform, int cache_seconds);

  // Translates every id in `ids` (duplicates allowed) in one round trip for
  // those not cached; the result maps each to its peer id, or nullopt when
  // the person has no account on the peer platform (yet).
  std::unordered_map<std::string, std::optional<std::string>> TranslateBatch(const std::vector<std::string>& ids) {
    return lookup_.Lookup(ids);
  }

  // Links `peer_id` on the peer platform to the person behind `source_id`
  // (creating that person when the source account is not linked yet), and
  // caches the translation.
  void LinkProvisioned(const std::string& source_id, const std::string& peer_id);

  // Checks that the identity database has the extension and both platforms.
  void Check();

 private:
  std::string from_, to_;
  CachedIdLookup lookup_;
};

// A platform's user ids resolved to canonical ids: what event peers add to a
// row for a column mapped {"identity": COL}.
class CanonicalIdResolver {
 public:
  CanonicalIdResolver(const std::string& dsn, const std::string& platform, int cache_seconds);

  // Resolves every id (duplicates allowed) in one round trip for those not
  // cached; nullopt when the account is not linked (yet).
  std::unordered_map<std::string, std::optional<std::string>> ResolveBatch(const std::vector<std::string>& ids) {
    return lookup_.Lookup(ids);
  }

 private:
  CachedIdLookup lookup_;
};

}  // namespace crosswalk::cdc
