#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "error.hpp"

namespace crosswalk::cdc {

namespace {
std::mutex g_log_mu;
LogLevel g_level = LogLevel::kInfo;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// RFC 3339 UTC with milliseconds.
std::string Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}
}  // namespace

LogLevel ParseLogLevel(const std::string& name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LevelName(l)) return l;
  }
  throw Error(sqlstate::kInvalidParameterValue, "unknown log level \"" + name + "\" (debug, info, warning, error)");
}

void SetLogLevel(LogLevel level) { g_level = level; }

void Log(LogLevel level, const std::string& event, nlohmann::json fields) {
  if (level < g_level) return;
  nlohmann::json line = nlohmann::json::object();
  line["time"] = Now();
  line["level"] = LevelName(level);
  line["event"] = event;
  for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  // Invalid UTF-8 (it should not happen: every connection is UTF8) is
  // replaced rather than thrown from the logger.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace crosswalk::cdc
