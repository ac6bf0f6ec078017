#include "aead.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <climits>
#include <cstring>
#include <string>

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

// Feeds GCM's associated data through feed(data, size). The parts are one
// string, so short parts are joined into one buffer and fed in one call
// (each update costs about as much as hashing 64 bytes), a single
// non-empty part is fed in place, and empty parts are skipped.
template <typename Feed>
bool FeedGcmAad(std::initializer_list<ByteView> aad, Feed&& feed) {
  std::uint8_t joined[256];
  std::size_t total = 0, parts = 0;
  const ByteView* last = nullptr;
  for (const ByteView& part : aad) {
    total += part.size;
    if (part.size > 0) ++parts, last = &part;
  }
  if (total == 0) return true;
  if (parts == 1) return feed(last->data, last->size);  // e.g. an envelope header and the empty context
  if (total <= sizeof joined) {
    std::size_t at = 0;
    for (const ByteView& part : aad) {
      if (part.size > 0) std::memcpy(joined + at, part.data, part.size);
      at += part.size;
    }
    return feed(joined, total);
  }
  for (const ByteView& part : aad) {
    if (part.size > 0 && !feed(part.data, part.size)) return false;
  }
  return true;
}

bool FeedGcmAad(EVP_CIPHER_CTX* ctx, std::initializer_list<ByteView> aad) {
  return FeedGcmAad(aad, [ctx](const std::uint8_t* data, std::size_t size) {
    int n = 0;
    return size <= static_cast<std::size_t>(INT_MAX) &&
           EVP_CipherUpdate(ctx, nullptr, &n, data, static_cast<int>(size)) == 1;
  });
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

// The functions of a provider's AES-GCM implementation (provider-cipher(7))
// and the provider context they take.
struct GcmFunctions {
  void* provctx = nullptr;
  OSSL_FUNC_cipher_newctx_fn* newctx = nullptr;
  OSSL_FUNC_cipher_freectx_fn* freectx = nullptr;
  OSSL_FUNC_cipher_encrypt_init_fn* encrypt_init = nullptr;
  OSSL_FUNC_cipher_decrypt_init_fn* decrypt_init = nullptr;
  OSSL_FUNC_cipher_update_fn* update = nullptr;
  OSSL_FUNC_cipher_final_fn* finish = nullptr;
  OSSL_FUNC_cipher_get_ctx_params_fn* get_ctx_params = nullptr;
  OSSL_FUNC_cipher_set_ctx_params_fn* set_ctx_params = nullptr;
};

// Whether one of the ':'-separated names of a provider's algorithm is a
// name of cipher.
bool NamesCipher(const char* names, const EVP_CIPHER* cipher) {
  std::string name;
  for (const char* p = names;; ++p) {
    if (*p == ':' || *p == '\0') {
      if (!name.empty() && EVP_CIPHER_is_a(cipher, name.c_str())) return true;
      if (*p == '\0') return false;
      name.clear();
    } else {
      name += *p;
    }
  }
}

// The functions of the implementation behind the fetched cipher: the one
// cipher implementation in its provider's dispatch table
// (OSSL_PROVIDER_query_operation) whose names include the cipher's. False
// when there is not exactly one such implementation or it lacks a function.
bool LookUpGcmFunctions(const EVP_CIPHER* cipher, GcmFunctions* out) {
  const OSSL_PROVIDER* provider = EVP_CIPHER_get0_provider(cipher);
  if (provider == nullptr) return false;
  int no_cache = 0;
  const OSSL_ALGORITHM* algorithms = OSSL_PROVIDER_query_operation(provider, OSSL_OP_CIPHER, &no_cache);
  if (algorithms == nullptr) return false;
  const OSSL_DISPATCH* table = nullptr;
  int matches = 0;
  for (const OSSL_ALGORITHM* a = algorithms; a->algorithm_names != nullptr; ++a) {
    if (NamesCipher(a->algorithm_names, cipher)) {
      table = a->implementation;
      ++matches;
    }
  }
  GcmFunctions f;
  f.provctx = OSSL_PROVIDER_get0_provider_ctx(provider);
  for (const OSSL_DISPATCH* d = matches == 1 ? table : nullptr; d != nullptr && d->function_id != 0; ++d) {
    switch (d->function_id) {
      case OSSL_FUNC_CIPHER_NEWCTX:
        f.newctx = OSSL_FUNC_cipher_newctx(d);
        break;
      case OSSL_FUNC_CIPHER_FREECTX:
        f.freectx = OSSL_FUNC_cipher_freectx(d);
        break;
      case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
        f.encrypt_init = OSSL_FUNC_cipher_encrypt_init(d);
        break;
      case OSSL_FUNC_CIPHER_DECRYPT_INIT:
        f.decrypt_init = OSSL_FUNC_cipher_decrypt_init(d);
        break;
      case OSSL_FUNC_CIPHER_UPDATE:
        f.update = OSSL_FUNC_cipher_update(d);
        break;
      case OSSL_FUNC_CIPHER_FINAL:
        f.finish = OSSL_FUNC_cipher_final(d);
        break;
      case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
        f.get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(d);
        break;
      case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
        f.set_ctx_params = OSSL_FUNC_cipher_set_ctx_params(d);
        break;
      default:
        break;
    }
  }
  // The function pointers stay valid while the provider is loaded, which
  // the fetched cipher (held for the process's life) guarantees.
  OSSL_PROVIDER_unquery_operation(provider, OSSL_OP_CIPHER, algorithms);
  if (f.newctx == nullptr || f.freectx == nullptr || f.encrypt_init == nullptr || f.decrypt_init == nullptr ||
      f.update == nullptr || f.finish == nullptr || f.get_ctx_params == nullptr || f.set_ctx_params == nullptr) {
    return false;
  }
  *out = f;
  return true;
}

}  // namespace

// A provider-side GCM context and the functions that run it. It holds a
// reference to the fetched cipher, and so to its provider, for as long as
// the context lives (as an EVP_CIPHER_CTX does).
struct Aead::DirectGcm {
  DirectGcm(const GcmFunctions* functions, const EVP_CIPHER* fetched) : f(functions), ctx(f->newctx(f->provctx)) {
    if (ctx == nullptr) throw std::bad_alloc();
    if (EVP_CIPHER_up_ref(const_cast<EVP_CIPHER*>(fetched)) != 1) {
      f->freectx(ctx);
      throw Error(sqlstate::kInternalError, "OpenSSL could not reference the cipher");
    }
    cipher = const_cast<EVP_CIPHER*>(fetched);
  }
  ~DirectGcm() {
    f->freectx(ctx);
    EVP_CIPHER_free(cipher);
  }
  DirectGcm(const DirectGcm&) = delete;
  DirectGcm& operator=(const DirectGcm&) = delete;

  const GcmFunctions* f;
  void* ctx;
  EVP_CIPHER* cipher = nullptr;
};

namespace {

// One GCM message through the provider's functions: its context keeps the
// key, and the nonce goes with its length, so nothing is queried per
// message but the tag.
bool DirectMessage(const GcmFunctions& f, void* ctx, bool encrypt, ByteView nonce, std::initializer_list<ByteView> aad,
                   ByteView in, std::uint8_t* out, std::uint8_t* tag) {
  // The nonce length goes with the nonce: no IV-length query or setting.
  if (nonce.size == 0) return false;
  if ((encrypt ? f.encrypt_init : f.decrypt_init)(ctx, nullptr, 0, nonce.data, nonce.size, nullptr) != 1) {
    return false;
  }
  if (!encrypt) {
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
                           OSSL_PARAM_construct_end()};
    if (f.set_ctx_params(ctx, params) != 1) return false;
  }
  std::size_t n = 0;
  const bool fed = FeedGcmAad(aad, [&](const std::uint8_t* data, std::size_t size) {
    return f.update(ctx, nullptr, &n, size, data, size) == 1;
  });
  if (!fed) return false;
  if (in.size > 0 && (f.update(ctx, out, &n, in.size, in.data, in.size) != 1 || n != in.size)) return false;
  std::uint8_t final_block[32];  // GCM outputs nothing here
  if (f.finish(ctx, final_block, &n, sizeof final_block) != 1 || n != 0) return false;
  if (!encrypt) return true;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
                         OSSL_PARAM_construct_end()};
  return f.get_ctx_params(ctx, params) == 1;
}

// Whether the provider's functions agree with EVP on the cipher: one
// message sealed both ways gives the same bytes and tag, and opens through
// the functions, and a changed tag does not.
bool GcmFunctionsAgreeWithEvp(const GcmFunctions& f, const EVP_CIPHER* cipher, std::size_t key_size) {
  std::uint8_t key[32], nonce[kGcmNonceSize], aad[22], msg[40];
  for (std::size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<std::uint8_t>(0x30 + i);
  for (std::size_t i = 0; i < sizeof nonce; ++i) nonce[i] = static_cast<std::uint8_t>(0x90 + i);
  for (std::size_t i = 0; i < sizeof aad; ++i) aad[i] = static_cast<std::uint8_t>(0x50 + i);
  for (std::size_t i = 0; i < sizeof msg; ++i) msg[i] = static_cast<std::uint8_t>(0x10 + 3 * i);
  std::uint8_t evp_ct[sizeof msg], evp_tag[kAeadTagSize], ct[sizeof msg], tag[kAeadTagSize], back[sizeof msg];
  std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> evp(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  if (!evp || EVP_CipherInit_ex2(evp.get(), cipher, key, nonce, 1, nullptr) != 1 ||
      EVP_CipherUpdate(evp.get(), nullptr, &n, aad, sizeof aad) != 1 ||
      EVP_CipherUpdate(evp.get(), evp_ct, &n, msg, sizeof msg) != 1 || EVP_CipherFinal_ex(evp.get(), back, &n) != 1 ||
      !GetTag(evp.get(), evp_tag)) {
    return false;
  }
  void* ctx = f.newctx(f.provctx);
  if (ctx == nullptr) return false;
  bool ok = f.encrypt_init(ctx, key, key_size, nullptr, 0, nullptr) == 1 &&
            DirectMessage(f, ctx, true, ByteView(nonce, sizeof nonce), {ByteView(aad, sizeof aad)},
                          ByteView(msg, sizeof msg), ct, tag) &&
            std::memcmp(ct, evp_ct, sizeof ct) == 0 && std::memcmp(tag, evp_tag, sizeof tag) == 0 &&
            DirectMessage(f, ctx, false, ByteView(nonce, sizeof nonce), {ByteView(aad, sizeof aad)},
                          ByteView(ct, sizeof ct), back, tag) &&
            std::memcmp(back, msg, sizeof msg) == 0;
  tag[0] ^= 1;
  ok = ok && !DirectMessage(f, ctx, false, ByteView(nonce, sizeof nonce), {ByteView(aad, sizeof aad)},
                            ByteView(ct, sizeof ct), back, tag);
  f.freectx(ctx);
  return ok;
}

// The direct path's functions for a fetched GCM cipher, when it can take it.
bool FindDirectGcm(const EVP_CIPHER* cipher, std::size_t key_size, GcmFunctions* out) {
  return LookUpGcmFunctions(cipher, out) && GcmFunctionsAgreeWithEvp(*out, cipher, key_size);
}

struct FoundGcmFunctions {
  GcmFunctions f;
  bool usable;
};

// The provider functions for the fetched GCM cipher of a key size, looked
// up and checked once per process (FetchCipher gives one cipher per size).
template <std::size_t kKeySize>
const FoundGcmFunctions& FoundFor(const EVP_CIPHER* cipher) {
  static const FoundGcmFunctions found = [cipher] {
    FoundGcmFunctions r{};
    r.usable = FindDirectGcm(cipher, kKeySize, &r.f);
    return r;
  }();
  return found;
}

// The provider functions for a fetched GCM cipher, or nullptr when they
// cannot be used (the caller then goes through EVP).
const GcmFunctions* DirectGcmFunctions(const EVP_CIPHER* cipher, std::size_t key_size) {
  const FoundGcmFunctions& found = key_size == 16   ? FoundFor<16>(cipher)
                                   : key_size == 24 ? FoundFor<24>(cipher)
                                                    : FoundFor<32>(cipher);
  return found.usable ? &found.f : nullptr;
}

}  // namespace

bool GcmCanRunDirect(const evp_cipher_st* cipher, std::size_t key_size) {
  GcmFunctions f;
  return (key_size == 16 || key_size == 24 || key_size == 32) && FindDirectGcm(cipher, key_size, &f);
}

void Aead::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }

void Aead::MacCtxDeleter::operator()(evp_mac_ctx_st* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }

// GCM: one context holding the key. SIV (RFC 5297): the left half of the key
// is the S2V (AES-CMAC) key, the right half the AES-CTR key, each in a
// context keyed once here. (OpenSSL 3.0's own AES-SIV cipher keeps S2V state
// that only re-keying resets, and re-keying it fetches CMAC and two ciphers
// again: about 5 us per message, against well under 1 us this way.)
Aead::Aead(AeadMode mode, ByteView key, AeadPath path) : mode_(mode) {
  const EVP_CIPHER* cipher = FetchCipher(mode, key.size);
  if (mode == AeadMode::kGcm && path == AeadPath::kDirect) {
    if (const GcmFunctions* f = DirectGcmFunctions(cipher, key.size)) {
      direct_ = std::make_unique<DirectGcm>(f, cipher);
      if (f->encrypt_init(direct_->ctx, key.data, key.size, nullptr, 0, nullptr) != 1) {
        throw Error(sqlstate::kInternalError, "OpenSSL could not set up the cipher");
      }
      return;
    }
  }
  ctx_.reset(EVP_CIPHER_CTX_new());
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
// messages: GCM sets only the nonce per message (on the direct path, in the
// provider's context), SIV only the counter.
bool Aead::Run(bool encrypt, ByteView nonce, std::initializer_list<ByteView> aad, ByteView in, std::uint8_t* out,
               std::uint8_t* tag) {
  if (direct_) return DirectMessage(*direct_->f, direct_->ctx, encrypt, nonce, aad, in, out, tag);
  if (in.size > static_cast<std::size_t>(INT_MAX)) return false;  // EVP counts in int
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
