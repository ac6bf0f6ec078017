// libFuzzer target: JWS compact tokens through parsing and verification
// against a fixed JWK Set (RSA, EC and Ed25519 keys of the SSO test
// fixtures). Every rejection must be the SQLSTATE 28000 error that
// verify_jwt() reports; anything else (another exception, a crash, a
// sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "error.hpp"
#include "jwk.hpp"
#include "jws.hpp"

namespace {
const crosswalk::JwkSet* g_keys = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::ifstream f(std::string(CROSSWALK_SOURCE_DIR) + "/tests/fuzz/jws_keys.json");
  std::stringstream ss;
  ss << f.rdbuf();
  static const crosswalk::JwkSet keys = crosswalk::ParseJwkSet(ss.str());
  g_keys = &keys;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string token(reinterpret_cast<const char*>(data), size);
  try {
    crosswalk::VerifyJws(token, *g_keys);
  } catch (const crosswalk::Error& e) {
    if (std::string(e.sqlstate()) != "28000") std::abort();
  }
  return 0;
}
