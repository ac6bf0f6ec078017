#include "snapshot.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "log.hpp"
#include "sqltext.hpp"

namespace crosswalk::cdc {

std::shared_ptr<const Relation> LoadSourceRelation(pq::Connection& source, const QualifiedName& table,
                                                   const std::string& what) {
  pq::Result r(pq::ResultPtr(nullptr));
  try {
    r = source.ExecParams(
        "SELECT c.oid, n.nspname, c.relname, c.relreplident, a.attname, a.atttypid, a.atttypmod, "
        "       COALESCE(a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey), false) "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "     AND a.attgenerated = '' "
        "LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND CASE c.relreplident "
        "     WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END "
        "WHERE c.oid = $1::pg_catalog.regclass ORDER BY a.attnum",
        {table.Quoted()});
  } catch (const pq::ServerError& e) {
    throw Error(sqlstate::kConfigFileError, what + ": source table " + table.Display() + " not found: " + e.what());
  }
  if (r.rows() == 0)
    throw Error(sqlstate::kConfigFileError, what + ": source table " + table.Display() + " has no columns");
  auto rel = std::make_shared<Relation>();
  rel->oid = static_cast<std::uint32_t>(std::stoul(r.value(0, 0)));
  rel->schema = r.value(0, 1);
  rel->name = r.value(0, 2);
  rel->replica_identity = r.value(0, 3).at(0);
  for (int i = 0; i < r.rows(); ++i) {
    RelationColumn c;
    c.name = r.value(i, 4);
    c.type_oid = static_cast<std::uint32_t>(std::stoul(r.value(i, 5)));
    c.type_mod = std::stoi(r.value(i, 6));
    c.is_key = rel->replica_identity == 'f' || r.value(i, 7) == "t";
    rel->columns.push_back(std::move(c));
  }
  return rel;
}

namespace {

// Runs `copy_sql` (a COPY ... TO STDOUT) on `source` and hands its lines to
// `consume` in chunks. A reader thread pulls the source's COPY while the
// caller's thread maps and writes to the peer, as a `COPY | COPY` pipe
// overlaps its two ends; at most kQueuedBytes of lines wait, so memory stays
// bounded. Returns the number of lines.
std::uint64_t ReadSourceCopy(pq::Connection& source, const std::string& copy_sql,
                             const std::function<void(std::vector<std::string>&)>& consume) {
  pq::Result start = source.Check(PQexec(source.raw(), copy_sql.c_str()), "COPY from the source failed");
  constexpr std::size_t kChunkLines = 1000, kChunkBytes = 256u << 10, kQueuedBytes = 64u << 20;
  std::size_t queued_bytes = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::vector<std::string>, std::size_t>> queue;
  bool finished = false, abandon = false;
  std::string failure;
  std::thread reader([&] {
    std::vector<std::string> chunk;
    std::size_t chunk_bytes = 0;
    auto push = [&](bool last) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return queued_bytes < kQueuedBytes || abandon; });
      queued_bytes += chunk_bytes;
      if (!chunk.empty()) queue.emplace_back(std::move(chunk), chunk_bytes);
      chunk.clear();
      chunk_bytes = 0;
      finished = last;
      cv.notify_all();
    };
    for (;;) {
      char* buf = nullptr;
      int n = PQgetCopyData(source.raw(), &buf, 0);
      if (n == -1) break;
      if (n < 0) {
        std::lock_guard<std::mutex> lock(mu);
        failure = std::string("COPY from the source failed: ") + PQerrorMessage(source.raw());
        break;
      }
      chunk.emplace_back(buf, static_cast<std::size_t>(n));
      chunk_bytes += static_cast<std::size_t>(n);
      PQfreemem(buf);
      if (chunk.size() == kChunkLines || chunk_bytes >= kChunkBytes) push(false);
      std::lock_guard<std::mutex> lock(mu);
      if (abandon) break;
    }
    push(true);
  });
  std::uint64_t rows = 0;
  try {
    for (;;) {
      std::vector<std::string> chunk;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || finished; });
        if (queue.empty()) break;
        chunk = std::move(queue.front().first);
        queued_bytes -= queue.front().second;
        queue.pop_front();
        cv.notify_all();
      }
      rows += chunk.size();
      consume(chunk);
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mu);
      abandon = true;
      cv.notify_all();
    }
    reader.join();
    throw;
  }
  reader.join();
  if (!failure.empty()) throw Error("08006", failure);
  source.Check(PQgetResult(source.raw()), "COPY from the source failed");
  while (PGresult* extra = PQgetResult(source.raw())) PQclear(extra);
  return rows;
}

}  // namespace

std::uint64_t SnapshotPeer(const std::string& source_dsn, const std::string& snapshot_name, Lsn consistent_point,
                           PeerApplier& applier) {
  pq::Connection source(source_dsn);
  source.Exec("SET client_encoding = 'UTF8'; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  source.Exec("SET TRANSACTION SNAPSHOT " + QuoteLiteral(snapshot_name));
  applier.BeginTransaction();
  applier.set_bulk(true);
  std::uint64_t total = 0;
  std::set<QualifiedName> done;
  for (const auto& t : applier.peer().tables) {
    if (!done.insert(t.source).second) continue;
    auto rel = LoadSourceRelation(source, t.source, "config: " + t.path + ".source");
    std::string cols;
    for (const auto& c : rel->columns) cols += (cols.empty() ? "" : ", ") + QuoteIdent(c.name);
    std::string copy_sql = "COPY " + t.source.Quoted() + " (" + cols + ") TO STDOUT";
    if (!t.snapshot_order_by.empty()) {
      std::string order;
      for (const auto& c : t.snapshot_order_by) order += (order.empty() ? "" : ", ") + QuoteIdent(c);
      copy_sql = "COPY (SELECT " + cols + " FROM " + t.source.Quoted() + " ORDER BY " + order + ") TO STDOUT";
    }
    std::uint64_t rows = 0;
    bool copied = false;
    if (applier.BeginCopy(rel, consistent_point)) {
      // One COPY into the target, lines rewritten field by field.
      try {
        rows = ReadSourceCopy(source, copy_sql, [&](std::vector<std::string>& lines) { applier.CopyLines(lines); });
      } catch (...) {
        applier.AbortCopy();
        throw;
      }
      copied = applier.EndCopy();
    }
    if (!copied) {
      // Through the statement path: expressions, filters, several mappings,
      // or a table whose COPY the peer rejected (the same snapshot gives the
      // same rows again; the rejected ones are dead-lettered).
      rows = ReadSourceCopy(source, copy_sql, [&](std::vector<std::string>& lines) {
        for (auto& text : lines) {
          std::string_view line(text);
          if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
          RowChange c;
          c.op = ChangeOp::kInsert;
          c.relation = rel;
          c.lsn = consistent_point;
          c.new_tuple = ParseCopyLine(line, rel->columns.size());
          applier.AddChange(std::move(c));
        }
      });
    }
    Log(LogLevel::kInfo, "snapshot_table",
        {{"peer", applier.peer().name},
         {"table", t.source.Display()},
         {"rows", rows},
         {"one_copy", copied},
         {"lsn", FormatLsn(consistent_point)}});
    total += rows;
  }
  applier.CommitTransaction(consistent_point, /*snapshot=*/true);
  applier.set_bulk(false);
  source.Exec("COMMIT");
  return total;
}

}  // namespace crosswalk::cdc
