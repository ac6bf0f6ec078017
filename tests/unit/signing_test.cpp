// Ed25519 for ledger checkpoints: RFC 8032's test vectors for signing, every
// Wycheproof Ed25519 vector for verification (counted), and the wrapping of
// signing keys under the master-derived key.
#include "signing.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "error.hpp"

namespace crosswalk {
namespace {

std::vector<std::uint8_t> Hex(const std::string& s) {
  std::vector<std::uint8_t> out;
  if (!DecodeHex(s, &out)) throw std::runtime_error("bad hex in test data");
  return out;
}

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
TEST(Signing, Rfc8032Vectors) {
  const struct {
    const char *seed, *pub, *msg, *sig;
  } cases[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
  };
  for (const auto& c : cases) {
    const auto seed = Hex(c.seed), msg = Hex(c.msg);
    const auto pub = Ed25519PublicKeyOf(seed);
    EXPECT_EQ(EncodeHex(pub), c.pub);
    const auto sig = Ed25519Sign(seed, msg);
    EXPECT_EQ(EncodeHex(sig), c.sig);
    EXPECT_TRUE(Ed25519Verify(pub, msg, sig));
  }
}

TEST(Signing, WycheproofEd25519EveryVector) {
  std::ifstream f(std::string(CROSSWALK_VECTORS_DIR) + "/wycheproof/ed25519_test.json");
  ASSERT_TRUE(f.good());
  const auto doc = nlohmann::json::parse(f);
  int total = 0, valid_accepted = 0, invalid_rejected = 0;
  for (const auto& group : doc["testGroups"]) {
    const auto pub = Hex(group["publicKey"]["pk"].get<std::string>());
    for (const auto& t : group["tests"]) {
      ++total;
      const bool ok = Ed25519Verify(pub, Hex(t["msg"].get<std::string>()), Hex(t["sig"].get<std::string>()));
      if (t["result"] == "valid") {
        EXPECT_TRUE(ok) << t["tcId"];
        valid_accepted += ok;
      } else {
        EXPECT_FALSE(ok) << t["tcId"];
        invalid_rejected += !ok;
      }
    }
  }
  EXPECT_EQ(total, 151);
  EXPECT_EQ(valid_accepted, 88);
  EXPECT_EQ(invalid_rejected, 63);
}

TEST(Signing, VerifyRejectsMalformedInput) {
  const auto seed = NewEd25519Seed();
  const auto pub = Ed25519PublicKeyOf(seed.view());
  const std::vector<std::uint8_t> msg = {1, 2, 3};
  const auto sig = Ed25519Sign(seed.view(), msg);
  EXPECT_TRUE(Ed25519Verify(pub, msg, sig));
  EXPECT_FALSE(Ed25519Verify(ByteView(pub.data(), 31), msg, sig));
  EXPECT_FALSE(Ed25519Verify(pub, msg, ByteView(sig.data(), 63)));
  for (std::size_t i = 0; i < sig.size(); ++i) {
    auto bad = sig;
    bad[i] ^= 0x01;
    EXPECT_FALSE(Ed25519Verify(pub, msg, bad)) << i;
  }
  EXPECT_FALSE(Ed25519Verify(pub, std::vector<std::uint8_t>{1, 2, 4}, sig));
}

TEST(Signing, WrappedSeedsUnwrapOnlyUnderTheirNameAndKey) {
  std::vector<std::uint8_t> wrap_key(32, 7), other_key(32, 8);
  Aead wrap(AeadMode::kGcm, wrap_key), other(AeadMode::kGcm, other_key);
  const auto seed = NewEd25519Seed();
  const auto wrapped = WrapSigningSeed(wrap, "learnhub-ledger", seed.view());
  ASSERT_EQ(wrapped.size(), 61u);
  const auto back = UnwrapSigningSeed(wrap, "learnhub-ledger", wrapped);
  EXPECT_EQ(EncodeHex(back.view()), EncodeHex(seed.view()));
  EXPECT_THROW(UnwrapSigningSeed(wrap, "skillpath-ledger", wrapped), Error);
  EXPECT_THROW(UnwrapSigningSeed(other, "learnhub-ledger", wrapped), Error);
  for (std::size_t i = 0; i < wrapped.size(); ++i) {
    auto bad = wrapped;
    bad[i] ^= 0x80;
    EXPECT_THROW(UnwrapSigningSeed(wrap, "learnhub-ledger", bad), Error) << i;
  }
  EXPECT_THROW(UnwrapSigningSeed(wrap, "learnhub-ledger", ByteView(wrapped.data(), 60)), Error);
}

TEST(Signing, CheckpointMessageLayout) {
  std::vector<std::uint8_t> hash(32, 0xab);
  const auto msg = CheckpointMessage(0x0102030405060708, hash);
  const std::string label = "crosswalk ledger checkpoint v1";
  ASSERT_EQ(msg.size(), label.size() + 1 + 8 + 32);
  EXPECT_EQ(std::string(msg.begin(), msg.begin() + label.size()), label);
  EXPECT_EQ(msg[label.size()], 0);
  EXPECT_EQ(msg[label.size() + 1], 0x01);
  EXPECT_EQ(msg[label.size() + 8], 0x08);
  EXPECT_EQ(msg.back(), 0xab);
  EXPECT_THROW(CheckpointMessage(1, std::vector<std::uint8_t>(31)), Error);
}

}  // namespace
}  // namespace crosswalk
