// Rotating a 100k-row encrypted column in batches with reencrypt() while
// other sessions read and write it (docs/operations.md, "Rotating a key"):
// no reader ever sees an error or a wrong value, no write is lost, and at
// the end every row is under the newest key version.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster.hpp"
#include "master_key_file.hpp"

namespace crosswalk::test {
namespace {

constexpr int kRows = 100000;
constexpr int kBatch = 5000;

TEST(EncryptionRotation, BatchesWhileOthersReadAndWrite) {
  MasterKeyFile key(TestMasterKeyHex(21));
  Cluster cluster({key.ConfLine()});
  cluster.CreateDatabaseWithExtension("app");
  auto admin = cluster.Connect("app");
  admin.Exec("CREATE ROLE app LOGIN");
  admin.Exec("SELECT crosswalk.create_key('email')");
  admin.Exec("SELECT crosswalk.grant_decrypt('email', 'app')");
  // plain is the test's record of what each row must decrypt to.
  admin.Exec("CREATE TABLE users (id int PRIMARY KEY, plain text NOT NULL, email crosswalk.encrypted NOT NULL)");
  admin.Exec("GRANT SELECT, INSERT, UPDATE ON users TO app");
  admin.Exec(
      "INSERT INTO users SELECT i, 'user' || i || '@example.org', "
      "crosswalk.encrypt('user' || i || '@example.org', 'email', 'users.email:' || i) "
      "FROM generate_series(1, " +
      std::to_string(kRows) + ") i");
  ASSERT_EQ(*admin.Scalar("SELECT crosswalk.rotate_key('email')"), "2");

  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, writes{0}, inserts{0};
  std::vector<std::string> failures;
  std::mutex failures_mu;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(failures_mu);
    if (failures.size() < 20) failures.push_back(what);
  };

  std::vector<std::thread> workers;
  // Two readers: random batches of rows must decrypt to their plain value.
  for (int r = 0; r < 2; ++r) {
    workers.emplace_back([&, r] {
      try {
        pq::Connection c(cluster.Dsn("app") + " user=app");
        int i = r;
        while (!stop) {
          int from = (i++ * 7919) % kRows;
          auto res = c.ExecParams(
              "SELECT count(*) FILTER (WHERE crosswalk.decrypt(email, 'users.email:' || id) <> plain), count(*) "
              "FROM users WHERE id > $1::int AND id <= $1::int + 500",
              {std::to_string(from)});
          if (res.value(0, 0) != "0") fail("reader saw a wrong value near id " + std::to_string(from));
          reads += std::stol(res.value(0, 1));
        }
      } catch (const std::exception& e) {
        fail(std::string("reader: ") + e.what());
      }
    });
  }
  // Two writers: update existing rows and insert new ones, encrypting with
  // whatever version is current.
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      try {
        pq::Connection c(cluster.Dsn("app") + " user=app");
        int n = 0;
        while (!stop) {
          const int id = 1 + (n * 104729 + w * 13) % kRows;
          const std::string value = "changed-" + std::to_string(w) + "-" + std::to_string(n) + "@example.org";
          c.ExecParams(
              "UPDATE users SET plain = $2, email = crosswalk.encrypt($2, 'email', 'users.email:' || id) "
              "WHERE id = $1::int",
              {std::to_string(id), value});
          ++writes;
          const int new_id = kRows + 1 + w * 1000000 + n;
          c.ExecParams("INSERT INTO users VALUES ($1::int, $2, crosswalk.encrypt($2, 'email', 'users.email:' || $1))",
                       {std::to_string(new_id), "new-" + std::to_string(new_id)});
          ++inserts;
          ++n;
        }
      } catch (const std::exception& e) {
        fail(std::string("writer: ") + e.what());
      }
    });
  }

  // The rotation, as documented: batches of kBatch rows, each its own
  // transaction, until no row is under an older version.
  int batches = 0;
  for (;;) {
    auto res = admin.Exec("WITH batch AS (SELECT id FROM users WHERE crosswalk.key_version_of(email) < 2 LIMIT " +
                          std::to_string(kBatch) +
                          " FOR UPDATE SKIP LOCKED) "
                          "UPDATE users u SET email = crosswalk.reencrypt(u.email, 'users.email:' || u.id) FROM batch "
                          "WHERE u.id = batch.id");
    ++batches;
    if (res.command_tuples() == "0") break;
    ASSERT_LT(batches, 200) << "rotation does not converge";
  }
  stop = true;
  for (auto& t : workers) t.join();
  for (const auto& f : failures) ADD_FAILURE() << f;

  EXPECT_GE(batches, kRows / kBatch + 1);
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(writes.load(), 0);
  EXPECT_GT(inserts.load(), 0);
  // Every row, old and new, under version 2, and every one decrypts to its record.
  EXPECT_EQ(*admin.Scalar("SELECT count(*) FROM users WHERE crosswalk.key_version_of(email) <> 2"), "0");
  EXPECT_EQ(*admin.Scalar("SELECT count(*) FROM users WHERE crosswalk.decrypt(email, 'users.email:' || id) <> plain"),
            "0");
  EXPECT_EQ(*admin.Scalar("SELECT count(*) FROM users"), std::to_string(kRows + inserts.load()));
}

}  // namespace
}  // namespace crosswalk::test
