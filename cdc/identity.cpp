#include "identity.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace crosswalk::cdc {

namespace {
constexpr std::size_t kMaxCacheEntries = 1'000'000;
}

CachedIdLookup::CachedIdLookup(const std::string& dsn, std::string sql, std::vector<std::string> params,
                               int cache_seconds)
    : conn_(dsn), sql_(std::move(sql)), params_(std::move(params)), ttl_(cache_seconds) {
  conn_.Exec("SET client_encoding = 'UTF8'");
}

std::unordered_map<std::string, std::optional<std::string>> CachedIdLookup::Lookup(
    const std::vector<std::string>& ids) {
  std::unordered_map<std::string, std::optional<std::string>> out;
  auto now = std::chrono::steady_clock::now();
  std::set<std::string> missing;
  for (const auto& id : ids) {
    if (out.count(id)) continue;
    auto it = cache_.find(id);
    if (it != cache_.end() && now - it->second.at < ttl_) {
      out[id] = it->second.value;
    } else {
      missing.insert(id);
    }
  }
  if (missing.empty()) return out;
  // The ids go as one JSON array parameter: no quoting, any characters.
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& id : missing) arr.push_back(id);
  std::vector<std::optional<std::string>> params{arr.dump()};
  params.insert(params.end(), params_.begin(), params_.end());
  pq::Result r = conn_.ExecParams(sql_, params);
  if (cache_.size() + missing.size() > kMaxCacheEntries) cache_.clear();
  for (int i = 0; i < r.rows(); ++i) {
    std::string id = r.value(i, 0);
    std::optional<std::string> value = r.get(i, 1);
    out[id] = value;
    if (value) cache_[id] = Entry{*value, now};
  }
  return out;
}

void CachedIdLookup::Remember(const std::string& id, const std::string& value) {
  cache_[id] = Entry{value, std::chrono::steady_clock::now()};
}

IdentityTranslator::IdentityTranslator(const std::string& dsn, std::string from_platform, std::string to_platform,
                                       int cache_seconds)
    : from_(std::move(from_platform)),
      to_(std::move(to_platform)),
      lookup_(dsn, "SELECT x, crosswalk.translate(x, $2, $3) FROM pg_catalog.jsonb_array_elements_text($1::jsonb) AS x",
              {from_, to_}, cache_seconds) {}

void IdentityTranslator::LinkProvisioned(const std::string& source_id, const std::string& peer_id) {
  lookup_.connection().ExecParams("SELECT crosswalk.link($3, $4, crosswalk.link($1, $2))",
                                  {from_, source_id, to_, peer_id});
  lookup_.Remember(source_id, peer_id);
}

void IdentityTranslator::Check() {
  lookup_.connection().ExecParams("SELECT crosswalk.translate('', $1, $2)", {from_, to_});
}

CanonicalIdResolver::CanonicalIdResolver(const std::string& dsn, const std::string& platform, int cache_seconds)
    : lookup_(dsn, "SELECT x, crosswalk.resolve($2, x)::text FROM pg_catalog.jsonb_array_elements_text($1::jsonb) AS x",
              {platform}, cache_seconds) {}

}  // namespace crosswalk::cdc
