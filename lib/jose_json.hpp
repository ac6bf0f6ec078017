// Strict JSON for JOSE: the header, the claims and a JWK Set. RFC 7515
// section 4 requires rejecting a header with duplicate member names (two
// parsers must not read two different headers out of one token), and a
// token is attacker input, so nesting depth is bounded before the parser
// builds anything deep.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

// A JSON text parsed as strictly as by ParseStrictJson, into a flat
// sequence of tokens rather than a tree: no allocation per member, and
// enough for a caller to rebuild the value in another representation (the
// extension builds the jsonb result of verify_jwt from it) without parsing
// the text again. Strings are unescaped UTF-8; a number keeps its JSON text
// (integers in canonical decimal) and its value as a double.
struct JsonToken {
  enum class Kind : std::uint8_t {
    kBeginObject,
    kEndObject,
    kBeginArray,
    kEndArray,
    kKey,
    kString,
    kNumber,
    kTrue,
    kFalse,
    kNull
  };
  Kind kind = Kind::kNull;
  std::uint32_t end = 0;     // kBeginObject/kBeginArray: index of the matching end token
  std::uint32_t offset = 0;  // kKey, kString, kNumber: where its text is in JsonTape::text()
  std::uint32_t length = 0;
  double number = 0;  // kNumber
};

class JsonTape {
 public:
  const std::vector<JsonToken>& tokens() const { return tokens_; }
  const std::string& text() const { return text_; }
  // The text of a kKey, kString or kNumber token.
  std::string_view TextOf(const JsonToken& t) const { return std::string_view(text_).substr(t.offset, t.length); }
  std::string_view TextOf(std::size_t i) const { return TextOf(tokens_[i]); }
  // The index of the token after the value that starts at index i.
  std::size_t After(std::size_t i) const {
    const JsonToken& t = tokens_[i];
    return (t.kind == JsonToken::Kind::kBeginObject || t.kind == JsonToken::Kind::kBeginArray) ? t.end + 1 : i + 1;
  }
  // Calls f(name, value_index) for each member of the object whose
  // kBeginObject token is at index object.
  template <typename F>
  void ForEachMember(std::size_t object, F&& f) const {
    for (std::size_t i = object + 1; tokens_[i].kind == JsonToken::Kind::kKey; i = After(i + 1)) f(TextOf(i), i + 1);
  }

 private:
  friend class JsonTapeBuilder;
  std::vector<JsonToken> tokens_;
  std::string text_;
};

// Parses text into tape, with the rules of ParseStrictJson. Throws JoseJsonError.
void ParseStrictJsonTape(std::string_view text, JsonTape& tape, int max_depth = kMaxJoseJsonDepth);

// Quotes untrusted text (a kid, a member name) for a message: at most
// max_bytes, everything outside printable ASCII escaped as \xNN, so a message
// stays valid UTF-8 and one line whatever the input.
std::string QuoteUntrusted(std::string_view text, std::size_t max_bytes = 32);

}  // namespace crosswalk
