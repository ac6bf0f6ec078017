// Two-way tables without servers: the two_way config block (good and bad),
// the inverse mapping the reverse stream uses, and which transactions a
// stream skips by their replication origin.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "error.hpp"
#include "origin.hpp"
#include "two_way.hpp"

namespace crosswalk::cdc {
namespace {

using nlohmann::json;

json TwoWayConfigJson() {
  return json::parse(R"J({
    "source": { "dsn": "host=/tmp dbname=learnhub", "platform": "learnhub", "publication": "crosswalk" },
    "peers": [
      { "name": "skillpath", "dsn": "host=/tmp dbname=skillpath", "platform": "skillpath",
        "tables": [
          { "source": "public.courses", "target": "catalog.\"Courses\"", "key": ["course_id"],
            "columns": { "course_id": "id", "owner": { "identity": "user_id" }, "title": "\"Title\"",
                         "capacity": "seats * 2", "label": "upper(code)" },
            "two_way": { "conflicts": "source_priority", "priority": "skillpath",
                         "reverse": { "seats": "capacity / 2", "code": "lower(label)" } } },
          { "source": "events", "target": "events", "key": ["id"], "columns": { "id": "id" } } ] } ] })J");
}

// Runs ParseConfig (and, for two-way tables, DeriveReverseConfigs) on `j`
// and returns the error's message; fails the test when it is accepted.
std::string RejectionOf(const json& j) {
  try {
    Config c = ParseConfig(j.dump());
    DeriveReverseConfigs(c);
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "F0000") << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << j.dump();
  return {};
}

TEST(TwoWay, ParsesTheTwoWayBlock) {
  Config c = ParseConfig(TwoWayConfigJson().dump());
  const PeerConfig& p = c.peers[0];
  ASSERT_TRUE(p.tables[0].two_way);
  EXPECT_FALSE(p.tables[1].two_way);
  EXPECT_EQ(p.tables[0].two_way->conflicts, ConflictPolicy::kSourcePriority);
  EXPECT_EQ(*p.tables[0].two_way->priority, "skillpath");
  EXPECT_EQ(p.tables[0].two_way->tombstone_retention_seconds, 7 * 86400);
  EXPECT_EQ(p.reverse_slot, "crosswalk_skillpath_rev");
  EXPECT_EQ(p.reverse_publication, "crosswalk_reverse");
  EXPECT_TRUE(p.forward_origins);
  EXPECT_TRUE(HasTwoWayTables(p));
}

TEST(TwoWay, InvertsPlainColumnsIdentitiesAndReverseEntries) {
  Config c = ParseConfig(TwoWayConfigJson().dump());
  std::vector<Config> reverse = DeriveReverseConfigs(c);
  ASSERT_EQ(reverse.size(), 1u);
  const Config& rc = reverse[0];
  EXPECT_EQ(rc.source.dsn, "host=/tmp dbname=skillpath");
  EXPECT_EQ(rc.source.platform, "skillpath");
  EXPECT_EQ(rc.source.publication, "crosswalk_reverse");
  ASSERT_EQ(rc.peers.size(), 1u);
  const PeerConfig& rp = rc.peers[0];
  EXPECT_EQ(rp.platform, "learnhub");
  EXPECT_EQ(rp.dsn, "host=/tmp dbname=learnhub");
  EXPECT_EQ(rp.slot, "crosswalk_skillpath_rev");
  EXPECT_FALSE(rp.migrate);
  EXPECT_FALSE(rp.forward_origins);  // the reverse stream sends back only the peer's own changes
  ASSERT_EQ(rp.tables.size(), 1u);   // the one-way table has no reverse
  const TableMapping& t = rp.tables[0];
  EXPECT_EQ(t.source.Display(), "catalog.Courses");
  EXPECT_EQ(t.target.Display(), "public.courses");
  EXPECT_EQ(t.key, std::vector<std::string>{"id"});
  std::map<std::string, std::string> cols;
  for (const auto& col : t.columns) {
    cols[col.target] = col.identity_column ? "identity(" + *col.identity_column + ")" : col.expression;
  }
  EXPECT_EQ(cols, (std::map<std::string, std::string>{{"id", "\"course_id\""},
                                                      {"user_id", "identity(owner)"},
                                                      {"Title", "\"title\""},
                                                      {"seats", "capacity / 2"},
                                                      {"code", "lower(label)"}}));
  ASSERT_TRUE(t.two_way);
  EXPECT_EQ(t.two_way->conflicts, ConflictPolicy::kSourcePriority);
}

TEST(TwoWay, RejectsColumnsThatCannotBeMappedBackNamingThem) {
  json j = TwoWayConfigJson();
  j["peers"][0]["tables"][0]["two_way"].erase("reverse");
  std::string e = RejectionOf(j);
  EXPECT_NE(e.find("peers[0].tables[0].two_way"), std::string::npos) << e;
  EXPECT_NE(e.find("\"code\", \"seats\""), std::string::npos) << e;
  EXPECT_EQ(e.find("\"upper\""), std::string::npos) << e;  // a function, not a column

  j = TwoWayConfigJson();
  j["peers"][0]["tables"][0]["two_way"]["reverse"].erase("code");
  e = RejectionOf(j);
  EXPECT_NE(e.find("source column(s) \"code\" of public.courses"), std::string::npos) << e;

  // A key computed from an expression with no way back.
  j = TwoWayConfigJson();
  j["peers"][0]["tables"][0]["columns"]["course_id"] = "id + 1000";
  e = RejectionOf(j);
  EXPECT_NE(e.find("\"id\""), std::string::npos) << e;
  j["peers"][0]["tables"][0]["two_way"]["reverse"]["id"] = "course_id - 1000";
  Config c = ParseConfig(j.dump());
  EXPECT_EQ(DeriveReverseConfigs(c)[0].peers[0].tables[0].key, std::vector<std::string>{"id"});
}

TEST(TwoWay, RejectsBadTwoWayBlocksNamingThePath) {
  struct Case {
    const char* json_pointer;
    json value;
    const char* expected;
  };
  const Case cases[] = {
      {"/peers/0/tables/0/two_way/conflicts", "first_writer_wins",
       "two_way.conflicts: \"first_writer_wins\" is not one of"},
      {"/peers/0/tables/0/two_way/conflicts", 3, "two_way.conflicts: expected a string"},
      {"/peers/0/tables/0/two_way/priority", "elsewhere", "two_way.priority: \"elsewhere\" is neither"},
      {"/peers/0/tables/0/two_way/reverse", json::array(), "two_way.reverse: expected an object"},
      {"/peers/0/tables/0/two_way/reverse/seats", "", "two_way.reverse.seats: must not be empty"},
      {"/peers/0/tables/0/two_way/tombstone_retention_seconds", 5,
       "two_way.tombstone_retention_seconds: must be between"},
      {"/peers/0/tables/0/two_way/bogus", true, "two_way.bogus: unknown key"},
      {"/peers/0/tables/0/two_way", "yes", "two_way: expected an object"},
      {"/peers/0/tables/0/where", "seats > 0", "two_way: a two-way table cannot have a \"where\" filter"},
      {"/peers/0/reverse_slot", "Bad-Slot", "reverse_slot: \"Bad-Slot\" is not a valid replication slot name"},
      {"/peers/0/forward_origins", "no", "forward_origins: expected a boolean"},
  };
  for (const auto& c : cases) {
    json j = TwoWayConfigJson();
    j[json::json_pointer(c.json_pointer)] = c.value;
    std::string e = RejectionOf(j);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.json_pointer << ": " << e;
  }
  json j = TwoWayConfigJson();
  j["peers"][0]["tables"][0]["two_way"].erase("priority");
  EXPECT_NE(RejectionOf(j).find("two_way.priority: missing: conflicts is \"source_priority\""), std::string::npos);
  j["peers"][0]["tables"][0]["two_way"]["conflicts"] = "dead_letter";
  j["peers"][0]["tables"][0]["two_way"]["priority"] = "learnhub";
  EXPECT_NE(RejectionOf(j).find("two_way.priority: only meaningful"), std::string::npos);
}

TEST(Origin, NamesRoundTrip) {
  EXPECT_EQ(OriginName("skillpath"), "crosswalk_skillpath");
  EXPECT_EQ(OriginPlatform("crosswalk_skillpath"), std::optional<std::string>("skillpath"));
  EXPECT_EQ(OriginPlatform("crosswalk_"), std::nullopt);
  EXPECT_EQ(OriginPlatform("pg_16384"), std::nullopt);
}

TEST(Origin, SkipsEchoesAndForwardsThirdPlatforms) {
  // A stream learnhub -> skillpath.
  auto d = DecideOrigin(std::nullopt, "learnhub", "skillpath", true);
  EXPECT_FALSE(d.skip);
  EXPECT_EQ(d.platform, "learnhub");
  d = DecideOrigin(std::string("crosswalk_skillpath"), "learnhub", "skillpath", true);
  EXPECT_TRUE(d.skip);  // skillpath's own change, come back
  d = DecideOrigin(std::string("crosswalk_archive"), "learnhub", "skillpath", true);
  EXPECT_FALSE(d.skip);  // a ring: archive's change passes on under archive's origin
  EXPECT_EQ(d.platform, "archive");
  d = DecideOrigin(std::string("crosswalk_archive"), "learnhub", "skillpath", false);
  EXPECT_TRUE(d.skip);  // a mesh: archive sends it to skillpath itself
  d = DecideOrigin(std::string("pg_16390"), "learnhub", "skillpath", true);
  EXPECT_FALSE(d.skip);  // a native subscription's change counts as the source's
  EXPECT_EQ(d.platform, "learnhub");
  d = DecideOrigin(std::string("crosswalk_learnhub"), "learnhub", "skillpath", true);
  EXPECT_FALSE(d.skip);
  EXPECT_EQ(d.platform, "learnhub");
}

}  // namespace
}  // namespace crosswalk::cdc
