// bench/kafka: the same backlog of source transactions streamed by
// crosswalk-sync to an event peer on librdkafka's mock Kafka cluster (hosted
// by this process) and to a database peer, one after the other in one run;
// prints events/s, rows/s and the ratio. See bench/kafka/run.sh.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "kafka_mock.hpp"

using namespace crosswalk;
using namespace crosswalk::test;
using namespace std::chrono_literals;

namespace {

long long EnvOr(const char* name, long long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stoll(v) : fallback;
}

std::string Peer(const std::string& which, const std::string& bootstraps, const std::string& dsn) {
  const std::string tables = R"J("tables": [ { "source": "public.t",
      "columns": { "id": "id", "user_id": "user_id", "person": { "identity": "user_id" }, "v": "v", "payload": "payload" })J";
  if (which == "kafka") {
    return R"J({ "name": "events", "kafka": { "brokers": ")J" + bootstraps + R"J(" }, )J" + tables + " } ] }";
  }
  return R"J({ "name": "db", "dsn": ")J" + dsn + R"J(", "platform": "skillpath", )J" + tables +
         R"J(, "target": "public.t", "key": ["id"] } ] })J";
}

// Seconds from the daemon's start until `slot` has confirmed everything.
double TimeDrain(const std::string& config, const std::string& log, pq::Connection& src, const std::string& slot) {
  auto t0 = std::chrono::steady_clock::now();
  Daemon d("run", config, log);
  if (!WaitDrained(src, {slot}, 600s)) throw std::runtime_error("not drained: " + ReadFile(log));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  d.Stop(SIGTERM);
  return s;
}

}  // namespace

int main() {
  const long long tx = EnvOr("TX", 20000), rows_per_tx = EnvOr("ROWS_PER_TX", 10);
  Cluster source, peer;
  source.CreateDatabaseWithExtension("learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath'); "
      "SELECT count(crosswalk.link('skillpath', 'sp-' || u, crosswalk.link('learnhub', u::text))) "
      "FROM generate_series(1, 1000) u; "
      "CREATE TABLE t (id bigint PRIMARY KEY, user_id text, v int, payload text)");
  peer.Connect("skillpath")
      .Exec("CREATE TABLE t (id bigint PRIMARY KEY, user_id text, person text, v int, payload text)");
  MockKafka kafka(3);
  kafka.CreateTopic("crosswalk.public.t", 6);
  auto config = [&](const std::string& peers) {
    return R"J({ "source": { "dsn": ")J" + source.Dsn("learnhub") +
           R"J(", "platform": "learnhub", "publication": "cw", "create_publication": true }, "peers": [ )J" + peers +
           " ] }";
  };
  // Both peers resolve the same identity column per row (the database peer
  // translates it to skillpath's id, the event peer to the canonical id).
  std::string db_peer = Peer("db", "", peer.Dsn("skillpath"));
  std::string dir = source.dir();
  std::string both = WriteFile(dir + "/both.json", config(Peer("kafka", kafka.bootstraps(), "") + ", " + db_peer));
  std::string only_kafka = WriteFile(dir + "/kafka.json", config(Peer("kafka", kafka.bootstraps(), "")));
  std::string only_db = WriteFile(dir + "/db.json", config(db_peer));
  std::string log = dir + "/daemon.log";
  {
    // Slots and (empty) snapshots for both peers.
    Daemon d("run", both, log);
    if (!WaitDrained(src, {"crosswalk_events", "crosswalk_db"}, 120s)) {
      std::cerr << ReadFile(log);
      return 1;
    }
    std::this_thread::sleep_for(1s);
    d.Stop(SIGTERM);
  }
  // The backlog: tx transactions of rows_per_tx inserts, each followed by an
  // update of one of its rows.
  for (long long i = 0; i < tx; i += 1000) {
    std::string sql;
    for (long long j = i; j < std::min(tx, i + 1000); ++j) {
      long long lo = j * rows_per_tx;
      sql += "BEGIN; INSERT INTO t SELECT g, (1 + g % 1000)::text, 0, md5(g::text) FROM generate_series(" +
             std::to_string(lo) + ", " + std::to_string(lo + rows_per_tx - 1) +
             ") g; UPDATE t SET v = 1 WHERE id = " + std::to_string(lo) + "; COMMIT; ";
    }
    src.Exec(sql);
  }
  const double changes = static_cast<double>(tx * (rows_per_tx + 1));
  double k = TimeDrain(only_kafka, log, src, "crosswalk_events");
  double d = TimeDrain(only_db, log, src, "crosswalk_db");
  auto applied = peer.Connect("skillpath").Scalar("SELECT count(*) FROM t");
  std::printf("%lld transactions of %lld inserts + 1 update (%.0f changes); peer holds %s rows\n", tx, rows_per_tx,
              changes, applied.value_or("?").c_str());
  std::printf("%-34s %10s %12s\n", "consumer", "seconds", "changes/s");
  std::printf("%-34s %10.2f %12.0f\n", "kafka peer (mock cluster, 3 brokers)", k, changes / k);
  std::printf("%-34s %10.2f %12.0f\n", "database peer (apply)", d, changes / d);
  std::printf("ratio kafka / database: %.2fx\n", d / k);
  return 0;
}
