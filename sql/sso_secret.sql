-- HMAC secrets of platforms (0.7.0): stored only wrapped by the master key in
-- crosswalk.platform_secret, which no role but the owner reads; never as
-- "oct" keys in a JWKS (refused), except rows from before 0.7.0, which keep
-- verifying until move_platform_secrets() moves them.
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixtures :abs_srcdir '/sql/sso_fixtures.psql'
\set ECHO none
\i :fixtures
\set ECHO all
CREATE DATABASE crosswalk_sso_secret;
\c crosswalk_sso_secret
CREATE EXTENSION crosswalk;
CREATE EXTENSION pgcrypto;
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
CREATE FUNCTION pg_temp.verify(token text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT pg_temp.err(format('SELECT crosswalk.verify_jwt(%L)', token))
$$;
-- base64url without padding, both ways, and an HS256/384/512 token signed in
-- SQL (pgcrypto's hmac), so the tests can sign with secrets of their own.
CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql AS $$
  SELECT translate(encode(b, 'base64'), E'+/=\n', '-_')
$$;
CREATE FUNCTION pg_temp.unb64url(t text) RETURNS bytea LANGUAGE sql AS $$
  SELECT decode(translate(t, '-_', '+/') || repeat('=', (4 - length(t) % 4) % 4), 'base64')
$$;
CREATE FUNCTION pg_temp.sign(header jsonb, claims jsonb, secret bytea, digest text DEFAULT 'sha256')
RETURNS text LANGUAGE sql AS $$
  SELECT s || '.' || pg_temp.b64url(hmac(convert_to(s, 'utf8'), secret, digest))
    FROM (SELECT pg_temp.b64url(convert_to(header::text, 'utf8')) || '.' ||
                 pg_temp.b64url(convert_to(claims::text, 'utf8')) AS s) t
$$;
SELECT pg_temp.unb64url(:'partner_jwks'::jsonb #>> '{keys,0,k}') AS partner_secret \gset
\set partner_claims '{"iss": "https://login.partner.example", "sub": "p-7", "exp": 4102444800}'
-- The fixture's token and one signed here with the same secret both verify.
SELECT pg_temp.sign('{"alg": "HS256", "kid": "pt-hs"}', :'partner_claims', :'partner_secret') AS own_token \gset

------------------------------------------------------------------------------
-- A JWKS may not carry HMAC secrets any more.
------------------------------------------------------------------------------
SELECT pg_temp.err(format('SELECT crosswalk.register_platform(%L, %L, NULL, %L)',
                          'partner', 'https://login.partner.example', :'partner_jwks'));
-- Nor an "oct" key meant for something else: it would be a secret in clear all the same.
SELECT pg_temp.err($$SELECT crosswalk.register_platform('partner', jwks => '{"keys": [{"kty": "oct", "use": "enc", "k": "c2VjcmV0"}]}')$$);
SELECT count(*) AS platforms FROM crosswalk.platform;
SELECT crosswalk.register_platform('partner', 'https://login.partner.example') > 0 AS partner;
-- Not even by writing the row directly.
SELECT pg_temp.err(format('UPDATE crosswalk.platform SET jwks = %L WHERE name = %L', :'partner_jwks', 'partner'));
-- No keys at all yet: every token is refused.
SELECT pg_temp.verify(:'dee_partner_hs256');

------------------------------------------------------------------------------
-- set_platform_secret: the secret stored wrapped, and tokens verify.
------------------------------------------------------------------------------
SELECT crosswalk.set_platform_secret('partner', :'partner_secret', 'pt-hs');
SELECT crosswalk.verify_jwt(:'dee_partner_hs256');
SELECT crosswalk.verify_jwt(:'own_token') ->> 'sub' AS own_token_sub;
SELECT platform, kid, alg FROM crosswalk.platform_secrets;
SELECT jwks IS NULL AS jwks_still_empty FROM crosswalk.platform WHERE name = 'partner';
-- What is stored: format byte 1, a 12-byte nonce, the 32 encrypted bytes and
-- a 16-byte tag; not the secret.
SELECT get_byte(wrapped, 0) AS format, octet_length(wrapped) AS bytes,
       position(:'partner_secret'::bytea IN wrapped) AS secret_found_at
  FROM crosswalk.platform_secret;

-- Only for HS tokens, and only with the key the header names.
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "other"}', :'partner_claims', :'partner_secret'));
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS384", "kid": "pt-hs"}', :'partner_claims', :'partner_secret', 'sha384'));
SELECT pg_temp.verify(pg_temp.sign('{"alg": "RS256", "kid": "pt-hs"}', :'partner_claims', :'partner_secret'));
-- A kid-less token tries every secret that fits its alg.
SELECT crosswalk.verify_jwt(pg_temp.sign('{"alg": "HS256"}', :'partner_claims', :'partner_secret')) ->> 'sub' AS kidless;

-- Replacing the secret: tokens signed with the old one fail at once, in this
-- session too (the key cache is dropped), and tokens of the new one verify.
SELECT gen_random_bytes(32) AS new_secret \gset
SELECT crosswalk.set_platform_secret('partner', :'new_secret', 'pt-hs');
SELECT pg_temp.verify(:'dee_partner_hs256');
SELECT crosswalk.verify_jwt(pg_temp.sign('{"alg": "HS256", "kid": "pt-hs"}', :'partner_claims', :'new_secret')) ->> 'sub' AS new_secret_sub;
SELECT count(*) AS secrets FROM crosswalk.platform_secret;

-- alg pins the algorithm: an HS512 secret does not verify HS256 tokens.
SELECT gen_random_bytes(64) AS long_secret \gset
SELECT crosswalk.set_platform_secret('partner', :'long_secret', 'pt-512', 'HS512');
SELECT crosswalk.verify_jwt(pg_temp.sign('{"alg": "HS512", "kid": "pt-512"}', :'partner_claims', :'long_secret', 'sha512')) ->> 'sub' AS hs512;
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "pt-512"}', :'partner_claims', :'long_secret'));
-- Without alg, every HS algorithm the secret is long enough for.
SELECT crosswalk.set_platform_secret('partner', :'long_secret', 'pt-any', NULL);
SELECT crosswalk.verify_jwt(pg_temp.sign('{"alg": "HS256", "kid": "pt-any"}', :'partner_claims', :'long_secret')) ->> 'sub' AS any_hs256,
       crosswalk.verify_jwt(pg_temp.sign('{"alg": "HS384", "kid": "pt-any"}', :'partner_claims', :'long_secret', 'sha384')) ->> 'sub' AS any_hs384;
SELECT platform, kid, alg FROM crosswalk.platform_secrets ORDER BY kid;

-- drop_platform_secret removes one kid; true when there was one.
SELECT crosswalk.drop_platform_secret('partner', 'pt-any') AS dropped, crosswalk.drop_platform_secret('partner', 'pt-any') AS again;
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "pt-any"}', :'partner_claims', :'long_secret'));

------------------------------------------------------------------------------
-- The claims come back exactly as jsonb_in reads the payload (verify_jwt
-- builds the jsonb from its own parse, not by parsing the text again).
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.sign_text(header text, claims text, secret bytea) RETURNS text LANGUAGE sql AS $$
  SELECT s || '.' || pg_temp.b64url(hmac(convert_to(s, 'utf8'), secret, 'sha256'))
    FROM (SELECT pg_temp.b64url(convert_to(header, 'utf8')) || '.' || pg_temp.b64url(convert_to(claims, 'utf8')) AS s) t
$$;
CREATE TEMP TABLE payloads (n int, claims text);
INSERT INTO payloads VALUES
  (1, '{"iss":"https://login.partner.example","sub":"p-7","exp":4102444800}'),
  (2, '{"exp":4102444800.500,"iss":"https://login.partner.example","z":1,"a":[1,-0,2.50,1e3,-1.5E-3,18446744073709551616,123456789012345678901234567890],"m":{"b":{"c":[[],{}]},"a":null}}'),
  (3, '{"iss":"https://login.partner.example","exp":4102444800,"name":"Ad\u00e9 \ud83d\ude00 \"q\" \\ \/ \t","t":true,"f":false,"":""}'),
  (4, '{"iss":"https://login.partner.example","exp":4102444800,"nested":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}');
SELECT n, crosswalk.verify_jwt(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs"}', claims, :'new_secret')) = claims::jsonb AS same,
       crosswalk.verify_jwt(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs"}', claims, :'new_secret'))::text AS claims
  FROM payloads ORDER BY n;
-- jsonb has no U+0000: the SQLSTATE of jsonb_in, after verification.
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs"}', '{"iss":"https://login.partner.example","exp":4102444800,"x":"a\u0000b"}', :'new_secret'));
SELECT pg_temp.err($$SELECT '{"x":"a\u0000b"}'::jsonb$$);
-- Duplicate claims, even nested, and a payload that is not one object.
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs"}', '{"iss":"https://login.partner.example","exp":4102444800,"m":{"a":1,"a":2}}', :'new_secret'));
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs"}', '[{"iss":"https://login.partner.example","exp":4102444800}]', :'new_secret'));
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs","kid":"pt-hs"}', '{"iss":"https://login.partner.example","exp":4102444800}', :'new_secret'));
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs","b64":false}', '{"iss":"https://login.partner.example","exp":4102444800}', :'new_secret'));
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":"pt-hs","crit":["b64"]}', '{"iss":"https://login.partner.example","exp":4102444800}', :'new_secret'));
SELECT pg_temp.verify(pg_temp.sign_text('{"alg":"HS256","kid":7}', '{"iss":"https://login.partner.example","exp":4102444800}', :'new_secret'));

------------------------------------------------------------------------------
-- Bad input: each a clear error, nothing stored.
------------------------------------------------------------------------------
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', NULL, 'k')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret(NULL, '\x00', 'k')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('nowhere', gen_random_bytes(32), 'k')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(31), 'k')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(47), 'k', 'HS384')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(32), 'k', 'RS256')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(32), 'k', 'none')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(32), '')$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(32), repeat('k', 257))$$);
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', decode(repeat('00', 1025), 'hex'), 'k')$$);
SELECT pg_temp.err($$SELECT crosswalk._wrap_platform_secret(NULL, 'k', 'HS256', gen_random_bytes(32))$$);
SELECT pg_temp.err($$SELECT crosswalk._wrap_jwk_secret(1, 'k', NULL, '{"kty": "RSA"}')$$);
SELECT pg_temp.err($$SELECT crosswalk._wrap_jwk_secret(1, 'k', NULL, '{"kty": "oct", "kid": "k", "k": "not base64url!"}')$$);
SELECT pg_temp.err($$SELECT crosswalk._wrap_jwk_secret(1, 'other', NULL, '{"kty": "oct", "kid": "k", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}')$$);
-- A platform that verifies with public keys gets no secret, and the reverse.
SELECT crosswalk.register_platform('learnhub', 'https://login.learnhub.example', 'skillpath-db', :'learnhub_jwks') > 0 AS learnhub;
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('learnhub', gen_random_bytes(32), 'k')$$);
SELECT pg_temp.err(format('SELECT crosswalk.register_platform(%L, jwks => %L)', 'partner', :'learnhub_jwks'));
-- The server logs bind parameters of failed statements: the secret could land there.
SET log_parameter_max_length_on_error = -1;
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(32), 'k')$$);
RESET log_parameter_max_length_on_error;
SELECT platform, kid, alg FROM crosswalk.platform_secrets ORDER BY kid;

------------------------------------------------------------------------------
-- A wrapped secret is bound to its platform, kid and alg, and to the master
-- key: a row moved or altered does not unwrap (XX001, not a silent failure).
------------------------------------------------------------------------------
SELECT crosswalk.register_platform('partner2', 'https://login.partner2.example') > 0 AS partner2;
BEGIN;
INSERT INTO crosswalk.platform_secret (platform_id, kid, alg, wrapped)
SELECT (SELECT platform_id FROM crosswalk.platform WHERE name = 'partner2'), kid, alg, wrapped
  FROM crosswalk.platform_secret WHERE kid = 'pt-hs';
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "pt-hs"}', '{"iss": "https://login.partner2.example", "sub": "p-7", "exp": 4102444800}', :'new_secret'));
ROLLBACK;
BEGIN;
UPDATE crosswalk.platform_secret SET kid = 'pt-moved' WHERE kid = 'pt-hs';
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "pt-moved"}', :'partner_claims', :'new_secret'));
ROLLBACK;
BEGIN;
UPDATE crosswalk.platform_secret SET alg = NULL WHERE kid = 'pt-hs';
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "pt-hs"}', :'partner_claims', :'new_secret'));
ROLLBACK;
BEGIN;
UPDATE crosswalk.platform_secret SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20) # 1) WHERE kid = 'pt-hs';
SELECT pg_temp.verify(pg_temp.sign('{"alg": "HS256", "kid": "pt-hs"}', :'partner_claims', :'new_secret'));
ROLLBACK;
-- After each rollback the secret verifies again.
SELECT crosswalk.verify_jwt(pg_temp.sign('{"alg": "HS256", "kid": "pt-hs"}', :'partner_claims', :'new_secret')) ->> 'sub' AS intact;

------------------------------------------------------------------------------
-- Who may do what: administrators set and list secrets; nobody but the
-- owner reads the wrapped bytes; readers verify tokens.
------------------------------------------------------------------------------
CREATE ROLE secret_admin IN ROLE crosswalk_admin;
CREATE ROLE secret_reader IN ROLE crosswalk_reader;
SET ROLE secret_admin;
SELECT crosswalk.set_platform_secret('partner', :'partner_secret', 'pt-hs');
SELECT platform, kid, alg FROM crosswalk.platform_secrets ORDER BY kid;
SELECT pg_temp.err('SELECT wrapped FROM crosswalk.platform_secret');
RESET ROLE;
SET ROLE secret_reader;
SELECT crosswalk.verify_jwt(:'dee_partner_hs256') ->> 'sub' AS reader_verifies;
SELECT pg_temp.err('SELECT wrapped FROM crosswalk.platform_secret');
SELECT pg_temp.err('SELECT * FROM crosswalk.platform_secrets');
SELECT pg_temp.err($$SELECT crosswalk.set_platform_secret('partner', gen_random_bytes(32), 'k')$$);
SELECT pg_temp.err($$SELECT crosswalk.drop_platform_secret('partner', 'pt-hs')$$);
SELECT pg_temp.err($$SELECT crosswalk.move_platform_secrets('partner')$$);
SELECT pg_temp.err($$SELECT crosswalk._wrap_platform_secret(1, 'k', 'HS256', gen_random_bytes(32))$$);
-- What a reader sees of the platform: no secret.
SELECT name, jwks FROM crosswalk.platform WHERE name = 'partner';
RESET ROLE;
-- Deleting a platform deletes its secrets.
SELECT crosswalk.set_platform_secret('partner2', gen_random_bytes(32), 'p2');
DELETE FROM crosswalk.platform WHERE name = 'partner2';
SELECT count(*) AS orphans FROM crosswalk.platform_secret s
 WHERE NOT EXISTS (SELECT FROM crosswalk.platform p WHERE p.platform_id = s.platform_id);

------------------------------------------------------------------------------
-- Migration: a platform registered before 0.7.0 with its secret in the
-- JWKS keeps verifying after the update; move_platform_secrets() moves the
-- secret into crosswalk.platform_secret and out of the JWKS.
------------------------------------------------------------------------------
CREATE DATABASE crosswalk_sso_legacy;
\c crosswalk_sso_legacy
SET client_min_messages = warning;
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
CREATE EXTENSION crosswalk VERSION '0.6.0';
SELECT crosswalk.register_platform('partner', 'https://login.partner.example', NULL, :'partner_jwks') > 0 AS partner;
SELECT crosswalk.register_platform('short', 'https://login.short.example', NULL,
                                   '{"keys": [{"kty": "oct", "k": "c2hvcnQ"}]}') > 0 AS short;
ALTER EXTENSION crosswalk UPDATE TO '0.7.0';
-- Still verifying with the JWKS secret.
SELECT crosswalk.verify_jwt(:'dee_partner_hs256') ->> 'sub' AS legacy_verifies;
-- The row may be re-registered with the JWKS unchanged...
SELECT crosswalk.register_platform('partner', audience => 'partner-db') > 0 AS reregistered;
SELECT crosswalk.register_platform('partner', 'https://login.partner.example') > 0 AS reregistered;
UPDATE crosswalk.platform SET audience = NULL WHERE name = 'partner';
-- ... but not given another secret in its JWKS.
SELECT pg_temp.err($$UPDATE crosswalk.platform SET jwks = jsonb_insert(jwks, '{keys,0}', '{"kty": "oct", "kid": "more", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}') WHERE name = 'partner'$$);
SELECT crosswalk.move_platform_secrets('partner') AS moved;
SELECT jwks IS NULL AS secret_left_the_jwks FROM crosswalk.platform WHERE name = 'partner';
SELECT platform, kid, alg FROM crosswalk.platform_secrets;
SELECT crosswalk.verify_jwt(:'dee_partner_hs256') ->> 'sub' AS moved_verifies;
SELECT crosswalk.move_platform_secrets('partner') AS nothing_left_to_move;
-- A secret too short to verify anything is not moved: the error names it.
SELECT pg_temp.err($$SELECT crosswalk.move_platform_secrets('short')$$);
SELECT crosswalk.drop_platform_secret('short') AS dropped_from_jwks;
SELECT jwks IS NULL AS short_jwks_gone FROM crosswalk.platform WHERE name = 'short';
-- Replaced after the move (as it should be: the old secret sat in clear in
-- the WAL and in backups): the old tokens fail.
SELECT crosswalk.set_platform_secret('partner', decode(repeat('5a', 32), 'hex'), 'pt-hs');
SELECT pg_temp.err(format('SELECT crosswalk.verify_jwt(%L)', :'dee_partner_hs256'));

-- A legacy JWKS secret and a stored one of the same kid: the stored one
-- replaces the JWKS key (which leaves the JWKS).
\c crosswalk_sso_secret
DROP DATABASE crosswalk_sso_legacy;
CREATE DATABASE crosswalk_sso_legacy;
\c crosswalk_sso_legacy
CREATE EXTENSION crosswalk VERSION '0.6.0';
SELECT crosswalk.register_platform('partner', 'https://login.partner.example', NULL, :'partner_jwks') > 0 AS partner;
ALTER EXTENSION crosswalk UPDATE;
SELECT crosswalk.set_platform_secret('partner', :'partner_secret', 'pt-hs');
SELECT jwks IS NULL AS jwks_key_replaced FROM crosswalk.platform WHERE name = 'partner';
SELECT crosswalk.verify_jwt(:'dee_partner_hs256') ->> 'sub' AS verifies;

\c crosswalk_regress
DROP DATABASE crosswalk_sso_legacy;
DROP DATABASE crosswalk_sso_secret;
DROP ROLE secret_admin, secret_reader;
