#include "cluster.hpp"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace crosswalk::test {
namespace {

const std::string kScript = std::string(CROSSWALK_SOURCE_DIR) + "/scripts/pgcluster.sh";

// Live cluster folders, kept in plain arrays so the signal handler can read
// them without allocating.
constexpr int kMaxClusters = 64;
char g_dirs[kMaxClusters][512];
volatile sig_atomic_t g_used[kMaxClusters];
std::mutex g_mu;

void StopFromHandler(const char* dir) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/bash", "bash", kScript.c_str(), "stop", dir, static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

void OnFatalSignal(int sig) {
  for (int i = 0; i < kMaxClusters; ++i) {
    if (g_used[i]) StopFromHandler(g_dirs[i]);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallHandlersOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, OnFatalSignal);
  });
}

int Register(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (int i = 0; i < kMaxClusters; ++i) {
    if (!g_used[i]) {
      std::snprintf(g_dirs[i], sizeof g_dirs[i], "%s", dir.c_str());
      g_used[i] = 1;
      return i;
    }
  }
  return -1;
}

void Unregister(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (int i = 0; i < kMaxClusters; ++i) {
    if (g_used[i] && dir == g_dirs[i]) g_used[i] = 0;
  }
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ShellOutput(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  int status = pclose(pipe.release());
  if (status != 0) throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
  return out;
}

std::string ReadWal(const std::string& data_dir) {
  std::string all;
  const std::string dir = data_dir + "/pg_wal";
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) throw std::runtime_error("cannot list " + dir);
  while (dirent* e = readdir(d.get())) {
    std::string name = e->d_name;
    if (name.size() == 24 && name.find_first_not_of("0123456789ABCDEF") == std::string::npos) {
      std::ifstream f(dir + "/" + name, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      all += ss.str();
    }
  }
  return all;
}

std::string PgBinDir() {
  const char* env = std::getenv("CROSSWALK_PG_BIN");
  return env != nullptr && *env != '\0' ? env : CROSSWALK_PG_BIN;
}

Cluster::Cluster(std::vector<std::string> conf) {
  InstallHandlersOnce();
  // pgcluster.sh and the servers it starts use the same PostgreSQL as we do.
  setenv("CROSSWALK_PG_BIN", PgBinDir().c_str(), 0);
  std::string cmd = "bash " + Quote(kScript) + " start --owner " + std::to_string(getpid());
  for (const auto& line : conf) cmd += " --conf " + Quote(line);
  std::istringstream in(ShellOutput(cmd));
  in >> dir_ >> port_;
  if (dir_.empty() || port_ == 0) throw std::runtime_error("pgcluster.sh start printed no folder and port");
  Register(dir_);
}

Cluster::~Cluster() {
  Shell("bash " + Quote(kScript) + " stop " + Quote(dir_));
  Unregister(dir_);
}

std::string Cluster::Dsn(const std::string& dbname) const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

void Cluster::CreateDatabaseWithExtension(const std::string& dbname) const {
  Connect().Exec("CREATE DATABASE \"" + dbname + "\"");
  Connect(dbname).Exec("CREATE EXTENSION crosswalk");
}

void Cluster::StopImmediate() const {
  std::string asuser = geteuid() == 0 ? "runuser -u postgres -- " : "";
  if (Shell(asuser + PgBinDir() + "/pg_ctl -D " + Quote(dir_ + "/data") + " -m immediate -w -t 60 stop >/dev/null") !=
      0)
    throw std::runtime_error("could not stop cluster " + dir_);
}

void Cluster::Start() const {
  std::string asuser = geteuid() == 0 ? "runuser -u postgres -- " : "";
  if (Shell(asuser + PgBinDir() + "/pg_ctl -D " + Quote(dir_ + "/data") + " -l " + Quote(dir_ + "/server.log") +
            " -w -t 60 start >/dev/null") != 0)
    throw std::runtime_error("could not start cluster " + dir_);
}

void Cluster::Restart() const {
  std::string asuser = geteuid() == 0 ? "runuser -u postgres -- " : "";
  std::string cmd = asuser + PgBinDir() + "/pg_ctl -D " + Quote(dir_ + "/data") + " -l " + Quote(dir_ + "/server.log") +
                    " -m immediate -w -t 60 restart >/dev/null";
  if (Shell(cmd) != 0) throw std::runtime_error("could not restart cluster " + dir_);
}

std::string Cluster::Log() const {
  std::ifstream f(dir_ + "/server.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int Cluster::RunTool(const std::string& tool, const std::string& args) const {
  return Shell(PgBinDir() + "/" + tool + " -h " + Quote(dir_) + " -p " + std::to_string(port_) + " -U postgres " +
               args);
}

}  // namespace crosswalk::test
