#include "envelope.hpp"

#include <openssl/rand.h>
#include <pthread.h>

#include <cstring>
#include <limits>

#include "canonical_id.hpp"
#include "error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

void WriteHeader(const EnvelopeHeader& h, std::uint8_t* out) {
  out[0] = kEnvelopeVersion;
  out[1] = static_cast<std::uint8_t>(h.algorithm);
  std::memcpy(out + 2, h.key_id.data(), kKeyIdSize);
  out[18] = static_cast<std::uint8_t>(h.key_version >> 24);
  out[19] = static_cast<std::uint8_t>(h.key_version >> 16);
  out[20] = static_cast<std::uint8_t>(h.key_version >> 8);
  out[21] = static_cast<std::uint8_t>(h.key_version);
}

// Random GCM nonces, drawn from OpenSSL's CSPRNG a buffer at a time: one
// RAND_bytes call costs about as much as encrypting a short value, so it is
// amortised over 340 nonces. The buffer belongs to one thread of one process
// (a forked child refills its own), and nonces are public, so buffering them
// changes nothing about their randomness. A fork empties the forking
// thread's buffer in the child (pthread_atfork), so parent and child never
// hand out the same nonces.
// One thread_local object, not two: in a shared library every access to a
// thread_local is a __tls_get_addr call.
struct NonceBuffer {
  std::uint8_t bytes[4080] = {};
  std::size_t used = sizeof bytes;
};
thread_local NonceBuffer t_nonces;

void ForgetNoncesInChild() { t_nonces.used = sizeof t_nonces.bytes; }

void RandomNonce(std::uint8_t* out, std::size_t n) {
  static const int kAtFork = pthread_atfork(nullptr, nullptr, ForgetNoncesInChild);
  (void)kAtFork;
  NonceBuffer& b = t_nonces;
  if (b.used + n > sizeof b.bytes) {
    if (RAND_bytes(b.bytes, static_cast<int>(sizeof b.bytes)) != 1) {
      throw Error(sqlstate::kInternalError, "could not generate a random nonce");
    }
    b.used = 0;
  }
  std::memcpy(out, b.bytes + b.used, n);
  b.used += n;
}

[[noreturn]] void ThrowBadText(std::string_view text, const std::string& why) {
  throw Error(sqlstate::kInvalidTextRepresentation,
              "invalid input syntax for type encrypted: " + QuoteForMessage(text) + ": " + why,
              "An encrypted value is the text \"cw1:\" followed by base64url, as crosswalk.encrypt() returns it.");
}

}  // namespace

const char* AlgorithmName(Algorithm algorithm) {
  return algorithm == Algorithm::kAes256Siv ? "aes-256-siv" : "aes-256-gcm";
}

std::optional<Algorithm> ParseAlgorithm(std::string_view name) {
  if (name == "aes-256-gcm") return Algorithm::kAes256Gcm;
  if (name == "aes-256-siv") return Algorithm::kAes256Siv;
  return std::nullopt;
}

void ThrowValueTooLarge(Algorithm algorithm, std::size_t plaintext_size) {
  throw Error(sqlstate::kProgramLimitExceeded,
              "cannot encrypt a value of " + std::to_string(plaintext_size) + " bytes: its " +
                  AlgorithmName(algorithm) + " envelope would exceed the 1 GB limit of a PostgreSQL value",
              "The largest plaintext is " + std::to_string(MaxPlaintextSize(algorithm)) + " bytes.");
}

void EncodeEnvelope(Aead& aead, const EnvelopeHeader& header, ByteView context, ByteView plaintext, std::uint8_t* out) {
  if (aead.mode() != ModeOf(header.algorithm)) {
    throw Error(sqlstate::kInternalError, "envelope algorithm does not match the key's cipher");
  }
  WriteHeader(header, out);
  const std::size_t nonce_size = NonceSize(header.algorithm);
  std::uint8_t* nonce = out + kEnvelopeHeaderSize;
  if (nonce_size > 0) RandomNonce(nonce, nonce_size);
  std::uint8_t* ciphertext = nonce + nonce_size;
  aead.Seal(ByteView(nonce, nonce_size), {ByteView(out, kEnvelopeHeaderSize), context}, plaintext, ciphertext,
            ciphertext + plaintext.size);
}

const char* DecodeEnvelope(ByteView bytes, Envelope* out) {
  if (bytes.size < 1) return "it is empty";
  if (bytes.data[0] != kEnvelopeVersion) return "unknown format version";
  if (bytes.size < kEnvelopeHeaderSize) return "it is shorter than the envelope header";
  const std::uint8_t alg = bytes.data[1];
  if (alg != static_cast<std::uint8_t>(Algorithm::kAes256Gcm) &&
      alg != static_cast<std::uint8_t>(Algorithm::kAes256Siv)) {
    return "unknown algorithm";
  }
  EnvelopeHeader& h = out->header;
  h.algorithm = static_cast<Algorithm>(alg);
  std::memcpy(h.key_id.data(), bytes.data + 2, kKeyIdSize);
  h.key_version = std::uint32_t{bytes.data[18]} << 24 | std::uint32_t{bytes.data[19]} << 16 |
                  std::uint32_t{bytes.data[20]} << 8 | bytes.data[21];
  if (h.key_version == 0 || h.key_version > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max())) {
    return "key version out of range";
  }
  const std::size_t nonce_size = NonceSize(h.algorithm);
  if (bytes.size < kEnvelopeHeaderSize + nonce_size + kAeadTagSize) return "it is too short for its nonce and tag";
  out->header_bytes = bytes.sub(0, kEnvelopeHeaderSize);
  out->nonce = bytes.sub(kEnvelopeHeaderSize, nonce_size);
  const std::size_t ct_size = bytes.size - kEnvelopeHeaderSize - nonce_size - kAeadTagSize;
  out->ciphertext = bytes.sub(kEnvelopeHeaderSize + nonce_size, ct_size);
  out->tag = bytes.sub(bytes.size - kAeadTagSize, kAeadTagSize);
  return nullptr;
}

bool OpenEnvelope(Aead& aead, const Envelope& envelope, ByteView context, std::uint8_t* out) {
  if (aead.mode() != ModeOf(envelope.header.algorithm)) return false;
  return aead.Open(envelope.nonce, {envelope.header_bytes, context}, envelope.ciphertext, envelope.tag.data, out);
}

void FormatEncryptedText(ByteView envelope, char* out) {
  std::memcpy(out, kEncryptedTextPrefix.data(), kEncryptedTextPrefix.size());
  EncodeBase64Url(envelope.data, envelope.size, out + kEncryptedTextPrefix.size());
}

std::string FormatEncryptedText(ByteView envelope) {
  std::string out(EncryptedTextSize(envelope.size), '\0');
  FormatEncryptedText(envelope, out.data());
  return out;
}

std::size_t EncryptedTextDecodedSize(std::string_view text) {
  if (text.substr(0, kEncryptedTextPrefix.size()) != kEncryptedTextPrefix) {
    ThrowBadText(text, "it does not start with \"cw1:\"");
  }
  auto n = Base64UrlDecodedSize(text.size() - kEncryptedTextPrefix.size());
  if (!n) ThrowBadText(text, "its base64url has an impossible length");
  return *n;
}

void ParseEncryptedText(std::string_view text, std::uint8_t* out) {
  const std::size_t n = EncryptedTextDecodedSize(text);
  if (!DecodeBase64Url(text.substr(kEncryptedTextPrefix.size()), out)) ThrowBadText(text, "it is not base64url");
  Envelope envelope;
  if (const char* why = DecodeEnvelope(ByteView(out, n), &envelope)) ThrowBadText(text, why);
}

std::vector<std::uint8_t> ParseEncryptedText(std::string_view text) {
  std::vector<std::uint8_t> out(EncryptedTextDecodedSize(text));
  ParseEncryptedText(text, out.data());
  return out;
}

}  // namespace crosswalk
