// The servers around crosswalk-sync restarted while a workload streams: the
// source crashed and restarted (pg_ctl restart -m immediate, so its slots
// may come back behind what they had confirmed), then a peer stopped with
// -m immediate and started again. The daemon keeps running, reconnects with
// backoff, and every peer ends equal to the source row for row.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncRestartTest, SourceAndPeerRestartedMidStream) {
  Cluster source, peer_a, peer_b;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer_a.Connect().Exec("CREATE DATABASE skillpath");
  peer_b.Connect().Exec("CREATE DATABASE archive");
  source.Connect("learnhub")
      .Exec(
          "CREATE TABLE acct (id bigint PRIMARY KEY, grp int NOT NULL, val bigint); "
          "INSERT INTO acct SELECT g, g % 5, g FROM generate_series(1, 20000) g");
  peer_a.Connect("skillpath").Exec("CREATE TABLE acct (id bigint PRIMARY KEY, grp int, val bigint)");
  peer_b.Connect("archive").Exec("CREATE TABLE acct (id bigint PRIMARY KEY, grp int, val bigint)");
  std::string tables = R"([ { "source": "acct", "target": "acct", "key": ["id"],
                               "columns": { "id": "id", "grp": "grp", "val": "val" } } ])";
  std::string config = WriteSyncConfig(peer_a.dir() + "/sync.json", source,
                                       {{peer_a, "skillpath", tables}, {peer_b, "archive", tables}});
  std::string log = peer_a.dir() + "/daemon.log";
  Daemon daemon("run", config, log);
  ASSERT_TRUE(PollUntil([&] { return ReadFile(log).find("\"event\":\"streaming\"") != std::string::npos; }, 60s));

  // The workload reconnects when the source goes away; a transaction cut
  // by the crash is simply not committed.
  std::atomic<bool> stop_writing{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    std::mt19937 rng(11);
    long long next_id = 100000;
    std::unique_ptr<pq::Connection> w;
    while (!stop_writing) {
      try {
        if (!w) w = std::make_unique<pq::Connection>(source.Dsn("learnhub"));
        long long lo = 1 + static_cast<long long>(rng() % 19000);
        w->Exec("BEGIN; INSERT INTO acct SELECT g, g % 5, g FROM generate_series(" + std::to_string(next_id) + ", " +
                std::to_string(next_id + 199) +
                ") g; UPDATE acct SET val = val + 1, grp = (grp + 1) % 5 WHERE id "
                "BETWEEN " +
                std::to_string(lo) + " AND " + std::to_string(lo + 50) +
                "; DELETE FROM acct WHERE id = " + std::to_string(lo + 60) + "; COMMIT");
        next_id += 200;
        ++committed;
      } catch (const Error&) {
        w.reset();
        std::this_thread::sleep_for(100ms);
      }
      std::this_thread::sleep_for(15ms);
    }
  });
  auto wait_committed = [&](int more) {
    int target = committed + more;
    return PollUntil([&] { return committed >= target; }, 60s);
  };

  auto streaming_events = [&] {
    std::string text = ReadFile(log);
    std::size_t n = 0;
    for (auto at = text.find("\"event\":\"streaming\""); at != std::string::npos;
         at = text.find("\"event\":\"streaming\"", at + 1))
      ++n;
    return n;
  };
  ASSERT_TRUE(wait_committed(30));
  source.Restart();
  ASSERT_TRUE(wait_committed(30));
  // Both peers stream again before the next outage.
  ASSERT_TRUE(PollUntil([&] { return streaming_events() >= 4; }, 60s)) << ReadFile(log);
  peer_b.StopImmediate();
  ASSERT_TRUE(wait_committed(30));
  peer_b.Start();
  ASSERT_TRUE(wait_committed(30));
  stop_writing = true;
  writer.join();

  auto src = source.Connect("learnhub");
  auto a = peer_a.Connect("skillpath");
  auto b = peer_b.Connect("archive");
  ASSERT_TRUE(WaitPeersDrained(src, {{&a, "crosswalk_skillpath"}, {&b, "crosswalk_archive"}}, 120s)) << ReadFile(log);
  ASSERT_TRUE(daemon.Running()) << ReadFile(log);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  for (auto* p : {&a, &b}) {
    long long n = ExpectSameRows(src, *p, "SELECT format('%s|%s|%s', id, grp, val) FROM acct",
                                 "SELECT format('%s|%s|%s', id, grp, val) FROM acct");
    EXPECT_EQ(std::to_string(n), *src.Scalar("SELECT count(*) FROM acct"));
    EXPECT_EQ(*p->Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  }

  // Both peers lost the source and reconnected; archive also lost its
  // peer. Each outage's waits start at about 0.5 s and double (jitter keeps
  // a wait within [backoff/2, backoff]); streaming again resets them.
  std::istringstream lines(ReadFile(log));
  std::map<std::string, int> outages, backoff;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    std::string event = j.value("event", ""), peer = j.value("peer", "");
    if (event == "streaming") backoff[peer] = 0;
    if (event != "reconnect") continue;
    if (backoff[peer] == 0) {
      ++outages[peer];
      backoff[peer] = 500;
    } else {
      backoff[peer] = std::min(backoff[peer] * 2, 30000);
    }
    int wait = j.at("retry_in_ms").get<int>();
    EXPECT_GE(wait, backoff[peer] / 2) << line;
    EXPECT_LE(wait, backoff[peer]) << line;
  }
  EXPECT_GE(outages["skillpath"], 1) << ReadFile(log);
  EXPECT_GE(outages["archive"], 2) << ReadFile(log);
}

}  // namespace
}  // namespace crosswalk::test
