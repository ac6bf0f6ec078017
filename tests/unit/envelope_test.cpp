// The envelope codec and its text form: round trips, every byte flipped,
// every truncation, unknown versions and algorithms, and the size arithmetic
// the extension's varlena limit checks rely on.
#include "envelope.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "error.hpp"

namespace crosswalk {
namespace {

EnvelopeHeader Header(Algorithm alg, std::uint32_t version = 3) {
  EnvelopeHeader h;
  h.algorithm = alg;
  for (std::size_t i = 0; i < h.key_id.size(); ++i) h.key_id[i] = static_cast<std::uint8_t>(0xa0 + i);
  h.key_version = version;
  return h;
}

Aead KeyFor(Algorithm alg, std::uint8_t fill = 0x11) {
  return Aead(ModeOf(alg), std::vector<std::uint8_t>(DataKeySize(alg), fill));
}

std::vector<std::uint8_t> Seal(Algorithm alg, std::string_view plaintext, std::string_view context,
                               std::uint32_t version = 3) {
  Aead aead = KeyFor(alg);
  std::vector<std::uint8_t> out(*EnvelopeSize(alg, plaintext.size()));
  EncodeEnvelope(aead, Header(alg, version), context, plaintext, out.data());
  return out;
}

// Decodes and opens; nullopt when either step refuses.
std::optional<std::string> Open(Algorithm alg, const std::vector<std::uint8_t>& bytes, std::string_view context) {
  Envelope e;
  if (DecodeEnvelope(bytes, &e) != nullptr) return std::nullopt;
  Aead aead = KeyFor(alg);
  std::string out(e.ciphertext.size, '\0');
  if (!OpenEnvelope(aead, e, context, reinterpret_cast<std::uint8_t*>(out.data()))) return std::nullopt;
  return out;
}

class EnvelopeTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(EnvelopeTest, RoundTripsAndLaysOutTheHeader) {
  const Algorithm alg = GetParam();
  for (std::string pt : {std::string(), std::string("x"), std::string("ada@example.org"), std::string(5000, 'z')}) {
    auto bytes = Seal(alg, pt, "users.email:42");
    ASSERT_EQ(bytes.size(), 22 + NonceSize(alg) + pt.size() + 16);
    EXPECT_EQ(bytes[0], 1);
    EXPECT_EQ(bytes[1], alg == Algorithm::kAes256Gcm ? 1 : 2);
    EXPECT_EQ(bytes[2], 0xa0);
    EXPECT_EQ(bytes[17], 0xaf);
    EXPECT_EQ(bytes[21], 3);  // key version 3, big-endian
    Envelope e;
    ASSERT_EQ(DecodeEnvelope(bytes, &e), nullptr);
    EXPECT_EQ(e.header.key_version, 3u);
    EXPECT_EQ(e.ciphertext.size, pt.size());
    EXPECT_EQ(Open(alg, bytes, "users.email:42"), pt);
    // Never plaintext in the bytes (for a plaintext long enough to find).
    if (pt.size() >= 4) {
      EXPECT_EQ(std::string(bytes.begin(), bytes.end()).find(pt), std::string::npos);
    }
  }
}

TEST_P(EnvelopeTest, WrongContextKeyOrVersionFails) {
  const Algorithm alg = GetParam();
  auto bytes = Seal(alg, "secret", "t.c:1");
  EXPECT_EQ(Open(alg, bytes, "t.c:2"), std::nullopt);
  EXPECT_EQ(Open(alg, bytes, ""), std::nullopt);
  Envelope e;
  ASSERT_EQ(DecodeEnvelope(bytes, &e), nullptr);
  Aead other = KeyFor(alg, 0x12);
  std::string out(e.ciphertext.size, '\0');
  EXPECT_FALSE(OpenEnvelope(other, e, std::string_view("t.c:1"), reinterpret_cast<std::uint8_t*>(out.data())));
  // The header is authenticated: the same bytes labelled as another key version fail.
  bytes[21] = 4;
  EXPECT_EQ(Open(alg, bytes, "t.c:1"), std::nullopt);
}

TEST_P(EnvelopeTest, EveryFlippedBitOfEveryByteFails) {
  const Algorithm alg = GetParam();
  const auto good = Seal(alg, "a value of some length", "ctx");
  int refused = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = good;
      bad[i] ^= static_cast<std::uint8_t>(1 << bit);
      EXPECT_EQ(Open(alg, bad, "ctx"), std::nullopt) << "byte " << i << " bit " << bit;
      ++refused;
    }
  }
  EXPECT_EQ(refused, static_cast<int>(good.size()) * 8);
}

TEST_P(EnvelopeTest, EveryTruncationAndExtensionFails) {
  const Algorithm alg = GetParam();
  const auto good = Seal(alg, "truncate me", "ctx");
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<std::uint8_t> cut(good.begin(), good.begin() + n);
    EXPECT_EQ(Open(alg, cut, "ctx"), std::nullopt) << n;
  }
  auto longer = good;
  longer.push_back(0);
  EXPECT_EQ(Open(alg, longer, "ctx"), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(BothAlgorithms, EnvelopeTest, ::testing::Values(Algorithm::kAes256Gcm, Algorithm::kAes256Siv));

TEST(Envelope, GcmIsRandomizedSivIsDeterministic) {
  EXPECT_NE(Seal(Algorithm::kAes256Gcm, "same", "c"), Seal(Algorithm::kAes256Gcm, "same", "c"));
  EXPECT_EQ(Seal(Algorithm::kAes256Siv, "same", "c"), Seal(Algorithm::kAes256Siv, "same", "c"));
  EXPECT_NE(Seal(Algorithm::kAes256Siv, "same", "c"), Seal(Algorithm::kAes256Siv, "same", "d"));
  EXPECT_NE(Seal(Algorithm::kAes256Siv, "same", "c"), Seal(Algorithm::kAes256Siv, "same", "c", 4));
  // A thousand GCM nonces, all distinct.
  std::set<std::vector<std::uint8_t>> nonces;
  for (int i = 0; i < 1000; ++i) {
    auto b = Seal(Algorithm::kAes256Gcm, "x", "");
    nonces.insert(std::vector<std::uint8_t>(b.begin() + 22, b.begin() + 34));
  }
  EXPECT_EQ(nonces.size(), 1000u);
}

TEST(Envelope, DecodeNamesWhatIsWrong) {
  auto good = Seal(Algorithm::kAes256Gcm, "v", "");
  Envelope e;
  EXPECT_STREQ(DecodeEnvelope(ByteView(), &e), "it is empty");
  for (std::uint8_t v : {0, 2, 3, 0x7f, 0xff}) {
    auto bad = good;
    bad[0] = v;
    EXPECT_STREQ(DecodeEnvelope(bad, &e), "unknown format version") << int(v);
  }
  for (std::uint8_t a : {0, 3, 0xff}) {
    auto bad = good;
    bad[1] = a;
    EXPECT_STREQ(DecodeEnvelope(bad, &e), "unknown algorithm") << int(a);
  }
  auto v0 = good;
  v0[18] = v0[19] = v0[20] = v0[21] = 0;
  EXPECT_STREQ(DecodeEnvelope(v0, &e), "key version out of range");
  auto vbig = good;
  vbig[18] = 0x80;
  EXPECT_STREQ(DecodeEnvelope(vbig, &e), "key version out of range");
  EXPECT_STREQ(DecodeEnvelope(ByteView(good.data(), 21), &e), "it is shorter than the envelope header");
  EXPECT_STREQ(DecodeEnvelope(ByteView(good.data(), 49), &e), "it is too short for its nonce and tag");
  EXPECT_EQ(DecodeEnvelope(ByteView(good.data(), 50), &e), nullptr);  // an empty ciphertext is structurally fine
  // SIV has no nonce: 38 bytes is its minimum.
  auto siv = Seal(Algorithm::kAes256Siv, "", "");
  EXPECT_EQ(siv.size(), 38u);
  EXPECT_EQ(DecodeEnvelope(siv, &e), nullptr);
  EXPECT_STREQ(DecodeEnvelope(ByteView(siv.data(), 37), &e), "it is too short for its nonce and tag");
}

TEST(EncryptedText, RoundTripsAndIsAscii) {
  for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 100u}) {
    auto bytes = Seal(Algorithm::kAes256Gcm, std::string(n, 'q'), "c");
    std::string text = FormatEncryptedText(bytes);
    EXPECT_EQ(text.size(), EncryptedTextSize(bytes.size()));
    EXPECT_EQ(text.rfind("cw1:", 0), 0u);
    for (char c : text) EXPECT_TRUE(c == ':' || c == '-' || c == '_' || std::isalnum(static_cast<unsigned char>(c)));
    EXPECT_EQ(ParseEncryptedText(text), bytes);
  }
}

void ExpectBadText(const std::string& text, const std::string& why) {
  try {
    ParseEncryptedText(text);
    FAIL() << "accepted " << text;
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "22P02");
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    EXPECT_LT(std::string(e.what()).size(), 300u) << "the quote of the input is bounded";
  }
}

TEST(EncryptedText, RejectsMalformedText) {
  std::string good = FormatEncryptedText(Seal(Algorithm::kAes256Gcm, "v", ""));
  ExpectBadText("", "does not start with");
  ExpectBadText("cw2:" + good.substr(4), "does not start with");
  ExpectBadText("CW1:" + good.substr(4), "does not start with");
  ExpectBadText(" " + good, "does not start with");
  ASSERT_EQ((good.size() - 4) % 4, 0u);            // 51 bytes: 68 characters
  ExpectBadText(good + "A", "impossible length");  // 69 characters encode no byte string
  ExpectBadText(good.substr(0, good.size() - 1) + "=", "not base64url");
  ExpectBadText(good.substr(0, good.size() - 1) + "+", "not base64url");
  ExpectBadText(good.substr(0, 10) + " " + good.substr(11), "not base64url");
  ExpectBadText(good.substr(0, 10) + std::string(1, '\0') + good.substr(11), "not base64url");
  ExpectBadText("cw1:", "it is empty");
  ExpectBadText("cw1:" + std::string(100000, 'A'), "unknown format version");
  // Non-canonical trailing bits: the last character of a 2-char group must
  // leave its low 4 bits zero.
  std::string one_byte = "cw1:AQ";  // 0x01
  ExpectBadText(one_byte, "shorter than the envelope header");
  ExpectBadText("cw1:AR", "not base64url");
  // Text that is base64url of a structurally wrong envelope.
  auto bytes = Seal(Algorithm::kAes256Gcm, "v", "");
  bytes[0] = 9;
  ExpectBadText(FormatEncryptedText(bytes), "unknown format version");
}

// The arithmetic behind the extension's varlena checks: a plaintext of n
// bytes needs n + 50 (GCM) / n + 38 (SIV) envelope bytes and
// 4 + ceil(4(n+50)/3) text characters; sizes near SIZE_MAX do not wrap.
TEST(Envelope, SizeArithmetic) {
  EXPECT_EQ(*EnvelopeSize(Algorithm::kAes256Gcm, 0), 50u);
  EXPECT_EQ(*EnvelopeSize(Algorithm::kAes256Siv, 0), 38u);
  EXPECT_EQ(*EnvelopeSize(Algorithm::kAes256Gcm, 1000), 1050u);
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(EnvelopeSize(Algorithm::kAes256Gcm, max - 49), std::nullopt);
  EXPECT_EQ(*EnvelopeSize(Algorithm::kAes256Gcm, max - 50), max);
  EXPECT_EQ(EncryptedTextSize(0), 4u);
  EXPECT_EQ(EncryptedTextSize(1), 6u);
  EXPECT_EQ(EncryptedTextSize(2), 7u);
  EXPECT_EQ(EncryptedTextSize(3), 8u);
  EXPECT_EQ(EncryptedTextSize(50), 4u + 67u);
  EXPECT_EQ(*Base64UrlDecodedSize(67), 50u);
  EXPECT_EQ(Base64UrlDecodedSize(5), std::nullopt);
  // The 1 GB limit: 0x3fffffff bytes per value, 4 of them the varlena header.
  EXPECT_EQ(MaxPlaintextSize(Algorithm::kAes256Gcm), 1073741823u - 4u - 50u);
  EXPECT_EQ(MaxPlaintextSize(Algorithm::kAes256Siv), 1073741823u - 4u - 38u);
  for (Algorithm alg : {Algorithm::kAes256Gcm, Algorithm::kAes256Siv}) {
    const std::size_t max = MaxPlaintextSize(alg);
    EXPECT_EQ(4 + *EnvelopeSize(alg, max), 0x3fffffffu);
    EXPECT_NO_THROW(RequireValueFits(alg, max));
    try {
      RequireValueFits(alg, max + 1);
      FAIL() << "one byte over the limit accepted";
    } catch (const Error& e) {
      EXPECT_STREQ(e.sqlstate(), "54000");
    }
  }
  // A value's text form needs 4 + ceil(4n/3) characters plus a terminator in
  // one allocation: envelopes up to 805306363 bytes have one.
  const std::size_t largest_text_envelope = 805306363;
  EXPECT_LE(EncryptedTextSize(largest_text_envelope) + 1, 0x3fffffffu);
  EXPECT_GT(EncryptedTextSize(largest_text_envelope + 1) + 1, 0x3fffffffu);
}

}  // namespace
}  // namespace crosswalk
