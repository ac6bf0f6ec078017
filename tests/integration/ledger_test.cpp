// The ledger under concurrency: many sessions appending at once make one
// chain with no gaps and no forks, and verify_ledger() run meanwhile always
// sees a whole chain.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"

namespace crosswalk::test {
namespace {

TEST(Ledger, ConcurrentAppendsMakeOneChain) {
  Cluster cluster;
  cluster.CreateDatabaseWithExtension("hub");
  auto setup = cluster.Connect("hub");
  setup.Exec("SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath')");
  setup.Exec("CREATE TABLE people AS SELECT crosswalk.link('learnhub', 'p' || i) AS person FROM generate_series(1, 8) i");

  constexpr int kSessions = 8;
  constexpr int kEach = 150;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> verifications{0};
  std::atomic<int> bad_verifications{0};

  std::thread verifier([&] {
    auto c = cluster.Connect("hub");
    while (!done.load()) {
      auto r = c.Exec("SELECT ok, first_bad FROM crosswalk.verify_ledger()");
      ++verifications;
      if (r.value(0, 0) != "t") ++bad_verifications;
    }
  });
  std::vector<std::thread> writers;
  for (int s = 0; s < kSessions; ++s) {
    writers.emplace_back([&, s] {
      auto c = cluster.Connect("hub");
      for (int i = 0; i < kEach; ++i) {
        try {
          if (i % 10 == 0) {
            // Some appends inside a longer transaction, two at a time.
            c.Exec("BEGIN");
            for (int k = 0; k < 2; ++k) {
              c.ExecParams(
                  "SELECT crosswalk.record('purchase', (SELECT person FROM people OFFSET $1 LIMIT 1), 'learnhub', "
                  "jsonb_build_object('product', 'c' || $2, 'amount', '1.00', 'currency', 'EUR'))",
                  {std::to_string(s), std::to_string(i)});
            }
            c.Exec("COMMIT");
          } else {
            c.ExecParams(
                "SELECT crosswalk.record('purchase', (SELECT person FROM people OFFSET $1 LIMIT 1), 'skillpath', "
                "jsonb_build_object('product', 'c' || $2, 'amount', $2 || '.50', 'currency', 'USD'))",
                {std::to_string(s), std::to_string(i)});
          }
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  verifier.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(verifications.load(), 0);
  EXPECT_EQ(bad_verifications.load(), 0);
  const int expected = kSessions * (kEach + kEach / 10);
  EXPECT_EQ(*setup.Scalar("SELECT count(*) FROM crosswalk.ledger"), std::to_string(expected));
  // seq runs 1..n without gaps, every prev_hash is used once (no fork).
  EXPECT_EQ(*setup.Scalar("SELECT min(seq) = 1 AND max(seq) = count(*) FROM crosswalk.ledger"), "t");
  EXPECT_EQ(*setup.Scalar("SELECT count(DISTINCT prev_hash) = count(*) FROM crosswalk.ledger"), "t");
  EXPECT_EQ(*setup.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
  // Each person sees exactly their own entries.
  EXPECT_EQ(*setup.Scalar("SELECT count(*) FROM crosswalk.purchases((SELECT person FROM people LIMIT 1))"),
            std::to_string(kEach + kEach / 10));
}

// A copy of the ledger on another database (as a peer holds it) verifies
// there, and a row altered on the copy is found there.
TEST(Ledger, CopyVerifiesElsewhereAndTamperingThereIsFound) {
  Cluster a, b;
  a.CreateDatabaseWithExtension("hub");
  b.CreateDatabaseWithExtension("peer");
  auto src = a.Connect("hub");
  src.Exec(
      "SELECT crosswalk.register_platform('learnhub');"
      "SELECT crosswalk.record('purchase', crosswalk.link('learnhub', i::text), 'learnhub', "
      "  jsonb_build_object('product', 'p' || i, 'amount', i || '.00', 'currency', 'EUR', 'note', 'caf\u00e9 ' || i)) "
      "  FROM generate_series(1, 50) i");
  // Copy the rows as text, as COPY or logical replication would carry them;
  // the peer's insert trigger re-checks every hash on the way in.
  auto rows = src.Exec("SELECT seq, recorded_at, kind, person, platform, payload, prev_hash, hash "
                       "FROM crosswalk.ledger ORDER BY seq");
  auto dst = b.Connect("peer");
  dst.Exec("SET timezone = 'Asia/Kolkata'");  // a different session time zone changes nothing
  for (int i = 0; i < rows.rows(); ++i) {
    std::vector<std::optional<std::string>> params;
    for (int c = 0; c < 8; ++c) params.push_back(rows.get(i, c));
    dst.ExecParams("INSERT INTO crosswalk.ledger VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", params);
  }
  EXPECT_EQ(*dst.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
  dst.Exec("ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;"
           "UPDATE crosswalk.ledger SET payload = payload || '{\"amount\": \"0.01\"}' WHERE seq = 17;"
           "ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER");
  EXPECT_EQ(*dst.Scalar("SELECT first_bad FROM crosswalk.verify_ledger()"), "17");
}

}  // namespace
}  // namespace crosswalk::test
