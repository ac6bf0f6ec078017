// libFuzzer target: lib's JSON tape parser (the header and claims of every
// token verify_jwt sees) against nlohmann::json's parser. For any input the
// two accept or refuse alike, with the same reason, and when they accept
// they give the same tokens (tests/support/json_tape_reference.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../support/json_tape_reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string diff = crosswalk::test::CompareWithReference(input);
  if (!diff.empty()) {
    std::fprintf(stderr, "tape and reference differ: %s\n", diff.c_str());
    std::abort();
  }
  return 0;
}
