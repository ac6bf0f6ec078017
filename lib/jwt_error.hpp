// Why a token was rejected. Every rejection is a crosswalk::Error with
// SQLSTATE 28000 (invalid_authorization_specification) whose message names
// the failed check; the check is also kept as a value so that the extension
// can count rejections per reason (crosswalk.auth_stats) without parsing
// messages. Messages never contain the token or its signature.
#pragma once

#include <string>

#include "error.hpp"

namespace crosswalk {

// The checks a token goes through, in order. The names are public: they are
// the `result` column of crosswalk.auth_stats and appear in messages.
enum class JwtCheck {
  kSize,       // the token is over kMaxJwsSize bytes
  kFormat,     // not three dot-separated segments, or an empty one
  kBase64Url,  // a segment is not strict unpadded base64url
  kHeader,     // the header is not a JSON object without duplicates, or a member has the wrong type
  kAlg,        // alg is none, missing or not one we accept
  kCrit,       // crit names an extension we do not understand
  kKid,        // no key with that kid (or kid is malformed)
  kKey,        // the key cannot verify this algorithm (type confusion, key alg mismatch, weak key)
  kJwks,       // the platform's JWKS is unusable
  kSignature,  // the signature does not verify
  kPayload,    // the payload is not a JSON object without duplicates
  kExp,        // expired, or exp missing or not a number
  kNbf,        // not yet valid
  kIat,        // issued in the future
  kIss,        // iss missing or not the platform's issuer
  kAud,        // aud does not contain the platform's audience
  kSub,        // sub missing or not a usable local id
  kPlatform,   // no registered platform for the token
  kAccount,    // the (iss, sub) account is not linked to a person
};

inline constexpr int kJwtCheckCount = static_cast<int>(JwtCheck::kAccount) + 1;

// The public name of a check.
inline const char* JwtCheckName(JwtCheck check) {
  switch (check) {
    case JwtCheck::kSize:
      return "size";
    case JwtCheck::kFormat:
      return "format";
    case JwtCheck::kBase64Url:
      return "base64url";
    case JwtCheck::kHeader:
      return "header";
    case JwtCheck::kAlg:
      return "alg";
    case JwtCheck::kCrit:
      return "crit";
    case JwtCheck::kKid:
      return "kid";
    case JwtCheck::kKey:
      return "key";
    case JwtCheck::kJwks:
      return "jwks";
    case JwtCheck::kSignature:
      return "signature";
    case JwtCheck::kPayload:
      return "payload";
    case JwtCheck::kExp:
      return "exp";
    case JwtCheck::kNbf:
      return "nbf";
    case JwtCheck::kIat:
      return "iat";
    case JwtCheck::kIss:
      return "iss";
    case JwtCheck::kAud:
      return "aud";
    case JwtCheck::kSub:
      return "sub";
    case JwtCheck::kPlatform:
      return "platform";
    case JwtCheck::kAccount:
      return "account";
  }
  return "unknown";
}

// A rejected token: "invalid JWT (CHECK): DETAIL", SQLSTATE 28000.
class JwtError : public Error {
 public:
  JwtError(JwtCheck check, const std::string& detail, std::string hint = {})
      : Error(sqlstate::kInvalidAuthorization, std::string("invalid JWT (") + JwtCheckName(check) + "): " + detail,
              std::move(hint)),
        check_(check),
        detail_(detail) {}

  JwtCheck check() const noexcept { return check_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  JwtCheck check_;
  std::string detail_;
};

}  // namespace crosswalk
