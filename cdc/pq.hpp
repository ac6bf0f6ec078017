// RAII over libpq for the daemon and the tests: connections and results own
// their handles; failures throw crosswalk::Error with the server's SQLSTATE.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "error.hpp"

namespace crosswalk::pq {

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// An error reported by a server: the SQLSTATE it sent and its message.
class ServerError : public Error {
 public:
  ServerError(std::string code, std::string message) : Error(std::move(code), std::move(message)) {}
};

// A query result: rows of nullable text values.
class Result {
 public:
  explicit Result(ResultPtr r) : r_(std::move(r)) {}
  int rows() const { return PQntuples(r_.get()); }
  int columns() const { return PQnfields(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string value(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
  std::optional<std::string> get(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return value(row, col);
  }
  std::string command_tuples() const { return PQcmdTuples(r_.get()); }
  PGresult* raw() const { return r_.get(); }

 private:
  ResultPtr r_;
};

class Connection {
 public:
  // Connects; throws crosswalk::Error naming the target (password masked) on failure.
  explicit Connection(const std::string& dsn);
  // Takes over a connection made elsewhere (e.g. with replication=database);
  // throws like the constructor above when it is not OK.
  Connection(ConnPtr conn, const std::string& dsn);

  // Runs one or more statements; throws ServerError on failure.
  Result Exec(const std::string& sql);
  // One statement with text parameters ($1, $2, ...; nullopt is NULL).
  Result ExecParams(const std::string& sql, const std::vector<std::optional<std::string>>& params);
  // The first column of the first row (nullopt for NULL or no row).
  std::optional<std::string> Scalar(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});

  // COPY ... FROM STDIN with `data` (already in COPY text format) as its
  // input, in one call; throws ServerError when the server rejects it.
  Result CopyIn(const std::string& copy_sql, const std::string& data);

  PGconn* raw() const { return conn_.get(); }
  // Turns a finished result into a Result, or throws ServerError naming `what`.
  Result Check(PGresult* r, const std::string& what);

 private:
  ConnPtr conn_;
};

// The DSN with any password=... value replaced by ***, for logs and errors.
std::string MaskDsn(const std::string& dsn);
// `text` (a libpq error, which may quote a malformed URI whole) with every
// password `dsn` holds replaced by ***, found both by libpq's own parser and,
// when the DSN does not parse, by its key=value and URI shapes.
std::string ScrubDsnSecrets(const std::string& text, const std::string& dsn);

}  // namespace crosswalk::pq
