// alerts.command: run when a peer's lag or dead letters cross the thresholds
// of the `alerts` config, and again when they clear. The alert is one JSON
// object on the command's stdin.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "config.hpp"

namespace crosswalk::cdc {

// Runs `command` with /bin/sh -c, writes `input` to its stdin and waits up to
// timeout_seconds (then kills it). Returns its exit status, 128+signal when
// killed, or -1 when it could not be started.
int RunCommandWithInput(const std::string& command, const std::string& input, int timeout_seconds);

// Remembers which alerts are firing and runs the command on each change.
class Alerter {
 public:
  explicit Alerter(const AlertsConfig& config) : config_(config) {}

  // One evaluation of a peer's values; a threshold that is not configured
  // never fires. `lag_seconds`/`dead_letters` are nullopt when unknown (the
  // alert keeps its state).
  void Evaluate(const std::string& peer, std::optional<double> lag_seconds, std::optional<std::int64_t> dead_letters);

 private:
  void Transition(const std::string& peer, const std::string& kind, bool firing, double value, double threshold);

  AlertsConfig config_;
  std::map<std::pair<std::string, std::string>, bool> firing_;  // (peer, kind)
};

}  // namespace crosswalk::cdc
