// Base64url without padding (RFC 4648 section 5), strict: the decoder
// rejects padding, whitespace, characters outside the alphabet and encodings
// whose unused trailing bits are not zero, so every byte string has exactly
// one text form. (OpenSSL's EVP_DecodeBlock is the standard alphabet, pads,
// and skips whitespace: a text form parsed by it would not be canonical.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crosswalk {

// Characters of the encoding of n bytes.
inline constexpr std::size_t Base64UrlEncodedSize(std::size_t n) { return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1); }

// Bytes encoded by a text of n characters, or nullopt when no byte string
// encodes to n characters (n % 4 == 1).
std::optional<std::size_t> Base64UrlDecodedSize(std::size_t n);

// Writes the encoding of data[0..n) to out (Base64UrlEncodedSize(n) chars).
void EncodeBase64Url(const std::uint8_t* data, std::size_t n, char* out);

// Decodes text into out (Base64UrlDecodedSize(text.size()) bytes); false on
// any character, length or trailing-bit error.
bool DecodeBase64Url(std::string_view text, std::uint8_t* out);

// The same on strings, for JOSE (tokens, JWK members): the encoding of
// bytes, and the bytes of a text or nullopt when it is not strict base64url.
std::string EncodeBase64Url(std::string_view bytes);
std::optional<std::string> DecodeBase64Url(std::string_view text);

}  // namespace crosswalk
