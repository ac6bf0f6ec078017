// libFuzzer target: RFC 8785 canonicalization. Any input either is rejected
// with crosswalk::Error or canonicalizes to text that is its own canonical
// form (idempotence) and parses back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "error.hpp"
#include "json_canonical.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string once;
  try {
    once = crosswalk::CanonicalizeJson(input);
  } catch (const crosswalk::Error&) {
    return 0;
  }
  std::string twice;
  try {
    twice = crosswalk::CanonicalizeJson(once);
  } catch (const crosswalk::Error&) {
    std::abort();  // our own output must be valid JSON
  }
  if (once != twice) std::abort();
  return 0;
}
