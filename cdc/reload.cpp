#include "reload.hpp"

#include <map>

#include "error.hpp"
#include "log.hpp"

namespace crosswalk::cdc {

namespace {

// Collects differences; `Refuse` for what needs a restart or a re-snapshot.
class Differences {
 public:
  void Reload(const std::string& path, const std::string& what) { out_.push_back({path, what, true}); }
  void Refuse(const std::string& path, const std::string& what) { out_.push_back({path, what, false}); }
  template <class T>
  void Compare(const T& a, const T& b, const std::string& path, bool reloadable, const std::string& why) {
    if (a == b) return;
    if (reloadable) {
      Reload(path, "changed");
    } else {
      Refuse(path, "changed: " + why);
    }
  }
  // Turns the differences recorded since `from` into refusals for `why`.
  void RefuseSince(std::size_t from, const std::string& why) {
    for (std::size_t i = from; i < out_.size(); ++i) {
      if (out_[i].reloadable) out_[i] = {out_[i].path, out_[i].what + ": " + why, false};
    }
  }
  std::size_t size() const { return out_.size(); }
  std::vector<ConfigDifference> Take() { return std::move(out_); }

 private:
  std::vector<ConfigDifference> out_;
};

// What a column is mapped from, as text for comparison.
std::string MappedFrom(const ColumnMapping& c) {
  return c.identity_column ? "identity:" + *c.identity_column : c.expression;
}

void CompareTables(const TableMapping& a, const TableMapping& b, Differences& d) {
  const std::size_t from = d.size();
  const std::string snapshot = "rows already on the peer were mapped for the old one; a re-snapshot is needed";
  d.Compare(a.source, b.source, b.path + ".source", false, snapshot);
  d.Compare(a.target, b.target, b.path + ".target", false, snapshot);
  d.Compare(a.key, b.key, b.path + ".key", false, "rows already on the peer are found by the old key");
  std::map<std::string, const ColumnMapping*> old_columns, new_columns;
  for (const auto& c : a.columns) old_columns[c.target] = &c;
  for (const auto& c : b.columns) new_columns[c.target] = &c;
  auto is_key = [&](const std::string& col) {
    for (const auto& k : a.key) {
      if (k == col) return true;
    }
    return false;
  };
  for (const auto& c : a.columns) {
    auto it = new_columns.find(c.target);
    if (it == new_columns.end()) {
      // A removed key column also shows as a key change above.
      if (!is_key(c.target)) d.Reload(b.path + ".columns." + c.target, "removed");
    } else if (MappedFrom(c) != MappedFrom(*it->second)) {
      if (is_key(c.target)) {
        d.Refuse(it->second->path,
                 "changed: it computes the key, and rows already on the peer are found by the old one");
      } else {
        d.Reload(it->second->path, "changed");
      }
    }
  }
  for (const auto& c : b.columns) {
    if (!old_columns.count(c.target)) d.Reload(c.path, "added");
  }
  d.Compare(a.where, b.where, b.path + ".where", true, "");
  d.Compare(a.snapshot_order_by, b.snapshot_order_by, b.path + ".snapshot_order_by", true, "");
  d.Compare(a.topic, b.topic, b.path + ".topic", false, "consumers follow the old topic; restart");
  // A two-way table's mapping also derives its reverse stream, which is
  // set up at start.
  const std::string two_way = "a two-way table's reverse stream is derived at start; restart";
  if (a.two_way.has_value() != b.two_way.has_value()) {
    d.Refuse(b.path + ".two_way", (b.two_way ? "added: " : "removed: ") + two_way);
  } else if (a.two_way) {
    const TwoWayConfig &x = *a.two_way, &y = *b.two_way;
    if (x.conflicts != y.conflicts || x.priority != y.priority || x.reverse != y.reverse ||
        x.tombstone_retention_seconds != y.tombstone_retention_seconds) {
      d.Refuse(b.path + ".two_way", "changed: " + two_way);
    }
  }
  if (a.two_way || b.two_way) d.RefuseSince(from, two_way);
}

void ComparePeers(const PeerConfig& a, const PeerConfig& b, Differences& d) {
  const std::string restart = "needs a restart";
  d.Compare(a.dsn, b.dsn, b.path + ".dsn", false, restart);
  d.Compare(a.platform, b.platform, b.path + ".platform", false, "ids already on the peer are the old platform's");
  d.Compare(a.slot, b.slot, b.path + ".slot", false, "a new slot needs a re-snapshot");
  d.Compare(a.on_unmapped_identity, b.on_unmapped_identity, b.path + ".on_unmapped_identity", false,
            "rows held or dead-lettered under the old mode would be overtaken by later changes; restart");
  d.Compare(a.provision_sql, b.provision_sql, b.path + ".provision_sql", true, "");
  d.Compare(a.kind, b.kind, b.path, false, "a database peer became an event peer or back; restart");
  d.Compare(a.kafka.brokers, b.kafka.brokers, b.path + ".kafka.brokers", false, restart);
  d.Compare(a.kafka.topic_prefix, b.kafka.topic_prefix, b.path + ".kafka.topic_prefix", false, restart);
  d.Compare(a.kafka.properties, b.kafka.properties, b.path + ".kafka.properties", false, restart);
  d.Compare(a.file, b.file, b.path + ".file", false, restart);
  d.Compare(a.format, b.format, b.path + ".format", false, restart);
  if (a.tables.size() != b.tables.size()) {
    d.Refuse(b.path + ".tables", "tables added or removed: a new table needs a snapshot, a removed one a restart");
    return;
  }
  for (std::size_t i = 0; i < a.tables.size(); ++i) CompareTables(a.tables[i], b.tables[i], d);
}

}  // namespace

std::vector<ConfigDifference> CompareConfigs(const Config& a, const Config& b) {
  Differences d;
  const std::string restart = "needs a restart";
  d.Compare(a.source.dsn, b.source.dsn, "source.dsn", false, restart);
  d.Compare(a.source.platform, b.source.platform, "source.platform", false, "needs a re-snapshot");
  d.Compare(a.source.publication, b.source.publication, "source.publication", false, restart);
  d.Compare(a.source.create_publication, b.source.create_publication, "source.create_publication", false, restart);
  d.Compare(a.identity.dsn, b.identity.dsn, "identity.dsn", false,
            "ids already translated came from the old identity database; restart");
  d.Compare(a.identity.cache_seconds, b.identity.cache_seconds, "identity.cache_seconds", true, "");
  d.Compare(a.apply.batch_rows, b.apply.batch_rows, "apply.batch_rows", true, "");
  d.Compare(a.apply.status_interval_seconds, b.apply.status_interval_seconds, "apply.status_interval_seconds", true,
            "");
  d.Compare(a.metrics.listen, b.metrics.listen, "metrics.listen", false, "the endpoint is bound at start; restart");
  d.Compare(a.alerts.lag_seconds, b.alerts.lag_seconds, "alerts.lag_seconds", false, "read at start; restart");
  d.Compare(a.alerts.dead_letters, b.alerts.dead_letters, "alerts.dead_letters", false, "read at start; restart");
  d.Compare(a.alerts.command, b.alerts.command, "alerts.command", false, "read at start; restart");
  std::map<std::string, const PeerConfig*> next;
  for (const auto& p : b.peers) next[p.name] = &p;
  for (const auto& p : a.peers) {
    auto it = next.find(p.name);
    if (it == next.end()) {
      d.Refuse(p.path, "peer \"" + p.name + "\" removed: needs a restart (its slot stays on the source)");
    } else {
      ComparePeers(p, *it->second, d);
      next.erase(it);
    }
  }
  for (const auto& p : b.peers) {
    if (next.count(p.name))
      d.Refuse(p.path, "peer \"" + p.name + "\" added: a new peer needs a slot and a snapshot; restart");
  }
  return d.Take();
}

void ReloadChannel::Publish(const Config& config) {
  auto copy = std::make_shared<const Config>(config);
  std::lock_guard<std::mutex> lock(mutex_);
  latest_ = std::move(copy);
  ++generation_;
}

std::pair<std::uint64_t, std::shared_ptr<const Config>> ReloadChannel::Latest() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {generation_.load(), latest_};
}

bool ReloadConfig(const std::string& path, Config& running, ReloadChannel& channel) {
  Config next;
  try {
    next = LoadConfig(path);
  } catch (const Error& e) {
    Log(LogLevel::kError, "reload_refused",
        {{"sqlstate", e.sqlstate()}, {"message", e.what()}, {"hint", "The running config stays."}});
    return false;
  }
  std::vector<ConfigDifference> differences = CompareConfigs(running, next);
  std::size_t refused = 0;
  nlohmann::json changed = nlohmann::json::array();
  for (const auto& d : differences) {
    if (d.reloadable) {
      changed.push_back(d.path);
      continue;
    }
    ++refused;
    Log(LogLevel::kError, "reload_refused",
        {{"path", d.path}, {"message", "config: " + d.path + ": " + d.what}, {"hint", "The running config stays."}});
  }
  if (refused > 0) {
    Log(LogLevel::kError, "reload_kept_running_config", {{"refused", refused}, {"reloadable", changed}});
    return false;
  }
  running = std::move(next);
  channel.Publish(running);
  Log(LogLevel::kInfo, "reload_accepted", {{"changed", changed}});
  return true;
}

}  // namespace crosswalk::cdc
