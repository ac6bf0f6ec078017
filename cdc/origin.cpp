#include "origin.hpp"

namespace crosswalk::cdc {

std::string OriginName(const std::string& platform) { return kOriginPrefix + platform; }

std::optional<std::string> OriginPlatform(const std::string& origin_name) {
  std::string prefix = kOriginPrefix;
  if (origin_name.size() <= prefix.size() || origin_name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return origin_name.substr(prefix.size());
}

OriginDecision DecideOrigin(const std::optional<std::string>& origin_name, const std::string& source_platform,
                            const std::string& peer_platform, bool forward_origins) {
  std::optional<std::string> platform = origin_name ? OriginPlatform(*origin_name) : std::nullopt;
  if (!platform || *platform == source_platform) return {false, source_platform};
  if (*platform == peer_platform) return {true, *platform};
  return {!forward_origins, *platform};
}

}  // namespace crosswalk::cdc
