#include "json_canonical.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "canonical_id.hpp"
#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

[[noreturn]] void Fail(const std::string& why) {
  throw Error(sqlstate::kInvalidTextRepresentation, "cannot canonicalize JSON: " + why);
}

// The UTF-16 code units of a UTF-8 string: RFC 8785 sorts member names by them.
std::u16string Utf16(std::string_view s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    int len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c >> 5) == 0x6) {
      cp = c & 0x1f;
      len = 2;
    } else if ((c >> 4) == 0xe) {
      cp = c & 0x0f;
      len = 3;
    } else if ((c >> 3) == 0x1e) {
      cp = c & 0x07;
      len = 4;
    } else {
      Fail("invalid UTF-8 in a member name");
    }
    if (i + len > s.size()) Fail("truncated UTF-8 in a member name");
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void AppendString(std::string_view s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Rejects duplicate member names while parsing (nlohmann keeps the last one
// silently, which would let two different texts canonicalize alike).
class DuplicateKeyCheck {
 public:
  bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (depth > kMaxJsonDepth) Fail("nested deeper than 256 levels");
    switch (event) {
      case E::object_start:
        open_.emplace_back();
        break;
      case E::object_end:
        if (!open_.empty()) open_.pop_back();
        break;
      case E::key:
        if (open_.empty() || !open_.back().insert(parsed.get<std::string>()).second) {
          Fail("duplicate member name " + QuoteForMessage(parsed.get<std::string>()));
        }
        break;
      default:
        break;
    }
    return true;
  }

 private:
  std::vector<std::set<std::string>> open_;  // member names of each object being parsed
};

}  // namespace

std::string FormatJsonNumber(double value) {
  if (!std::isfinite(value)) Fail("numbers must be finite");
  if (value == 0) return "0";  // also -0
  // Shortest round-trip digits in scientific form: "d.ddde±x".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  auto e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exp10 = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;  // value = 0.digits * 10^n
  std::string out;
  if (k <= n && n <= 21) {
    out = digits + std::string(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out = digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out = "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
  } else {
    std::string exp = (n - 1 >= 0 ? "+" : "-") + std::to_string(std::abs(n - 1));
    out = k == 1 ? digits + "e" + exp : digits.substr(0, 1) + "." + digits.substr(1) + "e" + exp;
  }
  return sign + out;
}

void AppendCanonicalJson(const nlohmann::json& value, std::string& out) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      out += "null";
      break;
    case nlohmann::json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      out += FormatJsonNumber(value.get<double>());
      break;
    case nlohmann::json::value_t::string:
      AppendString(value.get_ref<const std::string&>(), out);
      break;
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& v : value) {
        if (!first) out += ',';
        first = false;
        AppendCanonicalJson(v, out);
      }
      out += ']';
      break;
    }
    case nlohmann::json::value_t::object: {
      std::vector<std::pair<std::u16string, const std::string*>> keys;
      keys.reserve(value.size());
      for (auto it = value.begin(); it != value.end(); ++it) keys.emplace_back(Utf16(it.key()), &it.key());
      std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      bool first = true;
      for (const auto& [utf16, key] : keys) {
        if (!first) out += ',';
        first = false;
        AppendString(*key, out);
        out += ':';
        AppendCanonicalJson(value.at(*key), out);
      }
      out += '}';
      break;
    }
    default:
      Fail("unsupported JSON value");
  }
}

nlohmann::json ParseJsonStrict(std::string_view json_text) {
  // nlohmann's own messages quote the offending token in full, so a huge
  // input would make a huge message: say what and where instead.
  try {
    return nlohmann::json::parse(json_text.begin(), json_text.end(), DuplicateKeyCheck());
  } catch (const nlohmann::json::parse_error& e) {
    Fail("invalid JSON at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::out_of_range&) {
    Fail("a number is outside the range of IEEE 754 doubles");
  } catch (const nlohmann::json::exception&) {
    Fail("invalid JSON");
  }
}

void AppendCanonicalString(std::string_view s, std::string& out) { AppendString(s, out); }

bool CanonicalNameLess(std::string_view a, std::string_view b) {
  // Without 4-byte sequences (lead bytes 0xf0 and up) both orders agree.
  auto bmp_only = [](std::string_view s) {
    for (unsigned char c : s) {
      if (c >= 0xf0) return false;
    }
    return true;
  };
  if (bmp_only(a) && bmp_only(b)) return a < b;
  return Utf16(a) < Utf16(b);
}

void CheckUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The second byte's range depends on the first (RFC 3629, section 4).
    int len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
    } else {
      Fail("ill-formed UTF-8 in a string");
    }
    if (i + static_cast<std::size_t>(len) > n || p[i + 1] < lo || p[i + 1] > hi) Fail("ill-formed UTF-8 in a string");
    for (int k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) Fail("ill-formed UTF-8 in a string");
    }
    i += static_cast<std::size_t>(len);
  }
}

void AppendCanonicalDecimal(const char* decimal, std::string& out) {
  // strtod, as the parser behind ParseJsonStrict reads numbers: correctly
  // rounded, underflow to zero or a subnormal, overflow to infinity.
  char* end = nullptr;
  const double value = std::strtod(decimal, &end);
  if (end == decimal || *end != '\0') Fail("invalid number");
  if (!std::isfinite(value)) Fail("a number is outside the range of IEEE 754 doubles");
  out += FormatJsonNumber(value);
}

std::string CanonicalizeJson(std::string_view json_text) {
  std::string out;
  AppendCanonicalJson(ParseJsonStrict(json_text), out);
  return out;
}

}  // namespace crosswalk
