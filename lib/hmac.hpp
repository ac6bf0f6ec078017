// HMAC-SHA-256/384/512 and HKDF (RFC 5869) on OpenSSL 3 EVP_MAC/EVP_KDF.
// An Hmac keeps its keyed context and reuses it for every message (blind
// indexes and match keys are computed per row). Not thread-safe.
#pragma once

#include <initializer_list>
#include <memory>

#include "bytes.hpp"

struct evp_mac_ctx_st;

namespace crosswalk {

enum class Digest { kSha256, kSha384, kSha512 };

// Output size in bytes of the digest (32, 48, 64).
std::size_t DigestSize(Digest digest);

class Hmac {
 public:
  // Throws crosswalk::Error when the key is empty or OpenSSL refuses it.
  Hmac(Digest digest, ByteView key);
  ~Hmac();
  Hmac(Hmac&&) noexcept;
  Hmac& operator=(Hmac&&) noexcept;

  std::size_t size() const { return size_; }
  // Writes HMAC(key, concatenation of parts) to out (size() bytes).
  void Compute(std::initializer_list<ByteView> parts, std::uint8_t* out);

 private:
  struct CtxDeleter {
    void operator()(evp_mac_ctx_st* ctx) const noexcept;
  };
  std::unique_ptr<evp_mac_ctx_st, CtxDeleter> ctx_;
  std::size_t size_;
};

// HKDF-Extract-and-Expand with the digest: `length` bytes of output keying
// material. Used once per key load (never per row).
SecretBytes Hkdf(Digest digest, ByteView ikm, ByteView salt, ByteView info, std::size_t length);

}  // namespace crosswalk
