// Ed25519 signing keys for ledger checkpoints: a platform signs the tip of
// its ledger so that a peer can later prove which ledger state it vouched
// for. The private key (its 32-byte seed) is stored only wrapped by the key
// derived from the master key, like data keys.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "aead.hpp"
#include "bytes.hpp"

namespace crosswalk {

inline constexpr std::size_t kEd25519SeedSize = 32;
inline constexpr std::size_t kEd25519PublicKeySize = 32;
inline constexpr std::size_t kEd25519SignatureSize = 64;

using Ed25519PublicKey = std::array<std::uint8_t, kEd25519PublicKeySize>;
using Ed25519Signature = std::array<std::uint8_t, kEd25519SignatureSize>;

// A fresh random seed (the private key).
SecretBytes NewEd25519Seed();
Ed25519PublicKey Ed25519PublicKeyOf(ByteView seed);
Ed25519Signature Ed25519Sign(ByteView seed, ByteView message);
// False for a wrong signature, a malformed key or signature: never throws.
bool Ed25519Verify(ByteView public_key, ByteView message, ByteView signature);

// Wraps a seed under wrap (AES-256-GCM with the master-derived wrap key); the
// key's name is associated data, so a wrapped seed moved to another name does
// not unwrap. Layout: 0x01 | nonce (12) | encrypted seed (32) | tag (16).
std::vector<std::uint8_t> WrapSigningSeed(Aead& wrap, std::string_view key_name, ByteView seed);
// Throws crosswalk::Error XX001 when the bytes are malformed or do not
// authenticate (another master key, or another key's wrapped seed).
SecretBytes UnwrapSigningSeed(Aead& wrap, std::string_view key_name, ByteView wrapped);

// What a checkpoint signs: a fixed label, the entry's seq (8 bytes, big
// endian) and its hash (32 bytes). Throws for a hash of another length.
std::vector<std::uint8_t> CheckpointMessage(std::int64_t seq, ByteView tip_hash);

}  // namespace crosswalk
