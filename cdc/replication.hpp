// The streaming replication protocol over libpq, after pg_recvlogical.c: a
// `replication=database` connection, CREATE_REPLICATION_SLOT with an exported
// snapshot, START_REPLICATION of pgoutput, and the CopyBoth frames: XLogData
// ('w') and primary keepalive ('k') in, standby status update ('r') out.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

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

// Once streaming, a reader thread owns the connection: it reads frames
// ahead into a bounded queue (so the walsender keeps decoding while the
// caller applies what came before) and sends the status updates the caller
// hands it. It answers a keepalive that asks for a reply at once with the
// last positions the caller reported, so a peer transaction that takes
// longer than wal_sender_timeout does not end the stream.
class ReplicationConnection {
 public:
  // Connects with replication=database added to `dsn`.
  explicit ReplicationConnection(const std::string& dsn);
  // Stops the reader; a status update still pending is sent if possible.
  ~ReplicationConnection();

  // CREATE_REPLICATION_SLOT slot LOGICAL pgoutput (SNAPSHOT 'export').
  CreatedSlot CreateSlot(const std::string& slot);
  // START_REPLICATION SLOT slot LOGICAL start (proto_version '1',
  // publication_names '"pub"', messages 'true'); enters CopyBoth and starts
  // the reader.
  void StartReplication(const std::string& slot, Lsn start, const std::string& publication);
  // The next CopyData frame, or nullopt when none came within timeout_ms.
  // Throws, after the frames that came before it, when the server ends the
  // stream or the connection breaks.
  std::optional<std::string> ReadFrame(int timeout_ms);
  // Hands a standby status update to the reader, which sends it at once; it
  // replaces one not sent yet. Errors surface in ReadFrame.
  void SendStatus(Lsn written, Lsn flushed, bool reply_requested);
  // Stops the reader and sends the last status update, if one is pending,
  // from this thread; throws if it cannot be sent.
  void Finish();

 private:
  void ReadAhead();
  void Wake();
  // Moves `batch` to the queue and wakes the caller (mu_ held).
  void Enqueue(std::vector<std::string>& batch);
  // Whether a frame is a keepalive asking for a reply.
  static bool AsksForReply(std::string_view frame);

  pq::Connection conn_;
  std::string dsn_;
  std::thread reader_;
  int wake_[2] = {-1, -1};  // a pipe: SendStatus and Finish interrupt the reader's poll
  std::mutex mu_;
  std::condition_variable cv_;  // a frame or an error queued, or room freed
  std::deque<std::string> frames_;
  std::size_t queued_bytes_ = 0;
  std::optional<std::string> status_;                // to send
  Lsn reported_written_ = 0, reported_flushed_ = 0;  // last handed over (at first, the start), for keepalive replies
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace crosswalk::cdc
