// The ledger under concurrency: many sessions appending at once make one
// chain with no gaps and no forks, and verify_ledger() run meanwhile always
// sees a whole chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "master_key_file.hpp"

namespace crosswalk::test {
namespace {

TEST(Ledger, ConcurrentAppendsMakeOneChain) {
  Cluster cluster;
  cluster.CreateDatabaseWithExtension("hub");
  auto setup = cluster.Connect("hub");
  setup.Exec("SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath')");
  setup.Exec(
      "CREATE TABLE people AS SELECT crosswalk.link('learnhub', 'p' || i) AS person FROM generate_series(1, 8) i");

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

// Appends that abort (whole transactions and savepoints) and rows inserted
// directly, interleaved with record() from many sessions: one chain without
// gaps, and every seq record() returned is the committed entry it made.
TEST(Ledger, AbortedAndDirectAppendsUnderConcurrencyKeepOneChain) {
  Cluster cluster;
  cluster.CreateDatabaseWithExtension("hub");
  auto setup = cluster.Connect("hub");
  setup.Exec("SELECT crosswalk.register_platform('learnhub')");
  setup.Exec(
      "CREATE TABLE people AS SELECT crosswalk.link('learnhub', 'p' || i) AS person FROM generate_series(1, 6) i");

  constexpr int kSessions = 6;
  constexpr int kRounds = 60;
  const std::string record =
      "SELECT crosswalk.record('link', (SELECT person FROM people OFFSET $1 LIMIT 1), 'learnhub', "
      "jsonb_build_object('s', $1::int, 'i', $2::int, 'step', $3::text))";
  std::atomic<int> failures{0};
  std::vector<std::vector<std::pair<std::string, std::string>>> returned(kSessions);  // (seq, "s/i")
  std::vector<std::thread> writers;
  for (int s = 0; s < kSessions; ++s) {
    writers.emplace_back([&, s] {
      auto c = cluster.Connect("hub");
      for (int i = 0; i < kRounds; ++i) {
        const std::string si = std::to_string(s), ii = std::to_string(i);
        try {
          switch (i % 4) {
            case 0:  // rolled back: its seq is taken again by the next append
              c.Exec("BEGIN");
              c.ExecParams(record, {si, ii, "rolled back"});
              c.Exec("ROLLBACK");
              break;
            case 1:  // a direct INSERT, chained by the trigger
              c.ExecParams(
                  "INSERT INTO crosswalk.ledger (kind, person, platform, payload) "
                  "SELECT 'link', person, 'learnhub', jsonb_build_object('s', $1::int, 'i', $2::int) "
                  "FROM people OFFSET $1 LIMIT 1",
                  {si, ii});
              break;
            case 2: {  // a savepoint rolled back between two appends
              c.Exec("BEGIN");
              c.Exec("SAVEPOINT a");
              c.ExecParams(record, {si, ii, "released"});
              c.Exec("ROLLBACK TO SAVEPOINT a");
              auto r = c.ExecParams(record, {si, ii, "kept"});
              c.Exec("COMMIT");
              returned[static_cast<std::size_t>(s)].emplace_back(r.value(0, 0), si + "/" + ii);
              break;
            }
            default: {
              auto r = c.ExecParams(record, {si, ii, "kept"});
              returned[static_cast<std::size_t>(s)].emplace_back(r.value(0, 0), si + "/" + ii);
            }
          }
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& w : writers) w.join();

  EXPECT_EQ(failures.load(), 0);
  const int expected = kSessions * (kRounds / 4) * 3;
  EXPECT_EQ(*setup.Scalar("SELECT count(*) FROM crosswalk.ledger"), std::to_string(expected));
  EXPECT_EQ(*setup.Scalar("SELECT min(seq) = 1 AND max(seq) = count(*) FROM crosswalk.ledger"), "t");
  EXPECT_EQ(*setup.Scalar("SELECT count(DISTINCT prev_hash) = count(*) FROM crosswalk.ledger"), "t");
  EXPECT_EQ(
      *setup.Scalar("SELECT count(*) FROM crosswalk.ledger WHERE payload ->> 'step' IN ('rolled back', 'released')"),
      "0");
  EXPECT_EQ(*setup.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
  int checked = 0;
  for (const auto& session : returned) {
    for (const auto& [seq, si] : session) {
      EXPECT_EQ(*setup.Scalar(
                    "SELECT (payload ->> 's') || '/' || (payload ->> 'i') FROM crosswalk.ledger WHERE seq = $1", {seq}),
                si)
          << "seq " << seq;
      ++checked;
    }
  }
  EXPECT_EQ(checked, kSessions * (kRounds / 4) * 2);
}

// A REPEATABLE READ transaction whose snapshot predates another session's
// append still chains onto that append (the tip is read as of now, under the
// chain lock), rather than forking the chain or failing on a duplicate seq.
TEST(Ledger, AppendFromAnOlderSnapshotChainsOntoTheRealTip) {
  Cluster cluster;
  cluster.CreateDatabaseWithExtension("hub");
  auto a = cluster.Connect("hub");
  a.Exec("SELECT crosswalk.register_platform('learnhub')");
  a.Exec("CREATE TABLE people AS SELECT crosswalk.link('learnhub', 'p1') AS person");
  const std::string record =
      "SELECT crosswalk.record('link', (SELECT person FROM people), 'learnhub', jsonb_build_object('by', $1::text))";
  a.ExecParams(record, {"a"});
  a.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  EXPECT_EQ(*a.Scalar("SELECT count(*) FROM crosswalk.ledger"), "1");  // the snapshot is taken here
  auto b = cluster.Connect("hub");
  EXPECT_EQ(b.ExecParams(record, {"b"}).value(0, 0), "2");
  EXPECT_EQ(a.ExecParams(record, {"a, later"}).value(0, 0), "3");
  EXPECT_EQ(*a.Scalar("SELECT count(*) FROM crosswalk.ledger"), "2");  // its own, not b's: still the old snapshot
  a.Exec("COMMIT");
  EXPECT_EQ(*b.Scalar("SELECT string_agg(payload ->> 'by', ',' ORDER BY seq) FROM crosswalk.ledger"), "a,b,a, later");
  EXPECT_EQ(*b.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
}

// An appender that finds the chain lock taken polls for it only briefly,
// then waits in the lock's queue: a long holder makes the others wait (and
// they all go on when it ends), and a deadlock through the chain lock is
// found by the deadlock detector instead of spinning forever.
TEST(Ledger, WaitsForTheChainLockAreSeenByTheDeadlockDetector) {
  Cluster cluster;
  cluster.CreateDatabaseWithExtension("hub");
  auto a = cluster.Connect("hub");
  a.Exec("SELECT crosswalk.register_platform('learnhub')");
  a.Exec("CREATE TABLE people AS SELECT crosswalk.link('learnhub', 'p1') AS person");
  a.Exec("CREATE TABLE gate (id int PRIMARY KEY); INSERT INTO gate VALUES (1)");
  const std::string record =
      "SELECT crosswalk.record('link', (SELECT person FROM people), 'learnhub', jsonb_build_object('by', $1::text))";
  auto ungranted_advisory = [&] {
    return std::stoi(*a.Scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"));
  };
  auto wait_for_waiters = [&](int n) {
    for (int i = 0; i < 500 && ungranted_advisory() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return ungranted_advisory();
  };

  // A holds the chain lock; B and C queue behind it and finish when A commits.
  a.Exec("BEGIN");
  a.ExecParams(record, {"a"});
  std::vector<std::string> seqs(2);
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&, i] {
      auto c = cluster.Connect("hub");
      seqs[static_cast<std::size_t>(i)] = c.ExecParams(record, {i == 0 ? "b" : "c"}).value(0, 0);
    });
  }
  EXPECT_EQ(wait_for_waiters(2), 2);  // one in the chain lock's queue, one in the poll queue
  a.Exec("COMMIT");
  for (auto& w : waiters) w.join();
  std::sort(seqs.begin(), seqs.end());
  EXPECT_EQ(seqs, (std::vector<std::string>{"2", "3"}));

  // D holds a row and waits for the chain; A holds the chain and asks for the row.
  a.Exec("BEGIN");
  a.ExecParams(record, {"a2"});
  std::string d_error;
  std::thread d([&] {
    auto c = cluster.Connect("hub");
    try {
      c.Exec("BEGIN");
      c.Exec("SELECT * FROM gate WHERE id = 1 FOR UPDATE");
      c.ExecParams(record, {"d"});
      c.Exec("COMMIT");
    } catch (const std::exception& e) {
      d_error = e.what();
    }
  });
  EXPECT_EQ(wait_for_waiters(1), 1);
  std::string a_error;
  try {
    a.Exec("SELECT * FROM gate WHERE id = 1 FOR UPDATE");
    a.Exec("COMMIT");
  } catch (const std::exception& e) {
    a_error = e.what();
    a.Exec("ROLLBACK");
  }
  d.join();
  // Exactly one of the two was chosen as the deadlock victim; the other committed.
  EXPECT_NE(a_error.empty(), d_error.empty()) << "a: " << a_error << " d: " << d_error;
  EXPECT_NE((a_error + d_error).find("deadlock detected"), std::string::npos) << a_error << d_error;
  EXPECT_EQ(*a.Scalar("SELECT count(*) FROM crosswalk.ledger"), "4");
  EXPECT_EQ(*a.Scalar("SELECT min(seq) = 1 AND max(seq) = 4 FROM crosswalk.ledger"), "t");
  EXPECT_EQ(*a.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
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
  auto rows = src.Exec(
      "SELECT seq, recorded_at, kind, person, platform, payload, prev_hash, hash "
      "FROM crosswalk.ledger ORDER BY seq");
  auto dst = b.Connect("peer");
  dst.Exec("SET timezone = 'Asia/Kolkata'");  // a different session time zone changes nothing
  for (int i = 0; i < rows.rows(); ++i) {
    std::vector<std::optional<std::string>> params;
    for (int c = 0; c < 8; ++c) params.push_back(rows.get(i, c));
    dst.ExecParams("INSERT INTO crosswalk.ledger VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", params);
  }
  EXPECT_EQ(*dst.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
  dst.Exec(
      "ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;"
      "UPDATE crosswalk.ledger SET payload = payload || '{\"amount\": \"0.01\"}' WHERE seq = 17;"
      "ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER");
  EXPECT_EQ(*dst.Scalar("SELECT first_bad FROM crosswalk.verify_ledger()"), "17");
}

}  // namespace
}  // namespace crosswalk::test

namespace crosswalk::test {
namespace {

// Platform A signs its tip; platform B, holding a copy of A's ledger and A's
// public key, verifies the checkpoint against its own copy — and stops
// verifying once its copy differs. The signing key's seed never appears in
// clear in A's database.
TEST(LedgerCheckpoint, PeerVerifiesAnotherPlatformsCheckpoint) {
  MasterKeyFile key_a(TestMasterKeyHex(1)), key_b(TestMasterKeyHex(2));  // no shared master key needed
  Cluster a({key_a.ConfLine()});
  Cluster b({key_b.ConfLine()});
  a.CreateDatabaseWithExtension("hub");
  b.CreateDatabaseWithExtension("peer");
  auto src = a.Connect("hub");
  src.Exec(
      "SELECT crosswalk.register_platform('learnhub');"
      "SELECT crosswalk.record('purchase', crosswalk.link('learnhub', i::text), 'learnhub', "
      "  jsonb_build_object('product', 'p' || i, 'amount', i || '.00', 'currency', 'EUR')) "
      "  FROM generate_series(1, 20) i");
  std::string pub = *src.Scalar("SELECT encode(crosswalk.create_signing_key('learnhub-ledger'), 'hex')");
  auto cp = src.Exec(
      "SELECT seq, encode(tip_hash, 'hex'), encode(signature, 'hex') "
      "FROM crosswalk.ledger_checkpoint('learnhub-ledger')");
  ASSERT_EQ(cp.value(0, 0), "20");
  // The wrapped seed is not the seed: signing with the raw stored bytes as a
  // key would be the leak; the stored value is 61 bytes of GCM output.
  EXPECT_EQ(*src.Scalar("SELECT octet_length(wrapped_seed) FROM crosswalk.signing_key"), "61");

  auto rows = src.Exec(
      "SELECT seq, recorded_at, kind, person, platform, payload, prev_hash, hash "
      "FROM crosswalk.ledger ORDER BY seq");
  auto dst = b.Connect("peer");
  for (int i = 0; i < rows.rows(); ++i) {
    std::vector<std::optional<std::string>> params;
    for (int c = 0; c < 8; ++c) params.push_back(rows.get(i, c));
    dst.ExecParams("INSERT INTO crosswalk.ledger VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", params);
  }
  const std::string verify =
      "SELECT crosswalk.verify_checkpoint($1::bigint, decode($2, 'hex'), decode($3, 'hex'), decode($4, 'hex'))";
  std::vector<std::optional<std::string>> args = {cp.value(0, 0), cp.value(0, 1), cp.value(0, 2), pub};
  EXPECT_EQ(*dst.Scalar(verify, args), "t");
  // B's own key is another key: A's checkpoint does not verify under it.
  std::string other = *dst.Scalar("SELECT encode(crosswalk.create_signing_key('skillpath-ledger'), 'hex')");
  EXPECT_EQ(*dst.Scalar(verify, {cp.value(0, 0), cp.value(0, 1), cp.value(0, 2), other}), "f");
  // Rewrite the last entry of B's copy together with its hash: the chain
  // alone cannot tell (no later entry links to it), the checkpoint can.
  dst.Exec(
      "ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;"
      "UPDATE crosswalk.ledger SET payload = payload || '{\"amount\": \"0.01\"}', "
      "  hash = crosswalk.ledger_entry_hash(prev_hash, seq, recorded_at, kind, person, platform, "
      "                                     payload || '{\"amount\": \"0.01\"}') WHERE seq = 20;"
      "ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER");
  EXPECT_EQ(*dst.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
  EXPECT_EQ(*dst.Scalar(verify, args), "f");
}

}  // namespace
}  // namespace crosswalk::test
