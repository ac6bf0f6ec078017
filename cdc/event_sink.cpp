#include "event_sink.hpp"

#include <chrono>
#include <set>

#include "kafka.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "replication.hpp"
#include "snapshot.hpp"
#include "sqltext.hpp"

namespace crosswalk::cdc {

namespace {

// Events buffered before their identities are resolved in one round trip.
constexpr std::size_t kBatchEvents = 2000;

std::int64_t UnixMsNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

EventSink::EventSink(const Config& config, const PeerConfig& peer) : config_(config), peer_(peer) {}

EventSink::~EventSink() = default;

void EventSink::Prepare(bool check_only) {
  writer_.reset();
  if (peer_.kind == PeerKind::kKafka) {
    writer_ = std::make_unique<KafkaWriter>(peer_.kafka.brokers, peer_.kafka.properties, peer_.path + ".kafka");
  } else {
    writer_ = std::make_unique<FileWriter>(peer_.file, /*cut_partial_line=*/!check_only);
  }
  source_ = std::make_unique<pq::Connection>(config_.source.dsn);
  source_->Exec("SET client_encoding = 'UTF8'");
  database_ = source_->Scalar("SELECT pg_catalog.current_database()").value_or("");
  bool uses_identity = false;
  for (const auto& t : peer_.tables) {
    for (const auto& c : t.columns) uses_identity = uses_identity || c.identity_column.has_value();
  }
  if (uses_identity && !ids_) {
    ids_ = std::make_unique<CanonicalIdResolver>(config_.identity.dsn, config_.source.platform,
                                                 config_.identity.cache_seconds);
  }
  plans_.clear();
  pending_.clear();
  txs_.clear();
  acked_ = 0;
  in_snapshot_ = false;
}

void EventSink::EnsureProgressTable() {
  // Serialised: several peers' threads may create it at once.
  source_->Exec(
      "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('crosswalk_sync.event_progress')); "
      "CREATE SCHEMA IF NOT EXISTS crosswalk_sync; "
      "CREATE TABLE IF NOT EXISTS crosswalk_sync.event_progress ("
      "  slot text PRIMARY KEY, peer text NOT NULL, snapshot_lsn pg_catalog.pg_lsn NOT NULL,"
      "  snapshot_done boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()); "
      "COMMIT");
}

std::optional<Lsn> EventSink::StoredPosition() {
  EnsureProgressTable();
  pq::Result r = source_->ExecParams(
      "SELECT p.snapshot_done, s.confirmed_flush_lsn::text, p.snapshot_lsn::text "
      "FROM crosswalk_sync.event_progress p LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = p.slot "
      "WHERE p.slot = $1",
      {peer_.slot});
  if (r.rows() == 0 || r.value(0, 0) != "t") return std::nullopt;
  Lsn stored = ParseLsn(r.get(0, 1).value_or(r.value(0, 2)));
  acked_ = stored;
  return stored;
}

EventSink::TablePlan EventSink::BuildPlan(const TableMapping& m, const std::shared_ptr<const Relation>& rel) const {
  TablePlan plan;
  plan.mapping = &m;
  plan.relation = rel;
  auto column_of = [&](const std::string& name, const std::string& path) {
    for (std::size_t i = 0; i < rel->columns.size(); ++i) {
      if (rel->columns[i].name == name) return static_cast<int>(i);
    }
    throw Error(sqlstate::kConfigFileError,
                "config: " + path + ": source table " + m.source.Display() + " has no column \"" + name + "\"");
  };
  if (m.columns.empty()) {
    for (std::size_t i = 0; i < rel->columns.size(); ++i) {
      plan.fields.push_back(Field{rel->columns[i].name, static_cast<int>(i), false, rel->columns[i].type_oid});
    }
  } else {
    for (const auto& c : m.columns) {
      Field f;
      f.name = c.target;
      f.identity = c.identity_column.has_value();
      f.column = column_of(f.identity ? *c.identity_column : c.expression, c.path);
      f.type_oid = rel->columns[static_cast<std::size_t>(f.column)].type_oid;
      plan.fields.push_back(std::move(f));
    }
  }
  if (!m.key.empty()) {
    for (std::size_t k = 0; k < m.key.size(); ++k) {
      bool found = false;
      for (std::size_t i = 0; i < plan.fields.size() && !found; ++i) {
        if (plan.fields[i].name == m.key[k]) {
          plan.key.push_back(static_cast<int>(i));
          found = true;
        }
      }
      if (!found) {
        throw Error(sqlstate::kConfigFileError, "config: " + m.path + ".key[" + std::to_string(k) + "]: source table " +
                                                    m.source.Display() + " has no column \"" + m.key[k] + "\"");
      }
    }
    return plan;
  }
  // The replica identity: each of its columns passed through as it is.
  for (std::size_t c = 0; c < rel->columns.size(); ++c) {
    if (!rel->columns[c].is_key) continue;
    bool found = false;
    for (std::size_t i = 0; i < plan.fields.size() && !found; ++i) {
      if (plan.fields[i].column == static_cast<int>(c) && !plan.fields[i].identity) {
        plan.key.push_back(static_cast<int>(i));
        found = true;
      }
    }
    if (!found) {
      throw Error(sqlstate::kConfigFileError,
                  "config: " + m.path + ".key: the replica identity column \"" + rel->columns[c].name + "\" of " +
                      m.source.Display() + " is not in columns",
                  "Map it, or name the key fields with \"key\".");
    }
  }
  if (plan.key.empty()) {
    throw Error(sqlstate::kConfigFileError,
                "config: " + m.path + ".key: " + m.source.Display() + " has no replica identity key",
                "Give the table a primary key, or name the key fields with \"key\".");
  }
  return plan;
}

const EventSink::TablePlan* EventSink::PlanFor(const std::shared_ptr<const Relation>& rel) {
  auto it = plans_.find(rel.get());
  if (it != plans_.end()) return &it->second.second;
  const TableMapping* mapping = nullptr;
  for (const auto& t : peer_.tables) {
    if (t.source.schema == rel->schema && t.source.name == rel->name) mapping = &t;
  }
  if (!mapping) return nullptr;  // published for another peer
  if (plans_.size() > 10000) plans_.clear();
  auto& slot = plans_[rel.get()];
  slot.first = rel;  // keeps the address from being reused
  slot.second = BuildPlan(*mapping, rel);
  return &slot.second;
}

void EventSink::CheckTables(const std::map<QualifiedName, std::shared_ptr<const Relation>>& relations) {
  for (const auto& t : peer_.tables) BuildPlan(t, relations.at(t.source));
}

void EventSink::CheckConnection() {
  if (auto* k = dynamic_cast<KafkaWriter*>(writer_.get())) k->CheckConnection(10000);
}

EventSink::TxTrack& EventSink::OpenTx(std::uint32_t xid, std::int64_t commit_time, Lsn commit_lsn) {
  TxTrack t;
  t.id = next_tx_++;
  t.commit_time = commit_time;
  txs_.push_back(std::move(t));
  xid_ = xid;
  commit_time_ = commit_time;
  commit_lsn_ = commit_lsn;
  event_seq_ = 0;
  return txs_.back();
}

void EventSink::BeginSourceTransaction(const BeginMessage& b) { OpenTx(b.xid, b.commit_time, b.final_lsn); }

void EventSink::Queue(char op, const TablePlan* plan, RowChange change, Lsn lsn) {
  Event e;
  e.op = op;
  e.plan = plan;
  e.change = std::move(change);
  e.source.connector_name = peer_.name;
  e.source.platform = config_.source.platform;
  e.source.database = database_;
  e.source.schema = plan->mapping->source.schema;
  e.source.table = plan->mapping->source.name;
  e.source.xid = xid_;
  e.source.lsn = lsn;
  e.source.commit_lsn = commit_lsn_;
  e.source.event_seq = event_seq_++;
  e.source.commit_time_us = commit_time_;
  e.source.snapshot = in_snapshot_ ? "true" : "false";
  e.tx = txs_.back().id;
  TxTrack& tx = txs_.back();
  ++tx.outstanding;
  ++tx.rows[{plan->mapping->source.Display(), op}];
  pending_.push_back(std::move(e));
  if (pending_.size() >= kBatchEvents) FlushPending(in_snapshot_);
}

void EventSink::AddChange(RowChange change) {
  const TablePlan* plan = PlanFor(change.relation);
  if (!plan) return;
  Lsn lsn = change.lsn;
  if (change.op == ChangeOp::kInsert) return Queue('c', plan, std::move(change), lsn);
  if (change.op == ChangeOp::kDelete) return Queue('d', plan, std::move(change), lsn);
  // An update that changes the key is, per key, a delete then a create (as
  // Debezium does): each key's partition sees its row leave or arrive.
  if (change.old_kind != 0) {
    bool same_key = true;
    for (int k : plan->key) {
      std::size_t col = static_cast<std::size_t>(plan->fields[static_cast<std::size_t>(k)].column);
      const TupleValue& a = change.old_tuple[col];
      const TupleValue& b = change.new_tuple[col];
      if (a.kind == TupleValue::Kind::kUnchanged || b.kind == TupleValue::Kind::kUnchanged) continue;
      same_key = same_key && a.kind == b.kind && a.data == b.data;
    }
    if (!same_key) {
      RowChange del = change;
      del.op = ChangeOp::kDelete;
      del.new_tuple.clear();
      Queue('d', plan, std::move(del), lsn);
      change.op = ChangeOp::kInsert;
      change.old_kind = 0;
      change.old_tuple.clear();
      return Queue('c', plan, std::move(change), lsn);
    }
  }
  Queue('u', plan, std::move(change), lsn);
}

void EventSink::Truncate(const std::vector<std::shared_ptr<const Relation>>& relations) {
  for (const auto& rel : relations) {
    const TablePlan* plan = PlanFor(rel);
    if (!plan) continue;
    RowChange c;
    c.relation = rel;
    Queue('t', plan, std::move(c), commit_lsn_);
  }
}

void EventSink::EndSourceTransaction(const CommitMessage& c) {
  TxTrack& tx = txs_.back();
  tx.end_lsn = c.end_lsn;
  tx.closed = true;
}

void EventSink::Send() { FlushPending(false); }

void EventSink::FlushPending(bool keep_last) {
  if (pending_.empty()) return;
  std::size_t n = pending_.size() - (keep_last ? 1 : 0);
  // Every identity value of the batch resolved in one round trip.
  std::unordered_map<std::string, std::optional<std::string>> persons;
  if (ids_) {
    std::vector<std::string> wanted;
    for (std::size_t i = 0; i < n; ++i) {
      const Event& e = pending_[i];
      for (const auto& f : e.plan->fields) {
        if (!f.identity) continue;
        for (const Tuple* t : {&e.change.old_tuple, &e.change.new_tuple}) {
          std::size_t col = static_cast<std::size_t>(f.column);
          if (col < t->size() && (*t)[col].kind == TupleValue::Kind::kText) wanted.push_back((*t)[col].data);
        }
      }
    }
    if (!wanted.empty()) persons = ids_->ResolveBatch(wanted);
  }
  auto row_json = [&](const TablePlan& plan, const Tuple& tuple) {
    EventJson row = EventJson::object();
    for (const auto& f : plan.fields) {
      const TupleValue& v = tuple[static_cast<std::size_t>(f.column)];
      if (f.identity) {
        auto it = v.kind == TupleValue::Kind::kText ? persons.find(v.data) : persons.end();
        row[f.name] = it != persons.end() && it->second ? EventJson(*it->second) : EventJson(nullptr);
      } else {
        row[f.name] = EncodeColumnValue(f.type_oid, v);
      }
    }
    return row;
  };
  const std::int64_t now_ms = UnixMsNow();
  for (std::size_t i = 0; i < n; ++i) {
    Event& e = pending_[i];
    const TablePlan& plan = *e.plan;
    const std::string& topic = plan.mapping->topic;
    if (e.op == 't') {
      std::string value = EncodeDebeziumValue('t', nullptr, nullptr, e.source, now_ms);
      int partitions = writer_->Partitions(topic);
      txs_[static_cast<std::size_t>(e.tx - txs_.front().id)].outstanding += static_cast<std::uint64_t>(partitions - 1);
      for (int p = 0; p < partitions; ++p) writer_->Produce(topic, p, std::nullopt, value, e.tx);
      continue;
    }
    EventJson before = e.change.old_kind != 0 ? row_json(plan, e.change.old_tuple) : EventJson(nullptr);
    EventJson after = e.op != 'd' ? row_json(plan, e.change.new_tuple) : EventJson(nullptr);
    const EventJson& keyed = e.op == 'd' ? before : after;
    EventJson key = EventJson::object();
    for (int k : plan.key) {
      const std::string& name = plan.fields[static_cast<std::size_t>(k)].name;
      key[name] = keyed.is_object() ? keyed[name] : EventJson(nullptr);
    }
    writer_->Produce(topic, -1, key.dump(), EncodeDebeziumValue(e.op, before, after, e.source, now_ms), e.tx);
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
}

void EventSink::Apply(const std::vector<Delivery>& deliveries) {
  for (const auto& d : deliveries) {
    // From a transaction forgotten by Prepare (a previous connection).
    if (txs_.empty() || d.token < txs_.front().id) continue;
    if (!d.error.empty()) {
      throw Error("08006", "event delivery failed for peer " + peer_.name + ": " + d.error,
                  "Unacknowledged transactions are sent again from the slot's confirmed position.");
    }
    std::size_t i = static_cast<std::size_t>(d.token - txs_.front().id);
    if (i < txs_.size() && txs_[i].outstanding > 0) --txs_[i].outstanding;
  }
  while (!txs_.empty() && txs_.front().closed && txs_.front().outstanding == 0) {
    TxTrack& t = txs_.front();
    acked_ = std::max(acked_, t.end_lsn);
    if (!in_snapshot_) {
      for (const auto& [what, n] : t.rows) {
        static const std::map<char, const char*> names = {
            {'c', "insert"}, {'u', "update"}, {'d', "delete"}, {'t', "truncate"}, {'r', "snapshot"}};
        Metrics::Get().AddRows(peer_.name, what.first, names.at(what.second), n);
      }
      Metrics::Get().AddTransactions(peer_.name, 1);
    }
    txs_.pop_front();
  }
}

Lsn EventSink::DurablePosition(Lsn committed) {
  std::vector<Delivery> d;
  writer_->Poll(0, d);
  Apply(d);
  if (txs_.empty()) acked_ = std::max(acked_, committed);
  return txs_.empty() ? committed : acked_;
}

void EventSink::Abandon() {
  if (!writer_) return;
  // The open transaction's unsent events are dropped with it.
  if (!txs_.empty() && !txs_.back().closed) {
    while (!pending_.empty() && pending_.back().tx == txs_.back().id) pending_.pop_back();
  }
  try {
    FlushPending(false);
    std::vector<Delivery> d;
    writer_->Flush(5000, d);
    Apply(d);
  } catch (const Error& e) {
    Log(LogLevel::kWarning, "events_unacknowledged", {{"peer", peer_.name}, {"message", e.what()}});
  }
}

void EventSink::WaitAcknowledged() {
  while (!txs_.empty()) {
    std::vector<Delivery> d;
    writer_->Flush(1000, d);
    Apply(d);
  }
}

std::uint64_t EventSink::Snapshot(const std::string& source_dsn, const std::string& snapshot_name,
                                  Lsn consistent_point) {
  EnsureProgressTable();
  // A snapshot begun before and not finished: its consumers got part of an
  // older state; truncate events first tell them to drop it.
  bool redo =
      source_->Scalar("SELECT 1 FROM crosswalk_sync.event_progress WHERE slot = $1 AND NOT snapshot_done", {peer_.slot})
          .has_value();
  source_->ExecParams(
      "INSERT INTO crosswalk_sync.event_progress (slot, peer, snapshot_lsn) VALUES ($1, $2, $3::pg_catalog.pg_lsn) "
      "ON CONFLICT (slot) DO UPDATE SET snapshot_lsn = EXCLUDED.snapshot_lsn, snapshot_done = false, "
      "updated_at = pg_catalog.now()",
      {peer_.slot, peer_.name, FormatLsn(consistent_point)});
  pq::Connection snap(source_dsn);
  snap.Exec("SET client_encoding = 'UTF8'; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  snap.Exec("SET TRANSACTION SNAPSHOT " + QuoteLiteral(snapshot_name));
  in_snapshot_ = true;
  OpenTx(0, PostgresNow(), consistent_point);
  std::vector<std::pair<const TableMapping*, std::shared_ptr<const Relation>>> tables;
  for (const auto& t : peer_.tables) {
    tables.emplace_back(&t, LoadSourceRelation(snap, t.source, "config: " + t.path + ".source"));
  }
  if (redo) {
    Log(LogLevel::kInfo, "snapshot_redo", {{"peer", peer_.name}, {"lsn", FormatLsn(consistent_point)}});
    for (const auto& [t, rel] : tables) {
      RowChange c;
      c.relation = rel;
      Queue('t', PlanFor(rel), std::move(c), consistent_point);
    }
  }
  std::uint64_t total = 0;
  for (const auto& [t, rel] : tables) {
    const TablePlan* plan = PlanFor(rel);
    std::string cols;
    for (const auto& c : rel->columns) cols += (cols.empty() ? "" : ", ") + QuoteIdent(c.name);
    snap.Check(PQexec(snap.raw(), ("COPY " + t->source.Quoted() + " (" + cols + ") TO STDOUT").c_str()),
               "COPY from the source failed");
    std::uint64_t rows = 0;
    for (;;) {
      char* buf = nullptr;
      int n = PQgetCopyData(snap.raw(), &buf, 0);
      if (n == -1) break;
      if (n < 0) throw Error("08006", std::string("COPY from the source failed: ") + PQerrorMessage(snap.raw()));
      std::string_view line(buf, static_cast<std::size_t>(n));
      if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
      RowChange c;
      c.op = ChangeOp::kInsert;
      c.relation = rel;
      c.lsn = consistent_point;
      try {
        c.new_tuple = ParseCopyLine(line, rel->columns.size());
      } catch (...) {
        PQfreemem(buf);
        throw;
      }
      PQfreemem(buf);
      Queue('r', plan, std::move(c), consistent_point);
      ++rows;
    }
    snap.Check(PQgetResult(snap.raw()), "COPY from the source failed");
    while (PGresult* extra = PQgetResult(snap.raw())) PQclear(extra);
    Log(LogLevel::kInfo, "snapshot_table",
        {{"peer", peer_.name}, {"table", t->source.Display()}, {"rows", rows}, {"lsn", FormatLsn(consistent_point)}});
    Metrics::Get().AddRows(peer_.name, t->source.Display(), "snapshot", rows);
    total += rows;
  }
  if (!pending_.empty()) pending_.back().source.snapshot = "last";
  FlushPending(false);
  txs_.back().end_lsn = consistent_point;
  txs_.back().closed = true;
  WaitAcknowledged();
  in_snapshot_ = false;
  source_->ExecParams(
      "UPDATE crosswalk_sync.event_progress SET snapshot_done = true, updated_at = pg_catalog.now() WHERE slot = $1",
      {peer_.slot});
  snap.Exec("COMMIT");
  acked_ = consistent_point;
  return total;
}

}  // namespace crosswalk::cdc
