#include "aead.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>

#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

struct CipherDeleter {
  void operator()(EVP_CIPHER* c) const noexcept { EVP_CIPHER_free(c); }
};
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherDeleter>;

// The fetched cipher for a mode and key length, fetched once per process
// (EVP_CIPHER_fetch is a provider lookup; its result is immutable and
// thread-safe to share).
const EVP_CIPHER* FetchCipher(AeadMode mode, std::size_t key_size) {
  static const CipherPtr kGcm128(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr));
  static const CipherPtr kGcm192(EVP_CIPHER_fetch(nullptr, "AES-192-GCM", nullptr));
  static const CipherPtr kGcm256(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  static const CipherPtr kSiv128(EVP_CIPHER_fetch(nullptr, "AES-128-SIV", nullptr));
  static const CipherPtr kSiv192(EVP_CIPHER_fetch(nullptr, "AES-192-SIV", nullptr));
  static const CipherPtr kSiv256(EVP_CIPHER_fetch(nullptr, "AES-256-SIV", nullptr));
  const EVP_CIPHER* cipher = nullptr;
  if (mode == AeadMode::kGcm) {
    cipher = key_size == 16 ? kGcm128.get() : key_size == 24 ? kGcm192.get() : key_size == 32 ? kGcm256.get() : nullptr;
  } else {
    cipher = key_size == 32 ? kSiv128.get() : key_size == 48 ? kSiv192.get() : key_size == 64 ? kSiv256.get() : nullptr;
  }
  if (cipher == nullptr) {
    throw Error(sqlstate::kInvalidParameterValue, std::string("no AES-") + (mode == AeadMode::kGcm ? "GCM" : "SIV") +
                                                      " cipher for a key of " + std::to_string(key_size) + " bytes");
  }
  return cipher;
}

struct MacDeleter {
  void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* m) const noexcept { EVP_MAC_CTX_free(m); }
};

// AES-CMAC of the concatenated parts under key (16, 24 or 32 bytes).
bool Cmac(ByteView key, std::initializer_list<ByteView> parts, std::uint8_t out[16]) {
  static const std::unique_ptr<EVP_MAC, MacDeleter> kCmac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
  if (!kCmac) return false;
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(kCmac.get()));
  if (!ctx) return false;
  const char* cipher = key.size == 16 ? "AES-128-CBC" : key.size == 24 ? "AES-192-CBC" : "AES-256-CBC";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, const_cast<char*>(cipher), 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), key.data, key.size, params) != 1) return false;
  for (const ByteView& part : parts) {
    if (part.size > 0 && EVP_MAC_update(ctx.get(), part.data, part.size) != 1) return false;
  }
  std::size_t n = 0;
  return EVP_MAC_final(ctx.get(), out, &n, 16) == 1 && n == 16;
}

// Doubling in GF(2^128) as RFC 5297 section 2.3 defines it.
void Dbl(std::uint8_t block[16]) {
  const std::uint8_t carry = block[0] >> 7;
  for (int i = 0; i < 15; ++i) block[i] = static_cast<std::uint8_t>(block[i] << 1 | block[i + 1] >> 7);
  block[15] = static_cast<std::uint8_t>(block[15] << 1 ^ (carry ? 0x87 : 0));
}

// The synthetic IV of an empty plaintext: S2V (RFC 5297 section 2.4) with
// the associated data as components and "" as the last one. OpenSSL 3.0's
// SIV refuses to encrypt an empty plaintext through EVP, and an empty string
// is a value crosswalk must encrypt; with no plaintext there is no CTR step,
// so the SIV is the whole computation.
bool SivOfEmptyPlaintext(ByteView key, std::initializer_list<ByteView> aad, std::uint8_t siv[16]) {
  const ByteView k1 = key.sub(0, key.size / 2);  // S2V key; the CTR key is the right half
  static const std::uint8_t kZero[16] = {0};
  std::uint8_t d[16], mac[16];
  if (!Cmac(k1, {ByteView(kZero, 16)}, d)) return false;
  for (const ByteView& part : aad) {
    if (!Cmac(k1, {part}, mac)) return false;
    Dbl(d);
    for (int i = 0; i < 16; ++i) d[i] ^= mac[i];
  }
  Dbl(d);
  d[0] ^= 0x80;  // pad("") = 10^127
  return Cmac(k1, {ByteView(d, 16)}, siv);
}

// Feeds the associated data to the context. For GCM the parts are one
// string, so short parts are joined into one buffer and fed in one call
// (each EVP_CipherUpdate costs about as much as hashing 64 bytes) and empty
// parts are skipped; for SIV every part is one S2V component, empty ones
// included, so each gets its own call.
bool FeedAad(EVP_CIPHER_CTX* ctx, AeadMode mode, std::initializer_list<ByteView> aad) {
  int n = 0;
  if (mode == AeadMode::kGcm) {
    std::uint8_t joined[256];
    std::size_t total = 0;
    for (const ByteView& part : aad) total += part.size;
    if (total == 0) return true;
    if (total <= sizeof joined) {
      std::size_t at = 0;
      for (const ByteView& part : aad) {
        if (part.size > 0) std::memcpy(joined + at, part.data, part.size);
        at += part.size;
      }
      return EVP_CipherUpdate(ctx, nullptr, &n, joined, static_cast<int>(total)) == 1;
    }
    for (const ByteView& part : aad) {
      if (part.size > static_cast<std::size_t>(INT_MAX)) return false;
      if (part.size > 0 && EVP_CipherUpdate(ctx, nullptr, &n, part.data, static_cast<int>(part.size)) != 1) {
        return false;
      }
    }
    return true;
  }
  for (const ByteView& part : aad) {
    if (part.size > static_cast<std::size_t>(INT_MAX)) return false;
    static const std::uint8_t kEmpty = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &n, part.size > 0 ? part.data : &kEmpty, static_cast<int>(part.size)) != 1) {
      return false;
    }
  }
  return true;
}

// The tag, read or set through the provider's parameters directly: the
// EVP_CIPHER_CTX_ctrl route translates to the same call with more work.
bool GetTag(EVP_CIPHER_CTX* ctx, std::uint8_t* tag) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
                         OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

bool SetTag(EVP_CIPHER_CTX* ctx, std::uint8_t* tag) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
                         OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_set_params(ctx, params) == 1;
}

}  // namespace

void Aead::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }

Aead::Aead(AeadMode mode, ByteView key) : mode_(mode), ctx_(EVP_CIPHER_CTX_new()) {
  const EVP_CIPHER* cipher = FetchCipher(mode, key.size);
  if (!ctx_) throw std::bad_alloc();
  if (EVP_CipherInit_ex2(ctx_.get(), cipher, key.data, nullptr, 1, nullptr) != 1) {
    throw Error(sqlstate::kInternalError, "OpenSSL could not set up the cipher");
  }
  if (mode == AeadMode::kSiv) key_ = SecretBytes(key.data, key.size);
  nonce_size_ = mode == AeadMode::kGcm ? kGcmNonceSize : 0;
}

Aead::~Aead() = default;
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;

void Aead::Seal(ByteView nonce, std::initializer_list<ByteView> aad, ByteView plaintext, std::uint8_t* ciphertext,
                std::uint8_t* tag) {
  if (!Run(true, nonce, aad, plaintext, ciphertext, tag)) {
    throw Error(sqlstate::kInternalError, "OpenSSL could not encrypt (nonce of " + std::to_string(nonce.size) +
                                              " bytes, message of " + std::to_string(plaintext.size) + " bytes)");
  }
}

bool Aead::Open(ByteView nonce, std::initializer_list<ByteView> aad, ByteView ciphertext, const std::uint8_t* tag,
                std::uint8_t* plaintext) {
  std::uint8_t tag_copy[kAeadTagSize];
  std::memcpy(tag_copy, tag, kAeadTagSize);
  if (Run(false, nonce, aad, ciphertext, plaintext, tag_copy)) return true;
  if (ciphertext.size > 0) std::memset(plaintext, 0, ciphertext.size);
  return false;
}

// One message in either direction. The context keeps its key between
// messages; only the nonce (GCM) is set per message. OpenSSL 3.0's SIV
// provider keeps S2V state in the context and has no way to reset it short of
// setting the key again, so SIV is re-keyed per message.
bool Aead::Run(bool encrypt, ByteView nonce, std::initializer_list<ByteView> aad, ByteView in, std::uint8_t* out,
               std::uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = ctx_.get();
  const int enc = encrypt ? 1 : 0;
  if (in.size > static_cast<std::size_t>(INT_MAX)) return false;
  int n = 0;
  if (mode_ == AeadMode::kGcm) {
    if (nonce.size == 0) return false;
    if (nonce.size != nonce_size_) {
      OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &nonce.size),
                             OSSL_PARAM_construct_end()};
      if (EVP_CIPHER_CTX_set_params(ctx, params) != 1) return false;
      nonce_size_ = nonce.size;
    }
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data, enc, nullptr) != 1) return false;
  } else {
    if (nonce.size != 0) return false;
    if (in.size == 0) {
      std::uint8_t siv[kAeadTagSize];
      if (!SivOfEmptyPlaintext(key_.view(), aad, siv)) return false;
      if (encrypt) {
        std::memcpy(tag, siv, kAeadTagSize);
        return true;
      }
      return CRYPTO_memcmp(siv, tag, kAeadTagSize) == 0;
    }
    if (EVP_CipherInit_ex2(ctx, nullptr, key_.data(), nullptr, enc, nullptr) != 1) return false;
  }
  if (!encrypt && !SetTag(ctx, tag)) return false;
  if (!FeedAad(ctx, mode_, aad)) return false;
  if (in.size > 0 && EVP_CipherUpdate(ctx, out, &n, in.data, static_cast<int>(in.size)) != 1) return false;
  std::uint8_t final_block[32];  // GCM and SIV output nothing here
  if (EVP_CipherFinal_ex(ctx, final_block, &n) != 1 || n != 0) return false;
  return !encrypt || GetTag(ctx, tag);
}

}  // namespace crosswalk
