#include "jose_json.hpp"

#include <set>
#include <vector>

#include <cstdio>
#include "pure_cpp.hpp"

namespace crosswalk {

nlohmann::json ParseStrictJson(std::string_view text, int max_depth) {
  using Json = nlohmann::json;
  // One set of member names per open container (empty for arrays).
  std::vector<std::set<std::string>> open;
  auto check = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) -> bool {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (static_cast<int>(open.size()) >= max_depth) {
          throw JoseJsonError("is nested deeper than " + std::to_string(max_depth) + " levels");
        }
        open.emplace_back();
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second) {
          throw JoseJsonError("has a duplicate member " + QuoteUntrusted(parsed.get<std::string>()));
        }
        break;
      case Json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::out_of_range&) {
    throw JoseJsonError("has a number out of range");
  } catch (const Json::exception&) {
    // nlohmann's message quotes the input around the error: keep only the
    // kind of error, never the token's bytes.
    throw JoseJsonError("is not valid JSON");
  }
}

std::string QuoteUntrusted(std::string_view text, std::size_t max_bytes) {
  std::string out = "\"";
  std::size_t n = text.size() < max_bytes ? text.size() : max_bytes;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c > 0x7e) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (text.size() > n) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace crosswalk
