// Strict JSON for JOSE: the header, the claims and a JWK Set. RFC 7515
// section 4 requires rejecting a header with duplicate member names (two
// parsers must not read two different headers out of one token), and a
// token is attacker input, so nesting depth is bounded before the parser
// builds anything deep.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace crosswalk {

// Nesting depth allowed in a token's header or claims (objects and arrays).
inline constexpr int kMaxJoseJsonDepth = 16;

// Why a text is not acceptable JSON, as a predicate ("is not valid JSON",
// "has a duplicate member \"alg\"") for the caller to put after its subject;
// it never quotes the text beyond a bounded member name.
class JoseJsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses text as one JSON value: UTF-8, no comments, nothing after it, no
// object with two members of the same name, nesting at most max_depth.
// Throws JoseJsonError.
nlohmann::json ParseStrictJson(std::string_view text, int max_depth = kMaxJoseJsonDepth);

// Quotes untrusted text (a kid, a member name) for a message: at most
// max_bytes, everything outside printable ASCII escaped as \xNN, so a message
// stays valid UTF-8 and one line whatever the input.
std::string QuoteUntrusted(std::string_view text, std::size_t max_bytes = 32);

}  // namespace crosswalk
