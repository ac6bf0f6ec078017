#include "identity.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace crosswalk::cdc {

namespace {
constexpr std::size_t kMaxCacheEntries = 1'000'000;
}

IdentityTranslator::IdentityTranslator(const std::string& dsn, std::string from_platform, std::string to_platform,
                                       int cache_seconds)
    : conn_(dsn), from_(std::move(from_platform)), to_(std::move(to_platform)), ttl_(cache_seconds) {
  conn_.Exec("SET client_encoding = 'UTF8'");
}

std::unordered_map<std::string, std::optional<std::string>> IdentityTranslator::TranslateBatch(
    const std::vector<std::string>& ids) {
  std::unordered_map<std::string, std::optional<std::string>> out;
  auto now = std::chrono::steady_clock::now();
  std::set<std::string> missing;
  for (const auto& id : ids) {
    if (out.count(id)) continue;
    auto it = cache_.find(id);
    if (it != cache_.end() && now - it->second.at < ttl_) {
      out[id] = it->second.peer_id;
    } else {
      missing.insert(id);
    }
  }
  if (missing.empty()) return out;
  // The ids go as one JSON array parameter: no quoting, any characters.
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& id : missing) arr.push_back(id);
  pq::Result r = conn_.ExecParams(
      "SELECT x, crosswalk.translate(x, $2, $3) FROM pg_catalog.jsonb_array_elements_text($1::jsonb) AS x",
      {arr.dump(), from_, to_});
  if (cache_.size() + missing.size() > kMaxCacheEntries) cache_.clear();
  for (int i = 0; i < r.rows(); ++i) {
    std::string id = r.value(i, 0);
    std::optional<std::string> peer = r.get(i, 1);
    out[id] = peer;
    // Only hits are cached: a miss may be linked any moment now.
    if (peer) cache_[id] = Entry{*peer, now};
  }
  return out;
}

void IdentityTranslator::LinkProvisioned(const std::string& source_id, const std::string& peer_id) {
  conn_.ExecParams("SELECT crosswalk.link($3, $4, crosswalk.link($1, $2))", {from_, source_id, to_, peer_id});
  cache_[source_id] = Entry{peer_id, std::chrono::steady_clock::now()};
}

void IdentityTranslator::Check() { conn_.ExecParams("SELECT crosswalk.translate('', $1, $2)", {from_, to_}); }

}  // namespace crosswalk::cdc
