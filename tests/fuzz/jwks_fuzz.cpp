// libFuzzer target: JWK Set documents (crosswalk.platform.jwks) through
// ParseJwkSet. Bad documents must be refused with crosswalk::Error; any other
// exception, crash or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.hpp"
#include "jwk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    crosswalk::ParseJwkSet(json);
  } catch (const crosswalk::Error&) {
  }
  return 0;
}
