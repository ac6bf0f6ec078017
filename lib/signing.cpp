#include "signing.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <string>

#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

constexpr std::uint8_t kSigningWrapFormat = 1;
constexpr char kWrapLabel[] = "crosswalk signing key v1";
constexpr char kCheckpointLabel[] = "crosswalk ledger checkpoint v1";

PkeyPtr PrivateKey(ByteView seed) {
  if (seed.size != kEd25519SeedSize) throw Error(sqlstate::kInternalError, "an Ed25519 seed is 32 bytes");
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data, seed.size));
  if (!key) throw Error(sqlstate::kInternalError, "OpenSSL refused an Ed25519 private key");
  return key;
}

// The label, a NUL, and the key's name.
std::string WrapAad(std::string_view key_name) {
  std::string aad(kWrapLabel);
  aad.push_back('\0');
  aad.append(key_name);
  return aad;
}

}  // namespace

SecretBytes NewEd25519Seed() {
  SecretBytes seed(kEd25519SeedSize);
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    throw Error(sqlstate::kInternalError, "could not generate an Ed25519 key");
  }
  return seed;
}

Ed25519PublicKey Ed25519PublicKeyOf(ByteView seed) {
  PkeyPtr key = PrivateKey(seed);
  Ed25519PublicKey pub{};
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != pub.size()) {
    throw Error(sqlstate::kInternalError, "could not derive an Ed25519 public key");
  }
  return pub;
}

Ed25519Signature Ed25519Sign(ByteView seed, ByteView message) {
  PkeyPtr key = PrivateKey(seed);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  Ed25519Signature sig{};
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data, message.size) != 1 || len != sig.size()) {
    throw Error(sqlstate::kInternalError, "Ed25519 signing failed");
  }
  return sig;
}

bool Ed25519Verify(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size != kEd25519PublicKeySize || signature.size != kEd25519SignatureSize) return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data, public_key.size));
  if (!key) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data, signature.size, message.data, message.size) == 1;
}

std::vector<std::uint8_t> WrapSigningSeed(Aead& wrap, std::string_view key_name, ByteView seed) {
  if (seed.size != kEd25519SeedSize) throw Error(sqlstate::kInternalError, "an Ed25519 seed is 32 bytes");
  std::vector<std::uint8_t> out(1 + kGcmNonceSize + kEd25519SeedSize + kAeadTagSize);
  out[0] = kSigningWrapFormat;
  if (RAND_bytes(out.data() + 1, static_cast<int>(kGcmNonceSize)) != 1) {
    throw Error(sqlstate::kInternalError, "could not generate a random nonce");
  }
  const auto aad = WrapAad(key_name);
  std::uint8_t* ct = out.data() + 1 + kGcmNonceSize;
  wrap.Seal(ByteView(out.data() + 1, kGcmNonceSize), {ByteView(aad)}, seed, ct, ct + kEd25519SeedSize);
  return out;
}

SecretBytes UnwrapSigningSeed(Aead& wrap, std::string_view key_name, ByteView wrapped) {
  if (wrapped.size != 1 + kGcmNonceSize + kEd25519SeedSize + kAeadTagSize || wrapped.data[0] != kSigningWrapFormat) {
    throw Error(sqlstate::kDataCorrupted, "a wrapped signing key is malformed");
  }
  const auto aad = WrapAad(key_name);
  SecretBytes seed(kEd25519SeedSize);
  const std::uint8_t* ct = wrapped.data + 1 + kGcmNonceSize;
  if (!wrap.Open(wrapped.sub(1, kGcmNonceSize), {ByteView(aad)}, ByteView(ct, kEd25519SeedSize),
                 ct + kEd25519SeedSize, seed.data())) {
    throw Error(sqlstate::kDataCorrupted,
                "the signing key \"" + std::string(key_name) + "\" does not unwrap under this master key",
                "It was wrapped under another master key, or its stored bytes were changed.");
  }
  return seed;
}

std::vector<std::uint8_t> CheckpointMessage(std::int64_t seq, ByteView tip_hash) {
  if (tip_hash.size != 32) throw Error(sqlstate::kInvalidParameterValue, "a ledger hash is 32 bytes");
  const std::string label(kCheckpointLabel);
  std::vector<std::uint8_t> msg(label.begin(), label.end());
  msg.push_back(0);
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(seq) >> (8 * i)));
  msg.insert(msg.end(), tip_hash.data, tip_hash.data + tip_hash.size);
  return msg;
}

}  // namespace crosswalk
