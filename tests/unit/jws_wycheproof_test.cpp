// Every Wycheproof vector for the signature primitives JWS verification
// uses, run through crosswalk's own functions (VerifyPublicKeySignature,
// VerifyHmac, ParseJwk, ParseJwkSet, VerifyJws), with the number of vectors
// asserted so that a file that is skipped or cut short fails the test.
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base64url.hpp"
#include "error.hpp"
#include "jwk.hpp"
#include "jws.hpp"
#include "jwt_error.hpp"

namespace crosswalk {
namespace {

using Json = nlohmann::json;

Json LoadVectors(const std::string& name) {
  std::string path = std::string(CROSSWALK_VECTORS_DIR) + "/wycheproof/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

std::string Hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Outcome counts of one file, compared with what the file says it holds.
struct Tally {
  int total = 0, valid = 0, invalid = 0, acceptable = 0, via_jwk = 0;
};

// The public key of a Wycheproof signature group: from its JWK through
// crosswalk's parser when the group has one, else from its DER.
Jwk GroupKey(const Json& group, const char* jwk_member, JwsAlgorithm alg, Tally& tally) {
  if (group.contains(jwk_member)) {
    ++tally.via_jwk;
    return JwkFromJson(group[jwk_member]);
  }
  std::string der = Hex(group["publicKeyDer"].get<std::string>());
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Jwk jwk;
  jwk.type = KeyTypeFor(alg);
  jwk.public_key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!jwk.public_key) throw std::runtime_error("unreadable publicKeyDer");
  return jwk;
}

Tally RunSignatureFile(const std::string& file, JwsAlgorithm alg, const char* jwk_member) {
  Json vectors = LoadVectors(file);
  Tally tally;
  for (const auto& group : vectors["testGroups"]) {
    Jwk key = GroupKey(group, jwk_member, alg, tally);
    for (const auto& test : group["tests"]) {
      ++tally.total;
      const std::string result = test["result"];
      // Both paths: the one-shot primitive and the per-key prepared
      // context that JWS verification uses; they must agree.
      const std::string msg = Hex(test["msg"]), sig = Hex(test["sig"]);
      bool ok = VerifySignature(alg, key, msg, sig);
      EXPECT_EQ(ok, VerifyPublicKeySignature(alg, key.public_key.get(), msg, sig)) << file << " tcId " << test["tcId"];
      if (result == "valid") {
        ++tally.valid;
        EXPECT_TRUE(ok) << file << " tcId " << test["tcId"] << " " << test["comment"];
      } else if (result == "invalid") {
        ++tally.invalid;
        EXPECT_FALSE(ok) << file << " tcId " << test["tcId"] << " " << test["comment"];
      } else {
        ++tally.acceptable;  // either outcome is correct
      }
    }
  }
  EXPECT_EQ(tally.total, vectors["numberOfTests"].get<int>()) << file;
  return tally;
}

TEST(JwsWycheproof, EcdsaP256Sha256P1363) {
  Tally t = RunSignatureFile("ecdsa_secp256r1_sha256_p1363_test.json", JwsAlgorithm::kEs256, "publicKeyJwk");
  EXPECT_EQ(t.total, 262);
  EXPECT_EQ(t.valid, 173);
  EXPECT_EQ(t.invalid, 89);
  EXPECT_EQ(t.via_jwk, 103);  // groups whose key came through ParseJwk
}

TEST(JwsWycheproof, EcdsaP384Sha384P1363) {
  Tally t = RunSignatureFile("ecdsa_secp384r1_sha384_p1363_test.json", JwsAlgorithm::kEs384, "publicKeyJwk");
  EXPECT_EQ(t.total, 280);
  EXPECT_EQ(t.valid, 193);
  EXPECT_EQ(t.invalid, 87);
  EXPECT_EQ(t.via_jwk, 95);
}

TEST(JwsWycheproof, Ed25519) {
  Tally t = RunSignatureFile("ed25519_test.json", JwsAlgorithm::kEdDsa, "publicKeyJwk");
  EXPECT_EQ(t.total, 151);
  EXPECT_EQ(t.valid, 88);
  EXPECT_EQ(t.invalid, 63);
  EXPECT_EQ(t.via_jwk, 78);
}

TEST(JwsWycheproof, RsaPkcs1v15Sha256) {
  Tally t = RunSignatureFile("rsa_signature_2048_sha256_test.json", JwsAlgorithm::kRs256, "keyJwk");
  EXPECT_EQ(t.total, 259);
  EXPECT_EQ(t.valid, 9);
  EXPECT_EQ(t.invalid, 249);
  EXPECT_EQ(t.acceptable, 1);  // tcId with a missing NULL in DigestInfo
  EXPECT_EQ(t.via_jwk, 3);
}

TEST(JwsWycheproof, RsaPssSha256Mgf1Salt32) {
  Tally t = RunSignatureFile("rsa_pss_2048_sha256_mgf1_32_test.json", JwsAlgorithm::kPs256, "publicKeyJwk");
  EXPECT_EQ(t.total, 108);
  EXPECT_EQ(t.valid, 63);
  EXPECT_EQ(t.invalid, 45);
  EXPECT_EQ(t.via_jwk, 1);
}

// HMAC: JWS uses full-length tags only, so a truncated tag never verifies
// through VerifyHmac; for those groups the vector's expectation is checked
// against a prefix of ComputeHmac instead.
Tally RunHmacFile(const std::string& file, JwsAlgorithm alg, int full_bits) {
  Json vectors = LoadVectors(file);
  Tally tally;
  for (const auto& group : vectors["testGroups"]) {
    const int tag_bits = group["tagSize"];
    for (const auto& test : group["tests"]) {
      ++tally.total;
      const std::string key = Hex(test["key"]), msg = Hex(test["msg"]), tag = Hex(test["tag"]);
      const bool valid = test["result"] == "valid";
      (valid ? tally.valid : tally.invalid)++;
      bool ok = VerifyHmac(alg, key, msg, tag);
      Jwk jwk;
      jwk.type = KeyType::kOct;
      jwk.secret = SecretFrom(key);
      EXPECT_EQ(ok, VerifySignature(alg, jwk, msg, tag)) << file << " tcId " << test["tcId"];
      if (tag_bits == full_bits) {
        EXPECT_EQ(ok, valid) << file << " tcId " << test["tcId"] << " " << test["comment"];
      } else {
        EXPECT_FALSE(ok) << file << " tcId " << test["tcId"] << ": a truncated tag verified";
        std::string prefix = ComputeHmac(alg, key, msg).substr(0, static_cast<std::size_t>(tag_bits / 8));
        EXPECT_EQ(prefix == tag, valid) << file << " tcId " << test["tcId"] << " " << test["comment"];
      }
    }
  }
  EXPECT_EQ(tally.total, vectors["numberOfTests"].get<int>()) << file;
  return tally;
}

TEST(JwsWycheproof, HmacSha256) {
  Tally t = RunHmacFile("hmac_sha256_test.json", JwsAlgorithm::kHs256, 256);
  EXPECT_EQ(t.total, 174);
  EXPECT_EQ(t.valid, 66);
  EXPECT_EQ(t.invalid, 108);
}

TEST(JwsWycheproof, HmacSha384) {
  Tally t = RunHmacFile("hmac_sha384_test.json", JwsAlgorithm::kHs384, 384);
  EXPECT_EQ(t.total, 174);
  EXPECT_EQ(t.valid, 66);
  EXPECT_EQ(t.invalid, 108);
}

TEST(JwsWycheproof, HmacSha512) {
  Tally t = RunHmacFile("hmac_sha512_test.json", JwsAlgorithm::kHs512, 512);
  EXPECT_EQ(t.total, 174);
  EXPECT_EQ(t.valid, 66);
  EXPECT_EQ(t.invalid, 108);
}

// JSON Web Key sets with a JWS each: the whole path, JWKS parsing included.
// Invalid sets (duplicate kids, mixed key kinds, ROCA or 1024-bit RSA keys,
// exponent 1) are refused by ParseJwkSet; the rest by VerifyJws.
TEST(JwsWycheproof, JsonWebKeySets) {
  Json vectors = LoadVectors("json_web_key_test.json");
  int total = 0;
  std::vector<int> accepted, rejected_set, rejected_token;
  for (const auto& group : vectors["testGroups"]) {
    const Json& set = group.contains("public") ? group["public"] : group["private"];
    for (const auto& test : group["tests"]) {
      ++total;
      bool ok = false;
      try {
        JwkSet keys = ParseJwkSet(set.dump());
        try {
          VerifyJws(test["jws"].get<std::string>(), keys);
          ok = true;
          accepted.push_back(test["tcId"]);
        } catch (const JwtError& e) {
          rejected_token.push_back(test["tcId"]);
          EXPECT_STREQ(e.sqlstate(), "28000");
        }
      } catch (const JwtError&) {
        throw;
      } catch (const Error& e) {
        rejected_set.push_back(test["tcId"]);
        EXPECT_STREQ(e.sqlstate(), "22023");
      }
      EXPECT_EQ(ok, test["result"] == "valid") << "tcId " << test["tcId"] << " " << test["comment"];
    }
  }
  EXPECT_EQ(total, 26);
  EXPECT_EQ(total, vectors["numberOfTests"].get<int>());
  EXPECT_EQ(accepted, (std::vector<int>{2, 5, 13, 14, 15}));
  // Mixed key kinds, duplicate kid, ROCA, 1024-bit RSA, e = 1, empty
  // secrets, a point off the curve, P-384 with P-256-sized coordinates, an
  // "RSA" key with EC members.
  EXPECT_EQ(rejected_set, (std::vector<int>{1, 4, 7, 8, 9, 16, 17, 18, 22, 23, 24}));
  // Modified signature, use "enc", short secrets, key alg differing from
  // the header's (ES521, ES224, A256GCM, A256KW).
  EXPECT_EQ(rejected_token, (std::vector<int>{3, 6, 10, 11, 12, 19, 20, 21, 25, 26}));
}

}  // namespace
}  // namespace crosswalk
