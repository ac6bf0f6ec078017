// match_key(): a keyed, normalised HMAC of an identifying value (an email
// address, a phone number) so that platforms can find the same person
// without storing or exchanging the value. Every server with the same master
// key computes the same match key for the same normalised value.
#pragma once

#include <string>
#include <string_view>

#include "hmac.hpp"

namespace crosswalk {

inline constexpr std::size_t kMatchKeySize = 32;

// The value in its normal form for kind: "email" trims ASCII white space and
// lower-cases ASCII letters; "phone" keeps the ASCII digits only. Throws
// 22023 for another kind, or when nothing is left to match.
std::string NormalizeForMatch(std::string_view kind, std::string_view value);

// HMAC-SHA-256 (under the derived match key) of kind | 0x00 | normal form:
// the kind separates the domains, so an email and a phone number never
// collide. Writes kMatchKeySize bytes.
void ComputeMatchKey(Hmac& match_hmac, std::string_view kind, std::string_view normalized, std::uint8_t* out);

}  // namespace crosswalk
