// Event peers where they can go wrong: a kill -9 in the middle of the
// snapshot (the redo must start with a truncate on every partition, and a
// consumer applying everything in order must end equal to the source), the
// `check` and `status` commands, events on stdout with the logs on stderr, and
// every broker down for longer than message.timeout.ms (the slot must not be
// confirmed past the undelivered transaction, and nothing is lost once the
// brokers are back). The broker is librdkafka's mock cluster hosted by this
// process; crosswalk-sync runs as a child process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "kafka_mock.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* kTopic = "crosswalk.public.items";

// `crosswalk-sync ARGS` with stdout and stderr to separate files.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
    std::vector<std::string> all = {DaemonPath()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(o, 1);
      dup2(e, 2);
      execv(all[0].c_str(), argv.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  int Stop(int sig) {
    kill(pid_, sig);
    return Wait();
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

// Runs `crosswalk-sync COMMAND -c CONFIG` to the end: (exit code, stdout, stderr).
struct Output {
  int code = -1;
  std::string out, err;
};
Output RunCommand(const std::string& command, const std::string& config, const std::string& dir) {
  std::string out = dir + "/" + command + ".out", err = dir + "/" + command + ".err";
  unlink(out.c_str());
  unlink(err.c_str());
  Output r;
  r.code = Child({command, "-c", config}, out, err).Wait();
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

std::size_t CountOf(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

long long FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : 0;
}

// Messages in `topic` so far (the sum of the partitions' high watermarks).
class TopicSize {
 public:
  explicit TopicSize(const std::string& bootstraps) {
    cdc::KafkaConf conf = cdc::MakeKafkaConf({{"bootstrap.servers", bootstraps}}, "watermarks");
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
    if (!rk_) throw std::runtime_error(err);
  }
  long long Of(const std::string& topic, int partitions) {
    long long n = 0;
    for (int p = 0; p < partitions; ++p) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), p, &lo, &hi, 2000)) return -1;
      n += hi;
    }
    return n;
  }

 private:
  cdc::KafkaHandle rk_;
};

struct Message {
  int partition = 0;
  std::string key;
  json value;
};

// Every message of kTopic; fails the test when the mock cluster dropped the
// oldest messages of a partition (it keeps about 5 MB of each).
std::vector<Message> FromKafka(const std::string& bootstraps) {
  std::vector<Message> out;
  std::set<int> partitions;
  for (auto& m : ReadTopic(bootstraps, kTopic)) {
    if (partitions.insert(m.partition).second) {
      EXPECT_EQ(m.offset, 0) << "partition " << m.partition << " lost its start";
    }
    out.push_back(Message{m.partition, m.key, json::parse(m.value)});
  }
  return out;
}

// Every line of a JSON-lines event file, each parsed (a line that is not
// whole JSON fails the test).
std::vector<Message> FromLines(const std::string& path, const std::string& topic = kTopic) {
  std::vector<Message> out;
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << path << ":" << n << " is not JSON: " << line.substr(0, 200);
      continue;
    }
    EXPECT_EQ(j.at("topic"), topic);
    EXPECT_EQ(j.at("partition"), j.at("value").at("op") == "t" ? 0 : -1);
    out.push_back(Message{0, j.at("key").is_null() ? "" : j.at("key").dump(), j.at("value")});
  }
  return out;
}

std::uint64_t CommitLsn(const Message& m) { return m.value.at("source").at("commit_lsn").get<std::uint64_t>(); }

// Applies the events in order, per partition: c/u/r set the key's row, d
// removes it, t empties what that partition holds. Repeats (same
// commit_lsn and event_seq) are dropped. Rows as "id|v|note", sorted.
std::vector<std::string> ApplyInOrder(const std::vector<Message>& messages) {
  std::map<std::string, json> rows;
  std::map<int, std::set<std::string>> in_partition;
  std::set<std::tuple<int, std::uint64_t, std::uint64_t>> seen;
  for (const auto& m : messages) {
    const json& s = m.value.at("source");
    if (!seen.emplace(m.partition, s.at("commit_lsn"), s.at("event_seq")).second) continue;
    char op = m.value.at("op").get<std::string>().at(0);
    if (op == 't') {
      for (const auto& k : in_partition[m.partition]) rows.erase(k);
      in_partition[m.partition].clear();
    } else if (op == 'd') {
      rows.erase(m.key);
      in_partition[m.partition].erase(m.key);
    } else {
      rows[m.key] = m.value.at("after");
      in_partition[m.partition].insert(m.key);
    }
  }
  std::vector<std::string> out;
  for (const auto& [key, row] : rows) {
    EXPECT_EQ(json::parse(key), json({{"id", row.at("id")}}));
    out.push_back(row.at("id").dump() + "|" + row.at("v").dump() + "|" + row.at("note").get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SourceRows(pq::Connection& src, const std::string& table = "items") {
  pq::Result r = src.Exec("SELECT format('%s|%s|%s', id, v, note) FROM " + table);
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.value(i, 0));
  std::sort(out.begin(), out.end());
  return out;
}

std::string SourceConfig(const Cluster& source) {
  return R"J("source": { "dsn": ")J" + source.Dsn() +
         R"J(", "platform": "learnhub", "publication": "crosswalk", "create_publication": true })J";
}

bool SnapshotDone(pq::Connection& src, const std::vector<std::string>& slots) {
  for (const auto& s : slots) {
    if (src.Scalar("SELECT 1 FROM crosswalk_sync.event_progress WHERE slot = $1 AND snapshot_done", {s}) != "1")
      return false;
  }
  return true;
}

// A kill -9 while both peers (Kafka and a file, one daemon) send the
// snapshot's "r" events; rows deleted and changed before the restart. The
// restart redoes the snapshot from a new slot, beginning with a truncate on
// every partition; a consumer that applies everything ends equal to the
// source. `status` and `check` report the interrupted and then the finished
// snapshot.
TEST(KafkaSinkFaultsTest, KillMidSnapshotRedoesItBehindATruncateOnEveryPartition) {
  // The mock cluster keeps only the last ~5 MB of each partition (about
  // 13000 events): the Kafka peer's table is smaller than the file peer's,
  // and its topic has 12 partitions, so that both snapshots stay readable.
  const std::map<std::string, long long> rows = {{"items", 40000}, {"bulk", 200000}};
  Cluster source;
  auto src = source.Connect();
  for (const auto& [table, n] : rows) {
    src.Exec("CREATE TABLE " + table + " (id bigint PRIMARY KEY, v int NOT NULL, note text NOT NULL); INSERT INTO " +
             table + " SELECT g, g, 'n' || g FROM generate_series(1, " + std::to_string(n) + ") g");
  }
  MockKafka kafka(3);
  constexpr int kPartitions = 12;
  kafka.CreateTopic(kTopic, kPartitions);
  std::string lines = source.dir() + "/events.jsonl";
  std::string config = WriteFile(source.dir() + "/sync.json", "{" + SourceConfig(source) + R"J(,
    "peers": [
      { "name": "events", "kafka": { "brokers": ")J" + kafka.bootstraps() +
                                                                  R"J(",
                                     "properties": { "linger.ms": 5 } },
        "tables": [ { "source": "public.items" } ] },
      { "name": "lines", "file": ")J" + lines + R"J(",
        "tables": [ { "source": "public.bulk", "topic": "crosswalk.public.items" } ] } ] })J");
  std::string log = source.dir() + "/daemon.log";
  const std::vector<std::string> slots = {"crosswalk_events", "crosswalk_lines"};

  TopicSize sizes(kafka.bootstraps());
  long long in_kafka = 0, in_file = 0;
  {
    Daemon daemon("run", config, log);
    // Killed as soon as both peers have sent part of the snapshot: a few
    // lines of the file (about 450 bytes each) and 1000 Kafka messages.
    // (Waiting for 100 kB of the file once let the Kafka peer's whole 40k-row
    // snapshot finish first, on a loaded machine.)
    ASSERT_TRUE(PollUntil(
        [&] {
          in_file = FileSize(lines);
          in_kafka = sizes.Of(kTopic, kPartitions);
          return in_file > 2000 && in_kafka > 1000;
        },
        60s))
        << ReadFile(log);
    EXPECT_EQ(daemon.Stop(SIGKILL), 128 + SIGKILL);
  }
  ASSERT_EQ(CountOf(ReadFile(log), "\"event\":\"snapshot_done\""), 0u) << "a snapshot finished before the kill";
  const std::string first_lsn =
      *src.Scalar("SELECT snapshot_lsn::text FROM crosswalk_sync.event_progress WHERE slot = 'crosswalk_events'");
  const std::uint64_t first_lines_lsn =
      std::stoull(*src.Scalar("SELECT (snapshot_lsn - '0/0')::bigint::text FROM crosswalk_sync.event_progress "
                              "WHERE slot = 'crosswalk_lines'"));

  // `status` and `check` after the crash: the snapshot is incomplete, and
  // run will make a new slot and send it again.
  Output status = RunCommand("status", config, source.dir());
  EXPECT_EQ(status.code, 0) << status.err;
  for (const auto& slot : slots) {
    std::string at =
        *src.Scalar("SELECT snapshot_lsn::text FROM crosswalk_sync.event_progress WHERE slot = $1", {slot});
    std::string peer = slot.substr(std::string("crosswalk_").size());
    EXPECT_TRUE(
        std::regex_search(status.out, std::regex("peer=" + peer + " slot=" + slot +
                                                 " slot_state=(active|inactive) confirmed_lsn=[0-9A-F]+/[0-9A-F]+ "
                                                 "lag_bytes=[0-9]+ snapshot=\"incomplete at " +
                                                 at + "\"\n")))
        << status.out;
  }
  Output check = RunCommand("check", config, source.dir());
  EXPECT_EQ(check.code, 0) << check.err;
  EXPECT_NE(check.out.find("peer events (kafka " + kafka.bootstraps() +
                           "), format debezium-json, slot crosswalk_events: will create the slot and send a snapshot\n"
                           "  public.items -> topic crosswalk.public.items key (replica identity)\n    every column\n"),
            std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find("peer lines (file " + lines +
                           "), format debezium-json, slot crosswalk_lines: will create the slot and send a snapshot\n"
                           "  public.bulk -> topic crosswalk.public.items key (replica identity)\n"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.substr(check.out.size() - 3), "ok\n");

  // Rows the first snapshot sent that are gone or changed by the restart:
  // without the truncate they would linger in the consumer.
  std::map<std::string, long long> rows_at_restart;
  for (const auto& [table, n] : rows) {
    src.Exec("DELETE FROM " + table + " WHERE id <= 2000; UPDATE " + table + " SET v = -v WHERE id % 1000 = 0; " +
             "INSERT INTO " + table + " VALUES (-1, 1, 'new')");
    rows_at_restart[table] = std::stoll(*src.Scalar("SELECT count(*)::text FROM " + table));
  }

  const std::size_t before_restart = ReadFile(log).size();
  {
    Daemon daemon("run", config, log);
    ASSERT_TRUE(
        PollUntil([&] { return CountOf(ReadFile(log).substr(before_restart), "\"event\":\"streaming\"") == 2; }, 60s))
        << ReadFile(log).substr(before_restart);
    // Streaming after the redo.
    for (const std::string table : {"items", "bulk"}) {
      src.Exec("INSERT INTO " + table + " SELECT g, g, 'late' FROM generate_series(300001, 300100) g; UPDATE " + table +
               " SET note = 'changed' WHERE id BETWEEN 5000 AND 5010; DELETE FROM " + table + " WHERE id = 6000");
    }
    ASSERT_TRUE(WaitDrained(src, slots, 60s)) << ReadFile(log);
    EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  }
  std::string restart_log = ReadFile(log).substr(before_restart);
  EXPECT_EQ(CountOf(restart_log, "\"event\":\"snapshot_redo\""), 2u) << restart_log;
  ASSERT_TRUE(SnapshotDone(src, slots));

  // `status` and `check` once streaming: the snapshot is done, and run
  // streams from the slot's confirmed position.
  status = RunCommand("status", config, source.dir());
  check = RunCommand("check", config, source.dir());
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_EQ(check.code, 0) << check.err;
  for (const auto& slot : slots) {
    pq::Result p = src.ExecParams(
        "SELECT s.confirmed_flush_lsn::text, p.snapshot_lsn::text, "
        "pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
        "FROM pg_replication_slots s JOIN crosswalk_sync.event_progress p ON p.slot = s.slot_name "
        "WHERE s.slot_name = $1",
        {slot});
    ASSERT_EQ(p.rows(), 1);
    std::string peer = slot.substr(std::string("crosswalk_").size());
    EXPECT_NE(p.value(0, 1), first_lsn) << "the redo reused the first slot's snapshot";
    EXPECT_NE(status.out.find("peer=" + peer + " slot=" + slot + " slot_state=inactive confirmed_lsn=" + p.value(0, 0) +
                              " lag_bytes=" + p.value(0, 2) + " snapshot=\"done at " + p.value(0, 1) + "\"\n"),
              std::string::npos)
        << status.out;
    EXPECT_NE(check.out.find("slot " + slot + ": will stream from " + p.value(0, 0) + "\n"), std::string::npos)
        << check.out;
  }

  const std::uint64_t redo_lsn =
      std::stoull(*src.Scalar("SELECT (snapshot_lsn - '0/0')::bigint::text FROM crosswalk_sync.event_progress WHERE "
                              "slot = 'crosswalk_events'"));
  const std::uint64_t redo_lines_lsn = std::stoull(*src.Scalar(
      "SELECT (snapshot_lsn - '0/0')::bigint::text FROM crosswalk_sync.event_progress WHERE slot = 'crosswalk_lines'"));
  for (const auto& [name, messages, redo] : std::vector<std::tuple<std::string, std::vector<Message>, std::uint64_t>>{
           {"kafka", FromKafka(kafka.bootstraps()), redo_lsn}, {"file", FromLines(lines), redo_lines_lsn}}) {
    SCOPED_TRACE(name);
    const int partitions = name == "kafka" ? kPartitions : 1;
    const std::string table = name == "kafka" ? "items" : "bulk";
    // Per partition: the first snapshot's "r" events (older commit_lsn),
    // then the redo's truncate, then only the redo's "r" events, then the
    // stream.
    std::map<int, std::vector<const Message*>> by_partition;
    for (const auto& m : messages) by_partition[m.partition].push_back(&m);
    ASSERT_EQ(by_partition.size(), static_cast<std::size_t>(partitions));
    long long first_reads = 0, redo_reads = 0, streamed = 0;
    for (const auto& [p, ms] : by_partition) {
      std::size_t t = 0;
      while (t < ms.size() && ms[t]->value.at("op") == "r" && CommitLsn(*ms[t]) < redo) ++t;
      first_reads += static_cast<long long>(t);
      ASSERT_LT(t, ms.size()) << "partition " << p << " has no truncate";
      EXPECT_EQ(ms[t]->value.at("op"), "t") << "partition " << p << ": the redo does not begin with a truncate";
      EXPECT_EQ(CommitLsn(*ms[t]), redo);
      EXPECT_EQ(ms[t]->value.at("source").at("snapshot"), "true");
      EXPECT_EQ(ms[t]->value.at("source").at("table"), table);
      std::size_t i = t + 1;
      for (; i < ms.size() && ms[i]->value.at("op") == "r"; ++i) {
        EXPECT_EQ(CommitLsn(*ms[i]), redo);
        ++redo_reads;
      }
      for (; i < ms.size(); ++i) {
        EXPECT_NE(ms[i]->value.at("op"), "r");
        EXPECT_NE(ms[i]->value.at("op"), "t");
        EXPECT_GT(CommitLsn(*ms[i]), redo);
        ++streamed;
      }
    }
    // The first attempt was cut short (the file's always is; the Kafka
    // peer's 40k rows may all be out, their snapshot not yet recorded as
    // done, which needs the same redo); the redo is whole; the stream holds
    // 100 inserts, 11 updates, 1 delete.
    EXPECT_GT(first_reads, 0);
    if (name == "file") {
      EXPECT_LT(first_reads, rows.at(table));
    } else {
      EXPECT_LE(first_reads, rows.at(table));
    }
    EXPECT_EQ(redo_reads, rows_at_restart.at(table));
    EXPECT_EQ(streamed, 112);
    if (name == "file") {
      EXPECT_NE(first_lines_lsn, redo);
    }
    EXPECT_EQ(ApplyInOrder(messages), SourceRows(src, table));
    std::cout << name << ": " << first_reads << " events of the first snapshot, then " << redo_reads << " redone\n";
  }
}

// Events on stdout ("file": "-") while the logs go to stderr: every stdout
// line is an event, every stderr line a JSON log record.
TEST(KafkaSinkFaultsTest, StdoutCarriesOnlyEventsAndTheLogsStayOnStderr) {
  Cluster source;
  auto src = source.Connect();
  src.Exec(
      "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, note text NOT NULL); "
      "INSERT INTO items SELECT g, g, 'n' || g FROM generate_series(1, 300) g");
  std::string config = WriteFile(source.dir() + "/sync.json", "{" + SourceConfig(source) + R"J(,
    "peers": [ { "name": "out", "file": "-", "tables": [ { "source": "public.items" } ] } ] })J");
  std::string out = source.dir() + "/stdout", err = source.dir() + "/stderr";
  {
    Child daemon({"run", "-c", config}, out, err);
    ASSERT_TRUE(PollUntil([&] { return CountOf(ReadFile(err), "\"event\":\"streaming\"") == 1; }, 60s))
        << ReadFile(err);
    src.Exec(
        "INSERT INTO items VALUES (1000, 1, 'a'), (1001, 2, 'b'); UPDATE items SET v = 0 WHERE id <= 10; "
        "DELETE FROM items WHERE id = 20; UPDATE items SET id = -id WHERE id = 30");
    ASSERT_TRUE(WaitDrained(src, {"crosswalk_out"}, 30s)) << ReadFile(err);
    EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  }
  std::vector<Message> events = FromLines(out, "public.items");
  std::map<std::string, int> ops;
  for (const auto& m : events) ++ops[m.value.at("op").get<std::string>()];
  // 300 reads, 2 inserts, 10 updates, 1 delete, a key change as d + c.
  EXPECT_EQ(ops, (std::map<std::string, int>{{"r", 300}, {"c", 3}, {"u", 10}, {"d", 2}}));
  EXPECT_EQ(ApplyInOrder(events), SourceRows(src));
  std::ifstream in(err);
  std::string line;
  int logs = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(!j.is_discarded() && j.contains("event")) << "not a log record on stderr: " << line;
    EXPECT_FALSE(j.contains("value")) << "an event on stderr: " << line;
    ++logs;
  }
  EXPECT_GE(logs, 3);  // snapshot_start, snapshot_done, streaming at least
}

// Every broker down for longer than message.timeout.ms: deliveries fail, the
// peer reconnects with new producers, and the slot stays before the failed
// transaction; once the brokers are back every event arrives.
TEST(KafkaSinkFaultsTest, UndeliveredEventsHoldTheSlotAndArriveAfterTheBrokersReturn) {
  Cluster source;
  auto src = source.Connect();
  src.Exec(
      "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, note text NOT NULL); "
      "INSERT INTO items SELECT g, g, 'n' || g FROM generate_series(1, 100) g");
  MockKafka kafka(3);
  kafka.CreateTopic(kTopic, 3);
  std::string config = WriteFile(source.dir() + "/sync.json", "{" + SourceConfig(source) + R"J(,
    "peers": [ { "name": "events", "kafka": { "brokers": ")J" + kafka.bootstraps() +
                                                                  R"J(",
                 "properties": { "message.timeout.ms": 1000, "retry.backoff.ms": 50, "linger.ms": 5,
                                 "reconnect.backoff.max.ms": 500 } },
                 "tables": [ { "source": "public.items" } ] } ] })J");
  std::string log = source.dir() + "/daemon.log";
  Daemon daemon("run", config, log);
  ASSERT_TRUE(PollUntil([&] { return CountOf(ReadFile(log), "\"event\":\"streaming\"") == 1; }, 60s)) << ReadFile(log);
  src.Exec("INSERT INTO items VALUES (101, 101, 'before')");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_events"}, 30s)) << ReadFile(log);

  for (int b = 1; b <= 3; ++b) kafka.SetBrokerDown(b);
  const std::string before = *src.Scalar("SELECT pg_current_wal_insert_lsn()::text");
  src.Exec(
      "BEGIN; INSERT INTO items SELECT g, g, 'during' FROM generate_series(1001, 1500) g; "
      "UPDATE items SET note = 'u' WHERE id <= 50; COMMIT");
  // Deliveries time out (1 s) several times over while the slot holds.
  ASSERT_TRUE(PollUntil([&] { return CountOf(ReadFile(log), "event delivery failed") >= 2; }, 30s)) << ReadFile(log);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(src.Scalar("SELECT confirmed_flush_lsn <= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = "
                         "'crosswalk_events'",
                         {before}),
              "t")
        << "the slot was confirmed past the undelivered transaction";
    std::this_thread::sleep_for(200ms);
  }
  std::string failing = ReadFile(log);
  EXPECT_GE(CountOf(failing, "\"event\":\"reconnect\""), 2u);
  EXPECT_NE(failing.find("\"sqlstate\":\"08006\""), std::string::npos);

  for (int b = 1; b <= 3; ++b) kafka.SetBrokerUp(b);
  src.Exec("INSERT INTO items VALUES (2000, 2000, 'after')");
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_events"}, 60s)) << ReadFile(log);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);

  std::vector<Message> events = FromKafka(kafka.bootstraps());
  // Row events only: on a loaded machine the first snapshot's delivery can
  // time out too (message.timeout.ms is 1 s here), and its redo begins with
  // truncate events, which have no key.
  std::set<std::string> keys;
  for (const auto& m : events) {
    if (m.value.at("op") != "t") keys.insert(m.key);
  }
  std::string listed;
  for (const auto& k : keys) listed += k + " ";
  EXPECT_EQ(keys.size(), 602u) << listed << ReadFile(log);  // ids 1..101, 1001..1500, 2000
  EXPECT_EQ(ApplyInOrder(events), SourceRows(src));
}

// `check` against brokers nobody listens on, and a file it cannot open:
// a clear error naming the config path, exit code 2.
TEST(KafkaSinkFaultsTest, CheckFailsClearlyOnAnUnreachableBrokerOrFile) {
  Cluster source;
  auto src = source.Connect();
  src.Exec("CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, note text NOT NULL)");
  std::string kafka_config = WriteFile(source.dir() + "/kafka.json", "{" + SourceConfig(source) + R"J(,
    "peers": [ { "name": "events", "kafka": { "brokers": "127.0.0.1:)J" + std::to_string(FreePort()) +
                                                                         R"J(" },
                 "tables": [ { "source": "public.items" } ] } ] })J");
  auto t0 = std::chrono::steady_clock::now();
  Output r = RunCommand("check", kafka_config, source.dir());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out.find("peer events"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("crosswalk-sync: kafka: peers[0].kafka.brokers: no answer: "), std::string::npos) << r.err;
  std::cout << "check gave up on the broker after " << secs << " s\n";

  std::string file_config = WriteFile(source.dir() + "/file.json", "{" + SourceConfig(source) + R"J(,
    "peers": [ { "name": "lines", "file": ")J" + source.dir() + R"J(/no/such/dir/events.jsonl",
                 "tables": [ { "source": "public.items" } ] } ] })J");
  r = RunCommand("check", file_config, source.dir());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("crosswalk-sync: cannot open event file " + source.dir() +
                       "/no/such/dir/events.jsonl: "
                       "No such file or directory"),
            std::string::npos)
      << r.err;

  // `check` beside a running daemon: the file's last line, which the daemon
  // may be half-way through writing, is left as it is (only run cuts it).
  std::string live = source.dir() + "/live.jsonl";
  WriteFile(live, "{\"topic\":\"a\",\"partition\":-1,\"key\":null,\"value\":{}}\n{\"topic\":\"crosswalk.pub");
  std::string live_config = WriteFile(source.dir() + "/live.json", "{" + SourceConfig(source) + R"J(,
    "peers": [ { "name": "lines", "file": ")J" + live + R"J(", "tables": [ { "source": "public.items" } ] } ] })J");
  r = RunCommand("check", live_config, source.dir());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFile(live), "{\"topic\":\"a\",\"partition\":-1,\"key\":null,\"value\":{}}\n{\"topic\":\"crosswalk.pub");
}

}  // namespace
}  // namespace crosswalk::test
