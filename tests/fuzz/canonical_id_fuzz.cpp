// libFuzzer target: canonical_id text input. Any input either is rejected
// with crosswalk::Error or parses to an id whose text form is the input in
// lower case.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "canonical_id.hpp"
#include "error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  try {
    crosswalk::CanonicalId id = crosswalk::ParseCanonicalId(input);
    std::string text = crosswalk::FormatCanonicalId(id);
    std::string lower = input;
    for (char& c : lower) {
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    if (text != lower) std::abort();
  } catch (const crosswalk::Error&) {
  }
  return 0;
}
