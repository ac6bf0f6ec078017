// crosswalk-sync's log: one JSON object per line on stderr (time, level,
// event, peer, lsn, message and any extra fields), safe to call from every
// peer's thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace crosswalk::cdc {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning", "error"; throws Error 22023 otherwise.
LogLevel ParseLogLevel(const std::string& name);
void SetLogLevel(LogLevel level);

// Writes one line: {"time": ..., "level": ..., "event": event, ...fields}.
void Log(LogLevel level, const std::string& event, nlohmann::json fields = nlohmann::json::object());

}  // namespace crosswalk::cdc
