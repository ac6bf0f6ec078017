#include "canonical_id.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void ThrowBadId(std::string_view text, const char* why) {
  throw Error(sqlstate::kInvalidTextRepresentation,
              "invalid input syntax for type canonical_id: " + QuoteForMessage(text),
              std::string("A canonical_id is a UUID such as 0190a8c4-5e3b-7cde-8f01-23456789abcd; ") + why + ".");
}

void RandomBytes(std::uint8_t* out, int n) {
  if (RAND_bytes(out, n) != 1) {
    throw Error(sqlstate::kInternalError, "could not generate random bytes for a canonical_id");
  }
}

}  // namespace

std::string QuoteForMessage(std::string_view input, std::size_t max_bytes) {
  std::string out = "\"";
  std::size_t n = input.size() < max_bytes ? input.size() : max_bytes;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(input[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);  // UTF-8 continuation bytes pass through
    }
  }
  out += '"';
  if (input.size() > n) out += "... (" + std::to_string(input.size()) + " bytes)";
  return out;
}

CanonicalId ParseCanonicalId(std::string_view text) {
  if (text.size() != kCanonicalIdTextSize) ThrowBadId(text, "it has 36 characters");
  CanonicalId id{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < kCanonicalIdTextSize;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') ThrowBadId(text, "hyphens separate groups of 8-4-4-4-12 hex digits");
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) ThrowBadId(text, "only hex digits and hyphens are allowed");
    id[byte++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return id;
}

void FormatCanonicalId(const CanonicalId& id, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t o = 0;
  for (std::size_t i = 0; i < kCanonicalIdSize; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = kHex[id[i] >> 4];
    out[o++] = kHex[id[i] & 0x0f];
  }
}

std::string FormatCanonicalId(const CanonicalId& id) {
  std::string s(kCanonicalIdTextSize, '\0');
  FormatCanonicalId(id, s.data());
  return s;
}

CanonicalId NewCanonicalId(std::uint64_t unix_ms) {
  static std::mutex mu;
  static std::uint64_t last_ms = 0;
  static std::uint16_t last_counter = 0;

  std::uint8_t rnd[10];
  RandomBytes(rnd, sizeof rnd);

  std::uint64_t ms;
  std::uint16_t counter;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (unix_ms > last_ms) {
      ms = unix_ms;
      // Seed with the top bit clear so a millisecond has room for >= 2048 ids.
      counter = static_cast<std::uint16_t>(((rnd[0] << 8) | rnd[1]) & 0x07ff);
    } else if (last_counter < 0x0fff) {
      ms = last_ms;
      counter = static_cast<std::uint16_t>(last_counter + 1);
    } else {
      ms = last_ms + 1;  // counter exhausted: borrow the next millisecond
      counter = static_cast<std::uint16_t>(((rnd[0] << 8) | rnd[1]) & 0x07ff);
    }
    last_ms = ms;
    last_counter = counter;
  }

  CanonicalId id{};
  for (int i = 0; i < 6; ++i) id[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  id[6] = static_cast<std::uint8_t>(0x70 | (counter >> 8));  // version 7
  id[7] = static_cast<std::uint8_t>(counter & 0xff);
  id[8] = static_cast<std::uint8_t>(0x80 | (rnd[2] & 0x3f));  // variant 10
  for (int i = 9; i < 16; ++i) id[i] = rnd[i - 6];
  return id;
}

CanonicalId NewCanonicalId() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return NewCanonicalId(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()));
}

}  // namespace crosswalk
