// crosswalk-sync: streams row changes from a source platform's database to
// its peers', mapped and with user ids translated (DESIGN.md "The daemon").
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "commands.hpp"
#include "config.hpp"
#include "log.hpp"
#include "pq.hpp"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

extern "C" void OnStopSignal(int) { g_stop = true; }
extern "C" void OnReloadSignal(int) { g_reload = true; }

}  // namespace

int main(int argc, char** argv) {
  using namespace crosswalk;
  CLI::App app{"crosswalk-sync: migrate, then stream every row change to peer platforms exactly once"};
  app.require_subcommand(1);
  // Global options (--log-level) may also follow the subcommand.
  app.fallthrough();
  std::string config_path;
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warning or error")->capture_default_str();
  auto add = [&](const char* name, const char* what) {
    CLI::App* cmd = app.add_subcommand(name, what);
    cmd->add_option("-c,--config", config_path, "the JSON config file")->required();
    return cmd;
  };
  CLI::App* run = add("run", "migrate (snapshot) where needed, then stream until SIGTERM");
  CLI::App* snapshot = add("snapshot", "one-shot migration of the current state, then exit");
  CLI::App* check = add("check", "validate config, connections, publication and slots; print the plan");
  CLI::App* status = add("status", "per peer: slot, confirmed LSN, lag, rows applied, dead letters");
  CLI::App* retry = add("retry", "re-apply dead letters");
  CLI11_PARSE(app, argc, argv);

  // SIGTERM/SIGINT ask run and snapshot to finish cleanly from the moment
  // the process knows what it is doing, also while the config is still
  // loading (a stop that early exits 0 before any work).
  if (run->parsed() || snapshot->parsed()) {
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    // SIGHUP re-reads the config (what can change without a re-snapshot).
    struct sigaction hup {};
    hup.sa_handler = OnReloadSignal;
    sigaction(SIGHUP, &hup, nullptr);
  }
  try {
    cdc::SetLogLevel(cdc::ParseLogLevel(log_level));
    cdc::Config config = cdc::LoadConfig(config_path);
    if (run->parsed() || snapshot->parsed()) {
      if (g_stop) return 0;
      cdc::ReloadRequest reload{&g_reload, config_path};
      return cdc::RunPeers(config, snapshot->parsed(), g_stop, run->parsed() ? &reload : nullptr);
    }
    if (check->parsed()) {
      cdc::CheckConfig(config, std::cout);
      return 0;
    }
    if (status->parsed()) {
      cdc::PrintStatus(config, std::cout);
      return 0;
    }
    if (retry->parsed()) return cdc::RetryDeadLetters(config, std::cout) == 0 ? 0 : 3;
  } catch (const Error& e) {
    cdc::Log(cdc::LogLevel::kError, "failed", {{"sqlstate", e.sqlstate()}, {"message", e.what()}, {"hint", e.hint()}});
    std::cerr << "crosswalk-sync: " << e.what() << (e.hint().empty() ? "" : "\nhint: " + e.hint()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    cdc::Log(cdc::LogLevel::kError, "failed", {{"message", e.what()}});
    return 2;
  }
  return 0;
}
