// libFuzzer target: the crosswalk.encrypted text form and envelope decoding,
// the paths every value read from a table, a dump or a peer goes through.
// Text that parses must format back to itself; bytes that decode as an
// envelope must not open under a key that did not seal them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "aead.hpp"
#include "envelope.hpp"
#include "error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::vector<std::uint8_t> bytes = crosswalk::ParseEncryptedText(text);
    if (crosswalk::FormatEncryptedText(bytes) != text) std::abort();
  } catch (const crosswalk::Error&) {
  }
  // The raw bytes as an envelope: structure checks, then an open attempt
  // under a fixed key must fail (the fuzzer cannot forge a GCM/SIV tag).
  crosswalk::Envelope envelope;
  if (crosswalk::DecodeEnvelope(crosswalk::ByteView(data, size), &envelope) == nullptr) {
    static const std::vector<std::uint8_t> gcm_key(32, 0x42), siv_key(64, 0x42);
    const bool siv = crosswalk::ModeOf(envelope.header.algorithm) == crosswalk::AeadMode::kSiv;
    crosswalk::Aead aead(siv ? crosswalk::AeadMode::kSiv : crosswalk::AeadMode::kGcm, siv ? siv_key : gcm_key);
    std::vector<std::uint8_t> out(envelope.ciphertext.size + 1);
    if (crosswalk::OpenEnvelope(aead, envelope, crosswalk::ByteView(), out.data())) std::abort();
  }
  return 0;
}
