// crosswalk-sync runs as the roles docs/operations.md ("What it needs")
// describes and with nothing more: no superuser on the source, the identity
// hub or the peer. Every path a one-way peer takes is exercised under them:
// the migration, inline and staged updates (a temporary table), a direct
// COPY of inserts, deletes, TRUNCATE, a dead letter, replication origins,
// and the `check`, `status` and `retry` commands.
#include <gtest/gtest.h>
#include <signal.h>

#include "cluster.hpp"
#include "daemon.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncLeastPrivilege, RunsAsTheDocumentedRoles) {
  Cluster source, peer;
  source.CreateDatabaseWithExtension("learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(R"SQL(
    SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath');
    SELECT count(crosswalk.link('skillpath', 'sp-' || u, crosswalk.link('learnhub', u::text)))
      FROM generate_series(1, 50) u;
    CREATE TABLE enrollments (id int PRIMARY KEY, user_id int, course text);
    INSERT INTO enrollments SELECT g, 1 + g % 50, 'c' || g FROM generate_series(1, 300) g;
    -- docs/operations.md, source and identity hub:
    CREATE ROLE crosswalk_sync LOGIN REPLICATION;
    GRANT USAGE ON SCHEMA public TO crosswalk_sync;
    GRANT SELECT ON public.enrollments TO crosswalk_sync;
    GRANT crosswalk_reader TO crosswalk_sync;
    CREATE PUBLICATION crosswalk FOR TABLE public.enrollments;
  )SQL");
  auto p = peer.Connect("skillpath");
  p.Exec(R"SQL(
    CREATE TABLE course_progress (id int PRIMARY KEY, user_id text, course text CHECK (course <> 'rejected'));
    -- docs/operations.md, each peer:
    CREATE ROLE crosswalk_sync LOGIN;
    CREATE SCHEMA crosswalk_sync AUTHORIZATION crosswalk_sync;
    GRANT TEMP ON DATABASE skillpath TO crosswalk_sync;
    GRANT USAGE ON SCHEMA public TO crosswalk_sync;
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.course_progress TO crosswalk_sync;
    GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text),
      pg_replication_origin_session_setup(text), pg_replication_origin_session_reset(),
      pg_replication_origin_session_is_setup(), pg_replication_origin_xact_setup(pg_lsn, timestamptz)
      TO crosswalk_sync;
    GRANT SELECT ON pg_replication_origin TO crosswalk_sync;
  )SQL");
  // The last user= of a connection string wins.
  const std::string as_role = " user=crosswalk_sync";
  ASSERT_EQ(*pq::Connection(source.Dsn("learnhub") + as_role)
                 .Scalar("SELECT rolsuper::text FROM pg_roles WHERE "
                         "rolname = current_user"),
            "false");
  ASSERT_EQ(*pq::Connection(peer.Dsn("skillpath") + as_role)
                 .Scalar("SELECT rolsuper::text FROM pg_roles WHERE "
                         "rolname = current_user"),
            "false");
  std::string config = WriteFile(peer.dir() + "/sync.json", R"({
    "source": { "dsn": ")" + source.Dsn("learnhub") + as_role + R"(", "platform": "learnhub",
                "publication": "crosswalk" },
    "peers": [ { "name": "skillpath", "dsn": ")" + peer.Dsn("skillpath") +
                                                                as_role +
                                                                R"(", "platform": "skillpath",
      "tables": [ { "source": "enrollments", "target": "course_progress", "key": ["id"],
                    "columns": { "id": "id", "user_id": { "identity": "user_id" }, "course": "course" } } ] } ] })");
  std::string out = ShellOutput(DaemonPath() + " check -c " + config + " 2>&1; echo \"exit=$?\"");
  ASSERT_NE(out.find("exit=0"), std::string::npos) << out;

  std::string log = peer.dir() + "/daemon.log";
  auto same = [&] {
    return ExpectSameRows(src, p,
                          "SELECT format('%s|%s|%s', id, crosswalk.translate(user_id::text, 'learnhub', 'skillpath'), "
                          "course) FROM enrollments WHERE course <> 'rejected'",
                          "SELECT format('%s|%s|%s', id, user_id, course) FROM course_progress");
  };
  {
    Daemon daemon("run", config, log);
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(same(), 300);

    src.Exec("UPDATE enrollments SET course = course || '+' WHERE id <= 10");  // inline
    src.Exec("UPDATE enrollments SET course = course || '*' WHERE id > 100");  // staged in a temporary table
    src.Exec("INSERT INTO enrollments SELECT g, 1 + g % 50, 'n' || g FROM generate_series(301, 500) g");  // COPY
    src.Exec("DELETE FROM enrollments WHERE id BETWEEN 20 AND 29");
    src.Exec("INSERT INTO enrollments VALUES (501, 1, 'rejected')");  // the peer's CHECK: a dead letter
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(same(), 490);
    EXPECT_EQ(*p.Scalar("SELECT sqlstate FROM crosswalk_sync.dead_letter"), "23514");
    EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  }
  // The writes carried the source's replication origin: the granted
  // functions were enough.
  EXPECT_TRUE(LogEvents(log, 0, "no_replication_origin").empty()) << ReadFile(log);
  EXPECT_EQ(*p.Scalar("SELECT count(*) FROM pg_replication_origin WHERE roname = 'crosswalk_learnhub'"), "1");

  out = ShellOutput(DaemonPath() + " status -c " + config + " 2>&1; echo \"exit=$?\"");
  EXPECT_NE(out.find("peer=skillpath slot=crosswalk_skillpath slot_state=inactive"), std::string::npos) << out;
  EXPECT_NE(out.find("dead_letters=1 held=0"), std::string::npos) << out;
  EXPECT_NE(out.find("exit=0"), std::string::npos) << out;
  p.Exec("ALTER TABLE course_progress DROP CONSTRAINT course_progress_course_check");
  out = ShellOutput(DaemonPath() + " retry -c " + config + " 2>&1; echo \"exit=$?\"");
  EXPECT_NE(out.find("peer=skillpath retried=1 applied=1 left=0"), std::string::npos) << out;
  EXPECT_EQ(*p.Scalar("SELECT course FROM course_progress WHERE id = 501"), "rejected");

  // TRUNCATE empties the target and drops the table's dead letters: they
  // are changes the source has wiped out, which `retry` would bring back.
  p.Exec("ALTER TABLE course_progress ADD CONSTRAINT no_bad CHECK (course <> 'bad')");
  {
    std::size_t from = ReadFile(log).size();
    Daemon daemon("run", config, log);
    src.Exec("INSERT INTO enrollments VALUES (502, 1, 'bad')");
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(*p.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "1");
    src.Exec("TRUNCATE enrollments");
    src.Exec("INSERT INTO enrollments VALUES (1, 2, 'after truncate')");
    ASSERT_TRUE(WaitPeersDrained(src, {{&p, "crosswalk_skillpath"}}, 60s)) << ReadFile(log);
    EXPECT_EQ(same(), 1);
    EXPECT_EQ(*p.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
    auto events = LogEvents(log, from, "dead_letters_truncated");
    ASSERT_EQ(events.size(), 1u) << ReadFile(log);
    EXPECT_EQ(events[0]["dead_letters"], 1);
    EXPECT_EQ(events[0]["table"], "public.enrollments");
    EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  }
}

}  // namespace
}  // namespace crosswalk::test
