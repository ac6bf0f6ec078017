// JWT claims (RFC 7519 section 4.1) as crosswalk checks them after the
// signature: the time window (exp, nbf, iat with a leeway for clock skew),
// the issuer and the audience. The identity a token names is (iss, sub).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crosswalk {

struct ClaimsPolicy {
  std::int64_t now = 0;                 // Unix time, seconds
  std::int64_t leeway = 30;             // seconds of clock skew tolerated on exp, nbf and iat
  std::optional<std::string> issuer;    // iss must equal this
  std::optional<std::string> audience;  // when set, aud must be or contain this
};

// Parses the payload: a JSON object without duplicate members (a verifier
// and an application must not read two different claim sets out of one
// token). Throws JwtError(kPayload).
nlohmann::json ParseClaims(std::string_view payload);

// Checks the registered claims. exp is required: a login token that never
// expires is not accepted. Throws JwtError: kExp, kNbf, kIat, kIss, kAud.
void CheckClaims(const nlohmann::json& claims, const ClaimsPolicy& policy);

// The iss claim when it is a string (read before verification to find the
// platform; trusted only after CheckClaims).
std::optional<std::string> IssuerOf(const nlohmann::json& claims);

// The sub claim: a non-empty string of at most max_bytes. Throws JwtError(kSub).
std::string SubjectOf(const nlohmann::json& claims, std::size_t max_bytes = 512);

}  // namespace crosswalk
