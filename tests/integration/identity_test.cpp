// Identity functions across real connections: concurrent links and merges,
// binary I/O of canonical_id, and pg_dump/pg_restore of a database that uses
// the extension.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"

namespace crosswalk::test {
namespace {

class IdentityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    cluster_->CreateDatabaseWithExtension("hub");
    auto c = cluster_->Connect("hub");
    c.Exec("SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath')");
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static Cluster* cluster_;
};
Cluster* IdentityTest::cluster_ = nullptr;

// Waits for an asynchronous query's result; returns the first value or the
// error's SQLSTATE prefixed with "ERROR ".
std::string AwaitResult(PGconn* conn) {
  std::string out;
  while (PGresult* r = PQgetResult(conn)) {
    pq::ResultPtr owned(r);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    } else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
      const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      out = std::string("ERROR ") + (code ? code : "?");
    }
  }
  return out;
}

// Two sessions link the same new account at the same moment: the second waits
// on the first's insert, then returns the first's person; no orphan person.
TEST_F(IdentityTest, ConcurrentLinkOfOneAccountMakesOnePerson) {
  auto a = cluster_->Connect("hub");
  auto b = cluster_->Connect("hub");
  a.Exec("BEGIN");
  std::string first = *a.Scalar("SELECT crosswalk.link('learnhub', 'race-1')::text");
  ASSERT_EQ(PQsendQuery(b.raw(), "SELECT crosswalk.link('learnhub', 'race-1')::text"), 1);
  // b is now blocked on a's uncommitted row; give it time to get there.
  for (int i = 0; i < 50; ++i) {
    auto waiting = a.Scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%race-1%'");
    if (waiting && *waiting == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  a.Exec("COMMIT");
  std::string second = AwaitResult(b.raw());
  EXPECT_EQ(first, second);
  auto c = cluster_->Connect("hub");
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM crosswalk.account WHERE local_id = 'race-1'"), "1");
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM crosswalk.person p WHERE NOT EXISTS "
                      "(SELECT FROM crosswalk.account a WHERE a.person = p.person) AND p.merged_into IS NULL"),
            "0");
}

// Many sessions linking overlapping accounts (and the same people across
// platforms) in parallel end with exactly one person per account pair.
TEST_F(IdentityTest, ParallelLinkStormKeepsOnePersonPerAccount) {
  constexpr int kThreads = 6;
  constexpr int kAccounts = 200;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = cluster_->Connect("hub");
      for (int i = 0; i < kAccounts; ++i) {
        int n = (i * 7 + t * 13) % kAccounts;  // each thread in its own order
        try {
          c.ExecParams("SELECT crosswalk.link('skillpath', 'sp-' || $1, crosswalk.link('learnhub', 'lh-' || $1))",
                       {std::to_string(n)});
        } catch (const std::exception& e) {
          // A concurrent link of the same skillpath account to the other
          // platform's fresh person is a legitimate conflict only if the
          // learnhub account resolved differently; count and check below.
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  auto c = cluster_->Connect("hub");
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM crosswalk.account WHERE local_id LIKE 'lh-%'"), std::to_string(kAccounts));
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM crosswalk.account WHERE local_id LIKE 'sp-%'"), std::to_string(kAccounts));
  // Every pair shares one person.
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM generate_series(0, 199) n "
                      "WHERE crosswalk.translate('lh-' || n, 'learnhub', 'skillpath') IS DISTINCT FROM 'sp-' || n"),
            "0");
  // And no person was left behind by a lost race.
  EXPECT_EQ(*c.Scalar("SELECT count(*) FROM crosswalk.person p WHERE NOT EXISTS "
                      "(SELECT FROM crosswalk.account a WHERE a.person = p.person) AND p.merged_into IS NULL"),
            "0");
}

// Opposite merges of the same two persons at once neither deadlock nor fork:
// both return the same survivor.
TEST_F(IdentityTest, OppositeConcurrentMergesAgree) {
  auto setup = cluster_->Connect("hub");
  for (int round = 0; round < 20; ++round) {
    std::string x = *setup.Scalar("SELECT crosswalk.link('learnhub', 'm-x-" + std::to_string(round) + "')::text");
    std::string y = *setup.Scalar("SELECT crosswalk.link('skillpath', 'm-y-" + std::to_string(round) + "')::text");
    std::string r1, r2;
    std::thread t1([&] {
      auto c = cluster_->Connect("hub");
      r1 = *c.ExecParams("SELECT crosswalk.merge($1, $2)::text", {x, y}).get(0, 0);
    });
    std::thread t2([&] {
      auto c = cluster_->Connect("hub");
      r2 = *c.ExecParams("SELECT crosswalk.merge($1, $2)::text", {y, x}).get(0, 0);
    });
    t1.join();
    t2.join();
    EXPECT_EQ(r1, r2) << "round " << round;
    EXPECT_TRUE(r1 == x || r1 == y);
    auto same = setup.ExecParams(
        "SELECT crosswalk.resolve('learnhub', $1) = crosswalk.resolve('skillpath', $2)",
        {"m-x-" + std::to_string(round), "m-y-" + std::to_string(round)});
    EXPECT_EQ(same.value(0, 0), "t");
  }
}

// canonical_id's binary send/receive: 16 raw bytes each way; anything else is
// a clear error.
TEST_F(IdentityTest, BinaryInputAndOutput) {
  auto c = cluster_->Connect("hub");
  const unsigned char raw[16] = {0x01, 0x90, 0xa8, 0xc4, 0x5e, 0x3b, 0x7c, 0xde,
                                 0x8f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd};
  const char* values[1] = {reinterpret_cast<const char*>(raw)};
  int lengths[1] = {16};
  int formats[1] = {1};
  pq::ResultPtr r(PQexecParams(c.raw(), "SELECT $1::crosswalk.canonical_id::text", 1, nullptr, values, lengths,
                               formats, 0));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(r.get());
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "0190a8c4-5e3b-7cde-8f01-23456789abcd");

  pq::ResultPtr bin(PQexecParams(c.raw(), "SELECT '0190a8c4-5e3b-7cde-8f01-23456789abcd'::crosswalk.canonical_id", 0,
                                 nullptr, nullptr, nullptr, nullptr, 1));
  ASSERT_EQ(PQresultStatus(bin.get()), PGRES_TUPLES_OK);
  ASSERT_EQ(PQgetlength(bin.get(), 0, 0), 16);
  EXPECT_EQ(std::memcmp(PQgetvalue(bin.get(), 0, 0), raw, 16), 0);

  for (int bad_len : {0, 15, 17}) {
    unsigned char buf[17] = {0};
    const char* v[1] = {reinterpret_cast<const char*>(buf)};
    int l[1] = {bad_len};
    pq::ResultPtr e(PQexecParams(c.raw(), "SELECT $1::crosswalk.canonical_id", 1, nullptr, v, l, formats, 0));
    EXPECT_EQ(PQresultStatus(e.get()), PGRES_FATAL_ERROR) << bad_len;
    EXPECT_STREQ(PQresultErrorField(e.get(), PG_DIAG_SQLSTATE), "22P03") << bad_len;
  }
}

// A database using the type and the identity tables survives pg_dump -Fc and
// pg_restore into a new database: same rows, working functions, and new
// platforms do not collide with restored ids.
TEST_F(IdentityTest, DumpAndRestoreRoundTrip) {
  cluster_->CreateDatabaseWithExtension("dumped");
  {
    auto c = cluster_->Connect("dumped");
    c.Exec(
        "SELECT crosswalk.register_platform('learnhub', 'https://lh.example', 'lh'), "
        "       crosswalk.register_platform('skillpath');"
        "SELECT crosswalk.link('skillpath', 'sp-' || i, crosswalk.link('learnhub', i::text)) "
        "  FROM generate_series(1, 300) i;"
        "SELECT crosswalk.merge(crosswalk.link('learnhub', 'dup'), crosswalk.link('skillpath', 'dup-sp'));"
        "CREATE TABLE public.enrollments (person crosswalk.canonical_id PRIMARY KEY, course text);"
        "INSERT INTO public.enrollments SELECT person, 'c-' || local_id FROM crosswalk.account "
        "  WHERE platform_id = 1;");
  }
  std::string dump = cluster_->dir() + "/dumped.pgdump";
  ASSERT_EQ(cluster_->RunTool("pg_dump", "-Fc -f '" + dump + "' dumped"), 0);
  cluster_->Connect().Exec("CREATE DATABASE restored");
  ASSERT_EQ(cluster_->RunTool("pg_restore", "--exit-on-error -d restored '" + dump + "'"), 0);

  const std::string fingerprint =
      "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
      "  SELECT format('a %s %s %s %s', platform_id, local_id, person, method) AS x FROM crosswalk.account"
      "  UNION ALL SELECT format('p %s %s', person, merged_into) FROM crosswalk.person"
      "  UNION ALL SELECT format('f %s %s %s %s %s', platform_id, name, issuer, audience, jwks) FROM crosswalk.platform"
      "  UNION ALL SELECT format('e %s %s', person, course) FROM public.enrollments) s";
  auto before = cluster_->Connect("dumped");
  auto after = cluster_->Connect("restored");
  EXPECT_EQ(*before.Scalar(fingerprint), *after.Scalar(fingerprint));
  EXPECT_EQ(*after.Scalar("SELECT count(*) FROM crosswalk.account"), "602");
  EXPECT_EQ(*after.Scalar("SELECT crosswalk.translate('17', 'learnhub', 'skillpath')"), "sp-17");
  EXPECT_EQ(*after.Scalar("SELECT crosswalk.resolve('skillpath', 'dup-sp') = crosswalk.resolve('learnhub', 'dup')"),
            "t");
  // The identity sequence came along: a new platform gets a fresh id.
  EXPECT_EQ(*after.Scalar("SELECT crosswalk.register_platform('liveclass')"), "3");
  // The primary key on the canonical_id column was rebuilt with our opclass
  // and joins: 300 linked pairs plus the merged 'dup' person.
  EXPECT_EQ(*after.Scalar("SELECT count(*) FROM public.enrollments e JOIN crosswalk.account a "
                          "ON a.person = e.person AND a.platform_id = 2"),
            "301");
}

}  // namespace
}  // namespace crosswalk::test
