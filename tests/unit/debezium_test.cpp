// The Debezium envelope against hand-written expected JSON: field order,
// value typing by column type, NULL and unchanged TOAST, the source block
// with the deduplication key; and the decoder's errors on garbage.
#include "debezium.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace crosswalk::cdc {
namespace {

TupleValue Text(const std::string& s) { return TupleValue{TupleValue::Kind::kText, s}; }

TEST(Debezium, ColumnValuesAreTypedAsDebeziumWritesThem) {
  EXPECT_EQ(EncodeColumnValue(23, Text("-42")).dump(), "-42");
  EXPECT_EQ(EncodeColumnValue(20, Text("9223372036854775807")).dump(), "9223372036854775807");
  EXPECT_EQ(EncodeColumnValue(21, Text("7")).dump(), "7");
  EXPECT_EQ(EncodeColumnValue(16, Text("t")).dump(), "true");
  EXPECT_EQ(EncodeColumnValue(16, Text("f")).dump(), "false");
  EXPECT_EQ(EncodeColumnValue(701, Text("1.5")).dump(), "1.5");
  EXPECT_EQ(EncodeColumnValue(701, Text("NaN")).dump(), "\"NaN\"");
  EXPECT_EQ(EncodeColumnValue(700, Text("-Infinity")).dump(), "\"-Infinity\"");
  // numeric keeps every digit as text.
  EXPECT_EQ(EncodeColumnValue(1700, Text("12345678901234567890.000001")).dump(), "\"12345678901234567890.000001\"");
  EXPECT_EQ(EncodeColumnValue(25, Text("a \"quoted\"\nline")).dump(), "\"a \\\"quoted\\\"\\nline\"");
  EXPECT_EQ(EncodeColumnValue(25, TupleValue{TupleValue::Kind::kNull, ""}).dump(), "null");
  EXPECT_EQ(EncodeColumnValue(25, TupleValue{TupleValue::Kind::kUnchanged, ""}).dump(),
            "\"__debezium_unavailable_value\"");
  EXPECT_THROW(EncodeColumnValue(25, TupleValue{TupleValue::Kind::kBinary, "x"}), Error);
}

TEST(Debezium, PostgresTimeBecomesUnixMilliseconds) {
  EXPECT_EQ(PostgresTimeToUnixMs(0), 946684800000LL);
  EXPECT_EQ(PostgresTimeToUnixMs(1500), 946684800001LL);
  EXPECT_EQ(PostgresTimeToUnixMs(-1), 946684799999LL);
}

TEST(Debezium, UpdateEnvelopeMatchesTheHandWrittenOne) {
  EventSource s;
  s.connector_name = "events";
  s.platform = "learnhub";
  s.database = "learnhub";
  s.schema = "public";
  s.table = "enrollments";
  s.xid = 771;
  s.lsn = 0x16B374D848;
  s.commit_lsn = 0x16B374D900;
  s.event_seq = 2;
  s.commit_time_us = 1000000;  // 2000-01-01 00:00:01 UTC
  EventJson before = {{"id", 5}, {"person", nullptr}};
  EventJson after = {{"id", 5}, {"person", "0190a5b2-0000-7000-8000-000000000001"}};
  std::string got = EncodeDebeziumValue('u', before, after, s, 1767225600123);
  EXPECT_EQ(got,
            R"({"before":{"id":5,"person":null},)"
            R"("after":{"id":5,"person":"0190a5b2-0000-7000-8000-000000000001"},)"
            R"("source":{"version":"crosswalk-sync","connector":"crosswalk","name":"events","platform":"learnhub",)"
            R"("ts_ms":946684801000,"snapshot":"false","db":"learnhub","schema":"public","table":"enrollments",)"
            R"("txId":771,"lsn":97500059720,"commit_lsn":97500059904,"event_seq":2},)"
            R"("op":"u","ts_ms":1767225600123})");
  DecodedEvent d = DecodeDebeziumValue(got);
  EXPECT_EQ(d.op, 'u');
  EXPECT_EQ(d.source.commit_lsn, 0x16B374D900u);
  EXPECT_EQ(d.source.event_seq, 2u);
  EXPECT_EQ(d.source.xid, 771u);
  EXPECT_EQ(d.source_table, "enrollments");
  EXPECT_EQ(d.after.at("person"), "0190a5b2-0000-7000-8000-000000000001");
}

TEST(Debezium, SnapshotReadAndTruncateEnvelopes) {
  EventSource s;
  s.connector_name = "lines";
  s.platform = "p";
  s.database = "d";
  s.schema = "s";
  s.table = "t";
  s.lsn = 10;
  s.commit_lsn = 10;
  s.snapshot = "last";
  EXPECT_EQ(EncodeDebeziumValue('r', nullptr, EventJson{{"k", "v"}}, s, 1),
            R"({"before":null,"after":{"k":"v"},"source":{"version":"crosswalk-sync","connector":"crosswalk",)"
            R"("name":"lines","platform":"p","ts_ms":946684800000,"snapshot":"last","db":"d","schema":"s","table":"t",)"
            R"("txId":0,"lsn":10,"commit_lsn":10,"event_seq":0},"op":"r","ts_ms":1})");
  s.snapshot = "false";
  EXPECT_EQ(DecodeDebeziumValue(EncodeDebeziumValue('t', nullptr, nullptr, s, 2)).op, 't');
}

TEST(Debezium, GarbageEnvelopesAreRejectedNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"[]", "op missing"},
      {R"({"op":"x","before":null,"after":null,"source":{}})", "op \"x\" is not one of"},
      {R"({"op":"c","after":null,"source":{}})", "before or after missing"},
      {R"({"op":"c","before":null,"after":null})", "source missing"},
      {R"({"op":"c","before":null,"after":null,"source":{"platform":"p","schema":"s","table":"t","snapshot":"false",)"
       R"("txId":1,"lsn":1,"commit_lsn":"1","event_seq":0}})",
       "source.commit_lsn missing or mistyped"},
  };
  for (const auto& [text, why] : cases) {
    try {
      DecodeDebeziumValue(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_STREQ(e.sqlstate(), "22P02");
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace crosswalk::cdc
