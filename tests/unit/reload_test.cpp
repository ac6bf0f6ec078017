// Which config changes SIGHUP may reload (CompareConfigs): each change of
// the running config is classified as reloadable or refused, by JSON path.
#include "reload.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace crosswalk::cdc {
namespace {

using nlohmann::json;

json Base() {
  return json::parse(R"J({
    "source": { "dsn": "host=/tmp dbname=learnhub", "platform": "learnhub", "publication": "crosswalk" },
    "peers": [
      { "name": "skillpath", "dsn": "host=/tmp dbname=skillpath", "platform": "skillpath",
        "tables": [
          { "source": "enrollments", "target": "course_progress", "key": ["user_id", "course_id"],
            "columns": { "user_id": { "identity": "user_id" }, "course_id": "course_id",
                         "progress": "score / 100.0" },
            "where": "score IS NOT NULL" } ] },
      { "name": "archive", "dsn": "host=/tmp dbname=archive", "platform": "archive",
        "tables": [ { "source": "enrollments", "target": "e", "key": ["id"], "columns": { "id": "id" } } ] } ],
    "alerts": { "lag_seconds": 60 } })J");
}

// "path=R" (reloadable) or "path=X" (refused) for each difference.
std::vector<std::string> Classify(const json& next) {
  std::vector<std::string> out;
  for (const auto& d : CompareConfigs(ParseConfig(Base().dump()), ParseConfig(next.dump()))) {
    out.push_back(d.path + (d.reloadable ? "=R" : "=X"));
    EXPECT_FALSE(d.what.empty()) << d.path;
  }
  return out;
}

using V = std::vector<std::string>;

TEST(ReloadTest, TheSameConfigHasNoDifference) { EXPECT_EQ(Classify(Base()), V{}); }

TEST(ReloadTest, ExpressionsFiltersAndApplySettingsAreReloadable) {
  json j = Base();
  auto& t = j["peers"][0]["tables"][0];
  t["columns"]["progress"] = "score / 10.0";
  t["columns"]["note"] = "'x'";
  t["where"] = "score > 0";
  j["apply"] = {{"batch_rows", 100}, {"status_interval_seconds", 2}};
  j["identity"] = {{"cache_seconds", 5}};
  j["peers"][1]["tables"][0]["snapshot_order_by"] = {"id"};
  EXPECT_EQ(Classify(j), (V{"identity.cache_seconds=R", "apply.batch_rows=R", "apply.status_interval_seconds=R",
                            "peers[0].tables[0].columns.progress=R", "peers[0].tables[0].columns.note=R",
                            "peers[0].tables[0].where=R", "peers[1].tables[0].snapshot_order_by=R"}));
  j = Base();
  j["peers"][0]["tables"][0]["columns"].erase("progress");
  j["peers"][0]["tables"][0].erase("where");
  EXPECT_EQ(Classify(j), (V{"peers[0].tables[0].columns.progress=R", "peers[0].tables[0].where=R"}));
}

TEST(ReloadTest, KeysTargetsTablesPeersAndConnectionsAreRefused) {
  json j = Base();
  j["peers"][0]["tables"][0]["key"] = {"user_id"};
  EXPECT_EQ(Classify(j), V{"peers[0].tables[0].key=X"});
  j = Base();
  j["peers"][0]["tables"][0]["columns"]["course_id"] = "course_id + 1";  // computes the key
  EXPECT_EQ(Classify(j), V{"peers[0].tables[0].columns.course_id=X"});
  j = Base();
  j["peers"][0]["tables"][0]["target"] = "other";
  j["peers"][1]["tables"][0]["source"] = "other";
  EXPECT_EQ(Classify(j), (V{"peers[0].tables[0].target=X", "peers[1].tables[0].source=X"}));
  j = Base();
  j["peers"][1]["tables"].push_back(j["peers"][1]["tables"][0]);
  EXPECT_EQ(Classify(j), V{"peers[1].tables=X"});
  j = Base();
  j["peers"][0]["dsn"] = "host=/tmp dbname=elsewhere";
  j["peers"][0]["slot"] = "other_slot";
  j["peers"][0]["on_unmapped_identity"] = "hold";
  j["source"]["dsn"] = "host=/tmp dbname=x";
  j["source"]["publication"] = "p2";
  j["alerts"]["lag_seconds"] = 5;
  j["metrics"] = {{"listen", "127.0.0.1:1"}};
  // identity.dsn defaults to the source's, so it changed with it.
  EXPECT_EQ(Classify(j),
            (V{"source.dsn=X", "source.publication=X", "identity.dsn=X", "metrics.listen=X", "alerts.lag_seconds=X",
               "peers[0].dsn=X", "peers[0].slot=X", "peers[0].on_unmapped_identity=X"}));
  j = Base();
  j["peers"].erase(1);
  j["peers"].push_back(Base()["peers"][1]);
  j["peers"][1]["name"] = "archive2";
  j["peers"][1]["platform"] = "archive2";
  EXPECT_EQ(Classify(j), (V{"peers[1]=X", "peers[1]=X"}));  // archive removed, archive2 added
}

TEST(ReloadTest, EventPeerDestinationsAndTopicsAreRefused) {
  json j = Base();
  j["peers"].push_back(json::parse(R"({ "name": "events", "file": "-", "tables": [ { "source": "enrollments" } ] })"));
  json next = j;
  next["peers"][2]["file"] = "/var/lib/crosswalk/events.jsonl";
  next["peers"][2]["tables"][0]["topic"] = "other.topic";
  std::vector<std::string> got;
  for (const auto& d : CompareConfigs(ParseConfig(j.dump()), ParseConfig(next.dump()))) {
    got.push_back(d.path + (d.reloadable ? "=R" : "=X"));
  }
  EXPECT_EQ(got, (V{"peers[2].file=X", "peers[2].tables[0].topic=X"}));
  next = j;
  next["peers"][2].erase("file");
  next["peers"][2]["kafka"] = {{"brokers", "localhost:9092"}};
  got.clear();
  for (const auto& d : CompareConfigs(ParseConfig(j.dump()), ParseConfig(next.dump()))) {
    if (!d.reloadable) got.push_back(d.path);
  }
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], "peers[2]");  // the kind: a file peer became a kafka peer
}

TEST(ReloadTest, TwoWayTablesAreNotReloaded) {
  json j = Base();
  j["peers"][1]["tables"][0]["two_way"] = json::object();
  // Marking a table two-way, and any change to a two-way table's mapping.
  EXPECT_EQ(Classify(j), V{"peers[1].tables[0].two_way=X"});
  json next = j;
  next["peers"][1]["tables"][0]["columns"]["note"] = "'x'";
  next["peers"][1]["tables"][0]["two_way"]["conflicts"] = "dead_letter";
  std::vector<std::string> got;
  for (const auto& d : CompareConfigs(ParseConfig(j.dump()), ParseConfig(next.dump()))) {
    got.push_back(d.path + (d.reloadable ? "=R" : "=X"));
  }
  EXPECT_EQ(got, (V{"peers[1].tables[0].columns.note=X", "peers[1].tables[0].two_way=X"}));
}

TEST(ReloadTest, AChangeNeverPrintsADsn) {
  json j = Base();
  j["source"]["dsn"] = "host=/tmp dbname=learnhub password=hunter2";
  auto d = CompareConfigs(ParseConfig(Base().dump()), ParseConfig(j.dump()));
  ASSERT_EQ(d.size(), 2u);  // source.dsn and identity.dsn (its default)
  for (const auto& one : d) {
    EXPECT_FALSE(one.reloadable);
    EXPECT_EQ(one.what.find("hunter2"), std::string::npos) << one.what;
    EXPECT_EQ(one.path.find("hunter2"), std::string::npos) << one.path;
  }
}

TEST(ReloadTest, OnlyAnAcceptedConfigIsPublished) {
  ReloadChannel channel;
  EXPECT_EQ(channel.generation(), 0u);
  EXPECT_EQ(channel.Latest().second, nullptr);
  Config c = ParseConfig(Base().dump());
  channel.Publish(c);
  auto [generation, latest] = channel.Latest();
  EXPECT_EQ(generation, 1u);
  ASSERT_NE(latest, nullptr);
  EXPECT_EQ(latest->peers.size(), 2u);
}

// ReloadConfig on a file: what it logs, publishes and keeps.
TEST(ReloadTest, ReloadConfigPublishesOnlyWhatItAccepts) {
  std::string path = ::testing::TempDir() + "/reload_test.json";
  auto write = [&](const json& j) { std::ofstream(path) << j.dump(); };
  Config running = ParseConfig(Base().dump());
  ReloadChannel channel;

  // A wrong type: refused with the field's path.
  json bad = Base();
  bad["peers"][0]["tables"][0]["columns"]["progress"] = 7;
  write(bad);
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(ReloadConfig(path, running, channel));
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("\"event\":\"reload_refused\""), std::string::npos) << err;
  EXPECT_NE(err.find("config: peers[0].tables[0].columns.progress: expected a string"), std::string::npos) << err;
  EXPECT_EQ(channel.generation(), 0u);

  // Two refused differences and a reloadable one: two lines, nothing kept.
  json refused = Base();
  refused["peers"][0]["tables"][0]["key"] = {"user_id"};
  refused["peers"][1]["slot"] = "elsewhere";
  refused["peers"][1]["tables"][0]["where"] = "id > 0";
  write(refused);
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(ReloadConfig(path, running, channel));
  err = ::testing::internal::GetCapturedStderr();
  std::size_t lines = 0;
  for (auto at = err.find("\"event\":\"reload_refused\""); at != std::string::npos;
       at = err.find("\"event\":\"reload_refused\"", at + 1))
    ++lines;
  EXPECT_EQ(lines, 2u) << err;
  EXPECT_NE(err.find("\"path\":\"peers[0].tables[0].key\""), std::string::npos) << err;
  EXPECT_NE(err.find("\"path\":\"peers[1].slot\""), std::string::npos) << err;
  EXPECT_EQ(channel.generation(), 0u);
  EXPECT_FALSE(running.peers[1].tables[0].where.has_value());

  // Reloadable only: published, and the running config is the new one.
  json good = Base();
  good["peers"][1]["tables"][0]["where"] = "id > 0";
  write(good);
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(ReloadConfig(path, running, channel));
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("\"changed\":[\"peers[1].tables[0].where\"]"), std::string::npos) << err;
  EXPECT_EQ(channel.generation(), 1u);
  EXPECT_EQ(running.peers[1].tables[0].where, "id > 0");
  EXPECT_EQ(channel.Latest().second->peers[1].tables[0].where, "id > 0");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace crosswalk::cdc
