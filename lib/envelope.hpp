// The ciphertext envelope behind crosswalk.encrypted.
//
// Binary layout, format version 1 (all integers big-endian):
//
//   offset  size  field
//   0       1     format version (kEnvelopeVersion)
//   1       1     algorithm (1 = AES-256-GCM, 2 = AES-256-SIV)
//   2       16    key id (the UUID of crosswalk.key)
//   18      4     key version (>= 1)
//   22      N     nonce: 12 bytes for GCM, none for SIV
//   22+N    M     ciphertext (as long as the plaintext)
//   22+N+M  16    tag (for SIV: the synthetic IV)
//
// The 22-byte header and the caller's context are the associated data, so a
// value moved to another key, key version, row or column does not
// authenticate. Text form: "cw1:" followed by the base64url of the bytes.
#pragma once

#include <array>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "aead.hpp"
#include "bytes.hpp"

namespace crosswalk {

inline constexpr std::uint8_t kEnvelopeVersion = 1;  // CROSSWALK_ENVELOPE_VERSION
inline constexpr std::size_t kEnvelopeHeaderSize = 22;
inline constexpr std::size_t kKeyIdSize = 16;
inline constexpr std::string_view kEncryptedTextPrefix = "cw1:";

enum class Algorithm : std::uint8_t { kAes256Gcm = 1, kAes256Siv = 2 };

using KeyId = std::array<std::uint8_t, kKeyIdSize>;

// The SQL name of an algorithm ("aes-256-gcm", "aes-256-siv") and back;
// ParseAlgorithm returns nullopt for anything else.
const char* AlgorithmName(Algorithm algorithm);
std::optional<Algorithm> ParseAlgorithm(std::string_view name);
// Nonce bytes in the envelope (12 for GCM, 0 for SIV). Inline, with the
// sizes below: encrypt() computes them for every value.
inline std::size_t NonceSize(Algorithm algorithm) { return algorithm == Algorithm::kAes256Gcm ? kGcmNonceSize : 0; }
// Data key bytes: 32 for AES-256-GCM, 64 for AES-256-SIV (two AES-256 keys).
inline std::size_t DataKeySize(Algorithm algorithm) { return algorithm == Algorithm::kAes256Gcm ? 32 : 64; }
// The AEAD mode that implements the algorithm.
inline AeadMode ModeOf(Algorithm algorithm) {
  return algorithm == Algorithm::kAes256Gcm ? AeadMode::kGcm : AeadMode::kSiv;
}

struct EnvelopeHeader {
  Algorithm algorithm = Algorithm::kAes256Gcm;
  KeyId key_id{};
  std::uint32_t key_version = 0;
};

// A decoded envelope: views into the bytes it was decoded from.
struct Envelope {
  EnvelopeHeader header;
  ByteView header_bytes;
  ByteView nonce;
  ByteView ciphertext;
  ByteView tag;
};

// Bytes of the envelope of a plaintext of n bytes, or nullopt when that
// would overflow size_t.
inline std::optional<std::size_t> EnvelopeSize(Algorithm algorithm, std::size_t plaintext_size) {
  const std::size_t overhead = kEnvelopeHeaderSize + NonceSize(algorithm) + kAeadTagSize;
  if (plaintext_size > std::numeric_limits<std::size_t>::max() - overhead) return std::nullopt;
  return plaintext_size + overhead;
}

// The largest PostgreSQL value, varlena header included (MaxAllocSize,
// 1 GB - 1; the extension static_asserts that they agree).
inline constexpr std::size_t kMaxValueSize = 0x3fffffff;
inline constexpr std::size_t kVarlenaHeaderSize = 4;

// The largest plaintext whose envelope fits in one PostgreSQL value:
// kMaxValueSize - 4 - 50 = 1073741769 bytes for GCM, 1073741781 for SIV.
inline std::size_t MaxPlaintextSize(Algorithm algorithm) {
  return kMaxValueSize - kVarlenaHeaderSize - (kEnvelopeHeaderSize + NonceSize(algorithm) + kAeadTagSize);
}
// Throws 54000 when a plaintext of n bytes is over MaxPlaintextSize.
[[noreturn]] void ThrowValueTooLarge(Algorithm algorithm, std::size_t plaintext_size);
inline void RequireValueFits(Algorithm algorithm, std::size_t plaintext_size) {
  if (plaintext_size > MaxPlaintextSize(algorithm)) ThrowValueTooLarge(algorithm, plaintext_size);
}

// Encrypts plaintext with aead (whose key must be the data key of
// header.key_id/key_version) and writes the whole envelope to out, which must
// hold EnvelopeSize(...) bytes. GCM takes a fresh random 96-bit nonce.
void EncodeEnvelope(Aead& aead, const EnvelopeHeader& header, ByteView context, ByteView plaintext, std::uint8_t* out);

// Checks the structure of bytes (version, algorithm, key version, lengths)
// and fills *out with views into them. Returns nullptr on success, else why
// the bytes are not an envelope. It cannot check the tag.
const char* DecodeEnvelope(ByteView bytes, Envelope* out);

// Authenticates the envelope with its header and context and decrypts the
// ciphertext into out (envelope.ciphertext.size bytes). False when it does
// not authenticate: wrong key, wrong context, or tampered bytes.
bool OpenEnvelope(Aead& aead, const Envelope& envelope, ByteView context, std::uint8_t* out);

// Text form: characters of the text form of an envelope of n bytes.
inline std::size_t EncryptedTextSize(std::size_t envelope_size);
// Writes the text form (EncryptedTextSize chars, no terminator) to out.
void FormatEncryptedText(ByteView envelope, char* out);
std::string FormatEncryptedText(ByteView envelope);
// The envelope bytes a text form decodes to (before any check of them), or
// nullptr-reason as DecodeEnvelope. ParseEncryptedText checks the prefix and
// the base64url, decodes into out (EncryptedTextDecodedSize bytes) and then
// checks the envelope's structure. Both throw crosswalk::Error 22P02 quoting
// a bounded prefix of the text.
std::size_t EncryptedTextDecodedSize(std::string_view text);
void ParseEncryptedText(std::string_view text, std::uint8_t* out);
std::vector<std::uint8_t> ParseEncryptedText(std::string_view text);

}  // namespace crosswalk

#include "base64url.hpp"

inline std::size_t crosswalk::EncryptedTextSize(std::size_t envelope_size) {
  return kEncryptedTextPrefix.size() + Base64UrlEncodedSize(envelope_size);
}
