// Every vector of Wycheproof's AES-GCM, AES-SIV-CMAC and HMAC-SHA-2 files run
// against lib/aead and lib/hmac, counted: a file or group silently skipped
// changes a count and fails the test.
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aead.hpp"
#include "error.hpp"
#include "hmac.hpp"

namespace crosswalk {
namespace {

nlohmann::json LoadVectors(const std::string& name) {
  std::ifstream f(std::string(CROSSWALK_VECTORS_DIR) + "/wycheproof/" + name);
  if (!f) throw std::runtime_error("cannot open Wycheproof file " + name);
  return nlohmann::json::parse(f);
}

std::vector<std::uint8_t> Hex(const nlohmann::json& v) {
  std::vector<std::uint8_t> out;
  if (!DecodeHex(v.get<std::string>(), &out)) throw std::runtime_error("bad hex in vector");
  return out;
}

struct Counts {
  int valid_passed = 0;
  int invalid_rejected = 0;
  int unsupported = 0;
  int total = 0;
};

// Every AES-GCM vector through one path (lib/aead.hpp's AeadPath): the
// provider's functions called directly, which crosswalk uses, or EVP, the
// fallback when a provider does not offer them.
void RunAesGcmFile(AeadPath path) {
  const auto doc = LoadVectors("aes_gcm_test.json");
  Counts c;
  int direct = 0;
  for (const auto& group : doc["testGroups"]) {
    for (const auto& t : group["tests"]) {
      ++c.total;
      const auto key = Hex(t["key"]), iv = Hex(t["iv"]), aad = Hex(t["aad"]), msg = Hex(t["msg"]);
      const auto ct = Hex(t["ct"]), tag = Hex(t["tag"]);
      const int id = t["tcId"];
      ASSERT_EQ(tag.size(), kAeadTagSize) << id;
      Aead aead(AeadMode::kGcm, key, path);
      if (aead.direct()) ++direct;
      std::vector<std::uint8_t> out(ct.size() + 1);
      const bool opened = aead.Open(iv, {ByteView(aad)}, ct, tag.data(), out.data());
      if (t["result"] == "valid") {
        if (iv.size() > 128) {
          // OpenSSL 3's GCM takes nonces of at most 128 bytes (GCM_IV_MAX_SIZE);
          // these three 257-byte nonces are refused, never mis-decrypted.
          EXPECT_FALSE(opened) << id;
          ++c.unsupported;
          continue;
        }
        ASSERT_TRUE(opened) << id;
        EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + msg.size()), msg) << id;
        std::vector<std::uint8_t> sealed(msg.size() + 1), sealed_tag(kAeadTagSize);
        aead.Seal(iv, {ByteView(aad)}, msg, sealed.data(), sealed_tag.data());
        EXPECT_EQ(std::vector<std::uint8_t>(sealed.begin(), sealed.begin() + ct.size()), ct) << id;
        EXPECT_EQ(sealed_tag, tag) << id;
        ++c.valid_passed;
      } else {
        ASSERT_EQ(t["result"], "invalid") << id;
        EXPECT_FALSE(opened) << id;
        EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + ct.size()),
                  std::vector<std::uint8_t>(ct.size(), 0))
            << "rejected output must be zeroed, tc " << id;
        ++c.invalid_rejected;
      }
    }
  }
  EXPECT_EQ(c.total, 316);
  EXPECT_EQ(c.valid_passed, 226);
  EXPECT_EQ(c.invalid_rejected, 87);
  EXPECT_EQ(c.unsupported, 3);
  // Which path ran them: with OpenSSL's default provider every key size
  // (128, 192 and 256 bits) goes direct unless EVP was asked for.
  EXPECT_EQ(direct, path == AeadPath::kDirect ? 316 : 0);
}

TEST(Wycheproof, AesGcmEveryGroupDirect) { RunAesGcmFile(AeadPath::kDirect); }
TEST(Wycheproof, AesGcmEveryGroupThroughEvp) { RunAesGcmFile(AeadPath::kEvp); }

TEST(Wycheproof, AesSivCmacEveryGroup) {
  const auto doc = LoadVectors("aes_siv_cmac_test.json");
  Counts c;
  for (const auto& group : doc["testGroups"]) {
    for (const auto& t : group["tests"]) {
      ++c.total;
      const auto key = Hex(t["key"]), aad = Hex(t["aad"]), msg = Hex(t["msg"]), ct = Hex(t["ct"]);
      const int id = t["tcId"];
      // ct is the synthetic IV (16 bytes) followed by the ciphertext.
      std::unique_ptr<Aead> aead;
      try {
        aead = std::make_unique<Aead>(AeadMode::kSiv, key);
      } catch (const Error&) {
        ASSERT_EQ(t["result"], "invalid") << "valid key refused, tc " << id;
        ++c.invalid_rejected;
        continue;
      }
      bool opened = false;
      std::vector<std::uint8_t> out(ct.size() + 1);
      if (ct.size() >= kAeadTagSize) {
        opened = aead->Open(ByteView(), {ByteView(aad)}, ByteView(ct.data() + kAeadTagSize, ct.size() - kAeadTagSize),
                            ct.data(), out.data());
      }
      if (t["result"] == "valid") {
        ASSERT_TRUE(opened) << id;
        EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + msg.size()), msg) << id;
        std::vector<std::uint8_t> sealed(kAeadTagSize + msg.size());
        aead->Seal(ByteView(), {ByteView(aad)}, msg, sealed.data() + kAeadTagSize, sealed.data());
        EXPECT_EQ(sealed, ct) << id;
        ++c.valid_passed;
      } else {
        EXPECT_FALSE(opened) << id;
        ++c.invalid_rejected;
      }
    }
  }
  EXPECT_EQ(c.total, 442);
  EXPECT_EQ(c.valid_passed, 118);
  EXPECT_EQ(c.invalid_rejected, 324);
}

void RunHmacFile(const std::string& file, Digest digest) {
  const auto doc = LoadVectors(file);
  Counts c;
  for (const auto& group : doc["testGroups"]) {
    const std::size_t tag_bytes = group["tagSize"].get<std::size_t>() / 8;
    for (const auto& t : group["tests"]) {
      ++c.total;
      const auto key = Hex(t["key"]), msg = Hex(t["msg"]), tag = Hex(t["tag"]);
      const int id = t["tcId"];
      Hmac hmac(digest, key);
      std::vector<std::uint8_t> full(hmac.size());
      hmac.Compute({ByteView(msg)}, full.data());
      const bool match =
          tag.size() == tag_bytes && tag_bytes <= full.size() && CRYPTO_memcmp(full.data(), tag.data(), tag_bytes) == 0;
      if (t["result"] == "valid") {
        EXPECT_TRUE(match) << file << " tc " << id;
        ++c.valid_passed;
      } else {
        EXPECT_FALSE(match) << file << " tc " << id;
        ++c.invalid_rejected;
      }
      // The context is reused: a second message under the same key agrees.
      std::vector<std::uint8_t> again(hmac.size());
      hmac.Compute({ByteView(msg)}, again.data());
      EXPECT_EQ(again, full) << id;
    }
  }
  EXPECT_EQ(c.total, 174) << file;
  EXPECT_EQ(c.valid_passed, 66) << file;
  EXPECT_EQ(c.invalid_rejected, 108) << file;
}

TEST(Wycheproof, HmacSha256) { RunHmacFile("hmac_sha256_test.json", Digest::kSha256); }
TEST(Wycheproof, HmacSha384) { RunHmacFile("hmac_sha384_test.json", Digest::kSha384); }
TEST(Wycheproof, HmacSha512) { RunHmacFile("hmac_sha512_test.json", Digest::kSha512); }

// RFC 5869 appendix A, test cases 1 and 3 (SHA-256).
TEST(Hkdf, Rfc5869Vectors) {
  std::vector<std::uint8_t> ikm(22, 0x0b), salt, info;
  ASSERT_TRUE(DecodeHex("000102030405060708090a0b0c", &salt));
  ASSERT_TRUE(DecodeHex("f0f1f2f3f4f5f6f7f8f9", &info));
  EXPECT_EQ(EncodeHex(Hkdf(Digest::kSha256, ikm, salt, info, 42).view()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  EXPECT_EQ(EncodeHex(Hkdf(Digest::kSha256, ikm, ByteView(), ByteView(), 42).view()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// The cipher context is reused across messages of different sizes and both
// directions without state leaking from one message to the next.
TEST(Aead, ContextReuseAcrossMessagesAndDirections) {
  struct Case {
    AeadMode mode;
    AeadPath path;
  };
  for (Case k : {Case{AeadMode::kGcm, AeadPath::kDirect}, Case{AeadMode::kGcm, AeadPath::kEvp},
                 Case{AeadMode::kSiv, AeadPath::kDirect}}) {
    const AeadMode mode = k.mode;
    std::vector<std::uint8_t> key(mode == AeadMode::kGcm ? 32 : 64, 0x42);
    Aead a(mode, key, k.path), fresh(mode, key, k.path);
    EXPECT_EQ(a.direct(), mode == AeadMode::kGcm && k.path == AeadPath::kDirect);
    const std::vector<std::uint8_t> nonce =
        mode == AeadMode::kGcm ? std::vector<std::uint8_t>(12, 7) : std::vector<std::uint8_t>();
    for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 1000u}) {
      std::vector<std::uint8_t> msg(n, static_cast<std::uint8_t>(n)), ct(n + 1), tag(16), ct2(n + 1), tag2(16),
          back(n + 1);
      a.Seal(nonce, {std::string_view("hdr"), std::string_view("ctx")}, msg, ct.data(), tag.data());
      fresh = Aead(mode, key, k.path);
      fresh.Seal(nonce, {std::string_view("hdr"), std::string_view("ctx")}, msg, ct2.data(), tag2.data());
      EXPECT_EQ(ct, ct2) << n;
      EXPECT_EQ(tag, tag2) << n;
      ASSERT_TRUE(a.Open(nonce, {std::string_view("hdr"), std::string_view("ctx")}, ByteView(ct.data(), n), tag.data(),
                         back.data()));
      EXPECT_EQ(std::vector<std::uint8_t>(back.begin(), back.begin() + n), msg);
      EXPECT_FALSE(a.Open(nonce, {std::string_view("hdr"), std::string_view("ctX")}, ByteView(ct.data(), n), tag.data(),
                          back.data()));
    }
  }
}

// OpenSSL's own AES-SIV cipher (a fresh context per message, each aad part
// one S2V component): the reference for the S2V/CTR composition in
// lib/aead.cpp with more than one associated data part, which Wycheproof's
// single-aad vectors do not cover and every envelope uses. OpenSSL 3.0 does
// not take an empty plaintext here; Wycheproof's empty messages cover it.
void OpenSslSivSeal(ByteView key, const std::vector<std::string>& aad, ByteView msg, std::vector<std::uint8_t>* ct,
                    std::uint8_t tag[16]) {
  const char* name = key.size == 32 ? "AES-128-SIV" : key.size == 48 ? "AES-192-SIV" : "AES-256-SIV";
  std::unique_ptr<EVP_CIPHER, void (*)(EVP_CIPHER*)> cipher(EVP_CIPHER_fetch(nullptr, name, nullptr), EVP_CIPHER_free);
  std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  ASSERT_TRUE(cipher && ctx);
  ASSERT_EQ(EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data, nullptr, nullptr), 1);
  int n = 0;
  static const std::uint8_t kEmpty = 0;
  for (const std::string& part : aad) {
    const auto* data = part.empty() ? &kEmpty : reinterpret_cast<const std::uint8_t*>(part.data());
    ASSERT_EQ(EVP_EncryptUpdate(ctx.get(), nullptr, &n, data, static_cast<int>(part.size())), 1);
  }
  ct->assign(msg.size, 0);
  ASSERT_EQ(EVP_EncryptUpdate(ctx.get(), ct->data(), &n, msg.data, static_cast<int>(msg.size)), 1);
  std::uint8_t final_block[16];
  ASSERT_EQ(EVP_EncryptFinal_ex(ctx.get(), final_block, &n), 1);
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
}

TEST(Aead, SivAgreesWithOpenSslSivForSeveralAssociatedDataParts) {
  const std::vector<std::vector<std::string>> aad_sets = {{},
                                                          {""},
                                                          {"hdr"},
                                                          {"hdr", ""},
                                                          {"", "ctx"},
                                                          {"header of 22 bytes....", "t.col:42"},
                                                          {"a", "b", "c"},
                                                          {std::string(300, 'x'), std::string(17, 'y')}};
  int compared = 0;
  for (std::size_t key_size : {32u, 48u, 64u}) {
    std::vector<std::uint8_t> key(key_size);
    for (std::size_t i = 0; i < key_size; ++i) key[i] = static_cast<std::uint8_t>(i * 7 + key_size);
    Aead siv(AeadMode::kSiv, key);
    // Twice, the second time in reverse: the S2V memo of the first part
    // (lib/aead.cpp) sees hits, misses and returns to earlier parts.
    std::vector<std::vector<std::string>> sets = aad_sets;
    sets.insert(sets.end(), aad_sets.rbegin(), aad_sets.rend());
    for (const auto& aad : sets) {
      for (std::size_t n : {1u, 15u, 16u, 17u, 31u, 32u, 64u, 1000u}) {
        std::vector<std::uint8_t> msg(n);
        for (std::size_t i = 0; i < n; ++i) msg[i] = static_cast<std::uint8_t>(i * 13 + n);
        std::vector<std::uint8_t> want_ct;
        std::uint8_t want_tag[16];
        OpenSslSivSeal(key, aad, msg, &want_ct, want_tag);
        // Seal and Open take the parts as an initializer_list: up to three here.
        std::vector<ByteView> parts(aad.begin(), aad.end());
        std::vector<std::uint8_t> ct(n), back(n);
        std::uint8_t tag[16];
        auto seal = [&](auto... p) { siv.Seal(ByteView(), {p...}, msg, ct.data(), tag); };
        auto open = [&](auto... p) { return siv.Open(ByteView(), {p...}, ct, tag, back.data()); };
        bool opened = false;
        switch (parts.size()) {
          case 0:
            seal();
            opened = open();
            break;
          case 1:
            seal(parts[0]);
            opened = open(parts[0]);
            break;
          case 2:
            seal(parts[0], parts[1]);
            opened = open(parts[0], parts[1]);
            break;
          default:
            seal(parts[0], parts[1], parts[2]);
            opened = open(parts[0], parts[1], parts[2]);
        }
        EXPECT_EQ(ct, want_ct) << key_size << " " << aad.size() << " " << n;
        EXPECT_EQ(0, CRYPTO_memcmp(tag, want_tag, 16)) << key_size << " " << aad.size() << " " << n;
        EXPECT_TRUE(opened);
        EXPECT_EQ(back, msg);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 3 * 16 * 8);
}

}  // namespace
}  // namespace crosswalk
