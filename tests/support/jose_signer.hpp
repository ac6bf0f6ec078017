// Test-only JWS signing: crosswalk verifies tokens and never signs them, so
// the tests make their own keys and tokens with OpenSSL here and feed them
// to the verifier under test.
#pragma once

#include <openssl/evp.h>

#include <string>

#include "jose_ossl.hpp"
#include "jwk.hpp"

namespace crosswalk::test {

// A fresh key: "RSA" (2048 bits), "P-256", "P-384" or "Ed25519".
ossl::Ptr<EVP_PKEY> GenerateKey(const std::string& kind);

// The public JWK (JSON text) of key, with kid and alg members when given.
std::string PublicJwk(EVP_PKEY* key, const std::string& kid = "", const std::string& alg = "");

// A compact JWS over the given header and payload JSON texts (used as they
// are, so tests can send malformed JSON), signed with key or secret.
std::string SignJws(const std::string& header, const std::string& payload, JwsAlgorithm alg, EVP_PKEY* key);
std::string SignJwsHmac(const std::string& header, const std::string& payload, JwsAlgorithm alg,
                        const std::string& secret);

}  // namespace crosswalk::test
