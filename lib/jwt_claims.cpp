#include "jwt_claims.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "jose_json.hpp"
#include "jwt_error.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

using Kind = JsonToken::Kind;

// A NumericDate claim (seconds since the epoch, possibly fractional), or
// std::nullopt when absent. Throws JwtError(check) when it is not a number.
std::optional<double> NumericDate(const JwtClaims& claims, std::size_t at, const char* name, JwtCheck check) {
  if (at == JwtClaims::kAbsent) return std::nullopt;
  const JsonToken& t = claims.tape.tokens()[at];
  if (t.kind != Kind::kNumber) throw JwtError(check, std::string("\"") + name + "\" is not a number (a NumericDate)");
  return t.number;
}

std::string LeewayText(std::int64_t leeway) { return " (leeway " + std::to_string(leeway) + " s)"; }

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

JwtClaims ParseClaims(std::string_view payload) {
  JwtClaims claims;
  try {
    ParseStrictJsonTape(payload, claims.tape);
  } catch (const JoseJsonError& e) {
    throw JwtError(JwtCheck::kPayload, std::string("the payload ") + e.what());
  }
  if (claims.tape.tokens().empty() || claims.tape.tokens()[0].kind != Kind::kBeginObject) {
    throw JwtError(JwtCheck::kPayload, "the payload is not a JSON object");
  }
  claims.tape.ForEachMember(0, [&](std::string_view name, std::size_t value) {
    if (name.size() != 3) return;
    if (name == "exp")
      claims.exp = value;
    else if (name == "nbf")
      claims.nbf = value;
    else if (name == "iat")
      claims.iat = value;
    else if (name == "iss")
      claims.iss = value;
    else if (name == "aud")
      claims.aud = value;
    else if (name == "sub")
      claims.sub = value;
  });
  return claims;
}

void CheckClaims(const JwtClaims& claims, const ClaimsPolicy& policy) {
  const double now = static_cast<double>(policy.now);
  const double leeway = static_cast<double>(policy.leeway);
  const auto& tokens = claims.tape.tokens();

  auto exp = NumericDate(claims, claims.exp, "exp", JwtCheck::kExp);
  if (!exp) throw JwtError(JwtCheck::kExp, "the token has no \"exp\"; tokens that never expire are not accepted");
  if (!(now < *exp + leeway)) {
    throw JwtError(JwtCheck::kExp, "the token expired at " + FormatTime(*exp) + LeewayText(policy.leeway));
  }
  if (auto nbf = NumericDate(claims, claims.nbf, "nbf", JwtCheck::kNbf); nbf && !(*nbf <= now + leeway)) {
    throw JwtError(JwtCheck::kNbf, "the token is not valid before " + FormatTime(*nbf) + LeewayText(policy.leeway));
  }
  if (auto iat = NumericDate(claims, claims.iat, "iat", JwtCheck::kIat); iat && !(*iat <= now + leeway)) {
    throw JwtError(JwtCheck::kIat,
                   "the token claims to be issued in the future, at " + FormatTime(*iat) + LeewayText(policy.leeway));
  }

  if (claims.iss == JwtClaims::kAbsent) throw JwtError(JwtCheck::kIss, "the token has no \"iss\"");
  if (tokens[claims.iss].kind != Kind::kString) throw JwtError(JwtCheck::kIss, "\"iss\" is not a string");
  const std::string_view iss = claims.tape.TextOf(claims.iss);
  if (policy.issuer && iss != *policy.issuer) {
    throw JwtError(JwtCheck::kIss, "issuer " + QuoteUntrusted(iss, 64) + " is not the platform's issuer " +
                                       QuoteUntrusted(*policy.issuer, 64));
  }

  bool has_audience = false;
  if (claims.aud != JwtClaims::kAbsent) {
    const JsonToken& aud = tokens[claims.aud];
    if (aud.kind == Kind::kString) {
      has_audience = policy.audience && claims.tape.TextOf(aud) == *policy.audience;
    } else if (aud.kind == Kind::kBeginArray) {
      for (std::size_t i = claims.aud + 1; i < aud.end; i = claims.tape.After(i)) {
        if (tokens[i].kind != Kind::kString) throw JwtError(JwtCheck::kAud, "\"aud\" holds a non-string");
        has_audience = has_audience || (policy.audience && claims.tape.TextOf(i) == *policy.audience);
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

std::optional<std::string_view> IssuerOf(const JwtClaims& claims) {
  if (claims.iss == JwtClaims::kAbsent || claims.tape.tokens()[claims.iss].kind != Kind::kString) return std::nullopt;
  return claims.tape.TextOf(claims.iss);
}

std::string SubjectOf(const JwtClaims& claims, std::size_t max_bytes) {
  if (claims.sub == JwtClaims::kAbsent) throw JwtError(JwtCheck::kSub, "the token has no \"sub\"");
  if (claims.tape.tokens()[claims.sub].kind != Kind::kString) {
    throw JwtError(JwtCheck::kSub, "\"sub\" is not a string");
  }
  std::string_view sub = claims.tape.TextOf(claims.sub);
  if (sub.empty() || sub.size() > max_bytes) {
    throw JwtError(JwtCheck::kSub,
                   "\"sub\" must be 1 to " + std::to_string(max_bytes) + " bytes, it is " + std::to_string(sub.size()));
  }
  return std::string(sub);
}

}  // namespace crosswalk
