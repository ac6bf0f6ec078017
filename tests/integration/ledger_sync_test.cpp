// The ledger travels to a peer through crosswalk-sync (snapshot, then
// stream, while appends go on), and the peer's copy verifies there: same
// entries, same hashes, verify_ledger() true — and tampering on the peer is
// found on the peer.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

const char* kFingerprint =
    "SELECT count(*) || ':' || md5(string_agg(seq || encode(hash, 'hex') || encode(prev_hash, 'hex'), ',' "
    "ORDER BY seq)) FROM crosswalk.ledger";

TEST(LedgerSync, PeerCopyVerifiesAndTamperingThereIsFound) {
  Cluster source, peer;
  source.CreateDatabaseWithExtension("learnhub");
  peer.CreateDatabaseWithExtension("skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath');"
      "CREATE TABLE buyers AS SELECT crosswalk.link('learnhub', i::text) AS person FROM generate_series(1, 50) i;"
      "SELECT crosswalk.record('purchase', person, 'learnhub', "
      "  jsonb_build_object('product', 'c' || n, 'amount', n || '.99', 'currency', 'EUR', 'note', 'caf\u00e9')) "
      "  FROM buyers, generate_series(1, 20) n");  // 1000 entries before the snapshot

  // The daemon stages values of types it does not know by OID (an
  // extension's types) as text, so the mapping casts person back. Concurrent
  // appends land on different heap pages, so the snapshot copies in seq
  // order: the peer's chaining trigger takes entries only in sequence.
  const std::string config = peer.dir() + "/ledger.json";
  std::ofstream(config) << R"J({ "source": { "dsn": ")J" << source.Dsn("learnhub")
                        << R"J(", "platform": "learnhub", "publication": "ledger_pub", "create_publication": true },
      "peers": [ { "name": "skillpath", "dsn": ")J"
                        << peer.Dsn("skillpath") << R"J(", "platform": "skillpath",
        "tables": [ { "source": "crosswalk.ledger", "target": "crosswalk.ledger", "key": ["seq"],
          "snapshot_order_by": ["seq"],
          "columns": { "seq": "seq", "recorded_at": "recorded_at", "kind": "kind", "person": "person::crosswalk.canonical_id",
                       "platform": "platform", "payload": "payload", "prev_hash": "prev_hash", "hash": "hash" } } ] } ] })J";
  const std::string log = peer.dir() + "/daemon.log";
  Daemon daemon("run", config, log);

  // Appends go on while the daemon snapshots and streams, from three sessions.
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      auto c = source.Connect("learnhub");
      for (int i = 0; i < 100; ++i) {
        c.ExecParams("SELECT crosswalk.record('refund', (SELECT person FROM buyers OFFSET $1 LIMIT 1), 'learnhub', "
                     "jsonb_build_object('product', 'c1', 'amount', '0.99', 'currency', 'EUR'))",
                     {std::to_string((w * 7 + i) % 50)});
      }
    });
  }
  for (auto& t : writers) t.join();

  const std::string want = *src.Scalar(kFingerprint);
  auto dst = peer.Connect("skillpath");
  std::string got;
  for (auto deadline = std::chrono::steady_clock::now() + 90s; std::chrono::steady_clock::now() < deadline;) {
    got = dst.Scalar(kFingerprint).value_or("");
    if (got == want) break;
    std::this_thread::sleep_for(200ms);
  }
  const int exit_code = daemon.Stop(SIGTERM);
  const std::string daemon_log = ReadFile(log);
  EXPECT_EQ(exit_code, 0) << daemon_log.substr(daemon_log.size() > 4000 ? daemon_log.size() - 4000 : 0);
  ASSERT_EQ(got, want) << "the peer's ledger differs from the source's: " << daemon_log.substr(daemon_log.size() > 6000 ? daemon_log.size() - 6000 : 0);
  EXPECT_EQ(want.substr(0, want.find(':')), "1300");
  EXPECT_EQ(*dst.Scalar("SELECT ok FROM crosswalk.verify_ledger()"), "t");
  EXPECT_EQ(*dst.Scalar("SELECT count(*) FROM crosswalk_sync.dead_letter"), "0");

  dst.Exec("ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;"
           "UPDATE crosswalk.ledger SET payload = payload || '{\"amount\": \"0.01\"}' WHERE seq = 640;"
           "ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER");
  EXPECT_EQ(*dst.Scalar("SELECT first_bad FROM crosswalk.verify_ledger()"), "640");
}

}  // namespace
}  // namespace crosswalk::test
