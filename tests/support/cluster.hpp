// Throwaway PostgreSQL 15 clusters for C++ tests, on top of
// scripts/pgcluster.sh (the one implementation shared with pg_regress, the
// demo and the benchmarks). A Cluster is stopped and removed by its
// destructor, by a signal handler when the test process is interrupted or
// crashes, and otherwise by the reaper that runs before every start.
#pragma once

#include <string>
#include <vector>

#include "pq.hpp"

namespace crosswalk::test {

class Cluster {
 public:
  // Starts a cluster; each `conf` line is appended to its postgresql.conf.
  explicit Cluster(std::vector<std::string> conf = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  // libpq keyword/value DSN for a database on this cluster (superuser).
  std::string Dsn(const std::string& dbname = "postgres") const;
  pq::Connection Connect(const std::string& dbname = "postgres") const { return pq::Connection(Dsn(dbname)); }

  // Creates a database with `CREATE EXTENSION crosswalk` in it.
  void CreateDatabaseWithExtension(const std::string& dbname) const;

  // Stops the server (immediate) and starts it again on the same port.
  void Restart() const;
  // Stops the server at once (pg_ctl stop -m immediate: a crash), and starts
  // it again on the same port.
  void StopImmediate() const;
  void Start() const;
  // The server log so far.
  std::string Log() const;
  // Runs a PostgreSQL client program from the server's bindir (pg_dump,
  // pg_restore, ...) with args; returns its exit status.
  int RunTool(const std::string& tool, const std::string& args) const;

 private:
  std::string dir_;
  int port_ = 0;
};

// Every WAL segment under data_dir/pg_wal, concatenated: what tests search
// for secrets that must never reach the WAL.
std::string ReadWal(const std::string& data_dir);

// The PostgreSQL bin directory (pg_dump, pg_ctl, ...).
std::string PgBinDir();

// Runs a shell command, returns its exit status; output goes to the test log.
int Shell(const std::string& command);
// Runs a shell command and returns its standard output; throws on failure.
std::string ShellOutput(const std::string& command);

}  // namespace crosswalk::test
