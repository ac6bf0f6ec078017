// Platforms' HMAC secrets (0.7.0) on a real cluster that logs every
// statement: a secret given to set_platform_secret() as a bind parameter
// never reaches the server log, the WAL (raw segments and pg_waldump) or
// what a crosswalk_reader can SELECT; HS tokens verify with it in every
// session, and stop verifying in every session when it is replaced. A
// platform registered before 0.7.0 with its secret in the JWKS keeps
// verifying after the update, and after move_platform_secrets(); its old
// tokens fail once the secret is replaced. Positive controls show that each
// search finds what is there (the legacy secret, which sat in a JWKS in
// clear, is in the WAL).
#include <gtest/gtest.h>

#include <dirent.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base64url.hpp"
#include "bytes.hpp"
#include "cluster.hpp"
#include "jose_signer.hpp"
#include "jws.hpp"
#include "master_key_file.hpp"

namespace crosswalk::test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string RandomSecret(std::size_t n) {
  std::string s(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n)) != 1) throw std::bad_alloc();
  return s;
}

// The forms a secret could be written in: raw, hex (a bytea parameter's
// text form), base64url (a JWK's "k"), and a 16-byte raw prefix.
std::vector<std::string> Forms(const std::string& secret) {
  return {secret, EncodeHex(ByteView(secret)), EncodeBase64Url(secret), secret.substr(0, 16)};
}

const char* kIssuer = "https://login.partner.example";
const char* kLegacyIssuer = "https://login.legacy.example";

std::string Claims(const char* issuer) {
  return std::string(R"({"iss":")") + issuer + R"(","sub":"p-7","exp":4102444800})";
}

std::string Token(const char* issuer, const std::string& kid, const std::string& secret) {
  return SignJwsHmac(R"({"alg":"HS256","kid":")" + kid + "\"}", Claims(issuer), JwsAlgorithm::kHs256, secret);
}

// The SQLSTATE of verifying token, or "ok".
std::string Verify(pq::Connection& c, const std::string& token) {
  try {
    auto sub = c.Scalar("SELECT crosswalk.verify_jwt($1) ->> 'sub'", {token});
    return sub == std::optional<std::string>("p-7") ? "ok" : "wrong claims";
  } catch (const pq::ServerError& e) {
    return e.sqlstate();
  }
}

TEST(SsoSecret, SecretNeverInLogWalOrReadersViewAndReplacementTakesEffectEverywhere) {
  MasterKeyFile key(TestMasterKeyHex(21));
  Cluster cluster({key.ConfLine(), "log_statement = 'all'", "log_min_duration_statement = 0",
                   "log_parameter_max_length = 0", "log_parameter_max_length_on_error = 0",
                   "log_min_error_statement = error", "wal_level = logical"});
  cluster.Connect().Exec("CREATE DATABASE sso");
  auto admin = cluster.Connect("sso");
  // A platform from before 0.7.0, with its HMAC secret in its JWKS.
  admin.Exec("CREATE EXTENSION crosswalk VERSION '0.6.0'");
  const std::string legacy_secret = RandomSecret(32);
  admin.ExecParams("SELECT crosswalk.register_platform('legacy', $1, NULL, $2::jsonb)",
                   {kLegacyIssuer, R"({"keys":[{"kty":"oct","kid":"lg","alg":"HS256","k":")" +
                                       EncodeBase64Url(legacy_secret) + "\"}]}"});
  admin.Exec("ALTER EXTENSION crosswalk UPDATE");
  admin.Exec("CREATE ROLE app LOGIN IN ROLE crosswalk_reader");
  auto app = cluster.Connect("sso");
  app.Exec("SET ROLE app");

  // The new way: the secret as a bind parameter, stored wrapped.
  const std::string secret = RandomSecret(32);
  admin.ExecParams("SELECT crosswalk.register_platform('partner', $1)", {kIssuer});
  admin.ExecParams("SELECT crosswalk.set_platform_secret('partner', $1::bytea, 'pt')",
                   {"\\x" + EncodeHex(ByteView(secret))});
  const std::string token = Token(kIssuer, "pt", secret);
  EXPECT_EQ(Verify(app, token), "ok");
  EXPECT_EQ(Verify(app, Token(kIssuer, "pt", RandomSecret(32))), "28000");
  // A failing call is logged (the statement), without its parameters.
  EXPECT_THROW(admin.ExecParams("SELECT crosswalk.set_platform_secret('nowhere', $1::bytea, 'pt')",
                                {"\\x" + EncodeHex(ByteView(secret))}),
               pq::ServerError);
  // What the reader can see: the platform row, no secret; not the wrapped table.
  auto seen = app.Exec("SELECT name, issuer, jwks::text FROM crosswalk.platform ORDER BY name");
  std::string readable;
  for (int r = 0; r < seen.rows(); ++r) {
    for (int col = 0; col < 3; ++col) readable += seen.value(r, col) + "\n";
  }
  EXPECT_NE(readable.find("partner"), std::string::npos);
  EXPECT_NE(readable.find(EncodeBase64Url(legacy_secret)), std::string::npos)
      << "control: before the move, the legacy secret is readable by crosswalk_reader";
  EXPECT_THROW(app.Exec("SELECT wrapped FROM crosswalk.platform_secret"), pq::ServerError);
  EXPECT_THROW(app.Exec("SELECT * FROM crosswalk.platform_secrets"), pq::ServerError);

  // The legacy platform verifies before and after the move, and the move
  // takes the secret out of what the reader sees.
  const std::string legacy_token = Token(kLegacyIssuer, "lg", legacy_secret);
  EXPECT_EQ(Verify(app, legacy_token), "ok");
  EXPECT_EQ(*admin.Scalar("SELECT crosswalk.move_platform_secrets('legacy')"), "1");
  EXPECT_EQ(Verify(app, legacy_token), "ok");
  EXPECT_EQ(*app.Scalar("SELECT count(*) FROM crosswalk.platform WHERE jwks::text LIKE '%oct%'"), "0");

  // Replacing either secret: the old tokens fail in the other session at its
  // next statement, even inside an open transaction.
  const std::string replacement = RandomSecret(32);
  const std::string legacy_replacement = RandomSecret(32);
  app.Exec("BEGIN");
  EXPECT_EQ(Verify(app, token), "ok");
  admin.ExecParams("SELECT crosswalk.set_platform_secret('partner', $1::bytea, 'pt')",
                   {"\\x" + EncodeHex(ByteView(replacement))});
  admin.ExecParams("SELECT crosswalk.set_platform_secret('legacy', $1::bytea, 'lg')",
                   {"\\x" + EncodeHex(ByteView(legacy_replacement))});
  EXPECT_EQ(Verify(app, token), "28000");
  app.Exec("ROLLBACK");
  EXPECT_EQ(Verify(app, legacy_token), "28000");
  EXPECT_EQ(Verify(app, Token(kIssuer, "pt", replacement)), "ok");
  EXPECT_EQ(Verify(app, Token(kLegacyIssuer, "lg", legacy_replacement)), "ok");

  // Nothing of the stored secrets in the table's bytes either.
  auto wrapped = admin.Exec("SELECT encode(wrapped, 'hex') FROM crosswalk.platform_secret ORDER BY kid");
  ASSERT_EQ(wrapped.rows(), 2);
  admin.Exec("SELECT 'LogControlMarker-5150'");
  admin.Exec("CHECKPOINT");
  admin.Exec("SELECT pg_switch_wal()");

  const std::string log = cluster.Log();
  const std::string wal = ReadWal(cluster.dir() + "/data");
  const std::string waldump_file = cluster.dir() + "/waldump.txt";
  ASSERT_EQ(Shell(PgBinDir() + "/pg_waldump -p '" + cluster.dir() + "/data/pg_wal' 000000010000000000000001 > '" +
                  waldump_file + "' 2>/dev/null; test -s '" + waldump_file + "'"),
            0);
  const std::string waldump = ReadFile(waldump_file);

  // Controls: each search finds what is there.
  EXPECT_NE(log.find("LogControlMarker-5150"), std::string::npos);
  EXPECT_NE(log.find("crosswalk.set_platform_secret('partner', $1::bytea, 'pt')"), std::string::npos);
  EXPECT_NE(log.find("crosswalk.set_platform_secret('nowhere'"), std::string::npos) << "the failing statement";
  EXPECT_NE(wal.find(EncodeBase64Url(legacy_secret)), std::string::npos)
      << "control: the legacy secret sat in a JWKS, so the WAL has it";
  EXPECT_GT(waldump.size(), 1000u);

  int checked = 0;
  for (const std::string& s : {secret, replacement, legacy_replacement}) {
    for (const std::string& form : Forms(s)) {
      EXPECT_EQ(log.find(form), std::string::npos) << "in the server log: " << EncodeHex(ByteView(form));
      EXPECT_EQ(wal.find(form), std::string::npos) << "in the WAL: " << EncodeHex(ByteView(form));
      EXPECT_EQ(waldump.find(form), std::string::npos) << "in pg_waldump: " << EncodeHex(ByteView(form));
      EXPECT_EQ(readable.find(form), std::string::npos) << "readable by crosswalk_reader";
      for (int r = 0; r < wrapped.rows(); ++r) {
        EXPECT_EQ(wrapped.value(r, 0).find(EncodeHex(ByteView(s))), std::string::npos) << "stored unwrapped";
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12);
}

}  // namespace
}  // namespace crosswalk::test
