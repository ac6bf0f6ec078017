// Passwords in the daemon's connection strings never reach its output: not
// in `check`, `status` or `run`'s log lines, also when a peer's DSN is a URI
// libpq cannot parse (libpq quotes such a URI whole in its error) and the
// daemon keeps logging its reconnect attempts.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "cluster.hpp"
#include "daemon.hpp"

namespace crosswalk::test {
namespace {

using namespace std::chrono_literals;

TEST(SyncSecrets, NoPasswordInAnyOutput) {
  Cluster source, peer;
  source.Connect().Exec("CREATE DATABASE learnhub");
  peer.Connect().Exec("CREATE DATABASE skillpath");
  auto src = source.Connect("learnhub");
  src.Exec(
      "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, 'l' || g FROM "
      "generate_series(1, 200) g");
  peer.Connect("skillpath").Exec("CREATE TABLE things (id int PRIMARY KEY, label text)");

  // The clusters trust local connections, so the passwords are carried and
  // ignored: exactly what lets the test see whether they leak.
  std::string tables = R"("tables": [ { "source": "items", "target": "things", "key": ["id"],
                                         "columns": { "id": "id", "label": "label" } } ])";
  std::string config = WriteFile(peer.dir() + "/sync.json", R"({
    "source": { "dsn": ")" + source.Dsn("learnhub") + R"( password=Pw-Source-1", "platform": "learnhub",
                "publication": "crosswalk", "create_publication": true },
    "identity": { "dsn": ")" + source.Dsn("learnhub") + R"( password='Pw Identity 2'" },
    "peers": [
      { "name": "skillpath", "dsn": "postgresql://postgres:Pw-Peer-3@localhost:)" +
                                                                std::to_string(peer.port()) + R"(/skillpath?host=)" +
                                                                peer.dir() + R"(",
        "platform": "skillpath", )" + tables + R"( },
      { "name": "broken", "dsn": "postgresql://postgres:Pw-Broken-4@[::1:)" +
                                                                std::to_string(peer.port()) +
                                                                R"(/x", "platform": "broken", )" + tables +
                                                                R"( } ] })");
  // check fails on the broken peer, and says so.
  std::string check_out = peer.dir() + "/check.out";
  EXPECT_NE(Shell(DaemonPath() + " check -c " + config + " > " + check_out + " 2>&1"), 0);
  std::string out = ReadFile(check_out);
  ASSERT_NE(out.find("IPv6 host address in URI"), std::string::npos) << "check did not report the broken peer: " << out;

  std::string log = peer.dir() + "/daemon.log";
  {
    Daemon daemon("run", config, log);
    // The good peer migrates and streams while the broken one keeps failing.
    src.Exec("INSERT INTO items SELECT g, 'm' || g FROM generate_series(201, 300) g");
    auto p = peer.Connect("skillpath");
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (p.Exec("SELECT count(*) FROM things").value(0, 0) != "300" && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
    }
    ASSERT_EQ(p.Exec("SELECT count(*) FROM things").value(0, 0), "300") << ReadFile(log);
    std::string status_out = peer.dir() + "/status.out";
    Shell(DaemonPath() + " status -c " + config + " > " + status_out + " 2>&1");
    std::string status = ReadFile(status_out);
    EXPECT_NE(status.find("peer=skillpath"), std::string::npos) << status;
    out += status;
    EXPECT_EQ(daemon.Stop(SIGTERM), 0) << ReadFile(log);
  }
  out += ReadFile(log);
  // The broken peer's failure was logged, more than once (it retries).
  std::size_t failures = 0;
  for (std::size_t at = out.find("IPv6 host address in URI"); at != std::string::npos;
       at = out.find("IPv6 host address in URI", at + 1)) {
    ++failures;
  }
  EXPECT_GE(failures, 2u) << out;
  for (const char* secret : {"Pw-Source-1", "Pw Identity 2", "Pw-Peer-3", "Pw-Broken-4"}) {
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " leaked into:\n" << out;
  }
}

}  // namespace
}  // namespace crosswalk::test
