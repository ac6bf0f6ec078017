// A platform's HMAC secret (HS256/384/512 tokens), stored only wrapped by the
// key derived from the master key, like data keys and signing seeds. The
// wrap is AES-256-GCM with a random nonce; its associated data is a label of
// its own, the platform's id, the secret's alg and its kid, so a wrapped
// secret copied to another platform, kid or alg does not unwrap.
//
// Wrapped layout (format 1): 0x01 | nonce (12) | encrypted secret | tag (16).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aead.hpp"
#include "bytes.hpp"

namespace crosswalk {

inline constexpr std::uint8_t kPlatformSecretWrapFormat = 1;
// Secrets longer than this are refused: HMAC hashes long keys down anyway,
// and a bound keeps the stored row small.
inline constexpr std::size_t kMaxPlatformSecretSize = 1024;

// Checks a secret before it is stored: alg is "HS256", "HS384", "HS512" or
// absent (any of them the secret is long enough for); the secret is at least
// as long as the hash output of alg (32 bytes without one, RFC 7518 section
// 3.2) and at most kMaxPlatformSecretSize; kid is absent or 1 to 256 bytes.
// Throws crosswalk::Error 22023 saying what is wrong, never quoting the secret.
void CheckPlatformSecret(const std::optional<std::string>& kid, const std::optional<std::string>& alg, ByteView secret);

// Wraps a checked secret under wrap (the master-derived AES-256-GCM key).
std::vector<std::uint8_t> WrapPlatformSecret(Aead& wrap, std::int32_t platform_id,
                                             const std::optional<std::string>& kid,
                                             const std::optional<std::string>& alg, ByteView secret);

// Unwraps; throws crosswalk::Error XX001 when the bytes are malformed or do
// not authenticate (another master key, or a secret moved between platforms,
// kids or algorithms).
SecretBytes UnwrapPlatformSecret(Aead& wrap, std::int32_t platform_id, const std::optional<std::string>& kid,
                                 const std::optional<std::string>& alg, ByteView wrapped);

}  // namespace crosswalk
