// Byte views and secret byte buffers shared by the cryptographic code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crosswalk {

// A read-only view of bytes (C++17 has no std::span). It never owns.
struct ByteView {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;

  ByteView() = default;
  ByteView(const std::uint8_t* d, std::size_t n) : data(d), size(n) {}
  ByteView(const std::vector<std::uint8_t>& v) : data(v.data()), size(v.size()) {}  // NOLINT: implicit on purpose
  ByteView(std::string_view s)                                                      // NOLINT: implicit on purpose
      : data(reinterpret_cast<const std::uint8_t*>(s.data())), size(s.size()) {}
  template <std::size_t N>
  ByteView(const std::array<std::uint8_t, N>& a) : data(a.data()), size(N) {}  // NOLINT: implicit on purpose

  ByteView sub(std::size_t offset, std::size_t n) const { return ByteView(data + offset, n); }
};

// Key material: movable, not copyable, wiped (OPENSSL_cleanse) when destroyed
// so that a freed key does not linger in the backend's heap.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : bytes_(n) {}
  SecretBytes(const std::uint8_t* data, std::size_t n) : bytes_(data, data + n) {}
  ~SecretBytes() { Wipe(); }
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  ByteView view() const { return ByteView(bytes_.data(), bytes_.size()); }

 private:
  void Wipe() noexcept;
  std::vector<std::uint8_t> bytes_;
};

// Decodes hex (either case, even length, nothing else); false on bad input.
bool DecodeHex(std::string_view hex, std::vector<std::uint8_t>* out);
// Lower-case hex of the bytes.
std::string EncodeHex(ByteView bytes);

}  // namespace crosswalk
