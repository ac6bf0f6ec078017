// A replication slot lost (dropped, as after a failover or by hand) or
// replaced by a new one of the same name: crosswalk-sync must refuse to
// stream, since the changes in between are on neither side, and `check`
// must say so. The documented re-snapshot then brings the peer back equal.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncLostSlotTest, ALostOrReplacedSlotIsRefusedAndAResnapshotRecovers) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE archive");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
  auto p = peer.Connect("archive");
  p.Exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  std::string config = WriteSyncConfig(
      peer.dir() + "/sync.json", source,
      {{peer, "archive",
        R"([ { "source": "t", "target": "t", "key": ["id"], "columns": { "id": "id", "v": "v" } } ])"}});
  std::string log = peer.dir() + "/daemon.log";
  const std::string check = DaemonPath() + " check -c " + config + " 2>&1";
  {
    Daemon d("run", config, log);
    src.Exec("INSERT INTO t SELECT g, 'w' || g FROM generate_series(101, 200) g");
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_archive"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(d.Stop(SIGTERM), 0);
  }
  EXPECT_EQ(*p.Scalar("SELECT count(*) FROM t"), "200");

  // Progress kept by an earlier daemon (guards_slot false), whose slot
  // confirmed past the stored position while the source wrote only what
  // this peer does not take: the slot's position is adopted, not refused,
  // and streaming goes on from it.
  src.Exec("CREATE TABLE other (id int); INSERT INTO other SELECT generate_series(1, 1000)");
  // (The stopped daemon's walsender may take a moment to release the slot.)
  for (int i = 0; i < 100 && *src.Scalar("SELECT active FROM pg_replication_slots") == "t"; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  src.Exec("SELECT pg_replication_slot_advance('crosswalk_archive', pg_current_wal_lsn())");
  p.Exec("UPDATE crosswalk_sync.progress SET guards_slot = false");
  std::string before = *p.Scalar("SELECT applied_lsn::text FROM crosswalk_sync.progress");
  {
    std::size_t from = ReadFile(log).size();
    Daemon d("run", config, log);
    src.Exec("INSERT INTO t SELECT g, 'adopted' FROM generate_series(201, 210) g");
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_archive"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(d.Stop(SIGTERM), 0);
    EXPECT_NE(ReadFile(log).substr(from).find(R"("event":"adopt_slot_position")"), std::string::npos)
        << ReadFile(log).substr(from);
  }
  EXPECT_EQ(*p.Scalar("SELECT count(*) FROM t"), "210");
  EXPECT_EQ(*p.Scalar("SELECT guards_slot FROM crosswalk_sync.progress"), "t");
  EXPECT_EQ(*p.Scalar("SELECT applied_lsn > '" + before + "'::pg_lsn FROM crosswalk_sync.progress"), "t");

  // Lost: the slot is gone while rows keep coming.
  src.Exec("SELECT pg_drop_replication_slot('crosswalk_archive')");
  src.Exec("INSERT INTO t SELECT g, 'lost' FROM generate_series(211, 250) g");
  std::string plan = ShellOutput(check);
  EXPECT_NE(plan.find("peer archive"), std::string::npos) << plan;
  EXPECT_NE(plan.find("SLOT LOST"), std::string::npos) << plan;
  {
    std::size_t from = ReadFile(log).size();
    Daemon d("run", config, log);
    EXPECT_EQ(d.Wait(), 1);
    std::string text = ReadFile(log).substr(from);
    EXPECT_NE(text.find("replication slot crosswalk_archive is gone but peer archive was applied up to"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("DELETE FROM crosswalk_sync.progress WHERE slot = 'crosswalk_archive'"), std::string::npos)
        << text;
  }
  // No new slot was made behind the operator's back.
  EXPECT_EQ(*src.Scalar("SELECT count(*) FROM pg_replication_slots"), "0");

  // Replaced: a new slot of the same name, made after more writes. It
  // starts where the source is now, past what the peer stores.
  src.Exec("SELECT pg_create_logical_replication_slot('crosswalk_archive', 'pgoutput')");
  src.Exec("INSERT INTO t SELECT g, 'after' FROM generate_series(251, 260) g");
  plan = ShellOutput(check);
  EXPECT_NE(plan.find("SLOT AHEAD OF PEER"), std::string::npos) << plan;
  {
    std::size_t from = ReadFile(log).size();
    Daemon d("run", config, log);
    EXPECT_EQ(d.Wait(), 1);
    std::string text = ReadFile(log).substr(from);
    EXPECT_NE(text.find("replication slot crosswalk_archive has confirmed up to"), std::string::npos) << text;
    EXPECT_NE(text.find("but peer archive stores"), std::string::npos) << text;
  }
  EXPECT_EQ(*p.Scalar("SELECT count(*) FROM t"), "210");

  // The documented recovery: forget the progress, empty the targets, run.
  p.Exec("DELETE FROM crosswalk_sync.progress WHERE slot = 'crosswalk_archive'; TRUNCATE t");
  {
    Daemon d("run", config, log);
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_archive"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(d.Stop(SIGTERM), 0);
  }
  long long n = ExpectSameRows(src, p, "SELECT format('%s|%s', id, v) FROM t", "SELECT format('%s|%s', id, v) FROM t");
  EXPECT_EQ(n, 260);
}

}  // namespace
}  // namespace crosswalk::test
