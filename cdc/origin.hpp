// Loop prevention with replication origins (docs/operations.md "Two-way and
// ring deployments"). Whatever crosswalk-sync writes into a peer carries the
// replication origin crosswalk_<platform> of the platform where the change
// began; pgoutput sends that origin after Begin, so a stream reading the
// peer knows which transactions it must not send back.
#pragma once

#include <optional>
#include <string>

#include "pq.hpp"

namespace crosswalk::cdc {

inline constexpr const char* kOriginPrefix = "crosswalk_";

// "crosswalk_<platform>": the replication origin of changes that began on
// `platform`.
std::string OriginName(const std::string& platform);
// The platform of a crosswalk origin name; nullopt for any other origin.
std::optional<std::string> OriginPlatform(const std::string& origin_name);

// What a stream does with one source transaction.
struct OriginDecision {
  bool skip = false;     // an echo (or, without forwarding, a third platform's)
  std::string platform;  // where it began: the origin to apply it under
};

// Decides from the transaction's origin (nullopt: no Origin message, a
// change made on the source itself). An origin naming the peer's own
// platform is an echo; another crosswalk origin is forwarded with its
// origin kept (a ring) unless `forward_origins` is false; any other origin
// (a native subscription, another tool) counts as the source's own change.
OriginDecision DecideOrigin(const std::optional<std::string>& origin_name, const std::string& source_platform,
                            const std::string& peer_platform, bool forward_origins);

// Checks that the peer role may use replication origins (false when not)
// and creates crosswalk_sync.acquire_origin. Origins are held by a session
// only for the length of one peer transaction (PostgreSQL 15 lets one
// session at a time use an origin): a `retry` or a second daemon applying
// into the same database waits its turn instead of failing.
bool PrepareOrigins(pq::Connection& peer);
// Creates `platform`'s origin on the peer when missing.
void EnsureOrigin(pq::Connection& peer, const std::string& platform);
// SQL that makes the open transaction write under `platform`'s origin
// (ends with "; "), and SQL that releases it after COMMIT or ROLLBACK
// (starts with "; ").
std::string AcquireOriginSql(const std::string& platform);
inline constexpr const char* kReleaseOriginSql =
    "; SELECT pg_catalog.pg_replication_origin_session_reset() WHERE "
    "pg_catalog.pg_replication_origin_session_is_setup()";

}  // namespace crosswalk::cdc
