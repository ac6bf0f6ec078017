#include "apply.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "conflict.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "origin.hpp"
#include "replication.hpp"
#include "sqltext.hpp"
#include "two_way.hpp"

namespace crosswalk::cdc {

using nlohmann::json;

namespace {

// Segments at most this many rows go inline as a VALUES list (one round
// trip with the apply statement); larger ones are COPYed into a temporary
// staging table first.
constexpr std::size_t kInlineRows = 64;
constexpr const char* kUnmappedState = "23503";
// A change of a row that already has a dead letter (object not in
// prerequisite state): it waits for that one.
constexpr const char* kQueuedState = "55000";
// A segment is applied once it holds this much row data, whatever its row
// count: memory stays bounded however large a transaction is.
constexpr std::size_t kMaxSegmentBytes = 32u << 20;

// Errors that belong to a row (bad data, a constraint, a mapping the row
// cannot satisfy): the row is dead-lettered and streaming goes on. Anything
// else (connection, resources, serialization) stops and retries the
// transaction.
bool IsRowError(const std::string& code) {
  static const char* classes[] = {"22", "23", "42", "44", "P0", "2F", "39", "0A"};
  for (const char* c : classes) {
    if (code.compare(0, 2, c) == 0) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// Drops the row keys (RowKey) of table `source` ("schema.name") from `keys`.
void EraseTableKeys(std::unordered_set<std::string>& keys, const std::string& source) {
  const std::string prefix = source + '\x1e';
  for (auto k = keys.begin(); k != keys.end();) k = k->rfind(prefix, 0) == 0 ? keys.erase(k) : std::next(k);
}

std::string IdColumn(int index) { return "_cw_id_" + std::to_string(index); }

// What a relation's layout is, as a cache key (a Relation message may
// change it; a decoded dead letter brings its own copy).
std::string Signature(const Relation& r) {
  std::string s = r.schema + '\x1f' + r.name;
  for (const auto& c : r.columns) {
    s += '\x1f' + c.name + '\x1e' + std::to_string(c.type_oid) + '\x1e' + std::to_string(c.type_mod);
  }
  return s;
}

}  // namespace

const char* ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kInsert:
      return "insert";
    case ChangeOp::kUpdate:
      return "update";
    case ChangeOp::kDelete:
      return "delete";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Changes as JSON
// ---------------------------------------------------------------------------

json TupleToJson(const Relation& relation, const Tuple& tuple) {
  json out = json::object();
  for (std::size_t i = 0; i < tuple.size() && i < relation.columns.size(); ++i) {
    const TupleValue& v = tuple[i];
    if (v.kind == TupleValue::Kind::kUnchanged) continue;
    if (v.kind == TupleValue::Kind::kNull) {
      out[relation.columns[i].name] = nullptr;
    } else {
      out[relation.columns[i].name] = v.data;
    }
  }
  return out;
}

json EncodeChange(const RowChange& c) {
  const Relation& r = *c.relation;
  json cols = json::array();
  for (const auto& col : r.columns) {
    cols.push_back({{"name", col.name}, {"type", col.type_oid}, {"typmod", col.type_mod}, {"key", col.is_key}});
  }
  json out = {{"op", std::string(1, static_cast<char>(c.op))},
              {"relation",
               {{"schema", r.schema},
                {"name", r.name},
                {"replica_identity", std::string(1, r.replica_identity)},
                {"columns", cols}}}};
  out["old_kind"] = c.old_kind ? json(std::string(1, c.old_kind)) : json(nullptr);
  out["old"] = c.old_kind ? TupleToJson(r, c.old_tuple) : json(nullptr);
  out["new"] = c.op != ChangeOp::kDelete ? TupleToJson(r, c.new_tuple) : json(nullptr);
  return out;
}

RowChange DecodeChange(const json& j, Lsn lsn) {
  auto bad = [&](const std::string& why) {
    return Error(sqlstate::kInvalidTextRepresentation,
                 "stored change at LSN " + FormatLsn(lsn) + " is invalid: " + why);
  };
  try {
    RowChange c;
    c.lsn = lsn;
    std::string op = j.at("op").get<std::string>();
    if (op != "I" && op != "U" && op != "D") throw bad("op " + op);
    c.op = static_cast<ChangeOp>(op[0]);
    const json& rj = j.at("relation");
    auto rel = std::make_shared<Relation>();
    rel->schema = rj.at("schema").get<std::string>();
    rel->name = rj.at("name").get<std::string>();
    rel->replica_identity = rj.at("replica_identity").get<std::string>().at(0);
    for (const auto& cj : rj.at("columns")) {
      RelationColumn col;
      col.name = cj.at("name").get<std::string>();
      col.type_oid = cj.at("type").get<std::uint32_t>();
      col.type_mod = cj.at("typmod").get<std::int32_t>();
      col.is_key = cj.at("key").get<bool>();
      rel->columns.push_back(std::move(col));
    }
    auto tuple = [&](const json& obj) {
      Tuple t(rel->columns.size());
      for (std::size_t i = 0; i < rel->columns.size(); ++i) {
        auto it = obj.find(rel->columns[i].name);
        if (it == obj.end()) {
          t[i].kind = TupleValue::Kind::kUnchanged;
        } else if (it->is_null()) {
          t[i].kind = TupleValue::Kind::kNull;
        } else {
          t[i].kind = TupleValue::Kind::kText;
          t[i].data = it->get<std::string>();
        }
      }
      return t;
    };
    if (!j.at("old_kind").is_null()) {
      c.old_kind = j.at("old_kind").get<std::string>().at(0);
      c.old_tuple = tuple(j.at("old"));
    }
    if (c.op != ChangeOp::kDelete) c.new_tuple = tuple(j.at("new"));
    if (c.op == ChangeOp::kDelete && !c.old_kind) throw bad("a delete without its old key");
    c.relation = std::move(rel);
    return c;
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
}

// ---------------------------------------------------------------------------
// COPY text format
// ---------------------------------------------------------------------------

void AppendCopyValue(std::string& out, const TupleValue& v) {
  if (v.kind != TupleValue::Kind::kText) {
    out += "\\N";
    return;
  }
  for (char c : v.data) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
}

Tuple ParseCopyLine(std::string_view line, std::size_t expected) {
  Tuple t;
  t.reserve(expected);
  TupleValue cur;
  cur.kind = TupleValue::Kind::kText;
  bool is_null_marker = false;
  auto finish = [&] {
    if (is_null_marker) {
      cur.kind = TupleValue::Kind::kNull;
      cur.data.clear();
    }
    t.push_back(std::move(cur));
    cur = TupleValue{};
    cur.kind = TupleValue::Kind::kText;
    is_null_marker = false;
  };
  std::size_t field_start = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\t') {
      finish();
      field_start = i + 1;
      continue;
    }
    if (c != '\\') {
      cur.data += c;
      continue;
    }
    if (++i >= line.size()) throw Error(sqlstate::kDataCorrupted, "COPY line ends with a backslash");
    char e = line[i];
    switch (e) {
      case 'N':
        if (i - 1 == field_start && (i + 1 == line.size() || line[i + 1] == '\t')) {
          is_null_marker = true;
        } else {
          cur.data += 'N';
        }
        break;
      case 'b':
        cur.data += '\b';
        break;
      case 'f':
        cur.data += '\f';
        break;
      case 'n':
        cur.data += '\n';
        break;
      case 'r':
        cur.data += '\r';
        break;
      case 't':
        cur.data += '\t';
        break;
      case 'v':
        cur.data += '\v';
        break;
      case 'x': {
        int v = 0, n = 0;
        while (n < 2 && i + 1 < line.size() && std::isxdigit(static_cast<unsigned char>(line[i + 1]))) {
          char h = line[++i];
          v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          ++n;
        }
        cur.data += n ? static_cast<char>(v) : 'x';
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', n = 1;
          while (n < 3 && i + 1 < line.size() && line[i + 1] >= '0' && line[i + 1] <= '7') {
            v = v * 8 + (line[++i] - '0');
            ++n;
          }
          cur.data += static_cast<char>(v);
        } else {
          cur.data += e;
        }
    }
  }
  finish();
  if (t.size() != expected) {
    throw Error(sqlstate::kDataCorrupted,
                "COPY line has " + std::to_string(t.size()) + " values, expected " + std::to_string(expected));
  }
  return t;
}

// ---------------------------------------------------------------------------
// Peer schema
// ---------------------------------------------------------------------------

void EnsurePeerSchema(pq::Connection& peer) {
  // Two daemons (or two peers in one database) may race to create it.
  peer.Exec(R"SQL(
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('crosswalk_sync schema'));
-- CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
-- schema exists: a role given its own schema (docs/operations.md) has not.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'crosswalk_sync') THEN
    CREATE SCHEMA crosswalk_sync;
  END IF;
END
$$;
CREATE TABLE IF NOT EXISTS crosswalk_sync.progress (
  slot          text PRIMARY KEY,
  applied_lsn   pg_lsn NOT NULL,
  snapshot_lsn  pg_lsn,
  transactions  bigint NOT NULL DEFAULT 0,
  rows_applied  bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE TABLE IF NOT EXISTS crosswalk_sync.dead_letter (
  id            bigserial PRIMARY KEY,
  slot          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
  lsn           pg_lsn,
  source_table  text NOT NULL,
  operation     text NOT NULL,
  sqlstate      text,
  error         text NOT NULL,
  "row"         jsonb,
  change        jsonb NOT NULL,
  attempts      integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS crosswalk_sync.held (
  id            bigserial PRIMARY KEY,
  slot          text NOT NULL,
  held_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
  lsn           pg_lsn,
  source_table  text NOT NULL,
  operation     text NOT NULL,
  hold_key      text NOT NULL,
  change        jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS held_slot_key_idx ON crosswalk_sync.held (slot, hold_key);
-- Columns later versions added, each added only when missing: ALTER TABLE
-- takes an exclusive lock even with IF NOT EXISTS, and would wait behind
-- (and hold up) a session still committing into these tables.
DO $$
BEGIN
  -- progress.guards_slot: true once a daemon that stores every position
  -- before confirming it to the slot has taken the row over; false for rows
  -- of earlier daemons, which could confirm positions past the stored one.
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = 'crosswalk_sync.progress'::pg_catalog.regclass
                 AND attname = 'guards_slot' AND NOT attisdropped) THEN
    ALTER TABLE crosswalk_sync.progress ADD COLUMN guards_slot boolean NOT NULL DEFAULT false;
  END IF;
  -- dead_letter.row_keys: the source row(s) a dead letter is about (an update
  -- that moves its row to a new key has both); later changes of them queue
  -- behind it, so a retry replays them in source order.
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = 'crosswalk_sync.dead_letter'::pg_catalog.regclass
                 AND attname = 'row_keys' AND NOT attisdropped) THEN
    ALTER TABLE crosswalk_sync.dead_letter ADD COLUMN row_keys text[];
  END IF;
END
$$;
COMMIT;
)SQL");
}

// ---------------------------------------------------------------------------
// PeerApplier
// ---------------------------------------------------------------------------

PeerApplier::PeerApplier(const Config& config, const PeerConfig& peer) : config_(config), peer_(peer) {}

PeerApplier::~PeerApplier() = default;

void PeerApplier::Prepare() {
  conn_ = std::make_unique<pq::Connection>(peer_.dsn);
  conn_->Exec(
      "SET client_encoding = 'UTF8'; SET synchronous_commit = on; SET application_name = 'crosswalk-sync'; "
      "SET search_path = pg_catalog, pg_temp");
  EnsurePeerSchema(*conn_);
  // Whatever this session writes began on the source unless SetOrigin says
  // otherwise: a stream reading this peer knows not to send it back.
  two_way_ = HasTwoWayTables(peer_);
  session_origin_ = config_.source.platform;
  origin_lsn_ = 0;
  origin_time_ = 0;
  origins_ = PrepareOrigins(*conn_);
  if (origins_) {
    EnsureOrigin(*conn_, session_origin_);
  } else {
    const std::string hint =
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_replication_origin_create(text), "
        "pg_catalog.pg_replication_origin_oid(text), pg_catalog.pg_replication_origin_session_setup(text), "
        "pg_catalog.pg_replication_origin_session_reset(), pg_catalog.pg_replication_origin_session_is_setup(), "
        "pg_catalog.pg_replication_origin_xact_setup(pg_lsn, timestamptz) TO the daemon's role on the peer (and "
        "SELECT ON pg_catalog.pg_replication_origin for two-way tables).";
    if (two_way_) {
      throw Error(sqlstate::kConfigFileError,
                  "peer " + peer_.name + ": two-way tables need replication origins, which this role may not use",
                  hint);
    }
    // A one-way peer still works; only a stream reading this peer could
    // not tell our writes from its own.
    Log(LogLevel::kWarning, "no_replication_origin",
        {{"peer", peer_.name}, {"message", "the role may not use replication origins"}, {"hint", hint}});
  }
  if (two_way_) PrepareTwoWayTables(*conn_, peer_);
  last_prune_ = std::chrono::steady_clock::now();
  plans_.clear();
  bool any_identity = false;
  for (const auto& t : peer_.tables) {
    MappingPlan plan;
    plan.mapping = &t;
    pq::Result r(pq::ResultPtr(nullptr));
    try {
      r = conn_->ExecParams(
          "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), pg_catalog.format_type(a.atttypid, NULL) "
          "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 "
          "AND NOT a.attisdropped",
          {t.target.Quoted()});
    } catch (const pq::ServerError& e) {
      throw Error(sqlstate::kConfigFileError, "config: " + t.path + ".target: table " + t.target.Display() +
                                                  " not found on peer " + peer_.name + ": " + e.what());
    }
    for (int i = 0; i < r.rows(); ++i) plan.target_columns[r.value(i, 0)] = {r.value(i, 1), r.value(i, 2)};
    for (const auto& c : t.columns) {
      if (!plan.target_columns.count(c.target)) {
        throw Error(sqlstate::kConfigFileError, "config: " + c.path + ": table " + t.target.Display() + " on peer " +
                                                    peer_.name + " has no column \"" + c.target + "\"");
      }
      if (c.target.rfind("_cw_", 0) == 0) {
        throw Error(sqlstate::kConfigFileError, "config: " + c.path + ": column names starting _cw_ are reserved");
      }
      if (c.identity_column) {
        plan.refs[c.target] = {*c.identity_column};
        any_identity = true;
      } else {
        plan.refs[c.target] = ExpressionIdentifiers(c.expression);
      }
    }
    if (t.where) plan.where_refs = ExpressionIdentifiers(*t.where);
    plans_[t.source].push_back(std::move(plan));
  }
  if (any_identity || peer_.on_unmapped_identity == UnmappedIdentity::kProvision) {
    ids_ = std::make_unique<IdentityTranslator>(config_.identity.dsn, config_.source.platform, peer_.platform,
                                                config_.identity.cache_seconds);
  }
  held_keys_.clear();
  pq::Result held =
      conn_->ExecParams("SELECT DISTINCT hold_key FROM crosswalk_sync.held WHERE slot = $1", {peer_.slot});
  for (int i = 0; i < held.rows(); ++i) held_keys_.insert(held.value(i, 0));
  dead_keys_.clear();
  pq::Result dead = conn_->ExecParams(
      "SELECT DISTINCT pg_catalog.unnest(row_keys) FROM crosswalk_sync.dead_letter WHERE slot = $1", {peer_.slot});
  for (int i = 0; i < dead.rows(); ++i) dead_keys_.insert(dead.value(i, 0));
  stage_tables_.clear();
  identity_columns_.clear();
  tx_open_ = false;
  TakePending();  // dropped
}

std::optional<Lsn> PeerApplier::StoredPosition() {
  pq::Result r = conn_->ExecParams("SELECT applied_lsn::text, guards_slot FROM crosswalk_sync.progress WHERE slot = $1",
                                   {peer_.slot});
  if (r.rows() == 0) return std::nullopt;
  stored_ = ParseLsn(r.value(0, 0));
  stored_guards_slot_ = r.value(0, 1) == "t";
  return stored_;
}

void PeerApplier::GuardSlot() {
  if (stored_guards_slot_) return;
  conn_->ExecParams("UPDATE crosswalk_sync.progress SET guards_slot = true WHERE slot = $1", {peer_.slot});
  stored_guards_slot_ = true;
}

void PeerApplier::LockSlot() {
  const std::string key = "pg_catalog.hashtext('crosswalk_sync'), pg_catalog.hashtext($1)";
  if (conn_->Scalar("SELECT pg_catalog.pg_try_advisory_lock(" + key + ")", {peer_.slot}) == "t") return;
  auto holder = conn_->Scalar(
      "SELECT format('pid %s, %s, %s since %s', a.pid, COALESCE(NULLIF(a.application_name, ''), 'no name'), a.state, "
      "a.state_change) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database "
      "WHERE datname = pg_catalog.current_database()) AND l.classid::int = pg_catalog.hashtext('crosswalk_sync') "
      "AND l.objid::int = pg_catalog.hashtext($1) AND l.objsubid = 2",
      {peer_.slot});
  throw Error("55P03",
              "slot " + peer_.slot + " is being applied to peer " + peer_.name + " by another session (" +
                  holder.value_or("gone meanwhile") + ")",
              "A killed crosswalk-sync's session ends by itself once it notices; if another crosswalk-sync runs "
              "this peer, stop one.");
}

void PeerApplier::StorePosition(Lsn lsn) {
  if (lsn <= stored_) return;
  conn_->ExecParams(
      "UPDATE crosswalk_sync.progress SET applied_lsn = $2::pg_lsn, updated_at = pg_catalog.now() "
      "WHERE slot = $1 AND applied_lsn < $2::pg_lsn",
      {peer_.slot, FormatLsn(lsn)});
  stored_ = lsn;
}

std::string PeerApplier::InTransaction(const std::string& sql) {
  if (tx_open_) return sql;
  // The origin is held for this transaction only (origin.hpp).
  std::string text = "BEGIN; " + (origins_ ? AcquireOriginSql(session_origin_) : "");
  if (bulk_ ? immediate_bulk_ : origin_lsn_ && origin_lsn_ <= immediate_through_) {
    text += "SET CONSTRAINTS ALL IMMEDIATE; ";
  }
  text += sql;
  tx_open_ = true;
  return text;
}

void PeerApplier::ExecInTransaction(const std::string& sql) { conn_->Exec(InTransaction(sql)); }

void PeerApplier::SetOrigin(const std::string& platform, Lsn commit_lsn, std::int64_t commit_time) {
  if (platform != session_origin_) {
    if (tx_open_ || !pending_.rows.empty()) {
      throw Error(sqlstate::kInternalError, "replication origin changed inside a peer transaction");
    }
    if (origins_) EnsureOrigin(*conn_, platform);
    session_origin_ = platform;
  }
  origin_lsn_ = commit_lsn;
  origin_time_ = commit_time;
}

void PeerApplier::BeginTransaction() {
  TakePending();  // dropped
  tx_rows_ = 0;
  tx_table_rows_.clear();
}

std::string PeerApplier::RowKey(const RowChange& c) const {
  const Relation& r = *c.relation;
  const Tuple& t = c.old_kind ? c.old_tuple : (c.op == ChangeOp::kDelete ? c.old_tuple : c.new_tuple);
  std::string key = r.schema + "." + r.name;
  for (std::size_t i = 0; i < r.columns.size() && i < t.size(); ++i) {
    if (!r.columns[i].is_key) continue;
    key += '\x1e';
    key += t[i].kind == TupleValue::Kind::kText ? t[i].data : std::string("\x1f") + static_cast<char>(t[i].kind);
  }
  return key;
}

std::string PeerApplier::NewRowKey(const RowChange& c) const {
  if (c.op != ChangeOp::kUpdate || !c.old_kind) return {};
  RowChange probe;
  probe.relation = c.relation;
  probe.op = ChangeOp::kInsert;
  probe.new_tuple = c.new_tuple;
  return RowKey(probe);
}

bool PeerApplier::IsDeadKey(const std::string& key) {
  if (!dead_keys_.count(key)) return false;
  // `retry` runs in another process: a row it has cleared is live again.
  pq::Result r = conn_->ExecParams(
      "SELECT EXISTS (SELECT FROM crosswalk_sync.dead_letter WHERE slot = $1 AND row_keys @> ARRAY[$2])",
      {peer_.slot, key});
  if (r.value(0, 0) == "t") return true;
  dead_keys_.erase(key);
  return false;
}

std::string PeerApplier::SegmentMask(const RowChange& c) const {
  if (c.op != ChangeOp::kUpdate) return {};
  std::string mask(c.new_tuple.size(), '0');
  bool any = false;
  for (std::size_t i = 0; i < c.new_tuple.size(); ++i) {
    if (c.new_tuple[i].kind != TupleValue::Kind::kUnchanged) continue;
    // REPLICA IDENTITY FULL sent the old value, which is the unchanged one.
    if (c.old_kind == 'O' && i < c.old_tuple.size() && c.old_tuple[i].kind == TupleValue::Kind::kText) continue;
    mask[i] = '1';
    any = true;
  }
  return any ? mask : std::string();
}

void PeerApplier::AddChange(RowChange change) {
  const Relation& rel = *change.relation;
  if (!plans_.count(QualifiedName{rel.schema, rel.name})) return;
  if (change.op != ChangeOp::kDelete)
    RelationCache::CheckTuple(rel, change.new_tuple, change.lsn, ChangeOpName(change.op));
  if (change.old_kind) RelationCache::CheckTuple(rel, change.old_tuple, change.lsn, "old tuple");

  std::string mask = SegmentMask(change);
  std::string key = RowKey(change);
  std::string new_key = NewRowKey(change);
  std::size_t open = pending_.rows.size(), bytes = pending_.bytes;
  for (const auto& g : later_) {
    open += g.rows.size();
    bytes += g.bytes;
  }
  bool compatible =
      !pending_.rows.empty() && pending_.relation == change.relation && pending_.op == change.op &&
      pending_.mask == mask &&
      open < static_cast<std::size_t>(bulk_ ? std::max(config_.apply.batch_rows, 20000) : config_.apply.batch_rows) &&
      bytes < kMaxSegmentBytes;
  // Two-way tables settle each row against the peer's (conflict.hpp).
  if (compatible && two_way_) compatible = !plans_.at(QualifiedName{rel.schema, rel.name}).front().mapping->two_way;
  if (!compatible) {
    Flush();
    pending_.relation = change.relation;
    pending_.op = change.op;
    pending_.mask = mask;
  }
  // An earlier change of this row may be parked, held or dead-lettered,
  // before or by the flush above: this one queues behind it.
  if (QueuedBehind(change, key, new_key)) return;
  // A segment never holds two changes of one row: an update of a row this
  // run already changed goes to the next generation (later_), applied after
  // the one before it.
  Segment* seg = &pending_;
  if (change.op == ChangeOp::kUpdate) {
    auto changes = [&](const std::string& k) -> std::size_t {
      auto it = row_changes_.find(k);
      return it == row_changes_.end() ? 0 : it->second;
    };
    std::size_t generation = std::max(changes(key), new_key.empty() ? 0 : changes(new_key));
    row_changes_[key] = generation + 1;
    if (!new_key.empty()) row_changes_[new_key] = generation + 1;
    while (later_.size() < generation) {
      later_.emplace_back();
      later_.back().relation = pending_.relation;
      later_.back().op = pending_.op;
      later_.back().mask = pending_.mask;
    }
    if (generation > 0) seg = &later_[generation - 1];
  }
  for (const auto& v : change.new_tuple) seg->bytes += v.data.size() + 8;
  for (const auto& v : change.old_tuple) seg->bytes += v.data.size() + 8;
  seg->rows.push_back(std::move(change));
}

std::vector<PeerApplier::Segment> PeerApplier::TakePending() {
  std::vector<Segment> out;
  if (!pending_.rows.empty()) out.push_back(std::move(pending_));
  for (auto& g : later_) out.push_back(std::move(g));
  pending_ = Segment{};
  later_.clear();
  row_changes_.clear();
  return out;
}

bool PeerApplier::QueuedBehind(const RowChange& c, const std::string& key, const std::string& new_key) {
  if (peer_.on_unmapped_identity == UnmappedIdentity::kHold && held_keys_.count(key)) {
    Hold(c);
    return true;
  }
  if (!dead_keys_.empty() && (IsDeadKey(key) || (!new_key.empty() && IsDeadKey(new_key)))) {
    DeadLetter(c, kQueuedState,
               "queued behind an earlier dead letter of the same row: retry applies them in source order");
    return true;
  }
  return false;
}

bool PeerApplier::ApplyRun(std::vector<Segment> segments, const CommitSql* commit) {
  bool committed = false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    Segment& seg = segments[i];
    if (i > 0 && (!dead_keys_.empty() || !held_keys_.empty())) {
      // A later generation's rows follow their earlier changes, which the
      // segments before may have just dead-lettered or held.
      std::vector<RowChange> kept;
      for (auto& c : seg.rows) {
        if (!QueuedBehind(c, RowKey(c), NewRowKey(c))) kept.push_back(std::move(c));
      }
      seg.rows = std::move(kept);
    }
    if (seg.rows.empty()) continue;
    committed = ApplySegment(seg, false, i + 1 == segments.size() ? commit : nullptr);
  }
  return committed;
}

void PeerApplier::Flush() { ApplyRun(TakePending(), nullptr); }

const std::vector<int>& PeerApplier::IdentityColumns(const Relation& relation) {
  std::string sig = Signature(relation);
  auto it = identity_columns_.find(sig);
  if (it != identity_columns_.end()) return it->second;
  std::set<int> cols;
  for (const auto& plan : plans_.at(QualifiedName{relation.schema, relation.name})) {
    for (const auto& c : plan.mapping->columns) {
      if (!c.identity_column) continue;
      int found = -1;
      for (std::size_t i = 0; i < relation.columns.size(); ++i) {
        if (relation.columns[i].name == *c.identity_column) found = static_cast<int>(i);
      }
      if (found < 0) {
        throw Error("0A000", "config: " + c.path + ".identity: source table " + relation.schema + "." + relation.name +
                                 " has no column \"" + *c.identity_column + "\"");
      }
      cols.insert(found);
    }
  }
  return identity_columns_[sig] = std::vector<int>(cols.begin(), cols.end());
}

std::string PeerApplier::Provision(const RowChange& change, const std::string& source_id) {
  if (!provision_conn_) {
    provision_conn_ = std::make_unique<pq::Connection>(peer_.dsn);
    provision_conn_->Exec("SET client_encoding = 'UTF8'; SET synchronous_commit = on");
  }
  // Committed on its own before the link: a crash in between leaves an
  // unlinked account on the peer (provision_sql should be idempotent), never
  // a link to an account that does not exist.
  json row = TupleToJson(*change.relation, change.new_tuple);
  auto peer_id = provision_conn_->Scalar(*peer_.provision_sql, {row.dump()});
  if (!peer_id || peer_id->empty()) {
    throw Error(kUnmappedState,
                "provision_sql returned no user id for " + config_.source.platform + " user " + source_id);
  }
  ids_->LinkProvisioned(source_id, *peer_id);
  ++counters_.provisioned;
  Log(LogLevel::kInfo, "provisioned",
      {{"peer", peer_.name}, {"source_id", source_id}, {"peer_id", *peer_id}, {"lsn", FormatLsn(change.lsn)}});
  return *peer_id;
}

std::vector<PeerApplier::Prepared> PeerApplier::TranslateIdentities(
    const Segment& seg, std::vector<std::pair<const RowChange*, std::string>>& unmapped) {
  const std::vector<int>& idcols = IdentityColumns(*seg.relation);
  std::vector<Prepared> out;
  out.reserve(seg.rows.size());
  if (idcols.empty()) {
    for (const auto& r : seg.rows) out.push_back(Prepared{&r, {}, {}});
    return out;
  }
  auto old_row = [](const RowChange& c) -> const Tuple& { return c.old_kind ? c.old_tuple : c.new_tuple; };
  std::vector<std::string> wanted;
  for (const auto& r : seg.rows) {
    for (int j : idcols) {
      if (r.op != ChangeOp::kDelete && r.new_tuple[j].kind == TupleValue::Kind::kText)
        wanted.push_back(r.new_tuple[j].data);
      if (r.op != ChangeOp::kInsert && old_row(r)[j].kind == TupleValue::Kind::kText)
        wanted.push_back(old_row(r)[j].data);
    }
  }
  auto found = ids_->TranslateBatch(wanted);
  for (const auto& r : seg.rows) {
    Prepared p{&r, {}, {}};
    std::optional<std::string> missing;
    for (int j : idcols) {
      auto lookup = [&](const TupleValue& v, bool is_new) -> std::optional<std::string> {
        if (v.kind != TupleValue::Kind::kText) return std::nullopt;
        auto it = found.find(v.data);
        if (it != found.end() && it->second) return it->second;
        if (is_new && peer_.on_unmapped_identity == UnmappedIdentity::kProvision) {
          std::string id = Provision(r, v.data);
          found[v.data] = id;
          return id;
        }
        if (!missing) missing = v.data;
        return std::nullopt;
      };
      if (r.op != ChangeOp::kDelete) p.new_ids[j] = lookup(r.new_tuple[j], true);
      if (r.op != ChangeOp::kInsert) p.old_ids[j] = lookup(old_row(r)[j], false);
    }
    if (missing) {
      unmapped.emplace_back(&r, *missing);
    } else {
      out.push_back(std::move(p));
    }
  }
  return out;
}

bool PeerApplier::ApplySegment(Segment& seg, bool throw_on_error, const CommitSql* commit) {
  std::vector<std::pair<const RowChange*, std::string>> unmapped;
  std::vector<Prepared> rows = TranslateIdentities(seg, unmapped);
  for (const auto& [change, source_id] : unmapped) {
    std::string msg = config_.source.platform + " user " + source_id + " has no account on " + peer_.platform;
    if (throw_on_error) throw Error(kUnmappedState, msg);
    if (peer_.on_unmapped_identity == UnmappedIdentity::kHold) {
      Hold(*change);
    } else {
      DeadLetter(*change, kUnmappedState, msg);
    }
  }
  if (rows.empty()) return false;
  try {
    bool committed = ApplyPrepared(seg, rows, commit);
    tx_rows_ += rows.size();
    tx_table_rows_[{seg.relation->schema + "." + seg.relation->name, seg.op}] += rows.size();
    return committed;
  } catch (const Error& e) {
    if (!IsRowError(e.sqlstate()) || throw_on_error) throw;
    // The transaction is gone: its COMMIT failed (CommitTransaction).
    if (commit && PQtransactionStatus(conn_->raw()) == PQTRANS_IDLE) throw;
    UndoSegment();
    if (rows.size() == 1) {
      DeadLetter(*rows[0].change, e.sqlstate(), e.what());
      return false;
    }
  }
  // The segment failed as a whole: find the rows at fault one by one.
  Log(LogLevel::kInfo, "segment_retry_by_row",
      {{"peer", peer_.name}, {"rows", rows.size()}, {"lsn", FormatLsn(rows.front().change->lsn)}});
  for (const auto& p : rows) {
    try {
      ApplyPrepared(seg, {p});
      ++tx_rows_;
    } catch (const Error& e) {
      if (!IsRowError(e.sqlstate())) throw;
      UndoSegment();
      DeadLetter(*p.change, e.sqlstate(), e.what());
    }
  }
  return false;
}

std::string PeerApplier::StageTypes(const Relation& rel, std::vector<std::string>& types) {
  // User-defined types may not exist on the peer (or have other OIDs there):
  // their values are staged as text, which their input function accepts.
  std::vector<std::pair<std::uint32_t, std::int32_t>> unknown;
  for (const auto& c : rel.columns) {
    auto k = std::make_pair(c.type_oid, c.type_mod);
    if (c.type_oid < 16384 && !type_names_.count(k)) unknown.push_back(k);
  }
  if (!unknown.empty()) {
    json oids = json::array(), mods = json::array();
    for (auto& [o, m] : unknown) {
      oids.push_back(o);
      mods.push_back(m);
    }
    pq::Result r = conn_->ExecParams(
        "SELECT o, m, pg_catalog.format_type(o, m) FROM pg_catalog.jsonb_array_elements_text($1::jsonb) "
        "WITH ORDINALITY a(o_text, n) JOIN pg_catalog.jsonb_array_elements_text($2::jsonb) WITH ORDINALITY b(m_text, "
        "n2) "
        "ON n = n2, LATERAL (SELECT o_text::oid AS o, m_text::int AS m) x",
        {oids.dump(), mods.dump()});
    for (int i = 0; i < r.rows(); ++i) {
      type_names_[{static_cast<std::uint32_t>(std::stoul(r.value(i, 0))), std::stoi(r.value(i, 1))}] =
          r.get(i, 2).value_or("text");
    }
  }
  types.clear();
  std::string cols = "\"_cw_seq\" int4, \"_cw_old\" bool";
  for (const auto& c : rel.columns) {
    std::string t = c.type_oid < 16384 ? type_names_.at({c.type_oid, c.type_mod}) : "text";
    if (t == "-" || t == "???") t = "text";
    types.push_back(t);
    cols += ", " + QuoteIdent(c.name) + " " + t;
  }
  for (int j : IdentityColumns(rel)) cols += ", " + QuoteIdent(IdColumn(j)) + " text";
  return cols;
}

std::string PeerApplier::BuildStatement(const MappingPlan& plan, const Relation& rel, ChangeOp op,
                                        const std::string& mask, const std::string& stage, bool& count_missing) {
  const TableMapping& m = *plan.mapping;
  count_missing = false;
  std::set<std::string> rel_columns, key_columns, masked;
  for (std::size_t i = 0; i < rel.columns.size(); ++i) {
    rel_columns.insert(rel.columns[i].name);
    if (rel.columns[i].is_key || rel.replica_identity == 'f') key_columns.insert(rel.columns[i].name);
    if (i < mask.size() && mask[i] == '1') masked.insert(rel.columns[i].name);
  }
  auto identity_index = [&](const std::string& col) {
    for (std::size_t i = 0; i < rel.columns.size(); ++i) {
      if (rel.columns[i].name == col) return static_cast<int>(i);
    }
    throw Error("0A000", "config: " + m.path + ": source " + m.source.Display() + " has no column \"" + col + "\"");
  };
  auto value_sql = [&](const ColumnMapping& c) {
    if (c.identity_column) {
      return "(" + QuoteIdent(IdColumn(identity_index(*c.identity_column))) +
             ")::" + plan.target_columns.at(c.target).type;
    }
    return "(" + c.expression + ")";
  };
  // Which target columns to write: those whose inputs all came with the row.
  std::vector<const ColumnMapping*> written;
  for (const auto& c : m.columns) {
    const auto& refs = plan.refs.at(c.target);
    std::size_t hit = 0, cols = 0;
    for (const auto& r : refs) {
      if (!rel_columns.count(r)) continue;
      ++cols;
      if (masked.count(r)) ++hit;
    }
    if (hit == 0) {
      written.push_back(&c);
    } else if (hit != cols) {
      throw Error("0A000", "config: " + c.path + ": reads a column whose unchanged TOAST value the source did not send",
                  "ALTER TABLE " + m.source.Quoted() + " REPLICA IDENTITY FULL makes the source send it.");
    }  // else: every input unchanged, so the peer's value stays
  }
  for (const auto& r : plan.where_refs) {
    if (masked.count(r)) {
      throw Error("0A000",
                  "config: " + m.path + ".where: reads column \"" + r +
                      "\" whose unchanged TOAST value the source did not send",
                  "ALTER TABLE " + m.source.Quoted() + " REPLICA IDENTITY FULL makes the source send it.");
    }
  }
  std::string where = m.where ? "COALESCE((" + *m.where + "), false)" : "true";
  std::string target = m.target.Quoted();
  if (m.two_way) {
    if (op != ChangeOp::kInsert && rel.replica_identity != 'f') {
      throw Error("0A000",
                  "config: " + m.path + ": two-way source " + m.source.Display() +
                      " does not send whole old rows, so conflicts cannot be detected",
                  "ALTER TABLE " + m.source.Quoted() + " REPLICA IDENTITY FULL;");
    }
    std::map<std::string, std::string> types;
    for (const auto& [name, col] : plan.target_columns) types[name] = col.type;
    ConflictContext ctx{peer_.slot, origin_lsn_, session_origin_, origin_time_ ? origin_time_ : PostgresNow(),
                        peer_.platform};
    return BuildTwoWayStatement(m, types, ChangeOpName(op), stage, value_sql, ctx);
  }

  std::vector<std::string> target_cols, values;
  for (const auto* c : written) {
    target_cols.push_back(QuoteIdent(c->target));
    values.push_back(value_sql(*c) + " AS " + QuoteIdent(c->target));
  }
  if (op == ChangeOp::kInsert) {
    return "INSERT INTO " + target + " (" + Join(target_cols, ", ") + ") SELECT " + Join(target_cols, ", ") +
           " FROM (SELECT " + Join(values, ", ") + ", " + where + " AS _cw_keep FROM " + stage +
           " WHERE _cw_old IS NOT TRUE) AS n WHERE n._cw_keep";
  }

  // Updates and deletes find the row by the key computed from the old row:
  // only replica identity columns are sure to be in it.
  std::vector<std::string> key_values, key_match;
  for (std::size_t i = 0; i < m.key.size(); ++i) {
    const ColumnMapping* c = nullptr;
    for (const auto& col : m.columns) {
      if (col.target == m.key[i]) c = &col;
    }
    for (const auto& r : plan.refs.at(c->target)) {
      if (rel_columns.count(r) && !key_columns.count(r)) {
        throw Error(
            "0A000",
            "config: " + c->path + ": key column computed from \"" + r +
                "\", which is not in the replica identity of " + m.source.Display() +
                ", so updates and deletes cannot find the row",
            "Map the key from primary key columns, or ALTER TABLE " + m.source.Quoted() + " REPLICA IDENTITY FULL.");
      }
    }
    std::string k = "_cw_k" + std::to_string(i);
    key_values.push_back("(" + value_sql(*c) + ")::" + plan.target_columns.at(c->target).base_type + " AS " + k);
    key_match.push_back("t." + QuoteIdent(c->target) + " OPERATOR(pg_catalog.=) o." + k);
  }
  std::string o = "o AS (SELECT _cw_seq, " + Join(key_values, ", ") + " FROM " + stage + " WHERE _cw_old IS NOT FALSE)";
  if (op == ChangeOp::kDelete) {
    return "WITH " + o + " DELETE FROM " + target + " AS t USING o WHERE " + Join(key_match, " AND ");
  }
  std::vector<std::string> sets, n_cols;
  for (const auto& tc : target_cols) {
    sets.push_back(tc + " = n." + tc);
    n_cols.push_back("n." + tc);
  }
  std::string n = "n AS (SELECT _cw_seq, " + Join(values, ", ") + ", " + where + " AS _cw_keep FROM " + stage +
                  " WHERE _cw_old IS NOT TRUE)";
  std::string sql = "WITH " + n + ", " + o;
  if (m.where) {
    // A row that no longer passes the filter leaves the peer.
    sql += ", d AS (DELETE FROM " + target + " AS t USING n JOIN o USING (_cw_seq) WHERE NOT n._cw_keep AND " +
           Join(key_match, " AND ") + ")";
  }
  sql += ", u AS (UPDATE " + target + " AS t SET " + Join(sets, ", ") +
         " FROM n JOIN o USING (_cw_seq) WHERE n._cw_keep AND " + Join(key_match, " AND ") + " RETURNING n._cw_seq)";
  // A row the peer does not have (it just entered the filter) is inserted,
  // unless part of it is unchanged TOAST we were not sent: then we can only
  // report it.
  if (!masked.empty()) {
    count_missing = true;
    return sql +
           " SELECT pg_catalog.count(*) FROM n WHERE n._cw_keep AND NOT EXISTS (SELECT FROM u WHERE u._cw_seq = "
           "n._cw_seq)";
  }
  return sql + " INSERT INTO " + target + " (" + Join(target_cols, ", ") + ") SELECT " + Join(n_cols, ", ") +
         " FROM n WHERE n._cw_keep AND NOT EXISTS (SELECT FROM u WHERE u._cw_seq = n._cw_seq)";
}

std::optional<std::vector<int>> PeerApplier::DirectColumns(const MappingPlan& plan, const Relation& rel,
                                                           const std::vector<std::string>& types) {
  if (plan.mapping->where) return std::nullopt;
  std::vector<int> out;
  for (const auto& c : plan.mapping->columns) {
    int found = -1;
    for (std::size_t i = 0; i < rel.columns.size(); ++i) {
      const std::string& name = rel.columns[i].name;
      bool plain = !name.empty() &&
                   name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_$") == std::string::npos &&
                   !(name[0] >= '0' && name[0] <= '9');
      if (c.identity_column ? *c.identity_column == name
                            : (c.expression == QuoteIdent(name) || (plain && c.expression == name))) {
        found = static_cast<int>(i);
      }
    }
    if (found < 0) return std::nullopt;
    if (c.identity_column) {
      // The statement path casts the translated text to the column's type:
      // COPY's input function is that same conversion.
      out.push_back(-1 - found);
    } else if (types[found] == plan.target_columns.at(c.target).type) {
      out.push_back(found);  // same type: the text form goes back in unchanged
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool PeerApplier::ApplyPrepared(const Segment& seg, const std::vector<Prepared>& rows, const CommitSql* commit) {
  const Relation& rel = *seg.relation;
  std::vector<std::string> types;
  std::string stage_columns = StageTypes(rel, types);
  const std::vector<int>& idcols = IdentityColumns(rel);

  // One staged row per new tuple and per old tuple (updates and deletes),
  // tied together by _cw_seq; an update that kept its key (no old tuple)
  // is staged once, as both (_cw_old NULL), which halves what is sent.
  struct StagedRow {
    int seq;
    std::optional<bool> old;
    const Tuple* tuple;
    const Tuple* fallback;  // REPLICA IDENTITY FULL old tuple for 'u' values
    const std::map<int, std::optional<std::string>>* ids;
  };
  std::vector<StagedRow> staged;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const RowChange& c = *rows[i].change;
    int seq = static_cast<int>(i);
    const Tuple* old_full = c.old_kind == 'O' ? &c.old_tuple : nullptr;
    if (c.op == ChangeOp::kUpdate && !c.old_kind) {
      staged.push_back({seq, std::nullopt, &c.new_tuple, nullptr, &rows[i].new_ids});
      continue;
    }
    if (c.op != ChangeOp::kDelete) staged.push_back({seq, false, &c.new_tuple, old_full, &rows[i].new_ids});
    if (c.op != ChangeOp::kInsert) {
      staged.push_back({seq, true, c.old_kind ? &c.old_tuple : &c.new_tuple, old_full, &rows[i].old_ids});
    }
  }
  auto value_of = [](const StagedRow& s, std::size_t col) -> const TupleValue& {
    const TupleValue& v = (*s.tuple)[col];
    if (v.kind == TupleValue::Kind::kUnchanged && s.fallback) return (*s.fallback)[col];
    return v;
  };

  // Large insert segments whose every mapped value is a source column of
  // the same type or a translated id, with no filter, go straight into the
  // target by COPY: the peer evaluates no expression, so there is nothing
  // to stage.
  if (seg.op == ChangeOp::kInsert && rows.size() > kInlineRows) {
    std::vector<std::vector<int>> direct;
    for (const auto& plan : plans_.at(QualifiedName{rel.schema, rel.name})) {
      auto cols = DirectColumns(plan, rel, types);
      if (!cols) break;
      direct.push_back(std::move(*cols));
    }
    const auto& plans = plans_.at(QualifiedName{rel.schema, rel.name});
    if (direct.size() == plans.size()) {
      savepoint_open_ = true;
      for (std::size_t p = 0; p < plans.size(); ++p) {
        std::string data, cols;
        for (const auto& c : plans[p].mapping->columns) cols += (cols.empty() ? "" : ", ") + QuoteIdent(c.target);
        for (const auto& r : rows) {
          for (std::size_t k = 0; k < direct[p].size(); ++k) {
            if (k) data += '\t';
            int idx = direct[p][k];
            if (idx >= 0) {
              AppendCopyValue(data, r.change->new_tuple[idx]);
            } else {
              auto it = r.new_ids.find(-1 - idx);
              TupleValue v;
              if (it != r.new_ids.end() && it->second) v = {TupleValue::Kind::kText, *it->second};
              AppendCopyValue(data, v);
            }
          }
          data += '\n';
        }
        // The savepoint (and BEGIN) go with the first COPY: one round trip.
        std::string copy = "COPY " + plans[p].mapping->target.Quoted() + " (" + cols + ") FROM STDIN";
        conn_->CopyIn(p == 0 ? InTransaction("SAVEPOINT cw_segment; " + copy) : copy, data);
      }
      // The transaction's last segment carries its end, as below.
      std::string tail = "RELEASE SAVEPOINT cw_segment";
      if (commit) tail += "; " + (*commit)(tx_rows_ + rows.size());
      ExecInTransaction(tail);
      savepoint_open_ = false;
      return commit != nullptr;
    }
  }

  std::string stage;
  std::vector<std::string> statements, counted;
  // Statements are built before anything is sent: a mapping the row cannot
  // satisfy fails here, with no savepoint to undo.
  auto BuildAll = [&] {
    for (const auto& plan : plans_.at(QualifiedName{rel.schema, rel.name})) {
      bool count_missing = false;
      std::string sql = BuildStatement(plan, rel, seg.op, seg.mask, stage, count_missing);
      (count_missing ? counted : statements).push_back(sql);
    }
  };
  bool inline_values = rows.size() <= kInlineRows;
  if (inline_values) {
    std::vector<std::string> names = {"_cw_seq", "_cw_old"};
    for (const auto& c : rel.columns) names.push_back(QuoteIdent(c.name));
    for (int j : idcols) names.push_back(QuoteIdent(IdColumn(j)));
    std::string values;
    for (const auto& s : staged) {
      values += values.empty() ? "(" : ", (";
      values += std::to_string(s.seq) + "::int4, " + (!s.old ? "NULL::bool" : *s.old ? "true" : "false");
      for (std::size_t col = 0; col < rel.columns.size(); ++col) {
        const TupleValue& v = value_of(s, col);
        values += ", ";
        values += v.kind == TupleValue::Kind::kText ? QuoteLiteral(v.data) : std::string("NULL");
        values += "::" + types[col];
      }
      for (int j : idcols) {
        auto it = s.ids->find(j);
        values += ", ";
        values += it != s.ids->end() && it->second ? QuoteLiteral(*it->second) : std::string("NULL");
        values += "::text";
      }
      values += ")";
    }
    // A CTE cannot be shared by the statements below, so the VALUES list is
    // a subquery each statement reads (they are one round trip together).
    stage = "(VALUES " + values + ") AS _cw_stage(" + Join(names, ", ") + ")";
    BuildAll();
  } else {
    std::string sig = Signature(rel);
    auto it = stage_tables_.find(sig);
    bool create = it == stage_tables_.end();
    if (create) it = stage_tables_.emplace(sig, "_cw_stage_" + std::to_string(++stage_counter_)).first;
    stage = QuoteIdent(it->second);
    BuildAll();
    if (create) {
      // Created outside the segment's savepoint so a rollback to it keeps
      // the table; emptied by every commit.
      try {
        ExecInTransaction("CREATE TEMP TABLE IF NOT EXISTS " + stage + " (" + stage_columns +
                          ") ON COMMIT DELETE ROWS");
      } catch (...) {
        stage_tables_.erase(sig);
        throw;
      }
    }
    savepoint_open_ = true;
    std::string before_copy =
        std::string("SAVEPOINT cw_segment; ") + (stage_used_in_tx_ ? "TRUNCATE " + stage + "; " : "");
    stage_used_in_tx_ = true;
    std::string data;
    for (const auto& s : staged) {
      data += std::to_string(s.seq) + (!s.old ? "\t\\N" : *s.old ? "\tt" : "\tf");
      for (std::size_t col = 0; col < rel.columns.size(); ++col) {
        data += '\t';
        AppendCopyValue(data, value_of(s, col));
      }
      for (int j : idcols) {
        data += '\t';
        auto idit = s.ids->find(j);
        TupleValue v;
        if (idit != s.ids->end() && idit->second) {
          v.kind = TupleValue::Kind::kText;
          v.data = *idit->second;
        }
        AppendCopyValue(data, v);
      }
      data += '\n';
    }
    conn_->CopyIn(InTransaction(before_copy + "COPY " + stage + " FROM STDIN"), data);
  }

  std::string batch = inline_values ? "SAVEPOINT cw_segment; " : "";
  batch += Join(statements, "; ");
  if (inline_values) savepoint_open_ = true;
  if (counted.empty()) {
    // The last segment of a source transaction carries the progress write
    // and the COMMIT: a small transaction costs one round trip.
    std::string tail = "; RELEASE SAVEPOINT cw_segment";
    if (commit) tail += "; " + (*commit)(tx_rows_ + rows.size());
    ExecInTransaction(batch + tail);
    savepoint_open_ = false;
    return commit != nullptr;
  }
  if (!statements.empty() || inline_values)
    ExecInTransaction(inline_values && statements.empty() ? "SAVEPOINT cw_segment" : batch);
  for (const auto& sql : counted) {
    auto missing = conn_->Scalar(sql);
    if (missing && *missing != "0") {
      throw Error("0A000",
                  *missing + " updated row(s) of " + rel.schema + "." + rel.name +
                      " are not on the peer and their unchanged TOAST values were not sent",
                  "ALTER TABLE ... REPLICA IDENTITY FULL on the source makes it send them.");
    }
  }
  ExecInTransaction("RELEASE SAVEPOINT cw_segment");
  savepoint_open_ = false;
  return false;
}

bool PeerApplier::BeginCopy(const std::shared_ptr<const Relation>& relation, Lsn lsn) {
  auto it = plans_.find(QualifiedName{relation->schema, relation->name});
  // Held rows must queue behind their earlier changes: only the statement
  // path knows how.
  if (it == plans_.end() || it->second.size() != 1 || !held_keys_.empty()) return false;
  const MappingPlan& plan = it->second.front();
  std::vector<std::string> types;
  StageTypes(*relation, types);
  auto columns = DirectColumns(plan, *relation, types);
  if (!columns) return false;
  Flush();  // rows of an earlier table go first
  DirectCopy cp;
  cp.relation = relation;
  cp.columns = std::move(*columns);
  cp.id_columns = IdentityColumns(*relation);
  cp.lsn = lsn;
  std::string names;
  for (const auto& c : plan.mapping->columns) names += (names.empty() ? "" : ", ") + QuoteIdent(c.target);
  ExecInTransaction("SAVEPOINT cw_copy");
  pq::Result start = conn_->Check(
      PQexec(conn_->raw(), ("COPY " + plan.mapping->target.Quoted() + " (" + names + ") FROM STDIN").c_str()),
      "COPY failed");
  if (PQresultStatus(start.raw()) != PGRES_COPY_IN) throw Error(sqlstate::kInternalError, "COPY did not start");
  copy_ = std::move(cp);
  return true;
}

void PeerApplier::CopyLines(const std::vector<std::string>& lines) {
  try {
    DirectCopy& cp = *copy_;
    const std::size_t width = cp.relation->columns.size();
    // Fields stay in COPY text form: a tab inside a value is escaped, so
    // splitting on tabs finds the fields.
    std::vector<std::string_view> fields(lines.size() * width);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::string_view line(lines[i]);
      if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
      std::size_t n = 0, start = 0;
      for (;;) {
        std::size_t tab = line.find('\t', start);
        if (n < width) fields[i * width + n] = line.substr(start, tab == std::string_view::npos ? tab : tab - start);
        ++n;
        if (tab == std::string_view::npos) break;
        start = tab + 1;
      }
      if (n != width) {
        throw Error(sqlstate::kDataCorrupted,
                    "COPY line has " + std::to_string(n) + " values, expected " + std::to_string(width));
      }
    }
    auto id_of = [](std::string_view field) -> std::optional<std::string> {
      if (field == "\\N") return std::nullopt;
      if (field.find('\\') == std::string_view::npos) return std::string(field);
      return ParseCopyLine(field, 1)[0].data;
    };
    std::vector<std::string> wanted;
    if (!cp.id_columns.empty()) {
      for (std::size_t i = 0; i < lines.size(); ++i) {
        for (int j : cp.id_columns) {
          if (auto id = id_of(fields[i * width + j])) wanted.push_back(std::move(*id));
        }
      }
    }
    auto found =
        wanted.empty() ? std::unordered_map<std::string, std::optional<std::string>>{} : ids_->TranslateBatch(wanted);
    std::string out;
    out.reserve(lines.size() * 64);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string_view* row = &fields[i * width];
      bool translated = true;
      for (int j : cp.id_columns) {
        if (auto id = id_of(row[j])) {
          auto f = found.find(*id);
          translated = translated && f != found.end() && f->second;
        }
      }
      if (!translated) {
        cp.deferred.push_back(lines[i]);
        continue;
      }
      for (std::size_t k = 0; k < cp.columns.size(); ++k) {
        if (k) out += '\t';
        int idx = cp.columns[k];
        if (idx >= 0) {
          out += row[idx];
        } else if (auto id = id_of(row[-1 - idx])) {
          AppendCopyValue(out, TupleValue{TupleValue::Kind::kText, *found.at(*id)});
        } else {
          out += "\\N";
        }
      }
      out += '\n';
      ++cp.rows;
    }
    if (!out.empty() && PQputCopyData(conn_->raw(), out.data(), static_cast<int>(out.size())) != 1) {
      throw Error("08006", std::string("COPY failed: ") + PQerrorMessage(conn_->raw()));
    }
  } catch (...) {
    AbortCopy();
    throw;
  }
}

void PeerApplier::AbortCopy() {
  if (!copy_) return;
  copy_.reset();
  PQputCopyEnd(conn_->raw(), "crosswalk-sync: migration abandoned");
  while (PGresult* r = PQgetResult(conn_->raw())) PQclear(r);
}

bool PeerApplier::EndCopy() {
  DirectCopy cp = std::move(*copy_);
  copy_.reset();
  if (PQputCopyEnd(conn_->raw(), nullptr) != 1) {
    throw Error("08006", std::string("COPY failed: ") + PQerrorMessage(conn_->raw()));
  }
  try {
    conn_->Check(PQgetResult(conn_->raw()), "COPY failed");
    while (PGresult* extra = PQgetResult(conn_->raw())) PQclear(extra);
  } catch (const pq::ServerError& e) {
    while (PGresult* extra = PQgetResult(conn_->raw())) PQclear(extra);
    if (!IsRowError(e.sqlstate())) throw;
    Log(LogLevel::kInfo, "copy_retry_by_segment",
        {{"peer", peer_.name},
         {"table", cp.relation->schema + "." + cp.relation->name},
         {"sqlstate", e.sqlstate()},
         {"message", e.what()}});
    conn_->Exec("ROLLBACK TO SAVEPOINT cw_copy; RELEASE SAVEPOINT cw_copy");
    return false;
  }
  ExecInTransaction("RELEASE SAVEPOINT cw_copy");
  tx_rows_ += cp.rows;
  // Counted per table like the statement path's rows, for /metrics.
  tx_table_rows_[{cp.relation->schema + "." + cp.relation->name, ChangeOp::kInsert}] += cp.rows;
  for (const auto& line : cp.deferred) {
    std::string_view text(line);
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    AddChange(
        RowChange{ChangeOp::kInsert, cp.relation, 0, {}, ParseCopyLine(text, cp.relation->columns.size()), cp.lsn});
  }
  return true;
}

void PeerApplier::UndoSegment() {
  if (!savepoint_open_) return;
  conn_->Exec("ROLLBACK TO SAVEPOINT cw_segment; RELEASE SAVEPOINT cw_segment");
  savepoint_open_ = false;
}

void PeerApplier::DeadLetter(const RowChange& c, const std::string& sqlstate, const std::string& error) {
  if (!tx_open_) ExecInTransaction("SELECT 1");
  const Relation& r = *c.relation;
  json row = TupleToJson(r, c.op == ChangeOp::kDelete ? c.old_tuple : c.new_tuple);
  // The rows whose later changes queue behind this one: an update that
  // moves its row to a new key parks both keys.
  json keys = json::array({RowKey(c)});
  std::string moved_to = NewRowKey(c);
  if (!moved_to.empty() && moved_to != keys[0]) keys.push_back(moved_to);
  conn_->ExecParams(
      "INSERT INTO crosswalk_sync.dead_letter (slot, lsn, source_table, operation, sqlstate, error, \"row\", change, "
      "row_keys) VALUES ($1, $2::pg_lsn, $3, $4, $5, $6, $7::jsonb, $8::jsonb, "
      "ARRAY(SELECT pg_catalog.jsonb_array_elements_text($9::jsonb)))",
      {peer_.slot, FormatLsn(c.lsn), r.schema + "." + r.name, ChangeOpName(c.op), sqlstate, error,
       row.dump(-1, ' ', false, json::error_handler_t::replace),
       EncodeChange(c).dump(-1, ' ', false, json::error_handler_t::replace),
       keys.dump(-1, ' ', false, json::error_handler_t::replace)});
  for (const auto& k : keys) dead_keys_.insert(k.get<std::string>());
  ++counters_.dead_letters;
  Metrics::Get().AddDeadLetters(peer_.name, 1);
  Log(LogLevel::kWarning, "dead_letter",
      {{"peer", peer_.name},
       {"lsn", FormatLsn(c.lsn)},
       {"table", r.schema + "." + r.name},
       {"operation", ChangeOpName(c.op)},
       {"sqlstate", sqlstate},
       {"message", error}});
}

void PeerApplier::Hold(const RowChange& c) {
  if (!tx_open_) ExecInTransaction("SELECT 1");
  const Relation& r = *c.relation;
  std::string key = RowKey(c);
  conn_->ExecParams(
      "INSERT INTO crosswalk_sync.held (slot, lsn, source_table, operation, hold_key, change) "
      "VALUES ($1, $2::pg_lsn, $3, $4, $5, $6::jsonb)",
      {peer_.slot, FormatLsn(c.lsn), r.schema + "." + r.name, ChangeOpName(c.op), key,
       EncodeChange(c).dump(-1, ' ', false, json::error_handler_t::replace)});
  held_keys_.insert(key);
  ++counters_.held;
}

void PeerApplier::Truncate(const std::vector<std::shared_ptr<const Relation>>& relations, bool /*restart_identity*/) {
  Flush();
  for (const auto& rel : relations) {
    auto it = plans_.find(QualifiedName{rel->schema, rel->name});
    if (it == plans_.end()) continue;
    // The peer's sequences are the peer's: RESTART IDENTITY is not passed on,
    // and neither is CASCADE (it would reach tables we do not map).
    for (const auto& plan : it->second) ExecInTransaction("TRUNCATE " + plan.mapping->target.Quoted());
    std::string source = rel->schema + "." + rel->name;
    conn_->ExecParams("DELETE FROM crosswalk_sync.held WHERE slot = $1 AND source_table = $2", {peer_.slot, source});
    EraseTableKeys(held_keys_, source);
    // The table's dead letters are changes the source has since wiped out:
    // `retry` would bring their rows back on an emptied table. They go in
    // the same peer transaction as the TRUNCATE, logged with their count.
    pq::Result dropped = conn_->ExecParams(
        "WITH d AS (DELETE FROM crosswalk_sync.dead_letter WHERE slot = $1 AND source_table = $2 RETURNING 1) "
        "SELECT count(*) FROM d",
        {peer_.slot, source});
    if (dropped.value(0, 0) != "0") {
      Log(LogLevel::kInfo, "dead_letters_truncated",
          {{"peer", peer_.name}, {"table", source}, {"dead_letters", std::stoll(dropped.value(0, 0))}});
    }
    EraseTableKeys(dead_keys_, source);
  }
}

void PeerApplier::CommitTransaction(Lsn end_lsn, bool snapshot, std::uint64_t source_transactions) {
  std::string lsn = QuoteLiteral(FormatLsn(end_lsn));
  // The peer's commit record carries the source's commit LSN and time.
  std::string origin = origin_time_ && !snapshot && origins_ ? "SELECT pg_catalog.pg_replication_origin_xact_setup(" +
                                                                   QuoteLiteral(FormatLsn(origin_lsn_)) + "::pg_lsn, " +
                                                                   TimestampSql(origin_time_) + "); "
                                                             : std::string();
  CommitSql progress = [&](std::size_t rows) {
    return origin +
           "INSERT INTO crosswalk_sync.progress AS p (slot, applied_lsn, snapshot_lsn, transactions, rows_applied, "
           "guards_slot) VALUES (" +
           QuoteLiteral(peer_.slot) + ", " + lsn + ", " + (snapshot ? lsn : "NULL") + ", " +
           std::to_string(source_transactions) + ", " + std::to_string(rows) +
           ", true) ON CONFLICT (slot) DO UPDATE SET applied_lsn = EXCLUDED.applied_lsn, "
           "snapshot_lsn = COALESCE(EXCLUDED.snapshot_lsn, p.snapshot_lsn), transactions = p.transactions + "
           "EXCLUDED.transactions, "
           "rows_applied = p.rows_applied + EXCLUDED.rows_applied, updated_at = pg_catalog.now(); COMMIT" +
           ReleaseOrigin();
  };
  bool committed = false;
  try {
    committed = ApplyRun(TakePending(), &progress);
    if (!committed) {
      if (!tx_open_ && !snapshot) return;  // nothing of that transaction maps to this peer
      ExecInTransaction(progress(tx_rows_));
    }
  } catch (const Error& e) {
    // Every statement went through, then the peer refused the COMMIT: a
    // deferred constraint (or constraint trigger) a row violates. Retrying
    // the group as it was would fail the same way forever, so its source
    // transactions come again from the slot one by one, with constraints
    // checked at each statement: the rows at fault are dead-lettered.
    if (!IsRowError(e.sqlstate()) || PQtransactionStatus(conn_->raw()) != PQTRANS_IDLE) throw;
    bool again = snapshot ? immediate_bulk_ : end_lsn <= immediate_through_;
    if (snapshot) {
      immediate_bulk_ = true;
    } else {
      immediate_through_ = std::max(immediate_through_, end_lsn);
    }
    Log(LogLevel::kWarning, "commit_rejected",
        {{"peer", peer_.name},
         {"sqlstate", e.sqlstate()},
         {"message", e.what()},
         {"lsn", FormatLsn(end_lsn)},
         {"source_transactions", source_transactions},
         {"constraints_immediate", again}});
    throw Error(e.sqlstate(), std::string("peer rejected the transaction at COMMIT: ") + e.what(),
                again ? "It was already applied with SET CONSTRAINTS ALL IMMEDIATE; a constraint trigger or an "
                        "ON COMMIT action may be refusing it."
                      : "Its source transactions are applied again one at a time with SET CONSTRAINTS ALL "
                        "IMMEDIATE, so that the rows at fault go to crosswalk_sync.dead_letter.");
  }
  tx_open_ = false;
  stage_used_in_tx_ = false;
  stored_ = std::max(stored_, end_lsn);
  counters_.transactions += source_transactions;
  counters_.rows_applied += tx_rows_;
  tx_rows_ = 0;
  Metrics::Get().AddTransactions(peer_.name, source_transactions);
  PublishCommittedRows();
  if (two_way_ && std::chrono::steady_clock::now() - last_prune_ > std::chrono::minutes(10)) {
    PruneTombstones(*conn_, peer_);  // outside any transaction: its own
    last_prune_ = std::chrono::steady_clock::now();
  }
}

void PeerApplier::PublishCommittedRows() {
  for (const auto& [k, n] : tx_table_rows_) {
    Metrics::Get().AddRows(peer_.name, k.first, ChangeOpName(k.second), n);
  }
  tx_table_rows_.clear();
}

void PeerApplier::AbortTransaction() {
  if (conn_) AbortCopy();
  TakePending();  // dropped
  tx_rows_ = 0;
  tx_table_rows_.clear();
  if (!tx_open_) return;
  tx_open_ = false;
  stage_used_in_tx_ = false;
  // Stage tables created in this transaction are gone with it.
  stage_tables_.clear();
  savepoint_open_ = false;
  if (conn_ && PQstatus(conn_->raw()) == CONNECTION_OK) {
    try {
      conn_->Exec("ROLLBACK" + ReleaseOrigin());
    } catch (const Error&) {
      // The connection is going away anyway; the transaction dies with it.
    }
  }
}

std::size_t PeerApplier::ReleaseHeld() {
  if (held_keys_.empty() || !ids_) return 0;
  pq::Result r = conn_->ExecParams(
      "SELECT id, lsn::text, hold_key, change::text FROM crosswalk_sync.held WHERE slot = $1 ORDER BY id",
      {peer_.slot});
  struct HeldRow {
    std::string id, key;
    RowChange change;
  };
  std::vector<HeldRow> held;
  std::map<std::string, std::shared_ptr<const Relation>> relations;  // one pointer per layout
  for (int i = 0; i < r.rows(); ++i) {
    json j = json::parse(r.value(i, 3));
    std::string rel_text = j.at("relation").dump();
    RowChange c = DecodeChange(j, ParseLsn(r.value(i, 1)));
    auto [it, inserted] = relations.emplace(rel_text, c.relation);
    c.relation = it->second;
    held.push_back({r.value(i, 0), r.value(i, 2), std::move(c)});
  }
  // Which held rows now translate: per key, the rows up to the first that
  // does not (order within a row's history is kept).
  std::vector<std::string> wanted;
  for (const auto& h : held) {
    const Relation& rel = *h.change.relation;
    for (int j : IdentityColumns(rel)) {
      for (const Tuple* t : {&h.change.new_tuple, &h.change.old_tuple}) {
        if (static_cast<std::size_t>(j) < t->size() && (*t)[j].kind == TupleValue::Kind::kText)
          wanted.push_back((*t)[j].data);
      }
    }
  }
  auto found = ids_->TranslateBatch(wanted);
  std::set<std::string> blocked;
  std::vector<const HeldRow*> release;
  for (const auto& h : held) {
    if (blocked.count(h.key)) continue;
    bool ok = true;
    for (int j : IdentityColumns(*h.change.relation)) {
      for (const Tuple* t : {&h.change.new_tuple, &h.change.old_tuple}) {
        if (static_cast<std::size_t>(j) < t->size() && (*t)[j].kind == TupleValue::Kind::kText) {
          auto it = found.find((*t)[j].data);
          ok = ok && it != found.end() && it->second;
        }
      }
    }
    if (ok) {
      release.push_back(&h);
    } else {
      blocked.insert(h.key);
    }
  }
  if (release.empty()) return 0;
  BeginTransaction();
  json ids = json::array();
  auto saved = std::move(held_keys_);
  held_keys_.clear();  // released rows must not be held again behind themselves
  try {
    for (const auto* h : release) {
      AddChange(h->change);
      ids.push_back(std::stoll(h->id));
    }
    Flush();
    ExecInTransaction("SELECT 1");
    conn_->ExecParams(
        "DELETE FROM crosswalk_sync.held WHERE id IN (SELECT pg_catalog.jsonb_array_elements_text($1::jsonb)::bigint)",
        {ids.dump()});
    conn_->Exec("COMMIT" + ReleaseOrigin());
    tx_open_ = false;
    stage_used_in_tx_ = false;
    counters_.rows_applied += tx_rows_;
    tx_rows_ = 0;
    PublishCommittedRows();
  } catch (...) {
    held_keys_ = std::move(saved);
    AbortTransaction();
    throw;
  }
  pq::Result keys =
      conn_->ExecParams("SELECT DISTINCT hold_key FROM crosswalk_sync.held WHERE slot = $1", {peer_.slot});
  for (int i = 0; i < keys.rows(); ++i) held_keys_.insert(keys.value(i, 0));
  Log(LogLevel::kInfo, "held_released",
      {{"peer", peer_.name}, {"rows", release.size()}, {"still_held_keys", held_keys_.size()}});
  return release.size();
}

std::pair<std::size_t, std::size_t> PeerApplier::RetryDeadLetters() {
  pq::Result r = conn_->ExecParams(
      "SELECT id, lsn::text, change::text, pg_catalog.array_to_json(row_keys)::text FROM crosswalk_sync.dead_letter "
      "WHERE slot = $1 ORDER BY id",
      {peer_.slot});
  std::size_t applied = 0, left = 0;
  // Rows whose earlier dead letter is still failing: their later ones wait,
  // so a row never ends up with an older version than it had.
  std::unordered_set<std::string> blocked;
  for (int i = 0; i < r.rows(); ++i) {
    std::string id = r.value(i, 0);
    std::vector<std::string> keys;
    if (!r.is_null(i, 3)) keys = json::parse(r.value(i, 3)).get<std::vector<std::string>>();
    if (std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return blocked.count(k) > 0; })) {
      blocked.insert(keys.begin(), keys.end());
      ++left;
      continue;
    }
    try {
      RowChange c = DecodeChange(json::parse(r.value(i, 2)), ParseLsn(r.value(i, 1)));
      if (!plans_.count(QualifiedName{c.relation->schema, c.relation->name})) {
        throw Error(sqlstate::kConfigFileError,
                    "table " + c.relation->schema + "." + c.relation->name + " is no longer mapped for this peer");
      }
      BeginTransaction();
      Segment seg;
      seg.relation = c.relation;
      seg.op = c.op;
      seg.mask = SegmentMask(c);
      seg.rows.push_back(std::move(c));
      ExecInTransaction("SELECT 1");
      ApplySegment(seg, true);
      conn_->ExecParams("DELETE FROM crosswalk_sync.dead_letter WHERE id = $1", {id});
      conn_->Exec("COMMIT" + ReleaseOrigin());
      tx_open_ = false;
      stage_used_in_tx_ = false;
      ++applied;
    } catch (const Error& e) {
      AbortTransaction();
      conn_->ExecParams(
          "UPDATE crosswalk_sync.dead_letter SET attempts = attempts + 1, sqlstate = $2, error = $3 WHERE id = $1",
          {id, e.sqlstate(), e.what()});
      blocked.insert(keys.begin(), keys.end());
      ++left;
    }
  }
  return {applied, left};
}

}  // namespace crosswalk::cdc

namespace crosswalk::cdc {

void PeerApplier::CheckMappings(const std::map<QualifiedName, std::shared_ptr<const Relation>>& relations) {
  for (const auto& [source, plans] : plans_) {
    auto rel_it = relations.find(source);
    if (rel_it == relations.end()) continue;  // the caller reports a missing source table
    const Relation& rel = *rel_it->second;
    std::vector<std::string> types;
    StageTypes(rel, types);
    // An empty stage of the right types: the peer parses, resolves and plans
    // every statement, and changes nothing.
    std::string cols = "0::int4 AS _cw_seq, false AS _cw_old";
    for (std::size_t i = 0; i < rel.columns.size(); ++i) {
      cols += ", NULL::" + types[i] + " AS " + QuoteIdent(rel.columns[i].name);
    }
    for (int j : IdentityColumns(rel)) cols += ", NULL::text AS " + QuoteIdent(IdColumn(j));
    std::string stage = "(SELECT " + cols + " WHERE false) AS _cw_stage";
    for (const auto& plan : plans) {
      for (ChangeOp op : {ChangeOp::kInsert, ChangeOp::kUpdate, ChangeOp::kDelete}) {
        bool count_missing = false;
        std::string sql = BuildStatement(plan, rel, op, {}, stage, count_missing);
        try {
          conn_->Exec("BEGIN; " + sql + "; ROLLBACK");
        } catch (const pq::ServerError& e) {
          conn_->Exec("ROLLBACK");
          throw Error(sqlstate::kConfigFileError,
                      "config: " + plan.mapping->path + ": the peer rejects its " + ChangeOpName(op) + ": " + e.what());
        }
      }
    }
  }
}

}  // namespace crosswalk::cdc
