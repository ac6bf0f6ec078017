#include "replication.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "sqltext.hpp"

namespace crosswalk::cdc {

namespace {

constexpr std::int64_t kUnixToPostgresEpochMicros = 946684800LL * 1000000LL;
// Frames read ahead of the caller, at most (the walsender waits beyond).
constexpr std::size_t kReadAheadBytes = 16u << 20;

void PutU64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

pq::ConnPtr ConnectReplication(const std::string& dsn) {
  // expand_dbname: `dsn` is a whole connection string; the keywords after it
  // override what it says.
  const char* keys[] = {"dbname", "replication", "client_encoding", "application_name", nullptr};
  const char* values[] = {dsn.c_str(), "database", "UTF8", "crosswalk-sync", nullptr};
  return pq::ConnPtr(PQconnectdbParams(keys, values, 1));
}

// Sends one standby status update and flushes it.
void SendNow(PGconn* c, const std::string& status) {
  if (PQputCopyData(c, status.data(), static_cast<int>(status.size())) != 1 || PQflush(c) != 0) {
    throw Error("08006", std::string("could not send standby status: ") + PQerrorMessage(c));
  }
}

}  // namespace

std::int64_t PostgresNow() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
  return us.count() - kUnixToPostgresEpochMicros;
}

CopyFrame DecodeCopyFrame(std::string_view frame) {
  MessageReader in(frame, 0);
  if (frame.empty()) in.Fail("empty CopyData frame");
  char kind = static_cast<char>(in.ReadU8());
  if (kind == 'w') {
    in.set_what("XLogData frame");
    XLogData x;
    x.start = in.ReadU64();
    x.wal_end = in.ReadU64();
    x.send_time = in.ReadI64();
    x.payload = frame.substr(in.offset());
    return x;
  }
  if (kind == 'k') {
    in.set_what("keepalive frame");
    Keepalive k;
    k.wal_end = in.ReadU64();
    k.send_time = in.ReadI64();
    std::uint8_t reply = in.ReadU8();
    if (reply > 1) in.Fail("reply flag " + std::to_string(reply));
    k.reply_requested = reply == 1;
    in.ExpectEnd();
    return k;
  }
  throw Error(kProtocolViolation, "unknown CopyData frame type " + std::to_string(static_cast<unsigned char>(kind)) +
                                      " from the walsender");
}

std::string EncodeStandbyStatus(Lsn written, Lsn flushed, Lsn applied, std::int64_t now, bool reply_requested) {
  std::string out(1, 'r');
  PutU64(out, written);
  PutU64(out, flushed);
  PutU64(out, applied);
  PutU64(out, static_cast<std::uint64_t>(now));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

ReplicationConnection::ReplicationConnection(const std::string& dsn) : conn_(ConnectReplication(dsn), dsn), dsn_(dsn) {}

CreatedSlot ReplicationConnection::CreateSlot(const std::string& slot) {
  pq::Result r = conn_.Exec("CREATE_REPLICATION_SLOT " + QuoteIdent(slot) + " LOGICAL pgoutput (SNAPSHOT 'export')");
  if (r.rows() != 1 || r.columns() < 4) throw Error(kProtocolViolation, "CREATE_REPLICATION_SLOT returned no row");
  CreatedSlot s;
  s.name = r.value(0, 0);
  s.consistent_point = ParseLsn(r.value(0, 1));
  s.snapshot_name = r.value(0, 2);
  return s;
}

ReplicationConnection::~ReplicationConnection() {
  try {
    Finish();
  } catch (const Error&) {
    // The connection is going away: a status it could not send is lost, and
    // the slot keeps the older position, which is safe.
  }
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

void ReplicationConnection::StartReplication(const std::string& slot, Lsn start, const std::string& publication) {
  // publication_names is a list of identifiers inside a string literal: the
  // name is quoted as an identifier, then the whole as a literal.
  std::string sql = "START_REPLICATION SLOT " + QuoteIdent(slot) + " LOGICAL " + FormatLsn(start) +
                    " (proto_version '1', publication_names " + QuoteLiteral(QuoteIdent(publication)) +
                    ", messages 'true')";
  pq::Result r = conn_.Check(PQexec(conn_.raw(), sql.c_str()), "START_REPLICATION failed");
  if (PQresultStatus(r.raw()) != PGRES_COPY_BOTH) {
    throw Error(kProtocolViolation, "START_REPLICATION did not enter CopyBoth mode");
  }
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw Error("58000", "could not create a pipe for the reader");
  // Until the caller reports, keepalives are answered with where streaming
  // started: the caller's stored position, never past what it has applied.
  reported_written_ = reported_flushed_ = start;
  reader_ = std::thread([this] { ReadAhead(); });
}

void ReplicationConnection::Wake() {
  char b = 1;
  // Nothing to do when it fails: a full pipe already holds a wake-up.
  ssize_t n = wake_[1] >= 0 ? write(wake_[1], &b, 1) : 0;
  (void)n;
}

void ReplicationConnection::ReadAhead() {
  PGconn* c = conn_.raw();
  auto fail = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = e;
    cv_.notify_all();
  };
  try {
    for (;;) {
      // Send what the caller handed over, or answer a keepalive.
      std::optional<std::string> status;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
        status.swap(status_);
      }
      if (status) SendNow(c, *status);
      // Queue every frame already received, in batches (one lock and one
      // wake-up of the caller per batch, not per frame).
      std::vector<std::string> batch;
      std::size_t batch_bytes = 0;
      bool reply = false, more = true;
      while (more) {
        char* buf = nullptr;
        int n = PQgetCopyData(c, &buf, 1);
        if (n < 0 && !batch.empty()) {  // what came before the end goes first
          std::lock_guard<std::mutex> lock(mu_);
          Enqueue(batch);
        }
        if (n == -1) {  // stream ended: the server's error, if any, is in the result
          pq::Result r(pq::ResultPtr(PQgetResult(c)));
          const char* code = r.raw() ? PQresultErrorField(r.raw(), PG_DIAG_SQLSTATE) : nullptr;
          std::string msg = r.raw() ? PQresultErrorMessage(r.raw()) : "";
          throw pq::ServerError(code ? code : "08006", "replication stream ended: " + msg);
        }
        if (n == -2) throw Error("08006", std::string("replication connection failed: ") + PQerrorMessage(c));
        if (n > 0) {
          batch.emplace_back(buf, static_cast<std::size_t>(n));
          PQfreemem(buf);
          batch_bytes += static_cast<std::size_t>(n);
          reply = reply || AsksForReply(batch.back());
        }
        more = n > 0 && batch_bytes < (1u << 20);
        if (batch.empty() || more) continue;
        std::unique_lock<std::mutex> lock(mu_);
        if (reply && !status_) {
          status_ = EncodeStandbyStatus(reported_written_, reported_flushed_, reported_flushed_, PostgresNow(), false);
        }
        reply = false;
        // Full: wait for the caller (still sending what it hands over).
        while (queued_bytes_ >= kReadAheadBytes && !stop_) {
          if (status_) {
            std::string st = std::move(*status_);
            status_.reset();
            lock.unlock();
            SendNow(c, st);
            lock.lock();
            continue;
          }
          cv_.wait_for(lock, std::chrono::milliseconds(100));
        }
        if (stop_) return;
        Enqueue(batch);
        batch_bytes = 0;
        more = n > 0;  // a full batch: read on
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (status_) continue;  // a status (a keepalive reply) to send first
      }
      pollfd p[2] = {{PQsocket(c), POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(p, 2, 1000) < 0 && errno != EINTR) throw Error("08006", "poll on the replication connection failed");
      if (p[1].revents & POLLIN) {
        char drain[64];
        while (read(wake_[0], drain, sizeof drain) > 0) {
        }
      }
      if ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) && PQconsumeInput(c) == 0) {
        throw Error("08006", std::string("replication connection failed: ") + PQerrorMessage(c));
      }
    }
  } catch (const Error&) {
    fail(std::current_exception());
  } catch (const std::exception& e) {
    fail(std::make_exception_ptr(Error("08006", std::string("replication reader failed: ") + e.what())));
  }
}

void ReplicationConnection::Enqueue(std::vector<std::string>& batch) {
  for (auto& f : batch) {
    queued_bytes_ += f.size();
    frames_.push_back(std::move(f));
  }
  batch.clear();
  cv_.notify_all();
}

bool ReplicationConnection::AsksForReply(std::string_view frame) {
  if (frame.empty() || frame[0] != 'k') return false;
  try {
    return std::get<Keepalive>(DecodeCopyFrame(frame)).reply_requested;
  } catch (const Error&) {
    return false;  // the caller decodes it in its turn and reports it
  }
}

std::optional<std::string> ReplicationConnection::ReadFrame(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !frames_.empty() || error_; });
  if (!frames_.empty()) {
    std::string frame = std::move(frames_.front());
    frames_.pop_front();
    bool was_full = queued_bytes_ >= kReadAheadBytes;
    queued_bytes_ -= frame.size();
    if (was_full && queued_bytes_ < kReadAheadBytes) cv_.notify_all();  // the reader waits for room
    return frame;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

void ReplicationConnection::SendStatus(Lsn written, Lsn flushed, bool reply_requested) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = EncodeStandbyStatus(written, flushed, flushed, PostgresNow(), reply_requested);
    reported_written_ = written;
    reported_flushed_ = flushed;
  }
  Wake();
}

void ReplicationConnection::Finish() {
  if (!reader_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  Wake();
  reader_.join();
  std::optional<std::string> status;
  status.swap(status_);
  if (!error_ && status) SendNow(conn_.raw(), *status);
}

}  // namespace crosswalk::cdc
