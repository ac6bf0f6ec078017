#include "base64url.hpp"

#include <array>

#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> MakeReverse() {
  std::array<std::int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return r;
}
constexpr std::array<std::int8_t, 256> kReverse = MakeReverse();

}  // namespace

std::optional<std::size_t> Base64UrlDecodedSize(std::size_t n) {
  if (n % 4 == 1) return std::nullopt;
  return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

void EncodeBase64Url(const std::uint8_t* data, std::size_t n, char* out) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = std::uint32_t{data[i]} << 16 | std::uint32_t{data[i + 1]} << 8 | data[i + 2];
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
    *out++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    std::uint32_t v = std::uint32_t{data[i]} << 16 | std::uint32_t{data[i + 1]} << 8;
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
  }
}

bool DecodeBase64Url(std::string_view text, std::uint8_t* out) {
  if (!Base64UrlDecodedSize(text.size())) return false;
  std::size_t i = 0;
  const std::size_t n = text.size();
  for (; i + 4 <= n; i += 4) {
    int a = kReverse[static_cast<unsigned char>(text[i])], b = kReverse[static_cast<unsigned char>(text[i + 1])];
    int c = kReverse[static_cast<unsigned char>(text[i + 2])], d = kReverse[static_cast<unsigned char>(text[i + 3])];
    if ((a | b | c | d) < 0) return false;
    std::uint32_t v = std::uint32_t(a) << 18 | std::uint32_t(b) << 12 | std::uint32_t(c) << 6 | std::uint32_t(d);
    *out++ = static_cast<std::uint8_t>(v >> 16);
    *out++ = static_cast<std::uint8_t>(v >> 8);
    *out++ = static_cast<std::uint8_t>(v);
  }
  const std::size_t rest = n - i;
  if (rest == 2) {
    int a = kReverse[static_cast<unsigned char>(text[i])], b = kReverse[static_cast<unsigned char>(text[i + 1])];
    if ((a | b) < 0 || (b & 0x0f) != 0) return false;
    *out++ = static_cast<std::uint8_t>(a << 2 | b >> 4);
  } else if (rest == 3) {
    int a = kReverse[static_cast<unsigned char>(text[i])], b = kReverse[static_cast<unsigned char>(text[i + 1])];
    int c = kReverse[static_cast<unsigned char>(text[i + 2])];
    if ((a | b | c) < 0 || (c & 0x03) != 0) return false;
    *out++ = static_cast<std::uint8_t>(a << 2 | b >> 4);
    *out++ = static_cast<std::uint8_t>((b & 0x0f) << 4 | c >> 2);
  }
  return true;
}

std::string EncodeBase64Url(std::string_view bytes) {
  std::string out(Base64UrlEncodedSize(bytes.size()), '\0');
  EncodeBase64Url(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), out.data());
  return out;
}

std::optional<std::string> DecodeBase64Url(std::string_view text) {
  auto n = Base64UrlDecodedSize(text.size());
  if (!n) return std::nullopt;
  std::string out(*n, '\0');
  if (!DecodeBase64Url(text, reinterpret_cast<std::uint8_t*>(out.data()))) return std::nullopt;
  return out;
}

}  // namespace crosswalk
