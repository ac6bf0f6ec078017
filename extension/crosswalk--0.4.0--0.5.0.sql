-- crosswalk 0.5.0: single sign-on at the data layer. verify_jwt() checks a
-- platform's token, authenticate() turns it into the current identity of the
-- transaction, current_identity() reads it (for row-level security), and
-- crosswalk.auth_stats counts verifications.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

------------------------------------------------------------------------------
-- Token verification and the current identity
------------------------------------------------------------------------------

-- VOLATILE: the answer depends on the clock, and each call is counted.
CREATE FUNCTION crosswalk.verify_jwt(token text, platform text DEFAULT NULL) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'verify_jwt' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.verify_jwt(text, text) IS
  'verifies a JWS/JWT of a registered platform (by name, or by the token''s iss) and returns its claims';

CREATE FUNCTION crosswalk.authenticate(token text) RETURNS crosswalk.canonical_id
  AS 'MODULE_PATHNAME', 'authenticate' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION crosswalk.authenticate(text) IS
  'verifies a token and makes the person behind its (iss, sub) the current identity until the transaction ends';

-- STABLE and cheap: meant for row-level security policies, evaluated per
-- row. PARALLEL RESTRICTED: the identity lives in the leader backend only.
CREATE FUNCTION crosswalk.current_identity() RETURNS crosswalk.canonical_id
  AS 'MODULE_PATHNAME', 'current_identity' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.current_identity() IS
  'the person set by authenticate() in this transaction, or NULL; no setting can change it';

------------------------------------------------------------------------------
-- Keeping every backend's key cache current, and refusing unusable JWKS
------------------------------------------------------------------------------

CREATE FUNCTION crosswalk._platform_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'platform_changed' LANGUAGE C;
CREATE TRIGGER platform_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crosswalk.platform
  FOR EACH STATEMENT EXECUTE FUNCTION crosswalk._platform_changed();

CREATE FUNCTION crosswalk._jwks_valid(jwks jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'jwks_valid' LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- NOT VALID: rows registered under 0.1.0 are checked when verification
-- reads them (an unusable JWKS rejects tokens with reason "jwks"), not here.
ALTER TABLE crosswalk.platform
  ADD CONSTRAINT platform_jwks_usable CHECK (crosswalk._jwks_valid(jwks)) NOT VALID;

------------------------------------------------------------------------------
-- Monitoring
------------------------------------------------------------------------------

CREATE FUNCTION crosswalk._auth_stats(OUT platform_id integer, OUT result text, OUT count bigint,
                                      OUT stats_reset timestamptz)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'crosswalk_auth_stats' LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE VIEW crosswalk.auth_stats AS
  SELECT p.name AS platform, s.result, s.count, s.stats_reset
    FROM crosswalk._auth_stats() s
    LEFT JOIN crosswalk.platform p ON p.platform_id = s.platform_id;
COMMENT ON VIEW crosswalk.auth_stats IS
  'token verifications per platform and result (success or the failed check) since the last reset; '
  'needs crosswalk in shared_preload_libraries';

CREATE FUNCTION crosswalk.reset_auth_stats() RETURNS void
  AS 'MODULE_PATHNAME', 'crosswalk_reset_auth_stats' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.reset_auth_stats() IS 'zeroes crosswalk.auth_stats for the whole cluster';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------
REVOKE EXECUTE ON FUNCTION
  crosswalk.verify_jwt(text, text),
  crosswalk.authenticate(text),
  crosswalk._platform_changed(),
  crosswalk._jwks_valid(jsonb),
  crosswalk._auth_stats(),
  crosswalk.reset_auth_stats()
FROM PUBLIC;
REVOKE ALL ON crosswalk.auth_stats FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crosswalk.verify_jwt(text, text), crosswalk.authenticate(text) TO crosswalk_reader;
-- Only the caller's own transaction state: safe for everyone, and needed by
-- every role that row-level security policies apply to.
GRANT EXECUTE ON FUNCTION crosswalk.current_identity() TO PUBLIC;
GRANT EXECUTE ON FUNCTION crosswalk._auth_stats(), crosswalk.reset_auth_stats() TO crosswalk_admin;
GRANT SELECT ON crosswalk.auth_stats TO crosswalk_admin;
