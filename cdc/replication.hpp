// The streaming replication protocol over libpq, after pg_recvlogical.c: a
// `replication=database` connection, CREATE_REPLICATION_SLOT with an exported
// snapshot, START_REPLICATION of pgoutput, and the CopyBoth frames: XLogData
// ('w') and primary keepalive ('k') in, standby status update ('r') out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "pgoutput.hpp"
#include "pq.hpp"

namespace crosswalk::cdc {

// Microseconds since 2000-01-01 UTC, PostgreSQL's timestamp epoch.
std::int64_t PostgresNow();

struct XLogData {
  Lsn start = 0;    // WAL position of this message
  Lsn wal_end = 0;  // current end of WAL on the server
  std::int64_t send_time = 0;
  std::string_view payload;  // one pgoutput message
};
struct Keepalive {
  Lsn wal_end = 0;
  std::int64_t send_time = 0;
  bool reply_requested = false;
};
using CopyFrame = std::variant<XLogData, Keepalive>;

// Decodes one CopyData frame from the walsender; Error 08P01 when malformed.
CopyFrame DecodeCopyFrame(std::string_view frame);
// A standby status update ('r') reporting written/flushed/applied positions.
std::string EncodeStandbyStatus(Lsn written, Lsn flushed, Lsn applied, std::int64_t now, bool reply_requested);

struct CreatedSlot {
  std::string name;
  Lsn consistent_point = 0;
  std::string snapshot_name;  // valid while this connection does nothing else
};

class ReplicationConnection {
 public:
  // Connects with replication=database added to `dsn`.
  explicit ReplicationConnection(const std::string& dsn);

  // CREATE_REPLICATION_SLOT slot LOGICAL pgoutput (SNAPSHOT 'export').
  CreatedSlot CreateSlot(const std::string& slot);
  // START_REPLICATION SLOT slot LOGICAL start (proto_version '1',
  // publication_names '"pub"', messages 'true'); enters CopyBoth.
  void StartReplication(const std::string& slot, Lsn start, const std::string& publication);
  // The next CopyData frame, or nullopt when none came within timeout_ms.
  // Throws when the server ends the stream or the connection breaks.
  std::optional<std::string> ReadFrame(int timeout_ms);
  // Sends a standby status update and flushes it.
  void SendStatus(Lsn written, Lsn flushed, bool reply_requested);

  PGconn* raw() const { return conn_.raw(); }

 private:
  pq::Connection conn_;
  std::string dsn_;
};

}  // namespace crosswalk::cdc
