// JSON Web Keys (RFC 7517) for verifying JWS signatures: the public keys of
// a platform's JWK Set (kty RSA, EC P-256/P-384, OKP Ed25519) turned into
// OpenSSL EVP_PKEYs, and HMAC secrets (kty oct). Parsing is strict about what
// it uses and says which key and member is wrong; keys meant for something
// else (use "enc", unsupported curves) are kept aside so that a token naming
// one gets a clear answer.
#pragma once

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bytes.hpp"
#include "jose_ossl.hpp"

namespace crosswalk {

// The JWS algorithms crosswalk verifies (RFC 7518 section 3, RFC 8037).
enum class JwsAlgorithm {
  kHs256,
  kHs384,
  kHs512,
  kRs256,
  kRs384,
  kRs512,
  kPs256,
  kPs384,
  kPs512,
  kEs256,
  kEs384,
  kEdDsa
};

// "HS256" -> kHs256, ...; std::nullopt for anything else ("none" included).
std::optional<JwsAlgorithm> ParseJwsAlgorithm(std::string_view name);
const char* JwsAlgorithmName(JwsAlgorithm alg);

// The JWK key types.
enum class KeyType { kRsa, kEc, kOkp, kOct };
const char* KeyTypeName(KeyType type);
// The only key type that can verify alg.
KeyType KeyTypeFor(JwsAlgorithm alg);

// Limits on a JWK Set: keys, and bytes of a kid (here and in a header).
inline constexpr std::size_t kMaxJwkSetKeys = 64;
inline constexpr std::size_t kMaxKidBytes = 256;
// RSA moduli outside this range are refused: small ones are breakable, huge
// ones make every verification a denial of service.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

// The bytes of a secret as a string_view (for OpenSSL calls taking char data).
inline std::string_view SecretView(const SecretBytes& secret) {
  return {reinterpret_cast<const char*>(secret.data()), secret.size()};
}
inline SecretBytes SecretFrom(std::string_view bytes) {
  return SecretBytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// Verification contexts prepared once per key and algorithm (OpenSSL 3
// spends more time setting a context up than an RSA verification takes).
// Guarded by mu; a verification that finds it busy builds its own context.
struct JwkVerifyCache {
  std::mutex mu;
  std::array<ossl::Ptr<EVP_PKEY_CTX>, 12> pkey;  // by JwsAlgorithm, for RSA and ECDSA
  std::array<ossl::Ptr<EVP_MAC_CTX>, 3> mac;     // HS256/384/512, keyed with the secret, reset per use
};

// One verification key.
struct Jwk {
  KeyType type = KeyType::kRsa;
  std::optional<std::string> kid;
  std::string alg;                 // the key's "alg" as written; empty when it has none
  std::string curve;               // "P-256", "P-384" or "Ed25519" for EC/OKP keys
  int bits = 0;                    // RSA modulus, EC/OKP field, or HMAC secret size in bits
  ossl::Ptr<EVP_PKEY> public_key;  // RSA, EC, OKP
  SecretBytes secret;              // oct
  std::shared_ptr<JwkVerifyCache> cache = std::make_shared<JwkVerifyCache>();
};

// A key of the set that cannot verify signatures, and why.
struct UnusableJwk {
  std::optional<std::string> kid;
  std::string reason;
};

// A platform's verification keys.
class JwkSet {
 public:
  const std::vector<Jwk>& keys() const { return keys_; }
  const std::vector<UnusableJwk>& unusable() const { return unusable_; }

  // The keys to try for a token with this alg and kid: the one key with that
  // kid, or, without a kid, every key that fits the algorithm. Throws
  // JwtError: kKid (no such key), kKey (the key cannot verify alg: algorithm
  // confusion, a key "alg" that differs, a short secret), kJwks (no keys).
  std::vector<const Jwk*> KeysFor(JwsAlgorithm alg, const std::optional<std::string>& kid) const;

  // Adds an HMAC secret held outside the JWKS (a platform's stored secret;
  // alg empty when it has none). Throws crosswalk::Error 22023 where
  // JwkSetFromJson would: a kid that names another usable key, a secret
  // next to public keys, more than kMaxJwkSetKeys keys.
  void AddSecret(std::optional<std::string> kid, std::string alg, std::string_view secret);

 private:
  friend JwkSet JwkSetFromJson(const nlohmann::json& set);
  std::vector<Jwk> keys_;
  std::vector<UnusableJwk> unusable_;
};

// Throws JwtError(kKey) unless key can verify alg: right key type and curve,
// the key's own "alg" (when it has one) equal to alg, an HMAC secret at least
// as long as the hash output (RFC 7518 section 3.2).
void CheckKeyFitsAlgorithm(const Jwk& key, JwsAlgorithm alg);

// Parses one JWK (a JSON object). Throws crosswalk::Error 22023 naming the
// member that is wrong, also for a key that cannot verify signatures.
Jwk JwkFromJson(const nlohmann::json& key);
Jwk ParseJwk(std::string_view json);

// Parses a JWK Set {"keys": [...]}. Throws crosswalk::Error 22023 for a
// malformed set: not an object, a malformed key of a supported type, private
// key members, two usable keys with one kid, symmetric and asymmetric keys
// mixed (an invitation to algorithm confusion), more than kMaxJwkSetKeys.
JwkSet JwkSetFromJson(const nlohmann::json& set);
JwkSet ParseJwkSet(std::string_view json);

// True when an RSA modulus has the structure of keys from the Infineon
// library broken by ROCA (CVE-2017-15361): such a key's factors are public.
bool IsRocaVulnerableModulus(const BIGNUM* n);

}  // namespace crosswalk
