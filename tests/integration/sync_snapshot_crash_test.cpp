// crosswalk-sync killed (SIGKILL) at chosen points of the migration while the
// source is written: after the slot is created and before the peer's first
// commit, in the middle of the one-COPY path, and while the peer is still
// committing the snapshot (its session outlives the killed daemon and commits
// after the next daemon has started). The slot is never judged alone: a fresh
// slot looks drained before the peer has anything, so the drain is judged on
// the peer's crosswalk_sync.progress as well, and then both peers are compared
// with the source row for row.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <random>
#include <sstream>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Lines of `text` that contain both `a` and `b`.
std::size_t CountLines(const std::string& text, const std::string& a, const std::string& b) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
  return n;
}

TEST(SyncSnapshotCrashTest, KillsInsideTheMigrationNeitherLoseNorDoubleRows) {
  Cluster source, peers;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peers.Connect().Exec("CREATE DATABASE copied");
  peers.Connect().Exec("CREATE DATABASE mapped");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE acct (id bigint PRIMARY KEY, grp int NOT NULL, val bigint, note text); "
      "INSERT INTO acct SELECT g, g % 7, g, 'initial ' || g FROM generate_series(1, 300000) g");
  auto copied = peers.Connect("copied");
  auto mapped = peers.Connect("mapped");
  // Peer "copied" takes the one-COPY path. Committing row 1 takes 2 s (a
  // deferred constraint trigger), which holds the snapshot's COMMIT open
  // long enough to kill the daemon inside it. Row 150000 waits for advisory
  // lock 42, which the test holds to stop a COPY halfway.
  copied.Exec(
      "CREATE TABLE acct (id bigint PRIMARY KEY, grp int, val bigint, note text); "
      "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(2); RETURN NULL; "
      "END$$; "
      "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON acct DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
      "WHEN (NEW.id = 1) EXECUTE FUNCTION slow_commit(); "
      "CREATE FUNCTION halfway() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(42); "
      "PERFORM pg_advisory_unlock(42); RETURN NEW; END$$; "
      "CREATE TRIGGER halfway BEFORE INSERT ON acct FOR EACH ROW WHEN (NEW.id = 150000) EXECUTE FUNCTION halfway()");
  // Peer "mapped" takes the statement path (a filter and expressions).
  mapped.Exec("CREATE TABLE acct_view (id bigint PRIMARY KEY, grp int, val_x2 bigint, note text)");
  std::string config =
      WriteSyncConfig(peers.dir() + "/sync.json", source,
                      {{peers, "copied",
                        R"([ { "source": "acct", "target": "acct", "key": ["id"],
               "columns": { "id": "id", "grp": "grp", "val": "val", "note": "note" } } ])"},
                       {peers, "mapped",
                        R"J([ { "source": "acct", "target": "acct_view", "key": ["id"], "where": "grp <> 3",
                "columns": { "id": "id", "grp": "grp", "val_x2": "val * 2", "note": "upper(note)" } } ])J"}});
  std::string log = peers.dir() + "/daemon.log";
  const std::vector<std::string> slots = {"crosswalk_copied", "crosswalk_mapped"};
  auto progress_rows = [&](pq::Connection& peer) {
    try {
      return *peer.Scalar("SELECT count(*) FROM crosswalk_sync.progress");
    } catch (const Error&) {
      return std::string("no schema");
    }
  };

  // Small mixed transactions all along; row 1 is never touched again.
  std::atomic<bool> stop_writing{false};
  std::thread writer([&] {
    auto w = source.Connect("learnhub");
    std::mt19937 rng(7);
    long long next_id = 1000000;
    while (!stop_writing) {
      long long n = 1 + static_cast<long long>(rng() % 50);
      long long lo = 2 + static_cast<long long>(rng() % 299000);
      w.Exec("BEGIN; INSERT INTO acct SELECT g, g % 7, g * 3, 'w ' || g FROM generate_series(" +
             std::to_string(next_id) + ", " + std::to_string(next_id + n - 1) + ") g; " +
             "UPDATE acct SET grp = (grp + 1) % 7, val = val + 1, note = note || '+' WHERE id BETWEEN " +
             std::to_string(lo) + " AND " + std::to_string(lo + 20) +
             "; DELETE FROM acct WHERE id = " + std::to_string(lo + 40) + "; COMMIT");
      next_id += n;
      std::this_thread::sleep_for(10ms);
    }
  });

  // 1. Killed once both slots exist and their snapshots have begun: the
  // slots look drained (their consistent point is past what was written
  // before) while the peers hold nothing.
  std::string before = *src.Scalar("SELECT pg_current_wal_insert_lsn()::text");
  {
    std::size_t from = ReadFile(log).size();
    Daemon d("run", config, log);
    ASSERT_TRUE(PollUntil([&] { return Count(ReadFile(log).substr(from), "\"event\":\"snapshot_start\"") == 2; }, 60s))
        << ReadFile(log);
    EXPECT_EQ(d.Stop(SIGKILL), 128 + SIGKILL);
  }
  EXPECT_EQ(*src.Scalar("SELECT count(*) FROM pg_replication_slots WHERE confirmed_flush_lsn >= $1::pg_lsn", {before}),
            "2");
  EXPECT_EQ(progress_rows(copied), "0");
  EXPECT_EQ(progress_rows(mapped), "0");

  // 2. Killed in the middle of peer "copied"'s COPY, held at row 150000.
  {
    auto blocker = peers.Connect("copied");
    blocker.Exec("SELECT pg_advisory_lock(42)");
    Daemon d("run", config, log);
    ASSERT_TRUE(PollUntil(
        [&] {
          return peers.Connect().Scalar(
                     "SELECT count(*) FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid) WHERE "
                     "p.datname = 'copied' AND p.command = 'COPY FROM' AND a.wait_event = 'advisory'") == "1";
        },
        60s))
        << ReadFile(log);
    EXPECT_EQ(d.Stop(SIGKILL), 128 + SIGKILL);
    blocker.Exec("SELECT pg_advisory_unlock(42)");
  }
  EXPECT_EQ(progress_rows(copied), "0");

  // 3. Killed while peer "copied" commits the snapshot; the next daemon
  // starts at once, while that session is still committing. It must wait
  // for it and then resume from what it committed: not take the peer for
  // never migrated, drop the slot and migrate again over it.
  std::size_t from3 = ReadFile(log).size();
  auto daemon = std::make_unique<Daemon>("run", config, log);
  ASSERT_TRUE(PollUntil(
      [&] {
        return peers.Connect().Scalar(
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = 'copied' AND wait_event = 'PgSleep' AND "
                   "query LIKE '%crosswalk_sync.progress%'") == "1";
      },
      90s))
      << ReadFile(log);
  EXPECT_EQ(daemon->Stop(SIGKILL), 128 + SIGKILL);
  daemon = std::make_unique<Daemon>("run", config, log);
  ASSERT_TRUE(PollUntil([&] { return progress_rows(copied) == "1" && progress_rows(mapped) == "1"; }, 120s))
      << ReadFile(log);

  // 4. Two kills while streaming, then the last run drains.
  for (int k = 0; k < 2; ++k) {
    std::this_thread::sleep_for(700ms);
    EXPECT_EQ(daemon->Stop(SIGKILL), 128 + SIGKILL);
    daemon = std::make_unique<Daemon>("run", config, log);
  }
  std::this_thread::sleep_for(500ms);
  stop_writing = true;
  writer.join();
  ASSERT_TRUE(WaitPeersDrained(src, {{&copied, slots[0]}, {&mapped, slots[1]}}, 120s)) << ReadFile(log);
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);

  std::string text = ReadFile(log);
  // The run started during the slow COMMIT waited for the old session.
  EXPECT_NE(text.substr(from3).find("is being applied to peer copied by another session"), std::string::npos) << text;
  // Peer "copied"'s one migration is the one whose COMMIT outlived its
  // daemon: no later run migrated it again.
  EXPECT_EQ(CountLines(text, "\"event\":\"snapshot_done\"", "\"peer\":\"copied\""), 0u) << text;
  EXPECT_EQ(CountLines(text, "\"event\":\"snapshot_done\"", "\"peer\":\"mapped\""), 1u) << text;
  // Runs 2 and 3 found "copied"'s slot without a committed migration.
  // "mapped" has none in run 2; in run 3 only if run 2 was killed before
  // mapped's migration (which has no slow commit) was done.
  EXPECT_EQ(CountLines(text, "no migration committed", "\"peer\":\"copied\""), 2u) << text;
  EXPECT_GE(CountLines(text, "no migration committed", "\"peer\":\"mapped\""), 1u) << text;

  long long n_copied = ExpectSameRows(src, copied, "SELECT format('%s|%s|%s|%s', id, grp, val, note) FROM acct",
                                      "SELECT format('%s|%s|%s|%s', id, grp, val, note) FROM acct");
  long long n_mapped = ExpectSameRows(
      src, mapped, "SELECT format('%s|%s|%s|%s', id, grp, val * 2, upper(note)) FROM acct WHERE grp <> 3",
      "SELECT format('%s|%s|%s|%s', id, grp, val_x2, note) FROM acct_view");
  EXPECT_EQ(std::to_string(n_copied), *src.Scalar("SELECT count(*) FROM acct"));
  EXPECT_EQ(std::to_string(n_mapped), *src.Scalar("SELECT count(*) FROM acct WHERE grp <> 3"));
  EXPECT_GT(n_copied, 300000);
  EXPECT_EQ(*copied.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  EXPECT_EQ(*mapped.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
}

}  // namespace
}  // namespace crosswalk::test
