#include "drift.hpp"

#include "sqltext.hpp"

namespace crosswalk::cdc {

namespace {

const RelationColumn* FindColumn(const Relation& r, const std::string& name) {
  for (const auto& c : r.columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string TypeText(std::uint32_t oid, std::int32_t mod) {
  return "type oid " + std::to_string(oid) + (mod >= 0 ? " (typmod " + std::to_string(mod) + ")" : "");
}

// Per source table, the identifiers `peer`'s mapping reads, each with the
// first config path that reads it.
std::map<QualifiedName, std::map<std::string, std::string>> MappedReads(const PeerConfig& peer) {
  std::map<QualifiedName, std::map<std::string, std::string>> out;
  for (const auto& t : peer.tables) {
    auto& reads = out[t.source];
    for (const auto& c : t.columns) {
      if (c.identity_column) {
        reads.emplace(*c.identity_column, c.path + ".identity");
      } else {
        for (const auto& id : ExpressionIdentifiers(c.expression)) reads.emplace(id, c.path);
      }
    }
    if (t.where) {
      for (const auto& id : ExpressionIdentifiers(*t.where)) reads.emplace(id, t.path + ".where");
    }
  }
  return out;
}

}  // namespace

std::vector<const RelationColumn*> ColumnsRead(const ColumnMapping& c, const Relation& layout) {
  std::set<std::string> ids;
  if (c.identity_column) {
    ids.insert(*c.identity_column);
  } else {
    ids = ExpressionIdentifiers(c.expression);
  }
  std::vector<const RelationColumn*> out;
  for (const auto& col : layout.columns) {
    if (ids.count(col.name)) out.push_back(&col);
  }
  return out;
}

std::string ExplainMissingColumns(const PeerConfig& peer,
                                  const std::map<QualifiedName, std::shared_ptr<const Relation>>& layouts,
                                  const std::string& error) {
  std::string out;
  for (const auto& [table, reads] : MappedReads(peer)) {
    auto layout = layouts.find(table);
    if (layout == layouts.end()) continue;
    for (const auto& [name, path] : reads) {
      if (FindColumn(*layout->second, name)) continue;
      if (error.find("column \"" + name + "\"") == std::string::npos &&
          error.find("column " + name + " ") == std::string::npos)
        continue;
      out += "; source table " + table.Display() + " has no column \"" + name + "\" (read by " + path +
             "): dropped or renamed on the source? Map it from something else or drop it from the mapping";
    }
  }
  return out;
}

void SchemaDriftGuard::SetMapping(const PeerConfig& peer) { reads_ = MappedReads(peer); }

void SchemaDriftGuard::Acknowledge(const Relation& layout) {
  auto& types = acknowledged_[QualifiedName{layout.schema, layout.name}];
  for (const auto& c : layout.columns) types[c.name].insert({c.type_oid, c.type_mod});
}

void SchemaDriftGuard::Observe(const std::shared_ptr<const Relation>& layout, Lsn lsn) {
  QualifiedName table{layout->schema, layout->name};
  auto reads = reads_.find(table);
  if (reads == reads_.end()) return;  // not mapped by this peer
  if (lsn < acknowledged_at_) {
    Acknowledge(*layout);
    previous_[table] = layout;
    return;
  }
  const auto& acknowledged = acknowledged_[table];
  auto prev = previous_.find(table);
  const std::string hint =
      "Nothing of this peer is applied past its stored position meanwhile; other peers go on. Fix the mapping (or "
      "keep it: `crosswalk-sync check` shows whether the peer accepts it), then send SIGHUP or restart.";
  for (const auto& [name, path] : reads->second) {
    const RelationColumn* now = FindColumn(*layout, name);
    auto known = acknowledged.find(name);
    if (!now) {
      // An identifier that never was a column (a function name) is no drift.
      if (known == acknowledged.end()) continue;
      drifted_ = layout;
      throw SchemaDriftError(kColumnDropped,
                             "source table " + table.Display() + ": column \"" + name + "\", read by " + path +
                                 ", was dropped or renamed; this peer pauses",
                             hint, table.Display(), name, path);
    }
    if (known != acknowledged.end() && !known->second.count({now->type_oid, now->type_mod})) {
      const RelationColumn* before = prev == previous_.end() ? nullptr : FindColumn(*prev->second, name);
      drifted_ = layout;
      throw SchemaDriftError(kColumnRetyped,
                             "source table " + table.Display() + ": column \"" + name + "\", read by " + path +
                                 ", was retyped" +
                                 (before ? " from " + TypeText(before->type_oid, before->type_mod) : std::string()) +
                                 " to " + TypeText(now->type_oid, now->type_mod) + "; this peer pauses",
                             hint, table.Display(), name, path);
    }
  }
  previous_[table] = layout;
}

}  // namespace crosswalk::cdc
