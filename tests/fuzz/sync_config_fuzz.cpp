// libFuzzer target: crosswalk-sync's JSON configuration. Bad input must be
// refused with crosswalk::Error (naming the JSON path); any other exception,
// crash or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"
#include "error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    crosswalk::cdc::ParseConfig(json);
  } catch (const crosswalk::Error&) {
  }
  return 0;
}
