// The throwaway-cluster harness itself: what every other integration test
// relies on. Clusters run with wal_level=logical on distinct ports, as the
// postgres OS user under root, and are stopped and removed when their owner
// ends normally, is interrupted, or is killed outright.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "cluster.hpp"

namespace crosswalk::test {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// True while pid is a running process (a zombie waiting to be reaped by
// whoever adopted it counts as gone).
bool Alive(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) return false;
  std::string line;
  std::getline(f, line);
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

int PostmasterPid(const std::string& dir) {
  std::ifstream f(dir + "/data/postmaster.pid");
  int pid = 0;
  f >> pid;
  return pid;
}

TEST(Harness, ThreeClustersAtOnceOnDistinctPortsWithLogicalWal) {
  Cluster a, b, c;
  std::set<int> ports = {a.port(), b.port(), c.port()};
  EXPECT_EQ(ports.size(), 3u);
  for (Cluster* cl : {&a, &b, &c}) {
    auto conn = cl->Connect();
    EXPECT_EQ(*conn.Scalar("SHOW wal_level"), "logical");
    EXPECT_EQ(*conn.Scalar("SHOW port"), std::to_string(cl->port()));
    // Reachable over TCP too, as peers and subscriptions will use it.
    pq::Connection tcp("host=127.0.0.1 port=" + std::to_string(cl->port()) + " user=postgres dbname=postgres");
    EXPECT_EQ(*tcp.Scalar("SELECT 1"), "1");
  }
  if (geteuid() == 0) {
    struct stat st;
    ASSERT_EQ(stat((a.dir() + "/data").c_str(), &st), 0);
    EXPECT_NE(st.st_uid, 0u) << "the server must not run as root";
  }
}

TEST(Harness, DestructorStopsAndRemoves) {
  std::string dir;
  int pid = 0;
  {
    Cluster c;
    dir = c.dir();
    pid = PostmasterPid(dir);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(Alive(pid));
  }
  EXPECT_FALSE(Exists(dir));
  EXPECT_FALSE(Alive(pid));
}

// Starts a cluster in a child process and returns its folder; the child then
// waits to be signalled.
std::string StartClusterInChild(pid_t* child) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto c = std::make_unique<Cluster>();
    std::string dir = c->dir() + "\n";
    if (write(fds[1], dir.data(), dir.size()) < 0) _exit(2);
    for (;;) pause();
  }
  close(fds[1]);
  std::string dir;
  char ch;
  while (read(fds[0], &ch, 1) == 1 && ch != '\n') dir += ch;
  close(fds[0]);
  *child = pid;
  return dir;
}

TEST(Harness, InterruptedOwnerStopsItsClusters) {
  for (int sig : {SIGTERM, SIGINT}) {
    pid_t child;
    std::string dir = StartClusterInChild(&child);
    ASSERT_FALSE(dir.empty());
    int pm = PostmasterPid(dir);
    ASSERT_GT(pm, 0);
    kill(child, sig);
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_FALSE(Exists(dir)) << "signal " << sig;
    EXPECT_FALSE(Alive(pm)) << "postmaster still running after signal " << sig;
  }
}

TEST(Harness, KilledOwnersClustersAreReaped) {
  pid_t child;
  std::string dir = StartClusterInChild(&child);
  ASSERT_FALSE(dir.empty());
  int pm = PostmasterPid(dir);
  kill(child, SIGKILL);  // no handler runs
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(Exists(dir));
  // The next start (or an explicit reap) stops clusters whose owner is gone.
  EXPECT_EQ(Shell("bash " + std::string(CROSSWALK_SOURCE_DIR) + "/scripts/pgcluster.sh reap"), 0);
  EXPECT_FALSE(Exists(dir));
  EXPECT_FALSE(Alive(pm));
}

TEST(Harness, RestartKeepsDataAndPort) {
  Cluster c;
  c.Connect().Exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
  c.Restart();
  auto conn = c.Connect();
  EXPECT_EQ(*conn.Scalar("SELECT x FROM kept"), "7");
}

}  // namespace
}  // namespace crosswalk::test
