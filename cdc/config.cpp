#include "config.hpp"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "config_reader.hpp"
#include "error.hpp"
#include "event_config.hpp"

namespace crosswalk::cdc {

using nlohmann::json;
using namespace config_reader;

const char* UnmappedIdentityName(UnmappedIdentity mode) {
  switch (mode) {
    case UnmappedIdentity::kProvision:
      return "provision";
    case UnmappedIdentity::kSkip:
      return "skip";
    case UnmappedIdentity::kHold:
      return "hold";
  }
  return "?";
}

const char* ConflictPolicyName(ConflictPolicy policy) {
  switch (policy) {
    case ConflictPolicy::kLastWriterWins:
      return "last_writer_wins";
    case ConflictPolicy::kSourcePriority:
      return "source_priority";
    case ConflictPolicy::kDeadLetter:
      return "dead_letter";
  }
  return "?";
}

namespace {

SourceConfig ParseSource(const json& j) {
  Object o(j, "source", {"dsn", "platform", "publication", "create_publication"});
  SourceConfig s;
  s.dsn = o.String("dsn");
  s.platform = o.String("platform");
  s.publication = o.String("publication");
  s.create_publication = o.Bool("create_publication", false);
  return s;
}

ColumnMapping ParseColumn(const std::string& target, const json& v, const std::string& path) {
  ColumnMapping c;
  c.target = target;
  c.path = path;
  if (target.empty()) Fail(path, "empty target column name");
  if (v.is_string()) {
    c.expression = Object::StringValue(v, path);
    return c;
  }
  if (v.is_object()) {
    Object o(v, path, {"identity"});
    c.identity_column = o.String("identity");
    return c;
  }
  Fail(path, std::string("expected a string (a SQL expression over the source row) or {\"identity\": COLUMN}, got ") +
                 TypeName(v));
}

TwoWayConfig ParseTwoWay(const json& j, const std::string& path, const TableMapping& t) {
  Object o(j, path, {"conflicts", "priority", "reverse", "tombstone_retention_seconds"});
  TwoWayConfig w;
  w.path = path;
  std::string policy = o.OptionalString("conflicts").value_or("last_writer_wins");
  if (policy == "last_writer_wins")
    w.conflicts = ConflictPolicy::kLastWriterWins;
  else if (policy == "source_priority")
    w.conflicts = ConflictPolicy::kSourcePriority;
  else if (policy == "dead_letter")
    w.conflicts = ConflictPolicy::kDeadLetter;
  else
    Fail(o.PathOf("conflicts"), "\"" + policy + "\" is not one of last_writer_wins, source_priority, dead_letter");
  w.priority = o.OptionalString("priority");
  if (w.conflicts == ConflictPolicy::kSourcePriority && !w.priority) {
    Fail(o.PathOf("priority"), "missing: conflicts is \"source_priority\"", "Name the platform whose change wins.");
  }
  if (w.conflicts != ConflictPolicy::kSourcePriority && w.priority) {
    Fail(o.PathOf("priority"), "only meaningful with \"conflicts\": \"source_priority\"");
  }
  if (o.Has("reverse")) {
    const json& r = o.At("reverse");
    if (!r.is_object()) Fail(o.PathOf("reverse"), std::string("expected an object, got ") + TypeName(r));
    for (auto it = r.begin(); it != r.end(); ++it) {
      std::string p = o.PathOf("reverse") + "." + it.key();
      if (it.key().empty()) Fail(p, "empty source column name");
      w.reverse.emplace_back(it.key(), Object::StringValue(it.value(), p));
    }
  }
  w.tombstone_retention_seconds =
      o.OptionalInt("tombstone_retention_seconds", 60, 365 * 86400).value_or(w.tombstone_retention_seconds);
  if (t.where) {
    Fail(path, "a two-way table cannot have a \"where\" filter",
         "A row leaving the filter on one side would be deleted on the other.");
  }
  return w;
}

TableMapping ParseTable(const json& j, const std::string& path) {
  Object o(j, path, {"source", "target", "key", "columns", "where", "snapshot_order_by", "two_way"});
  TableMapping t;
  t.path = path;
  t.source = ParseQualifiedName(o.String("source"), "config: " + o.PathOf("source"));
  t.target = ParseQualifiedName(o.String("target"), "config: " + o.PathOf("target"));

  if (!o.Has("columns")) Fail(o.PathOf("columns"), "missing (an object of target column: expression)");
  const json& cols = o.At("columns");
  if (!cols.is_object()) Fail(o.PathOf("columns"), std::string("expected an object, got ") + TypeName(cols));
  if (cols.empty()) Fail(o.PathOf("columns"), "must map at least one column");
  for (auto it = cols.begin(); it != cols.end(); ++it) {
    t.columns.push_back(ParseColumn(it.key(), it.value(), o.PathOf("columns") + "." + it.key()));
  }

  if (!o.Has("key")) Fail(o.PathOf("key"), "missing (an array of target column names)");
  const json& key = o.At("key");
  if (!key.is_array()) Fail(o.PathOf("key"), std::string("expected an array, got ") + TypeName(key));
  if (key.empty()) Fail(o.PathOf("key"), "must name at least one column");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::string p = o.PathOf("key") + "[" + std::to_string(i) + "]";
    std::string name = Object::StringValue(key[i], p);
    bool mapped = false;
    for (const auto& c : t.columns) mapped = mapped || c.target == name;
    if (!mapped) Fail(p, "key column \"" + name + "\" is not in columns", "Every key column must be mapped.");
    if (!seen.insert(name).second) Fail(p, "key column \"" + name + "\" listed twice");
    t.key.push_back(name);
  }
  t.where = o.OptionalString("where");
  if (o.Has("snapshot_order_by")) {
    const json& order = o.At("snapshot_order_by");
    const std::string p = o.PathOf("snapshot_order_by");
    if (!order.is_array() || order.empty()) {
      Fail(p, std::string("expected a non-empty array of source column names, got ") + TypeName(order));
    }
    for (std::size_t i = 0; i < order.size(); ++i) {
      t.snapshot_order_by.push_back(Object::StringValue(order[i], p + "[" + std::to_string(i) + "]"));
    }
  }
  if (o.Has("two_way")) t.two_way = ParseTwoWay(o.At("two_way"), o.PathOf("two_way"), t);
  return t;
}

}  // namespace

void config_reader::ParsePeerName(const Object& o, PeerConfig& p) {
  p.path = o.path();
  p.name = o.String("name");
  static const std::regex name_re("[a-z0-9_]{1,40}");
  if (!std::regex_match(p.name, name_re)) {
    Fail(o.PathOf("name"), "\"" + p.name + "\" is not 1 to 40 of a-z, 0-9 and _",
         "The name is used in the replication slot name.");
  }
  p.slot = o.OptionalString("slot").value_or("crosswalk_" + p.name);
  static const std::regex slot_re("[a-z0-9_]{1,63}");
  if (!std::regex_match(p.slot, slot_re)) {
    Fail(o.PathOf("slot"), "\"" + p.slot + "\" is not a valid replication slot name (1 to 63 of a-z, 0-9, _)");
  }
}

namespace {

PeerConfig ParsePeer(const json& j, const std::string& path) {
  if (j.is_object() && (j.contains("kafka") || j.contains("file"))) return ParseEventPeer(j, path);
  Object o(j, path,
           {"name", "dsn", "platform", "slot", "on_unmapped_identity", "provision_sql", "tables", "forward_origins",
            "reverse_slot", "reverse_publication"});
  PeerConfig p;
  ParsePeerName(o, p);
  p.dsn = o.String("dsn");
  p.platform = o.String("platform");
  p.forward_origins = o.Bool("forward_origins", true);
  p.reverse_slot = o.OptionalString("reverse_slot").value_or(p.slot.substr(0, 59) + "_rev");
  static const std::regex slot_re("[a-z0-9_]{1,63}");
  if (!std::regex_match(p.reverse_slot, slot_re)) {
    Fail(o.PathOf("reverse_slot"),
         "\"" + p.reverse_slot + "\" is not a valid replication slot name (1 to 63 of a-z, 0-9, _)");
  }
  p.reverse_publication = o.OptionalString("reverse_publication").value_or(p.reverse_publication);
  std::string mode = o.OptionalString("on_unmapped_identity").value_or("skip");
  if (mode == "provision")
    p.on_unmapped_identity = UnmappedIdentity::kProvision;
  else if (mode == "skip")
    p.on_unmapped_identity = UnmappedIdentity::kSkip;
  else if (mode == "hold")
    p.on_unmapped_identity = UnmappedIdentity::kHold;
  else
    Fail(o.PathOf("on_unmapped_identity"), "\"" + mode + "\" is not one of provision, skip, hold");
  p.provision_sql = o.OptionalString("provision_sql");
  if (p.on_unmapped_identity == UnmappedIdentity::kProvision && !p.provision_sql) {
    Fail(o.PathOf("provision_sql"), "missing: on_unmapped_identity is \"provision\"",
         "Give a statement that creates the user from $1 (the source row as jsonb) and returns its new id.");
  }
  if (!o.Has("tables")) Fail(o.PathOf("tables"), "missing (an array of table mappings)");
  const json& tables = o.At("tables");
  if (!tables.is_array()) Fail(o.PathOf("tables"), std::string("expected an array, got ") + TypeName(tables));
  if (tables.empty()) Fail(o.PathOf("tables"), "must map at least one table");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    p.tables.push_back(ParseTable(tables[i], o.PathOf("tables") + "[" + std::to_string(i) + "]"));
  }
  return p;
}

}  // namespace

Config ParseConfig(const std::string& text) {
  json j;
  // Say where, not what: nlohmann's own messages quote the text they stopped
  // at, which may be part of a DSN with a password, or megabytes long.
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(sqlstate::kConfigFileError, "config: not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::out_of_range&) {
    throw Error(sqlstate::kConfigFileError, "config: not valid JSON (a number is out of range)");
  } catch (const json::exception&) {
    throw Error(sqlstate::kConfigFileError, "config: not valid JSON");
  }
  Object top(j, "", {"source", "identity", "peers", "apply", "metrics", "alerts"});
  Config c;
  if (!top.Has("source")) Fail("source", "missing");
  c.source = ParseSource(top.At("source"));

  c.identity.dsn = c.source.dsn;
  if (top.Has("identity")) {
    Object o(top.At("identity"), "identity", {"dsn", "cache_seconds"});
    c.identity.dsn = o.OptionalString("dsn").value_or(c.source.dsn);
    c.identity.cache_seconds = o.OptionalInt("cache_seconds", 0, 86400).value_or(60);
  }
  if (top.Has("apply")) {
    Object o(top.At("apply"), "apply", {"batch_rows", "status_interval_seconds"});
    c.apply.batch_rows = o.OptionalInt("batch_rows", 1, 1000000).value_or(c.apply.batch_rows);
    c.apply.status_interval_seconds =
        o.OptionalInt("status_interval_seconds", 1, 10).value_or(c.apply.status_interval_seconds);
  }
  if (top.Has("metrics")) {
    Object o(top.At("metrics"), "metrics", {"listen"});
    c.metrics.listen = o.OptionalString("listen");
    static const std::regex listen_re(R"(([^:\s]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5}))");
    if (c.metrics.listen && !std::regex_match(*c.metrics.listen, listen_re)) {
      Fail("metrics.listen", "\"" + *c.metrics.listen + "\" is not HOST:PORT");
    }
  }
  if (top.Has("alerts")) {
    Object o(top.At("alerts"), "alerts", {"lag_seconds", "dead_letters", "command"});
    c.alerts.lag_seconds = o.OptionalNumber("lag_seconds", 0);
    c.alerts.dead_letters = o.OptionalInt("dead_letters", 1, 1 << 30);
    c.alerts.command = o.OptionalString("command");
  }

  if (!top.Has("peers")) Fail("peers", "missing (an array of peers)");
  const json& peers = top.At("peers");
  if (!peers.is_array()) Fail("peers", std::string("expected an array, got ") + TypeName(peers));
  if (peers.empty()) Fail("peers", "must list at least one peer");
  std::map<std::string, std::string> names, slots;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    std::string path = "peers[" + std::to_string(i) + "]";
    PeerConfig p = ParsePeer(peers[i], path);
    if (p.kind == PeerKind::kDatabase && p.platform == c.source.platform) {
      Fail(path + ".platform", "\"" + p.platform + "\" is the source's platform");
    }
    for (const auto& t : p.tables) {
      if (t.two_way && t.two_way->priority && *t.two_way->priority != c.source.platform &&
          *t.two_way->priority != p.platform) {
        Fail(t.two_way->path + ".priority",
             "\"" + *t.two_way->priority + "\" is neither the source's platform nor this peer's",
             "Name \"" + c.source.platform + "\" or \"" + p.platform + "\".");
      }
    }
    if (!names.emplace(p.name, path).second)
      Fail(path + ".name", "\"" + p.name + "\" is also " + names[p.name] + "'s name");
    if (!slots.emplace(p.slot, path).second)
      Fail(path + ".slot", "\"" + p.slot + "\" is also " + slots[p.slot] + "'s slot");
    c.peers.push_back(std::move(p));
  }
  return c;
}

Config LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(sqlstate::kConfigFileError, "config: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str());
}

}  // namespace crosswalk::cdc
