// Data keys: random, stored only wrapped by the key derived from the master
// key. The wrap is AES-256-GCM with a random nonce and, as associated data, a
// label, the key id, the key version and the algorithm: a wrapped key copied
// to another key id or version does not unwrap.
//
// Wrapped layout (format 1): 0x01 | nonce (12) | encrypted data key | tag (16).
#pragma once

#include <vector>

#include "aead.hpp"
#include "envelope.hpp"

namespace crosswalk {

inline constexpr std::uint8_t kWrapFormat = 1;

// Bytes of a wrapped data key for the algorithm (61 for GCM, 93 for SIV).
std::size_t WrappedKeySize(Algorithm algorithm);

// A fresh random data key of DataKeySize(algorithm) bytes.
SecretBytes NewDataKey(Algorithm algorithm);

// Wraps data_key under wrap (an AES-256-GCM Aead keyed with the derived wrap key).
std::vector<std::uint8_t> WrapDataKey(Aead& wrap, const KeyId& key_id, std::uint32_t version, Algorithm algorithm,
                                      ByteView data_key);

// Unwraps; throws crosswalk::Error XX001 when the bytes are malformed or do not
// authenticate (another master key, or a wrapped key moved between keys).
SecretBytes UnwrapDataKey(Aead& wrap, const KeyId& key_id, std::uint32_t version, Algorithm algorithm,
                          ByteView wrapped);

// The key of blind_index() for a key: derived from the data key of its
// first version, so rotation does not change a column's blind indexes.
SecretBytes DeriveBlindIndexKey(ByteView first_data_key, const KeyId& key_id);

}  // namespace crosswalk
