// Dead letters keep each row's changes in source order, and the one-COPY
// migration falls back to the statement path when the peer rejects a row.
//
// A row the peer rejects parks the later changes of that row behind it (as
// dead letters of their own, SQLSTATE 55000), so `retry` replays them in
// source order and the peer ends with the source's version: without that, a
// later update would apply, and retry would then overwrite it with the older
// rejected one, or re-insert a row the source has since deleted.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <regex>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

// Polls `query` on `c` until it returns `want` or 60 s pass; returns the last value.
std::string WaitFor(pq::Connection& c, const std::string& query, const std::string& want) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string got;
  while ((got = c.Exec(query).value(0, 0)) != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }
  return got;
}

TEST(SyncDeadLetters, RowsKeepSourceOrderThroughRetry) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE items (id int PRIMARY KEY, qty int); "
      "INSERT INTO items SELECT g, g % 10 FROM generate_series(1, 1000) g; "
      "INSERT INTO items VALUES (1001, -1); "  // the peer rejects it during the migration
      "CREATE TABLE clean (id int PRIMARY KEY, v text); "
      "INSERT INTO clean SELECT g, 'v' || g FROM generate_series(1, 500) g");
  auto p = peer.Connect("skillpath");
  p.Exec(
      "CREATE TABLE things (id int PRIMARY KEY, qty int CONSTRAINT qty_ok CHECK (qty >= 0)); "
      "CREATE TABLE clean (id int PRIMARY KEY, v text)");
  // Same-typed columns one to one: the migration's one-COPY path.
  std::string config = WriteSyncConfig(
      peer.dir() + "/sync.json", source,
      {{peer, "skillpath",
        R"([ { "source": "items", "target": "things", "key": ["id"], "columns": { "id": "id", "qty": "qty" } },
             { "source": "clean", "target": "clean", "key": ["id"], "columns": { "id": "id", "v": "v" } } ])"}});
  std::string log = peer.dir() + "/daemon.log";
  Daemon daemon("run", config, log);

  // The migration: items' COPY is rejected and replayed row by row, which
  // dead-letters row 1001 alone; clean goes through one COPY.
  ASSERT_EQ(WaitFor(p, "SELECT count(*) FROM clean", "500"), "500") << ReadFile(log);
  ASSERT_EQ(WaitFor(p, "SELECT count(*) FROM things", "1000"), "1000") << ReadFile(log);
  std::string text = ReadFile(log);
  EXPECT_NE(text.find(R"("event":"snapshot_table")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("one_copy":false,"peer":"skillpath","rows":1001,"table":"public.items")"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("one_copy":true,"peer":"skillpath","rows":500,"table":"public.clean")"), std::string::npos)
      << text;

  // Streaming: row 5 is rejected, then changed again; row 1001 (never on the
  // peer) is deleted; row 6 is unaffected by any of it.
  src.Exec("UPDATE items SET qty = -5 WHERE id = 5");
  src.Exec("UPDATE items SET qty = 7 WHERE id = 5");
  src.Exec("UPDATE items SET qty = 8 WHERE id = 6");
  src.Exec("DELETE FROM items WHERE id = 1001");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath"}, 60s)) << ReadFile(log);
  EXPECT_EQ(
      p.Exec("SELECT string_agg(id || '=' || qty, ',' ORDER BY id) FROM things WHERE id IN (5, 6, 1001)").value(0, 0),
      "5=5,6=8");
  EXPECT_EQ(p.Exec("SELECT string_agg(format('%s %s %s', operation, sqlstate, \"row\"->>'id'), '; ' ORDER BY id) "
                   "FROM crosswalk_sync.dead_letter")
                .value(0, 0),
            "insert 23514 1001; update 23514 5; update 55000 5; delete 55000 1001");

  // Retry while the constraint still holds: the first of each row fails
  // again and the ones queued behind it are not tried.
  std::string out = ShellOutput(DaemonPath() + " retry -c " + config + " 2>/dev/null; echo \"exit=$?\"");
  EXPECT_NE(out.find("peer=skillpath retried=4 applied=0 left=4"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=3"), std::string::npos) << out;
  EXPECT_EQ(p.Exec("SELECT string_agg(attempts::text, ',' ORDER BY id) FROM crosswalk_sync.dead_letter").value(0, 0),
            "1,1,0,0");

  // The peer's rule is relaxed: retry replays each row's changes in order,
  // and the peer equals the source.
  p.Exec("ALTER TABLE things DROP CONSTRAINT qty_ok");
  out = ShellOutput(DaemonPath() + " retry -c " + config + " 2>/dev/null; echo \"exit=$?\"");
  EXPECT_NE(out.find("peer=skillpath retried=4 applied=4 left=0"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=0"), std::string::npos) << out;
  ExpectSameRows(src, p, "SELECT id || '=' || qty FROM items", "SELECT id || '=' || qty FROM things");

  // The running daemon sees the rows cleared: their next changes apply.
  src.Exec("UPDATE items SET qty = 9 WHERE id = 5");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath"}, 60s)) << ReadFile(log);
  EXPECT_EQ(p.Exec("SELECT qty FROM things WHERE id = 5").value(0, 0), "9");
  EXPECT_EQ(p.Exec("SELECT count(*) FROM crosswalk_sync.dead_letter").value(0, 0), "0");

  // Large transactions: 200 updates are staged and applied by one statement,
  // 500 inserts go straight in by COPY, and either carries the transaction's
  // commit. A row the peer rejects still costs only that row.
  p.Exec("ALTER TABLE things ADD CONSTRAINT qty_ok CHECK (qty >= 0)");
  src.Exec("UPDATE items SET qty = CASE WHEN id = 300 THEN -3 ELSE qty + 1 END WHERE id BETWEEN 201 AND 400");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath"}, 60s)) << ReadFile(log);
  src.Exec("INSERT INTO items SELECT g, CASE WHEN g = 1500 THEN -15 ELSE g % 7 END FROM generate_series(1101, 1600) g");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath"}, 60s)) << ReadFile(log);
  EXPECT_EQ(p.Exec("SELECT string_agg(format('%s %s %s', operation, sqlstate, \"row\"->>'id'), '; ' ORDER BY id) "
                   "FROM crosswalk_sync.dead_letter")
                .value(0, 0),
            "update 23514 300; insert 23514 1500");
  ExpectSameRows(src, p, "SELECT id || '=' || qty FROM items WHERE id NOT IN (300, 1500)",
                 "SELECT id || '=' || qty FROM things WHERE id NOT IN (300, 1500)");
  text = ReadFile(log);  // each failed as a whole first, then row by row
  EXPECT_NE(text.find(R"("event":"segment_retry_by_row")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("peer":"skillpath","rows":200,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("peer":"skillpath","rows":500,)"), std::string::npos) << text;
  EXPECT_EQ(p.Exec("SELECT qty FROM things WHERE id = 300").value(0, 0), "0");  // as before the rejected update
  EXPECT_EQ(p.Exec("SELECT count(*) FROM things WHERE id = 1500").value(0, 0), "0");
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

// One source transaction changes the same rows again and again: each
// change of a row goes to a later statement than the one before it (a
// segment never holds two changes of one row), every row ends as on the
// source, and a rejected change still holds back the row's later ones.
TEST(SyncDeadLetters, RepeatedChangesOfOneRowKeepTheirOrder) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int, note text); "
      "INSERT INTO t SELECT g, CASE WHEN g = 160 THEN 12 ELSE g % 5 END, 'n' || g FROM generate_series(1, 200) g");
  auto p = peer.Connect("skillpath");
  p.Exec("CREATE TABLE t (id int PRIMARY KEY, v int CONSTRAINT not_13 CHECK (v <> 13), note text)");
  std::string config = WriteSyncConfig(
      peer.dir() + "/sync.json", source,
      {{peer, "skillpath",
        R"([ { "source": "t", "target": "t", "key": ["id"], "columns": { "id": "id", "v": "v", "note": "note" } } ])"}});
  std::string log = peer.dir() + "/daemon.log";
  Daemon daemon("run", config, log);
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);

  src.Exec(
      "BEGIN; "
      // Rows 1-100 four times over, 100 rows a statement (staged), and rows
      // 201-210 three times over, 10 rows a statement (inline).
      "UPDATE t SET v = v + 1, note = note || 'a' WHERE id <= 100; "
      "INSERT INTO t SELECT g, 0, 'new' FROM generate_series(201, 210) g; "
      "UPDATE t SET v = v + 1, note = note || 'b' WHERE id <= 100 OR id > 200; "
      "UPDATE t SET v = v + 1, note = note || 'c' WHERE id <= 100 OR id > 200; "
      "UPDATE t SET v = v + 1, note = note || 'd' WHERE id <= 100 OR id > 200; "
      // A row moved to a new key, changed there, and moved back.
      "UPDATE t SET id = 1001 WHERE id = 150; "
      "UPDATE t SET v = 7 WHERE id = 1001; "
      "UPDATE t SET id = 150, note = 'back' WHERE id = 1001; "
      // The peer rejects the first change of row 160; the second waits.
      "UPDATE t SET v = 13 WHERE id = 160; "
      "UPDATE t SET v = 14 WHERE id = 160; "
      "COMMIT");
  ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
  ExpectSameRows(src, p, "SELECT id || '=' || v || note FROM t WHERE id <> 160",
                 "SELECT id || '=' || v || note FROM t WHERE id <> 160");
  EXPECT_EQ(p.Exec("SELECT v FROM t WHERE id = 160").value(0, 0), "12");
  EXPECT_EQ(p.Exec("SELECT v || note FROM t WHERE id = 150").value(0, 0), "7back");
  EXPECT_EQ(p.Exec("SELECT string_agg(v::text, ',' ORDER BY id) FROM t WHERE id IN (1, 100, 201)").value(0, 0),
            "5,4,3");
  EXPECT_EQ(p.Exec("SELECT string_agg(format('%s %s %s %s', operation, sqlstate, \"row\"->>'id', \"row\"->>'v'), "
                   "'; ' ORDER BY id) FROM crosswalk_sync.dead_letter")
                .value(0, 0),
            "update 23514 160 13; update 55000 160 14");
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

// A deferred constraint is checked at COMMIT, after every statement went
// through: the peer refuses the whole peer transaction, which may hold many
// grouped source transactions (or the whole migration). Retried as it was,
// it would fail the same way forever; instead its source transactions are
// replayed one per peer transaction with constraints checked at once, and
// only the rows at fault are dead-lettered.
TEST(SyncDeadLetters, DeferredConstraintRejectedAtCommit) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE enrolments (id int PRIMARY KEY, course int); "
      "INSERT INTO enrolments SELECT g, 1 + g % 3 FROM generate_series(1, 300) g; "
      "INSERT INTO enrolments VALUES (301, 99)");  // no course 99 on the peer
  auto p = peer.Connect("skillpath");
  p.Exec(
      "CREATE TABLE courses (id int PRIMARY KEY); INSERT INTO courses VALUES (1), (2), (3); "
      "CREATE TABLE enrolments (id int PRIMARY KEY, "
      "course int REFERENCES courses DEFERRABLE INITIALLY DEFERRED)");
  std::string config = WriteSyncConfig(peer.dir() + "/sync.json", source,
                                       {{peer, "skillpath",
                                         R"([ { "source": "enrolments", "target": "enrolments", "key": ["id"],
                               "columns": { "id": "id", "course": "course" } } ])"}});
  std::string log = peer.dir() + "/daemon.log";
  const std::string dead =
      "SELECT string_agg(format('%s %s %s', operation, sqlstate, \"row\"->>'id'), '; ' ORDER BY id) "
      "FROM crosswalk_sync.dead_letter";
  {
    // The migration commits once: the peer refuses it, and the next one
    // finds row 301 at its own statement.
    Daemon daemon("run", config, log);
    ASSERT_EQ(WaitFor(p, "SELECT count(*) FROM enrolments", "300"), "300") << ReadFile(log);
    EXPECT_EQ(p.Exec(dead).value(0, 0), "insert 23503 301");
    EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  }
  // While the daemon is stopped, 40 source transactions pile up; they are
  // grouped into one peer transaction when it starts, and one of them
  // enrols into a course the peer does not have.
  for (int i = 0; i < 40; ++i) {
    int course = i == 25 ? 77 : 1 + i % 3;
    src.Exec("INSERT INTO enrolments VALUES (" + std::to_string(1000 + i) + ", " + std::to_string(course) +
             "); UPDATE enrolments SET course = " + std::to_string(1 + (i + 1) % 3) +
             " WHERE id = " + std::to_string(1 + i));
  }
  Daemon daemon("run", config, log);
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath"}, 60s)) << ReadFile(log);
  EXPECT_EQ(p.Exec(dead).value(0, 0), "insert 23503 301; insert 23503 1025");
  ExpectSameRows(src, p, "SELECT id || '=' || course FROM enrolments WHERE id NOT IN (301, 1025)",
                 "SELECT id || '=' || course FROM enrolments");
  std::string text = ReadFile(log);
  // Both refusals were logged, each once: the replays went through.
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(R"("event":"commit_rejected")"), 2u) << text;
  EXPECT_EQ(count(R"("constraints_immediate":true)"), 0u) << text;
  // The second held more than one source transaction: the good ones among
  // them were applied on their replay, each in its own peer transaction.
  std::size_t grouped = 0;
  static const std::regex kRejected(R"re("event":"commit_rejected".*"source_transactions":([0-9]+))re");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kRejected); it != std::sregex_iterator(); ++it) {
    grouped = std::max<std::size_t>(grouped, std::stoul((*it)[1]));
  }
  EXPECT_GT(grouped, 1u) << text;

  // Streaming goes on afterwards, grouped again.
  src.Exec("INSERT INTO enrolments VALUES (2000, 2)");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath"}, 60s)) << ReadFile(log);
  EXPECT_EQ(p.Exec("SELECT course FROM enrolments WHERE id = 2000").value(0, 0), "2");
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace crosswalk::test
