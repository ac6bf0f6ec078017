#include "platform_secret.hpp"

#include <openssl/rand.h>

#include "error.hpp"
#include "jose_json.hpp"
#include "jwk.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

constexpr std::string_view kWrapLabel = "crosswalk platform secret v1";

// label | NUL | platform id (4, big-endian) | alg length (1) | alg |
// kid present (1) | kid. Every variable part is length-prefixed or last, so
// two different (platform, alg, kid) never give the same bytes.
std::string WrapAad(std::int32_t platform_id, const std::optional<std::string>& kid,
                    const std::optional<std::string>& alg) {
  std::string aad(kWrapLabel);
  aad.push_back('\0');
  const auto id = static_cast<std::uint32_t>(platform_id);
  for (int shift = 24; shift >= 0; shift -= 8) aad.push_back(static_cast<char>(id >> shift));
  const std::string& alg_name = alg ? *alg : std::string();
  aad.push_back(static_cast<char>(alg_name.size()));
  aad += alg_name;
  aad.push_back(kid ? '\1' : '\0');
  if (kid) aad += *kid;
  return aad;
}

[[noreturn]] void ThrowBadSecret(const std::string& what, std::string hint = {}) {
  throw Error(sqlstate::kInvalidParameterValue, what, std::move(hint));
}

}  // namespace

void CheckPlatformSecret(const std::optional<std::string>& kid, const std::optional<std::string>& alg,
                         ByteView secret) {
  std::size_t needed = 32;
  if (alg) {
    auto parsed = ParseJwsAlgorithm(*alg);
    if (!parsed || KeyTypeFor(*parsed) != KeyType::kOct) {
      ThrowBadSecret("an HMAC secret's alg must be HS256, HS384 or HS512, not " + QuoteUntrusted(*alg),
                     "Pass NULL to accept every HS algorithm the secret is long enough for.");
    }
    needed = *parsed == JwsAlgorithm::kHs256 ? 32 : *parsed == JwsAlgorithm::kHs384 ? 48 : 64;
  }
  if (secret.size < needed) {
    ThrowBadSecret("the secret is " + std::to_string(secret.size) + " bytes; " + (alg ? *alg : std::string("HS256")) +
                       " needs at least " + std::to_string(needed) + " (RFC 7518 section 3.2)",
                   "Use a random secret as long as the hash: 32 bytes for HS256, 48 for HS384, 64 for HS512.");
  }
  if (secret.size > kMaxPlatformSecretSize) {
    ThrowBadSecret("the secret is " + std::to_string(secret.size) + " bytes, more than " +
                   std::to_string(kMaxPlatformSecretSize));
  }
  if (kid && (kid->empty() || kid->size() > kMaxKidBytes)) {
    ThrowBadSecret("a kid is NULL or 1 to " + std::to_string(kMaxKidBytes) + " bytes, not " +
                   std::to_string(kid->size()));
  }
}

std::vector<std::uint8_t> WrapPlatformSecret(Aead& wrap, std::int32_t platform_id,
                                             const std::optional<std::string>& kid,
                                             const std::optional<std::string>& alg, ByteView secret) {
  CheckPlatformSecret(kid, alg, secret);
  std::vector<std::uint8_t> out(1 + kGcmNonceSize + secret.size + kAeadTagSize);
  out[0] = kPlatformSecretWrapFormat;
  if (RAND_bytes(out.data() + 1, static_cast<int>(kGcmNonceSize)) != 1) {
    throw Error(sqlstate::kInternalError, "could not generate a random nonce");
  }
  const std::string aad = WrapAad(platform_id, kid, alg);
  std::uint8_t* ct = out.data() + 1 + kGcmNonceSize;
  wrap.Seal(ByteView(out.data() + 1, kGcmNonceSize), {ByteView(aad)}, secret, ct, ct + secret.size);
  return out;
}

SecretBytes UnwrapPlatformSecret(Aead& wrap, std::int32_t platform_id, const std::optional<std::string>& kid,
                                 const std::optional<std::string>& alg, ByteView wrapped) {
  const std::string which = kid ? "kid " + QuoteUntrusted(*kid) : std::string("without a kid");
  if (wrapped.size <= 1 + kGcmNonceSize + kAeadTagSize || wrapped.data[0] != kPlatformSecretWrapFormat) {
    throw Error(sqlstate::kDataCorrupted, "the stored HMAC secret " + which + " is malformed");
  }
  const std::size_t n = wrapped.size - 1 - kGcmNonceSize - kAeadTagSize;
  const std::string aad = WrapAad(platform_id, kid, alg);
  SecretBytes secret(n);
  const std::uint8_t* ct = wrapped.data + 1 + kGcmNonceSize;
  if (!wrap.Open(wrapped.sub(1, kGcmNonceSize), {ByteView(aad)}, ByteView(ct, n), ct + n, secret.data())) {
    throw Error(sqlstate::kDataCorrupted, "the stored HMAC secret " + which + " does not unwrap under this master key",
                "It was stored under another master key, or its row was changed or copied from another platform; "
                "crosswalk.set_platform_secret() stores it again.");
  }
  return secret;
}

}  // namespace crosswalk
