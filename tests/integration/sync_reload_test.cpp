// SIGHUP reloads crosswalk-sync's mappings while a writer commits without
// pause: rows committed after the reload are mapped with the new
// expression, earlier rows keep the old one, and none is lost or doubled.
// A file that does not parse, a change that needs a re-snapshot (a key),
// and a mapping the peer rejects are refused with log lines naming why,
// and the daemon streams on with the running mapping.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncReloadTest, SighupReloadsExpressionsAndRefusesWhatNeedsAResnapshot) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE archive");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, g + 7 FROM generate_series(1, 100) "
      "g");
  auto p = peer.Connect("archive");
  p.Exec("CREATE TABLE t (id int PRIMARY KEY, v int)");
  auto write_config = [&](const std::string& v_expression, const std::string& key = R"(["id"])") {
    return WriteSyncConfig(peer.dir() + "/sync.json", source,
                           {{peer, "archive",
                             R"([ { "source": "t", "target": "t", "key": )" + key +
                                 R"(, "columns": { "id": "id", "v": )" + v_expression + " } } ]"}});
  };
  std::string config = write_config(R"("v")");
  std::string log = peer.dir() + "/daemon.log";
  Daemon daemon("run", config, log);
  ASSERT_TRUE(PollUntil([&] { return ReadFile(log).find("\"event\":\"streaming\"") != std::string::npos; }, 60s))
      << ReadFile(log);

  // One row per transaction, in id order, without pause.
  std::atomic<bool> stop_writing{false};
  std::atomic<int> next_id{101};
  std::thread writer([&] {
    pq::Connection w(source.Dsn("learnhub"));
    while (!stop_writing) {
      int id = next_id;
      w.Exec("INSERT INTO t VALUES (" + std::to_string(id) + ", " + std::to_string(id + 7) + ")");
      next_id = id + 1;
      std::this_thread::sleep_for(2ms);
    }
  });
  auto wait_rows = [&](int more) {
    int target = next_id + more;
    return PollUntil([&] { return next_id >= target; }, 30s);
  };
  auto reload = [&](const std::string& event) {
    std::size_t from = ReadFile(log).size();
    daemon.Signal(SIGHUP);
    EXPECT_TRUE(PollUntil([&] { return !LogEvents(log, from, event).empty(); }, 30s)) << ReadFile(log).substr(from);
    return from;
  };

  ASSERT_TRUE(wait_rows(100));
  // Every row up to `applied_before` is on the peer before the SIGHUP.
  const int applied_before = next_id - 1;
  ASSERT_TRUE(PollUntil(
      [&] { return p.Scalar("SELECT 1 FROM t WHERE id = " + std::to_string(applied_before)).has_value(); }, 30s));
  write_config(R"("v * 10")");
  std::size_t from = reload("reloaded");
  int first_after = next_id;  // committed after the peer took the new mapping
  auto accepted = LogEvents(log, from, "reload_accepted");
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].at("changed"), nlohmann::json::array({"peers[0].tables[0].columns.v"}));
  ASSERT_TRUE(wait_rows(100));

  // Not JSON: refused, streaming goes on with v * 10.
  WriteFile(config, "{ \"source\": ");
  from = reload("reload_refused");
  auto refused = LogEvents(log, from, "reload_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].at("message").get<std::string>().find("not valid JSON"), std::string::npos) << refused[0];
  ASSERT_TRUE(wait_rows(50));

  // A key change needs a re-snapshot: refused, one line naming its path,
  // even together with a reloadable change.
  write_config(R"("v * 1000")", R"(["id", "v"])");
  from = reload("reload_kept_running_config");
  refused = LogEvents(log, from, "reload_refused");
  ASSERT_EQ(refused.size(), 1u) << ReadFile(log).substr(from);
  EXPECT_EQ(refused[0].at("path"), "peers[0].tables[0].key");
  EXPECT_NE(refused[0].at("message").get<std::string>().find("found by the old key"), std::string::npos);
  ASSERT_TRUE(wait_rows(50));

  // A mapping the peer rejects (no such function): this peer keeps its own.
  write_config(R"x("no_such_function(v)")x");
  from = reload("reload_rejected_by_peer");
  auto rejected = LogEvents(log, from, "reload_rejected_by_peer");
  EXPECT_NE(rejected[0].at("message").get<std::string>().find("peers[0].tables[0]"), std::string::npos) << rejected[0];
  EXPECT_TRUE(LogEvents(log, from, "reloaded").empty());
  ASSERT_TRUE(wait_rows(50));
  // Updates after a reload are mapped with what the peer runs.
  src.Exec("UPDATE t SET v = v + 1 WHERE id <= 10");

  stop_writing = true;
  writer.join();
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_archive"}}, 60s)) << ReadFile(log);
  ASSERT_TRUE(daemon.Running()) << ReadFile(log);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);

  // The first row the new mapping wrote: after those applied before the
  // SIGHUP, and no later than the first committed once the peer reloaded.
  int boundary = std::stoi(*p.Scalar("SELECT min(id) FROM t WHERE v = (id + 7) * 10"));
  EXPECT_GT(boundary, applied_before);
  EXPECT_LE(boundary, first_after);
  const std::string b = std::to_string(boundary);
  long long n = ExpectSameRows(
      src, p,
      "SELECT format('%s|%s', id, CASE WHEN id <= 10 THEN v * 10 WHEN id < " + b + " THEN v ELSE v * 10 END) FROM t",
      "SELECT format('%s|%s', id, v) FROM t");
  EXPECT_EQ(std::to_string(n), *src.Scalar("SELECT count(*) FROM t"));
  EXPECT_GT(n, 450);
  EXPECT_EQ(*p.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
}

}  // namespace
}  // namespace crosswalk::test
