#include "pq.hpp"

#include <algorithm>
#include <regex>
#include <string_view>
#include <vector>

#include "log.hpp"

namespace crosswalk::pq {

namespace {
constexpr std::size_t kCopyChunk = 1 << 20;

// Server notices and warnings become JSON log lines (libpq would print them
// as plain text on stderr, breaking one-object-per-line).
void ReceiveNotice(void*, const PGresult* r) {
  auto field = [&](int code) {
    const char* v = PQresultErrorField(r, code);
    return std::string(v ? v : "");
  };
  std::string severity = field(PG_DIAG_SEVERITY_NONLOCALIZED);
  cdc::Log(
      severity == "WARNING" ? cdc::LogLevel::kWarning : cdc::LogLevel::kDebug, "server_notice",
      {{"severity", severity}, {"sqlstate", field(PG_DIAG_SQLSTATE)}, {"message", field(PG_DIAG_MESSAGE_PRIMARY)}});
}

void ThrowUnlessConnected(PGconn* conn, const std::string& dsn) {
  if (!conn) throw Error(sqlstate::kInternalError, "out of memory connecting to " + MaskDsn(dsn));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw Error("08006", "could not connect to " + MaskDsn(dsn) + ": " + ScrubDsnSecrets(msg, dsn));
  }
  PQsetNoticeReceiver(conn, ReceiveNotice, nullptr);
}
}  // namespace

std::string MaskDsn(const std::string& dsn) {
  static const std::regex kv(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+))", std::regex::icase);
  static const std::regex url(R"((postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@))", std::regex::icase);
  std::string masked = std::regex_replace(dsn, kv, "$1***");
  return std::regex_replace(masked, url, "$1***$3");
}

std::string ScrubDsnSecrets(const std::string& text, const std::string& dsn) {
  std::vector<std::string> secrets;
  char* parse_error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &parse_error)) {
    for (PQconninfoOption* o = options; o->keyword; ++o) {
      if (o->val && std::string_view(o->keyword) == "password") secrets.emplace_back(o->val);
    }
    PQconninfoFree(options);
  }
  PQfreemem(parse_error);
  // What a DSN libpq cannot parse may still hold: the URI's user:password up
  // to the last '@', or a password= value up to the next space.
  static const std::regex url(R"(postgres(?:ql)?://[^:/@\s]*:(.*)@)", std::regex::icase);
  static const std::regex kv(R"(password\s*=\s*('(?:[^'\\]|\\.)*'|\S+))", std::regex::icase);
  std::smatch m;
  if (std::regex_search(dsn, m, url)) secrets.push_back(m[1]);
  for (auto it = std::sregex_iterator(dsn.begin(), dsn.end(), kv); it != std::sregex_iterator(); ++it) {
    std::string v = (*it)[1];
    secrets.push_back(v);
    if (v.size() >= 2 && v.front() == '\'') secrets.push_back(v.substr(1, v.size() - 2));
  }
  // Longest first, so a secret containing a shorter one is replaced whole.
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::string out = MaskDsn(text);
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 3)) {
      out.replace(at, secret.size(), "***");
    }
  }
  return out;
}

Connection::Connection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
  ThrowUnlessConnected(conn_.get(), dsn);
}

Connection::Connection(ConnPtr conn, const std::string& dsn) : conn_(std::move(conn)) {
  ThrowUnlessConnected(conn_.get(), dsn);
}

Result Connection::CopyIn(const std::string& copy_sql, const std::string& data) {
  Result start = Check(PQexec(conn_.get(), copy_sql.c_str()), "COPY failed");
  if (PQresultStatus(start.raw()) != PGRES_COPY_IN)
    throw Error(sqlstate::kInternalError, "not a COPY FROM STDIN: " + copy_sql);
  bool ok = true;
  for (std::size_t off = 0; ok && off < data.size(); off += kCopyChunk) {
    std::size_t n = std::min(kCopyChunk, data.size() - off);
    ok = PQputCopyData(conn_.get(), data.data() + off, static_cast<int>(n)) == 1;
  }
  if (PQputCopyEnd(conn_.get(), ok ? nullptr : "client could not send data") != 1) {
    throw Error("08006", std::string("COPY failed: ") + PQerrorMessage(conn_.get()));
  }
  Result last = Check(PQgetResult(conn_.get()), "COPY failed");
  while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
  return last;
}

Result Connection::Check(PGresult* raw, const std::string& what) {
  ResultPtr r(raw);
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
      st == PGRES_COPY_BOTH) {
    return Result(std::move(r));
  }
  const char* code = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_.get());
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  throw ServerError(code ? code : "08000", what + ": " + msg);
}

Result Connection::Exec(const std::string& sql) { return Check(PQexec(conn_.get(), sql.c_str()), "query failed"); }

Result Connection::ExecParams(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return Check(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                            nullptr, 0),
               "query failed");
}

std::optional<std::string> Connection::Scalar(const std::string& sql,
                                              const std::vector<std::optional<std::string>>& params) {
  Result r = params.empty() ? Exec(sql) : ExecParams(sql, params);
  if (r.rows() == 0 || r.columns() == 0) return std::nullopt;
  return r.get(0, 0);
}

}  // namespace crosswalk::pq
