// lib-level timing of JWS verification, without PostgreSQL: where the time
// of a verify_jwt call goes (parse, signature, claims). Run by hand:
//   build/jwt_bench
#include <chrono>
#include <cstdio>
#include <string>

#include "jose_signer.hpp"
#include "jws.hpp"
#include "jwt_claims.hpp"

using namespace crosswalk;

template <typename F>
double PerSecond(F&& f, int n) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) f();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return n / s;
}

int main() {
  const std::string claims =
      R"({"iss":"https://login.learnhub.example","sub":"42","aud":["skillpath-db"],"iat":1700000000,"exp":4102444800})";
  struct Case {
    const char* name;
    JwsAlgorithm alg;
    const char* kind;
    int n;
  };
  for (const Case& c :
       {Case{"RS256", JwsAlgorithm::kRs256, "RSA", 20000}, Case{"ES256", JwsAlgorithm::kEs256, "P-256", 5000},
        Case{"EdDSA", JwsAlgorithm::kEdDsa, "Ed25519", 5000}}) {
    auto key = test::GenerateKey(c.kind);
    std::string token =
        test::SignJws(std::string(R"({"alg":")") + c.name + R"(","kid":"k"})", claims, c.alg, key.get());
    JwkSet keys = ParseJwkSet("{\"keys\":[" + test::PublicJwk(key.get(), "k") + "]}");
    Jws jws = ParseJws(token);
    double parse = PerSecond([&] { ParseJws(token); }, c.n);
    double sig = PerSecond([&] { VerifySignature(c.alg, keys.keys()[0], jws.signing_input, jws.signature); }, c.n);
    double full = PerSecond(
        [&] {
          CheckClaims(ParseClaims(VerifyJws(token, keys).payload),
                      ClaimsPolicy{1700000000, 30, std::nullopt, std::nullopt});
        },
        c.n);
    std::printf("%-6s parse %9.0f/s  signature %9.0f/s  parse+verify+claims %9.0f/s\n", c.name, parse, sig, full);
  }
  std::string secret(32, 's');
  std::string token = test::SignJwsHmac(R"({"alg":"HS256"})", claims, JwsAlgorithm::kHs256, secret);
  Jws jws = ParseJws(token);
  double sig = PerSecond([&] { VerifyHmac(JwsAlgorithm::kHs256, secret, jws.signing_input, jws.signature); }, 200000);
  double parse = PerSecond([&] { ParseJws(token); }, 200000);
  std::printf("HS256  parse %9.0f/s  signature %9.0f/s\n", parse, sig);
}
