#include "event_config.hpp"

#include <regex>

#include "config_reader.hpp"
#include "kafka.hpp"

namespace crosswalk::cdc {

using namespace config_reader;

namespace {

// Kafka's rule for topic names (and so for what a prefix may hold).
bool IsTopicName(const std::string& s) {
  static const std::regex topic_re("[A-Za-z0-9._-]{1,249}");
  return std::regex_match(s, topic_re);
}

KafkaConfig ParseKafka(const nlohmann::json& j, const std::string& path) {
  Object o(j, path, {"brokers", "topic_prefix", "properties"});
  KafkaConfig k;
  k.brokers = o.String("brokers");
  if (o.Has("topic_prefix")) {
    const auto& v = o.At("topic_prefix");
    if (!v.is_string()) Fail(o.PathOf("topic_prefix"), std::string("expected a string, got ") + TypeName(v));
    k.topic_prefix = v.get<std::string>();
    if (!k.topic_prefix.empty() && !IsTopicName(k.topic_prefix)) {
      Fail(o.PathOf("topic_prefix"), "\"" + k.topic_prefix + "\" may hold only A-Z, a-z, 0-9, '.', '_' and '-'");
    }
  }
  if (o.Has("properties")) {
    const auto& props = o.At("properties");
    const std::string ppath = o.PathOf("properties");
    if (!props.is_object()) Fail(ppath, std::string("expected an object, got ") + TypeName(props));
    for (auto it = props.begin(); it != props.end(); ++it) {
      const std::string p = ppath + "." + it.key();
      std::string value;
      if (it.value().is_string()) {
        value = it.value().get<std::string>();
      } else if (it.value().is_boolean() || it.value().is_number()) {
        value = it.value().dump();
      } else {
        Fail(p, std::string("expected a string, a number or a boolean, got ") + TypeName(it.value()));
      }
      // Checked by librdkafka itself, so a misspelt property fails here.
      std::string why = CheckKafkaProperty(it.key(), value);
      if (!why.empty()) Fail(p, why);
      k.properties.emplace_back(it.key(), value);
    }
  }
  return k;
}

TableMapping ParseEventTable(const nlohmann::json& j, const std::string& path, const std::string& topic_prefix) {
  for (const char* key : {"target", "where", "snapshot_order_by"}) {
    if (j.is_object() && j.contains(key)) {
      Fail(Join(path, key), "not used by an event peer",
           std::string(key) == "where"
               ? "Events carry every change of the table; filter in the consumer, or give the publication a row "
                 "filter (CREATE PUBLICATION ... FOR TABLE t WHERE (...))."
               : "An event peer names its topic with \"topic\".");
    }
  }
  Object o(j, path, {"source", "topic", "key", "columns"});
  TableMapping t;
  t.path = path;
  t.source = ParseQualifiedName(o.String("source"), "config: " + o.PathOf("source"));
  t.target = t.source;
  if (o.Has("topic")) {
    t.topic = o.String("topic");
    if (!IsTopicName(t.topic)) {
      Fail(o.PathOf("topic"), "\"" + t.topic + "\" is not a Kafka topic name (1 to 249 of A-Z, a-z, 0-9, . _ -)");
    }
  } else {
    t.topic = topic_prefix + t.source.schema + "." + t.source.name;
    if (!IsTopicName(t.topic)) {
      Fail(o.PathOf("source"), "the default topic \"" + t.topic + "\" is not a Kafka topic name",
           "Name the topic with \"topic\".");
    }
  }
  if (o.Has("columns")) {
    const auto& cols = o.At("columns");
    const std::string cpath = o.PathOf("columns");
    if (!cols.is_object()) Fail(cpath, std::string("expected an object, got ") + TypeName(cols));
    if (cols.empty()) Fail(cpath, "must map at least one column", "Leave \"columns\" out for every source column.");
    for (auto it = cols.begin(); it != cols.end(); ++it) {
      ColumnMapping c;
      c.target = it.key();
      c.path = cpath + "." + it.key();
      if (it.value().is_string()) {
        // No SQL here: nothing evaluates it. A plain source column name.
        c.expression = Object::StringValue(it.value(), c.path);
      } else if (it.value().is_object()) {
        Object id(it.value(), c.path, {"identity"});
        c.identity_column = id.String("identity");
      } else {
        Fail(c.path,
             std::string("expected a source column name or {\"identity\": COLUMN}, got ") + TypeName(it.value()));
      }
      t.columns.push_back(std::move(c));
    }
  }
  if (o.Has("key")) {
    const auto& key = o.At("key");
    const std::string kpath = o.PathOf("key");
    if (!key.is_array()) Fail(kpath, std::string("expected an array, got ") + TypeName(key));
    if (key.empty()) Fail(kpath, "must name at least one field", "Leave \"key\" out for the replica identity.");
    for (std::size_t i = 0; i < key.size(); ++i) {
      std::string p = kpath + "[" + std::to_string(i) + "]";
      std::string name = Object::StringValue(key[i], p);
      bool mapped = t.columns.empty();
      for (const auto& c : t.columns) mapped = mapped || c.target == name;
      if (!mapped) Fail(p, "key field \"" + name + "\" is not in columns");
      for (const auto& k : t.key) {
        if (k == name) Fail(p, "key field \"" + name + "\" listed twice");
      }
      t.key.push_back(name);
    }
  }
  return t;
}

}  // namespace

PeerConfig ParseEventPeer(const nlohmann::json& j, const std::string& path) {
  if (j.contains("kafka") && j.contains("file")) {
    Fail(Join(path, "file"), "a peer has either \"kafka\" or \"file\", not both", "Make two peers.");
  }
  const char* kind = j.contains("kafka") ? "a kafka peer" : "a file peer";
  for (const char* key : {"dsn", "platform", "on_unmapped_identity", "provision_sql"}) {
    if (j.contains(key)) {
      Fail(Join(path, key), std::string("not used by ") + kind,
           std::string(key) == "dsn" ? "Events go to \"kafka\" or \"file\", not to a database." : "");
    }
  }
  Object o(j, path, {"name", "slot", "kafka", "file", "format", "tables"});
  PeerConfig p;
  ParsePeerName(o, p);
  std::string topic_prefix;
  if (o.Has("kafka")) {
    p.kind = PeerKind::kKafka;
    p.kafka = ParseKafka(o.At("kafka"), o.PathOf("kafka"));
    topic_prefix = p.kafka.topic_prefix;
  } else {
    p.kind = PeerKind::kFile;
    p.file = o.String("file");
  }
  p.format = o.OptionalString("format").value_or("debezium-json");
  if (p.format != "debezium-json") Fail(o.PathOf("format"), "\"" + p.format + "\" is not one of debezium-json");
  if (!o.Has("tables")) Fail(o.PathOf("tables"), "missing (an array of source tables)");
  const auto& tables = o.At("tables");
  if (!tables.is_array()) Fail(o.PathOf("tables"), std::string("expected an array, got ") + TypeName(tables));
  if (tables.empty()) Fail(o.PathOf("tables"), "must list at least one table");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    std::string tpath = o.PathOf("tables") + "[" + std::to_string(i) + "]";
    TableMapping t = ParseEventTable(tables[i], tpath, topic_prefix);
    for (const auto& other : p.tables) {
      if (other.source == t.source) Fail(tpath + ".source", t.source.Display() + " is listed twice for this peer");
    }
    p.tables.push_back(std::move(t));
  }
  return p;
}

}  // namespace crosswalk::cdc
