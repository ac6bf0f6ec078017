// Schema drift on the source, seen by one peer's stream: pgoutput sends a
// new Relation message before the first change of a table after its layout
// changed. A column added, or a table the peer does not map, changes
// nothing; a column the peer's mapping reads that is dropped or retyped
// pauses that peer (SchemaDriftError, retried with backoff from the stored
// position, so nothing is skipped) until the operator fixes the mapping and
// reloads it (SIGHUP) or restarts.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "error.hpp"
#include "pgoutput.hpp"

namespace crosswalk::cdc {

inline constexpr const char* kColumnDropped = "42703";  // undefined_column
inline constexpr const char* kColumnRetyped = "42804";  // datatype_mismatch

// A mapped source column that is gone or has another type than the mapping
// was checked with; names the table, the column and the config path.
class SchemaDriftError : public Error {
 public:
  SchemaDriftError(const char* sqlstate, std::string message, std::string hint, std::string table, std::string column,
                   std::string path)
      : Error(sqlstate, std::move(message), std::move(hint)),
        table(std::move(table)),
        column(std::move(column)),
        path(std::move(path)) {}
  std::string table, column, path;
};

// The columns of `layout` that column mapping `c` reads, in layout order.
std::vector<const RelationColumn*> ColumnsRead(const ColumnMapping& c, const Relation& layout);
// For `check`: when the peer's `error` about `peer`'s mapping names a
// column the mapping reads that the source table does not have (dropped or
// renamed), says so, naming the table, the column and the config path;
// empty otherwise.
std::string ExplainMissingColumns(const PeerConfig& peer,
                                  const std::map<QualifiedName, std::shared_ptr<const Relation>>& layouts,
                                  const std::string& error);

class SchemaDriftGuard {
 public:
  // The source columns `peer` reads, per source table (from column
  // expressions, identity columns and `where`, by config path).
  void SetMapping(const PeerConfig& peer);
  // Accepts the columns and types of `layout` (the source catalog's, or a
  // layout a reload has checked against the peer).
  void Acknowledge(const Relation& layout);
  // The source's WAL position right after the catalog's layouts were
  // acknowledged: a layout sent in a transaction that committed before it
  // may be older than what was checked (WAL replayed after a restart) and
  // is accepted.
  void SetAcknowledgedAt(Lsn lsn) { acknowledged_at_ = lsn; }
  // Checks a Relation message sent in a transaction committed at `lsn`: throws
  // SchemaDriftError when a column the mapping reads, acknowledged before,
  // is missing, or has a type not acknowledged.
  void Observe(const std::shared_ptr<const Relation>& layout, Lsn lsn);
  // The layout that last paused the stream, until a reload acknowledges it.
  std::shared_ptr<const Relation> drifted() const { return drifted_; }
  void ClearDrifted() { drifted_.reset(); }

 private:
  using Type = std::pair<std::uint32_t, std::int32_t>;
  // source table -> identifier the mapping reads -> first config path reading it
  std::map<QualifiedName, std::map<std::string, std::string>> reads_;
  std::map<QualifiedName, std::map<std::string, std::set<Type>>> acknowledged_;
  Lsn acknowledged_at_ = 0;
  std::map<QualifiedName, std::shared_ptr<const Relation>> previous_;
  std::shared_ptr<const Relation> drifted_;
};

}  // namespace crosswalk::cdc
