#include "alerts.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "log.hpp"

namespace crosswalk::cdc {

int RunCommandWithInput(const std::string& command, const std::string& input, int timeout_seconds) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (other threads
    // may hold locks).
    dup2(fds[0], 0);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  // SIGPIPE is ignored by the daemon: a command that does not read its
  // input only makes this write fail.
  std::size_t off = 0;
  while (off < input.size()) {
    ssize_t n = write(fds[1], input.data() + off, input.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    off += static_cast<std::size_t>(n);
  }
  close(fds[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Alerter::Evaluate(const std::string& peer, std::optional<double> lag_seconds,
                       std::optional<std::int64_t> dead_letters) {
  if (config_.lag_seconds && lag_seconds) {
    Transition(peer, "lag", *lag_seconds > *config_.lag_seconds, *lag_seconds, *config_.lag_seconds);
  }
  if (config_.dead_letters && dead_letters) {
    Transition(peer, "dead_letters", *dead_letters >= *config_.dead_letters, static_cast<double>(*dead_letters),
               *config_.dead_letters);
  }
}

void Alerter::Transition(const std::string& peer, const std::string& kind, bool firing, double value,
                         double threshold) {
  bool& was = firing_[{peer, kind}];
  if (was == firing) return;
  was = firing;
  nlohmann::json alert = {{"alert", kind},
                          {"state", firing ? "firing" : "resolved"},
                          {"peer", peer},
                          {"value", value},
                          {"threshold", threshold}};
  Log(firing ? LogLevel::kWarning : LogLevel::kInfo, "alert", alert);
  if (!config_.command) return;
  int rc = RunCommandWithInput(*config_.command, alert.dump() + "\n", 30);
  if (rc != 0) {
    Log(LogLevel::kError, "alert_command_failed", {{"peer", peer}, {"alert", kind}, {"exit_status", rc}});
  }
}

}  // namespace crosswalk::cdc
