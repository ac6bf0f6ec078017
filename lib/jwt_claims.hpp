// JWT claims (RFC 7519 section 4.1) as crosswalk checks them after the
// signature: the time window (exp, nbf, iat with a leeway for clock skew),
// the issuer and the audience. The identity a token names is (iss, sub).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jose_json.hpp"

namespace crosswalk {

struct ClaimsPolicy {
  std::int64_t now = 0;                 // Unix time, seconds
  std::int64_t leeway = 30;             // seconds of clock skew tolerated on exp, nbf and iat
  std::optional<std::string> issuer;    // iss must equal this
  std::optional<std::string> audience;  // when set, aud must be or contain this
};

// A token's claims: the payload as a JSON tape (for the caller to return
// whole) and where the registered claims crosswalk checks are in it.
struct JwtClaims {
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);
  JsonTape tape;
  std::size_t exp = kAbsent, nbf = kAbsent, iat = kAbsent;  // token indexes of the values
  std::size_t iss = kAbsent, aud = kAbsent, sub = kAbsent;
};

// Parses the payload: a JSON object without duplicate members (a verifier
// and an application must not read two different claim sets out of one
// token). Throws JwtError(kPayload).
JwtClaims ParseClaims(std::string_view payload);

// Checks the registered claims. exp is required: a login token that never
// expires is not accepted. Throws JwtError: kExp, kNbf, kIat, kIss, kAud.
void CheckClaims(const JwtClaims& claims, const ClaimsPolicy& policy);

// The iss claim when it is a string (read before verification to find the
// platform; trusted only after CheckClaims). Valid while claims lives.
std::optional<std::string_view> IssuerOf(const JwtClaims& claims);

// The sub claim: a non-empty string of at most max_bytes. Throws JwtError(kSub).
std::string SubjectOf(const JwtClaims& claims, std::size_t max_bytes = 512);

}  // namespace crosswalk
