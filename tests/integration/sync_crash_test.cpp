// crosswalk-sync killed with SIGKILL at random moments, many times, while a
// mixed workload runs on the source (during the snapshot, mid-transaction,
// between a peer commit and the slot's confirmation); after the last restart
// drains, every peer must equal the mapped source row for row: nothing lost,
// nothing doubled.
//
// CROSSWALK_CRASH_ROWS (default 500000) rows inserted by the workload and
// CROSSWALK_CRASH_KILLS (default 30) kills; CROSSWALK_CRASH_SEED fixes the
// random choices (the seed used is printed).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

long long EnvOr(const char* name, long long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoll(v) : fallback;
}

TEST(SyncCrashTest, KilledAtRandomMomentsUnderAMixedWorkloadLosesAndDoublesNothing) {
  const long long rows_target = EnvOr("CROSSWALK_CRASH_ROWS", 500000);
  const long long kills = EnvOr("CROSSWALK_CRASH_KILLS", 30);
  const unsigned seed = static_cast<unsigned>(EnvOr("CROSSWALK_CRASH_SEED", std::random_device{}()));
  std::cout << "seed " << seed << ", " << rows_target << " rows, " << kills << " kills\n";

  Cluster source, peer_a, peer_b;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer_a.Connect().Exec("CREATE DATABASE skillpath");
  peer_b.Connect().Exec("CREATE DATABASE archive");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE acct (id bigint PRIMARY KEY, grp int NOT NULL, val bigint, note text); "
      "INSERT INTO acct SELECT g, g % 7, g, 'initial ' || g FROM generate_series(1, 100000) g");
  peer_a.Connect("skillpath")
      .Exec(
          "CREATE TABLE acct_view (id bigint PRIMARY KEY, grp int, val_x2 bigint, note text, seen timestamptz "
          "DEFAULT now())");
  peer_b.Connect("archive").Exec("CREATE TABLE acct (id bigint PRIMARY KEY, grp int, val bigint, note text)");
  std::string config =
      WriteSyncConfig(peer_a.dir() + "/sync.json", source,
                      {{peer_a, "skillpath",
                        R"J([ { "source": "acct", "target": "acct_view", "key": ["id"], "where": "grp <> 3",
                "columns": { "id": "id", "grp": "grp", "val_x2": "val * 2", "note": "upper(note)" } } ])J"},
                       {peer_b, "archive",
                        R"([ { "source": "acct", "target": "acct", "key": ["id"],
               "columns": { "id": "id", "grp": "grp", "val": "val", "note": "note" } } ])"}});
  std::string log = peer_a.dir() + "/daemon.log";

  // The workload: inserts in transactions of 1 to 2000 rows and now and then
  // 20000, updates that move rows in and out of peer A's filter, key
  // changes, deletes; all in mixed transactions.
  std::atomic<bool> stop_writing{false};
  std::atomic<long long> inserted{0};
  std::thread writer([&] {
    auto w = source.Connect("learnhub");
    std::mt19937 rng(seed);
    long long next_id = 1000000;
    while (!stop_writing && inserted < rows_target) {
      int kind = static_cast<int>(rng() % 10);
      long long n = kind == 0 ? 20000 : 1 + static_cast<long long>(rng() % 2000);
      n = std::min(n, rows_target - inserted);
      long long lo = 1 + static_cast<long long>(rng() % static_cast<unsigned>(next_id));
      std::string sql = "BEGIN; INSERT INTO acct SELECT g, g % 7, g * 3, 'w ' || g FROM generate_series(" +
                        std::to_string(next_id) + ", " + std::to_string(next_id + n - 1) + ") g; ";
      if (kind >= 5) {
        sql += "UPDATE acct SET grp = (grp + 1) % 7, val = val + 1, note = note || '+' WHERE id BETWEEN " +
               std::to_string(lo) + " AND " + std::to_string(lo + 300) + "; ";
      }
      if (kind >= 7)
        sql +=
            "DELETE FROM acct WHERE id BETWEEN " + std::to_string(lo + 400) + " AND " + std::to_string(lo + 450) + "; ";
      if (kind == 9)
        sql += "UPDATE acct SET id = -id WHERE id BETWEEN " + std::to_string(lo + 500) + " AND " +
               std::to_string(lo + 520) + " AND id > 0; ";
      sql += "COMMIT";
      w.Exec(sql);
      next_id += n;
      inserted += n;
      std::this_thread::sleep_for(20ms);
    }
  });

  // Kills: the first three inside the snapshot; then a run until both
  // snapshots are committed; then anywhere from 50 ms to 1.5 s into a run
  // (mid-transaction, between a peer commit and the slot's confirmation).
  std::mt19937 rng(seed ^ 0x5eed);
  auto snapshots_done = [&] {
    std::string text = ReadFile(log);
    return text.find(R"("event":"snapshot_done","level":"info","lsn")") != std::string::npos &&
           text.find("\"peer\":\"skillpath\",\"rows\"") != std::string::npos &&
           text.find("\"peer\":\"archive\",\"rows\"") != std::string::npos;
  };
  for (long long k = 0; k < kills; ++k) {
    Daemon daemon("run", config, log);
    if (k == 3) {
      auto deadline = std::chrono::steady_clock::now() + 120s;
      while (!snapshots_done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
      ASSERT_TRUE(snapshots_done()) << ReadFile(log);
    }
    int ms = k < 3 ? 150 + static_cast<int>(rng() % 400) : 50 + static_cast<int>(rng() % 1450);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    ASSERT_TRUE(daemon.Running()) << "the daemon exited on its own before kill " << k << "\n" << ReadFile(log);
    EXPECT_EQ(daemon.Stop(SIGKILL), 128 + SIGKILL);
  }
  // The workload completes (with the daemon down: the slots keep it).
  writer.join();
  EXPECT_EQ(inserted.load(), rows_target);

  const std::size_t log_before = ReadFile(log).size();
  Daemon last("run", config, log);
  // Wait until this run streams on both peers: the slots may already be
  // drained, and a SIGTERM sent while the process is still starting (before
  // it installs its handler) kills it with the default action.
  auto streaming_count = [&] {
    std::string text = ReadFile(log).substr(log_before);
    std::size_t n = 0;
    for (std::size_t at = text.find("\"event\":\"streaming\""); at != std::string::npos;
         at = text.find("\"event\":\"streaming\"", at + 1)) {
      ++n;
    }
    return n;
  };
  for (auto deadline = std::chrono::steady_clock::now() + 120s;
       streaming_count() < 2 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(streaming_count(), 2u) << ReadFile(log);
  // Judged on the peers' stored progress as well as the slots: a fresh slot
  // confirms its consistent point before its snapshot is on the peer.
  auto a = peer_a.Connect("skillpath");
  auto b = peer_b.Connect("archive");
  ASSERT_TRUE(WaitPeersDrained(src, {{&a, "crosswalk_skillpath"}, {&b, "crosswalk_archive"}}, 180s)) << ReadFile(log);
  EXPECT_EQ(last.Stop(SIGTERM), 0);
  long long n_a =
      ExpectSameRows(src, a, "SELECT format('%s|%s|%s|%s', id, grp, val * 2, upper(note)) FROM acct WHERE grp <> 3",
                     "SELECT format('%s|%s|%s|%s', id, grp, val_x2, note) FROM acct_view");
  long long n_b = ExpectSameRows(src, b, "SELECT format('%s|%s|%s|%s', id, grp, val, note) FROM acct",
                                 "SELECT format('%s|%s|%s|%s', id, grp, val, note) FROM acct");
  // Independent of the daemon: how many rows each side must hold.
  EXPECT_EQ(std::to_string(n_b), *src.Scalar("SELECT count(*) FROM acct"));
  EXPECT_EQ(std::to_string(n_a), *src.Scalar("SELECT count(*) FROM acct WHERE grp <> 3"));
  EXPECT_GE(n_b, 100000 + rows_target / 2);
  EXPECT_EQ(*a.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  EXPECT_EQ(*b.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  std::string text = ReadFile(log);
  if (const char* keep = std::getenv("CROSSWALK_CRASH_KEEP_LOG")) WriteFile(keep, text);
  std::size_t resumes = 0;
  for (std::size_t at = 0; (at = text.find("\"event\":\"resume\"", at)) != std::string::npos; ++at) ++resumes;
  std::cout << "resumes " << resumes << ", snapshots restarted "
            << (text.find("no migration committed") != std::string::npos ? "yes" : "no") << "\n";
  EXPECT_GT(resumes, 0u);
}

}  // namespace
}  // namespace crosswalk::test
