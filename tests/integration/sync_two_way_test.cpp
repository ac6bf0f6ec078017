// Two-way sync and rings against real clusters (docs/operations.md "Two-way
// and ring deployments"): one daemon runs both directions of a two-way
// table and no change ever comes back where it began; three one-way
// daemons in a ring A -> B -> C -> A bring every change to every node
// exactly once; each kind of conflict under each policy settles the same
// way on both sides and is recorded with both versions; and a soak of
// random concurrent writes on both sides ends equal.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <regex>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kConf = {"wal_level = logical", "track_commit_timestamp = on"};

struct SlotOn {
  pq::Connection* server;
  std::string slot;
};

// Waits until every slot has confirmed its server's WAL, twice round: what
// one direction applies writes WAL the other direction must pass over.
void AssertAllDrained(const std::vector<SlotOn>& slots) {
  for (int round = 0; round < 2; ++round) {
    for (const auto& s : slots) {
      ASSERT_TRUE(WaitDrained(*s.server, {s.slot}, 120s)) << "slot " << s.slot << " did not drain";
    }
  }
}

long long Count(pq::Connection& c, const std::string& sql) { return std::stoll(*c.Scalar(sql)); }

// The echoes_skipped figure of `peer`'s last "stopped" log line.
long long EchoesSkipped(const std::string& log, const std::string& peer) {
  std::regex line("\\{[^\\n]*\"event\":\"stopped\"[^\\n]*\\}");
  std::regex fields("\"echoes_skipped\":([0-9]+)[^\\n]*\"peer\":\"" + peer + "\"");
  long long found = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    std::smatch m;
    std::string text = it->str();
    if (std::regex_search(text, m, fields)) found = std::stoll(m[1]);
  }
  return found;
}

long long Transactions(pq::Connection& c, const std::string& slot, const char* what = "transactions") {
  return Count(c, std::string("SELECT COALESCE((SELECT ") + what + " FROM crosswalk_sync.progress WHERE slot = '" +
                      slot + "'), 0)");
}

// learnhub (source, with the identity data) and skillpath, one two-way
// table mapped with an identity, a computed column with its reverse, and
// three small tables, one per conflict policy.
class TwoWayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_.CreateDatabaseWithExtension("learnhub");
    b_.Connect().Exec("CREATE DATABASE skillpath");
    auto a = a_.Connect("learnhub");
    a.Exec(R"SQL(
      SELECT crosswalk.register_platform('learnhub');
      SELECT crosswalk.register_platform('skillpath');
      SELECT crosswalk.link('skillpath', md5('sp' || u)::uuid::text, crosswalk.link('learnhub', u::text))
        FROM generate_series(1, 20) u;
      CREATE TABLE courses (id int PRIMARY KEY, user_id int, title text, seats int, note text);
      INSERT INTO courses SELECT g, 1 + g % 20, 'course ' || g, g % 40, NULL FROM generate_series(1, 200) g;
      CREATE TABLE t_lww (id int PRIMARY KEY, v text);
      CREATE TABLE t_prio (id int PRIMARY KEY, v text);
      CREATE TABLE t_dl (id int PRIMARY KEY, v text);
      ALTER TABLE courses REPLICA IDENTITY FULL;
      ALTER TABLE t_lww REPLICA IDENTITY FULL;
      ALTER TABLE t_prio REPLICA IDENTITY FULL;
      ALTER TABLE t_dl REPLICA IDENTITY FULL;
    )SQL");
    for (const char* t : {"t_lww", "t_prio", "t_dl"}) {
      a.Exec(std::string("INSERT INTO ") + t + " SELECT g, 'init' FROM generate_series(1, 6) g");
    }
    b_.Connect("skillpath").Exec(R"SQL(
      CREATE TABLE catalog (course_id int PRIMARY KEY, owner uuid, title text, capacity int, note text,
                            synced_at timestamptz DEFAULT now());
      CREATE TABLE t_lww (id int PRIMARY KEY, v text);
      CREATE TABLE t_prio (id int PRIMARY KEY, v text);
      CREATE TABLE t_dl (id int PRIMARY KEY, v text);
      ALTER TABLE catalog REPLICA IDENTITY FULL;
      ALTER TABLE t_lww REPLICA IDENTITY FULL;
      ALTER TABLE t_prio REPLICA IDENTITY FULL;
      ALTER TABLE t_dl REPLICA IDENTITY FULL;
    )SQL");
    config_ = WriteFile(a_.dir() + "/two_way.json", R"J({
      "source": { "dsn": ")J" + a_.Dsn("learnhub") + R"J(", "platform": "learnhub",
                  "publication": "crosswalk", "create_publication": true },
      "apply": { "status_interval_seconds": 1 },
      "peers": [ { "name": "skillpath", "dsn": ")J" + b_.Dsn("skillpath") +
                                                        R"J(", "platform": "skillpath",
        "tables": [
          { "source": "courses", "target": "catalog", "key": ["course_id"],
            "columns": { "course_id": "id", "owner": { "identity": "user_id" }, "title": "title",
                         "capacity": "seats * 2", "note": "note" },
            "two_way": { "reverse": { "seats": "capacity / 2" } } },
          { "source": "t_lww", "target": "t_lww", "key": ["id"], "columns": { "id": "id", "v": "v" },
            "two_way": { "conflicts": "last_writer_wins" } },
          { "source": "t_prio", "target": "t_prio", "key": ["id"], "columns": { "id": "id", "v": "v" },
            "two_way": { "conflicts": "source_priority", "priority": "learnhub" } },
          { "source": "t_dl", "target": "t_dl", "key": ["id"], "columns": { "id": "id", "v": "v" },
            "two_way": { "conflicts": "dead_letter" } } ] } ] })J");
    log_ = a_.dir() + "/two_way.log";
  }

  // Both directions applied: each slot confirmed, and each peer's progress
  // stores, what its source has written (a fresh slot alone looks drained
  // before the migration commits). Twice, since each direction's writes
  // give the other more to read.
  void Drain() {
    auto a = a_.Connect("learnhub");
    auto b = b_.Connect("skillpath");
    for (int round = 0; round < 2; ++round) {
      ASSERT_TRUE(WaitPeersDrained(a, {{&b, "crosswalk_skillpath"}}, 120s)) << ReadFile(log_);
      ASSERT_TRUE(WaitPeersDrained(b, {{&a, "crosswalk_skillpath_rev"}}, 120s)) << ReadFile(log_);
    }
  }

  // courses on learnhub, mapped, equals catalog on skillpath row for row.
  long long ExpectCoursesEqual() {
    auto a = a_.Connect("learnhub");
    auto b = b_.Connect("skillpath");
    return ExpectSameRows(a, b,
                          "SELECT format('%s|%s|%s|%s|%s', id, crosswalk.translate(user_id::text, 'learnhub', "
                          "'skillpath'), title, seats * 2, note) FROM courses",
                          "SELECT format('%s|%s|%s|%s|%s', course_id, owner, title, capacity, note) FROM catalog");
  }

  Cluster a_{kConf};
  Cluster b_{kConf};
  std::string config_;
  std::string log_;
};

TEST_F(TwoWayTest, CheckPrintsBothDirectionsAndNamesWhatToChange) {
  std::string plan = ShellOutput(DaemonPath() + " check -c " + config_);
  EXPECT_NE(plan.find("public.courses (replica identity f) -> public.catalog key (course_id) two-way, conflicts "
                      "last_writer_wins"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("reverse stream of two-way tables, skillpath -> learnhub"), std::string::npos) << plan;
  EXPECT_NE(plan.find("public.catalog (replica identity f) -> public.courses key (id)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("    seats = capacity / 2"), std::string::npos) << plan;
  EXPECT_NE(plan.find("    user_id = identity(owner)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("t_prio (replica identity f) -> public.t_prio key (id) two-way, conflicts source_priority "
                      "(learnhub wins)"),
            std::string::npos)
      << plan;

  // Without the reverse entry: rejected, naming the column.
  std::string text = ReadFile(config_);
  std::string no_reverse = text;
  no_reverse.replace(no_reverse.find(R"("two_way": { "reverse": { "seats": "capacity / 2" } })"),
                     std::string(R"("two_way": { "reverse": { "seats": "capacity / 2" } })").size(),
                     R"("two_way": {})");
  WriteFile(a_.dir() + "/bad.json", no_reverse);
  std::string out = a_.dir() + "/bad.out";
  EXPECT_EQ(Shell(DaemonPath() + " check -c " + a_.dir() + "/bad.json > " + out + " 2>&1"), 2);
  std::string err = ReadFile(out);
  EXPECT_NE(err.find("peers[0].tables[0].two_way: source column(s) \"seats\" of public.courses cannot be mapped back"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("hint: Add \"reverse\": {\"seats\": "), std::string::npos) << err;

  // REPLICA IDENTITY and track_commit_timestamp: named with the fix.
  b_.Connect("skillpath").Exec("ALTER TABLE t_dl REPLICA IDENTITY DEFAULT");
  EXPECT_EQ(Shell(DaemonPath() + " check -c " + config_ + " > " + out + " 2>&1"), 2);
  err = ReadFile(out);
  EXPECT_NE(err.find("two-way table public.t_dl on skillpath has REPLICA IDENTITY DEFAULT, not FULL"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("ALTER TABLE \"public\".\"t_dl\" REPLICA IDENTITY FULL;"), std::string::npos) << err;
  b_.Connect("skillpath").Exec("ALTER TABLE t_dl REPLICA IDENTITY FULL");
  a_.Connect().Exec("ALTER SYSTEM SET track_commit_timestamp = off");
  a_.Restart();
  EXPECT_EQ(Shell(DaemonPath() + " check -c " + config_ + " > " + out + " 2>&1"), 2);
  err = ReadFile(out);
  EXPECT_NE(err.find("track_commit_timestamp is off, but two-way tables need it on"), std::string::npos) << err;
}

// Both sides written while the daemon streams: every change arrives once on
// the other side and none comes back (each stream applies exactly the other
// side's transactions, and skips as many echoes as it received).
TEST_F(TwoWayTest, NoChangeEverEchoesBack) {
  Daemon daemon("run", config_, log_);
  Drain();
  auto a = a_.Connect("learnhub");
  auto b = b_.Connect("skillpath");
  ASSERT_EQ(Count(b, "SELECT count(*) FROM catalog"), 200);
  long long fwd0 = Transactions(b, "crosswalk_skillpath");
  long long rev0 = Transactions(a, "crosswalk_skillpath_rev");

  // 40 transactions on learnhub, 30 on skillpath, interleaved, on disjoint
  // rows; each changes at least one row.
  std::thread on_b([&] {
    auto w = b_.Connect("skillpath");
    for (int i = 0; i < 30; ++i) {
      int id = 1000 + i;
      if (i % 3 == 0) {
        w.Exec("INSERT INTO catalog (course_id, owner, title, capacity) VALUES (" + std::to_string(id) +
               ", md5('sp' || " + std::to_string(1 + i % 20) + ")::uuid, 'from skillpath', 10)");
      } else if (i % 3 == 1) {
        w.Exec("UPDATE catalog SET note = 'b" + std::to_string(i) +
               "', capacity = capacity + 2 WHERE course_id = " + std::to_string(100 + i));
      } else {
        w.Exec("BEGIN; DELETE FROM catalog WHERE course_id = " + std::to_string(150 + i) +
               "; INSERT INTO catalog (course_id, owner, title, capacity) VALUES (" + std::to_string(id) +
               ", md5('sp1')::uuid, 'pair', 4); COMMIT");
      }
    }
  });
  for (int i = 0; i < 40; ++i) {
    int id = 2000 + i;
    if (i % 2 == 0) {
      a.Exec("INSERT INTO courses VALUES (" + std::to_string(id) + ", " + std::to_string(1 + i % 20) +
             ", 'from learnhub', 7, 'n')");
    } else {
      a.Exec("UPDATE courses SET seats = seats + 1, title = title || '+' WHERE id = " + std::to_string(1 + i));
    }
  }
  on_b.join();
  // An application role with no rights on crosswalk_sync deletes a row: the
  // tombstone trigger writes for it, and the delete streams (transaction 31).
  b.Exec(
      "CREATE ROLE app; GRANT SELECT, DELETE ON catalog TO app; SET ROLE app; DELETE FROM catalog WHERE course_id = 5; "
      "RESET ROLE");
  Drain();
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);

  EXPECT_EQ(ExpectCoursesEqual(), 200 + 20 + 20 - 10 - 1);
  EXPECT_EQ(Transactions(b, "crosswalk_skillpath") - fwd0, 40);
  EXPECT_EQ(Transactions(a, "crosswalk_skillpath_rev") - rev0, 31);
  EXPECT_EQ(Count(a, "SELECT count(*) FROM crosswalk_sync.conflicts"), 0);
  EXPECT_EQ(Count(b, "SELECT count(*) FROM crosswalk_sync.conflicts"), 0);
  EXPECT_EQ(Count(a, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  EXPECT_EQ(Count(b, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  // What was applied carries the origin of the platform it came from.
  EXPECT_EQ(*b.Scalar("SELECT string_agg(DISTINCT o.roname, ',') FROM catalog t, "
                      "pg_xact_commit_timestamp_origin(t.xmin) c JOIN pg_replication_origin o ON o.roident = c.roident "
                      "WHERE t.title = 'from learnhub'"),
            "crosswalk_learnhub");
  EXPECT_EQ(*a.Scalar("SELECT string_agg(DISTINCT o.roname, ',') FROM courses t, "
                      "pg_xact_commit_timestamp_origin(t.xmin) c JOIN pg_replication_origin o ON o.roident = c.roident "
                      "WHERE t.title = 'from skillpath'"),
            "crosswalk_skillpath");
  // Each stream skipped, as echoes, what the other applied on its source:
  // the forward stream skillpath's 31 transactions, the reverse one
  // learnhub's 40 (and the migration's copy, if its slot saw it).
  std::string log = ReadFile(log_);
  EXPECT_EQ(EchoesSkipped(log, "skillpath"), 31) << log;
  long long reverse = EchoesSkipped(log, "skillpath_rev");
  EXPECT_TRUE(reverse == 40 || reverse == 41) << reverse;
}

struct Outcome {
  std::string a_rows, b_rows, a_conflicts, b_conflicts;
};

// The rows of `table` as "id=v,..." and the conflicts recorded for it as
// "id kind winner" lines.
std::string Rows(pq::Connection& c, const std::string& table) {
  return c.Scalar("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM " + table).value_or("");
}
std::string Conflicts(pq::Connection& c, const std::string& table) {
  return c
      .Scalar(
          "SELECT string_agg(format('%s %s %s', COALESCE(incoming_row, incoming_old)->>'id', kind, winner), ', ' "
          "ORDER BY (COALESCE(incoming_row, incoming_old)->>'id')::int) FROM crosswalk_sync.conflicts "
          "WHERE target_table = 'public." +
          table + "'")
      .value_or("");
}

// Every kind of conflict under every policy: the daemon is stopped, both
// sides change the same rows (learnhub first, then skillpath, then
// learnhub again for row 5), and the daemon is started again.
TEST_F(TwoWayTest, EachKindOfConflictUnderEachPolicy) {
  {
    Daemon daemon("run", config_, log_);
    Drain();
    EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  }
  auto a = a_.Connect("learnhub");
  auto b = b_.Connect("skillpath");
  for (const char* t : {"t_lww", "t_prio", "t_dl"}) {
    ASSERT_EQ(Rows(b, t), "1=init,2=init,3=init,4=init,5=init,6=init");
    std::string T = t;
    a.Exec("UPDATE " + T + " SET v = 'a1' WHERE id = 1");
    a.Exec("UPDATE " + T + " SET v = 'a2' WHERE id = 2");
    a.Exec("DELETE FROM " + T + " WHERE id = 3");
    a.Exec("DELETE FROM " + T + " WHERE id = 4");
    a.Exec("INSERT INTO " + T + " VALUES (10, 'a10')");
  }
  for (const char* t : {"t_lww", "t_prio", "t_dl"}) {
    std::string T = t;
    b.Exec("UPDATE " + T + " SET v = 'b1' WHERE id = 1");
    b.Exec("DELETE FROM " + T + " WHERE id = 2");
    b.Exec("DELETE FROM " + T + " WHERE id = 3");
    b.Exec("UPDATE " + T + " SET v = 'b4' WHERE id = 4");
    b.Exec("INSERT INTO " + T + " VALUES (10, 'b10')");
    b.Exec("UPDATE " + T + " SET v = 'b5' WHERE id = 5");
  }
  for (const char* t : {"t_lww", "t_prio", "t_dl"}) a.Exec(std::string("UPDATE ") + t + " SET v = 'a5' WHERE id = 5");

  // This run serves /metrics: the monitor watches the reverse stream too
  // (its slot is on skillpath) and counts each side's conflicts.
  int port = FreePort();
  std::string text = ReadFile(config_);
  const std::string apply = R"("apply": { "status_interval_seconds": 1 },)";
  ASSERT_NE(text.find(apply), std::string::npos);
  text.replace(text.find(apply), apply.size(),
               apply + R"( "metrics": { "listen": "127.0.0.1:)" + std::to_string(port) + R"(" },)");
  std::string with_metrics = WriteFile(a_.dir() + "/two_way_metrics.json", text);
  Daemon daemon("run", with_metrics, log_);
  Drain();
  std::string metrics;
  auto scrape = [&] {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2);
    auto res = client.Get("/metrics");
    metrics = res ? res->body : "";
    return metrics.find("crosswalk_sync_conflicts{peer=\"skillpath\"} 18\n") != std::string::npos &&
           metrics.find("crosswalk_sync_conflicts{peer=\"skillpath_rev\"} 18\n") != std::string::npos;
  };
  EXPECT_TRUE(PollUntil(scrape, 30s)) << metrics;
  EXPECT_NE(metrics.find("crosswalk_sync_slot_present{peer=\"skillpath_rev\",slot=\"crosswalk_skillpath_rev\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("crosswalk_sync_dead_letters{peer=\"skillpath_rev\"} 0\n"), std::string::npos) << metrics;
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);

  // last_writer_wins: skillpath wrote rows 1-4 and 10 last, learnhub row 5.
  EXPECT_EQ(Rows(a, "t_lww"), "1=b1,4=b4,5=a5,6=init,10=b10");
  EXPECT_EQ(Rows(b, "t_lww"), Rows(a, "t_lww"));
  // Recorded where the change arrived: on skillpath learnhub's changes,
  // on learnhub skillpath's.
  EXPECT_EQ(Conflicts(b, "t_lww"),
            "1 update/update local, 2 update/delete local, 3 delete/delete local, 4 update/delete local, "
            "5 update/update incoming, 10 insert/insert local");
  EXPECT_EQ(Conflicts(a, "t_lww"),
            "1 update/update incoming, 2 update/delete incoming, 3 delete/delete incoming, "
            "4 update/delete incoming, 5 update/update local, 10 insert/insert incoming");

  // source_priority, learnhub wins: its update beats skillpath's delete
  // (row 2) and its delete beats skillpath's update (row 4).
  EXPECT_EQ(Rows(a, "t_prio"), "1=a1,2=a2,5=a5,6=init,10=a10");
  EXPECT_EQ(Rows(b, "t_prio"), Rows(a, "t_prio"));
  EXPECT_EQ(Conflicts(b, "t_prio"),
            "1 update/update incoming, 2 update/delete incoming, 3 delete/delete incoming, "
            "4 update/delete incoming, 5 update/update incoming, 10 insert/insert incoming");
  EXPECT_EQ(Conflicts(a, "t_prio"),
            "1 update/update local, 2 update/delete local, 3 delete/delete local, 4 update/delete local, "
            "5 update/update local, 10 insert/insert local");

  // dead_letter: each side keeps its own row; each records the other's.
  EXPECT_EQ(Rows(a, "t_dl"), "1=a1,2=a2,5=a5,6=init,10=a10");
  EXPECT_EQ(Rows(b, "t_dl"), "1=b1,4=b4,5=b5,6=init,10=b10");
  const std::string kept =
      "1 update/update local, 2 update/delete local, 3 delete/delete local, 4 update/delete local, "
      "5 update/update local, 10 insert/insert local";
  EXPECT_EQ(Conflicts(a, "t_dl"), kept);
  EXPECT_EQ(Conflicts(b, "t_dl"), kept);
  // "Equal" for dead_letter: each conflicting row's version on one side is
  // the incoming version the other side recorded.
  EXPECT_EQ(*b.Scalar("SELECT string_agg(format('%s:%s>%s', incoming_row->>'id', local_row->>'v', "
                      "incoming_row->>'v'), ',' ORDER BY (incoming_row->>'id')::int) FROM crosswalk_sync.conflicts "
                      "WHERE target_table = 'public.t_dl' AND incoming_row IS NOT NULL"),
            "1:b1>a1,2:>a2,5:b5>a5,10:b10>a10");
  EXPECT_EQ(*a.Scalar("SELECT string_agg(format('%s:%s>%s', incoming_row->>'id', local_row->>'v', "
                      "incoming_row->>'v'), ',' ORDER BY (incoming_row->>'id')::int) FROM crosswalk_sync.conflicts "
                      "WHERE target_table = 'public.t_dl' AND incoming_row IS NOT NULL"),
            "1:a1>b1,4:>b4,5:a5>b5,10:a10>b10");

  // status reports both directions with their conflicts (6 on each side
  // for each of the 3 tables).
  std::string status = ShellOutput(DaemonPath() + " status -c " + config_);
  EXPECT_NE(status.find("peer=skillpath slot=crosswalk_skillpath slot_state=inactive"), std::string::npos) << status;
  EXPECT_NE(status.find("peer=skillpath_rev slot=crosswalk_skillpath_rev slot_state=inactive"), std::string::npos)
      << status;
  ASSERT_NE(status.find("dead_letters=0 held=0 conflicts=18\n"), std::string::npos) << status;
  EXPECT_NE(status.find("conflicts=18"), status.rfind("conflicts=18")) << status;

  // What was overridden is kept with both versions, platforms and times.
  pq::Result r = b.Exec(
      "SELECT local_row->>'v', incoming_row->>'v', incoming_old->>'v', local_platform, incoming_platform, "
      "incoming_time > local_time, policy FROM crosswalk_sync.conflicts WHERE target_table = 'public.t_lww' AND "
      "incoming_row->>'id' = '5'");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.value(0, 0), "b5");
  EXPECT_EQ(r.value(0, 1), "a5");
  EXPECT_EQ(r.value(0, 2), "init");
  EXPECT_EQ(r.value(0, 3), "skillpath");
  EXPECT_EQ(r.value(0, 4), "learnhub");
  EXPECT_EQ(r.value(0, 5), "t");
  EXPECT_EQ(r.value(0, 6), "last_writer_wins");
  // Deleted rows left tombstones that carry the deleting commit.
  EXPECT_GE(Count(a, "SELECT count(*) FROM crosswalk_sync.tombstones"), 6);
  EXPECT_EQ(Count(a, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  EXPECT_EQ(Count(b, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
}

// Both directions run as the roles docs/operations.md describes for two-way
// tables, no superuser on either side: each side is a source (REPLICATION,
// a publication made by the tables' owner) and a peer (its own
// crosswalk_sync schema, TEMP, the table rights, TRIGGER for the
// tombstones, the replication origin functions).
TEST_F(TwoWayTest, RunsAsTheDocumentedRoles) {
  auto a = a_.Connect("learnhub");
  auto b = b_.Connect("skillpath");
  // docs/operations.md: the role, its schema, TEMP, the tables' rights with
  // TRIGGER, the replication origin functions, and the publication (made by
  // the tables' owner) that the other side's stream reads.
  auto grant = [](pq::Connection& c, const std::string& db, const std::string& tables, const std::string& pub) {
    c.Exec(
        "CREATE ROLE crosswalk_sync LOGIN REPLICATION; "
        "CREATE SCHEMA crosswalk_sync AUTHORIZATION crosswalk_sync; "
        "GRANT TEMP ON DATABASE " +
        db +
        " TO crosswalk_sync; "
        "GRANT USAGE ON SCHEMA public TO crosswalk_sync; "
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER ON " +
        tables +
        " TO crosswalk_sync; "
        "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text), "
        "  pg_replication_origin_session_setup(text), pg_replication_origin_session_reset(), "
        "  pg_replication_origin_session_is_setup(), pg_replication_origin_xact_setup(pg_lsn, timestamptz) "
        "  TO crosswalk_sync; "
        "GRANT SELECT ON pg_replication_origin TO crosswalk_sync; "
        "CREATE PUBLICATION " +
        pub + " FOR TABLE " + tables);
  };
  grant(a, "learnhub", "courses, t_lww, t_prio, t_dl", "crosswalk");
  a.Exec("GRANT crosswalk_reader TO crosswalk_sync");  // the identity hub
  grant(b, "skillpath", "catalog, t_lww, t_prio, t_dl", "crosswalk_reverse");
  std::string text = ReadFile(config_);
  for (const std::string& dsn : {a_.Dsn("learnhub"), b_.Dsn("skillpath")}) {
    for (std::size_t at = text.find(dsn); at != std::string::npos; at = text.find(dsn, at + dsn.size())) {
      text.insert(at + dsn.size(), " user=crosswalk_sync");
    }
  }
  std::string config = WriteFile(a_.dir() + "/least_privilege.json", text);
  std::string out = ShellOutput(DaemonPath() + " check -c " + config + " 2>&1; echo \"exit=$?\"");
  ASSERT_NE(out.find("exit=0"), std::string::npos) << out;

  Daemon daemon("run", config, log_);
  Drain();
  EXPECT_EQ(ExpectCoursesEqual(), 200);
  // Each way: an update, a delete (a tombstone, written by the trigger's
  // owner), and an insert.
  a.Exec(
      "UPDATE courses SET title = 'from learnhub' WHERE id = 1; DELETE FROM courses WHERE id = 2; "
      "INSERT INTO courses VALUES (500, 3, 'new on learnhub', 7, NULL)");
  b.Exec(
      "UPDATE catalog SET title = 'from skillpath' WHERE course_id = 3; DELETE FROM catalog WHERE course_id = 4; "
      "INSERT INTO catalog (course_id, owner, title, capacity) VALUES (600, md5('sp5')::uuid, 'new on skillpath', "
      "8)");
  Drain();
  EXPECT_EQ(ExpectCoursesEqual(), 200);
  EXPECT_EQ(*a.Scalar("SELECT title FROM courses WHERE id = 3"), "from skillpath");
  EXPECT_EQ(*a.Scalar("SELECT seats::text FROM courses WHERE id = 600"), "4");
  EXPECT_EQ(*b.Scalar("SELECT title FROM catalog WHERE course_id = 1"), "from learnhub");
  // Both deletes left a tombstone on each side (the applied one too).
  EXPECT_EQ(*a.Scalar("SELECT string_agg(key->>'id', ',' ORDER BY key->>'id') FROM crosswalk_sync.tombstones"), "2,4");
  EXPECT_EQ(*b.Scalar("SELECT string_agg(key->>'course_id', ',' ORDER BY key->>'course_id') FROM "
                      "crosswalk_sync.tombstones"),
            "2,4");
  EXPECT_EQ(Count(a, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  EXPECT_EQ(Count(b, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  EXPECT_TRUE(LogEvents(log_, 0, "no_replication_origin").empty()) << ReadFile(log_);
}

// Random concurrent writes on both sides at a steady rate while the daemon
// streams, for CROSSWALK_SOAK_SECONDS (make soak: 600), on a small key
// space so that conflicts happen; then both sides must be equal, nothing
// echoed, and the conflicts recorded.
TEST_F(TwoWayTest, SoakOfRandomConcurrentWrites) {
  const char* env = std::getenv("CROSSWALK_SOAK_SECONDS");
  const int seconds = env ? std::atoi(env) : 45;
  auto daemon = std::make_unique<Daemon>("run", config_, log_);
  Drain();
  auto a = a_.Connect("learnhub");
  auto b = b_.Connect("skillpath");
  long long fwd0 = Transactions(b, "crosswalk_skillpath");
  long long rev0 = Transactions(a, "crosswalk_skillpath_rev");

  std::atomic<bool> go{true};
  std::atomic<long long> tx_a{0}, tx_b{0}, attempts{0};
  auto writer = [&](bool on_a, unsigned seed, std::atomic<long long>& done) {
    auto c = on_a ? a_.Connect("learnhub") : b_.Connect("skillpath");
    std::mt19937 rng(seed);
    const auto period = 20ms;  // 50 transactions a second on each side
    auto next = std::chrono::steady_clock::now();
    while (go) {
      int id = 1 + static_cast<int>(rng() % 60);  // a hot key space: conflicts
      int op = static_cast<int>(rng() % 10);
      int user = 1 + static_cast<int>(rng() % 20);
      std::string sql;
      std::string n = std::to_string(rng() % 1000);
      if (on_a) {
        if (op < 3)
          sql = "INSERT INTO courses VALUES (" + std::to_string(id) + ", " + std::to_string(user) + ", 'a" + n + "', " +
                n + ", NULL) ON CONFLICT DO NOTHING";
        else if (op < 8)
          sql = "UPDATE courses SET seats = " + n + ", note = 'a" + n + "' WHERE id = " + std::to_string(id);
        else
          sql = "DELETE FROM courses WHERE id = " + std::to_string(id);
      } else {
        if (op < 3)
          sql = "INSERT INTO catalog (course_id, owner, title, capacity) VALUES (" + std::to_string(id) +
                ", md5('sp' || " + std::to_string(user) + ")::uuid, 'b" + n + "', " +
                std::to_string(2 * (rng() % 500)) + ") ON CONFLICT DO NOTHING";
        else if (op < 8)
          sql = "UPDATE catalog SET capacity = " + std::to_string(2 * (rng() % 500)) + ", title = 'b" + n +
                "' WHERE course_id = " + std::to_string(id);
        else
          sql = "DELETE FROM catalog WHERE course_id = " + std::to_string(id);
      }
      pq::Result r = c.Exec(sql);
      ++attempts;
      if (r.command_tuples() != "0") ++done;  // a transaction that changed a row streams
      next += period;
      std::this_thread::sleep_until(next);
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  std::thread wa(writer, true, 7u, std::ref(tx_a));
  std::thread wb(writer, false, 11u, std::ref(tx_b));
  // Midway, the daemon stops for 3 s while both sides keep writing: the
  // ~150 writes each side makes meanwhile on 60 keys are sure to collide,
  // whatever the streaming latency (which alone decides how many do while
  // it runs), and the restart resumes both directions.
  std::this_thread::sleep_for(std::chrono::seconds(seconds / 2));
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);
  std::this_thread::sleep_for(3s);
  daemon = std::make_unique<Daemon>("run", config_, log_);
  std::this_thread::sleep_for(std::chrono::seconds(seconds - seconds / 2));
  go = false;
  wa.join();
  wb.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto d0 = std::chrono::steady_clock::now();
  Drain();
  double drain = std::chrono::duration<double>(std::chrono::steady_clock::now() - d0).count();
  EXPECT_EQ(daemon->Stop(SIGTERM), 0);

  long long rows = ExpectCoursesEqual();
  EXPECT_EQ(Transactions(b, "crosswalk_skillpath") - fwd0, tx_a.load());
  EXPECT_EQ(Transactions(a, "crosswalk_skillpath_rev") - rev0, tx_b.load());
  long long conflicts_a = Count(a, "SELECT count(*) FROM crosswalk_sync.conflicts");
  long long conflicts_b = Count(b, "SELECT count(*) FROM crosswalk_sync.conflicts");
  EXPECT_GT(conflicts_a + conflicts_b, 0);
  EXPECT_EQ(Count(a, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  EXPECT_EQ(Count(b, "SELECT count(*) FROM crosswalk_sync.dead_letter"), 0);
  // Every recorded conflict names a kind, a policy and a winner.
  EXPECT_EQ(Count(b,
                  "SELECT count(*) FROM crosswalk_sync.conflicts WHERE kind NOT IN ('insert/insert', "
                  "'update/update', 'update/delete', 'delete/delete', 'insert/delete') OR winner NOT IN "
                  "('incoming', 'local') OR policy <> 'last_writer_wins'"),
            0);
  std::printf(
      "soak: %.0f s, %lld + %lld row-changing transactions (%lld statements, %.1f/s), %lld rows at the end, "
      "%lld + %lld conflicts (learnhub + skillpath: %s | %s), drained in %.1f s\n",
      elapsed, tx_a.load(), tx_b.load(), attempts.load(), attempts.load() / elapsed, rows, conflicts_a, conflicts_b,
      a.Scalar("SELECT string_agg(kind || '=' || n, ' ') FROM (SELECT kind, count(*) n FROM crosswalk_sync.conflicts "
               "GROUP BY 1 ORDER BY 1) x")
          .value_or("-")
          .c_str(),
      b.Scalar("SELECT string_agg(kind || '=' || n, ' ') FROM (SELECT kind, count(*) n FROM crosswalk_sync.conflicts "
               "GROUP BY 1 ORDER BY 1) x")
          .value_or("-")
          .c_str(),
      drain);
}

// A star: one daemon, hub a with two-way peers b and c. A change made on b
// reaches a (reverse stream) and c (forwarded by a's stream to c, under b's
// origin), and neither returns to a from c nor to b: each stream applies
// exactly the transactions that began elsewhere and were not yet there.
TEST(StarTest, ChangesOfEachSpokeReachTheOtherOnceThroughTheHub) {
  Cluster n[3] = {Cluster(kConf), Cluster(kConf), Cluster(kConf)};
  std::vector<pq::Connection> c;
  for (int i = 0; i < 3; ++i) {
    n[i].Connect().Exec("CREATE DATABASE star");
    c.push_back(n[i].Connect("star"));
    c.back().Exec("CREATE TABLE items (id int PRIMARY KEY, v text); ALTER TABLE items REPLICA IDENTITY FULL");
  }
  std::string table = R"J("tables": [ { "source": "items", "target": "items", "key": ["id"],
                                        "columns": { "id": "id", "v": "v" }, "two_way": {} } ])J";
  std::string cfg = WriteFile(n[0].dir() + "/star.json", R"J({
    "source": { "dsn": ")J" + n[0].Dsn("star") + R"J(", "platform": "a", "publication": "star",
                "create_publication": true },
    "apply": { "status_interval_seconds": 1 },
    "peers": [ { "name": "b", "dsn": ")J" + n[1].Dsn("star") +
                                                             R"J(", "platform": "b", )J" + table + R"J( },
               { "name": "c", "dsn": ")J" + n[2].Dsn("star") +
                                                             R"J(", "platform": "c", )J" + table + R"J( } ] })J");
  Daemon daemon("run", cfg, n[0].dir() + "/star.log");
  std::vector<SlotOn> slots = {
      {&c[0], "crosswalk_b"}, {&c[0], "crosswalk_c"}, {&c[1], "crosswalk_b_rev"}, {&c[2], "crosswalk_c_rev"}};
  AssertAllDrained(slots);
  // Node i makes 5 + i transactions of its own, on its own rows.
  int made[3] = {5, 6, 7};
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < made[i]; ++k) {
      c[i].Exec("INSERT INTO items VALUES (" + std::to_string(100 * (i + 1) + k) + ", 'made on " +
                std::string(1, static_cast<char>('a' + i)) + "')");
    }
  }
  AssertAllDrained(slots);
  c[1].Exec("UPDATE items SET v = 'b changed a''s row' WHERE id = 100");
  c[2].Exec("DELETE FROM items WHERE id = 200");
  AssertAllDrained(slots);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);

  const std::string all = "SELECT format('%s|%s', id, v) FROM items";
  EXPECT_EQ(ExpectSameRows(c[0], c[1], all, all), 5 + 6 + 7 - 1);
  ExpectSameRows(c[0], c[2], all, all);
  EXPECT_EQ(*c[2].Scalar("SELECT v FROM items WHERE id = 100"), "b changed a's row");
  // Into b: a's 5 and c's 7 + 1; into c: a's 5 and b's 6 + 1; back into a:
  // only b's own 6 + 1 and c's own 7 + 1.
  EXPECT_EQ(Transactions(c[1], "crosswalk_b"), 1 + 5 + 8);  // 1: the migration's commit
  EXPECT_EQ(Transactions(c[2], "crosswalk_c"), 1 + 5 + 7);
  EXPECT_EQ(Transactions(c[0], "crosswalk_b_rev"), 1 + 7);
  EXPECT_EQ(Transactions(c[0], "crosswalk_c_rev"), 1 + 8);
  for (auto& conn : c) {
    EXPECT_EQ(*conn.Scalar("SELECT count(*) FROM crosswalk_sync.conflicts"), "0");
    EXPECT_EQ(*conn.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  }
}

// Three one-way daemons in a ring a -> b -> c -> a: a change made on any
// node reaches the other two exactly once and stops where it began.
TEST(RingTest, EveryChangeReachesEveryNodeExactlyOnce) {
  Cluster n[3] = {Cluster(kConf), Cluster(kConf), Cluster(kConf)};
  const char* names[3] = {"a", "b", "c"};
  std::vector<pq::Connection> c;
  for (int i = 0; i < 3; ++i) {
    n[i].Connect().Exec("CREATE DATABASE ring");
    c.push_back(n[i].Connect("ring"));
    c.back().Exec("CREATE TABLE items (id int PRIMARY KEY, v text, made_on text)");
  }
  std::vector<std::unique_ptr<Daemon>> daemons;
  for (int i = 0; i < 3; ++i) {
    int j = (i + 1) % 3;
    std::string cfg = WriteFile(n[i].dir() + "/ring.json", R"J({
      "source": { "dsn": ")J" + n[i].Dsn("ring") + R"J(", "platform": ")J" +
                                                               names[i] + R"J(",
                  "publication": "ring", "create_publication": true },
      "apply": { "status_interval_seconds": 1 },
      "peers": [ { "name": "to_)J" + names[j] + R"J(", "dsn": ")J" +
                                                               n[j].Dsn("ring") + R"J(",
                   "platform": ")J" + names[j] + R"J(",
        "tables": [ { "source": "items", "target": "items", "key": ["id"],
                      "columns": { "id": "id", "v": "v", "made_on": "made_on" } } ] } ] })J");
    daemons.push_back(std::make_unique<Daemon>("run", cfg, n[i].dir() + "/ring.log"));
  }
  std::vector<SlotOn> slots;
  for (int i = 0; i < 3; ++i) slots.push_back({&c[i], std::string("crosswalk_to_") + names[(i + 1) % 3]});
  AssertAllDrained(slots);
  // Counted in rows: a one-way stream groups source transactions, so what
  // it forwards comes as fewer, larger transactions.
  long long before[3];
  for (int i = 0; i < 3; ++i) before[i] = Transactions(c[(i + 1) % 3], slots[i].slot, "rows_applied");

  // Node i inserts 10 + i rows, then changes 4 more, 2 of them made elsewhere.
  int made[3] = {0, 0, 0};
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 3; ++i) {
      if (round >= 10 + i) continue;
      std::string id = std::to_string(100 * (i + 1) + round);
      c[i].Exec("INSERT INTO items VALUES (" + id + ", 'v" + id + "', '" + names[i] + "')");
      ++made[i];
    }
  }
  AssertAllDrained(slots);
  for (int i = 0; i < 3; ++i) {
    std::string other = std::to_string(100 * ((i + 1) % 3 + 1) + 3);
    c[i].Exec("UPDATE items SET v = v || ' changed on " + std::string(names[i]) + "' WHERE id = " + other);
    c[i].Exec("DELETE FROM items WHERE id = " + std::to_string(100 * ((i + 2) % 3 + 1) + 4));
    c[i].Exec("BEGIN; INSERT INTO items VALUES (" + std::to_string(900 + i) + ", 'x', '" + names[i] +
              "'); UPDATE items SET v = v || '!' WHERE id = " + std::to_string(100 * (i + 1)) + "; COMMIT");
    made[i] += 4;
  }
  AssertAllDrained(slots);
  for (auto& d : daemons) EXPECT_EQ(d->Stop(SIGTERM), 0);

  const std::string all = "SELECT format('%s|%s|%s', id, v, made_on) FROM items";
  EXPECT_EQ(ExpectSameRows(c[0], c[1], all, all), 10 + 11 + 12 + 3 - 3);
  ExpectSameRows(c[0], c[2], all, all);
  EXPECT_EQ(*c[0].Scalar("SELECT v FROM items WHERE id = 203"), "v203 changed on a");
  EXPECT_EQ(*c[0].Scalar("SELECT count(*) FROM items WHERE id IN (104, 204, 304)"), "0");
  // Row 900, a's last transaction, reached c through b with a's origin and
  // a's commit time: b's commit record carried both (xact_setup), and the
  // Begin of a forwarded transaction carries the origin's time.
  std::string at_a = *c[0].Scalar("SELECT pg_xact_commit_timestamp(xmin)::text FROM items WHERE id = 900");
  EXPECT_EQ(*c[2].Scalar("SELECT format('%s %s', c.timestamp, o.roname) FROM items t, "
                         "pg_xact_commit_timestamp_origin(t.xmin) c JOIN pg_replication_origin o "
                         "ON o.roident = c.roident WHERE t.id = 900"),
            at_a + " crosswalk_a");
  for (int i = 0; i < 3; ++i) {
    // The stream into node j applies the rows the two others changed, once:
    // j's own changes come back around and are skipped.
    int j = (i + 1) % 3;
    EXPECT_EQ(Transactions(c[j], slots[i].slot, "rows_applied") - before[i], made[i] + made[(i + 2) % 3])
        << slots[i].slot;
    EXPECT_EQ(*c[j].Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
  }
}

}  // namespace
}  // namespace crosswalk::test
