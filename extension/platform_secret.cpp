// Platforms' HMAC secrets wrapped by the master key: the internal functions
// that crosswalk.set_platform_secret() and crosswalk.move_platform_secrets()
// (crosswalk--0.6.0--0.7.0.sql) call to wrap a secret. The verifier unwraps
// them when it loads a platform (sso.cpp).
// lib/ headers first: PostgreSQL's headers redefine snprintf and friends,
// which nlohmann/json (behind jwk.hpp) must not see.
#include <openssl/crypto.h>

#include <cstring>
#include <optional>
#include <string>

#include "jose_json.hpp"
#include "jwk.hpp"
#include "platform_secret.hpp"

#include "datum.hpp"
#include "keyring.hpp"

extern "C" {
#include "utils/jsonb.h"
}

namespace crosswalk::pg {
namespace {

// A text argument that may be NULL.
std::optional<std::string> OptionalText(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return std::string(ArgText(fcinfo, n));
}

int32 PlatformIdArgument(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) throw Error("22004", "platform_id must not be NULL");
  return PG_GETARG_INT32(0);
}

}  // namespace
}  // namespace crosswalk::pg

using crosswalk::pg::OptionalText;

// _wrap_platform_secret(platform_id integer, kid text, alg text, secret bytea)
// -> bytea: the secret checked and wrapped for (platform, kid, alg). The
// secret arrives as a parameter of set_platform_secret(): refused while the
// server would log it.
CROSSWALK_FUNCTION(wrap_platform_secret) {
  crosswalk::pg::RequirePlaintextNotLogged("set_platform_secret");
  const int32 platform_id = crosswalk::pg::PlatformIdArgument(fcinfo);
  if (PG_ARGISNULL(3)) throw crosswalk::Error("22004", "secret must not be NULL");
  auto wrapped = crosswalk::WrapPlatformSecret(crosswalk::pg::WrapCipher(), platform_id, OptionalText(fcinfo, 1),
                                               OptionalText(fcinfo, 2), crosswalk::pg::ArgBytes(fcinfo, 3));
  return crosswalk::pg::ReturnVarlena(wrapped);
}

// _wrap_jwk_secret(platform_id integer, kid text, alg text, jwk jsonb) -> bytea:
// the secret of an "oct" JWK (its "k"), checked and wrapped like one given to
// set_platform_secret(). kid and alg must be the JWK's own.
CROSSWALK_FUNCTION(wrap_jwk_secret) {
  const int32 platform_id = crosswalk::pg::PlatformIdArgument(fcinfo);
  if (PG_ARGISNULL(3)) throw crosswalk::Error("22004", "jwk must not be NULL");
  const std::optional<std::string> kid = OptionalText(fcinfo, 1);
  const std::optional<std::string> alg = OptionalText(fcinfo, 2);
  const std::string where =
      kid ? "the JWKS key with kid " + crosswalk::QuoteUntrusted(*kid) : "the JWKS key without a kid";
  char* text = static_cast<char*>(crosswalk::pg::PgCall(
      [&] { return static_cast<void*>(JsonbToCString(nullptr, &PG_GETARG_JSONB_P(3)->root, 0)); }));
  crosswalk::Jwk jwk;
  std::optional<crosswalk::Error> bad;
  try {
    jwk = crosswalk::ParseJwk(text);
  } catch (const crosswalk::Error& e) {
    bad.emplace(e.sqlstate(), where + " cannot be moved: " + e.what(), e.hint());
  }
  // The JSON holds the secret in clear: wipe it before it is freed.
  OPENSSL_cleanse(text, std::strlen(text));
  crosswalk::pg::PgCall([&] { pfree(text); });
  if (bad) throw *bad;
  const std::optional<std::string> jwk_alg = jwk.alg.empty() ? std::nullopt : std::optional<std::string>(jwk.alg);
  if (jwk.type != crosswalk::KeyType::kOct || jwk.kid != kid || jwk_alg != alg) {
    throw crosswalk::Error(crosswalk::sqlstate::kInternalError, where + " does not match the kid and alg given for it");
  }
  try {
    auto wrapped = crosswalk::WrapPlatformSecret(crosswalk::pg::WrapCipher(), platform_id, kid, alg,
                                                 crosswalk::ByteView(crosswalk::SecretView(jwk.secret)));
    return crosswalk::pg::ReturnVarlena(wrapped);
  } catch (const crosswalk::Error& e) {
    if (std::string(e.sqlstate()) != crosswalk::sqlstate::kInvalidParameterValue) throw;
    throw crosswalk::Error(e.sqlstate(), where + " cannot be moved: " + e.what(),
                           "It could not verify tokens either: remove it with crosswalk.drop_platform_secret(), "
                           "or replace it with crosswalk.set_platform_secret().");
  }
}
