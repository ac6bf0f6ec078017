// Shared-memory counters behind crosswalk.auth_stats: a fixed open-addressed
// table of (database, platform) slots, each with one atomic counter per
// result. Slots are claimed with compare-and-swap and counters bumped with
// fetch-add, so counting never takes a lock and never waits.
#include "auth_stats.hpp"

#include "guard.hpp"
#include "jwt_error.hpp"

extern "C" {
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

namespace crosswalk::pg {
namespace {

static_assert(kAuthResultCount == 1 + crosswalk::kJwtCheckCount, "one counter per check plus success");

// Enough for every platform of a few dozen databases; a verification for a
// platform that finds the table full is counted in the overflow slot.
constexpr int kAuthStatsSlots = 1024;

struct AuthStatsSlot {
  pg_atomic_uint64 key;  // (database oid << 32) | platform_id + 1; 0 = free
  pg_atomic_uint64 counts[kAuthResultCount];
};

struct AuthStatsShared {
  pg_atomic_uint64 reset_at;  // TimestampTz of the last reset (or start)
  pg_atomic_uint64 overflow;  // verifications that found no free slot
  AuthStatsSlot slots[kAuthStatsSlots];
};

AuthStatsShared* shared = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

void AuthStatsShmemRequest() {
  if (prev_shmem_request_hook != nullptr) prev_shmem_request_hook();
  RequestAddinShmemSpace(MAXALIGN(sizeof(AuthStatsShared)));
}

void AuthStatsShmemStartup() {
  if (prev_shmem_startup_hook != nullptr) prev_shmem_startup_hook();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  auto* s = static_cast<AuthStatsShared*>(ShmemInitStruct("crosswalk auth_stats", sizeof(AuthStatsShared), &found));
  if (!found) {
    pg_atomic_init_u64(&s->reset_at, static_cast<uint64>(GetCurrentTimestamp()));
    pg_atomic_init_u64(&s->overflow, 0);
    for (auto& slot : s->slots) {
      pg_atomic_init_u64(&slot.key, 0);
      for (auto& c : slot.counts) pg_atomic_init_u64(&c, 0);
    }
  }
  LWLockRelease(AddinShmemInitLock);
  shared = s;
}

uint64 SlotKey(Oid database, int32 platform_id) {
  return (static_cast<uint64>(database) << 32) | static_cast<uint32>(platform_id + 1);
}

// The slot for key, claiming a free one on first use; nullptr when full.
AuthStatsSlot* FindSlot(uint64 key) {
  uint32 start = static_cast<uint32>((key * UINT64CONST(0x9E3779B97F4A7C15)) >> 40) % kAuthStatsSlots;
  for (int i = 0; i < kAuthStatsSlots; ++i) {
    AuthStatsSlot* slot = &shared->slots[(start + i) % kAuthStatsSlots];
    uint64 current = pg_atomic_read_u64(&slot->key);
    if (current == key) return slot;
    if (current == 0) {
      uint64 expected = 0;
      if (pg_atomic_compare_exchange_u64(&slot->key, &expected, key) || expected == key) return slot;
    }
  }
  return nullptr;
}

}  // namespace

void InitAuthStats() {
  if (!process_shared_preload_libraries_in_progress) return;
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = AuthStatsShmemRequest;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = AuthStatsShmemStartup;
}

void RecordAuthResult(int32 platform_id, int result) noexcept {
  if (shared == nullptr || result < 0 || result >= kAuthResultCount) return;
  AuthStatsSlot* slot = FindSlot(SlotKey(MyDatabaseId, platform_id));
  if (slot == nullptr) {
    pg_atomic_fetch_add_u64(&shared->overflow, 1);
    return;
  }
  pg_atomic_fetch_add_u64(&slot->counts[result], 1);
}

const char* AuthResultName(int result) {
  if (result == 0) return "success";
  return crosswalk::JwtCheckName(static_cast<crosswalk::JwtCheck>(result - 1));
}

}  // namespace crosswalk::pg

using crosswalk::pg::PgCall;

// crosswalk._auth_stats(): (platform_id, result, count, stats_reset) for this
// database, non-zero counts only.
CROSSWALK_FUNCTION(crosswalk_auth_stats) {
  using namespace crosswalk::pg;
  if (shared == nullptr) {
    throw crosswalk::Error("55000", "crosswalk.auth_stats needs crosswalk in shared_preload_libraries",
                           "Add crosswalk to shared_preload_libraries in postgresql.conf and restart the server.");
  }
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  PgCall([&] { InitMaterializedSRF(fcinfo, 0); });
  TimestampTz reset_at = static_cast<TimestampTz>(pg_atomic_read_u64(&shared->reset_at));
  for (const auto& slot : shared->slots) {
    uint64 key = pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&slot.key));
    if (key == 0 || static_cast<Oid>(key >> 32) != MyDatabaseId) continue;
    int32 platform_id = static_cast<int32>(static_cast<uint32>(key & 0xffffffff)) - 1;
    for (int r = 0; r < kAuthResultCount; ++r) {
      uint64 count = pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&slot.counts[r]));
      if (count == 0) continue;
      PgCall([&] {
        Datum values[4];
        bool nulls[4] = {platform_id == 0, false, false, false};
        values[0] = Int32GetDatum(platform_id);
        values[1] = CStringGetTextDatum(AuthResultName(r));
        values[2] = Int64GetDatum(static_cast<int64>(count));
        values[3] = TimestampTzGetDatum(reset_at);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
      });
    }
  }
  return static_cast<Datum>(0);
}

// crosswalk.reset_auth_stats(): zeroes every counter of the cluster.
CROSSWALK_FUNCTION(crosswalk_reset_auth_stats) {
  using namespace crosswalk::pg;
  if (shared == nullptr) {
    throw crosswalk::Error("55000", "crosswalk.auth_stats needs crosswalk in shared_preload_libraries",
                           "Add crosswalk to shared_preload_libraries in postgresql.conf and restart the server.");
  }
  for (auto& slot : shared->slots) {
    for (auto& c : slot.counts) pg_atomic_write_u64(&c, 0);
  }
  pg_atomic_write_u64(&shared->overflow, 0);
  pg_atomic_write_u64(&shared->reset_at, static_cast<uint64>(GetCurrentTimestamp()));
  PG_RETURN_VOID();
}
