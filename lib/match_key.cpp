#include "match_key.hpp"

#include "canonical_id.hpp"
#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {

std::string NormalizeForMatch(std::string_view kind, std::string_view value) {
  std::string out;
  if (kind == "email") {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::size_t b = 0, e = value.size();
    while (b < e && is_space(value[b])) ++b;
    while (e > b && is_space(value[e - 1])) --e;
    out.assign(value.substr(b, e - b));
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  } else if (kind == "phone") {
    for (char c : value) {
      if (c >= '0' && c <= '9') out += c;
    }
  } else {
    throw Error(sqlstate::kInvalidParameterValue, "unknown match key kind " + QuoteForMessage(kind),
                "The kinds are 'email' and 'phone'.");
  }
  if (out.empty()) {
    throw Error(sqlstate::kInvalidParameterValue,
                "nothing to match: the " + std::string(kind) + " value is empty once normalised",
                kind == "phone" ? "A phone number needs at least one digit." : "");
  }
  return out;
}

void ComputeMatchKey(Hmac& match_hmac, std::string_view kind, std::string_view normalized, std::uint8_t* out) {
  static const std::uint8_t kSeparator = 0;
  match_hmac.Compute({ByteView(kind), ByteView(&kSeparator, 1), ByteView(normalized)}, out);
}

}  // namespace crosswalk
