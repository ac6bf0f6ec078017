#include "daemon.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace crosswalk::test {

std::string DaemonPath() { return std::string(CROSSWALK_BINARY_DIR) + "/crosswalk-sync"; }

Daemon::Daemon(const std::string& command, const std::string& config, const std::string& log,
               const std::vector<std::string>& extra) {
  std::string path = DaemonPath();
  std::vector<std::string> args = {path, command, "-c", config};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Daemon::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

int Daemon::Stop(int sig) {
  Signal(sig);
  return Wait();
}

int Daemon::Wait() {
  if (pid_ > 0) {
    waitpid(pid_, &status_, 0);
    pid_ = -1;
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

bool Daemon::Running() {
  if (pid_ <= 0) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string CopyOut(pq::Connection& c, const std::string& query) {
  pq::Result start = c.Check(PQexec(c.raw(), ("COPY (" + query + ") TO STDOUT").c_str()), "copy out");
  std::string out;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(c.raw(), &buf, 0);
    if (n < 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    PQfreemem(buf);
  }
  c.Check(PQgetResult(c.raw()), "copy out end");
  return out;
}

bool WaitDrained(pq::Connection& source, const std::vector<std::string>& slots, std::chrono::seconds timeout) {
  std::string target = *source.Scalar("SELECT pg_current_wal_insert_lsn()::text");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& slot : slots) {
    for (;;) {
      auto ok = source.Scalar("SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
                              {slot, target});
      if (ok == "t") break;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return true;
}

bool WaitPeersDrained(pq::Connection& source, const std::vector<PeerSlot>& peers, std::chrono::seconds timeout) {
  std::string target = *source.Scalar("SELECT pg_current_wal_insert_lsn()::text");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& p : peers) {
    for (;;) {
      auto slot_done = source.Scalar(
          "SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1", {p.slot, target});
      std::optional<std::string> peer_done;
      try {
        peer_done = p.peer->Scalar("SELECT applied_lsn >= $2::pg_lsn FROM crosswalk_sync.progress WHERE slot = $1",
                                   {p.slot, target});
      } catch (const Error&) {
        // crosswalk_sync not created yet
      }
      if (slot_done == "t" && peer_done == "t") break;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return true;
}

bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

long long ExpectSameRows(pq::Connection& source, pq::Connection& peer, const std::string& expected_query,
                         const std::string& actual_query) {
  std::string expected = CopyOut(source, expected_query);
  peer.Exec(
      "SET client_min_messages = warning; DROP TABLE IF EXISTS pg_temp.expected_rows; CREATE TEMP TABLE expected_rows "
      "(line text)");
  peer.CopyIn("COPY pg_temp.expected_rows FROM STDIN", expected);
  pq::Result r = peer.Exec(
      "WITH actual AS (" + actual_query +
      ") SELECT (SELECT count(*) FROM (SELECT line FROM pg_temp.expected_rows EXCEPT ALL SELECT * FROM actual) a), "
      "(SELECT count(*) FROM (SELECT * FROM actual EXCEPT ALL SELECT line FROM pg_temp.expected_rows) b), "
      "(SELECT count(*) FROM pg_temp.expected_rows), "
      "(SELECT string_agg(line, E'\\n') FROM (SELECT line FROM pg_temp.expected_rows EXCEPT ALL SELECT * FROM actual "
      "LIMIT 3) c), (SELECT string_agg(x, E'\\n') FROM (SELECT * FROM actual EXCEPT ALL SELECT line FROM "
      "pg_temp.expected_rows LIMIT 3) d(x))");
  EXPECT_EQ(r.value(0, 0), "0") << "rows missing on the peer, e.g.\n" << r.value(0, 3);
  EXPECT_EQ(r.value(0, 1), "0") << "rows on the peer that the source does not have, e.g.\n" << r.value(0, 4);
  return std::stoll(r.value(0, 2));
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("could not find a free port");
  }
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::vector<nlohmann::json> LogEvents(const std::string& log, std::size_t from, const std::string& event) {
  std::istringstream lines(ReadFile(log).substr(from));
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == event) out.push_back(j);
  }
  return out;
}

}  // namespace crosswalk::test
