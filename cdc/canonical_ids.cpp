#include "canonical_ids.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace crosswalk::cdc {

namespace {
constexpr std::size_t kMaxCacheEntries = 1'000'000;
}

CanonicalIdResolver::CanonicalIdResolver(const std::string& dsn, std::string platform, int cache_seconds)
    : conn_(dsn), platform_(std::move(platform)), ttl_(cache_seconds) {
  conn_.Exec("SET client_encoding = 'UTF8'");
}

std::unordered_map<std::string, std::optional<std::string>> CanonicalIdResolver::ResolveBatch(
    const std::vector<std::string>& ids) {
  std::unordered_map<std::string, std::optional<std::string>> out;
  auto now = std::chrono::steady_clock::now();
  std::set<std::string> missing;
  for (const auto& id : ids) {
    if (out.count(id)) continue;
    auto it = cache_.find(id);
    if (it != cache_.end() && now - it->second.at < ttl_) {
      out[id] = it->second.person;
    } else {
      missing.insert(id);
    }
  }
  if (missing.empty()) return out;
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& id : missing) arr.push_back(id);
  pq::Result r = conn_.ExecParams(
      "SELECT x, crosswalk.resolve($2, x)::text FROM pg_catalog.jsonb_array_elements_text($1::jsonb) AS x",
      {arr.dump(), platform_});
  if (cache_.size() + missing.size() > kMaxCacheEntries) cache_.clear();
  for (int i = 0; i < r.rows(); ++i) {
    std::optional<std::string> person = r.get(i, 1);
    out[r.value(i, 0)] = person;
    // Only hits are cached: a miss may be linked any moment now.
    if (person) cache_[r.value(i, 0)] = Entry{*person, now};
  }
  return out;
}

}  // namespace crosswalk::cdc
