// crosswalk-sync's small codecs: COPY text lines, walsender CopyData frames
// and standby status updates, and changes stored as JSON (dead letters, held
// rows). Each round-trips, and garbage is a clean error.
#include <gtest/gtest.h>

#include "apply.hpp"
#include "replication.hpp"

namespace crosswalk::cdc {
namespace {

TupleValue T(std::string s) { return {TupleValue::Kind::kText, std::move(s)}; }
TupleValue N() { return {TupleValue::Kind::kNull, {}}; }
TupleValue U() { return {TupleValue::Kind::kUnchanged, {}}; }

TEST(CopyText, RoundTripsAwkwardValues) {
  Tuple in = {T("plain"), N(), T("tab\there"), T("new\nline\r"), T("back\\slash"), T("\\N"), T(""), T("Grüße")};
  std::string line;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i) line += '\t';
    AppendCopyValue(line, in[i]);
  }
  EXPECT_EQ(line, "plain\t\\N\ttab\\there\tnew\\nline\\r\tback\\\\slash\t\\\\N\t\tGrüße");
  Tuple out = ParseCopyLine(line, in.size());
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].kind, in[i].kind) << i;
    EXPECT_EQ(out[i].data, in[i].data) << i;
  }
}

TEST(CopyText, DecodesServerEscapesAndRejectsBadLines) {
  Tuple t = ParseCopyLine("\\101\\x42\\b\\f\\v\\q", 1);
  EXPECT_EQ(t[0].data, "AB\b\f\vq");
  EXPECT_THROW(ParseCopyLine("a\tb", 3), Error);
  EXPECT_THROW(ParseCopyLine("ends with \\", 1), Error);
  EXPECT_EQ(ParseCopyLine("x\\N", 1)[0].data, "xN");  // \N only alone marks NULL
}

TEST(WalsenderFrames, DecodeXLogDataAndKeepalive) {
  std::string w = "w";
  for (int i = 0; i < 7; ++i) w += '\0';
  w += '\x10';  // start 0x10
  for (int i = 0; i < 7; ++i) w += '\0';
  w += '\x20';                // wal_end 0x20
  w += std::string(8, '\0');  // time
  w += "Bpayload";
  CopyFrame f = DecodeCopyFrame(w);
  const auto& x = std::get<XLogData>(f);
  EXPECT_EQ(x.start, 0x10u);
  EXPECT_EQ(x.wal_end, 0x20u);
  EXPECT_EQ(x.payload, "Bpayload");

  std::string k = "k" + std::string(7, '\0') + '\x30' + std::string(8, '\0') + '\x01';
  CopyFrame kf = DecodeCopyFrame(k);
  const auto& ka = std::get<Keepalive>(kf);
  EXPECT_EQ(ka.wal_end, 0x30u);
  EXPECT_TRUE(ka.reply_requested);

  for (std::size_t len = 0; len < k.size(); ++len) EXPECT_THROW(DecodeCopyFrame(k.substr(0, len)), Error) << len;
  for (std::size_t len = 0; len < 25; ++len) EXPECT_THROW(DecodeCopyFrame(w.substr(0, len)), Error) << len;
  EXPECT_THROW(DecodeCopyFrame(k + "x"), Error);
  EXPECT_THROW(DecodeCopyFrame("k" + std::string(16, '\0') + '\x02'), Error);
  EXPECT_THROW(DecodeCopyFrame("z"), Error);
}

TEST(WalsenderFrames, StandbyStatusIsBigEndian) {
  std::string r = EncodeStandbyStatus(0x0102030405060708ull, 0x10, 0x20, 0x30, true);
  ASSERT_EQ(r.size(), 34u);
  EXPECT_EQ(r[0], 'r');
  EXPECT_EQ(r.substr(1, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(static_cast<unsigned char>(r[16]), 0x10);
  EXPECT_EQ(static_cast<unsigned char>(r[24]), 0x20);
  EXPECT_EQ(static_cast<unsigned char>(r[32]), 0x30);
  EXPECT_EQ(r[33], 1);
}

TEST(StoredChange, RoundTripsAndKeepsUnchangedDistinctFromNull) {
  auto rel = std::make_shared<Relation>();
  rel->schema = "public";
  rel->name = "t";
  rel->replica_identity = 'd';
  rel->columns = {{true, "id", 23, -1}, {false, "big", 25, -1}, {false, "note", 25, -1}};
  RowChange c;
  c.op = ChangeOp::kUpdate;
  c.relation = rel;
  c.old_kind = 'K';
  c.old_tuple = {T("1"), N(), N()};
  c.new_tuple = {T("2"), U(), N()};
  RowChange back = DecodeChange(EncodeChange(c), 0x42);
  EXPECT_EQ(back.op, ChangeOp::kUpdate);
  EXPECT_EQ(back.old_kind, 'K');
  EXPECT_EQ(back.lsn, 0x42u);
  ASSERT_EQ(back.relation->columns.size(), 3u);
  EXPECT_TRUE(back.relation->columns[0].is_key);
  EXPECT_EQ(back.relation->columns[1].type_oid, 25u);
  EXPECT_EQ(back.new_tuple[0].data, "2");
  EXPECT_EQ(back.new_tuple[1].kind, TupleValue::Kind::kUnchanged);
  EXPECT_EQ(back.new_tuple[2].kind, TupleValue::Kind::kNull);
  EXPECT_EQ(back.old_tuple[0].data, "1");
  EXPECT_EQ(TupleToJson(*rel, c.new_tuple).dump(), R"({"id":"2","note":null})");

  for (const char* bad : {"{}", R"({"op":"X"})", R"({"op":"D","relation":{"schema":"s","name":"t",
      "replica_identity":"d","columns":[]},"old_kind":null,"old":null,"new":null})",
                          R"({"op":"I","relation":{"schema":"s","name":"t","replica_identity":"d",
      "columns":[{"name":"a","type":"x","typmod":-1,"key":false}]},"old_kind":null,"old":null,"new":{}})"}) {
    try {
      DecodeChange(nlohmann::json::parse(bad), 1);
      ADD_FAILURE() << "decoded " << bad;
    } catch (const Error& e) {
      EXPECT_STREQ(e.sqlstate(), "22P02") << bad;
    }
  }
}

}  // namespace
}  // namespace crosswalk::cdc
