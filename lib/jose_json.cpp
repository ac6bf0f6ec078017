#include "jose_json.hpp"

#include <locale.h>

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// The parser behind ParseStrictJsonTape: RFC 8259 JSON, exactly what
// nlohmann::json accepts in strict mode (tests/fuzz/jose_json_fuzz.cpp
// checks the two against each other), written out because this runs for
// every token verified: nlohmann's lexer builds its token character by
// character with heap growth, which cost a third of an HS256 verification.
// One pass, no recursion (an explicit stack bounded by max_depth), no
// allocation beyond the tape's own buffers.
class JsonTapeBuilder {
 public:
  JsonTapeBuilder(std::string_view text, JsonTape& tape, int max_depth)
      : p_(text.data()), end_(text.data() + text.size()), tape_(tape), max_depth_(max_depth) {
    tape_.tokens_.clear();
    tape_.text_.clear();
    tape_.tokens_.reserve(16 + text.size() / 8);
    tape_.text_.reserve(text.size());
  }

  void Parse() {
    SkipSpace();
    Value();
    for (;;) {
      if (open_.empty()) break;
      Frame& frame = open_.back();
      SkipSpace();
      if (p_ == end_) Invalid();
      const bool object = tape_.tokens_[frame.begin].kind == JsonToken::Kind::kBeginObject;
      if (*p_ == (object ? '}' : ']')) {
        ++p_;
        Close(object ? JsonToken::Kind::kEndObject : JsonToken::Kind::kEndArray);
        continue;
      }
      if (*p_ != ',') Invalid();
      ++p_;
      SkipSpace();
      if (object) Member();
      Value();
    }
    SkipSpace();
    if (p_ != end_) Invalid();
  }

 private:
  static constexpr std::size_t kLinearKeys = 16;
  struct Frame {
    std::size_t begin;                                      // index of the begin token
    std::size_t keys_begin;                                 // where this object's names start in keys_
    std::unique_ptr<std::unordered_set<std::string>> many;  // the names, once there are many
  };

  [[noreturn]] static void Invalid() { throw JoseJsonError("is not valid JSON"); }

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  // One value at p_ (after white space). A container is opened and left
  // for Parse's loop to fill, except when it is empty.
  void Value() {
    if (p_ == end_) Invalid();
    switch (*p_) {
      case '{':
        ++p_;
        Open(JsonToken::Kind::kBeginObject);
        SkipSpace();
        if (p_ != end_ && *p_ == '}') {
          ++p_;
          Close(JsonToken::Kind::kEndObject);
          return;
        }
        Member();
        Value();
        return;
      case '[':
        ++p_;
        Open(JsonToken::Kind::kBeginArray);
        SkipSpace();
        if (p_ != end_ && *p_ == ']') {
          ++p_;
          Close(JsonToken::Kind::kEndArray);
          return;
        }
        Value();
        return;
      case '"':
        String(JsonToken::Kind::kString);
        return;
      case 't':
        Literal("true", JsonToken::Kind::kTrue);
        return;
      case 'f':
        Literal("false", JsonToken::Kind::kFalse);
        return;
      case 'n':
        Literal("null", JsonToken::Kind::kNull);
        return;
      default:
        Number();
        return;
    }
  }

  // A member name, checked against the object's others, and its colon.
  void Member() {
    if (p_ == end_ || *p_ != '"') Invalid();
    String(JsonToken::Kind::kKey);
    const std::size_t index = tape_.tokens_.size() - 1;
    const std::string_view name = tape_.TextOf(index);
    Frame& frame = open_.back();
    if (frame.many) {
      if (!frame.many->insert(std::string(name)).second) Duplicate(name);
    } else {
      for (std::size_t k = frame.keys_begin; k < keys_.size(); ++k) {
        if (tape_.TextOf(keys_[k]) == name) Duplicate(name);
      }
      keys_.push_back(index);
      if (keys_.size() - frame.keys_begin > kLinearKeys) {
        frame.many = std::make_unique<std::unordered_set<std::string>>();
        for (std::size_t k = frame.keys_begin; k < keys_.size(); ++k) {
          frame.many->insert(std::string(tape_.TextOf(keys_[k])));
        }
      }
    }
    SkipSpace();
    if (p_ == end_ || *p_ != ':') Invalid();
    ++p_;
    SkipSpace();
  }

  void Literal(std::string_view word, JsonToken::Kind kind) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) Invalid();
    p_ += word.size();
    Push(kind);
  }

  static int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits after "\u".
  unsigned Hex4() {
    if (end_ - p_ < 4) Invalid();
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      int d = HexDigit(p_[i]);
      if (d < 0) Invalid();
      v = v << 4 | static_cast<unsigned>(d);
    }
    p_ += 4;
    return v;
  }

  void AppendUtf8(unsigned cp) {
    std::string& out = tape_.text_;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | cp >> 6));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | cp >> 12));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | cp >> 18));
      out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
  // forms, no surrogates, nothing above U+10FFFF) starting at p_, whose
  // first byte is >= 0x80; 0 when it is not one.
  std::size_t Utf8Length() const {
    const auto* u = reinterpret_cast<const unsigned char*>(p_);
    const std::size_t left = static_cast<std::size_t>(end_ - p_);
    auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
      return i < left && u[i] >= lo && u[i] <= hi;
    };
    const unsigned c = u[0];
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  // A string at p_ (on its opening quote), unescaped into the tape's text.
  void String(JsonToken::Kind kind) {
    ++p_;
    const std::size_t offset = tape_.text_.size();
    for (;;) {
      // Copy the run of plain ASCII in one go.
      const char* run = p_;
      while (p_ != end_ && static_cast<unsigned char>(*p_) >= 0x20 && static_cast<unsigned char>(*p_) < 0x80 &&
             *p_ != '"' && *p_ != '\\') {
        ++p_;
      }
      tape_.text_.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ == end_) Invalid();
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        break;
      }
      if (c < 0x20) Invalid();
      if (c >= 0x80) {
        const std::size_t n = Utf8Length();
        if (n == 0) Invalid();
        tape_.text_.append(p_, n);
        p_ += n;
        continue;
      }
      // A backslash escape.
      ++p_;
      if (p_ == end_) Invalid();
      const char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          tape_.text_.push_back(e);
          break;
        case 'b':
          tape_.text_.push_back('\b');
          break;
        case 'f':
          tape_.text_.push_back('\f');
          break;
        case 'n':
          tape_.text_.push_back('\n');
          break;
        case 'r':
          tape_.text_.push_back('\r');
          break;
        case 't':
          tape_.text_.push_back('\t');
          break;
        case 'u': {
          unsigned cp = Hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) Invalid();  // a low surrogate first
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') Invalid();
            p_ += 2;
            const unsigned low = Hex4();
            if (low < 0xDC00 || low > 0xDFFF) Invalid();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp);
          break;
        }
        default:
          Invalid();
      }
    }
    if (tape_.text_.size() > UINT32_MAX) throw JoseJsonError("is too long");
    JsonToken& t = tape_.tokens_.emplace_back();
    t.kind = kind;
    t.offset = static_cast<std::uint32_t>(offset);
    t.length = static_cast<std::uint32_t>(tape_.text_.size() - offset);
  }

  // A number at p_: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?,
  // kept as written, with its value as strtod reads it in the C locale (as
  // nlohmann does: a number too large for a double is an error, one too
  // small is read as zero or a subnormal).
  void Number() {
    const char* start = p_;
    auto digit = [&] { return p_ != end_ && *p_ >= '0' && *p_ <= '9'; };
    bool integer = true;
    if (p_ != end_ && *p_ == '-') ++p_;
    if (!digit()) Invalid();
    if (*p_ == '0') {
      ++p_;
    } else {
      while (digit()) ++p_;
    }
    if (p_ != end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (!digit()) Invalid();
      while (digit()) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digit()) Invalid();
      while (digit()) ++p_;
    }
    const std::string_view text(start, static_cast<std::size_t>(p_ - start));
    double value = 0;
    if (integer && text.size() <= 18) {
      // Exact: at most 18 digits fit an int64 and convert to the nearest double.
      std::int64_t v = 0;
      std::from_chars(text.data(), text.data() + text.size(), v);
      value = static_cast<double>(v);
    } else {
      char buf[64];
      std::string long_text;
      const char* cstr = buf;
      if (text.size() < sizeof buf) {
        std::memcpy(buf, text.data(), text.size());
        buf[text.size()] = '\0';
      } else {
        long_text.assign(text);
        cstr = long_text.c_str();
      }
      value = strtod_l(cstr, nullptr, CLocale());
      if (!std::isfinite(value)) throw JoseJsonError("has a number out of range");
    }
    const std::size_t offset = tape_.text_.size();
    tape_.text_.append(text);
    JsonToken& t = tape_.tokens_.emplace_back();
    t.kind = JsonToken::Kind::kNumber;
    t.offset = static_cast<std::uint32_t>(offset);
    t.length = static_cast<std::uint32_t>(text.size());
    t.number = value;
  }

  // The "C" locale, for strtod_l: numbers never depend on LC_NUMERIC.
  static locale_t CLocale() {
    static locale_t c = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
    if (c == static_cast<locale_t>(nullptr)) throw std::bad_alloc();
    return c;
  }

  void Push(JsonToken::Kind kind) { tape_.tokens_.emplace_back().kind = kind; }

  void Open(JsonToken::Kind kind) {
    if (static_cast<int>(open_.size()) >= max_depth_) {
      throw JoseJsonError("is nested deeper than " + std::to_string(max_depth_) + " levels");
    }
    Push(kind);
    open_.push_back(Frame{tape_.tokens_.size() - 1, keys_.size(), nullptr});
  }

  void Close(JsonToken::Kind kind) {
    tape_.tokens_[open_.back().begin].end = static_cast<std::uint32_t>(tape_.tokens_.size());
    keys_.resize(open_.back().keys_begin);
    open_.pop_back();
    Push(kind);
  }

  [[noreturn]] void Duplicate(std::string_view name) {
    throw JoseJsonError("has a duplicate member " + QuoteUntrusted(name));
  }

  const char* p_;
  const char* end_;
  JsonTape& tape_;
  int max_depth_;
  std::vector<Frame> open_;
  std::vector<std::size_t> keys_;  // token indexes of the names of the open objects, innermost last
};

void ParseStrictJsonTape(std::string_view text, JsonTape& tape, int max_depth) {
  JsonTapeBuilder(text, tape, max_depth).Parse();
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
