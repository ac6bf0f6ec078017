// crosswalk.auth_stats: token verifications per platform and result, counted
// in shared memory across all backends of the cluster. Needs crosswalk in
// shared_preload_libraries; without it nothing is counted and the view says
// so (an error with a hint) rather than showing zeros.
#pragma once

#include "postgres_headers.hpp"

namespace crosswalk::pg {

// Result index 0 is success; 1 + static_cast<int>(JwtCheck) a failure.
inline constexpr int kAuthResultCount = 1 + 19;

// Installs the shared-memory hooks; does nothing unless called while
// shared_preload_libraries is being processed.
void InitAuthStats();

// Counts one verification for (this database, platform_id); platform_id 0
// when the token named no registered platform. Never raises an error.
void RecordAuthResult(int32 platform_id, int result) noexcept;

// The name of a result index: "success" or the check's name.
const char* AuthResultName(int result);

}  // namespace crosswalk::pg
