// The canonical identity: a 16-byte UUID that names one person across
// platforms. Text form is the standard hyphenated UUID form; new ids are
// RFC 9562 UUIDv7, time-ordered and strictly increasing within a process.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace crosswalk {

inline constexpr std::size_t kCanonicalIdSize = 16;
inline constexpr std::size_t kCanonicalIdTextSize = 36;

using CanonicalId = std::array<std::uint8_t, kCanonicalIdSize>;

// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex digits in either case,
// nothing else: no braces, no missing hyphens, no surrounding space).
// Throws crosswalk::Error with SQLSTATE 22P02 quoting (a bounded prefix of)
// the input.
CanonicalId ParseCanonicalId(std::string_view text);

// Writes the 36-character lower-case form into out (which must hold 36 bytes;
// no terminator is written).
void FormatCanonicalId(const CanonicalId& id, char* out);
std::string FormatCanonicalId(const CanonicalId& id);

// Makes a UUIDv7 from the given Unix time in milliseconds, strictly greater
// than any id this process made before (RFC 9562 section 6.2, method 1: a
// 12-bit counter in rand_a, seeded at random each millisecond, borrowing the
// next millisecond when it overflows or the clock goes back).
CanonicalId NewCanonicalId(std::uint64_t unix_ms);

// The same with the current time.
CanonicalId NewCanonicalId();

// Quotes untrusted input for an error message: at most max_bytes of it,
// non-printable bytes escaped, "..." when cut.
std::string QuoteForMessage(std::string_view input, std::size_t max_bytes = 64);

}  // namespace crosswalk
