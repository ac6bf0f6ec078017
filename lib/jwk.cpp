#include "jwk.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <utility>

#include "base64url.hpp"
#include "error.hpp"
#include "jose_json.hpp"
#include "jwt_error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

using Json = nlohmann::json;

struct AlgorithmInfo {
  JwsAlgorithm alg;
  const char* name;
  KeyType type;
};

constexpr std::array<AlgorithmInfo, 12> kAlgorithms{{
    {JwsAlgorithm::kHs256, "HS256", KeyType::kOct},
    {JwsAlgorithm::kHs384, "HS384", KeyType::kOct},
    {JwsAlgorithm::kHs512, "HS512", KeyType::kOct},
    {JwsAlgorithm::kRs256, "RS256", KeyType::kRsa},
    {JwsAlgorithm::kRs384, "RS384", KeyType::kRsa},
    {JwsAlgorithm::kRs512, "RS512", KeyType::kRsa},
    {JwsAlgorithm::kPs256, "PS256", KeyType::kRsa},
    {JwsAlgorithm::kPs384, "PS384", KeyType::kRsa},
    {JwsAlgorithm::kPs512, "PS512", KeyType::kRsa},
    {JwsAlgorithm::kEs256, "ES256", KeyType::kEc},
    {JwsAlgorithm::kEs384, "ES384", KeyType::kEc},
    {JwsAlgorithm::kEdDsa, "EdDSA", KeyType::kOkp},
}};

const AlgorithmInfo& Info(JwsAlgorithm alg) { return kAlgorithms[static_cast<std::size_t>(alg)]; }

// A malformed JWK: the key's position and member, never a key's bytes.
[[noreturn]] void ThrowBadKey(const std::string& where, const std::string& what) {
  throw Error(
      sqlstate::kInvalidParameterValue, "invalid JWK" + (where.empty() ? "" : " " + where) + ": " + what,
      "A JWK Set looks like {\"keys\": [{\"kty\": \"RSA\", \"kid\": \"...\", \"n\": \"...\", \"e\": \"AQAB\"}]}.");
}

// A required or optional string member.
std::optional<std::string> StringMember(const Json& key, const char* name, const std::string& where) {
  auto it = key.find(name);
  if (it == key.end()) return std::nullopt;
  if (!it->is_string()) ThrowBadKey(where, std::string("\"") + name + "\" is not a string");
  return it->get<std::string>();
}

// A base64url member holding bytes.
std::string BytesMember(const Json& key, const char* name, const std::string& where) {
  auto text = StringMember(key, name, where);
  if (!text) ThrowBadKey(where, std::string("\"") + name + "\" is missing");
  auto bytes = DecodeBase64Url(*text);
  if (!bytes) ThrowBadKey(where, std::string("\"") + name + "\" is not unpadded base64url");
  return *bytes;
}

ossl::Ptr<BIGNUM> BigNumber(const std::string& bytes) {
  ossl::Ptr<BIGNUM> bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
  if (!bn) throw std::bad_alloc();
  return bn;
}

// Builds a public EVP_PKEY of the given OpenSSL type from parameters.
ossl::Ptr<EVP_PKEY> PublicKeyFromParams(const char* type, OSSL_PARAM_BLD* bld, const std::string& where) {
  ossl::Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) throw std::bad_alloc();
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || raw == nullptr) {
    ThrowBadKey(where, std::string("OpenSSL refuses the ") + type + " public key");
  }
  return ossl::Ptr<EVP_PKEY>(raw);
}

void ParseRsaKey(const Json& key, Jwk& out, const std::string& where) {
  ossl::Ptr<BIGNUM> n = BigNumber(BytesMember(key, "n", where));
  ossl::Ptr<BIGNUM> e = BigNumber(BytesMember(key, "e", where));
  int bits = BN_num_bits(n.get());
  if (bits < kMinRsaBits) {
    ThrowBadKey(where, "RSA modulus of " + std::to_string(bits) + " bits is too small (at least " +
                           std::to_string(kMinRsaBits) + ")");
  }
  if (bits > kMaxRsaBits) {
    ThrowBadKey(where, "RSA modulus of " + std::to_string(bits) + " bits is too large (at most " +
                           std::to_string(kMaxRsaBits) + ")");
  }
  if (!BN_is_odd(n.get())) ThrowBadKey(where, "RSA modulus is even");
  if (!BN_is_odd(e.get()) || BN_num_bits(e.get()) < 2 || BN_num_bits(e.get()) > 64) {
    ThrowBadKey(where, "RSA public exponent must be odd, at least 3 and at most 64 bits");
  }
  if (IsRocaVulnerableModulus(n.get())) {
    ThrowBadKey(where, "RSA modulus has the ROCA weakness (CVE-2017-15361): its private key is computable");
  }
  ossl::Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    throw std::bad_alloc();
  }
  out.public_key = PublicKeyFromParams("RSA", bld.get(), where);
  out.bits = bits;
}

void ParseEcKey(const Json& key, const std::string& curve, Jwk& out, const std::string& where) {
  const std::size_t size = curve == "P-256" ? 32 : 48;
  const char* group = curve == "P-256" ? "prime256v1" : "secp384r1";
  std::string x = BytesMember(key, "x", where);
  std::string y = BytesMember(key, "y", where);
  // RFC 7518 section 6.2.1.2: coordinates are the full field size.
  if (x.size() != size || y.size() != size) {
    ThrowBadKey(where, "\"x\" and \"y\" of a " + curve + " key are " + std::to_string(size) + " bytes each");
  }
  std::string point = "\x04" + x + y;
  ossl::Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    throw std::bad_alloc();
  }
  out.public_key = PublicKeyFromParams("EC", bld.get(), where);
  // The point must be on the curve and in the prime-order group: an invalid
  // point is the classic invalid-curve attack on ECDSA verification.
  ossl::Ptr<EVP_PKEY_CTX> check(EVP_PKEY_CTX_new_from_pkey(nullptr, out.public_key.get(), nullptr));
  if (!check) throw std::bad_alloc();
  if (EVP_PKEY_public_check(check.get()) != 1) ThrowBadKey(where, "the point (x, y) is not on " + curve);
  out.curve = curve;
  out.bits = static_cast<int>(size * 8);
}

void ParseOkpKey(const Json& key, Jwk& out, const std::string& where) {
  std::string x = BytesMember(key, "x", where);
  if (x.size() != 32) ThrowBadKey(where, "\"x\" of an Ed25519 key is 32 bytes");
  out.public_key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                   reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  if (!out.public_key) ThrowBadKey(where, "OpenSSL refuses the Ed25519 public key");
  out.curve = "Ed25519";
  out.bits = 256;
}

// Private members by key type (RFC 7518 section 6): a verification key set
// holding them would put private keys in the database.
bool HasPrivateMembers(const Json& key) {
  for (const char* name : {"d", "p", "q", "dp", "dq", "qi", "oth"}) {
    if (key.contains(name)) return true;
  }
  return false;
}

// One member of "keys": a usable key, or the reason it is not one.
std::pair<std::optional<Jwk>, std::optional<UnusableJwk>> ParseKeyEntry(const Json& key, const std::string& where) {
  if (!key.is_object()) ThrowBadKey(where, "is not a JSON object");
  auto kty = StringMember(key, "kty", where);
  if (!kty) ThrowBadKey(where, "\"kty\" is missing");
  auto kid = StringMember(key, "kid", where);
  if (kid && kid->size() > kMaxKidBytes) {
    ThrowBadKey(where, "\"kid\" is longer than " + std::to_string(kMaxKidBytes) + " bytes");
  }
  auto alg = StringMember(key, "alg", where);
  auto unusable = [&](std::string reason) {
    return std::make_pair(std::optional<Jwk>(), std::optional<UnusableJwk>(UnusableJwk{kid, std::move(reason)}));
  };

  // Keys for something else than signatures are not errors in a set (an
  // identity provider may publish encryption keys too); they are never used.
  if (auto use = StringMember(key, "use", where); use && *use != "sig") {
    return unusable("its \"use\" is " + QuoteUntrusted(*use) + ", not \"sig\"");
  }
  if (auto ops = key.find("key_ops"); ops != key.end()) {
    if (!ops->is_array()) ThrowBadKey(where, "\"key_ops\" is not an array");
    bool verify = false;
    for (const auto& op : *ops) {
      if (!op.is_string()) ThrowBadKey(where, "\"key_ops\" holds a non-string");
      verify = verify || op.get<std::string>() == "verify";
    }
    if (!verify) return unusable("its \"key_ops\" do not include \"verify\"");
  }

  Jwk out;
  out.kid = kid;
  out.alg = alg.value_or("");
  if (*kty == "oct") {
    out.type = KeyType::kOct;
    std::string k = BytesMember(key, "k", where);
    if (k.empty()) ThrowBadKey(where, "\"k\" of an oct key is empty");
    out.bits = static_cast<int>(k.size() * 8);
    out.secret = SecretFrom(k);
    OPENSSL_cleanse(k.data(), k.size());
    return {std::move(out), std::nullopt};
  }
  if (HasPrivateMembers(key)) {
    ThrowBadKey(where, "holds private key members; a JWK Set for verification holds public keys only");
  }
  if (*kty == "RSA") {
    out.type = KeyType::kRsa;
    ParseRsaKey(key, out, where);
  } else if (*kty == "EC") {
    auto crv = StringMember(key, "crv", where);
    if (!crv) ThrowBadKey(where, "\"crv\" is missing");
    if (*crv != "P-256" && *crv != "P-384") return unusable("curve " + QuoteUntrusted(*crv) + " is not supported");
    out.type = KeyType::kEc;
    ParseEcKey(key, *crv, out, where);
  } else if (*kty == "OKP") {
    auto crv = StringMember(key, "crv", where);
    if (!crv) ThrowBadKey(where, "\"crv\" is missing");
    if (*crv != "Ed25519") return unusable("curve " + QuoteUntrusted(*crv) + " is not supported");
    out.type = KeyType::kOkp;
    ParseOkpKey(key, out, where);
  } else {
    return unusable("key type " + QuoteUntrusted(*kty) + " is not supported");
  }
  return {std::move(out), std::nullopt};
}

std::string DescribeKey(const Jwk& key) {
  return key.kid ? "key " + QuoteUntrusted(*key.kid) : std::string("the key without a kid");
}

}  // namespace

std::optional<JwsAlgorithm> ParseJwsAlgorithm(std::string_view name) {
  for (const auto& info : kAlgorithms) {
    if (name == info.name) return info.alg;
  }
  return std::nullopt;
}

const char* JwsAlgorithmName(JwsAlgorithm alg) { return Info(alg).name; }

const char* KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEc:
      return "EC";
    case KeyType::kOkp:
      return "OKP";
    case KeyType::kOct:
      return "oct";
  }
  return "?";
}

KeyType KeyTypeFor(JwsAlgorithm alg) { return Info(alg).type; }

void CheckKeyFitsAlgorithm(const Jwk& key, JwsAlgorithm alg) {
  const char* name = JwsAlgorithmName(alg);
  if (key.type != KeyTypeFor(alg)) {
    throw JwtError(JwtCheck::kKey,
                   std::string("algorithm confusion: ") + (name[0] == 'P' || name[0] == 'R' ? "a " : "an ") + name +
                       " token cannot be verified with " + DescribeKey(key) + ", an " + KeyTypeName(key.type) + " key");
  }
  if (!key.alg.empty() && key.alg != name) {
    throw JwtError(JwtCheck::kKey,
                   DescribeKey(key) + " is for " + QuoteUntrusted(key.alg) + ", the token says " + name);
  }
  if ((alg == JwsAlgorithm::kEs256 && key.curve != "P-256") || (alg == JwsAlgorithm::kEs384 && key.curve != "P-384")) {
    throw JwtError(JwtCheck::kKey, std::string(name) + " needs a " + (alg == JwsAlgorithm::kEs256 ? "P-256" : "P-384") +
                                       " key; " + DescribeKey(key) + " is on " + key.curve);
  }
  if (key.type == KeyType::kOct) {
    int needed = alg == JwsAlgorithm::kHs256 ? 256 : alg == JwsAlgorithm::kHs384 ? 384 : 512;
    if (key.bits < needed) {
      throw JwtError(JwtCheck::kKey, DescribeKey(key) + " is a " + std::to_string(key.bits) + "-bit secret; " + name +
                                         " needs at least " + std::to_string(needed) + " bits (RFC 7518 3.2)");
    }
  }
}

std::vector<const Jwk*> JwkSet::KeysFor(JwsAlgorithm alg, const std::optional<std::string>& kid) const {
  if (kid) {
    for (const Jwk& key : keys_) {
      if (key.kid == kid) {
        CheckKeyFitsAlgorithm(key, alg);
        return {&key};
      }
    }
    for (const UnusableJwk& key : unusable_) {
      if (key.kid == kid) {
        throw JwtError(JwtCheck::kKid, "key " + QuoteUntrusted(*kid) + " cannot verify signatures: " + key.reason);
      }
    }
    throw JwtError(JwtCheck::kKid, "the platform has no key with kid " + QuoteUntrusted(*kid),
                   "The issuer may have rotated its keys: update the platform's jwks, or its HMAC secrets with "
                   "crosswalk.set_platform_secret().");
  }
  if (keys_.empty()) throw JwtError(JwtCheck::kJwks, "the platform has no key that can verify signatures");
  std::vector<const Jwk*> fitting;
  for (const Jwk& key : keys_) {
    try {
      CheckKeyFitsAlgorithm(key, alg);
      fitting.push_back(&key);
    } catch (const JwtError&) {
      // Not this one; the caller learns below if none fits.
    }
  }
  if (fitting.empty()) {
    if (keys_.size() == 1) CheckKeyFitsAlgorithm(keys_.front(), alg);  // throws its precise reason
    throw JwtError(JwtCheck::kKey, std::string("no key of the platform can verify ") + JwsAlgorithmName(alg) +
                                       " tokens (algorithm confusion or a key alg mismatch)");
  }
  return fitting;
}

void JwkSet::AddSecret(std::optional<std::string> kid, std::string alg, std::string_view secret) {
  const std::string where = kid ? "secret " + QuoteUntrusted(*kid) : std::string("secret without a kid");
  if (keys_.size() >= kMaxJwkSetKeys) ThrowBadKey(where, "more than " + std::to_string(kMaxJwkSetKeys) + " keys");
  for (const Jwk& other : keys_) {
    if (other.type != KeyType::kOct) {
      ThrowBadKey(where, "an HMAC secret next to public keys; keep one kind per platform");
    }
    if (kid && other.kid == kid) ThrowBadKey(where, "kid " + QuoteUntrusted(*kid) + " names two keys");
  }
  Jwk key;
  key.type = KeyType::kOct;
  key.kid = std::move(kid);
  key.alg = std::move(alg);
  key.bits = static_cast<int>(secret.size() * 8);
  key.secret = SecretFrom(secret);
  keys_.push_back(std::move(key));
}

Jwk JwkFromJson(const Json& key) {
  auto [usable, unusable] = ParseKeyEntry(key, "");
  if (!usable) ThrowBadKey("", "cannot verify signatures: " + unusable->reason);
  return std::move(*usable);
}

Jwk ParseJwk(std::string_view json) {
  try {
    return JwkFromJson(ParseStrictJson(json));
  } catch (const JoseJsonError& e) {
    ThrowBadKey("", std::string("the JSON ") + e.what());
  }
}

JwkSet JwkSetFromJson(const Json& set) {
  if (!set.is_object()) ThrowBadKey("set", "a JWK Set is a JSON object");
  auto keys = set.find("keys");
  if (keys == set.end() || !keys->is_array()) ThrowBadKey("set", "\"keys\" is missing or not an array");
  if (keys->size() > kMaxJwkSetKeys) {
    ThrowBadKey("set", "more than " + std::to_string(kMaxJwkSetKeys) + " keys");
  }
  JwkSet out;
  std::set<std::string> kids;
  bool symmetric = false;
  bool asymmetric = false;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    std::string where = "keys[" + std::to_string(i) + "]";
    auto [usable, unusable] = ParseKeyEntry((*keys)[i], where);
    if (!usable) {
      out.unusable_.push_back(std::move(*unusable));
      continue;
    }
    if (usable->kid && !kids.insert(*usable->kid).second) {
      ThrowBadKey(where, "kid " + QuoteUntrusted(*usable->kid) + " names two keys");
    }
    (usable->type == KeyType::kOct ? symmetric : asymmetric) = true;
    out.keys_.push_back(std::move(*usable));
  }
  if (symmetric && asymmetric) {
    ThrowBadKey("set", "mixes HMAC secrets (kty oct) with public keys; keep one kind per platform");
  }
  return out;
}

JwkSet ParseJwkSet(std::string_view json) {
  try {
    return JwkSetFromJson(ParseStrictJson(json));
  } catch (const JoseJsonError& e) {
    ThrowBadKey("set", std::string("the JSON ") + e.what());
  }
}

// The ROCA fingerprint test of Nemec et al. (CCS 2017): moduli made by the
// affected library are, modulo each small prime p below, in the subgroup of
// (Z/p)* generated by 65537. A random modulus passes all 38 with negligible
// probability.
bool IsRocaVulnerableModulus(const BIGNUM* n) {
  static constexpr std::array<BN_ULONG, 38> kPrimes = {3,   5,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,
                                                       47,  53,  59,  61,  67,  71,  73,  79,  83,  89,  97,  101, 103,
                                                       107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};
  for (BN_ULONG p : kPrimes) {
    BN_ULONG residue = BN_mod_word(n, p);
    if (residue == static_cast<BN_ULONG>(-1)) return false;
    // Walk the subgroup generated by 65537 mod p.
    BN_ULONG g = 65537 % p;
    BN_ULONG x = 1;
    bool in_subgroup = false;
    do {
      if (x == residue) {
        in_subgroup = true;
        break;
      }
      x = (x * g) % p;
    } while (x != 1);
    if (!in_subgroup) return false;
  }
  return true;
}

}  // namespace crosswalk
