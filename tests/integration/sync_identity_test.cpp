// crosswalk-sync's identity translation against real clusters: learners
// unknown to a peer platform are provisioned (and linked), skipped into dead
// letters (and retried once linked), or held (and released, in order, once
// linked); a row the peer rejects is dead-lettered while streaming goes on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

const std::string kDaemon = std::string(CROSSWALK_BINARY_DIR) + "/crosswalk-sync";

pid_t StartDaemon(const std::string& config, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    execl(kDaemon.c_str(), kDaemon.c_str(), "run", "-c", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int StopDaemon(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `query` on `conn` until it returns `want` (or fails after 60 s).
void WaitFor(pq::Connection& conn, const std::string& query, const std::string& want) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string got;
  while (std::chrono::steady_clock::now() < deadline) {
    got = conn.Scalar(query).value_or("NULL");
    if (got == want) return;
    std::this_thread::sleep_for(100ms);
  }
  FAIL() << query << " returned " << got << ", waited for " << want;
}

class SyncIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.CreateDatabaseWithExtension("learnhub");
    for (const char* db : {"sp_provision", "sp_skip", "sp_hold"}) {
      peers_.Connect().Exec(std::string("CREATE DATABASE ") + db);
      peers_.Connect(db).Exec(R"SQL(
        CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), source_row jsonb NOT NULL);
        CREATE TABLE course_progress (user_id uuid, course_id int, progress numeric CHECK (progress <= 1.0),
                                      PRIMARY KEY (user_id, course_id));
      )SQL");
    }
    auto src = source_.Connect("learnhub");
    src.Exec(R"SQL(
      SELECT crosswalk.register_platform(p) FROM unnest(ARRAY['learnhub', 'sp_provision', 'sp_skip', 'sp_hold']) p;
      -- learners 1..5 have an account on every peer platform; 6 and 7 on none
      SELECT crosswalk.link(p, md5(p || u)::uuid::text, crosswalk.link('learnhub', u::text))
        FROM generate_series(1, 5) u, unnest(ARRAY['sp_provision', 'sp_skip', 'sp_hold']) p;
      CREATE TABLE enrollments (user_id int, course_id int, score int, PRIMARY KEY (user_id, course_id));
      INSERT INTO enrollments SELECT u, c, 10 * u + c FROM generate_series(1, 7) u, generate_series(1, 3) c;
    )SQL");
    config_ = WriteConfig("identity.json", R"J([{ "source": "enrollments", "target": "course_progress",
        "key": ["user_id", "course_id"],
        "columns": { "user_id": { "identity": "user_id" }, "course_id": "course_id", "progress": "score / 100.0" } }])J");
    log_ = peers_.dir() + "/daemon.log";
  }

  // A config streaming the source's `tables` to the three peers, one per
  // on_unmapped_identity mode; returns its path.
  std::string WriteConfig(const std::string& file, const std::string& tables) {
    auto peer = [&](const std::string& name, const std::string& mode) {
      return R"J({ "name": ")J" + name + R"J(", "dsn": ")J" + peers_.Dsn(name) + R"J(", "platform": ")J" + name +
             R"J(", "on_unmapped_identity": ")J" + mode +
             R"J(", "provision_sql": "INSERT INTO public.users (source_row) VALUES ($1::jsonb) RETURNING id::text",
             "tables": )J" +
             tables + "}";
    };
    std::string path = peers_.dir() + "/" + file;
    std::ofstream(path) << R"J({ "source": { "dsn": ")J" + source_.Dsn("learnhub") +
                               R"J(", "platform": "learnhub", "publication": "pub", "create_publication": true },
        "peers": [)J" + peer("sp_provision", "provision") +
                               ", " + peer("sp_skip", "skip") + ", " + peer("sp_hold", "hold") + "] }";
    return path;
  }

  // The mapped rows of the source for one peer platform, as sorted text
  // (`value` is the third column's mapping).
  std::string Expected(const std::string& platform, const std::string& filter,
                       const std::string& value = "score / 100.0") {
    auto src = source_.Connect("learnhub");
    return src
        .Scalar(
            "SELECT string_agg(line, ',' ORDER BY line) FROM (SELECT format('%s|%s|%s', "
            "crosswalk.translate(user_id::text, 'learnhub', $1), course_id, " +
                value + ") AS line FROM enrollments WHERE " + filter + ") x",
            {platform})
        .value_or("");
  }
  std::string Actual(const std::string& db, const std::string& table = "course_progress",
                     const std::string& column = "progress") {
    auto c = peers_.Connect(db);
    return c
        .Scalar("SELECT string_agg(line, ',' ORDER BY line) FROM (SELECT format('%s|%s|%s', user_id, course_id, " +
                column + ") AS line FROM " + table + ") x")
        .value_or("");
  }

  Cluster source_;
  Cluster peers_;
  std::string config_;
  std::string log_;
};

TEST_F(SyncIdentityTest, ProvisionSkipHoldAndDeadLetters) {
  pid_t daemon = StartDaemon(config_, log_);
  auto prov = peers_.Connect("sp_provision");
  auto skip = peers_.Connect("sp_skip");
  auto hold = peers_.Connect("sp_hold");
  auto src = source_.Connect("learnhub");

  // provision: learners 6 and 7 get an account on the peer, linked, and
  // every row arrives.
  WaitFor(prov, "SELECT count(*) FROM course_progress", "21");
  EXPECT_EQ(*prov.Scalar("SELECT count(*) FROM users"), "2");
  EXPECT_EQ(*prov.Scalar("SELECT string_agg(source_row->>'user_id', ',' ORDER BY source_row->>'user_id') FROM users"),
            "6,7");
  std::string six = *src.Scalar("SELECT crosswalk.translate('6', 'learnhub', 'sp_provision')");
  EXPECT_EQ(*prov.Scalar("SELECT id::text FROM users WHERE source_row->>'user_id' = '6'"), six);
  EXPECT_EQ(*prov.Scalar("SELECT count(*) FROM course_progress WHERE user_id = $1::uuid", {six}), "3");

  // skip: their rows are dead letters naming the learner; the others arrive.
  WaitFor(skip, "SELECT count(*) FROM course_progress", "15");
  WaitFor(skip, "SELECT count(*) FROM crosswalk_sync.dead_letter", "6");
  EXPECT_EQ(*skip.Scalar("SELECT string_agg(DISTINCT sqlstate || ' ' || error, '; ') FROM crosswalk_sync.dead_letter "
                         "WHERE \"row\"->>'user_id' = '6'"),
            "23503 learnhub user 6 has no account on sp_skip");

  // hold: parked, not dead; a later change of a held row queues behind it.
  WaitFor(hold, "SELECT count(*) FROM course_progress", "15");
  WaitFor(hold, "SELECT count(*) FROM crosswalk_sync.held", "6");
  src.Exec("UPDATE enrollments SET score = 99 WHERE user_id = 6 AND course_id = 1");
  WaitFor(hold, "SELECT count(*) FROM crosswalk_sync.held", "7");
  EXPECT_EQ(*hold.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");

  // A row the peer rejects (progress > 1.0 breaks its CHECK) is a dead letter
  // on every peer, and the rows after it still arrive.
  src.Exec("INSERT INTO enrollments VALUES (1, 50, 150), (2, 50, 20)");
  WaitFor(prov, "SELECT count(*) FROM crosswalk_sync.dead_letter", "1");
  EXPECT_EQ(
      *prov.Scalar("SELECT sqlstate || ' ' || (error LIKE '%course_progress_progress_check%')::text || ' ' || "
                   "operation || ' ' || source_table || ' ' || (\"row\"->>'score') FROM crosswalk_sync.dead_letter"),
      "23514 true insert public.enrollments 150");
  WaitFor(prov, "SELECT count(*) FROM course_progress WHERE course_id = 50", "1");

  // Linking learner 6 on sp_hold releases its rows, in order (the update
  // after the insert), while learner 7 stays held.
  src.Exec("SELECT crosswalk.link('sp_hold', md5('sp_hold6')::uuid::text, crosswalk.resolve('learnhub', '6'))");
  WaitFor(hold, "SELECT count(*) FROM crosswalk_sync.held", "3");
  WaitFor(hold, "SELECT count(*) FROM course_progress", "19");  // 15 + 3 of learner 6 + (2, 50)
  EXPECT_EQ(Expected("sp_hold", "user_id <> 7 AND score <= 100"), Actual("sp_hold"));
  EXPECT_EQ(
      *hold.Scalar("SELECT (progress = 0.99)::text FROM course_progress WHERE course_id = 1 AND user_id = $1::uuid",
                   {*src.Scalar("SELECT crosswalk.translate('6', 'learnhub', 'sp_hold')")}),
      "true");
  EXPECT_EQ(Expected("sp_provision", "score <= 100"), Actual("sp_provision"));

  EXPECT_EQ(StopDaemon(daemon), 0);

  // retry: learner 6 is linked on sp_skip now, 7 is not, and the CHECK still
  // refuses 1.5: learner 6's 3 inserts and 1 update apply, in order; the
  // rest stay with a fresh error.
  src.Exec("SELECT crosswalk.link('sp_skip', md5('sp_skip6')::uuid::text, crosswalk.resolve('learnhub', '6'))");
  // retry exits 3 while dead letters remain, 0 once none do.
  std::string out = ShellOutput(kDaemon + " retry -c " + config_ + " 2>/dev/null; echo \"exit=$?\"");
  EXPECT_NE(out.find("exit=3"), std::string::npos) << out;
  EXPECT_NE(out.find("peer=sp_skip retried=8 applied=4 left=4"), std::string::npos) << out;
  EXPECT_NE(out.find("peer=sp_provision retried=1 applied=0 left=1"), std::string::npos) << out;
  EXPECT_EQ(*skip.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter WHERE attempts = 1"), "4");
  // The retried rows carry learner 6's original values (before the update,
  // which was also dead-lettered and retried in order).
  EXPECT_EQ(Expected("sp_skip", "user_id <> 7 AND score <= 100"), Actual("sp_skip"));
  // Once the peer accepts the value, the last one applies.
  prov.Exec("ALTER TABLE course_progress DROP CONSTRAINT course_progress_progress_check");
  out = ShellOutput(kDaemon + " retry -c " + config_ + " 2>/dev/null; echo \"exit=$?\"");
  EXPECT_NE(out.find("peer=sp_provision retried=1 applied=1 left=0"), std::string::npos) << out;
  EXPECT_EQ(Expected("sp_provision", "true"), Actual("sp_provision"));
}

// A change whose learner has no account is held while the peer transaction
// is being applied; the later changes of that row in the same source
// transaction must wait behind it, even when their learner does have an
// account: applied at once, they would be overwritten by the older held one
// when it is released. Here the later changes come from the statement after
// (an insert, then its update) and from the same run of updates (each row
// changed twice, the second change in the run's next segment).
TEST_F(SyncIdentityTest, LaterChangesInTheSameTransactionWaitBehindAHeldOne) {
  auto src = source_.Connect("learnhub");
  src.Exec(
      "CREATE TABLE notes (id int PRIMARY KEY, user_id int, body text); "
      "INSERT INTO notes SELECT g, 1 + g % 5, 'before' FROM generate_series(1, 100) g");
  for (const char* db : {"sp_provision", "sp_skip", "sp_hold"}) {
    peers_.Connect(db).Exec("CREATE TABLE notes (id int PRIMARY KEY, user_id uuid, body text)");
  }
  std::string config = WriteConfig("notes.json", R"J([{ "source": "notes", "target": "notes", "key": ["id"],
      "columns": { "id": "id", "user_id": { "identity": "user_id" }, "body": "body" } }])J");
  pid_t daemon = StartDaemon(config, log_);
  auto prov = peers_.Connect("sp_provision");
  auto hold = peers_.Connect("sp_hold");
  WaitFor(hold, "SELECT count(*) FROM notes", "100");

  src.Exec(
      "BEGIN; "
      "UPDATE notes SET user_id = 6 WHERE id <= 80; "
      "UPDATE notes SET user_id = 2, body = 'after' WHERE id <= 80; "
      "INSERT INTO notes VALUES (500, 7, 'new'); "
      "UPDATE notes SET user_id = 3, body = 'newer' WHERE id = 500; "
      "COMMIT");
  WaitFor(hold, "SELECT count(*) FROM crosswalk_sync.held", "162");  // 80 + 80 + 1 + 1
  EXPECT_EQ(*hold.Scalar("SELECT count(*) FROM notes WHERE body <> 'before'"), "0");
  EXPECT_EQ(*hold.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");

  // Once learners 6 and 7 have accounts on sp_hold (sp_provision made them
  // known to the hub), every held change applies, in order.
  WaitFor(prov, "SELECT count(*) FROM notes WHERE body = 'newer'", "1");
  src.Exec(
      "SELECT crosswalk.link('sp_hold', md5('sp_hold' || u)::uuid::text, crosswalk.resolve('learnhub', u)) "
      "FROM unnest(ARRAY['6', '7']) u");
  WaitFor(hold, "SELECT count(*) FROM crosswalk_sync.held", "0");
  ExpectSameRows(src, hold,
                 "SELECT id || '|' || crosswalk.translate(user_id::text, 'learnhub', 'sp_hold') || '|' || body "
                 "FROM notes",
                 "SELECT id || '|' || user_id || '|' || body FROM notes");
  EXPECT_EQ(StopDaemon(daemon), 0);
}

// The migration's one-COPY path (every target column a same-typed source
// column or a translated id): rows whose id does not translate are taken out
// of the COPY and go through the statement path, which provisions, skips or
// holds them like streamed rows.
TEST_F(SyncIdentityTest, OneCopyMigrationDefersUnmappedIds) {
  for (const char* db : {"sp_provision", "sp_skip", "sp_hold"}) {
    peers_.Connect(db).Exec(
        "CREATE TABLE course_scores (user_id uuid, course_id int, score int, PRIMARY KEY (user_id, course_id))");
  }
  std::string config = WriteConfig("one_copy.json", R"J([{ "source": "enrollments", "target": "course_scores",
      "key": ["user_id", "course_id"],
      "columns": { "user_id": { "identity": "user_id" }, "course_id": "course_id", "score": "score" } }])J");
  std::string out = ShellOutput(kDaemon + " snapshot -c " + config + " 2>" + log_ + "; echo \"exit=$?\"");
  EXPECT_NE(out.find("exit=0"), std::string::npos) << out << ReadFile(log_);
  std::string text = ReadFile(log_);
  for (const char* name : {"sp_provision", "sp_skip", "sp_hold"}) {
    EXPECT_NE(text.find(std::string(R"("one_copy":true,"peer":")") + name + R"(","rows":21,)"), std::string::npos)
        << name << "\n"
        << text;
  }
  auto prov = peers_.Connect("sp_provision");
  auto skip = peers_.Connect("sp_skip");
  auto hold = peers_.Connect("sp_hold");
  // provision: learners 6 and 7 got accounts, linked on the source, and all 21 rows.
  EXPECT_EQ(*prov.Scalar("SELECT count(*) FROM users"), "2");
  EXPECT_EQ(Expected("sp_provision", "true", "score"), Actual("sp_provision", "course_scores", "score"));
  EXPECT_EQ(*prov.Scalar("SELECT count(*) FROM course_scores"), "21");
  // skip: 15 rows, and learners 6 and 7's 6 rows are dead letters (23503).
  EXPECT_EQ(Expected("sp_skip", "user_id <= 5", "score"), Actual("sp_skip", "course_scores", "score"));
  EXPECT_EQ(*skip.Scalar("SELECT string_agg(sqlstate || ' ' || (\"row\"->>'user_id'), ',' ORDER BY "
                         "\"row\"->>'user_id', \"row\"->>'course_id') FROM crosswalk_sync.dead_letter"),
            "23503 6,23503 6,23503 6,23503 7,23503 7,23503 7");
  // hold: 15 rows, 6 held, no dead letters.
  EXPECT_EQ(Expected("sp_hold", "user_id <= 5", "score"), Actual("sp_hold", "course_scores", "score"));
  EXPECT_EQ(*hold.Scalar("SELECT count(*) FROM crosswalk_sync.held"), "6");
  EXPECT_EQ(*hold.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");
}

}  // namespace
}  // namespace crosswalk::test
