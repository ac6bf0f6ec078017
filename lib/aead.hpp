// Authenticated encryption on OpenSSL 3: AES-GCM (randomized, with a
// caller-chosen nonce; through the provider's cipher functions, or EVP) and
// AES-SIV (RFC 5297, deterministic: the synthetic IV is the tag; composed of
// OpenSSL's AES-CMAC and AES-CTR through EVP). An Aead holds one
// key in contexts that it reuses for every message, so the per-row cost is
// the cipher, not context setup or the key schedule. An Aead is not
// thread-safe: use one per thread.
#pragma once

#include <initializer_list>
#include <memory>

#include "bytes.hpp"

struct evp_cipher_st;
struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;

namespace crosswalk {

enum class AeadMode { kGcm, kSiv };

// How a GCM Aead reaches OpenSSL's cipher. kDirect calls the functions of the
// provider that implements it (provider-cipher(7)) through the provider's
// dispatch table, skipping EVP's per-message parameter plumbing; it falls
// back to EVP when the provider does not offer them. kEvp always goes
// through EVP_CIPHER_CTX (the fallback, kept selectable for its tests). SIV
// uses EVP either way.
enum class AeadPath { kDirect, kEvp };

inline constexpr std::size_t kAeadTagSize = 16;
inline constexpr std::size_t kGcmNonceSize = 12;

// Whether AES-GCM through cipher (fetched for keys of key_size bytes) can
// take the direct path: its provider lists exactly one cipher
// implementation under the cipher's names, that implementation has every
// function the path calls, and a test message sealed and opened through
// them agrees with EVP. Aead decides this once per key size; exposed for
// tests, which hand it ciphers of test providers.
bool GcmCanRunDirect(const evp_cipher_st* cipher, std::size_t key_size);

class Aead {
 public:
  // key: 16, 24 or 32 bytes for GCM (AES-128/192/256-GCM); 32, 48 or 64 for
  // SIV (AES-128/192/256-SIV: SIV's key is two AES keys, one for S2V/CMAC and
  // one for CTR). Throws crosswalk::Error on any other length.
  Aead(AeadMode mode, ByteView key, AeadPath path = AeadPath::kDirect);
  ~Aead();
  Aead(Aead&&) noexcept;
  Aead& operator=(Aead&&) noexcept;

  AeadMode mode() const { return mode_; }
  // True when GCM messages go straight to the provider's functions, false
  // when they go through EVP (SIV, AeadPath::kEvp, or the fallback).
  bool direct() const { return direct_ != nullptr; }

  // Encrypts plaintext into ciphertext (plaintext.size bytes; may alias
  // nothing) and writes the 16-byte tag. GCM needs a non-empty nonce (12 bytes
  // is the only size crosswalk itself uses); SIV takes no nonce. Every aad
  // part is authenticated: for GCM the parts are concatenated, for SIV each is
  // one S2V component. Throws crosswalk::Error when OpenSSL refuses.
  void Seal(ByteView nonce, std::initializer_list<ByteView> aad, ByteView plaintext, std::uint8_t* ciphertext,
            std::uint8_t* tag);

  // Authenticates and decrypts ciphertext into plaintext (ciphertext.size
  // bytes). Returns false, with plaintext zeroed, when the tag does not match
  // (or the nonce is one OpenSSL cannot take): never partial output.
  bool Open(ByteView nonce, std::initializer_list<ByteView> aad, ByteView ciphertext, const std::uint8_t* tag,
            std::uint8_t* plaintext);

 private:
  bool Run(bool encrypt, ByteView nonce, std::initializer_list<ByteView> aad, ByteView in, std::uint8_t* out,
           std::uint8_t* tag);
  bool Cmac(std::initializer_list<ByteView> parts, std::uint8_t out[16]);
  bool S2v(std::initializer_list<ByteView> aad, ByteView plaintext, std::uint8_t v[16]);
  bool SivCtr(const std::uint8_t v[16], ByteView in, std::uint8_t* out);

  struct CtxDeleter {
    void operator()(evp_cipher_ctx_st* ctx) const noexcept;
  };
  struct MacCtxDeleter {
    void operator()(evp_mac_ctx_st* ctx) const noexcept;
  };
  struct DirectGcm;  // the provider's context and functions (lib/aead.cpp)
  AeadMode mode_;
  std::unique_ptr<DirectGcm> direct_;                    // GCM on the direct path
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> ctx_;   // GCM through EVP, or SIV's AES-CTR
  std::unique_ptr<evp_mac_ctx_st, MacCtxDeleter> cmac_;  // SIV's S2V key
  // SIV's S2V memo, derived from the key: [0, 16) CMAC(0^128), where every
  // S2V starts; [16, 32) CMAC("") (the default context is empty); [32, 48)
  // the S2V state after the first associated data part s2v_first_ (an
  // envelope's header, the same for every value of a key version).
  SecretBytes s2v_memo_;
  std::uint8_t s2v_first_[32];
  std::size_t s2v_first_size_ = sizeof s2v_first_ + 1;  // none yet
  std::size_t nonce_size_ = 0;
};

}  // namespace crosswalk
