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

// The fetched cipher for a mode and key length (for SIV: the AES-CTR of
// half of the key), fetched once per process
// (EVP_CIPHER_fetch is a provider lookup; its result is immutable and
// thread-safe to share).
const EVP_CIPHER* FetchCipher(AeadMode mode, std::size_t key_size) {
  static const CipherPtr kGcm128(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr));
  static const CipherPtr kGcm192(EVP_CIPHER_fetch(nullptr, "AES-192-GCM", nullptr));
  static const CipherPtr kGcm256(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  static const CipherPtr kCtr128(EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr));
  static const CipherPtr kCtr192(EVP_CIPHER_fetch(nullptr, "AES-192-CTR", nullptr));
  static const CipherPtr kCtr256(EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr));
  const EVP_CIPHER* cipher = nullptr;
  if (mode == AeadMode::kGcm) {
    cipher = key_size == 16 ? kGcm128.get() : key_size == 24 ? kGcm192.get() : key_size == 32 ? kGcm256.get() : nullptr;
  } else {
    // SIV's CTR half (see Aead::Aead).
    cipher = key_size == 32 ? kCtr128.get() : key_size == 48 ? kCtr192.get() : key_size == 64 ? kCtr256.get() : nullptr;
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

// Doubling in GF(2^128) as RFC 5297 section 2.3 defines it.
void Dbl(std::uint8_t block[16]) {
  const std::uint8_t carry = block[0] >> 7;
  for (int i = 0; i < 15; ++i) block[i] = static_cast<std::uint8_t>(block[i] << 1 | block[i + 1] >> 7);
  block[15] = static_cast<std::uint8_t>(block[15] << 1 ^ (carry ? 0x87 : 0));
}

// Feeds GCM's associated data to the context. The parts are one string, so
// short parts are joined into one buffer and fed in one call (each
// EVP_CipherUpdate costs about as much as hashing 64 bytes) and empty parts
// are skipped.
bool FeedGcmAad(EVP_CIPHER_CTX* ctx, std::initializer_list<ByteView> aad) {
  int n = 0;
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

void Aead::MacCtxDeleter::operator()(evp_mac_ctx_st* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }

// GCM: one context holding the key. SIV (RFC 5297): the left half of the key
// is the S2V (AES-CMAC) key, the right half the AES-CTR key, each in a
// context keyed once here. (OpenSSL 3.0's own AES-SIV cipher keeps S2V state
// that only re-keying resets, and re-keying it fetches CMAC and two ciphers
// again: about 5 us per message, against well under 1 us this way.)
Aead::Aead(AeadMode mode, ByteView key) : mode_(mode), ctx_(EVP_CIPHER_CTX_new()) {
  const EVP_CIPHER* cipher = FetchCipher(mode, key.size);
  if (!ctx_) throw std::bad_alloc();
  const ByteView cipher_key = mode == AeadMode::kGcm ? key : key.sub(key.size / 2, key.size / 2);
  if (EVP_CipherInit_ex2(ctx_.get(), cipher, cipher_key.data, nullptr, 1, nullptr) != 1) {
    throw Error(sqlstate::kInternalError, "OpenSSL could not set up the cipher");
  }
  nonce_size_ = mode == AeadMode::kGcm ? kGcmNonceSize : 0;
  if (mode == AeadMode::kSiv) {
    static const std::unique_ptr<EVP_MAC, MacDeleter> kCmac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
    if (!kCmac) throw Error(sqlstate::kInternalError, "OpenSSL has no CMAC");
    cmac_.reset(EVP_MAC_CTX_new(kCmac.get()));
    if (!cmac_) throw std::bad_alloc();
    const ByteView mac_key = key.sub(0, key.size / 2);
    const char* cbc = mac_key.size == 16 ? "AES-128-CBC" : mac_key.size == 24 ? "AES-192-CBC" : "AES-256-CBC";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, const_cast<char*>(cbc), 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(cmac_.get(), mac_key.data, mac_key.size, params) != 1) {
      throw Error(sqlstate::kInternalError, "OpenSSL could not set up AES-CMAC");
    }
    // Every S2V starts from CMAC(0^128), and CMAC("") is the default
    // context's: computed once.
    static const std::uint8_t kZero[16] = {0};
    s2v_memo_ = SecretBytes(48);
    if (!Cmac({ByteView(kZero, 16)}, s2v_memo_.data()) || !Cmac({}, s2v_memo_.data() + 16)) {
      throw Error(sqlstate::kInternalError, "OpenSSL could not compute AES-CMAC");
    }
  }
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

// AES-CMAC of the concatenated parts under the S2V key: the keyed context
// is restarted, not re-keyed.
bool Aead::Cmac(std::initializer_list<ByteView> parts, std::uint8_t out[16]) {
  EVP_MAC_CTX* mac = cmac_.get();
  if (EVP_MAC_init(mac, nullptr, 0, nullptr) != 1) return false;
  for (const ByteView& part : parts) {
    if (part.size > 0 && EVP_MAC_update(mac, part.data, part.size) != 1) return false;
  }
  std::size_t n = 0;
  return EVP_MAC_final(mac, out, &n, kAeadTagSize) == 1 && n == kAeadTagSize;
}

// S2V (RFC 5297 section 2.4) of the associated data parts, each one
// component (empty ones included), and the plaintext as the last one. The
// state after a first part equal to the previous message's, and the CMAC of
// an empty part, come from the memo: for an envelope with the default
// context only the plaintext's CMAC is computed.
bool Aead::S2v(std::initializer_list<ByteView> aad, ByteView plaintext, std::uint8_t v[16]) {
  std::uint8_t d[16], mac[16];
  std::uint8_t* memo = s2v_memo_.data();
  std::memcpy(d, memo, 16);
  const ByteView* part = aad.begin();
  if (part != aad.end() && part->size <= sizeof s2v_first_) {
    if (part->size == s2v_first_size_ && (part->size == 0 || std::memcmp(part->data, s2v_first_, part->size) == 0)) {
      std::memcpy(d, memo + 32, 16);
    } else {
      if (!Cmac({*part}, mac)) return false;
      Dbl(d);
      for (int i = 0; i < 16; ++i) d[i] ^= mac[i];
      if (part->size > 0) std::memcpy(s2v_first_, part->data, part->size);
      s2v_first_size_ = part->size;
      std::memcpy(memo + 32, d, 16);
    }
    ++part;
  }
  for (; part != aad.end(); ++part) {
    if (part->size == 0) {
      std::memcpy(mac, memo + 16, 16);
    } else if (!Cmac({*part}, mac)) {
      return false;
    }
    Dbl(d);
    for (int i = 0; i < 16; ++i) d[i] ^= mac[i];
  }
  if (plaintext.size >= 16) {  // T = plaintext xorend D
    std::uint8_t last[16];
    std::memcpy(last, plaintext.data + plaintext.size - 16, 16);
    for (int i = 0; i < 16; ++i) last[i] ^= d[i];
    const bool ok = Cmac({plaintext.sub(0, plaintext.size - 16), ByteView(last, 16)}, v);
    OPENSSL_cleanse(last, sizeof last);
    return ok;
  }
  Dbl(d);  // T = dbl(D) xor pad(plaintext)
  for (std::size_t i = 0; i < plaintext.size; ++i) d[i] ^= plaintext.data[i];
  d[plaintext.size] ^= 0x80;
  const bool ok = Cmac({ByteView(d, 16)}, v);
  OPENSSL_cleanse(d, sizeof d);
  return ok;
}

// AES-CTR under the CTR key from the synthetic IV with bits 63 and 31
// cleared (RFC 5297 section 2.6), in either direction.
bool Aead::SivCtr(const std::uint8_t v[16], ByteView in, std::uint8_t* out) {
  if (in.size == 0) return true;
  if (in.size > static_cast<std::size_t>(INT_MAX)) return false;
  std::uint8_t q[16];
  std::memcpy(q, v, 16);
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  int n = 0;
  return EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, q, 1, nullptr) == 1 &&
         EVP_CipherUpdate(ctx_.get(), out, &n, in.data, static_cast<int>(in.size)) == 1 &&
         static_cast<std::size_t>(n) == in.size;
}

// One message in either direction. The contexts keep their keys between
// messages: GCM sets only the nonce per message, SIV only the counter.
bool Aead::Run(bool encrypt, ByteView nonce, std::initializer_list<ByteView> aad, ByteView in, std::uint8_t* out,
               std::uint8_t* tag) {
  if (in.size > static_cast<std::size_t>(INT_MAX)) return false;
  if (mode_ == AeadMode::kSiv) {
    if (nonce.size != 0) return false;
    if (encrypt) return S2v(aad, in, tag) && SivCtr(tag, in, out);
    std::uint8_t v[kAeadTagSize];
    return SivCtr(tag, in, out) && S2v(aad, ByteView(out, in.size), v) && CRYPTO_memcmp(v, tag, kAeadTagSize) == 0;
  }
  EVP_CIPHER_CTX* ctx = ctx_.get();
  int n = 0;
  if (nonce.size == 0) return false;
  if (nonce.size != nonce_size_) {
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &nonce.size),
                           OSSL_PARAM_construct_end()};
    if (EVP_CIPHER_CTX_set_params(ctx, params) != 1) return false;
    nonce_size_ = nonce.size;
  }
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce.data, encrypt ? 1 : 0, nullptr) != 1) return false;
  if (!encrypt && !SetTag(ctx, tag)) return false;
  if (!FeedGcmAad(ctx, aad)) return false;
  if (in.size > 0 && EVP_CipherUpdate(ctx, out, &n, in.data, static_cast<int>(in.size)) != 1) return false;
  std::uint8_t final_block[32];  // GCM outputs nothing here
  if (EVP_CipherFinal_ex(ctx, final_block, &n) != 1 || n != 0) return false;
  return !encrypt || GetTag(ctx, tag);
}

}  // namespace crosswalk
