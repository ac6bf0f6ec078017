-- Single sign-on: verify_jwt, authenticate, current_identity. This database
-- plays platform B (skillpath); tokens come from platform A (learnhub),
-- signed with A's keys, whose public JWKS is registered here. The keys and
-- pre-signed tokens are in sso_fixtures.psql (tests/tools/make_sso_fixtures.py).
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixtures :abs_srcdir '/sql/sso_fixtures.psql'
\set ECHO none
\i :fixtures
\set ECHO all
-- A database of its own: a fresh install (0.1.0 and every upgrade script
-- up to the newest) with no identities from the other tests.
CREATE DATABASE crosswalk_sso;
\c crosswalk_sso
CREATE EXTENSION crosswalk;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'crosswalk') AS newest
  FROM pg_extension WHERE extname = 'crosswalk';
SET client_min_messages = warning;

-- Runs q and shows its error as SQLSTATE: message (and the hint).
CREATE FUNCTION pg_temp.err(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  EXECUTE q;
  RETURN NEXT 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN NEXT SQLSTATE || ': ' || SQLERRM;
  IF hint <> '' THEN
    RETURN NEXT 'HINT: ' || hint;
  END IF;
END $$;
CREATE FUNCTION pg_temp.verify(token text, platform text DEFAULT NULL) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT pg_temp.err(format('SELECT crosswalk.verify_jwt(%L, %L)', token, platform))
$$;

-- Platform A's issuer, the audience its tokens must carry to be accepted
-- here, and its public keys (RS256, ES256, EdDSA). A partner platform signs
-- with an HMAC secret, stored wrapped by the master key (sso_secret.sql
-- tests that part); here it is taken from the fixture's JWK.
SELECT crosswalk.register_platform('learnhub', 'https://login.learnhub.example', 'skillpath-db', :'learnhub_jwks') AS learnhub;
SELECT crosswalk.register_platform('partner', 'https://login.partner.example') AS partner;
SELECT crosswalk.set_platform_secret('partner',
         decode(translate(:'partner_jwks'::jsonb #>> '{keys,0,k}', '-_', '+/') || '=', 'base64'), 'pt-hs');
SELECT name, issuer, audience, jsonb_array_length(jwks->'keys') AS keys FROM crosswalk.platform
 WHERE name IN ('learnhub', 'partner') ORDER BY name;

-- verify_jwt returns the claims, finding the platform by the token's iss or
-- by name.
SELECT crosswalk.verify_jwt(:'ada_rs256');
SELECT crosswalk.verify_jwt(:'bob_es256') ->> 'sub' AS es256_sub;
SELECT crosswalk.verify_jwt(:'cy_eddsa') ->> 'sub' AS eddsa_sub;
SELECT crosswalk.verify_jwt(:'dee_partner_hs256');
SELECT crosswalk.verify_jwt(:'ada_rs256', 'learnhub') ->> 'sub' AS by_name;
SELECT crosswalk.verify_jwt(NULL) IS NULL AS null_token_is_null;
-- A token of one platform is not one of another.
SELECT pg_temp.verify(:'ada_rs256', 'partner');
SELECT pg_temp.verify(:'ada_rs256', 'nowhere');

-- Every rejection: SQLSTATE 28000 and the check that failed.
SELECT pg_temp.verify(:'expired');
SELECT pg_temp.verify(:'not_yet_valid');
SELECT pg_temp.verify(:'issued_in_future');
SELECT pg_temp.verify(:'no_exp');
SELECT pg_temp.verify(:'wrong_audience');
SELECT pg_temp.verify(:'unknown_issuer');
SELECT pg_temp.verify(:'stranger_signed');
SELECT pg_temp.verify(:'tampered');
SELECT pg_temp.verify(:'alg_none');
SELECT pg_temp.verify(:'hs256_with_rsa_public_key');
SELECT pg_temp.verify(:'key_alg_mismatch');
SELECT pg_temp.verify(:'unknown_kid');
SELECT pg_temp.verify(:'wrong_key_type');
SELECT pg_temp.verify(:'duplicate_header');
SELECT pg_temp.verify(:'non_json_header');
SELECT pg_temp.verify(:'header_bomb');
SELECT pg_temp.verify(:'claims_bomb');
SELECT pg_temp.verify(:'huge_kid');
SELECT pg_temp.verify(:'crit');
SELECT pg_temp.verify(:'padded');
SELECT pg_temp.verify(:'bad_alphabet');
SELECT pg_temp.verify(:'truncated');
SELECT pg_temp.verify(:'oversized');
SELECT pg_temp.verify('');
SELECT pg_temp.verify('not a token');
SELECT pg_temp.verify(repeat('.', 3));
SELECT pg_temp.verify(E'\x01\x02.\x03.\x04');

-- A JWKS that cannot be used is refused when it is registered.
SELECT pg_temp.err($$SELECT crosswalk.register_platform('bad', 'https://bad.example', NULL, '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}')$$);
SELECT pg_temp.err(format('SELECT crosswalk.register_platform(%L, %L, NULL, %L)', 'bad', 'https://bad.example',
         jsonb_build_object('keys', (:'learnhub_jwks'::jsonb -> 'keys') || (:'learnhub_jwks'::jsonb #> '{keys,0}'))));
SELECT pg_temp.err($$SELECT crosswalk.register_platform('bad', 'https://bad.example', NULL, '{"nokeys":[]}')$$);
SELECT count(*) AS bad_platforms FROM crosswalk.platform WHERE name = 'bad';

------------------------------------------------------------------------------
-- The worked example: skillpath's progress table shows each person only
-- their own rows, after they sign in with a learnhub token.
------------------------------------------------------------------------------
SELECT crosswalk.register_platform('skillpath') > 0 AS skillpath;
-- Ada, Bob and Cy have accounts on both platforms.
SELECT crosswalk.link('skillpath', 'sp-ada', crosswalk.link('learnhub', '42')) IS NOT NULL AS ada,
       crosswalk.link('skillpath', 'sp-bob', crosswalk.link('learnhub', '43')) IS NOT NULL AS bob,
       crosswalk.link('skillpath', 'sp-cy', crosswalk.link('learnhub', '44')) IS NOT NULL AS cy;

CREATE TABLE skillpath_progress (user_id text NOT NULL, course text NOT NULL, progress numeric NOT NULL);
INSERT INTO skillpath_progress VALUES
  ('sp-ada', 'sql-101', 0.9), ('sp-ada', 'rls-201', 0.4),
  ('sp-bob', 'sql-101', 0.2), ('sp-cy', 'jwt-301', 1.0), ('sp-zed', 'sql-101', 0.5);
ALTER TABLE skillpath_progress ENABLE ROW LEVEL SECURITY;
-- The person's skillpath id, computed once per query (an InitPlan), not per row.
CREATE POLICY own_rows ON skillpath_progress FOR SELECT
  USING (user_id = (SELECT crosswalk.local_id(crosswalk.current_identity(), 'skillpath')));

CREATE ROLE skillpath_app LOGIN IN ROLE crosswalk_reader;
GRANT SELECT ON skillpath_progress TO skillpath_app;
SET ROLE skillpath_app;

-- Nobody signed in: no rows.
SELECT crosswalk.current_identity() IS NULL AS anonymous, count(*) AS visible FROM skillpath_progress;

BEGIN;
SELECT crosswalk.authenticate(:'ada_rs256') = crosswalk.resolve('learnhub', '42') AS ada_signed_in;
SELECT crosswalk.current_identity() = crosswalk.resolve('skillpath', 'sp-ada') AS same_person_on_skillpath;
SELECT user_id, course, progress FROM skillpath_progress ORDER BY course;
COMMIT;
-- The identity ends with the transaction.
SELECT crosswalk.current_identity() IS NULL AS reset_at_commit, count(*) AS visible FROM skillpath_progress;

BEGIN;
SELECT crosswalk.authenticate(:'bob_es256') = crosswalk.resolve('learnhub', '43') AS bob_signed_in;
SELECT user_id, course, progress FROM skillpath_progress ORDER BY course;
ROLLBACK;
SELECT crosswalk.current_identity() IS NULL AS reset_at_rollback;

BEGIN;
SELECT crosswalk.authenticate(:'cy_eddsa') = crosswalk.resolve('learnhub', '44') AS cy_signed_in;
SELECT user_id, course, progress FROM skillpath_progress ORDER BY course;
EXPLAIN (COSTS OFF) SELECT * FROM skillpath_progress;
COMMIT;

-- Outside an explicit transaction block, authenticate() lasts for its own
-- statement only.
SELECT crosswalk.authenticate(:'ada_rs256') IS NOT NULL AS authenticated;
SELECT crosswalk.current_identity() IS NULL AS gone_with_the_statement;

------------------------------------------------------------------------------
-- No setting forges the identity.
------------------------------------------------------------------------------
BEGIN;
SET LOCAL crosswalk.current_identity = '00000000-0000-7000-8000-000000000001';
SET LOCAL crosswalk.identity = '00000000-0000-7000-8000-000000000001';
SELECT set_config('crosswalk.current_identity', '00000000-0000-7000-8000-000000000001', true) IS NOT NULL AS set_config_ran;
SELECT set_config('crosswalk.person', '00000000-0000-7000-8000-000000000001', false) IS NOT NULL AS set_config_ran;
SET LOCAL ROLE skillpath_app;
SET LOCAL search_path = public;
SELECT crosswalk.current_identity() IS NULL AS still_anonymous, count(*) AS visible FROM skillpath_progress;
COMMIT;
SET crosswalk.current_identity = '00000000-0000-7000-8000-000000000001';
SELECT crosswalk.current_identity() IS NULL AS still_anonymous;
-- The settings that shape verification are superuser-only: an application
-- role cannot widen the leeway to let an expired token in, nor turn on
-- autolinking.
SELECT pg_temp.err($$SET crosswalk.jwt_leeway = 3600$$);
SELECT pg_temp.err($$SET crosswalk.jwt_autolink = on$$);
SELECT pg_temp.err($$SELECT set_config('crosswalk.jwt_leeway', '3600', true)$$);
RESET ROLE;
SHOW crosswalk.jwt_leeway;
SHOW crosswalk.jwt_autolink;

------------------------------------------------------------------------------
-- Subtransactions: rolling back to a savepoint restores the identity the
-- savepoint saw; releasing it keeps the new one.
------------------------------------------------------------------------------
CREATE TEMP TABLE who AS
  SELECT crosswalk.resolve('learnhub', '42') AS ada, crosswalk.resolve('learnhub', '43') AS bob,
         crosswalk.resolve('learnhub', '44') AS cy;
GRANT SELECT ON who TO skillpath_app;
SET my.bob = :'bob_es256';
SET ROLE skillpath_app;
BEGIN;
SELECT crosswalk.authenticate(:'ada_rs256') = (SELECT ada FROM who) AS ada;
SAVEPOINT s1;
SELECT crosswalk.authenticate(:'bob_es256') = (SELECT bob FROM who) AS bob;
SAVEPOINT s2;
SELECT crosswalk.authenticate(:'cy_eddsa') = (SELECT cy FROM who) AS cy;
ROLLBACK TO s2;
SELECT crosswalk.current_identity() = (SELECT bob FROM who) AS back_to_bob;
ROLLBACK TO s1;
SELECT crosswalk.current_identity() = (SELECT ada FROM who) AS back_to_ada;
SAVEPOINT s3;
SELECT crosswalk.authenticate(:'cy_eddsa') = (SELECT cy FROM who) AS cy;
RELEASE s3;
SELECT crosswalk.current_identity() = (SELECT cy FROM who) AS released_keeps_cy;
COMMIT;
-- An exception block is a subtransaction too: a failed sign-in inside it
-- leaves the outer identity alone.
BEGIN;
SELECT crosswalk.authenticate(:'ada_rs256') = (SELECT ada FROM who) AS ada;
DO $$
BEGIN
  PERFORM crosswalk.authenticate(current_setting('my.bob'));
  RAISE EXCEPTION 'undo';
EXCEPTION WHEN others THEN
  NULL;
END $$;
SELECT crosswalk.current_identity() = (SELECT ada FROM who) AS still_ada;
-- A rejected token does not sign anyone out (or in).
SELECT pg_temp.err(format('SELECT crosswalk.authenticate(%L)', :'expired'));
SELECT crosswalk.current_identity() = (SELECT ada FROM who) AS still_ada;
COMMIT;
RESET ROLE;

------------------------------------------------------------------------------
-- Accounts that are not linked, and autolinking.
------------------------------------------------------------------------------
SELECT pg_temp.err(format('SELECT crosswalk.authenticate(%L)', :'new_person'));
SELECT pg_temp.err(format('SELECT crosswalk.authenticate(%L)', :'no_sub'));
SELECT pg_temp.err(format('SELECT crosswalk.authenticate(%L)', :'dee_partner_hs256'));
SELECT pg_temp.err('SELECT crosswalk.authenticate(NULL)');
SELECT count(*) AS accounts_before FROM crosswalk.account;
BEGIN;
SET LOCAL crosswalk.jwt_autolink = on;
SELECT crosswalk.authenticate(:'new_person') IS NOT NULL AS autolinked;
SELECT crosswalk.current_identity() = crosswalk.resolve('learnhub', '1001') AS is_the_new_person;
SELECT method FROM crosswalk.account WHERE local_id = '1001';
COMMIT;
-- Linked now, autolink or not.
SELECT crosswalk.authenticate(:'new_person') = crosswalk.resolve('learnhub', '1001') AS signs_in;
SELECT count(*) AS accounts_after FROM crosswalk.account;

------------------------------------------------------------------------------
-- Key rotation: a token signed with a new key is refused until the
-- platform's JWKS has it, and accepted at once after.
------------------------------------------------------------------------------
SELECT pg_temp.verify(:'rotated_key');
SELECT crosswalk.register_platform('learnhub', jwks => :'rotated_jwks') AS learnhub;
SELECT crosswalk.verify_jwt(:'rotated_key') ->> 'sub' AS rotated_sub;
-- Leeway: the superuser may widen it; an expired token stays expired unless
-- the leeway covers the gap.
SET crosswalk.jwt_leeway = '1h';
SELECT pg_temp.verify(:'expired');
RESET crosswalk.jwt_leeway;

------------------------------------------------------------------------------
-- Who may call what; auth_stats needs shared_preload_libraries (this
-- server has none).
------------------------------------------------------------------------------
CREATE ROLE sso_nobody LOGIN;
SET ROLE sso_nobody;
SELECT crosswalk.current_identity() IS NULL AS anyone_may_ask;
SELECT pg_temp.err(format('SELECT crosswalk.verify_jwt(%L)', :'ada_rs256'));
SELECT pg_temp.err(format('SELECT crosswalk.authenticate(%L)', :'ada_rs256'));
SELECT pg_temp.err('SELECT * FROM crosswalk.auth_stats');
SELECT pg_temp.err('SELECT crosswalk.reset_auth_stats()');
RESET ROLE;
SELECT pg_temp.err('SELECT * FROM crosswalk.auth_stats');
SELECT pg_temp.err('SELECT crosswalk.reset_auth_stats()');

DROP OWNED BY skillpath_app, sso_nobody;

------------------------------------------------------------------------------
-- The upgrade path: a 0.1.0 install with platforms (one with a JWKS that
-- 0.5.0 would refuse) updated in place.
------------------------------------------------------------------------------
CREATE DATABASE crosswalk_upgrade;
\c crosswalk_upgrade
CREATE EXTENSION crosswalk VERSION '0.1.0';
SELECT crosswalk.register_platform('learnhub', 'https://login.learnhub.example', 'skillpath-db', :'learnhub_jwks') AS learnhub;
SELECT crosswalk.register_platform('partner', 'https://login.partner.example', NULL, '{"keys":[{"kty":"oct","k":""}]}') AS partner_with_unusable_jwks;
ALTER EXTENSION crosswalk UPDATE TO '0.5.0';
SELECT extversion FROM pg_extension WHERE extname = 'crosswalk';
SELECT crosswalk.verify_jwt(:'ada_rs256') ->> 'sub' AS after_upgrade;
SELECT crosswalk.verify_jwt(:'dee_partner_hs256');
\c crosswalk_regress
DROP DATABASE crosswalk_upgrade;
DROP DATABASE crosswalk_sso;
DROP ROLE skillpath_app, sso_nobody;
