// crosswalk-sync's config parser: a good config parses into what it says;
// each bad one is rejected with SQLSTATE F0000 and the JSON path of the
// bad field.
#include "config.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "error.hpp"

namespace crosswalk::cdc {
namespace {

using nlohmann::json;

json GoodConfig() {
  return json::parse(R"J({
    "source":   { "dsn": "host=/tmp dbname=learnhub", "platform": "learnhub", "publication": "crosswalk" },
    "identity": { "dsn": "host=/tmp dbname=hub" },
    "peers": [
      { "name": "skillpath", "dsn": "host=/tmp dbname=skillpath", "platform": "skillpath",
        "on_unmapped_identity": "provision",
        "provision_sql": "SELECT public.create_user($1::jsonb)",
        "tables": [
          { "source": "public.enrollments", "target": "public.course_progress",
            "key": ["user_id", "course_id"],
            "columns": {
              "user_id":   { "identity": "user_id" },
              "course_id": "course_id",
              "progress":  "score / 100.0"
            },
            "where": "score IS NOT NULL" },
          { "source": "\"Odd Schema\".\"MixedCase\"", "target": "things",
            "key": ["id"], "columns": { "id": "id" } } ] } ],
    "metrics": { "listen": "127.0.0.1:9187" },
    "alerts":  {
  "lag_seconds" : 60, "command" : "logger"
}
})J");
}

TEST(Config, ParsesTheDesignExample) {
  Config c = ParseConfig(GoodConfig().dump());
  EXPECT_EQ(c.source.platform, "learnhub");
  EXPECT_FALSE(c.source.create_publication);
  EXPECT_EQ(c.identity.dsn, "host=/tmp dbname=hub");
  ASSERT_EQ(c.peers.size(), 1u);
  const PeerConfig& p = c.peers[0];
  EXPECT_EQ(p.slot, "crosswalk_skillpath");
  EXPECT_EQ(p.on_unmapped_identity, UnmappedIdentity::kProvision);
  ASSERT_EQ(p.tables.size(), 2u);
  const TableMapping& t = p.tables[0];
  EXPECT_EQ(t.source.Quoted(), "\"public\".\"enrollments\"");
  EXPECT_EQ(t.key, (std::vector<std::string>{"user_id", "course_id"}));
  ASSERT_EQ(t.columns.size(), 3u);
  // nlohmann keeps object keys sorted.
  EXPECT_EQ(t.columns[0].target, "course_id");
  EXPECT_EQ(t.columns[1].expression, "score / 100.0");
  EXPECT_EQ(*t.columns[2].identity_column, "user_id");
  EXPECT_EQ(t.columns[1].path, "peers[0].tables[0].columns.progress");
  EXPECT_EQ(*t.where, "score IS NOT NULL");
  EXPECT_EQ(p.tables[1].source.schema, "Odd Schema");
  EXPECT_EQ(p.tables[1].source.name, "MixedCase");
  EXPECT_EQ(p.tables[1].target.Display(), "public.things");
  EXPECT_EQ(*c.metrics.listen, "127.0.0.1:9187");
  EXPECT_EQ(*c.alerts.lag_seconds, 60.0);
}

TEST(Config, IdentityDsnDefaultsToTheSource) {
  json j = GoodConfig();
  j.erase("identity");
  EXPECT_EQ(ParseConfig(j.dump()).identity.dsn, "host=/tmp dbname=learnhub");
}

struct BadCase {
  const char* pointer;  // JSON pointer to change
  json value;           // new value (null with erase=true removes the key)
  bool erase;
  const char* path;  // what the error must name
};

TEST(Config, EachBadFieldIsNamedByItsPath) {
  const std::vector<BadCase> cases = {
      {"/sourc", "x", false, "config: sourc: unknown key"},
      {"/source/dsn", nullptr, true, "config: source.dsn: missing"},
      {"/source/dsn", 5, false, "config: source.dsn: expected a string, got an integer"},
      {"/source/platform", "", false, "config: source.platform: must not be empty"},
      {"/source/create_publication", "yes", false, "config: source.create_publication: expected a boolean"},
      {"/identity/dns", "x", false, "config: identity.dns: unknown key"},
      {"/peers", json::object(), false, "config: peers: expected an array, got an object"},
      {"/peers", json::array(), false, "config: peers: must list at least one peer"},
      {"/peers/0/name", "Skill Path", false, "config: peers[0].name: \"Skill Path\" is not"},
      {"/peers/0/slot", "bad-slot", false, "config: peers[0].slot:"},
      {"/peers/0/platform", "learnhub", false, "config: peers[0].platform: \"learnhub\" is the source's platform"},
      {"/peers/0/on_unmapped_identity", "drop", false, "config: peers[0].on_unmapped_identity: \"drop\" is not one of"},
      {"/peers/0/provision_sql", nullptr, true, "config: peers[0].provision_sql: missing"},
      {"/peers/0/tables", nullptr, true, "config: peers[0].tables: missing"},
      {"/peers/0/tables/1/colums", json::object(), false, "config: peers[0].tables[1].colums: unknown key"},
      {"/peers/0/tables/0/columns/progress", 3, false,
       "config: peers[0].tables[0].columns.progress: expected a string (a SQL expression"},
      {"/peers/0/tables/0/columns/progress", "", false,
       "config: peers[0].tables[0].columns.progress: must not be empty"},
      {"/peers/0/tables/0/columns/user_id",
       {{"identity", "user_id"}, {"as", "uuid"}},
       false,
       "config: peers[0].tables[0].columns.user_id.as: unknown key"},
      {"/peers/0/tables/0/columns/user_id",
       {{"identity", 1}},
       false,
       "config: peers[0].tables[0].columns.user_id.identity: expected a string"},
      {"/peers/0/tables/0/columns", json::object(), false, "config: peers[0].tables[0].columns: must map at least one"},
      {"/peers/0/tables/0/key", "user_id", false, "config: peers[0].tables[0].key: expected an array"},
      {"/peers/0/tables/0/key", json::array(), false, "config: peers[0].tables[0].key: must name at least one"},
      {"/peers/0/tables/0/key/1", "score", false,
       "config: peers[0].tables[0].key[1]: key column \"score\" is not in columns"},
      {"/peers/0/tables/0/key/1", "user_id", false,
       "config: peers[0].tables[0].key[1]: key column \"user_id\" listed twice"},
      {"/peers/0/tables/0/source", "a.b.c", false, "config: peers[0].tables[0].source: invalid table name"},
      {"/peers/0/tables/0/target", "\"unterminated", false, "config: peers[0].tables[0].target: invalid table name"},
      {"/peers/0/tables/0/where", false, false, "config: peers[0].tables[0].where: expected a string, got a boolean"},
      {"/metrics/listen", "9187", false, "config: metrics.listen: \"9187\" is not HOST:PORT"},
      {"/alerts/lag_seconds", "60", false, "config: alerts.lag_seconds: expected a number"},
      {"/alerts/lag_seconds", -1, false, "config: alerts.lag_seconds: must be at least"},
      {"/apply/batch_rows", 0, false, "config: apply.batch_rows: must be between 1 and"},
      {"/apply/batch_rows", 1.5, false, "config: apply.batch_rows: expected an integer, got a number"},
  };
  for (const auto& bc : cases) {
    json j = GoodConfig();
    json::json_pointer ptr(bc.pointer);
    if (bc.erase) {
      j[ptr.parent_pointer()].erase(ptr.back());
    } else {
      j[ptr] = bc.value;
    }
    try {
      ParseConfig(j.dump());
      ADD_FAILURE() << "accepted a config with " << bc.pointer << " = " << bc.value.dump();
    } catch (const Error& e) {
      EXPECT_STREQ(e.sqlstate(), "F0000");
      EXPECT_EQ(std::string(e.what()).rfind(bc.path, 0), 0u) << "got: " << e.what();
    }
  }
}

TEST(Config, DuplicatePeersAndBadJsonAreRejected) {
  json j = GoodConfig();
  j["peers"].push_back(j["peers"][0]);
  j["peers"][1]["slot"] = "other_slot";
  try {
    ParseConfig(j.dump());
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "config: peers[1].name: \"skillpath\" is also peers[0]'s name");
  }
  j["peers"][1]["name"] = "other";
  j["peers"][1]["slot"] = "crosswalk_skillpath";
  EXPECT_THROW(ParseConfig(j.dump()), Error);
  for (const char* bad : {"", "{", "[]", "{\"source\": 1}", "null", "{} trailing"}) {
    EXPECT_THROW(ParseConfig(bad), Error) << bad;
  }
  EXPECT_THROW(LoadConfig("/nonexistent/crosswalk.json"), Error);
}

TEST(Config, SnapshotOrderByIsAListOfColumns) {
  json j = GoodConfig();
  j["peers"][0]["tables"][0]["snapshot_order_by"] = {"user_id", "course_id"};
  Config c = ParseConfig(j.dump());
  EXPECT_EQ(c.peers[0].tables[0].snapshot_order_by, (std::vector<std::string>{"user_id", "course_id"}));
  for (json bad : {json("user_id"), json::array(), json({1})}) {  // null counts as absent, as for every optional field
    j["peers"][0]["tables"][0]["snapshot_order_by"] = bad;
    try {
      ParseConfig(j.dump());
      FAIL() << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("peers[0].tables[0].snapshot_order_by"), std::string::npos) << e.what();
    }
  }
}

// Found by tests/fuzz/sync_config_fuzz: a number beyond double's range made
// nlohmann throw out_of_range, which escaped ParseConfig and terminated the
// daemon. It is now a config error, and messages never quote the input.
TEST(Config, OutOfRangeNumbersAndSecretsInBadJsonAreCleanErrors) {
  try {
    ParseConfig("66066000000000229782930000000000000000.0000e2297829938=h\"du");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.sqlstate(), "F0000");
  }
  try {
    ParseConfig(R"({"source": {"dsn": "host=a password=hunter2)");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ParseConfig("[1e999999]"), Error);
}

TEST(SqlText, QuotesIdentifiersAndLiterals) {
  EXPECT_EQ(QuoteIdent("plain"), "\"plain\"");
  EXPECT_EQ(QuoteIdent("we\"ird; DROP"), "\"we\"\"ird; DROP\"");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteLiteral("a\\b'"), "E'a\\\\b'''");
}

TEST(SqlText, ParsesQualifiedNamesLikePostgres) {
  EXPECT_EQ(ParseQualifiedName("Enrollments", "x").Display(), "public.enrollments");
  EXPECT_EQ(ParseQualifiedName("Sales.Orders", "x").Display(), "sales.orders");
  QualifiedName q = ParseQualifiedName("\"My \"\"Schema\".\"T;x\"", "x");
  EXPECT_EQ(q.schema, "My \"Schema");
  EXPECT_EQ(q.name, "T;x");
  for (const char* bad : {"", ".", "a.", ".b", "a b", "a.b.c", "\"\"", "a;drop", "\"x"}) {
    EXPECT_THROW(ParseQualifiedName(bad, "t"), Error) << bad;
  }
}

TEST(SqlText, FindsIdentifiersOutsideLiterals) {
  EXPECT_EQ(ExpressionIdentifiers("score / 100.0"), (std::set<std::string>{"score"}));
  EXPECT_EQ(ExpressionIdentifiers("coalesce(\"Big Col\", 'not_a_col') || Other -- trailing_comment"),
            (std::set<std::string>{"coalesce", "Big Col", "other"}));
  EXPECT_EQ(ExpressionIdentifiers("$$ quoted $$ || $t$ x $t$ || E'it\\'s' || b /* c */ || $1"),
            (std::set<std::string>{"b"}));
  EXPECT_EQ(ExpressionIdentifiers("1e5 + x1"), (std::set<std::string>{"x1"}));
}

}  // namespace
}  // namespace crosswalk::cdc
