#include "jose_json.hpp"

#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <unordered_set>
#include <vector>

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

// The SAX handler behind ParseStrictJsonTape: appends tokens, checks the
// depth, and rejects a member name already seen in the same object (a
// linear scan of the object's names; a hash set once an object has many,
// so a hostile object of thousands of members stays linear).
class JsonTapeBuilder {
 public:
  using Json = nlohmann::json;

  JsonTapeBuilder(JsonTape& tape, std::size_t text_size, int max_depth) : tape_(tape), max_depth_(max_depth) {
    tape_.tokens_.clear();
    tape_.text_.clear();
    tape_.tokens_.reserve(16 + text_size / 8);
    tape_.text_.reserve(text_size);
    open_.reserve(static_cast<std::size_t>(max_depth));
  }

  bool null() { return Push(JsonToken::Kind::kNull); }
  bool boolean(bool b) { return Push(b ? JsonToken::Kind::kTrue : JsonToken::Kind::kFalse); }
  bool number_integer(Json::number_integer_t v) { return Integer(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Integer(v); }
  bool number_float(Json::number_float_t v, const Json::string_t& text) {
    PushText(JsonToken::Kind::kNumber, text).number = v;
    return true;
  }
  bool string(Json::string_t& s) {
    PushText(JsonToken::Kind::kString, s);
    return true;
  }
  bool binary(Json::binary_t&) { throw JoseJsonError("is not valid JSON"); }
  bool start_object(std::size_t) { return Open(JsonToken::Kind::kBeginObject); }
  bool end_object() { return Close(JsonToken::Kind::kEndObject); }
  bool start_array(std::size_t) { return Open(JsonToken::Kind::kBeginArray); }
  bool end_array() { return Close(JsonToken::Kind::kEndArray); }
  bool key(Json::string_t& name) {
    Frame& frame = open_.back();
    const JsonToken& added = PushText(JsonToken::Kind::kKey, name);
    const std::string_view view = tape_.TextOf(added);
    if (frame.many) {
      if (!frame.many->insert(std::string(view)).second) Duplicate(view);
    } else {
      for (std::size_t k = frame.keys_begin; k < keys_.size(); ++k) {
        if (tape_.TextOf(keys_[k]) == view) Duplicate(view);
      }
      keys_.push_back(tape_.tokens_.size() - 1);
      if (keys_.size() - frame.keys_begin > kLinearKeys) {
        frame.many = std::make_unique<std::unordered_set<std::string>>();
        for (std::size_t k = frame.keys_begin; k < keys_.size(); ++k)
          frame.many->insert(std::string(tape_.TextOf(keys_[k])));
      }
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    // nlohmann's message quotes the input around the error: keep only the
    // kind of error, never the token's bytes. 406: a number out of range.
    if (e.id == 406) throw JoseJsonError("has a number out of range");
    throw JoseJsonError("is not valid JSON");
  }

 private:
  static constexpr std::size_t kLinearKeys = 16;
  struct Frame {
    std::size_t begin;                                      // index of the begin token
    std::size_t keys_begin;                                 // where this object's names start in keys_
    std::unique_ptr<std::unordered_set<std::string>> many;  // the names, once there are many
  };

  bool Push(JsonToken::Kind kind) {
    tape_.tokens_.emplace_back();
    tape_.tokens_.back().kind = kind;
    return true;
  }
  JsonToken& PushText(JsonToken::Kind kind, std::string_view text) {
    if (tape_.text_.size() + text.size() > UINT32_MAX) throw JoseJsonError("is too long");
    JsonToken& t = tape_.tokens_.emplace_back();
    t.kind = kind;
    t.offset = static_cast<std::uint32_t>(tape_.text_.size());
    t.length = static_cast<std::uint32_t>(text.size());
    tape_.text_.append(text);
    return t;
  }
  template <typename Int>
  bool Integer(Int v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) throw JoseJsonError("has a number out of range");
    PushText(JsonToken::Kind::kNumber, std::string_view(buf, static_cast<std::size_t>(end - buf))).number =
        static_cast<double>(v);
    return true;
  }
  bool Open(JsonToken::Kind kind) {
    if (static_cast<int>(open_.size()) >= max_depth_) {
      throw JoseJsonError("is nested deeper than " + std::to_string(max_depth_) + " levels");
    }
    Push(kind);
    open_.push_back(Frame{tape_.tokens_.size() - 1, keys_.size(), nullptr});
    return true;
  }
  bool Close(JsonToken::Kind kind) {
    tape_.tokens_[open_.back().begin].end = static_cast<std::uint32_t>(tape_.tokens_.size());
    keys_.resize(open_.back().keys_begin);
    open_.pop_back();
    return Push(kind);
  }
  [[noreturn]] void Duplicate(std::string_view name) {
    throw JoseJsonError("has a duplicate member " + QuoteUntrusted(name));
  }

  JsonTape& tape_;
  int max_depth_;
  std::vector<Frame> open_;
  std::vector<std::size_t> keys_;  // token indexes of the names of the open objects, innermost last
};

void ParseStrictJsonTape(std::string_view text, JsonTape& tape, int max_depth) {
  JsonTapeBuilder builder(tape, text.size(), max_depth);
  try {
    nlohmann::json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                              /*strict=*/true, /*ignore_comments=*/false);
  } catch (const JoseJsonError&) {
    throw;
  } catch (const nlohmann::json::exception&) {
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
