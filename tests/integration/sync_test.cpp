// crosswalk-sync against real clusters: a source and two peers, mixed types,
// TOAST, many transactions and large ones, a snapshot taken while the source
// is written, the daemon stopped with SIGTERM and killed with SIGKILL
// mid-stream; then each peer must equal the mapping of the source row for
// row (compared by a query over both, not by counts).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "pgoutput.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

// The daemon process, ReadFile, CopyOut, WaitDrained and ExpectSameRows are
// tests/support/daemon.hpp's, shared with the other crosswalk-sync tests.
const std::string kDaemon = DaemonPath();

std::string WriteConfig(const std::string& dir, const std::string& name, const std::string& json) {
  return WriteFile(dir + "/" + name, json);
}

// Waits until every slot has confirmed what the source has written so far.
void AssertDrained(pq::Connection& source, const std::vector<std::string>& slots, std::chrono::seconds timeout = 120s) {
  ASSERT_TRUE(WaitDrained(source, slots, timeout)) << "the slots did not confirm the source's WAL in time";
}

// The source, its identity data (in the same database) and two peers.
class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.CreateDatabaseWithExtension("learnhub");
    peer_a_.Connect().Exec("CREATE DATABASE skillpath");
    peer_b_.Connect().Exec("CREATE DATABASE archive");
    auto src = source_.Connect("learnhub");
    src.Exec(R"SQL(
      SELECT crosswalk.register_platform('learnhub');
      SELECT crosswalk.register_platform('skillpath');
      SELECT crosswalk.register_platform('archive');
      -- 60 learners, each with a skillpath account (uuid) of its own
      SELECT crosswalk.link('skillpath', md5('sp' || u)::uuid::text, crosswalk.link('learnhub', u::text))
        FROM generate_series(1, 60) u;
      CREATE TABLE items (id bigint PRIMARY KEY, user_id int, qty int, amount numeric(14,4), label text,
                          blob bytea, doc jsonb, at timestamptz, tags text[], big text);
      ALTER TABLE items ALTER big SET STORAGE EXTERNAL;
      CREATE TABLE events (id int PRIMARY KEY, payload text);
      CREATE FUNCTION fill(lo bigint, hi bigint) RETURNS void LANGUAGE sql AS $$
        INSERT INTO items
        SELECT g, 1 + g % 60, CASE WHEN g % 13 = 0 THEN NULL ELSE (g % 100)::int END, g * 1.2345,
               CASE WHEN g % 7 = 0 THEN NULL ELSE 'Grüße ' || g || ' 世界' END,
               CASE WHEN g % 5 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END,
               jsonb_build_object('k', g, 'arr', jsonb_build_array(g, 'ü', NULL)),
               '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
               ARRAY['a' || g, NULL, 'x y'],
               CASE WHEN g % 1000 = 0 THEN repeat(md5(g::text), 320) END
          FROM generate_series(lo, hi) g
      $$;
      SELECT fill(1, 100000);
      INSERT INTO events SELECT g, 'e' || g FROM generate_series(1, 100) g;
    )SQL");
    peer_a_.Connect("skillpath").Exec(R"SQL(
      CREATE SCHEMA catalog;
      CREATE TABLE catalog.things (id bigint PRIMARY KEY, owner uuid NOT NULL, qty_x2 int, amount numeric(14,4),
                                   label text, blob bytea, doc jsonb, at timestamptz, tags text[], big text,
                                   copied_at timestamptz DEFAULT now());
      CREATE TABLE catalog.events (id int PRIMARY KEY, payload text);
    )SQL");
    peer_b_.Connect("archive").Exec(R"SQL(
      CREATE SCHEMA "Odd Schema";
      CREATE TABLE "Odd Schema"."Items Copy" ("Item;Id" bigint PRIMARY KEY, qty int, amount numeric(14,4), "Label" text,
                                              blob bytea, doc jsonb, at timestamptz, tags text[], big text);
      CREATE TABLE events_copy (id int PRIMARY KEY, payload text);
    )SQL");
    config_ = WriteConfig(peer_a_.dir(), "sync.json",
                          R"J({
      "source": { "dsn": ")J" +
                              source_.Dsn("learnhub") + R"J(", "platform": "learnhub",
                  "publication": "crosswalk", "create_publication": true },
      "apply": { "batch_rows": 5000 },
      "peers": [
        { "name": "skillpath", "dsn": ")J" +
                              peer_a_.Dsn("skillpath") + R"J(", "platform": "skillpath",
          "tables": [
            { "source": "public.items", "target": "catalog.things", "key": ["id"],
              "columns": { "id": "id", "owner": { "identity": "user_id" }, "qty_x2": "qty * 2",
                           "amount": "amount", "label": "upper(label)", "blob": "blob", "doc": "doc",
                           "at": "at", "tags": "tags", "big": "big"
    }
    , "where" : "qty IS NOT NULL AND qty % 10 <> 7"
    },
            { "source": "events", "target": "catalog.events", "key": ["id"],
              "columns": { "id": "id", "payload": "payload" } } ]
    }
    , { "name": "archive", "dsn": ")J" +
                              peer_b_.Dsn("archive") + R"J(", "platform": "archive",
          "tables": [
            { "source": "items", "target": "\"Odd Schema\".\"Items Copy\"", "key": ["Item;Id"],
              "columns": { "Item;Id": "id", "qty": "qty", "amount": "amount", "Label": "label", "blob": "blob",
                           "doc": "doc", "at": "at", "tags": "tags", "big": "big" } },
            { "source": "events", "target": "events_copy", "key": ["id"],
              "columns": { "id": "id", "payload": "payload || '!'" } } ] } ] })J");
    log_ = peer_a_.dir() + "/daemon.log";
  }

  void ExpectPeersMatchSource() {
    auto src = source_.Connect("learnhub");
    auto a = peer_a_.Connect("skillpath");
    auto b = peer_b_.Connect("archive");
    long long n_a = ExpectSameRows(
        src, a,
        "SELECT format('%L|%L|%L|%L|%L|%L|%L|%L|%L|%L', id, crosswalk.translate(user_id::text, 'learnhub', "
        "'skillpath'), qty * 2, amount, upper(label), blob, doc, at, tags, md5(big)) FROM items "
        "WHERE COALESCE(qty IS NOT NULL AND qty % 10 <> 7, false)",
        "SELECT format('%L|%L|%L|%L|%L|%L|%L|%L|%L|%L', id, owner, qty_x2, amount, label, blob, doc, at, tags, "
        "md5(big)) FROM catalog.things");
    long long n_b = ExpectSameRows(
        src, b,
        "SELECT format('%L|%L|%L|%L|%L|%L|%L|%L|%L', id, qty, amount, label, blob, doc, at, tags, md5(big)) FROM "
        "items",
        "SELECT format('%L|%L|%L|%L|%L|%L|%L|%L|%L', \"Item;Id\", qty, amount, \"Label\", blob, doc, at, tags, "
        "md5(big)) FROM \"Odd Schema\".\"Items Copy\"");
    ExpectSameRows(src, a, "SELECT format('%L|%L', id, payload) FROM events",
                   "SELECT format('%L|%L', id, payload) FROM catalog.events");
    ExpectSameRows(src, b, "SELECT format('%L|%L', id, payload || '!') FROM events",
                   "SELECT format('%L|%L', id, payload) FROM events_copy");
    // Independent of the daemon: how many rows each side must have.
    EXPECT_EQ(std::to_string(n_b), *src.Scalar("SELECT count(*) FROM items"));
    EXPECT_EQ(std::to_string(n_a), *src.Scalar("SELECT count(*) FROM items WHERE qty IS NOT NULL AND qty % 10 <> 7"));
    EXPECT_GT(n_b, 100000);
    // Nothing was doubled into a dead letter (a replayed insert would be).
    EXPECT_EQ(*a.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
    EXPECT_EQ(*b.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  }

  Cluster source_;
  Cluster peer_a_;
  Cluster peer_b_;
  std::string config_;
  std::string log_;
};

// Small transactions of every kind: inserts, updates that move rows in and
// out of the filter, updates of TOASTed rows ('u'), key changes, deletes.
void SmallTransactions(pq::Connection& src, int count, long long& next_id) {
  for (int i = 0; i < count; ++i) {
    long long id = next_id;
    next_id += 5;
    src.Exec("BEGIN; SELECT fill(" + std::to_string(id) + ", " + std::to_string(id + 4) + "); " +
             "UPDATE items SET qty = COALESCE(qty, 0) + 3, label = label || '+' WHERE id IN (" +
             std::to_string(1 + (i * 37) % 90000) + ", " + std::to_string(2 + (i * 91) % 90000) + "); " +
             "DELETE FROM items WHERE id = " + std::to_string(3 + (i * 53) % 90000) + "; COMMIT");
  }
}

TEST_F(SyncTest, SnapshotThenStreamExactlyOnceThroughStopsAndKills) {
  auto src = source_.Connect("learnhub");
  long long next_id = 1000000;

  // Snapshot while the source is being written: no gap, no overlap.
  auto daemon = std::make_unique<Daemon>("run", config_, log_);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto w = source_.Connect("learnhub");
    long long id = 2000000;
    for (int i = 0; i < 150 && writing; ++i) SmallTransactions(w, 1, id);
  });
  std::this_thread::sleep_for(1500ms);
  writing = false;
  writer.join();
  SmallTransactions(src, 100, next_id);
  // Updates of rows whose big value is TOASTed and unchanged ('u').
  // Rows that stay in peer A's filter keep their value; rows that enter it
  // need the value itself, so those updates also change it (see the end).
  src.Exec("UPDATE items SET qty = qty + 10, label = 'toast row' WHERE big IS NOT NULL AND qty % 10 <> 7");
  src.Exec(
      "UPDATE items SET qty = COALESCE(qty, 1) + 1, big = big || 'x' WHERE big IS NOT NULL AND "
      "(qty IS NULL OR qty % 10 = 7)");
  // Key changes.
  src.Exec("UPDATE items SET id = id + 5000000 WHERE id % 997 = 0");
  // Truncate, then rows again.
  src.Exec("TRUNCATE events; INSERT INTO events SELECT g, 'after truncate ' || g FROM generate_series(1, 50) g");

  // A clean stop mid-stream, and a restart.
  std::thread more([&] {
    auto w = source_.Connect("learnhub");
    long long id = 3000000;
    SmallTransactions(w, 200, id);
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
  more.join();
  daemon = std::make_unique<Daemon>("run", config_, log_);

  // Large transactions, with a kill -9 while they are applied.
  src.Exec("SELECT fill(10000001, 10200000)");  // 200k rows in one transaction
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(daemon->Stop(SIGKILL), 128 + SIGKILL);
  src.Exec(
      "UPDATE items SET qty = qty + 10, doc = doc || '{\"updated\": true}' WHERE id BETWEEN 10000001 AND 10060000");
  daemon = std::make_unique<Daemon>("run", config_, log_);
  std::this_thread::sleep_for(1000ms);
  EXPECT_EQ(daemon->Stop(SIGKILL), 128 + SIGKILL);
  src.Exec("DELETE FROM items WHERE id BETWEEN 10100001 AND 10130000");
  daemon = std::make_unique<Daemon>("run", config_, log_);
  SmallTransactions(src, 50, next_id);

  AssertDrained(src, {"crosswalk_skillpath", "crosswalk_archive"});
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
  ExpectPeersMatchSource();

  std::string log = ReadFile(log_);
  EXPECT_NE(log.find("\"event\":\"snapshot_done\""), std::string::npos);
  EXPECT_NE(log.find("\"event\":\"resume\""), std::string::npos);

  // A TOASTed row entering peer A's filter by an update that leaves its big
  // value unchanged: the source did not send the value (REPLICA IDENTITY
  // DEFAULT), so the peer cannot get the row; it is dead-lettered with the
  // reason, never inserted with a NULL. Peer B (no filter) keeps its value.
  daemon = std::make_unique<Daemon>("run", config_, log_);
  src.Exec("INSERT INTO items (id, user_id, qty, big) VALUES (20000000, 1, 7, repeat(md5('t'), 400))");
  src.Exec("UPDATE items SET qty = 8 WHERE id = 20000000");
  AssertDrained(src, {"crosswalk_skillpath", "crosswalk_archive"});
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
  {
    auto a = peer_a_.Connect("skillpath");
    pq::Result dl = a.Exec("SELECT sqlstate, error, operation, \"row\"->>'qty' FROM crosswalk_sync.dead_letter");
    ASSERT_EQ(dl.rows(), 1);
    EXPECT_EQ(dl.value(0, 0), "0A000");
    EXPECT_NE(dl.value(0, 1).find("unchanged TOAST values were not sent"), std::string::npos) << dl.value(0, 1);
    EXPECT_EQ(dl.value(0, 2), "update");
    EXPECT_EQ(dl.value(0, 3), "8");
    EXPECT_EQ(*a.Scalar("SELECT count(*) FROM catalog.things WHERE id = 20000000"), "0");
    auto b = peer_b_.Connect("archive");
    EXPECT_EQ(*b.Scalar("SELECT format('%s %s', qty, big = repeat(md5('t'), 400)) FROM \"Odd Schema\".\"Items Copy\" "
                        "WHERE \"Item;Id\" = 20000000"),
              "8 t");
  }

  // status reports both peers with what they applied.
  std::string status = ShellOutput(kDaemon + " status -c " + config_);
  EXPECT_NE(status.find("peer=skillpath slot=crosswalk_skillpath slot_state=inactive"), std::string::npos) << status;
  EXPECT_NE(status.find("peer=archive"), std::string::npos) << status;
  EXPECT_NE(status.find("dead_letters=1 held=0"), std::string::npos) << status;
  EXPECT_NE(status.find("dead_letters=0 held=0"), std::string::npos) << status;
}

TEST_F(SyncTest, BadConfigsAreRejectedByCheckAndRunNamingThePath) {
  struct Case {
    std::string from, to, path;
  };
  std::string good = ReadFile(config_);
  std::vector<Case> cases = {
      {"\"apply\": {", "\"aply\": {", "config: aply: unknown key"},
      {"\"qty_x2\": \"qty * 2\"", "\"qty_x3\": \"qty * 2\"",
       "config: peers[0].tables[0].columns.qty_x3: table public.things on peer skillpath has no column"},
      {"\"qty_x2\": \"qty * 2\"", "\"qty_x2\": \"qty * no_such_column\"",
       "config: peers[0].tables[0]: the peer rejects its insert"},
      {"\"source\": \"events\", \"target\": \"events_copy\"", "\"source\": \"nope\", \"target\": \"events_copy\"",
       "config: peers[1].tables[1].source: source table public.nope not found"},
      {"\"key\": [\"id\"],\n              \"columns\": { \"id\": \"id\", \"payload\": \"payload\" }",
       "\"key\": [\"idd\"],\n              \"columns\": { \"id\": \"id\", \"payload\": \"payload\" }",
       "config: peers[0].tables[1].key[0]: key column \"idd\" is not in columns"},
  };
  // The check fixture's peer table name is catalog.things: fix the expected message.
  cases[1].path = "config: peers[0].tables[0].columns.qty_x3: table catalog.things on peer skillpath has no column";
  int n = 0;
  for (const auto& c : cases) {
    std::string text = good;
    auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    std::string bad = WriteConfig(peer_a_.dir(), "bad" + std::to_string(n++) + ".json", text);
    for (const char* command : {"check", "run"}) {
      std::string out = peer_a_.dir() + "/bad.out";
      std::remove(out.c_str());
      Daemon d(command, bad, out);
      EXPECT_EQ(d.Wait(), 2) << command << " " << c.path;
      std::string got = ReadFile(out);
      EXPECT_NE(got.find(c.path), std::string::npos) << command << ": " << got;
    }
  }
  // And the good one passes check and prints the plan.
  std::string plan = ShellOutput(kDaemon + " check -c " + config_ + " 2>/dev/null");
  EXPECT_NE(plan.find("peer skillpath"), std::string::npos) << plan;
  EXPECT_NE(plan.find("owner = identity(user_id)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("\nok\n"), std::string::npos) << plan;
}

}  // namespace
}  // namespace crosswalk::test
