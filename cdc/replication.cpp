#include "replication.hpp"

#include <poll.h>

#include <chrono>

#include "sqltext.hpp"

namespace crosswalk::cdc {

namespace {

constexpr std::int64_t kUnixToPostgresEpochMicros = 946684800LL * 1000000LL;

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
}

std::optional<std::string> ReplicationConnection::ReadFrame(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool consumed = false;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_.raw(), &buf, 1);
    if (n > 0) {
      std::string frame(buf, static_cast<std::size_t>(n));
      PQfreemem(buf);
      return frame;
    }
    if (n == -1) {  // stream ended: the server's error, if any, is in the result
      pq::Result r(pq::ResultPtr(PQgetResult(conn_.raw())));
      const char* code = r.raw() ? PQresultErrorField(r.raw(), PG_DIAG_SQLSTATE) : nullptr;
      std::string msg = r.raw() ? PQresultErrorMessage(r.raw()) : "";
      throw pq::ServerError(code ? code : "08006", "replication stream ended: " + msg);
    }
    if (n == -2) throw Error("08006", std::string("replication connection failed: ") + PQerrorMessage(conn_.raw()));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      // Whatever already arrived on the socket still counts (a zero timeout
      // is a look-ahead).
      if (consumed) return std::nullopt;
      consumed = true;
      if (PQconsumeInput(conn_.raw()) == 0) {
        throw Error("08006", std::string("replication connection failed: ") + PQerrorMessage(conn_.raw()));
      }
      continue;
    }
    pollfd p{PQsocket(conn_.raw()), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      throw Error("08006", "poll on the replication connection failed");
    }
    if (PQconsumeInput(conn_.raw()) == 0) {
      throw Error("08006", std::string("replication connection failed: ") + PQerrorMessage(conn_.raw()));
    }
  }
}

void ReplicationConnection::SendStatus(Lsn written, Lsn flushed, bool reply_requested) {
  std::string msg = EncodeStandbyStatus(written, flushed, flushed, PostgresNow(), reply_requested);
  if (PQputCopyData(conn_.raw(), msg.data(), static_cast<int>(msg.size())) != 1 || PQflush(conn_.raw()) != 0) {
    throw Error("08006", std::string("could not send standby status: ") + PQerrorMessage(conn_.raw()));
  }
}

}  // namespace crosswalk::cdc
