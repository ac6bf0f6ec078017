// crosswalk-sync's observability against real clusters: /metrics scraped
// during a run (rows by table and operation, transactions, latency, lag,
// retained WAL, dead letters, reconnects, errors), /healthz, alerts.command
// fired and cleared for dead letters and for a peer stopped by a crash
// (pg_ctl stop -m immediate) while the other peer keeps streaming, the
// daemon's sessions terminated (pg_terminate_backend), and an
// idle source whose slots keep confirming WAL written elsewhere.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "sync_config.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

// The value of one sample line of a Prometheus exposition ("name{labels}"
// exactly as rendered); nullopt when absent.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, series.size() + 1, series + " ") == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// Polls `get` until it returns true or `timeout` passes.
template <class F>
bool Eventually(F get, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (get()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return get();
}

class SyncObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.Connect().Exec("CREATE DATABASE learnhub");
    source_.Connect().Exec("CREATE DATABASE other");
    peer_a_.Connect().Exec("CREATE DATABASE skillpath");
    peer_b_.Connect().Exec("CREATE DATABASE archive");
    source_.Connect("learnhub")
        .Exec(
            "CREATE TABLE items (id int PRIMARY KEY, qty int, label text); "
            "INSERT INTO items SELECT g, g % 10, 'l' || g FROM generate_series(1, 1000) g");
    // Peer A refuses negative quantities: those rows become dead letters.
    peer_a_.Connect("skillpath")
        .Exec("CREATE TABLE things (id int PRIMARY KEY, qty int CONSTRAINT qty_ok CHECK (qty >= 0), label text)");
    peer_b_.Connect("archive").Exec("CREATE TABLE things (id int PRIMARY KEY, qty int, label text)");
    port_ = FreePort();
    alerts_ = peer_a_.dir() + "/alerts.jsonl";
    std::string tables = R"([ { "source": "items", "target": "things", "key": ["id"],
                                 "columns": { "id": "id", "qty": "qty", "label": "label" } } ])";
    config_ = WriteSyncConfig(
        peer_a_.dir() + "/sync.json", source_, {{peer_a_, "skillpath", tables}, {peer_b_, "archive", tables}},
        R"("metrics": { "listen": "127.0.0.1:)" + std::to_string(port_) +
            R"(" }, "alerts": { "lag_seconds": 3, "dead_letters": 1, "command": "cat >> )" + alerts_ + R"(" })");
    log_ = peer_a_.dir() + "/daemon.log";
  }

  std::string Get(const std::string& path, int* status = nullptr) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    auto res = client.Get(path.c_str());
    if (!res) return "";
    if (status) *status = res->status;
    return res->body;
  }
  std::string Metrics() { return Get("/metrics"); }
  std::string Alerts() { return ReadFile(alerts_); }

  Cluster source_, peer_a_, peer_b_;
  int port_ = 0;
  std::string config_, log_, alerts_;
};

TEST_F(SyncObservabilityTest, MetricsHealthAlertsAndAPeerCrashWhileTheOtherStreams) {
  Daemon daemon("run", config_, log_, {"--log-level", "debug"});
  auto src = source_.Connect("learnhub");
  ASSERT_TRUE(Eventually(
      [&] {
        return Metrics().find("crosswalk_sync_peer_state{peer=\"archive\",state=\"streaming\"} 1") !=
                   std::string::npos &&
               Metrics().find("crosswalk_sync_peer_state{peer=\"skillpath\",state=\"streaming\"} 1") !=
                   std::string::npos;
      },
      60s))
      << Metrics() << ReadFile(log_);

  // Known changes: 200 inserts in 4 transactions, 50 updates, 30 deletes, and
  // 3 inserts peer A rejects.
  for (int t = 0; t < 4; ++t) {
    src.Exec("INSERT INTO items SELECT g, 1, 'new' FROM generate_series(" + std::to_string(2001 + t * 50) + ", " +
             std::to_string(2050 + t * 50) + ") g");
  }
  src.Exec("UPDATE items SET qty = qty + 1 WHERE id <= 50");
  src.Exec("DELETE FROM items WHERE id BETWEEN 101 AND 130");
  src.Exec("INSERT INTO items VALUES (-1, -1, 'bad'), (-2, -2, 'bad'), (-3, -3, 'bad')");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath", "crosswalk_archive"}, 60s));

  // Scraped during the run. The snapshot's 1000 rows count as inserts.
  std::string m;
  ASSERT_TRUE(Eventually(
      [&] {
        m = Metrics();
        return Sample(m, "crosswalk_sync_dead_letters{peer=\"skillpath\"}") == 3.0;
      },
      30s))
      << m;
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_rows_applied_total{peer="archive",table="public.items",operation="insert"})"),
            1000.0 + 200 + 3);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_rows_applied_total{peer="archive",table="public.items",operation="update"})"),
            50.0);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_rows_applied_total{peer="archive",table="public.items",operation="delete"})"),
            30.0);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_rows_applied_total{peer="skillpath",table="public.items",operation="insert"})"),
            1000.0 + 200);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_dead_letters_total{peer="skillpath"})"), 3.0);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_dead_letters{peer="archive"})"), 0.0);
  // 4 + 1 + 1 + 1 source transactions streamed (grouping may join some in
  // one peer transaction, but each is counted), plus the snapshot.
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_transactions_total{peer="archive"})"), 8.0);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_apply_latency_seconds_count{peer="archive"})"), 7.0);
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_apply_latency_seconds_bucket{peer="archive",le="+Inf"})"), 7.0);
  EXPECT_TRUE(Sample(m, R"(crosswalk_sync_lag_bytes{peer="archive",slot="crosswalk_archive"})").has_value()) << m;
  EXPECT_TRUE(Sample(m, R"(crosswalk_sync_retained_wal_bytes{peer="archive",slot="crosswalk_archive"})").has_value())
      << m;
  EXPECT_EQ(Sample(m, "crosswalk_sync_source_up"), 1.0);
  int status = 0;
  std::string health = Get("/healthz", &status);
  EXPECT_EQ(status, 200) << health;
  EXPECT_NE(health.find(R"("skillpath":"streaming")"), std::string::npos) << health;
  EXPECT_EQ(Get("/nope", &status), "");
  EXPECT_EQ(status, 404);

  // The dead-letter alert fired once (3 >= 1), for peer A only.
  ASSERT_TRUE(Eventually([&] { return Alerts().find("\"dead_letters\"") != std::string::npos; }, 10s)) << Alerts();
  {
    std::string a = Alerts();
    EXPECT_NE(a.find(R"({"alert":"dead_letters","peer":"skillpath","state":"firing","threshold":1.0,"value":3.0})"),
              std::string::npos)
        << a;
    EXPECT_EQ(a.find(R"("dead_letters","peer":"archive")"), std::string::npos) << a;
  }
  // Fixed on the peer and retried: the alert clears.
  peer_a_.Connect("skillpath").Exec("ALTER TABLE things DROP CONSTRAINT qty_ok");
  EXPECT_EQ(Shell(DaemonPath() + " retry -c " + config_ + " >/dev/null 2>&1"), 0);
  ASSERT_TRUE(Eventually(
      [&] { return Alerts().find(R"("dead_letters","peer":"skillpath","state":"resolved")") != std::string::npos; },
      15s))
      << Alerts();

  // The daemon's connections cut: every walsender on the source and every
  // session on the peers. Both peers reconnect (backoff) and carry on.
  EXPECT_GE(std::stoi(*src.Scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = "
                                  "'walsender'")),
            2);
  for (Cluster* c : {&peer_a_, &peer_b_}) {
    c->Connect().Exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> "
        "pg_backend_pid()");
  }
  src.Exec("INSERT INTO items SELECT g, 3, 'after cut' FROM generate_series(4001, 4100) g");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath", "crosswalk_archive"}, 60s)) << ReadFile(log_);
  m = Metrics();
  EXPECT_GE(Sample(m, R"(crosswalk_sync_reconnects_total{peer="archive"})").value_or(0), 1) << m;
  double archive_reconnects = Sample(m, R"(crosswalk_sync_reconnects_total{peer="archive"})").value_or(0);
  double skillpath_reconnects = Sample(m, R"(crosswalk_sync_reconnects_total{peer="skillpath"})").value_or(0);

  // Peer A crashes: peer B keeps streaming, A's slot lags and retains WAL,
  // the lag alert fires, A reconnects once it is back and catches up.
  peer_a_.StopImmediate();
  src.Exec("INSERT INTO items SELECT g, 2, 'while a is down' FROM generate_series(5001, 5100) g");
  auto b = peer_b_.Connect("archive");
  ASSERT_TRUE(Eventually([&] { return b.Scalar("SELECT count(*) FROM things WHERE id > 5000") == "100"; }, 30s));
  ASSERT_TRUE(Eventually(
      [&] { return Alerts().find(R"({"alert":"lag","peer":"skillpath","state":"firing")") != std::string::npos; }, 30s))
      << Alerts();
  m = Metrics();
  EXPECT_GT(Sample(m, R"(crosswalk_sync_lag_bytes{peer="skillpath",slot="crosswalk_skillpath"})").value_or(0), 0) << m;
  EXPECT_GT(Sample(m, R"(crosswalk_sync_lag_seconds{peer="skillpath",slot="crosswalk_skillpath"})").value_or(0), 3)
      << m;
  EXPECT_GT(Sample(m, R"(crosswalk_sync_retained_wal_bytes{peer="skillpath",slot="crosswalk_skillpath"})").value_or(0),
            0)
      << m;
  EXPECT_GT(Sample(m, R"(crosswalk_sync_reconnects_total{peer="skillpath"})").value_or(0), skillpath_reconnects) << m;
  EXPECT_NE(m.find("crosswalk_sync_errors_total{peer=\"skillpath\",sqlstate=\"08"), std::string::npos) << m;
  EXPECT_EQ(Sample(m, R"(crosswalk_sync_reconnects_total{peer="archive"})"), archive_reconnects) << m;
  std::string st = ShellOutput(DaemonPath() + " status -c " + config_ + " 2>/dev/null");
  EXPECT_NE(st.find("peer=skillpath slot=crosswalk_skillpath slot_state=inactive"), std::string::npos) << st;

  peer_a_.Start();
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath", "crosswalk_archive"}, 90s)) << ReadFile(log_);
  ASSERT_TRUE(Eventually(
      [&] { return Alerts().find(R"({"alert":"lag","peer":"skillpath","state":"resolved")") != std::string::npos; },
      30s))
      << Alerts();
  EXPECT_EQ(daemon.Stop(SIGINT), 0);

  // Each peer equals the source.
  auto a = peer_a_.Connect("skillpath");
  for (auto* p : {&a, &b}) {
    ExpectSameRows(src, *p, "SELECT format('%s|%s|%s', id, qty, label) FROM items",
                   "SELECT format('%s|%s|%s', id, qty, label) FROM things");
  }

  // Log lines are JSON objects with time, level and event; debug included
  // at --log-level debug.
  std::string log = ReadFile(log_);
  std::istringstream lines(log);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("time") && j.contains("level") && j.contains("event")) << line;
    ++n;
  }
  EXPECT_GT(n, 5);
  EXPECT_NE(log.find(R"("event":"alert")"), std::string::npos);
  EXPECT_NE(log.find(R"("event":"reconnect")"), std::string::npos);
}

// An idle source: its slots keep confirming WAL that other databases write,
// so they hold no WAL (keepalive confirmation).
TEST_F(SyncObservabilityTest, IdleSourceSlotsKeepConfirming) {
  Daemon daemon("run", config_, log_);
  auto src = source_.Connect("learnhub");
  ASSERT_TRUE(Eventually([&] { return Metrics().find("state=\"streaming\"} 1") != std::string::npos; }, 60s));
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_skillpath", "crosswalk_archive"}, 60s));
  auto other = source_.Connect("other");
  other.Exec("CREATE TABLE busy (x int)");
  for (int round = 0; round < 3; ++round) {
    other.Exec("INSERT INTO busy SELECT generate_series(1, 20000)");
    std::string written = *src.Scalar("SELECT pg_current_wal_lsn()::text");
    // learnhub is idle; the slots must pass WAL written by `other` within
    // seconds, not wait for the walsender timeout.
    bool advanced = Eventually(
        [&] {
          return src.Scalar("SELECT bool_and(confirmed_flush_lsn >= $1::pg_lsn) FROM pg_replication_slots",
                            {written}) == "t";
        },
        20s);
    EXPECT_TRUE(advanced) << *src.Scalar(
                                 "SELECT string_agg(slot_name || ' ' || confirmed_flush_lsn, ', ') FROM "
                                 "pg_replication_slots")
                          << " written " << written;
  }
  std::string m = Metrics();
  EXPECT_LT(Sample(m, R"(crosswalk_sync_lag_seconds{peer="archive",slot="crosswalk_archive"})").value_or(99), 3) << m;
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace crosswalk::test
