// Event peers against real parts: a real source cluster, librdkafka's mock
// Kafka cluster (hosted by this test process) as the broker, crosswalk-sync
// as a child process. A consumer reads every event back and replays them per
// key; the result must equal the source table row for row (snapshot, then
// inserts, updates, key changes, deletes and a truncate), while brokers go
// down and requests fail, and across a kill -9 of the daemon. Repeats after
// a crash must carry the same (commit_lsn, event_seq) as the first copy. The
// file peer's JSON lines get the same check.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"
#include "kafka_mock.hpp"
#include "master_key_file.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* kTopic = "crosswalk.public.items";

// A message as (partition, key, value) for the replay.
struct Message {
  int partition = 0;
  std::string key;
  std::string value;
};

// What the replay of a topic found.
struct Replay {
  std::map<std::string, json> rows;  // key -> last "after"
  std::size_t events = 0, duplicates = 0, truncates = 0, snapshot_reads = 0;
  std::set<char> ops;
};

// Replays the events per partition in order, dropping repeats (same
// commit_lsn and event_seq, whose content must then equal the first copy's),
// and checking each key's events come in increasing (commit_lsn, event_seq).
Replay ReplayEvents(const std::vector<Message>& messages) {
  Replay r;
  std::map<std::pair<int, std::pair<std::uint64_t, std::uint64_t>>, std::string> seen;
  std::map<std::pair<int, std::string>, std::pair<std::uint64_t, std::uint64_t>> last_of_key;
  std::map<int, std::set<std::string>> keys_in_partition;
  for (const auto& m : messages) {
    json v = json::parse(m.value);
    const json& s = v.at("source");
    std::pair<std::uint64_t, std::uint64_t> pos{s.at("commit_lsn").get<std::uint64_t>(),
                                                s.at("event_seq").get<std::uint64_t>()};
    json content = v;
    content.erase("ts_ms");
    auto [it, fresh] = seen.emplace(std::make_pair(m.partition, pos), content.dump());
    if (!fresh) {
      ++r.duplicates;
      EXPECT_EQ(it->second, content.dump()) << "a repeat differs from its first copy";
      continue;
    }
    ++r.events;
    char op = v.at("op").get<std::string>().at(0);
    r.ops.insert(op);
    if (op == 't') {
      ++r.truncates;
      for (const auto& k : keys_in_partition[m.partition]) r.rows.erase(k);
      keys_in_partition[m.partition].clear();
      continue;
    }
    auto& last = last_of_key[{m.partition, m.key}];
    EXPECT_LT(last, pos) << "events of key " << m.key << " out of order";
    last = pos;
    if (op == 'r') ++r.snapshot_reads;
    if (op == 'd') {
      EXPECT_TRUE(v.at("after").is_null());
      r.rows.erase(m.key);
      keys_in_partition[m.partition].erase(m.key);
    } else {
      r.rows[m.key] = v.at("after");
      keys_in_partition[m.partition].insert(m.key);
    }
  }
  return r;
}

// The replayed rows as "id|user_id|person|v|secret" lines, sorted.
std::vector<std::string> RowLines(const Replay& r) {
  std::vector<std::string> out;
  for (const auto& [key, row] : r.rows) {
    EXPECT_EQ(json::parse(key), json({{"id", row.at("id")}})) << "message key is not the row's key";
    auto text = [](const json& j) {
      return j.is_null() ? std::string("") : j.is_string() ? j.get<std::string>() : j.dump();
    };
    out.push_back(text(row.at("id")) + "|" + text(row.at("user_id")) + "|" + text(row.at("person")) + "|" +
                  text(row.at("v")) + "|" + text(row.at("secret")));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SourceLines(pq::Connection& src) {
  pq::Result r = src.Exec(
      "SELECT format('%s|%s|%s|%s|%s', id, coalesce(user_id, ''), coalesce(crosswalk.resolve('learnhub', "
      "user_id)::text, ''), coalesce(v::text, ''), coalesce(secret::text, '')) FROM items");
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.value(i, 0));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Message> FileMessages(const std::string& path) {
  std::vector<Message> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    EXPECT_EQ(j.at("topic"), kTopic);
    out.push_back(Message{0, j.at("key").is_null() ? "" : j.at("key").dump(), j.at("value").dump()});
  }
  return out;
}

std::size_t CountEvents(const std::string& log, const std::string& event) {
  std::size_t n = 0;
  for (std::size_t at = log.find(event); at != std::string::npos; at = log.find(event, at + 1)) ++n;
  return n;
}

TEST(KafkaSinkTest, EveryChangeArrivesInOrderPerKeyThroughBrokerFailuresAndAKill) {
  MasterKeyFile key(TestMasterKeyHex(7));
  Cluster source({key.ConfLine()});
  source.CreateDatabaseWithExtension("learnhub");
  auto src = source.Connect("learnhub");
  src.Exec(
      "SELECT crosswalk.register_platform('learnhub'); "
      "SELECT crosswalk.link('learnhub', u::text) FROM generate_series(1, 40) u; "
      "SELECT crosswalk.create_key('items_key'); "
      "CREATE TABLE items (id bigint PRIMARY KEY, user_id text, v int, secret crosswalk.encrypted, note text); "
      "INSERT INTO items SELECT g, (g % 50)::text, g, crosswalk.encrypt('plain-' || g, 'items_key'), 'n' "
      "FROM generate_series(1, 500) g");

  MockKafka kafka(3);
  kafka.CreateTopic(kTopic, 4);
  std::string events_file = source.dir() + "/events.jsonl";
  std::string config = WriteFile(source.dir() + "/sync.json", R"J({
    "source": { "dsn": ")J" + source.Dsn("learnhub") + R"J(", "platform": "learnhub",
                "publication": "crosswalk", "create_publication": true },
    "peers": [
      { "name": "events", "kafka": { "brokers": ")J" + kafka.bootstraps() +
                                                                  R"J(", "topic_prefix": "crosswalk.",
                                      "properties": { "linger.ms": 2, "retry.backoff.ms": 50 } },
        "format": "debezium-json",
        "tables": [ { "source": "public.items",
                      "columns": { "id": "id", "user_id": "user_id", "person": { "identity": "user_id" },
                                   "v": "v", "secret": "secret" } } ] },
      { "name": "lines", "file": ")J" + events_file + R"J(",
        "tables": [ { "source": "public.items", "topic": "crosswalk.public.items",
                      "columns": { "id": "id", "user_id": "user_id", "person": { "identity": "user_id" },
                                   "v": "v", "secret": "secret" } } ] } ] })J");
  std::string log = source.dir() + "/daemon.log";

  std::atomic<bool> stop_writing{false};
  std::atomic<int> batches{0};
  // Inserts, updates, key changes and deletes in mixed transactions.
  auto workload = [&](long long first_id, int count) {
    auto w = source.Connect("learnhub");
    for (int i = 0; i < count && !stop_writing; ++i) {
      long long lo = first_id + i * 20;
      w.Exec(
          "BEGIN; INSERT INTO items SELECT g, (g % 60)::text, 0, crosswalk.encrypt('w' || g, 'items_key'), 'w' "
          "FROM generate_series(" +
          std::to_string(lo) + ", " + std::to_string(lo + 19) +
          ") g; "
          "UPDATE items SET v = v + 1 WHERE id % 7 = " +
          std::to_string(i % 7) +
          "; "
          "UPDATE items SET id = -id WHERE id = " +
          std::to_string(lo + 3) +
          "; "
          "DELETE FROM items WHERE id = " +
          std::to_string(lo + 5) + " OR id = " + std::to_string(10 + i) +
          "; "
          "COMMIT");
      ++batches;
      std::this_thread::sleep_for(10ms);
    }
  };

  {
    Daemon daemon("run", config, log);
    for (auto deadline = std::chrono::steady_clock::now() + 60s;
         CountEvents(ReadFile(log), "\"event\":\"streaming\"") < 2 && std::chrono::steady_clock::now() < deadline;) {
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(CountEvents(ReadFile(log), "\"event\":\"streaming\""), 2u) << ReadFile(log);
    std::thread writer([&] { workload(100000, 60); });
    // Broker failures while the workload streams: a broker down and back,
    // produce requests failing with retriable errors.
    std::this_thread::sleep_for(300ms);
    kafka.SetBrokerDown(2);
    std::this_thread::sleep_for(700ms);
    kafka.SetBrokerUp(2);
    kafka.PushRequestErrors(0 /* Produce */, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    kafka.PushRequestErrors(0 /* Produce */, 3, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    writer.join();
    src.Exec("TRUNCATE items; INSERT INTO items SELECT g, (g % 50)::text, g, NULL, 't' FROM generate_series(1, 30) g");
    // The kill: mid-stream, under a second workload.
    std::thread writer2([&] { workload(200000, 80); });
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(daemon.Stop(SIGKILL), 128 + SIGKILL);
    writer2.join();
  }
  const std::size_t before_restart = ReadFile(log).size();
  Daemon daemon("run", config, log);
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       CountEvents(ReadFile(log).substr(before_restart), "\"event\":\"streaming\"") < 2 &&
       std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(WaitDrained(src, {"crosswalk_events", "crosswalk_lines"}, 120s)) << ReadFile(log);
  EXPECT_EQ(daemon.Stop(SIGTERM), 0);
  EXPECT_EQ(batches.load(), 140);

  std::vector<std::string> expected = SourceLines(src);
  ASSERT_GT(expected.size(), 1000u);
  // The encrypted column travels as its ciphertext text, never the plaintext.
  EXPECT_EQ(ReadFile(events_file).find("plain-"), std::string::npos);

  std::vector<Message> from_kafka;
  for (auto& m : ReadTopic(kafka.bootstraps(), kTopic)) {
    EXPECT_TRUE(m.has_key || json::parse(m.value).at("op") == "t");
    from_kafka.push_back(Message{m.partition, m.key, m.value});
  }
  for (const auto& [name, messages] : std::vector<std::pair<std::string, std::vector<Message>>>{
           {"kafka", from_kafka}, {"file", FileMessages(events_file)}}) {
    SCOPED_TRACE(name);
    Replay r = ReplayEvents(messages);
    EXPECT_EQ(RowLines(r), expected);
    EXPECT_EQ(r.snapshot_reads, 500u);
    EXPECT_EQ(r.ops, (std::set<char>{'r', 'c', 'u', 'd', 't'}));
    // The truncate reached every partition.
    EXPECT_EQ(r.truncates, name == "kafka" ? 4u : 1u);
    std::cout << name << ": " << r.events << " events, " << r.duplicates << " repeats after the kill\n";
  }
}

}  // namespace
}  // namespace crosswalk::test
