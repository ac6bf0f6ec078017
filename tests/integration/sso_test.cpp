// Single sign-on across backends, on a real cluster with crosswalk in
// shared_preload_libraries: a JWKS change committed by one session reaches
// another session's key cache; crosswalk.auth_stats counts verifications of
// every backend; failures are logged with platform and reason, never with
// the token.
#include <gtest/gtest.h>

#include <string>

#include "cluster.hpp"
#include "jose_signer.hpp"
#include "jws.hpp"

namespace crosswalk {
namespace {

using test::GenerateKey;
using test::PublicJwk;
using test::SignJws;

const char* kIssuer = "https://login.learnhub.example";

std::string Claims(const std::string& sub, long exp = 4102444800L) {
  return std::string(R"({"iss":")") + kIssuer + R"(","sub":")" + sub + R"(","exp":)" + std::to_string(exp) + "}";
}

class SsoCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new test::Cluster({"shared_preload_libraries = 'crosswalk'"});
    cluster_->CreateDatabaseWithExtension("sso");
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static test::Cluster* cluster_;
};
test::Cluster* SsoCluster::cluster_ = nullptr;

TEST_F(SsoCluster, KeyCacheFollowsAJwksChangeCommittedByAnotherSession) {
  auto old_key = GenerateKey("P-256");
  auto new_key = GenerateKey("P-256");
  pq::Connection admin = cluster_->Connect("sso");
  pq::Connection app = cluster_->Connect("sso");
  const std::string old_jwks = "{\"keys\":[" + PublicJwk(old_key.get(), "k1") + "]}";
  const std::string both_jwks =
      "{\"keys\":[" + PublicJwk(old_key.get(), "k1") + "," + PublicJwk(new_key.get(), "k2") + "]}";
  admin.ExecParams("SELECT crosswalk.register_platform('learnhub', $1, NULL, $2::jsonb)", {kIssuer, old_jwks});

  const std::string old_token =
      SignJws(R"({"alg":"ES256","kid":"k1"})", Claims("42"), JwsAlgorithm::kEs256, old_key.get());
  const std::string new_token =
      SignJws(R"({"alg":"ES256","kid":"k2"})", Claims("42"), JwsAlgorithm::kEs256, new_key.get());
  const std::string verify = "SELECT crosswalk.verify_jwt($1) ->> 'sub'";

  // The app session caches the old JWKS.
  EXPECT_EQ(app.Scalar(verify, {old_token}), "42");
  try {
    app.Scalar(verify, {new_token});
    ADD_FAILURE() << "a token with an unknown kid was accepted";
  } catch (const pq::ServerError& e) {
    EXPECT_STREQ(e.sqlstate(), "28000");
    EXPECT_NE(std::string(e.what()).find("no key with kid \"k2\""), std::string::npos) << e.what();
  }

  // Another session adds the new key; the app's next transaction sees it.
  admin.ExecParams("SELECT crosswalk.register_platform('learnhub', jwks => $1::jsonb)", {both_jwks});
  EXPECT_EQ(app.Scalar(verify, {new_token}), "42");

  // Within one open transaction too (READ COMMITTED): the old key is
  // removed by another session while the app's transaction is open.
  app.Exec("BEGIN");
  EXPECT_EQ(app.Scalar(verify, {old_token}), "42");
  const std::string new_only = "{\"keys\":[" + PublicJwk(new_key.get(), "k2") + "]}";
  admin.ExecParams("SELECT crosswalk.register_platform('learnhub', jwks => $1::jsonb)", {new_only});
  EXPECT_THROW(app.Scalar(verify, {old_token}), pq::ServerError);
  app.Exec("ROLLBACK");
  EXPECT_EQ(app.Scalar(verify, {new_token}), "42");

  // A direct UPDATE (not through register_platform) invalidates as well.
  admin.ExecParams("UPDATE crosswalk.platform SET jwks = $1::jsonb WHERE name = 'learnhub'", {old_jwks});
  EXPECT_EQ(app.Scalar(verify, {old_token}), "42");
  EXPECT_THROW(app.Scalar(verify, {new_token}), pq::ServerError);
}

TEST_F(SsoCluster, AuthStatsCountsEveryBackendAndResets) {
  auto key = GenerateKey("Ed25519");
  pq::Connection admin = cluster_->Connect("sso");
  admin.ExecParams("SELECT crosswalk.register_platform('statsplat', 'https://stats.example', NULL, $1::jsonb)",
                   {"{\"keys\":[" + PublicJwk(key.get(), "e") + "]}"});
  admin.Exec("SELECT crosswalk.reset_auth_stats()");
  auto token = [&](long exp) {
    return SignJws(R"({"alg":"EdDSA","kid":"e"})",
                   R"({"iss":"https://stats.example","sub":"1","exp":)" + std::to_string(exp) + "}",
                   JwsAlgorithm::kEdDsa, key.get());
  };
  const std::string good = token(4102444800L), expired = token(1000000000L);
  {
    pq::Connection a = cluster_->Connect("sso");
    pq::Connection b = cluster_->Connect("sso");
    for (int i = 0; i < 3; ++i) a.Scalar("SELECT crosswalk.verify_jwt($1) IS NOT NULL", {good});
    b.Scalar("SELECT crosswalk.verify_jwt($1) IS NOT NULL", {good});
    for (int i = 0; i < 2; ++i) EXPECT_THROW(b.Scalar("SELECT crosswalk.verify_jwt($1)", {expired}), pq::ServerError);
    EXPECT_THROW(a.Scalar("SELECT crosswalk.verify_jwt($1)", {"garbage"}), pq::ServerError);
  }
  pq::Result rows = admin.Exec(
      "SELECT coalesce(platform, '-'), result, count FROM crosswalk.auth_stats "
      "WHERE platform = 'statsplat' OR platform IS NULL ORDER BY 1, 2");
  ASSERT_EQ(rows.rows(), 3);
  EXPECT_EQ(rows.value(0, 0) + " " + rows.value(0, 1) + " " + rows.value(0, 2), "- format 1");
  EXPECT_EQ(rows.value(1, 0) + " " + rows.value(1, 1) + " " + rows.value(1, 2), "statsplat exp 2");
  EXPECT_EQ(rows.value(2, 0) + " " + rows.value(2, 1) + " " + rows.value(2, 2), "statsplat success 4");

  admin.Exec("SELECT crosswalk.reset_auth_stats()");
  EXPECT_EQ(admin.Scalar("SELECT count(*) FROM crosswalk.auth_stats"), "0");
  EXPECT_EQ(admin.Scalar("SELECT stats_reset > now() - interval '1 minute' FROM crosswalk._auth_stats() "
                         "UNION ALL SELECT true LIMIT 1"),
            "t");

  // The log names platform and reason, and holds no token or signature,
  // not even in a STATEMENT line for a token written into the SQL text.
  EXPECT_THROW(admin.Exec("SELECT crosswalk.verify_jwt('" + expired + "')"), pq::ServerError);
  std::string log = cluster_->Log();
  EXPECT_NE(log.find("JWT rejected for platform \"statsplat\": exp: the token expired"), std::string::npos);
  EXPECT_NE(log.find("JWT rejected for no platform: format:"), std::string::npos);
  EXPECT_EQ(log.find(expired.substr(expired.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(log.find(expired.substr(0, 30)), std::string::npos);
}

}  // namespace
}  // namespace crosswalk
