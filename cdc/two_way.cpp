#include "two_way.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "error.hpp"
#include "sqltext.hpp"

namespace crosswalk::cdc {

namespace {

// The column an expression is, when it is nothing but one column reference
// (`id`, `"Item;Id"`); nullopt for anything computed.
std::optional<std::string> PlainColumn(const std::string& expression) {
  static const std::regex bare(R"(\s*([A-Za-z_][A-Za-z0-9_$]*)\s*)");
  static const std::regex quoted(R"re(\s*"((?:[^"]|"")+)"\s*)re");
  std::smatch m;
  if (std::regex_match(expression, m, bare)) {
    std::string name = m[1];
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    return name;
  }
  if (std::regex_match(expression, m, quoted)) {
    std::string name = m[1];
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
      out += name[i];
      if (name[i] == '"') ++i;  // "" is one quote
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

bool HasTwoWayTables(const PeerConfig& peer) {
  for (const auto& t : peer.tables) {
    if (t.two_way) return true;
  }
  return false;
}

TableMapping InvertMapping(const TableMapping& forward) {
  const TwoWayConfig& w = *forward.two_way;
  TableMapping r;
  r.source = forward.target;
  r.target = forward.source;
  r.path = w.path + " (reverse of " + forward.path + ")";
  r.two_way = w;
  // source column -> how to compute it from the target row, first mapping wins
  std::map<std::string, ColumnMapping> back;
  std::vector<std::string> order;
  auto add = [&](ColumnMapping c) {
    if (back.count(c.target)) return;
    order.push_back(c.target);
    back.emplace(c.target, std::move(c));
  };
  for (const auto& [column, expression] : w.reverse) {
    ColumnMapping c;
    c.target = column;
    c.expression = expression;
    c.path = w.path + ".reverse." + column;
    add(std::move(c));
  }
  std::set<std::string> missing;
  std::map<std::string, std::set<std::string>> reads;  // target column -> source columns it reads
  for (const auto& f : forward.columns) {
    ColumnMapping c;
    c.path = f.path + " (reversed)";
    if (f.identity_column) {
      c.target = *f.identity_column;
      c.identity_column = f.target;  // the peer's user id goes back through the identity database
      reads[f.target] = {*f.identity_column};
      add(std::move(c));
    } else if (auto plain = PlainColumn(f.expression)) {
      c.target = *plain;
      c.expression = QuoteIdent(f.target);
      reads[f.target] = {*plain};
      add(std::move(c));
    } else {
      // Computed: every source column it reads must come back some other way.
      reads[f.target] = ExpressionIdentifiers(f.expression);
    }
  }
  // A computed column's identifiers include function names: only those that
  // no plain mapping or reverse entry covers, and that are not the names of
  // SQL functions the expression calls, are missing. We cannot tell a
  // function from a column without the catalog, so an identifier followed by
  // "(" in the expression is taken as a function.
  for (const auto& f : forward.columns) {
    if (f.identity_column || PlainColumn(f.expression)) continue;
    for (const auto& id : reads[f.target]) {
      if (back.count(id)) continue;
      std::regex call(
          "(^|[^A-Za-z0-9_$\"])" + std::regex_replace(id, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") + R"(\s*\()",
          std::regex::icase);
      if (std::regex_search(f.expression, call)) continue;
      static const std::set<std::string> keywords = {
          "and",     "or",     "not",      "null",       "true",     "false",       "case",      "when",  "then",
          "else",    "end",    "is",       "in",         "as",       "between",     "like",      "ilike", "distinct",
          "from",    "cast",   "coalesce", "nullif",     "greatest", "least",       "interval",  "text",  "int",
          "integer", "bigint", "numeric",  "boolean",    "date",     "timestamptz", "timestamp", "jsonb", "json",
          "uuid",    "bytea",  "varchar",  "pg_catalog", "public"};
      if (keywords.count(id)) continue;
      missing.insert(id);
    }
  }
  if (!missing.empty()) {
    std::string list, hint;
    for (const auto& m : missing) {
      list += (list.empty() ? "\"" : ", \"") + m + "\"";
      hint += (hint.empty() ? "" : ", ") + QuoteIdent(m) + ": \"<SQL over " + forward.target.Display() + ">\"";
    }
    throw Error(sqlstate::kConfigFileError,
                "config: " + w.path + ": source column(s) " + list + " of " + forward.source.Display() +
                    " cannot be mapped back from " + forward.target.Display() +
                    " (read by a computed column and not mapped plainly)",
                "Add \"reverse\": {" + hint + "} to two_way.");
  }
  for (const auto& col : order) r.columns.push_back(back.at(col));
  // The key: the source columns the forward key is computed from.
  for (const auto& k : forward.key) {
    for (const auto& id : reads.at(k)) {
      if (back.count(id) && std::find(r.key.begin(), r.key.end(), id) == r.key.end()) r.key.push_back(id);
    }
  }
  if (r.key.empty()) {
    throw Error(sqlstate::kConfigFileError,
                "config: " + forward.path + ".key: no source column of the key can be mapped back",
                "Map the key from plain source columns or give reverse entries for them.");
  }
  return r;
}

std::vector<Config> DeriveReverseConfigs(const Config& config) {
  std::vector<Config> out;
  for (const auto& p : config.peers) {
    if (!HasTwoWayTables(p)) continue;
    Config rc;
    rc.source.dsn = p.dsn;
    rc.source.platform = p.platform;
    rc.source.publication = p.reverse_publication;
    rc.source.create_publication = true;
    rc.identity = config.identity;
    rc.apply = config.apply;
    PeerConfig rp;
    rp.name = p.name.substr(0, 36) + "_rev";
    rp.dsn = config.source.dsn;
    rp.platform = config.source.platform;
    rp.slot = p.reverse_slot;
    // provision_sql creates accounts on the peer, not on the source.
    rp.on_unmapped_identity =
        p.on_unmapped_identity == UnmappedIdentity::kProvision ? UnmappedIdentity::kSkip : p.on_unmapped_identity;
    // Only what was changed on the peer goes back: anything else there came
    // from the source's side (in a star A <-> B, A <-> C, C's change reaches
    // B through A and must not return to A from B).
    rp.forward_origins = false;
    rp.migrate = false;
    rp.path = p.path + " (reverse)";
    for (const auto& t : p.tables) {
      if (t.two_way) rp.tables.push_back(InvertMapping(t));
    }
    rc.peers.push_back(std::move(rp));
    out.push_back(std::move(rc));
  }
  return out;
}

}  // namespace crosswalk::cdc
