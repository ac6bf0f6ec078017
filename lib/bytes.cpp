#include "bytes.hpp"

#include <openssl/crypto.h>

#include "pure_cpp.hpp"

namespace crosswalk {

void SecretBytes::Wipe() noexcept {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

namespace {
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool DecodeHex(std::string_view hex, std::vector<std::uint8_t>* out) {
  if (hex.size() % 2 != 0) return false;
  out->resize(hex.size() / 2);
  for (std::size_t i = 0; i < out->size(); ++i) {
    int hi = HexDigit(hex[2 * i]);
    int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string EncodeHex(ByteView bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes.size * 2, '\0');
  for (std::size_t i = 0; i < bytes.size; ++i) {
    out[2 * i] = kHex[bytes.data[i] >> 4];
    out[2 * i + 1] = kHex[bytes.data[i] & 0x0f];
  }
  return out;
}

}  // namespace crosswalk
