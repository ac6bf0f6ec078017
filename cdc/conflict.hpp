// Conflict detection and resolution for two-way tables (docs/operations.md
// "Conflicts"). A conflict is the same logical row changed on both sides
// before either change arrived: an incoming insert whose key the peer has
// with other values, an incoming update or delete whose (mapped) old row is
// not the peer's current row, or whose row the peer deleted. The peer row's
// last writer and time come from pg_xact_commit_timestamp_origin(xmin), a
// deleted row's from its tombstone; the table's policy picks the winner and
// crosswalk_sync.conflicts on the peer records both versions. Two-way
// tables take this row-at-a-time path; one-way tables keep the segment path.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "config.hpp"
#include "pgoutput.hpp"
#include "pq.hpp"

namespace crosswalk::cdc {

// Where the change being applied began, and where it is applied.
struct ConflictContext {
  std::string slot;
  Lsn lsn = 0;                   // the source commit LSN
  std::string origin_platform;   // the platform the change began on
  std::int64_t commit_time = 0;  // its commit time, microseconds since 2000-01-01 UTC
  std::string local_platform;    // the peer's platform
};

// Creates crosswalk_sync.conflicts, crosswalk_sync.tombstones and the
// functions that record tombstones and settle changes; checks that the peer
// tracks commit timestamps and that every two-way target table has REPLICA
// IDENTITY FULL and a tombstone trigger (installed when missing); prunes
// tombstones past their retention. Throws Error F0000 saying what to change.
void PrepareTwoWayTables(pq::Connection& peer, const PeerConfig& config);

// Deletes tombstones older than each two-way table's retention.
void PruneTombstones(pq::Connection& peer, const PeerConfig& config);

// The statement that settles one staged row change (old and new rows, by
// _cw_old as the apply stage has them) on a two-way table. `value_sql`
// gives a mapped column's SQL over the stage; `types` the target columns'
// types (what each value is cast to before it is compared).
std::string BuildTwoWayStatement(const TableMapping& mapping, const std::map<std::string, std::string>& types,
                                 const char* op, const std::string& stage,
                                 const std::function<std::string(const ColumnMapping&)>& value_sql,
                                 const ConflictContext& context);

// A commit time (microseconds since 2000-01-01 UTC) as a timestamptz literal.
std::string TimestampSql(std::int64_t commit_time);

}  // namespace crosswalk::cdc
