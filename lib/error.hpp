// Errors raised by the C++ core. Each carries a SQLSTATE so that the extension
// can report it to the client unchanged and the daemon can log it; lib/ never
// includes a PostgreSQL header, so the codes are spelled out as text here.
#pragma once

#include <stdexcept>
#include <string>

namespace crosswalk {

// SQLSTATE codes used by the core (see PostgreSQL's errcodes.txt).
namespace sqlstate {
inline constexpr const char* kInvalidTextRepresentation = "22P02";
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kDataException = "22000";
inline constexpr const char* kDataCorrupted = "XX001";
inline constexpr const char* kInvalidAuthorization = "28000";
inline constexpr const char* kInsufficientPrivilege = "42501";
inline constexpr const char* kConfigFileError = "F0000";
inline constexpr const char* kInternalError = "XX000";
inline constexpr const char* kProgramLimitExceeded = "54000";
}  // namespace sqlstate

// A user-facing error: a SQLSTATE, a message about the caller's input and an
// optional hint with the obvious next step.
class Error : public std::runtime_error {
 public:
  Error(std::string sqlstate, std::string message, std::string hint = {})
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate)), hint_(std::move(hint)) {}

  const char* sqlstate() const noexcept { return sqlstate_.c_str(); }
  const std::string& hint() const noexcept { return hint_; }

 private:
  std::string sqlstate_;
  std::string hint_;
};

}  // namespace crosswalk
