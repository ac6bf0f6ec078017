// Schema drift on the source while crosswalk-sync streams to two peers:
// "keeper" maps a.v, "mirror" does not. A column added and a table added to
// the publication change nothing. v retyped, then dropped, pauses keeper
// (a schema_drift log line naming table and column; nothing skipped,
// nothing dead-lettered) while mirror goes on; `check` explains; SIGHUP with
// the mapping accepted by the peer (unchanged for the retype, without v for
// the drop) resumes keeper exactly where it stopped; so does a restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncDriftTest, AddedColumnsAndTablesAreIgnoredDroppedOrRetypedMappedColumnsPauseThatPeer) {
  Cluster source, peers;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peers.Connect().Exec("CREATE DATABASE keeper");
  peers.Connect().Exec("CREATE DATABASE mirror");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE a (id int PRIMARY KEY, v int, x text); "
      "INSERT INTO a SELECT g, g, 'x' || g FROM generate_series(1, 50) g");
  auto keeper = peers.Connect("keeper");
  auto mirror = peers.Connect("mirror");
  keeper.Exec("CREATE TABLE a (id int PRIMARY KEY, v bigint, x text)");
  mirror.Exec("CREATE TABLE a (id int PRIMARY KEY, x text)");
  auto write_config = [&](const std::string& keeper_columns) {
    return WriteSyncConfig(
        peers.dir() + "/sync.json", source,
        {{peers, "keeper",
          R"([ { "source": "a", "target": "a", "key": ["id"], "columns": { )" + keeper_columns + " } } ]"},
         {peers, "mirror",
          R"([ { "source": "a", "target": "a", "key": ["id"], "columns": { "id": "id", "x": "x" } } ])"}});
  };
  std::string config = write_config(R"("id": "id", "v": "v", "x": "x")");
  std::string log = peers.dir() + "/daemon.log";
  const std::string check = DaemonPath() + " check -c " + config + " 2>&1";
  Daemon daemon("run", config, log);
  auto drained = [&](std::vector<PeerSlot> slots) { return WaitPeersDrained(src, slots, 60s); };
  PeerSlot k{&keeper, "crosswalk_keeper"}, m{&mirror, "crosswalk_mirror"};
  ASSERT_TRUE(drained({k, m})) << ReadFile(log);

  // A column added, and a table added to the publication: ignored.
  src.Exec(
      "ALTER TABLE a ADD COLUMN extra text; INSERT INTO a SELECT g, g, 'x' || g, 'e' FROM generate_series(51, 60) g; "
      "UPDATE a SET x = 'u', extra = 'f' WHERE id = 5");
  src.Exec(
      "CREATE TABLE c (id int PRIMARY KEY); ALTER PUBLICATION crosswalk ADD TABLE c; "
      "BEGIN; INSERT INTO c VALUES (1), (2); INSERT INTO a SELECT g, g, 'x' || g FROM generate_series(61, 70) g; "
      "COMMIT");
  ASSERT_TRUE(drained({k, m})) << ReadFile(log);
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a"), "70");
  EXPECT_EQ(*mirror.Scalar("SELECT x FROM a WHERE id = 5"), "u");
  EXPECT_TRUE(LogEvents(log, 0, "schema_drift").empty()) << ReadFile(log);

  // v retyped: keeper pauses at the first change after it; mirror goes on.
  std::size_t from = ReadFile(log).size();
  src.Exec(
      "ALTER TABLE a ALTER COLUMN v TYPE bigint; "
      "BEGIN; INSERT INTO a SELECT g, g, 'x' || g FROM generate_series(71, 80) g; UPDATE a SET x = 'r' WHERE id = 6; "
      "COMMIT");
  ASSERT_TRUE(PollUntil([&] { return !LogEvents(log, from, "schema_drift").empty(); }, 30s)) << ReadFile(log);
  auto drift = LogEvents(log, from, "schema_drift")[0];
  EXPECT_EQ(drift.at("peer"), "keeper");
  EXPECT_EQ(drift.at("table"), "public.a");
  EXPECT_EQ(drift.at("column"), "v");
  EXPECT_EQ(drift.at("path"), "peers[0].tables[0].columns.v");
  EXPECT_EQ(drift.at("sqlstate"), "42804");
  EXPECT_NE(drift.at("message").get<std::string>().find("was retyped from type oid 23 to type oid 20"),
            std::string::npos)
      << drift;
  ASSERT_TRUE(drained({m})) << ReadFile(log);
  EXPECT_EQ(*mirror.Scalar("SELECT count(*) FROM a"), "80");
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a"), "70");
  EXPECT_EQ(*keeper.Scalar("SELECT x FROM a WHERE id = 6"), "x6");
  // check shows the type the mapping reads now.
  std::string plan = ShellOutput(check);
  EXPECT_NE(plan.find("v = v  -- reads v bigint"), std::string::npos) << plan;
  // The mapping still plans with bigint: SIGHUP with the file unchanged.
  from = ReadFile(log).size();
  daemon.Signal(SIGHUP);
  // keeper acknowledges the new type; mirror, unchanged and not paused,
  // does not even reconnect.
  ASSERT_TRUE(PollUntil([&] { return LogEvents(log, from, "reloaded").size() == 1; }, 30s))
      << ReadFile(log).substr(from);
  EXPECT_EQ(LogEvents(log, from, "reloaded")[0].at("peer"), "keeper");
  ASSERT_TRUE(PollUntil([&] { return LogEvents(log, from, "reload_unchanged").size() == 1; }, 30s));
  EXPECT_EQ(LogEvents(log, from, "reload_unchanged")[0].at("peer"), "mirror");
  ASSERT_TRUE(drained({k, m})) << ReadFile(log);
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a"), "80");

  // v dropped: keeper pauses again; a reload that still reads v is
  // rejected by it; `check` names the table and the column.
  from = ReadFile(log).size();
  src.Exec(
      "ALTER TABLE a DROP COLUMN v; "
      "BEGIN; INSERT INTO a SELECT g, 'x' || g FROM generate_series(81, 90) g; UPDATE a SET x = 'd' WHERE id = 7; "
      "DELETE FROM a WHERE id = 8; COMMIT");
  ASSERT_TRUE(PollUntil([&] { return !LogEvents(log, from, "schema_drift").empty(); }, 30s)) << ReadFile(log);
  drift = LogEvents(log, from, "schema_drift")[0];
  EXPECT_EQ(drift.at("peer"), "keeper");
  EXPECT_EQ(drift.at("table"), "public.a");
  EXPECT_EQ(drift.at("column"), "v");
  EXPECT_EQ(drift.at("sqlstate"), "42703");
  EXPECT_NE(drift.at("message").get<std::string>().find("was dropped or renamed"), std::string::npos) << drift;
  ASSERT_TRUE(drained({m})) << ReadFile(log);
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a"), "80");
  int status = Shell(DaemonPath() + " check -c " + config + " > " + peers.dir() + "/check.out 2>&1");
  plan = ReadFile(peers.dir() + "/check.out");
  EXPECT_NE(status, 0) << plan;
  EXPECT_NE(plan.find("source table public.a has no column \"v\" (read by peers[0].tables[0].columns.v)"),
            std::string::npos)
      << plan;
  from = ReadFile(log).size();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil([&] { return !LogEvents(log, from, "reload_rejected_by_peer").empty(); }, 30s))
      << ReadFile(log).substr(from);
  EXPECT_EQ(LogEvents(log, from, "reload_rejected_by_peer")[0].at("peer"), "keeper");
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a"), "80");

  // The fix: keeper no longer maps v.
  write_config(R"("id": "id", "x": "x")");
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(drained({k, m})) << ReadFile(log);
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a"), "89");

  // x, read by both, retyped: both pause; SIGTERM still stops cleanly, and a
  // restart (which checks the mapping against the source as it is) resumes.
  from = ReadFile(log).size();
  src.Exec("ALTER TABLE a ALTER COLUMN x TYPE varchar(40); UPDATE a SET x = 'z' WHERE id BETWEEN 11 AND 15");
  ASSERT_TRUE(PollUntil([&] { return LogEvents(log, from, "schema_drift").size() >= 2; }, 30s)) << ReadFile(log);
  ASSERT_TRUE(daemon.Running()) << ReadFile(log);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  EXPECT_EQ(*keeper.Scalar("SELECT count(*) FROM a WHERE x = 'z'"), "0");
  EXPECT_EQ(*mirror.Scalar("SELECT count(*) FROM a WHERE x = 'z'"), "0");
  {
    from = ReadFile(log).size();
    Daemon again("run", config, log);
    ASSERT_TRUE(drained({k, m})) << ReadFile(log);
    EXPECT_TRUE(LogEvents(log, from, "schema_drift").empty()) << ReadFile(log).substr(from);
    EXPECT_EQ(again.Stop(SIGTERM), 0);
  }

  // Row for row: v as it was up to the drop (it equalled id), none after.
  long long n = ExpectSameRows(src, keeper, "SELECT format('%s|%s|%s', id, CASE WHEN id <= 80 THEN id END, x) FROM a",
                               "SELECT format('%s|%s|%s', id, v, x) FROM a");
  EXPECT_EQ(n, 89);
  n = ExpectSameRows(src, mirror, "SELECT format('%s|%s', id, x) FROM a", "SELECT format('%s|%s', id, x) FROM a");
  EXPECT_EQ(n, 89);
  for (auto* p : {&keeper, &mirror}) EXPECT_EQ(*p->Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  EXPECT_EQ(*keeper.Scalar("SELECT x FROM a WHERE id = 7"), "d");
}

}  // namespace
}  // namespace crosswalk::test
