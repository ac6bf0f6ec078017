#include "jwt_claims.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "jose_json.hpp"
#include "jwt_error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

using Json = nlohmann::json;

// A NumericDate claim (seconds since the epoch, possibly fractional), or
// std::nullopt when absent. Throws JwtError(check) when it is not a number.
std::optional<double> NumericDate(const Json& claims, const char* name, JwtCheck check) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number()) throw JwtError(check, std::string("\"") + name + "\" is not a number (a NumericDate)");
  return it->get<double>();
}

// "2001-09-09T01:46:40Z" for a representable time, the number otherwise.
std::string FormatTime(double seconds) {
  if (std::isfinite(seconds) && seconds > -1e11 && seconds < 1e11) {
    std::time_t t = static_cast<std::time_t>(std::floor(seconds));
    std::tm tm{};
    if (gmtime_r(&t, &tm) != nullptr) {
      char buf[32];
      if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) return buf;
    }
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", seconds);
  return buf;
}

}  // namespace

Json ParseClaims(std::string_view payload) {
  Json claims;
  try {
    claims = ParseStrictJson(payload);
  } catch (const JoseJsonError& e) {
    throw JwtError(JwtCheck::kPayload, std::string("the payload ") + e.what());
  }
  if (!claims.is_object()) throw JwtError(JwtCheck::kPayload, "the payload is not a JSON object");
  return claims;
}

void CheckClaims(const Json& claims, const ClaimsPolicy& policy) {
  const double now = static_cast<double>(policy.now);
  const double leeway = static_cast<double>(policy.leeway);
  const std::string leeway_text = " (leeway " + std::to_string(policy.leeway) + " s)";

  auto exp = NumericDate(claims, "exp", JwtCheck::kExp);
  if (!exp) throw JwtError(JwtCheck::kExp, "the token has no \"exp\"; tokens that never expire are not accepted");
  if (!(now < *exp + leeway)) {
    throw JwtError(JwtCheck::kExp, "the token expired at " + FormatTime(*exp) + leeway_text);
  }
  if (auto nbf = NumericDate(claims, "nbf", JwtCheck::kNbf); nbf && !(*nbf <= now + leeway)) {
    throw JwtError(JwtCheck::kNbf, "the token is not valid before " + FormatTime(*nbf) + leeway_text);
  }
  if (auto iat = NumericDate(claims, "iat", JwtCheck::kIat); iat && !(*iat <= now + leeway)) {
    throw JwtError(JwtCheck::kIat, "the token claims to be issued in the future, at " + FormatTime(*iat) + leeway_text);
  }

  auto iss = claims.find("iss");
  if (iss == claims.end()) throw JwtError(JwtCheck::kIss, "the token has no \"iss\"");
  if (!iss->is_string()) throw JwtError(JwtCheck::kIss, "\"iss\" is not a string");
  if (policy.issuer && iss->get<std::string>() != *policy.issuer) {
    throw JwtError(JwtCheck::kIss, "issuer " + QuoteUntrusted(iss->get<std::string>(), 64) +
                                       " is not the platform's issuer " + QuoteUntrusted(*policy.issuer, 64));
  }

  auto aud = claims.find("aud");
  bool has_audience = false;
  if (aud != claims.end()) {
    if (aud->is_string()) {
      has_audience = policy.audience && aud->get<std::string>() == *policy.audience;
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) throw JwtError(JwtCheck::kAud, "\"aud\" holds a non-string");
        has_audience = has_audience || (policy.audience && a.get<std::string>() == *policy.audience);
      }
    } else {
      throw JwtError(JwtCheck::kAud, "\"aud\" is neither a string nor an array of strings");
    }
  }
  if (policy.audience && !has_audience) {
    throw JwtError(JwtCheck::kAud, "the token's \"aud\" does not include the platform's audience " +
                                       QuoteUntrusted(*policy.audience, 64));
  }
}

std::optional<std::string> IssuerOf(const Json& claims) {
  auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string()) return std::nullopt;
  return iss->get<std::string>();
}

std::string SubjectOf(const Json& claims, std::size_t max_bytes) {
  auto sub = claims.find("sub");
  if (sub == claims.end()) throw JwtError(JwtCheck::kSub, "the token has no \"sub\"");
  if (!sub->is_string()) throw JwtError(JwtCheck::kSub, "\"sub\" is not a string");
  std::string out = sub->get<std::string>();
  if (out.empty() || out.size() > max_bytes) {
    throw JwtError(JwtCheck::kSub,
                   "\"sub\" must be 1 to " + std::to_string(max_bytes) + " bytes, it is " + std::to_string(out.size()));
  }
  return out;
}

}  // namespace crosswalk
