// Event peers' config (kafka, file): a good one parses into what it says;
// each bad one is rejected with SQLSTATE F0000 and the JSON path of the bad
// field, including librdkafka properties librdkafka itself refuses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "error.hpp"

namespace crosswalk::cdc {
namespace {

using nlohmann::json;

json EventConfig() {
  return json::parse(R"J({
    "source": { "dsn": "host=/tmp dbname=learnhub", "platform": "learnhub", "publication": "crosswalk" },
    "peers": [
      { "name": "events", "kafka": { "brokers": "k1:9092,k2:9092", "topic_prefix": "crosswalk.",
                                     "properties": { "linger.ms": 5, "compression.type": "zstd" } },
        "format": "debezium-json",
        "tables": [ { "source": "public.enrollments",
                      "columns": { "user_id": "user_id", "person": { "identity": "user_id" }, "score": "score" },
                      "key": ["user_id"] },
                    { "source": "courses" } ] },
      { "name": "lines", "file": "-", "tables": [ { "source": "courses", "topic": "my.courses" } ] } ] })J");
}

TEST(EventConfig, ParsesKafkaAndFilePeers) {
  Config c = ParseConfig(EventConfig().dump());
  ASSERT_EQ(c.peers.size(), 2u);
  const PeerConfig& k = c.peers[0];
  EXPECT_EQ(k.kind, PeerKind::kKafka);
  EXPECT_EQ(k.slot, "crosswalk_events");
  EXPECT_EQ(k.kafka.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(k.kafka.properties,
            (std::vector<std::pair<std::string, std::string>>{{"compression.type", "zstd"}, {"linger.ms", "5"}}));
  EXPECT_EQ(k.tables[0].topic, "crosswalk.public.enrollments");
  EXPECT_EQ(k.tables[0].key, std::vector<std::string>{"user_id"});
  ASSERT_EQ(k.tables[0].columns.size(), 3u);
  EXPECT_EQ(*k.tables[0].columns[0].identity_column, "user_id");  // "person", keys sorted
  EXPECT_EQ(k.tables[0].columns[1].expression, "score");
  // Left out: every column, and the replica identity as key.
  EXPECT_TRUE(k.tables[1].columns.empty());
  EXPECT_TRUE(k.tables[1].key.empty());
  EXPECT_EQ(k.tables[1].topic, "crosswalk.public.courses");
  const PeerConfig& f = c.peers[1];
  EXPECT_EQ(f.kind, PeerKind::kFile);
  EXPECT_EQ(f.file, "-");
  EXPECT_EQ(f.format, "debezium-json");
  EXPECT_EQ(f.tables[0].topic, "my.courses");
}

struct BadCase {
  const char* pointer;
  json value;
  bool erase;
  const char* message;
};

TEST(EventConfig, EachBadFieldIsNamedByItsPath) {
  const std::vector<BadCase> cases = {
      {"/peers/0/dsn", "host=x", false, "config: peers[0].dsn: not used by a kafka peer"},
      {"/peers/0/platform", "x", false, "config: peers[0].platform: not used by a kafka peer"},
      {"/peers/1/on_unmapped_identity", "skip", false,
       "config: peers[1].on_unmapped_identity: not used by a file peer"},
      {"/peers/0/file", "/tmp/x", false, "config: peers[0].file: a peer has either \"kafka\" or \"file\""},
      {"/peers/0/kafka", "k1:9092", false, "config: peers[0].kafka: expected an object, got a string"},
      {"/peers/0/kafka/brokers", nullptr, true, "config: peers[0].kafka.brokers: missing"},
      {"/peers/0/kafka/brokers", "", false, "config: peers[0].kafka.brokers: must not be empty"},
      {"/peers/0/kafka/broker", "x", false, "config: peers[0].kafka.broker: unknown key"},
      {"/peers/0/kafka/topic_prefix", "cross walk", false, "config: peers[0].kafka.topic_prefix: \"cross walk\" may"},
      {"/peers/0/kafka/topic_prefix", 7, false, "config: peers[0].kafka.topic_prefix: expected a string"},
      {"/peers/0/kafka/properties", "linger.ms=5", false, "config: peers[0].kafka.properties: expected an object"},
      {"/peers/0/kafka/properties/linger.ms", json::array(), false,
       "config: peers[0].kafka.properties.linger.ms: expected a string, a number or a boolean"},
      {"/peers/0/kafka/properties/linger.msec", 5, false,
       "config: peers[0].kafka.properties.linger.msec: librdkafka refuses it: No such configuration property"},
      {"/peers/0/kafka/properties/compression.type", "rar", false,
       "config: peers[0].kafka.properties.compression.type: librdkafka refuses it"},
      {"/peers/0/kafka/properties/enable.idempotence", false, false,
       "config: peers[0].kafka.properties.enable.idempotence: must stay true"},
      {"/peers/0/kafka/properties/acks", 1, false, "config: peers[0].kafka.properties.acks: must be all"},
      {"/peers/0/kafka/properties/bootstrap.servers", "x:1", false,
       "config: peers[0].kafka.properties.bootstrap.servers: set the brokers with kafka.brokers"},
      {"/peers/0/kafka/properties/transactional.id", "x", false,
       "config: peers[0].kafka.properties.transactional.id: Kafka transactions are not used"},
      {"/peers/0/format", "avro", false, "config: peers[0].format: \"avro\" is not one of debezium-json"},
      {"/peers/1/file", "", false, "config: peers[1].file: must not be empty"},
      {"/peers/1/file", 1, false, "config: peers[1].file: expected a string, got an integer"},
      {"/peers/0/name", "Events!", false, "config: peers[0].name: \"Events!\" is not"},
      {"/peers/0/tables", json::array(), false, "config: peers[0].tables: must list at least one table"},
      {"/peers/0/tables/0/target", "x", false, "config: peers[0].tables[0].target: not used by an event peer"},
      {"/peers/0/tables/0/where", "score > 0", false, "config: peers[0].tables[0].where: not used by an event peer"},
      {"/peers/0/tables/0/colums", json::object(), false, "config: peers[0].tables[0].colums: unknown key"},
      {"/peers/0/tables/0/columns", json::object(), false, "config: peers[0].tables[0].columns: must map at least one"},
      {"/peers/0/tables/0/columns/score", 3, false,
       "config: peers[0].tables[0].columns.score: expected a source column name or {\"identity\": COLUMN}"},
      {"/peers/0/tables/0/columns/person",
       {{"identity", "user_id"}, {"as", "uuid"}},
       false,
       "config: peers[0].tables[0].columns.person.as: unknown key"},
      {"/peers/0/tables/0/key", json::array(), false, "config: peers[0].tables[0].key: must name at least one field"},
      {"/peers/0/tables/0/key/0", "course_id", false,
       "config: peers[0].tables[0].key[0]: key field \"course_id\" is not in columns"},
      {"/peers/0/tables/0/topic", "a topic", false, "config: peers[0].tables[0].topic: \"a topic\" is not a Kafka"},
      {"/peers/0/tables/1/source", "\"Odd Schema\".t", false,
       "config: peers[0].tables[1].source: the default topic \"crosswalk.Odd Schema.t\" is not a Kafka topic name"},
      {"/peers/0/tables/1/source", "public.enrollments", false,
       "config: peers[0].tables[1].source: public.enrollments is listed twice"},
      {"/peers/1/slot", "crosswalk_events", false, "config: peers[1].slot: \"crosswalk_events\" is also peers[0]"},
  };
  for (const auto& bc : cases) {
    json j = EventConfig();
    json::json_pointer ptr(bc.pointer);
    if (bc.erase) {
      j[ptr.parent_pointer()].erase(ptr.back());
    } else {
      j[ptr] = bc.value;
    }
    try {
      ParseConfig(j.dump());
      ADD_FAILURE() << "accepted a config with " << bc.pointer << " = " << bc.value.dump();
    } catch (const Error& e) {
      EXPECT_STREQ(e.sqlstate(), "F0000") << bc.pointer;
      EXPECT_NE(std::string(e.what()).find(bc.message), std::string::npos)
          << bc.pointer << ": got \"" << e.what() << "\", want \"" << bc.message << "\"";
    }
  }
}

}  // namespace
}  // namespace crosswalk::cdc
