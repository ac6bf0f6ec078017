// The ledger's entry encoding and hash chain.
#include "ledger.hpp"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include "error.hpp"

namespace crosswalk {
namespace {

LedgerEntry Sample() {
  LedgerEntry e;
  e.seq = 1;
  e.recorded_at_us = 1764464523123456;  // 2025-11-30T01:02:03.123456Z
  e.kind = "purchase";
  e.person = ParseCanonicalId("0190a8c4-5e3b-7cde-8f01-23456789abcd");
  e.platform = "learnhub";
  e.payload_json = R"({"product": "sql-101", "amount": "19.99", "currency": "EUR"})";
  return e;
}

TEST(Ledger, FormatsUtcTimestamps) {
  EXPECT_EQ(FormatUtcMicros(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatUtcMicros(1764464523123456), "2025-11-30T01:02:03.123456Z");
  EXPECT_EQ(FormatUtcMicros(951782400000000), "2000-02-29T00:00:00.000000Z");  // leap day
  EXPECT_EQ(FormatUtcMicros(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatUtcMicros(253402300799999999), "9999-12-31T23:59:59.999999Z");
  EXPECT_THROW(FormatUtcMicros(253402300800000000), Error);
}

TEST(Ledger, EncodingIsCanonicalJson) {
  EXPECT_EQ(EncodeLedgerEntry(Sample()),
            R"({"kind":"purchase","payload":{"amount":"19.99","currency":"EUR","product":"sql-101"},)"
            R"("person":"0190a8c4-5e3b-7cde-8f01-23456789abcd","platform":"learnhub",)"
            R"("recorded_at":"2025-11-30T01:02:03.123456Z","seq":1})");
}

TEST(Ledger, HashIsSha256OfPreviousHashAndEncoding) {
  Sha256Digest prev{};
  prev[0] = 0xab;
  std::string data(reinterpret_cast<const char*>(prev.data()), prev.size());
  data += EncodeLedgerEntry(Sample());
  Sha256Digest expected;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected.data());
  EXPECT_EQ(LedgerEntryHash(prev, Sample()), expected);
}

TEST(Ledger, EveryFieldAndThePreviousHashMatter) {
  Sha256Digest zero{};
  Sha256Digest base = LedgerEntryHash(zero, Sample());
  Sha256Digest other_prev{};
  other_prev[31] = 1;
  EXPECT_NE(LedgerEntryHash(other_prev, Sample()), base);
  auto changed = [&](auto mutate) {
    LedgerEntry e = Sample();
    mutate(e);
    return LedgerEntryHash(zero, e) != base;
  };
  EXPECT_TRUE(changed([](LedgerEntry& e) { e.seq = 2; }));
  EXPECT_TRUE(changed([](LedgerEntry& e) { e.recorded_at_us += 1; }));
  EXPECT_TRUE(changed([](LedgerEntry& e) { e.kind = "refund"; }));
  EXPECT_TRUE(changed([](LedgerEntry& e) { e.person[15] ^= 1; }));
  EXPECT_TRUE(changed([](LedgerEntry& e) { e.platform = "skillpath"; }));
  EXPECT_TRUE(changed([](LedgerEntry& e) { e.payload_json = R"({"amount":"19.98"})"; }));
  // ...but the payload's layout does not.
  EXPECT_FALSE(changed([](LedgerEntry& e) {
    e.payload_json = R"({ "currency":"EUR","product":"sql-101",   "amount":"19.99" })";
  }));
}

TEST(Ledger, RejectsBadEntries) {
  Sha256Digest zero{};
  LedgerEntry e = Sample();
  e.payload_json = "[1]";
  EXPECT_THROW(LedgerEntryHash(zero, e), Error);
  e.payload_json = "not json";
  EXPECT_THROW(LedgerEntryHash(zero, e), Error);
  e = Sample();
  e.seq = 0;
  EXPECT_THROW(LedgerEntryHash(zero, e), Error);
}

}  // namespace
}  // namespace crosswalk
