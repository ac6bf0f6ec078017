#include "hmac.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

const char* DigestName(Digest digest) {
  switch (digest) {
    case Digest::kSha256:
      return "SHA256";
    case Digest::kSha384:
      return "SHA384";
    case Digest::kSha512:
      return "SHA512";
  }
  return "SHA256";
}

struct MacDeleter {
  void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};
struct KdfDeleter {
  void operator()(EVP_KDF* k) const noexcept { EVP_KDF_free(k); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* k) const noexcept { EVP_KDF_CTX_free(k); }
};

}  // namespace

std::size_t DigestSize(Digest digest) {
  switch (digest) {
    case Digest::kSha256:
      return 32;
    case Digest::kSha384:
      return 48;
    case Digest::kSha512:
      return 64;
  }
  return 32;
}

void Hmac::CtxDeleter::operator()(evp_mac_ctx_st* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }

Hmac::Hmac(Digest digest, ByteView key) : size_(DigestSize(digest)) {
  static const std::unique_ptr<EVP_MAC, MacDeleter> kHmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!kHmac) throw Error(sqlstate::kInternalError, "OpenSSL has no HMAC");
  if (key.size == 0) throw Error(sqlstate::kInvalidParameterValue, "an HMAC key must not be empty");
  ctx_.reset(EVP_MAC_CTX_new(kHmac.get()));
  if (!ctx_) throw std::bad_alloc();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(DigestName(digest)), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx_.get(), key.data, key.size, params) != 1) {
    throw Error(sqlstate::kInternalError, "OpenSSL could not key HMAC");
  }
}

Hmac::~Hmac() = default;
Hmac::Hmac(Hmac&&) noexcept = default;
Hmac& Hmac::operator=(Hmac&&) noexcept = default;

void Hmac::Compute(std::initializer_list<ByteView> parts, std::uint8_t* out) {
  // A null key re-initialises the context with the key it already holds.
  bool ok = EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) == 1;
  for (const ByteView& part : parts) {
    if (ok && part.size > 0) ok = EVP_MAC_update(ctx_.get(), part.data, part.size) == 1;
  }
  std::size_t written = 0;
  if (!ok || EVP_MAC_final(ctx_.get(), out, &written, size_) != 1 || written != size_) {
    throw Error(sqlstate::kInternalError, "OpenSSL could not compute an HMAC");
  }
}

SecretBytes Hkdf(Digest digest, ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
  static const std::unique_ptr<EVP_KDF, KdfDeleter> kHkdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kHkdf) throw Error(sqlstate::kInternalError, "OpenSSL has no HKDF");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kHkdf.get()));
  if (!ctx) throw std::bad_alloc();
  static const std::uint8_t kEmpty = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(DigestName(digest)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.size ? ikm.data : &kEmpty),
                                        ikm.size),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.size ? salt.data : &kEmpty),
                                        salt.size),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.size ? info.data : &kEmpty),
                                        info.size),
      OSSL_PARAM_construct_end()};
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), length, params) != 1) {
    throw Error(sqlstate::kInternalError, "OpenSSL could not derive a key with HKDF");
  }
  return out;
}

}  // namespace crosswalk
