#include "key_wrap.hpp"

#include <openssl/rand.h>

#include <cstring>

#include "error.hpp"
#include "hmac.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

constexpr std::string_view kWrapLabel = "crosswalk data key v1";

// label | key id | version (4, big-endian) | algorithm (1)
using WrapAadBytes = std::array<std::uint8_t, kWrapLabel.size() + kKeyIdSize + 5>;
WrapAadBytes WrapAad(const KeyId& key_id, std::uint32_t version, Algorithm algorithm) {
  WrapAadBytes aad{};
  std::uint8_t* p = aad.data();
  std::memcpy(p, kWrapLabel.data(), kWrapLabel.size());
  p += kWrapLabel.size();
  std::memcpy(p, key_id.data(), kKeyIdSize);
  p += kKeyIdSize;
  for (int shift = 24; shift >= 0; shift -= 8) *p++ = static_cast<std::uint8_t>(version >> shift);
  *p = static_cast<std::uint8_t>(algorithm);
  return aad;
}

}  // namespace

std::size_t WrappedKeySize(Algorithm algorithm) { return 1 + kGcmNonceSize + DataKeySize(algorithm) + kAeadTagSize; }

SecretBytes NewDataKey(Algorithm algorithm) {
  SecretBytes key(DataKeySize(algorithm));
  if (RAND_priv_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw Error(sqlstate::kInternalError, "could not generate a random data key");
  }
  return key;
}

std::vector<std::uint8_t> WrapDataKey(Aead& wrap, const KeyId& key_id, std::uint32_t version, Algorithm algorithm,
                                      ByteView data_key) {
  if (data_key.size != DataKeySize(algorithm)) {
    throw Error(sqlstate::kInternalError, "data key has the wrong length for its algorithm");
  }
  std::vector<std::uint8_t> out(WrappedKeySize(algorithm));
  out[0] = kWrapFormat;
  if (RAND_bytes(out.data() + 1, static_cast<int>(kGcmNonceSize)) != 1) {
    throw Error(sqlstate::kInternalError, "could not generate a random nonce");
  }
  const auto aad = WrapAad(key_id, version, algorithm);
  std::uint8_t* ct = out.data() + 1 + kGcmNonceSize;
  wrap.Seal(ByteView(out.data() + 1, kGcmNonceSize), {ByteView(aad)}, data_key, ct, ct + data_key.size);
  return out;
}

SecretBytes UnwrapDataKey(Aead& wrap, const KeyId& key_id, std::uint32_t version, Algorithm algorithm,
                          ByteView wrapped) {
  if (wrapped.size != WrappedKeySize(algorithm) || wrapped.data[0] != kWrapFormat) {
    throw Error(sqlstate::kDataCorrupted, "wrapped data key of version " + std::to_string(version) +
                                              " has a bad length or format (" + std::to_string(wrapped.size) +
                                              " bytes)");
  }
  const auto aad = WrapAad(key_id, version, algorithm);
  SecretBytes key(DataKeySize(algorithm));
  const std::uint8_t* ct = wrapped.data + 1 + kGcmNonceSize;
  if (!wrap.Open(ByteView(wrapped.data + 1, kGcmNonceSize), {ByteView(aad)}, ByteView(ct, key.size()), ct + key.size(),
                 key.data())) {
    throw Error(sqlstate::kDataCorrupted,
                "could not unwrap data key version " + std::to_string(version) +
                    ": it was wrapped under another master key, or its stored bytes were changed",
                "Check that crosswalk.master_key_file or crosswalk.master_key_command gives the master key this "
                "database's keys were created with.");
  }
  return key;
}

SecretBytes DeriveBlindIndexKey(ByteView first_data_key, const KeyId& key_id) {
  std::string info = "crosswalk blind index v1";
  info.append(reinterpret_cast<const char*>(key_id.data()), key_id.size());
  return Hkdf(Digest::kSha256, first_data_key, std::string_view(), std::string_view(info), 32);
}

}  // namespace crosswalk
