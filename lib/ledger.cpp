#include "ledger.hpp"

#include <openssl/evp.h>

#include <memory>
#include <new>

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
  // By hand rather than snprintf: it runs for every append.
  char buf[] = "YYYY-MM-DDTHH:MM:SS.ffffffZ";
  auto put = [&buf](std::size_t at, std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10)
      buf[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, y, 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, rem / 3600, 2);
  put(14, rem / 60 % 60, 2);
  put(17, rem % 60, 2);
  put(20, micros, 6);
  return std::string(buf, sizeof buf - 1);
}

void AppendLedgerEntryHead(std::string_view kind, std::string_view canonical_payload, const CanonicalId& person,
                           std::string_view platform, std::int64_t recorded_at_us, std::string& out) {
  // The entry's member names are ASCII and fixed, so their canonical order is
  // written out directly.
  out += "{\"kind\":";
  AppendCanonicalString(kind, out);
  out += ",\"payload\":";
  out += canonical_payload;
  out += ",\"person\":\"";
  out += FormatCanonicalId(person);
  out += "\",\"platform\":";
  AppendCanonicalString(platform, out);
  out += ",\"recorded_at\":\"";
  out += FormatUtcMicros(recorded_at_us);
  out += "\",\"seq\":";
}

void AppendLedgerEntryTail(std::int64_t seq, std::string& out) {
  if (seq < 1 || seq > (std::int64_t{1} << 53)) {
    throw Error(sqlstate::kInvalidParameterValue, "ledger sequence numbers run from 1 to 2^53");
  }
  out += std::to_string(seq);  // what FormatJsonNumber gives for an integer below 2^53
  out += '}';
}

std::string EncodeLedgerEntry(const LedgerEntry& entry) {
  nlohmann::json payload = ParseJsonStrict(entry.payload_json);
  if (!payload.is_object()) throw Error(sqlstate::kInvalidParameterValue, "ledger payload must be a JSON object");
  std::string canonical_payload;
  AppendCanonicalJson(payload, canonical_payload);
  std::string out;
  AppendLedgerEntryHead(entry.kind, canonical_payload, entry.person, entry.platform, entry.recorded_at_us, out);
  AppendLedgerEntryTail(entry.seq, out);
  return out;
}

Sha256Digest LedgerEntryHash(const Sha256Digest& prev_hash, const LedgerEntry& entry) {
  if (entry.seq < 1 || entry.seq > (std::int64_t{1} << 53)) {
    throw Error(sqlstate::kInvalidParameterValue, "ledger sequence numbers run from 1 to 2^53");
  }
  return LedgerHasher().Hash(prev_hash, EncodeLedgerEntry(entry));
}

LedgerHasher::LedgerHasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::bad_alloc();
}

LedgerHasher::~LedgerHasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Sha256Digest LedgerHasher::Hash(const Sha256Digest& prev_hash, std::string_view encoded) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  Sha256Digest digest{};
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx, encoded.data(), encoded.size()) != 1 || EVP_DigestFinal_ex(ctx, digest.data(), &len) != 1 ||
      len != digest.size()) {
    throw Error(sqlstate::kInternalError, "SHA-256 failed");
  }
  return digest;
}

}  // namespace crosswalk
