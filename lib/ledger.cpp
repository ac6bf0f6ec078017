#include "ledger.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>

#include "error.hpp"
#include "json_canonical.hpp"
#include "pure_cpp.hpp"

namespace crosswalk {
namespace {

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
void CivilFromDays(std::int64_t z, std::int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<std::int64_t>(yoe) + era * 400 + (*m <= 2);
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

std::string FormatUtcMicros(std::int64_t unix_us) {
  std::int64_t secs = unix_us / 1000000;
  std::int64_t micros = unix_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  std::int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (y < 0 || y > 9999) throw Error(sqlstate::kInvalidParameterValue, "ledger timestamps must be in years 0000-9999");
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(micros));
  return buf;
}

std::string EncodeLedgerEntry(const LedgerEntry& entry) {
  nlohmann::json payload = ParseJsonStrict(entry.payload_json);
  if (!payload.is_object()) throw Error(sqlstate::kInvalidParameterValue, "ledger payload must be a JSON object");
  // The entry's member names are ASCII and fixed, so their canonical order is
  // written out directly.
  std::string out = "{\"kind\":";
  AppendCanonicalJson(nlohmann::json(entry.kind), out);
  out += ",\"payload\":";
  AppendCanonicalJson(payload, out);
  out += ",\"person\":\"" + FormatCanonicalId(entry.person) + "\",\"platform\":";
  AppendCanonicalJson(nlohmann::json(entry.platform), out);
  out += ",\"recorded_at\":\"" + FormatUtcMicros(entry.recorded_at_us) + "\",\"seq\":";
  out += FormatJsonNumber(static_cast<double>(entry.seq));
  out += '}';
  return out;
}

Sha256Digest LedgerEntryHash(const Sha256Digest& prev_hash, const LedgerEntry& entry) {
  if (entry.seq < 1 || entry.seq > (std::int64_t{1} << 53)) {
    throw Error(sqlstate::kInvalidParameterValue, "ledger sequence numbers run from 1 to 2^53");
  }
  std::string encoded = EncodeLedgerEntry(entry);
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  Sha256Digest digest{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), encoded.data(), encoded.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1 || len != digest.size()) {
    throw Error(sqlstate::kInternalError, "SHA-256 failed");
  }
  return digest;
}

}  // namespace crosswalk
