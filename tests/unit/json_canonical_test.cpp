// RFC 8785 canonicalization, checked against the RFC's own examples.
#include "json_canonical.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "error.hpp"

namespace crosswalk {
namespace {

double FromBits(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// RFC 8785 appendix B: IEEE 754 bit patterns and their canonical text.
TEST(JsonCanonical, NumbersFromRfc8785AppendixB) {
  const struct {
    std::uint64_t bits;
    const char* text;
  } cases[] = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatJsonNumber(FromBits(c.bits)), c.text) << std::hex << c.bits;
  }
}

TEST(JsonCanonical, NonFiniteNumbersAreRejected) {
  EXPECT_THROW(FormatJsonNumber(FromBits(0x7fffffffffffffff)), Error);  // NaN
  EXPECT_THROW(FormatJsonNumber(FromBits(0x7ff0000000000000)), Error);  // Infinity
  EXPECT_THROW(CanonicalizeJson("[1e400]"), Error);
}

// RFC 8785 section 3.2.2: the worked example.
TEST(JsonCanonical, Rfc8785Example) {
  const char* input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  EXPECT_EQ(CanonicalizeJson(input),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 section 3.2.3: member names sort by UTF-16 code units, so the
// emoji (a surrogate pair, D83D) sorts before U+FB33.
TEST(JsonCanonical, MemberOrderIsUtf16) {
  const char* input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  std::string out = CanonicalizeJson(input);
  std::vector<std::string> order = {"\\r", "1", "\xc2\x80", "\xc3\xb6", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                    "\xef\xac\xb3"};
  std::size_t pos = 0;
  for (const auto& key : order) {
    auto found = out.find("\"" + key + "\":", pos);
    ASSERT_NE(found, std::string::npos) << key << " in " << out;
    pos = found;
  }
}

TEST(JsonCanonical, LayoutDoesNotMatter) {
  EXPECT_EQ(CanonicalizeJson(R"({"b": [1.0, 2e0], "a": {"y": "x", "x": -0.0}})"),
            CanonicalizeJson("{\"a\":{\"x\":0,\"y\":\"x\"},\"b\":[1,2]}"));
  EXPECT_EQ(CanonicalizeJson(R"({"b": [1.0, 2e0], "a": {"y": "x", "x": -0.0}})"),
            R"({"a":{"x":0,"y":"x"},"b":[1,2]})");
}

TEST(JsonCanonical, RejectsGarbageAndDuplicates) {
  for (const char* bad : {"", "{", "{\"a\":1,}", "nul", "{\"a\":1}{", "\"\xff\"", "{'a':1}"}) {
    EXPECT_THROW(CanonicalizeJson(bad), Error) << bad;
  }
  EXPECT_THROW(CanonicalizeJson(R"({"a":1,"a":2})"), Error);
  EXPECT_THROW(CanonicalizeJson(R"({"x":{"a":1,"a":2}})"), Error);
  // The same name in sibling objects is not a duplicate.
  EXPECT_EQ(CanonicalizeJson(R"({"p":{"a":1},"q":{"a":2}})"), R"({"p":{"a":1},"q":{"a":2}})");
  EXPECT_EQ(CanonicalizeJson(R"([{"a":1},{"a":2}])"), R"([{"a":1},{"a":2}])");
  std::string bomb(100000, '[');
  EXPECT_THROW(CanonicalizeJson(bomb), Error);
  std::string deep = std::string(300, '[') + std::string(300, ']');
  EXPECT_THROW(CanonicalizeJson(deep), Error);
}

}  // namespace
}  // namespace crosswalk
