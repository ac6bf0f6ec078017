// JWS compact serialization (RFC 7515 section 7.1): parsing a token into its
// protected header, payload and signature, and verifying the signature with
// a platform's keys. Only the algorithms of JwsAlgorithm are accepted; "none"
// never is. Keys come only from the caller's JwkSet: header members that
// point at keys elsewhere (jku, jwk, x5u, x5c) are ignored, never followed.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jwk.hpp"

namespace crosswalk {

// Tokens longer than this are rejected before any parsing.
inline constexpr std::size_t kMaxJwsSize = 16 * 1024;

struct JwsHeader {
  JwsAlgorithm alg = JwsAlgorithm::kHs256;
  std::optional<std::string> kid;
  std::optional<std::string> typ;
};

struct Jws {
  JwsHeader header;
  std::string signing_input;  // "BASE64URL(header).BASE64URL(payload)", what was signed
  std::string payload;        // decoded payload bytes
  std::string signature;      // decoded signature bytes
};

// Parses a compact JWS without verifying it. Throws JwtError: kSize,
// kFormat, kBase64Url, kHeader (non-JSON, duplicate member, not an object,
// wrong member types), kAlg (missing, "none", unsupported), kKid (too long),
// kCrit (any critical extension: crosswalk understands none).
Jws ParseJws(std::string_view token);

// Verifies jws's signature with the key its header selects from keys.
// Throws JwtError: kKid, kKey, kJwks (see JwkSet::KeysFor), kSignature.
void VerifyJwsSignature(const Jws& jws, const JwkSet& keys);

// ParseJws and VerifyJwsSignature.
Jws VerifyJws(std::string_view token, const JwkSet& keys);

// The signature primitives, exposed for the Wycheproof tests. Each returns
// false for a signature that does not verify, including one of the wrong
// length; none throws for bad signatures.
//
// HMAC-SHA-256/384/512 tag of data (alg must be an HS algorithm).
std::string ComputeHmac(JwsAlgorithm alg, std::string_view key, std::string_view data);
// Constant-time comparison of a full-length tag with the HMAC of data.
bool VerifyHmac(JwsAlgorithm alg, std::string_view key, std::string_view data, std::string_view tag);
// RSASSA-PKCS1-v1_5, RSASSA-PSS (salt length = hash length, MGF1 with the
// same hash), ECDSA with a raw r||s signature (RFC 7518 section 3.4), or
// Ed25519, over data with a public key of the matching type.
bool VerifyPublicKeySignature(JwsAlgorithm alg, EVP_PKEY* key, std::string_view data, std::string_view signature);
// Dispatches to VerifyHmac or VerifyPublicKeySignature by key type.
bool VerifySignature(JwsAlgorithm alg, const Jwk& key, std::string_view data, std::string_view signature);

}  // namespace crosswalk
