#include "origin.hpp"

#include "sqltext.hpp"

namespace crosswalk::cdc {

std::string OriginName(const std::string& platform) { return kOriginPrefix + platform; }

std::optional<std::string> OriginPlatform(const std::string& origin_name) {
  std::string prefix = kOriginPrefix;
  if (origin_name.size() <= prefix.size() || origin_name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return origin_name.substr(prefix.size());
}

OriginDecision DecideOrigin(const std::optional<std::string>& origin_name, const std::string& source_platform,
                            const std::string& peer_platform, bool forward_origins) {
  std::optional<std::string> platform = origin_name ? OriginPlatform(*origin_name) : std::nullopt;
  if (!platform || *platform == source_platform) return {false, source_platform};
  if (*platform == peer_platform) return {true, *platform};
  return {!forward_origins, *platform};
}

bool PrepareOrigins(pq::Connection& peer) {
  auto allowed = peer.Scalar(
      "SELECT pg_catalog.bool_and(pg_catalog.has_function_privilege(f, 'EXECUTE')) FROM pg_catalog.unnest(ARRAY["
      "'pg_catalog.pg_replication_origin_create(text)', 'pg_catalog.pg_replication_origin_oid(text)', "
      "'pg_catalog.pg_replication_origin_session_setup(text)', 'pg_catalog.pg_replication_origin_session_reset()', "
      "'pg_catalog.pg_replication_origin_session_is_setup()', "
      "'pg_catalog.pg_replication_origin_xact_setup(pg_lsn, timestamptz)']) f");
  if (allowed != "t") return false;
  // The function waits while another session holds the origin (ERROR
  // 55006): that session holds it for one transaction at most.
  peer.Exec(R"SQL(
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('crosswalk_sync origins'));
CREATE OR REPLACE FUNCTION crosswalk_sync.acquire_origin(p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  FOR i IN 1..1000 LOOP
    BEGIN
      PERFORM pg_catalog.pg_replication_origin_session_setup(p_name);
      RETURN;
    EXCEPTION WHEN object_in_use THEN
      PERFORM pg_catalog.pg_sleep(0.01);
    END;
  END LOOP;
  PERFORM pg_catalog.pg_replication_origin_session_setup(p_name);  -- still in use: raise it
END
$fn$;
REVOKE ALL ON FUNCTION crosswalk_sync.acquire_origin(text) FROM PUBLIC;
COMMIT;
)SQL");
  return true;
}

void EnsureOrigin(pq::Connection& peer, const std::string& platform) {
  std::string name = OriginName(platform);
  // Two daemons may create it at once: the loser's unique violation is harmless.
  try {
    peer.ExecParams(
        "SELECT pg_catalog.pg_replication_origin_create($1) WHERE pg_catalog.pg_replication_origin_oid($1) IS NULL",
        {name});
  } catch (const pq::ServerError& e) {
    if (std::string(e.sqlstate()) != "23505") throw;
  }
}

std::string AcquireOriginSql(const std::string& platform) {
  return "SELECT crosswalk_sync.acquire_origin(" + QuoteLiteral(OriginName(platform)) + "); ";
}

}  // namespace crosswalk::cdc
