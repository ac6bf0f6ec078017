#include "jws.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <array>
#include <cstdio>
#include <mutex>
#include <new>

#include "base64url.hpp"
#include "jose_json.hpp"
#include "jose_ossl.hpp"
#include "jwt_error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

using Json = nlohmann::json;

// The message digests, fetched once: OpenSSL 3 otherwise looks each one up
// by name on every verification.
const EVP_MD* Digest(JwsAlgorithm alg) {
  static const EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  static const EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
  static const EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA2-512", nullptr);
  switch (alg) {
    case JwsAlgorithm::kHs256:
    case JwsAlgorithm::kRs256:
    case JwsAlgorithm::kPs256:
    case JwsAlgorithm::kEs256:
      return sha256;
    case JwsAlgorithm::kHs384:
    case JwsAlgorithm::kRs384:
    case JwsAlgorithm::kPs384:
    case JwsAlgorithm::kEs384:
      return sha384;
    case JwsAlgorithm::kHs512:
    case JwsAlgorithm::kRs512:
    case JwsAlgorithm::kPs512:
      return sha512;
    case JwsAlgorithm::kEdDsa:
      return nullptr;  // Ed25519 hashes internally
  }
  return nullptr;
}

// Leaves OpenSSL's per-thread error queue empty: inside a PostgreSQL backend
// the server's own TLS code reads that queue, and a stale entry there would
// be reported as a TLS error on the client connection.
struct ClearOpenSslErrors {
  ~ClearOpenSslErrors() { ERR_clear_error(); }
};

// Converts a raw r||s ECDSA signature into the DER form OpenSSL verifies.
std::optional<std::string> RawEcdsaToDer(std::string_view raw) {
  const std::size_t half = raw.size() / 2;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ossl::Ptr<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + half, static_cast<int>(half), nullptr);
  if (!sig || r == nullptr || s == nullptr) {
    BN_free(r);
    BN_free(s);
    throw std::bad_alloc();
  }
  ECDSA_SIG_set0(sig.get(), r, s);  // takes ownership of r and s
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

// The value index of a header member that must be a string when present
// (kHeader otherwise); npos when absent.
constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);
std::optional<std::string_view> HeaderString(const JsonTape& header, std::size_t index, const char* name) {
  if (index == kAbsent) return std::nullopt;
  if (header.tokens()[index].kind != JsonToken::Kind::kString) {
    throw JwtError(JwtCheck::kHeader, std::string("\"") + name + "\" is not a string");
  }
  return header.TextOf(index);
}

JwsHeader ParseHeader(std::string_view json) {
  JsonTape header;
  try {
    ParseStrictJsonTape(json, header);
  } catch (const JoseJsonError& e) {
    throw JwtError(JwtCheck::kHeader, std::string("the header ") + e.what());
  }
  const auto& tokens = header.tokens();
  if (tokens.empty() || tokens[0].kind != JsonToken::Kind::kBeginObject) {
    throw JwtError(JwtCheck::kHeader, "the header is not a JSON object");
  }
  std::size_t alg_at = kAbsent, kid_at = kAbsent, typ_at = kAbsent, crit_at = kAbsent, b64_at = kAbsent;
  header.ForEachMember(0, [&](std::string_view name, std::size_t value) {
    if (name == "alg")
      alg_at = value;
    else if (name == "kid")
      kid_at = value;
    else if (name == "typ")
      typ_at = value;
    else if (name == "crit")
      crit_at = value;
    else if (name == "b64")
      b64_at = value;
  });

  JwsHeader out;
  auto alg = HeaderString(header, alg_at, "alg");
  if (!alg) throw JwtError(JwtCheck::kAlg, "the header has no \"alg\"");
  auto parsed = ParseJwsAlgorithm(*alg);
  if (!parsed) {
    bool none = alg->size() == 4 && (((*alg)[0] | 0x20) == 'n') && (((*alg)[1] | 0x20) == 'o') &&
                (((*alg)[2] | 0x20) == 'n') && (((*alg)[3] | 0x20) == 'e');
    if (none) throw JwtError(JwtCheck::kAlg, "alg \"none\" (an unsigned token) is never accepted");
    throw JwtError(JwtCheck::kAlg, "alg " + QuoteUntrusted(*alg) + " is not supported",
                   "crosswalk accepts HS256/384/512, RS256/384/512, PS256/384/512, ES256/384 and EdDSA.");
  }
  out.alg = *parsed;
  if (auto kid = HeaderString(header, kid_at, "kid")) {
    if (kid->size() > kMaxKidBytes) {
      throw JwtError(JwtCheck::kKid,
                     "kid is " + std::to_string(kid->size()) + " bytes, more than " + std::to_string(kMaxKidBytes));
    }
    out.kid.emplace(*kid);
  }
  if (auto typ = HeaderString(header, typ_at, "typ")) out.typ.emplace(*typ);
  if (crit_at != kAbsent) {
    // RFC 7515 section 4.1.11: a recipient that does not understand every
    // extension listed in crit must reject the token; crosswalk knows none.
    const JsonToken& crit = tokens[crit_at];
    if (crit.kind != JsonToken::Kind::kBeginArray || crit.end == crit_at + 1) {
      throw JwtError(JwtCheck::kCrit, "\"crit\" is not a non-empty array");
    }
    for (std::size_t i = crit_at + 1; i < crit.end; i = header.After(i)) {
      if (tokens[i].kind != JsonToken::Kind::kString) throw JwtError(JwtCheck::kCrit, "\"crit\" holds a non-string");
    }
    throw JwtError(JwtCheck::kCrit,
                   "critical extension " + QuoteUntrusted(header.TextOf(crit_at + 1)) + " is not understood");
  }
  if (b64_at != kAbsent && tokens[b64_at].kind != JsonToken::Kind::kTrue) {
    throw JwtError(JwtCheck::kHeader, "unencoded payloads (\"b64\": false) are not accepted");
  }
  return out;
}

std::string DecodeSegment(std::string_view segment, const char* name) {
  auto bytes = DecodeBase64Url(segment);
  if (!bytes) {
    throw JwtError(JwtCheck::kBase64Url, std::string("the ") + name +
                                             " is not unpadded base64url (padding, a character outside "
                                             "[A-Za-z0-9_-], or a non-canonical last character)");
  }
  return std::move(*bytes);
}

}  // namespace

Jws ParseJws(std::string_view token) {
  if (token.size() > kMaxJwsSize) {
    throw JwtError(JwtCheck::kSize,
                   "the token is " + std::to_string(token.size()) + " bytes, more than " + std::to_string(kMaxJwsSize));
  }
  std::size_t first = token.find('.');
  std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    throw JwtError(JwtCheck::kFormat, "a JWS in compact form has three segments separated by two dots");
  }
  std::string_view header = token.substr(0, first);
  std::string_view payload = token.substr(first + 1, second - first - 1);
  std::string_view signature = token.substr(second + 1);
  if (header.empty()) throw JwtError(JwtCheck::kFormat, "the header segment is empty");

  Jws out;
  // The header first, so that an unsigned token ("alg": "none", empty
  // signature) is reported as what it is.
  out.header = ParseHeader(DecodeSegment(header, "header"));
  if (signature.empty()) throw JwtError(JwtCheck::kFormat, "the signature segment is empty");
  out.payload = DecodeSegment(payload, "payload");
  out.signature = DecodeSegment(signature, "signature");
  out.signing_input = std::string(token.substr(0, second));
  return out;
}

void VerifyJwsSignature(const Jws& jws, const JwkSet& keys) {
  for (const Jwk* key : keys.KeysFor(jws.header.alg, jws.header.kid)) {
    if (VerifySignature(jws.header.alg, *key, jws.signing_input, jws.signature)) return;
  }
  throw JwtError(JwtCheck::kSignature, std::string("the ") + JwsAlgorithmName(jws.header.alg) +
                                           " signature does not verify with the platform's key");
}

Jws VerifyJws(std::string_view token, const JwkSet& keys) {
  Jws jws = ParseJws(token);
  VerifyJwsSignature(jws, keys);
  return jws;
}

std::string ComputeHmac(JwsAlgorithm alg, std::string_view key, std::string_view data) {
  ClearOpenSslErrors clear;
  const EVP_MD* md = Digest(alg);
  if (KeyTypeFor(alg) != KeyType::kOct || md == nullptr)
    throw std::invalid_argument("ComputeHmac: not an HS algorithm");
  std::array<unsigned char, EVP_MAX_MD_SIZE> tag{};
  unsigned int len = 0;
  // An empty key is passed as a non-null pointer: HMAC() treats a null key
  // as "reuse the previous key".
  static const unsigned char kEmpty = 0;
  const auto* key_bytes = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (HMAC(md, key_bytes, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), tag.data(), &len) == nullptr) {
    throw std::bad_alloc();
  }
  std::string out(reinterpret_cast<const char*>(tag.data()), len);
  OPENSSL_cleanse(tag.data(), tag.size());
  return out;
}

bool VerifyHmac(JwsAlgorithm alg, std::string_view key, std::string_view data, std::string_view tag) {
  std::string expected = ComputeHmac(alg, key, data);
  // The length is public (it is fixed by alg); the bytes are compared in
  // constant time so that timing does not reveal how much of a forged tag
  // was right.
  bool ok = tag.size() == expected.size() && CRYPTO_memcmp(tag.data(), expected.data(), expected.size()) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  return ok;
}

bool VerifyPublicKeySignature(JwsAlgorithm alg, EVP_PKEY* key, std::string_view data, std::string_view signature) {
  ClearOpenSslErrors clear;
  if (key == nullptr) return false;
  std::string der;
  std::string_view sig = signature;
  switch (KeyTypeFor(alg)) {
    case KeyType::kRsa:
      if (!EVP_PKEY_is_a(key, "RSA")) return false;
      if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) return false;
      break;
    case KeyType::kEc: {
      const int bits = alg == JwsAlgorithm::kEs256 ? 256 : 384;
      if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != bits) return false;
      if (signature.size() != static_cast<std::size_t>(bits / 8 * 2)) return false;
      auto converted = RawEcdsaToDer(signature);
      if (!converted) return false;
      der = std::move(*converted);
      sig = der;
      break;
    }
    case KeyType::kOkp:
      if (!EVP_PKEY_is_a(key, "ED25519") || signature.size() != 64) return false;
      break;
    case KeyType::kOct:
      return false;
  }
  ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, Digest(alg), nullptr, key) != 1) return false;
  if (alg == JwsAlgorithm::kPs256 || alg == JwsAlgorithm::kPs384 || alg == JwsAlgorithm::kPs512) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, Digest(alg)) != 1) {
      return false;
    }
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

namespace {

// A verification context for alg over key's public key: EVP_PKEY_verify
// over a digest the caller computes (RSA PKCS#1 v1.5 and PSS, ECDSA).
ossl::Ptr<EVP_PKEY_CTX> NewDigestVerifyContext(JwsAlgorithm alg, EVP_PKEY* key) {
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return nullptr;
  const EVP_MD* md = Digest(alg);
  if (KeyTypeFor(alg) == KeyType::kRsa) {
    bool pss = alg == JwsAlgorithm::kPs256 || alg == JwsAlgorithm::kPs384 || alg == JwsAlgorithm::kPs512;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) != 1) return nullptr;
    if (pss && (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1)) {
      return nullptr;
    }
  }
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) return nullptr;
  return ctx;
}

// A keyed HMAC context to copy for each verification.
ossl::Ptr<EVP_MAC_CTX> NewHmacTemplate(JwsAlgorithm alg, std::string_view key) {
  static EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) return nullptr;
  ossl::Ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(hmac));
  if (!ctx) return nullptr;
  char digest[16];
  std::snprintf(digest, sizeof digest, "%s", EVP_MD_get0_name(Digest(alg)));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  static const unsigned char kEmpty = 0;
  const auto* bytes = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), bytes, key.size(), params) != 1) return nullptr;
  return ctx;
}

// The HMAC of data with a keyed context, compared in constant time with tag.
bool CheckHmacTag(EVP_MAC_CTX* ctx, std::string_view data, std::string_view tag) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> expected{};
  std::size_t len = 0;
  bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
            EVP_MAC_final(ctx, expected.data(), &len, expected.size()) == 1 && tag.size() == len &&
            CRYPTO_memcmp(tag.data(), expected.data(), len) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  return ok;
}

// VerifyHmac with the key's prepared context: keyed once, then reset for
// each verification (EVP_MAC_init without a key keeps the key and restarts
// from its precomputed pads), instead of duplicating a template each time.
bool VerifyHmacCached(JwsAlgorithm alg, const Jwk& key, std::string_view data, std::string_view tag) {
  ClearOpenSslErrors clear;
  const std::size_t slot = static_cast<std::size_t>(alg) - static_cast<std::size_t>(JwsAlgorithm::kHs256);
  {
    std::unique_lock<std::mutex> lock(key.cache->mu, std::try_to_lock);
    if (lock.owns_lock()) {
      auto& ctx = key.cache->mac[slot];
      if (!ctx) {
        ctx = NewHmacTemplate(alg, SecretView(key.secret));
      } else if (EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) != 1) {
        ctx.reset();
      }
      if (ctx) return CheckHmacTag(ctx.get(), data, tag);
    }
  }
  // Busy (another thread verifies with this key) or no context.
  return VerifyHmac(alg, SecretView(key.secret), data, tag);
}

// VerifyPublicKeySignature with the key's prepared context (not Ed25519,
// which signs the message itself, not a digest).
bool VerifyPublicKeyCached(JwsAlgorithm alg, const Jwk& key, std::string_view data, std::string_view signature) {
  ClearOpenSslErrors clear;
  EVP_PKEY* pkey = key.public_key.get();
  std::string der;
  std::string_view sig = signature;
  if (key.type == KeyType::kRsa) {
    if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey))) return false;
  } else {
    const int bits = alg == JwsAlgorithm::kEs256 ? 256 : 384;
    if (EVP_PKEY_get_bits(pkey) != bits || signature.size() != static_cast<std::size_t>(bits / 8 * 2)) return false;
    auto converted = RawEcdsaToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
    sig = der;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &digest_len, Digest(alg), nullptr) != 1) return false;
  auto verify = [&](EVP_PKEY_CTX* ctx) {
    return EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(), digest.data(),
                           digest_len) == 1;
  };
  {
    std::unique_lock<std::mutex> lock(key.cache->mu, std::try_to_lock);
    if (lock.owns_lock()) {
      auto& ctx = key.cache->pkey[static_cast<std::size_t>(alg)];
      if (!ctx) ctx = NewDigestVerifyContext(alg, pkey);
      if (ctx) return verify(ctx.get());
    }
  }
  // Busy (another thread verifies with this key) or no context: a fresh one.
  ossl::Ptr<EVP_PKEY_CTX> fresh = NewDigestVerifyContext(alg, pkey);
  return fresh && verify(fresh.get());
}

}  // namespace

bool VerifySignature(JwsAlgorithm alg, const Jwk& key, std::string_view data, std::string_view signature) {
  if (key.type != KeyTypeFor(alg)) return false;
  if (key.type == KeyType::kOct) return VerifyHmacCached(alg, key, data, signature);
  if (key.type == KeyType::kOkp) return VerifyPublicKeySignature(alg, key.public_key.get(), data, signature);
  return VerifyPublicKeyCached(alg, key, data, signature);
}

}  // namespace crosswalk
