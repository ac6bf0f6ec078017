#include "jose_signer.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <stdexcept>
#include <vector>

#include "base64url.hpp"
#include "jws.hpp"

namespace crosswalk::test {
namespace {

const char* DigestName(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRs256:
    case JwsAlgorithm::kPs256:
    case JwsAlgorithm::kEs256:
    case JwsAlgorithm::kHs256:
      return "SHA256";
    case JwsAlgorithm::kRs384:
    case JwsAlgorithm::kPs384:
    case JwsAlgorithm::kEs384:
    case JwsAlgorithm::kHs384:
      return "SHA384";
    case JwsAlgorithm::kRs512:
    case JwsAlgorithm::kPs512:
    case JwsAlgorithm::kHs512:
      return "SHA512";
    case JwsAlgorithm::kEdDsa:
      return nullptr;
  }
  return nullptr;
}

std::string BnBytes(EVP_PKEY* key, const char* name, std::size_t pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("no parameter");
  ossl::Ptr<BIGNUM> owned(bn);
  std::size_t n = std::max<std::size_t>(pad, static_cast<std::size_t>(BN_num_bytes(bn)));
  std::string out(n, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

}  // namespace

ossl::Ptr<EVP_PKEY> GenerateKey(const std::string& kind) {
  EVP_PKEY* key = nullptr;
  if (kind == "RSA") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  } else if (kind == "P-256") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else if (kind == "P-384") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  } else if (kind == "Ed25519") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  }
  if (key == nullptr) throw std::runtime_error("cannot generate " + kind);
  return ossl::Ptr<EVP_PKEY>(key);
}

std::string PublicJwk(EVP_PKEY* key, const std::string& kid, const std::string& alg) {
  nlohmann::json jwk;
  if (EVP_PKEY_is_a(key, "RSA")) {
    jwk["kty"] = "RSA";
    jwk["n"] = EncodeBase64Url(BnBytes(key, OSSL_PKEY_PARAM_RSA_N));
    jwk["e"] = EncodeBase64Url(BnBytes(key, OSSL_PKEY_PARAM_RSA_E));
  } else if (EVP_PKEY_is_a(key, "EC")) {
    std::size_t size = EVP_PKEY_get_bits(key) / 8;
    jwk["kty"] = "EC";
    jwk["crv"] = size == 32 ? "P-256" : "P-384";
    jwk["x"] = EncodeBase64Url(BnBytes(key, OSSL_PKEY_PARAM_EC_PUB_X, size));
    jwk["y"] = EncodeBase64Url(BnBytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, size));
  } else {
    unsigned char raw[32];
    std::size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) throw std::runtime_error("no raw key");
    jwk["kty"] = "OKP";
    jwk["crv"] = "Ed25519";
    jwk["x"] = EncodeBase64Url(std::string(reinterpret_cast<char*>(raw), len));
  }
  if (!kid.empty()) jwk["kid"] = kid;
  if (!alg.empty()) jwk["alg"] = alg;
  return jwk.dump();
}

std::string SignJws(const std::string& header, const std::string& payload, JwsAlgorithm alg, EVP_PKEY* key) {
  std::string input = EncodeBase64Url(header) + "." + EncodeBase64Url(payload);
  ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(ctx.get(), &pctx, DigestName(alg), nullptr, nullptr, key, nullptr) != 1) {
    throw std::runtime_error("sign init");
  }
  if (alg == JwsAlgorithm::kPs256 || alg == JwsAlgorithm::kPs384 || alg == JwsAlgorithm::kPs512) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) throw std::runtime_error("sign size");
  std::vector<unsigned char> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, input.size()) != 1) throw std::runtime_error("sign");
  std::string out(reinterpret_cast<char*>(sig.data()), len);
  if (EVP_PKEY_is_a(key, "EC")) {
    // DER -> raw r||s of the field size.
    const unsigned char* p = sig.data();
    ossl::Ptr<ECDSA_SIG> ecdsa(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
    std::size_t size = EVP_PKEY_get_bits(key) / 8;
    std::string raw(2 * size, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(size));
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), reinterpret_cast<unsigned char*>(raw.data()) + size,
                 static_cast<int>(size));
    out = raw;
  }
  return input + "." + EncodeBase64Url(out);
}

std::string SignJwsHmac(const std::string& header, const std::string& payload, JwsAlgorithm alg,
                        const std::string& secret) {
  std::string input = EncodeBase64Url(header) + "." + EncodeBase64Url(payload);
  return input + "." + EncodeBase64Url(ComputeHmac(alg, secret, input));
}

}  // namespace crosswalk::test
