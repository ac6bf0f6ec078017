#include "canonical_id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "error.hpp"

namespace crosswalk {
namespace {

TEST(CanonicalId, ParsesAndFormatsRoundTrip) {
  const std::string text = "0190a8c4-5e3b-7cde-8f01-23456789abcd";
  CanonicalId id = ParseCanonicalId(text);
  EXPECT_EQ(id[0], 0x01);
  EXPECT_EQ(id[15], 0xcd);
  EXPECT_EQ(FormatCanonicalId(id), text);
}

TEST(CanonicalId, AcceptsUpperCaseAndFormatsLowerCase) {
  CanonicalId id = ParseCanonicalId("0190A8C4-5E3B-7CDE-8F01-23456789ABCD");
  EXPECT_EQ(FormatCanonicalId(id), "0190a8c4-5e3b-7cde-8f01-23456789abcd");
}

void ExpectRejected(const std::string& text) {
  try {
    ParseCanonicalId(text);
    FAIL() << "accepted " << text;
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "22P02") << text;
    EXPECT_NE(std::string(e.what()).find("canonical_id"), std::string::npos);
  }
}

TEST(CanonicalId, RejectsMalformedText) {
  ExpectRejected("");
  ExpectRejected("0190a8c4-5e3b-7cde-8f01-23456789abc");    // 35 characters
  ExpectRejected("0190a8c4-5e3b-7cde-8f01-23456789abcde");  // 37 characters
  ExpectRejected("0190a8c45e3b7cde8f0123456789abcd");       // no hyphens
  ExpectRejected("{0190a8c4-5e3b-7cde-8f01-23456789abc}");
  ExpectRejected("0190a8c4-5e3b-7cde-8f01-23456789abcg");  // bad hex
  ExpectRejected("0190a8c4_5e3b-7cde-8f01-23456789abcd");  // wrong separator
  ExpectRejected("0190a8c4-5e3b7-cde-8f01-23456789abcd");  // hyphen misplaced
  ExpectRejected(" 0190a8c4-5e3b-7cde-8f01-23456789abc");
  ExpectRejected(std::string(36, '-'));
  ExpectRejected(std::string("0190a8c4-5e3b-7cde-8f01-23456789abc\0", 36));
}

TEST(CanonicalId, ErrorQuotesABoundedPrefixOfHugeInput) {
  std::string huge(1 << 20, 'a');
  try {
    ParseCanonicalId(huge);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_LT(msg.size(), 200u);
    EXPECT_NE(msg.find("1048576 bytes"), std::string::npos) << msg;
  }
}

TEST(CanonicalId, QuoteEscapesControlBytes) {
  EXPECT_EQ(QuoteForMessage(std::string("a\nb\"\x01", 5)), "\"a\\x0ab\\\"\\x01\"");
}

TEST(CanonicalId, NewIdsAreVersion7Variant10) {
  CanonicalId id = NewCanonicalId(0x0123456789ABull);
  EXPECT_EQ(id[6] >> 4, 7);
  EXPECT_EQ(id[8] >> 6, 2);
  // The first 48 bits are the Unix time in milliseconds, big-endian.
  EXPECT_EQ(id[0], 0x01);
  EXPECT_EQ(id[1], 0x23);
  EXPECT_EQ(id[5], 0xAB);
}

TEST(CanonicalId, StrictlyIncreasingEvenWhenTheClockStandsStillOrGoesBack) {
  CanonicalId prev = NewCanonicalId(2'000'000'000'000ull);
  // 10,000 ids in one millisecond overflow the 12-bit counter several times;
  // then the clock goes back by a second.
  for (int i = 0; i < 10000; ++i) {
    CanonicalId next = NewCanonicalId(2'000'000'000'000ull);
    ASSERT_LT(prev, next) << i;
    prev = next;
  }
  CanonicalId back = NewCanonicalId(1'999'999'999'000ull);
  EXPECT_LT(prev, back);
}

TEST(CanonicalId, RandomPartDiffersAcrossMilliseconds) {
  std::set<std::string> seen;
  for (std::uint64_t ms = 3'000'000'000'000ull; ms < 3'000'000'000'100ull; ++ms) {
    seen.insert(FormatCanonicalId(NewCanonicalId(ms)).substr(19));
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace crosswalk
