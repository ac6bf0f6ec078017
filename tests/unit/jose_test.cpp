// base64url, JWK/JWKS parsing, JWS verification with the RFC examples, the
// claims checks, and a corpus of hostile tokens each rejected by the check
// it targets.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "base64url.hpp"
#include "jose_signer.hpp"
#include "json_tape_reference.hpp"
#include "jwk.hpp"
#include "jws.hpp"
#include "jwt_claims.hpp"
#include "jwt_error.hpp"

namespace crosswalk {
namespace {

using Json = nlohmann::json;
using test::GenerateKey;
using test::PublicJwk;
using test::SignJws;
using test::SignJwsHmac;

// ---------------------------------------------------------------------------
// base64url
// ---------------------------------------------------------------------------

TEST(Base64Url, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(EncodeBase64Url(plain), encoded);
    ASSERT_TRUE(DecodeBase64Url(encoded).has_value()) << encoded;
    EXPECT_EQ(*DecodeBase64Url(encoded), plain);
  }
}

TEST(Base64Url, RoundTripsEveryByteAtEveryLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    std::string encoded = EncodeBase64Url(bytes.substr(0, n));
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    auto decoded = DecodeBase64Url(encoded);
    ASSERT_TRUE(decoded.has_value()) << n;
    EXPECT_EQ(*decoded, bytes.substr(0, n));
  }
}

TEST(Base64Url, RejectsPaddingForeignBytesAndNonCanonicalEndings) {
  for (const char* bad : {"Zg==", "Zm8=", "Zg=", "Z", "Zm9vY", "Zm+v", "Zm/v", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v.",
                          "Zh", "Zm9", "Zm9vYh", "Zm9vYmF", "\xc3\xa9Zm9"}) {
    EXPECT_FALSE(DecodeBase64Url(bad).has_value()) << bad;
  }
  EXPECT_FALSE(DecodeBase64Url(std::string("Zm\0v", 4)).has_value());
  // Canonical neighbours of the non-canonical endings above are accepted.
  EXPECT_TRUE(DecodeBase64Url("Zg").has_value());
  EXPECT_TRUE(DecodeBase64Url("Zm8").has_value());
}

// ---------------------------------------------------------------------------
// RFC examples: RFC 7515 appendix A.1 to A.3, RFC 8037 appendix A.4
// ---------------------------------------------------------------------------

constexpr const char* kRfc7515Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr const char* kRfc7515RsaN =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
    "pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-"
    "UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-"
    "DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

JwkSet OneKeySet(const std::string& jwk) { return ParseJwkSet("{\"keys\":[" + jwk + "]}"); }

void ExpectRfc7515Claims(const Jws& jws) {
  JwtClaims claims = ParseClaims(jws.payload);
  EXPECT_EQ(IssuerOf(claims), std::optional<std::string_view>("joe"));
  ASSERT_NE(claims.exp, JwtClaims::kAbsent);
  EXPECT_EQ(claims.tape.tokens()[claims.exp].number, 1300819380.0);
  EXPECT_EQ(claims.tape.TextOf(claims.exp), "1300819380");
  int is_root = 0;
  claims.tape.ForEachMember(0, [&](std::string_view name, std::size_t value) {
    if (name == "http://example.com/is_root") {
      ++is_root;
      EXPECT_EQ(claims.tape.tokens()[value].kind, JsonToken::Kind::kTrue);
    }
  });
  EXPECT_EQ(is_root, 1);
  // The example expired in 2011: the claims check says so, and passes just
  // before exp.
  ClaimsPolicy policy;
  policy.now = 1300819380 - 100;
  policy.issuer = "joe";
  EXPECT_NO_THROW(CheckClaims(claims, policy));
  policy.now = 1300819380 + 31;
  EXPECT_THROW(CheckClaims(claims, policy), JwtError);
}

TEST(JwsRfcExamples, Rfc7515A1Hs256) {
  const std::string token = std::string("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.") + kRfc7515Payload +
                            ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  JwkSet keys = OneKeySet(
      R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})");
  Jws jws = VerifyJws(token, keys);
  EXPECT_EQ(jws.header.alg, JwsAlgorithm::kHs256);
  EXPECT_EQ(jws.header.typ, "JWT");
  ExpectRfc7515Claims(jws);
  // One flipped signature bit fails.
  std::string tampered = token;
  tampered.back() = 'j';
  EXPECT_THROW(VerifyJws(tampered, keys), JwtError);
}

TEST(JwsRfcExamples, Rfc7515A2Rs256) {
  const std::string token =
      std::string("eyJhbGciOiJSUzI1NiJ9.") + kRfc7515Payload +
      ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
      "O8W2Fp5jujGbds9uJdbF9CUAr7t1dn"
      "ZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--"
      "xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_"
      "IoypGlUPQGe77Rw";
  JwkSet keys = OneKeySet(std::string(R"({"kty":"RSA","e":"AQAB","kid":"2011-04-29","n":")") + kRfc7515RsaN + "\"}");
  Jws jws = VerifyJws(token, keys);
  EXPECT_EQ(jws.header.alg, JwsAlgorithm::kRs256);
  ExpectRfc7515Claims(jws);
  std::string tampered = token;
  tampered[30] = tampered[30] == 'A' ? 'B' : 'A';  // a payload byte
  EXPECT_THROW(VerifyJws(tampered, keys), JwtError);
}

TEST(JwsRfcExamples, Rfc7515A3Es256) {
  const std::string token = std::string("eyJhbGciOiJFUzI1NiJ9.") + kRfc7515Payload +
                            ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  JwkSet keys = OneKeySet(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})");
  Jws jws = VerifyJws(token, keys);
  EXPECT_EQ(jws.header.alg, JwsAlgorithm::kEs256);
  ExpectRfc7515Claims(jws);
}

TEST(JwsRfcExamples, Rfc8037A4Ed25519) {
  const std::string token =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  JwkSet keys = OneKeySet(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})");
  Jws jws = VerifyJws(token, keys);
  EXPECT_EQ(jws.header.alg, JwsAlgorithm::kEdDsa);
  EXPECT_EQ(jws.payload, "Example of Ed25519 signing");
}

// ---------------------------------------------------------------------------
// Every algorithm round-trips with a fresh key.
// ---------------------------------------------------------------------------

TEST(JwsAlgorithms, EachAlgorithmVerifiesItsOwnSignatureOnly) {
  struct Case {
    JwsAlgorithm alg;
    const char* kind;
  };
  const std::vector<Case> cases = {
      {JwsAlgorithm::kRs256, "RSA"},   {JwsAlgorithm::kRs384, "RSA"},   {JwsAlgorithm::kRs512, "RSA"},
      {JwsAlgorithm::kPs256, "RSA"},   {JwsAlgorithm::kPs384, "RSA"},   {JwsAlgorithm::kPs512, "RSA"},
      {JwsAlgorithm::kEs256, "P-256"}, {JwsAlgorithm::kEs384, "P-384"}, {JwsAlgorithm::kEdDsa, "Ed25519"},
  };
  auto rsa = GenerateKey("RSA");
  for (const auto& c : cases) {
    auto fresh = std::string(c.kind) == "RSA" ? nullptr : GenerateKey(c.kind);
    EVP_PKEY* key = fresh ? fresh.get() : rsa.get();
    std::string name = JwsAlgorithmName(c.alg);
    std::string token = SignJws(R"({"alg":")" + name + R"(","kid":"k"})", R"({"sub":"1"})", c.alg, key);
    JwkSet keys = OneKeySet(PublicJwk(key, "k"));
    EXPECT_NO_THROW(VerifyJws(token, keys)) << name;
    // The same key with another algorithm's name in the header fails.
    std::string other = token;
    other[other.size() - 5] = other[other.size() - 5] == 'A' ? 'B' : 'A';
    EXPECT_THROW(VerifyJws(other, keys), JwtError) << name;
  }
  for (JwsAlgorithm alg : {JwsAlgorithm::kHs256, JwsAlgorithm::kHs384, JwsAlgorithm::kHs512}) {
    std::string secret(64, 's');
    std::string name = JwsAlgorithmName(alg);
    std::string token = SignJwsHmac(R"({"alg":")" + name + R"("})", R"({"sub":"1"})", alg, secret);
    JwkSet keys = OneKeySet(R"({"kty":"oct","k":")" + EncodeBase64Url(secret) + "\"}");
    EXPECT_NO_THROW(VerifyJws(token, keys)) << name;
  }
}

// A key's HMAC context is reused from one verification to the next: each
// answer must be the one a fresh computation gives, whatever came before
// (a failed verification, another algorithm, a message of another length).
TEST(JwsAlgorithms, ReusedHmacContextsGiveFreshAnswers) {
  const std::string secret(64, 'k');
  JwkSet keys = OneKeySet(R"({"kty":"oct","kid":"s","k":")" + EncodeBase64Url(secret) + "\"}");
  const Jwk& key = keys.keys()[0];
  std::mt19937 rng(7);
  int good = 0, bad = 0;
  for (int i = 0; i < 600; ++i) {
    const JwsAlgorithm alg =
        std::array<JwsAlgorithm, 3>{JwsAlgorithm::kHs256, JwsAlgorithm::kHs384, JwsAlgorithm::kHs512}[rng() % 3];
    const std::string data(rng() % 300, static_cast<char>('a' + rng() % 26));
    std::string tag = ComputeHmac(alg, secret, data);
    const bool tamper = rng() % 2 == 0;
    if (tamper) tag[rng() % tag.size()] ^= static_cast<char>(1 + rng() % 255);
    EXPECT_EQ(VerifySignature(alg, key, data, tag), !tamper) << i;
    (tamper ? bad : good)++;
  }
  EXPECT_GT(good, 200);
  EXPECT_GT(bad, 200);
}

TEST(JwsAlgorithms, RsaPkcs1AndPssAreNotInterchangeable) {
  auto rsa = GenerateKey("RSA");
  JwkSet keys = OneKeySet(PublicJwk(rsa.get()));
  std::string pss = SignJws(R"({"alg":"PS256"})", "{}", JwsAlgorithm::kPs256, rsa.get());
  std::string relabelled = EncodeBase64Url(R"({"alg":"RS256"})") + pss.substr(pss.find('.'));
  EXPECT_NO_THROW(VerifyJws(pss, keys));
  EXPECT_THROW(VerifyJws(relabelled, keys), JwtError);
}

// ---------------------------------------------------------------------------
// JWK parsing
// ---------------------------------------------------------------------------

void ExpectBadJwks(const std::string& jwks, const std::string& fragment) {
  try {
    ParseJwkSet(jwks);
    ADD_FAILURE() << "accepted " << jwks.substr(0, 200);
  } catch (const JwtError& e) {
    ADD_FAILURE() << "JwtError for a JWKS: " << e.what();
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "22023");
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Jwk, RejectsMalformedSetsNamingTheProblem) {
  ExpectBadJwks("[]", "JSON object");
  ExpectBadJwks("{}", "\"keys\"");
  ExpectBadJwks(R"({"keys":{}})", "\"keys\"");
  ExpectBadJwks(R"({"keys":[1]})", "keys[0]: is not a JSON object");
  ExpectBadJwks(R"({"keys":[{"kid":"a"}]})", "\"kty\" is missing");
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","e":"AQAB"}]})", "\"n\" is missing");
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","n":"AQAB=","e":"AQAB"}]})", "\"n\" is not unpadded base64url");
  ExpectBadJwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})", "32 bytes each");
  ExpectBadJwks(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})", "32 bytes");
  ExpectBadJwks(R"({"keys":[{"kty":"oct","k":""}]})", "empty");
  ExpectBadJwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"},{"kty":"oct","k":"c2VjcmV0","kid":"a"}]})",
                "names two keys");
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}]})", "private key members");
  ExpectBadJwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"},)" + PublicJwk(GenerateKey("P-256").get()) + "]}",
                "mixes HMAC secrets");
  ExpectBadJwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0","kid":")" + std::string(300, 'k') + "\"}]}", "longer than 256");
  ExpectBadJwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0","alg":7}]})", "\"alg\" is not a string");
  ExpectBadJwks(R"({"keys":[], "keys":[]})", "duplicate member");
  ExpectBadJwks("{\"keys\":" + std::string(100, '[') + std::string(100, ']') + "}", "nested deeper");
  std::string many = R"({"keys":[)";
  for (int i = 0; i < 65; ++i) many += std::string(i ? "," : "") + R"({"kty":"oct","k":"c2VjcmV0"})";
  ExpectBadJwks(many + "]}", "more than 64 keys");
}

TEST(Jwk, RsaKeysOutsideTheAcceptedRangeAreRefused) {
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","n":")" + EncodeBase64Url(std::string(128, '\xff')) + R"(","e":"AQAB"}]})",
                "1024 bits is too small");
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","n":")" + EncodeBase64Url(std::string(1100, '\xff')) + R"(","e":"AQAB"}]})",
                "too large");
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","n":")" + EncodeBase64Url(std::string(256, '\xff')) + R"(","e":"AQ"}]})",
                "exponent");
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","n":")" + EncodeBase64Url(std::string(256, '\xfe')) + R"(","e":"AQAB"}]})",
                "even");
}

TEST(Jwk, RocaFingerprintFlagsTheWycheproofKeyAndNoFreshKey) {
  // The modulus of Wycheproof's json_web_key_test tcId 7 (kid-rsa-roca-sign).
  const std::string roca =
      "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_"
      "HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIw"
      "HdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_"
      "MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx"
      "7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-"
      "QYyE";
  ExpectBadJwks(R"({"keys":[{"kty":"RSA","e":"AQAB","n":")" + roca + "\"}]}", "ROCA");
  for (int i = 0; i < 5; ++i) {
    EXPECT_NO_THROW(ParseJwkSet("{\"keys\":[" + PublicJwk(GenerateKey("RSA").get()) + "]}"));
  }
}

TEST(Jwk, KeysForSomethingElseAreSetAsideAndExplainedWhenNamed) {
  auto ec = GenerateKey("P-256");
  std::string jwk = PublicJwk(ec.get(), "enc-key");
  jwk.insert(1, R"("use":"enc",)");
  std::string x25519 = R"({"kty":"OKP","crv":"X25519","kid":"x","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})";
  JwkSet keys = ParseJwkSet("{\"keys\":[" + jwk + "," + x25519 + "," + PublicJwk(ec.get(), "sig-key") + "]}");
  EXPECT_EQ(keys.keys().size(), 1u);
  EXPECT_EQ(keys.unusable().size(), 2u);
  std::string token = SignJws(R"({"alg":"ES256","kid":"enc-key"})", "{}", JwsAlgorithm::kEs256, ec.get());
  try {
    VerifyJws(token, keys);
    ADD_FAILURE() << "accepted a token for an encryption key";
  } catch (const JwtError& e) {
    EXPECT_EQ(e.check(), JwtCheck::kKid);
    EXPECT_NE(std::string(e.what()).find("\"use\" is \"enc\""), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------

JwtCheck ClaimsFailure(const std::string& claims, const ClaimsPolicy& policy) {
  try {
    CheckClaims(ParseClaims(claims), policy);
  } catch (const JwtError& e) {
    EXPECT_STREQ(e.sqlstate(), "28000");
    return e.check();
  }
  return JwtCheck::kAccount;  // stands for "accepted" in these tests
}

TEST(JwtClaims, TimeWindowWithLeeway) {
  ClaimsPolicy p;
  p.now = 1700000000;
  p.leeway = 30;
  auto at = [&](const std::string& extra) { return R"({"iss":"i",)" + extra + "}"; };
  const JwtCheck ok = JwtCheck::kAccount;
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000100)"), p), ok);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1699999971)"), p), ok);              // 29 s ago: within leeway
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1699999970)"), p), JwtCheck::kExp);  // 30 s ago: expired
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1699999970.5)"), p), ok);            // fractional NumericDate
  EXPECT_EQ(ClaimsFailure(R"({"iss":"i"})", p), JwtCheck::kExp);           // exp is required
  EXPECT_EQ(ClaimsFailure(at(R"("exp":"1700000100")"), p), JwtCheck::kExp);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1e400)"), p), JwtCheck::kPayload);  // out of range number
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000100,"nbf":1700000030)"), p), ok);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000100,"nbf":1700000031)"), p), JwtCheck::kNbf);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000100,"nbf":null)"), p), JwtCheck::kNbf);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000100,"iat":1700000030)"), p), ok);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000100,"iat":1700000031)"), p), JwtCheck::kIat);
  p.leeway = 0;
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000000)"), p), JwtCheck::kExp);
  EXPECT_EQ(ClaimsFailure(at(R"("exp":1700000001)"), p), ok);
}

TEST(JwtClaims, IssuerAndAudience) {
  ClaimsPolicy p;
  p.now = 1700000000;
  p.issuer = "https://a.example";
  const JwtCheck ok = JwtCheck::kAccount;
  const std::string exp = R"("exp":1700000100)";
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example",)" + exp + "}", p), ok);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://b.example",)" + exp + "}", p), JwtCheck::kIss);
  EXPECT_EQ(ClaimsFailure(R"({"iss":["https://a.example"],)" + exp + "}", p), JwtCheck::kIss);
  EXPECT_EQ(ClaimsFailure("{" + exp + "}", p), JwtCheck::kIss);
  // Without a required audience, aud is only type-checked.
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":"x",)" + exp + "}", p), ok);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":5,)" + exp + "}", p), JwtCheck::kAud);
  p.audience = "db-b";
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":"db-b",)" + exp + "}", p), ok);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":["x","db-b"],)" + exp + "}", p), ok);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":["x"],)" + exp + "}", p), JwtCheck::kAud);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":"db-bb",)" + exp + "}", p), JwtCheck::kAud);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example","aud":["db-b",1],)" + exp + "}", p), JwtCheck::kAud);
  EXPECT_EQ(ClaimsFailure(R"({"iss":"https://a.example",)" + exp + "}", p), JwtCheck::kAud);
}

TEST(JwtClaims, PayloadMustBeAnObjectWithoutDuplicates) {
  ClaimsPolicy p;
  EXPECT_EQ(ClaimsFailure("[]", p), JwtCheck::kPayload);
  EXPECT_EQ(ClaimsFailure("not json", p), JwtCheck::kPayload);
  EXPECT_EQ(ClaimsFailure(R"({"sub":"a","sub":"b"})", p), JwtCheck::kPayload);
  EXPECT_EQ(ClaimsFailure(R"({"sub":"a"} {})", p), JwtCheck::kPayload);
  EXPECT_EQ(ClaimsFailure("{\"sub\":\"\xff\"}", p), JwtCheck::kPayload);  // not UTF-8
  EXPECT_EQ(SubjectOf(ParseClaims(R"({"sub":"42"})")), "42");
  for (const char* bad : {R"({})", R"({"sub":42})", R"({"sub":""})"}) {
    EXPECT_THROW(SubjectOf(ParseClaims(bad)), JwtError) << bad;
  }
  EXPECT_THROW(SubjectOf(ParseClaims("{\"sub\":\"" + std::string(513, 'x') + "\"}")), JwtError);
}

// The tape parser: the same JSON as the tree parser accepts, as tokens.
std::string TapeError(const std::string& text) {
  JsonTape tape;
  try {
    ParseStrictJsonTape(text, tape);
  } catch (const JoseJsonError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(JsonTape, TokensNumbersAndStrings) {
  JsonTape tape;
  ParseStrictJsonTape(R"({"a":[1,-2,3.50,1e3,18446744073709551615,123456789012345678901234,true,false,null],)"
                      R"("b":{"c":"x\u00e9\n\"y"},"d":{}})",
                      tape);
  using K = JsonToken::Kind;
  std::vector<K> kinds;
  for (const JsonToken& t : tape.tokens()) kinds.push_back(t.kind);
  EXPECT_EQ(kinds,
            (std::vector<K>{K::kBeginObject, K::kKey,         K::kBeginArray,  K::kNumber,   K::kNumber, K::kNumber,
                            K::kNumber,      K::kNumber,      K::kNumber,      K::kTrue,     K::kFalse,  K::kNull,
                            K::kEndArray,    K::kKey,         K::kBeginObject, K::kKey,      K::kString, K::kEndObject,
                            K::kKey,         K::kBeginObject, K::kEndObject,   K::kEndObject}));
  // Numbers keep their JSON text (integers in canonical decimal) and value.
  EXPECT_EQ(tape.TextOf(3), "1");
  EXPECT_EQ(tape.TextOf(4), "-2");
  EXPECT_EQ(tape.tokens()[4].number, -2.0);
  EXPECT_EQ(tape.TextOf(5), "3.50");
  EXPECT_EQ(tape.tokens()[5].number, 3.5);
  EXPECT_EQ(tape.TextOf(6), "1e3");
  EXPECT_EQ(tape.TextOf(7), "18446744073709551615");
  EXPECT_EQ(tape.TextOf(8), "123456789012345678901234");
  // Strings are unescaped UTF-8.
  EXPECT_EQ(tape.TextOf(16), "x\xc3\xa9\n\"y");
  // Containers know where they end.
  EXPECT_EQ(tape.tokens()[0].end, 21u);
  EXPECT_EQ(tape.tokens()[2].end, 12u);
  EXPECT_EQ(tape.After(2), 13u);
  std::vector<std::string> names;
  tape.ForEachMember(0, [&](std::string_view name, std::size_t) { names.emplace_back(name); });
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "d"}));
  // The tape is reused: a second parse replaces the first.
  ParseStrictJsonTape("7", tape);
  ASSERT_EQ(tape.tokens().size(), 1u);
  EXPECT_EQ(tape.tokens()[0].number, 7.0);
}

TEST(JsonTape, RejectsWhatTheTreeParserRejects) {
  EXPECT_EQ(TapeError(R"({"a":1,"a":2})"), "has a duplicate member \"a\"");
  EXPECT_EQ(TapeError(R"({"x":{"a":1,"b":{"a":1},"a":2}})"), "has a duplicate member \"a\"");
  // Same names in sibling objects are fine; so are equal values.
  EXPECT_EQ(TapeError(R"([{"a":1},{"a":1},{"b":{"a":1}}])"), "accepted");
  // Past 16 members an object's names go into a hash set: still caught.
  std::string many = "{";
  for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_EQ(TapeError(many + "\"last\":0}"), "accepted");
  EXPECT_EQ(TapeError(many + "\"k3\":0}"), "has a duplicate member \"k3\"");
  EXPECT_EQ(TapeError(many + "\"k39\":0}"), "has a duplicate member \"k39\"");
  EXPECT_EQ(TapeError(std::string(16, '[') + std::string(16, ']')), "accepted");
  EXPECT_EQ(TapeError(std::string(17, '[') + std::string(17, ']')), "is nested deeper than 16 levels");
  EXPECT_EQ(TapeError(std::string(100000, '[')), "is nested deeper than 16 levels");
  EXPECT_EQ(TapeError("1e400"), "has a number out of range");
  for (const char* bad : {"", "{", "{}}", "{} {}", "[1,]", "{\"a\"}", "'a'", "01", "NaN", "{\"a\":1,}", "/* */ 1",
                          "\"\xff\"", "\"\\ud800\"", "tru"}) {
    EXPECT_EQ(TapeError(bad), "is not valid JSON") << bad;
  }
  // The message never carries the input beyond a bounded member name.
  EXPECT_EQ(TapeError("{\"" + std::string(100, 's') + "\":1,\"" + std::string(100, 's') + "\":2}"),
            "has a duplicate member \"" + std::string(32, 's') + "\"... (100 bytes)");
}

// Differential: random mutations of JSON documents parse the same way in
// the tape parser and in nlohmann's (tests/support/json_tape_reference.hpp);
// the fuzz target jose_json_fuzz does the same with coverage guidance.
TEST(JsonTape, AgreesWithNlohmann) {
  const std::vector<std::string> seeds = {
      R"({"iss":"https://login.example","sub":"42","aud":["a","b"],"exp":4102444800,"nbf":1.5e9,"x":null})",
      R"({"alg":"HS256","kid":"k-1","typ":"JWT","crit":["b64"],"b64":true})",
      R"([0,-0,1,-1,0.5,-0.0e-0,1E+2,12345678901234567890,-9223372036854775808,1e308,4.9e-324,1e-400])",
      R"({"s":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t\u0000","e":"","n":{"m":[[],{},[{}]]}})",
      "{\"utf8\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x7F\"}",
      R"({"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]})",
      " \t\r\n{ \"a\" : [ 1 , true , false , null ] } \n",
  };
  const std::string alphabet = "{}[]:,\"\\/ubfnrt0123456789+-.eE \t\r\nxaAfF\xC3\xA9\xED\xA0\x80\xF4\x90\xEF\xBB\xBF";
  std::mt19937 rng(4242);
  int cases = 0, accepted = 0;
  for (const std::string& seed : seeds) {
    ASSERT_EQ(test::CompareWithReference(seed), "") << seed;
    for (int i = 0; i < 4000; ++i) {
      std::string text = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 4) {
          case 0:
            if (at < text.size()) text[at] = c;
            break;
          case 1:
            text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
            break;
          case 2:
            if (at < text.size()) text.erase(at, 1 + rng() % 3);
            break;
          default:
            text = text.substr(0, at);
        }
      }
      const std::string diff = test::CompareWithReference(text);
      ASSERT_EQ(diff, "") << EncodeHex(ByteView(text));
      ++cases;
      JsonTape tape;
      try {
        ParseStrictJsonTape(text, tape);
        ++accepted;
      } catch (const JoseJsonError&) {
      }
    }
  }
  EXPECT_EQ(cases, 7 * 4000);
  // Both outcomes are exercised, not only rejections.
  EXPECT_GT(accepted, 2000);
  EXPECT_LT(accepted, cases - 2000);
  // Depth limits agree at every limit, and a byte order mark is refused.
  for (int depth = 1; depth <= 20; ++depth) {
    EXPECT_EQ(test::CompareWithReference(std::string(18, '[') + std::string(18, ']'), depth), "") << depth;
  }
  EXPECT_EQ(TapeError("\xEF\xBB\xBF{}"), "is not valid JSON");
  // nlohmann stops at a NUL byte and ignores the rest; the tape does not.
  EXPECT_EQ(test::ReferenceTape(std::string("{}\0{\"a\"", 7)).error, "accepted");
  EXPECT_EQ(TapeError(std::string("{}\0{\"a\"", 7)), "is not valid JSON");
  EXPECT_EQ(TapeError(std::string("{\"a\":\"\0\"}", 8)), "is not valid JSON");
}

// ---------------------------------------------------------------------------
// Hostile tokens: each rejected by the check it targets, with SQLSTATE 28000
// and a message that names the check and holds neither token nor signature.
// ---------------------------------------------------------------------------

class HostileTokens : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = GenerateKey("RSA").release();
    ec_ = GenerateKey("P-256").release();
    ed_ = GenerateKey("Ed25519").release();
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec_);
    EVP_PKEY_free(ed_);
  }

  // A JWKS of an RSA key "rsa" (alg RS256), an EC key "ec" and an Ed25519
  // key "ed" (no alg).
  static JwkSet PublicKeys() {
    return ParseJwkSet("{\"keys\":[" + PublicJwk(rsa_, "rsa", "RS256") + "," + PublicJwk(ec_, "ec") + "," +
                       PublicJwk(ed_, "ed") + "]}");
  }

  void ExpectRejected(const std::string& token, const JwkSet& keys, JwtCheck check, const std::string& fragment = "") {
    try {
      VerifyJws(token, keys);
      ADD_FAILURE() << "accepted: " << token.substr(0, 120);
    } catch (const JwtError& e) {
      std::string message = e.what();
      EXPECT_STREQ(e.sqlstate(), "28000");
      EXPECT_EQ(JwtCheckName(e.check()), std::string(JwtCheckName(check))) << message;
      EXPECT_NE(message.find(std::string("(") + JwtCheckName(check) + ")"), std::string::npos) << message;
      if (!fragment.empty()) {
        EXPECT_NE(message.find(fragment), std::string::npos) << message;
      }
      std::size_t dot = token.rfind('.');
      if (dot != std::string::npos && token.size() - dot > 8) {
        EXPECT_EQ(message.find(token.substr(dot + 1)), std::string::npos) << "message quotes the signature";
      }
      if (token.size() >= 20) {
        EXPECT_EQ(message.find(token.substr(0, std::min<std::size_t>(token.size(), 40))), std::string::npos)
            << "message quotes the token";
      }
      ++rejected_;
    }
  }

  static std::string Claims() { return R"({"iss":"https://a.example","sub":"42","exp":4102444800})"; }

  static EVP_PKEY* rsa_;
  static EVP_PKEY* ec_;
  static EVP_PKEY* ed_;
  int rejected_ = 0;
};
EVP_PKEY* HostileTokens::rsa_ = nullptr;
EVP_PKEY* HostileTokens::ec_ = nullptr;
EVP_PKEY* HostileTokens::ed_ = nullptr;

TEST_F(HostileTokens, AlgNoneInEverySpelling) {
  JwkSet keys = PublicKeys();
  for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
    std::string token =
        EncodeBase64Url(std::string(R"({"alg":")") + alg + "\"}") + "." + EncodeBase64Url(Claims()) + ".";
    ExpectRejected(token, keys, JwtCheck::kAlg, "\"none\"");
    // With a signature segment too.
    ExpectRejected(token + "c2ln", keys, JwtCheck::kAlg, "never accepted");
  }
  ExpectRejected(EncodeBase64Url(R"({"typ":"JWT"})") + ".e30.c2ln", keys, JwtCheck::kAlg, "no \"alg\"");
  ExpectRejected(EncodeBase64Url(R"({"alg":"HS1"})") + ".e30.c2ln", keys, JwtCheck::kAlg, "not supported");
  ExpectRejected(EncodeBase64Url(R"({"alg":"ES512"})") + ".e30.c2ln", keys, JwtCheck::kAlg, "not supported");
  ExpectRejected(EncodeBase64Url(R"({"alg":null})") + ".e30.c2ln", keys, JwtCheck::kHeader, "not a string");
  EXPECT_EQ(rejected_, 12);
}

TEST_F(HostileTokens, AlgorithmConfusionHmacWithAPublicKey) {
  JwkSet keys = PublicKeys();
  // The classic attack: HS256 with the RSA public key's bytes as the secret.
  std::string public_bytes = PublicJwk(rsa_, "rsa");
  for (const char* kid : {"rsa", "ec", "ed"}) {
    std::string token = SignJwsHmac(std::string(R"({"alg":"HS256","kid":")") + kid + "\"}", Claims(),
                                    JwsAlgorithm::kHs256, public_bytes);
    ExpectRejected(token, keys, JwtCheck::kKey, "algorithm confusion");
  }
  // Without a kid, no key of the set can verify HS256.
  ExpectRejected(SignJwsHmac(R"({"alg":"HS256"})", Claims(), JwsAlgorithm::kHs256, public_bytes), keys, JwtCheck::kKey,
                 "HS256");
  // And the other way round: an RS256 token against an HMAC secret.
  JwkSet secret =
      ParseJwkSet(R"({"keys":[{"kty":"oct","kid":"s","k":")" + EncodeBase64Url(std::string(32, 'k')) + "\"}]}");
  ExpectRejected(SignJws(R"({"alg":"RS256","kid":"s"})", Claims(), JwsAlgorithm::kRs256, rsa_), secret, JwtCheck::kKey,
                 "algorithm confusion");
  EXPECT_EQ(rejected_, 5);
}

TEST_F(HostileTokens, WrongKeyTypesAndKeyAlgMismatch) {
  JwkSet keys = PublicKeys();
  // The key says RS256; a PS256 or RS512 token naming it is refused even
  // though the RSA key could compute either.
  ExpectRejected(SignJws(R"({"alg":"PS256","kid":"rsa"})", Claims(), JwsAlgorithm::kPs256, rsa_), keys, JwtCheck::kKey,
                 "is for \"RS256\"");
  ExpectRejected(SignJws(R"({"alg":"RS512","kid":"rsa"})", Claims(), JwsAlgorithm::kRs512, rsa_), keys, JwtCheck::kKey,
                 "is for \"RS256\"");
  // ES256 naming the Ed25519 key, EdDSA naming the EC key, ES384 naming a
  // P-256 key, RS256 naming the EC key.
  ExpectRejected(SignJws(R"({"alg":"ES256","kid":"ed"})", Claims(), JwsAlgorithm::kEs256, ec_), keys, JwtCheck::kKey);
  ExpectRejected(SignJws(R"({"alg":"EdDSA","kid":"ec"})", Claims(), JwsAlgorithm::kEdDsa, ed_), keys, JwtCheck::kKey);
  auto p384 = GenerateKey("P-384");
  ExpectRejected(SignJws(R"({"alg":"ES384","kid":"ec"})", Claims(), JwsAlgorithm::kEs384, p384.get()), keys,
                 JwtCheck::kKey, "P-384");
  ExpectRejected(SignJws(R"({"alg":"RS256","kid":"ec"})", Claims(), JwsAlgorithm::kRs256, rsa_), keys, JwtCheck::kKey);
  // Correct tokens naming each key are accepted.
  EXPECT_NO_THROW(VerifyJws(SignJws(R"({"alg":"RS256","kid":"rsa"})", Claims(), JwsAlgorithm::kRs256, rsa_), keys));
  EXPECT_NO_THROW(VerifyJws(SignJws(R"({"alg":"ES256","kid":"ec"})", Claims(), JwsAlgorithm::kEs256, ec_), keys));
  EXPECT_NO_THROW(VerifyJws(SignJws(R"({"alg":"EdDSA","kid":"ed"})", Claims(), JwsAlgorithm::kEdDsa, ed_), keys));
  EXPECT_NO_THROW(VerifyJws(SignJws(R"({"alg":"EdDSA"})", Claims(), JwsAlgorithm::kEdDsa, ed_), keys));
  EXPECT_EQ(rejected_, 6);
}

TEST_F(HostileTokens, UnknownAndHugeKid) {
  JwkSet keys = PublicKeys();
  ExpectRejected(SignJws(R"({"alg":"RS256","kid":"rotated-away"})", Claims(), JwsAlgorithm::kRs256, rsa_), keys,
                 JwtCheck::kKid, "no key with kid \"rotated-away\"");
  std::string huge(100000, 'k');
  ExpectRejected(SignJws(R"({"alg":"RS256","kid":")" + huge + "\"}", Claims(), JwsAlgorithm::kRs256, rsa_), keys,
                 JwtCheck::kSize);
  std::string big(300, 'k');
  ExpectRejected(SignJws(R"({"alg":"RS256","kid":")" + big + "\"}", Claims(), JwsAlgorithm::kRs256, rsa_), keys,
                 JwtCheck::kKid, "more than 256");
  ExpectRejected(SignJws(R"({"alg":"RS256","kid":42})", Claims(), JwsAlgorithm::kRs256, rsa_), keys, JwtCheck::kHeader);
  // A kid full of control characters is quoted escaped, on one line.
  try {
    VerifyJws(SignJws("{\"alg\":\"RS256\",\"kid\":\"a\\nb\\u0000\"}", Claims(), JwsAlgorithm::kRs256, rsa_), keys);
    ADD_FAILURE();
  } catch (const JwtError& e) {
    EXPECT_NE(std::string(e.what()).find("\"a\\x0ab\\x00\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(rejected_, 4);
}

TEST_F(HostileTokens, BadBase64Url) {
  JwkSet keys = PublicKeys();
  std::string good = SignJws(R"({"alg":"ES256","kid":"ec"})", Claims(), JwsAlgorithm::kEs256, ec_);
  std::size_t d1 = good.find('.'), d2 = good.rfind('.');
  std::string h = good.substr(0, d1), p = good.substr(d1 + 1, d2 - d1 - 1), s = good.substr(d2 + 1);
  EXPECT_NO_THROW(VerifyJws(good, keys));
  // Padding, the standard alphabet, white space, a character outside any
  // alphabet, a non-canonical last character, an impossible length.
  ExpectRejected(h + "==." + p + "." + s, keys, JwtCheck::kBase64Url, "header");
  ExpectRejected(h + "." + p + "." + s + "=", keys, JwtCheck::kBase64Url, "signature");
  std::string plus = s;
  plus[3] = '+';
  ExpectRejected(h + "." + p + "." + plus, keys, JwtCheck::kBase64Url, "signature");
  std::string slash = p;
  slash[5] = '/';
  ExpectRejected(h + "." + slash + "." + s, keys, JwtCheck::kBase64Url, "payload");
  ExpectRejected(h + "." + p + " ." + s, keys, JwtCheck::kBase64Url, "payload");
  ExpectRejected(h + "." + p + "." + s.substr(0, 10) + "\n" + s.substr(10), keys, JwtCheck::kBase64Url);
  ExpectRejected(h + "." + p + "." + s.substr(0, 10) + "\xc3\xa9" + s.substr(12), keys, JwtCheck::kBase64Url);
  ExpectRejected(h + "." + p + "." + s + "AAA", keys, JwtCheck::kBase64Url);  // 89 chars: 1 mod 4
  // Change the last character of a 64-byte signature (86 chars, 4 spare
  // bits) into a non-canonical one with the same leading bits.
  ASSERT_EQ(s.size(), 86u);
  std::string noncanon = s;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::size_t v = alphabet.find(noncanon.back());
  noncanon.back() = alphabet[v | 1];
  if (noncanon == s) noncanon.back() = alphabet[v | 2];
  ExpectRejected(h + "." + p + "." + noncanon, keys, JwtCheck::kBase64Url);
  EXPECT_EQ(rejected_, 9);
}

TEST_F(HostileTokens, HeadersThatAreNotOneJsonObject) {
  JwkSet keys = PublicKeys();
  auto with_header = [&](const std::string& header) {
    return EncodeBase64Url(header) + "." + EncodeBase64Url(Claims()) + ".c2lnbmF0dXJl";
  };
  ExpectRejected(with_header("not json"), keys, JwtCheck::kHeader, "not valid JSON");
  ExpectRejected(with_header(R"({"alg":"RS256")"), keys, JwtCheck::kHeader, "not valid JSON");
  ExpectRejected(with_header(R"(["alg","RS256"])"), keys, JwtCheck::kHeader, "not a JSON object");
  ExpectRejected(with_header(R"("RS256")"), keys, JwtCheck::kHeader, "not a JSON object");
  ExpectRejected(with_header(R"({"alg":"RS256"} {})"), keys, JwtCheck::kHeader);
  ExpectRejected(with_header(R"({"alg":"RS256",})"), keys, JwtCheck::kHeader);
  ExpectRejected(with_header("{\"alg\":\"RS256\"/*c*/}"), keys, JwtCheck::kHeader);
  ExpectRejected(with_header("{\"alg\":\"RS256\",\"x\":\"\xc0\xaf\"}"), keys, JwtCheck::kHeader);  // overlong UTF-8
  // Duplicate members: two algs (the second would win in many parsers).
  ExpectRejected(with_header(R"({"alg":"RS256","alg":"none"})"), keys, JwtCheck::kHeader, "duplicate member \"alg\"");
  ExpectRejected(with_header(R"({"alg":"RS256","kid":"a","kid":"b"})"), keys, JwtCheck::kHeader, "duplicate");
  ExpectRejected(with_header(R"({"alg":"RS256","x":{"y":1,"y":2}})"), keys, JwtCheck::kHeader, "duplicate");
  // Nested bombs.
  ExpectRejected(with_header(R"({"alg":"RS256","x":)" + std::string(5000, '[') + std::string(5000, ']') + "}"), keys,
                 JwtCheck::kHeader, "nested deeper");
  std::string objects;
  for (int i = 0; i < 2000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(2000, '}');
  ExpectRejected(with_header(R"({"alg":"RS256","x":)" + objects + "}"), keys, JwtCheck::kHeader, "nested deeper");
  // Critical extensions and unencoded payloads.
  ExpectRejected(with_header(R"({"alg":"RS256","crit":["exp"],"exp":1})"), keys, JwtCheck::kCrit, "\"exp\"");
  ExpectRejected(with_header(R"({"alg":"RS256","crit":[]})"), keys, JwtCheck::kCrit);
  ExpectRejected(with_header(R"({"alg":"RS256","crit":"b64"})"), keys, JwtCheck::kCrit);
  ExpectRejected(with_header(R"({"alg":"RS256","b64":false})"), keys, JwtCheck::kHeader, "b64");
  EXPECT_EQ(rejected_, 17);
}

TEST_F(HostileTokens, OversizedAndTruncated) {
  JwkSet keys = PublicKeys();
  std::string good = SignJws(R"({"alg":"EdDSA","kid":"ed"})", Claims(), JwsAlgorithm::kEdDsa, ed_);
  std::string huge_claims = R"({"iss":"x","pad":")" + std::string(16 * 1024, 'p') + "\"}";
  ExpectRejected(SignJws(R"({"alg":"EdDSA","kid":"ed"})", huge_claims, JwsAlgorithm::kEdDsa, ed_), keys,
                 JwtCheck::kSize, "more than 16384");
  ExpectRejected(std::string(16385, 'a'), keys, JwtCheck::kSize);
  ExpectRejected("", keys, JwtCheck::kFormat);
  ExpectRejected("abc", keys, JwtCheck::kFormat, "three segments");
  ExpectRejected(good.substr(0, good.find('.')), keys, JwtCheck::kFormat);
  ExpectRejected(good.substr(0, good.rfind('.')), keys, JwtCheck::kFormat);
  ExpectRejected(good.substr(0, good.rfind('.') + 1), keys, JwtCheck::kFormat, "signature segment is empty");
  ExpectRejected(good + ".", keys, JwtCheck::kFormat);
  ExpectRejected(good + ".e30", keys, JwtCheck::kFormat);
  ExpectRejected(good.substr(good.find('.')), keys, JwtCheck::kFormat, "header segment is empty");
  ExpectRejected("..", keys, JwtCheck::kFormat);
  // Segments cut short by characters to an impossible length (a base64url
  // text of 4n+1 characters): base64url fails whatever the bytes are. (A cut
  // to a possible length fails only when the new last character happens not
  // to be a canonical ending: with random keys that made this test flaky.)
  std::size_t d1 = good.find('.'), d2 = good.rfind('.');
  ASSERT_EQ((good.size() - d2 - 1) % 4, 2u);  // 64-byte signature: 86 characters
  ExpectRejected(good.substr(0, good.size() - 5), keys, JwtCheck::kBase64Url);
  ExpectRejected(good.substr(0, good.size() - 1), keys, JwtCheck::kBase64Url);
  // Cut short by bytes (re-encoded): decodes, does not verify.
  std::string sig = *DecodeBase64Url(good.substr(d2 + 1));
  std::string payload = *DecodeBase64Url(good.substr(d1 + 1, d2 - d1 - 1));
  ExpectRejected(good.substr(0, d2 + 1) + EncodeBase64Url(sig.substr(0, 63)), keys, JwtCheck::kSignature);
  ExpectRejected(good.substr(0, d1 + 1) + EncodeBase64Url(payload.substr(0, payload.size() - 1)) + good.substr(d2),
                 keys, JwtCheck::kSignature);
  ExpectRejected(good.substr(0, d1 + 1) + good.substr(d2), keys, JwtCheck::kSignature);
  EXPECT_NO_THROW(VerifyJws(good, keys));
  EXPECT_EQ(rejected_, 16);
}

TEST_F(HostileTokens, SignaturesThatDoNotVerify) {
  JwkSet keys = PublicKeys();
  auto other_ec = GenerateKey("P-256");
  ExpectRejected(SignJws(R"({"alg":"ES256","kid":"ec"})", Claims(), JwsAlgorithm::kEs256, other_ec.get()), keys,
                 JwtCheck::kSignature, "ES256 signature does not verify");
  // A valid header and signature spliced onto another payload.
  std::string good = SignJws(R"({"alg":"ES256","kid":"ec"})", Claims(), JwsAlgorithm::kEs256, ec_);
  std::string forged_payload = EncodeBase64Url(R"({"iss":"https://a.example","sub":"1","exp":4102444800})");
  std::size_t d1 = good.find('.'), d2 = good.rfind('.');
  ExpectRejected(good.substr(0, d1 + 1) + forged_payload + good.substr(d2), keys, JwtCheck::kSignature);
  // ECDSA signatures of the wrong length: DER instead of raw, one byte
  // short, one byte long, all zero.
  std::string s = *DecodeBase64Url(good.substr(d2 + 1));
  for (const std::string& sig : {s.substr(1), s + '\0', std::string(64, '\0'), std::string(96, '\x01')}) {
    ExpectRejected(good.substr(0, d2 + 1) + EncodeBase64Url(sig), keys, JwtCheck::kSignature);
  }
  // An Ed25519 signature with a flipped bit in S.
  std::string ed = SignJws(R"({"alg":"EdDSA","kid":"ed"})", Claims(), JwsAlgorithm::kEdDsa, ed_);
  std::string edsig = *DecodeBase64Url(ed.substr(ed.rfind('.') + 1));
  edsig[40] ^= 1;
  ExpectRejected(ed.substr(0, ed.rfind('.') + 1) + EncodeBase64Url(edsig), keys, JwtCheck::kSignature);
  // An HMAC tag one byte short.
  JwkSet secret =
      ParseJwkSet(R"({"keys":[{"kty":"oct","k":")" + EncodeBase64Url(std::string(32, 'k')) + R"(","alg":"HS256"}]})");
  std::string hs = SignJwsHmac(R"({"alg":"HS256"})", Claims(), JwsAlgorithm::kHs256, std::string(32, 'k'));
  EXPECT_NO_THROW(VerifyJws(hs, secret));
  std::string tag = *DecodeBase64Url(hs.substr(hs.rfind('.') + 1));
  ExpectRejected(hs.substr(0, hs.rfind('.') + 1) + EncodeBase64Url(tag.substr(0, 31)), secret, JwtCheck::kSignature);
  // An HMAC secret shorter than the hash (RFC 7518 3.2).
  JwkSet short_secret = ParseJwkSet(R"({"keys":[{"kty":"oct","k":")" + EncodeBase64Url(std::string(31, 'k')) + "\"}]}");
  ExpectRejected(SignJwsHmac(R"({"alg":"HS256"})", Claims(), JwsAlgorithm::kHs256, std::string(31, 'k')), short_secret,
                 JwtCheck::kKey, "248-bit secret");
  EXPECT_EQ(rejected_, 9);
}

TEST_F(HostileTokens, TimesAndPayloads) {
  // After the signature, the claims: expired, not yet valid, issued in the
  // future, missing exp, a JSON bomb and duplicate claims in the payload.
  JwkSet keys = PublicKeys();
  ClaimsPolicy policy;
  policy.now = 1700000000;
  policy.issuer = "https://a.example";
  auto check = [&](const std::string& claims, JwtCheck expected) {
    std::string token = SignJws(R"({"alg":"EdDSA","kid":"ed"})", claims, JwsAlgorithm::kEdDsa, ed_);
    try {
      Jws jws = VerifyJws(token, keys);
      CheckClaims(ParseClaims(jws.payload), policy);
      ADD_FAILURE() << "accepted " << claims.substr(0, 100);
    } catch (const JwtError& e) {
      EXPECT_EQ(JwtCheckName(e.check()), std::string(JwtCheckName(expected))) << e.what();
      EXPECT_STREQ(e.sqlstate(), "28000");
    }
  };
  check(R"({"iss":"https://a.example","exp":1000000000})", JwtCheck::kExp);
  check(R"({"iss":"https://a.example","exp":4102444800,"nbf":4000000000})", JwtCheck::kNbf);
  check(R"({"iss":"https://a.example","exp":4102444800,"iat":4000000000})", JwtCheck::kIat);
  check(R"({"iss":"https://a.example"})", JwtCheck::kExp);
  check(R"({"iss":"https://a.example","exp":4102444800,"x":)" + std::string(3000, '[') + std::string(3000, ']') + "}",
        JwtCheck::kPayload);
  check(R"({"iss":"https://a.example","exp":4102444800,"sub":"1","sub":"2"})", JwtCheck::kPayload);
  check(R"({"iss":"https://b.example","exp":4102444800})", JwtCheck::kIss);
}

}  // namespace
}  // namespace crosswalk
