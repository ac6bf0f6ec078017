// The reference for lib's JSON tape parser (ParseStrictJsonTape): the same
// tokens produced by nlohmann::json's SAX parser in strict mode, with the
// same depth and duplicate-member rules, for differential tests (the unit
// test JsonTape.AgreesWithNlohmann and tests/fuzz/jose_json_fuzz.cpp).
// Header-only, so that the fuzz build (which has no test support library)
// can use it too.
#pragma once

#include <nlohmann/json.hpp>

#include <charconv>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "jose_json.hpp"

namespace crosswalk::test {

struct RefToken {
  JsonToken::Kind kind;
  std::string text;  // names, strings, numbers (integers in canonical decimal)
  double number = 0;
  std::size_t end = 0;  // containers: index of the matching end token
  bool integer = false;
};

// The outcome of parsing: "accepted" with tokens, or the error message.
struct RefResult {
  std::string error = "accepted";
  std::vector<RefToken> tokens;
};

class RefTapeBuilder {
 public:
  using Json = nlohmann::json;
  explicit RefTapeBuilder(int max_depth) : max_depth_(max_depth) {}
  std::vector<RefToken> tokens;

  bool null() { return Push(JsonToken::Kind::kNull); }
  bool boolean(bool b) { return Push(b ? JsonToken::Kind::kTrue : JsonToken::Kind::kFalse); }
  bool number_integer(Json::number_integer_t v) { return Integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Integer(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& text) {
    tokens.push_back(RefToken{JsonToken::Kind::kNumber, text, v});
    return true;
  }
  bool string(Json::string_t& s) {
    tokens.push_back(RefToken{JsonToken::Kind::kString, s});
    return true;
  }
  bool binary(Json::binary_t&) { throw JoseJsonError("is not valid JSON"); }
  bool start_object(std::size_t) { return Open(JsonToken::Kind::kBeginObject); }
  bool end_object() { return Close(JsonToken::Kind::kEndObject); }
  bool start_array(std::size_t) { return Open(JsonToken::Kind::kBeginArray); }
  bool end_array() { return Close(JsonToken::Kind::kEndArray); }
  bool key(Json::string_t& name) {
    if (!names_.back().insert(name).second) throw JoseJsonError("has a duplicate member " + QuoteUntrusted(name));
    tokens.push_back(RefToken{JsonToken::Kind::kKey, name});
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    if (e.id == 406) throw JoseJsonError("has a number out of range");
    throw JoseJsonError("is not valid JSON");
  }

 private:
  bool Push(JsonToken::Kind kind) {
    tokens.push_back(RefToken{kind, ""});
    return true;
  }
  template <typename Int>
  bool Integer(Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    tokens.push_back(RefToken{JsonToken::Kind::kNumber, std::string(buf, r.ptr), static_cast<double>(v), 0, true});
    return true;
  }
  bool Open(JsonToken::Kind kind) {
    if (static_cast<int>(open_.size()) >= max_depth_) {
      throw JoseJsonError("is nested deeper than " + std::to_string(max_depth_) + " levels");
    }
    Push(kind);
    open_.push_back(tokens.size() - 1);
    names_.emplace_back();
    return true;
  }
  bool Close(JsonToken::Kind kind) {
    tokens[open_.back()].end = tokens.size();
    open_.pop_back();
    names_.pop_back();
    return Push(kind);
  }
  int max_depth_;
  std::vector<std::size_t> open_;
  std::vector<std::set<std::string>> names_;
};

inline RefResult ReferenceTape(std::string_view text, int max_depth = kMaxJoseJsonDepth) {
  RefResult out;
  RefTapeBuilder builder(max_depth);
  try {
    nlohmann::json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                              /*strict=*/true, /*ignore_comments=*/false);
    out.tokens = std::move(builder.tokens);
  } catch (const JoseJsonError& e) {
    out.error = e.what();
  } catch (const nlohmann::json::exception&) {
    out.error = "is not valid JSON";
  }
  return out;
}

// "" when lib's tape parser and the reference agree on text, else what differs.
// Two differences are intended, where nlohmann is lax and the tape parser
// refuses: a leading UTF-8 byte order mark (nlohmann skips it), and a NUL
// byte (nlohmann takes it for the end of the input and ignores what follows,
// so "{}\0anything" would pass).
inline std::string CompareWithReference(std::string_view text, int max_depth = kMaxJoseJsonDepth) {
  RefResult ref = ReferenceTape(text, max_depth);
  JsonTape tape;
  std::string error = "accepted";
  try {
    ParseStrictJsonTape(text, tape, max_depth);
  } catch (const JoseJsonError& e) {
    error = e.what();
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF" || text.find('\0') != std::string_view::npos) {
    return error != "accepted" ? "" : "a byte order mark or a NUL byte was not refused";
  }
  if (error != ref.error) return "tape: " + error + ", reference: " + ref.error;
  if (error != "accepted") return "";
  if (tape.tokens().size() != ref.tokens.size()) return "token counts differ";
  for (std::size_t i = 0; i < ref.tokens.size(); ++i) {
    const JsonToken& t = tape.tokens()[i];
    const RefToken& r = ref.tokens[i];
    const std::string at = " at token " + std::to_string(i);
    if (t.kind != r.kind) return "kinds differ" + at;
    if (t.kind == JsonToken::Kind::kBeginObject || t.kind == JsonToken::Kind::kBeginArray) {
      if (t.end != r.end) return "container ends differ" + at;
    }
    if (t.kind == JsonToken::Kind::kNumber) {
      // Same value; the same text, except that integers are as written in
      // the tape ("-0") and canonical in the reference ("0").
      if (!(t.number == r.number)) return "number values differ" + at;
      if (tape.TextOf(t) != r.text && !(r.integer && r.text == "0" && tape.TextOf(t) == "-0")) {
        return "number texts differ" + at;
      }
    } else if (tape.TextOf(t) != r.text) {
      return "texts differ" + at;
    }
  }
  return "";
}

}  // namespace crosswalk::test
