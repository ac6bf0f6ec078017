-- Who may do what: PUBLIC cannot link, merge or unlink; crosswalk_reader
-- resolves; crosswalk_admin links; every SECURITY DEFINER function pins
-- search_path.
CREATE ROLE cw_nobody LOGIN;
CREATE ROLE cw_reader LOGIN IN ROLE crosswalk_reader;
CREATE ROLE cw_admin LOGIN IN ROLE crosswalk_admin;

SET ROLE cw_nobody;
SELECT crosswalk.new_canonical_id() IS NOT NULL AS anyone_can_make_ids;
SELECT '0190a8c4-5e3b-7cde-8f01-23456789abcd'::crosswalk.canonical_id < crosswalk.new_canonical_id() AS anyone_can_compare;
SELECT crosswalk.link('learnhub', 'evil');
SELECT crosswalk.merge(crosswalk.new_canonical_id(), crosswalk.new_canonical_id());
SELECT crosswalk.unlink('learnhub', '42');
SELECT crosswalk.register_platform('evil');
SELECT crosswalk.resolve('learnhub', '42');
SELECT count(*) FROM crosswalk.account;
-- ...nor append to the ledger, nor read wrapped keys...
SELECT crosswalk.record('purchase', crosswalk.new_canonical_id(), 'learnhub', '{}');
SELECT count(*) FROM crosswalk.key_version;
SELECT count(*) FROM crosswalk.signing_key;
-- ...nor forge the signed-in identity with any setting.
SELECT set_config('crosswalk.current_identity', '0190a8c4-5e3b-7cde-8f01-23456789abcd', false) IS NOT NULL AS set;
SET crosswalk.identity = '0190a8c4-5e3b-7cde-8f01-23456789abcd';
SELECT crosswalk.current_identity() IS NULL AS still_no_identity;
RESET ROLE;

SET ROLE cw_reader;
SELECT crosswalk.resolve('learnhub', '42') IS NOT NULL AS reader_resolves;
SELECT crosswalk.translate('1000', 'learnhub', 'skillpath') AS reader_translates;
SELECT crosswalk.link('learnhub', 'evil');
INSERT INTO crosswalk.account VALUES (1, 'evil', crosswalk.new_canonical_id());
UPDATE crosswalk.account SET local_id = 'evil' WHERE local_id = '42';
DELETE FROM crosswalk.person;
-- Readers see signing keys' public halves, never their wrapped seeds, and no
-- wrapped data key at all.
SELECT count(public_key) AS public_keys_visible FROM crosswalk.signing_key;
SELECT count(wrapped_seed) FROM crosswalk.signing_key;
SELECT count(*) FROM crosswalk.key_version;
SELECT crosswalk.record('purchase', crosswalk.new_canonical_id(), 'learnhub', '{}');
RESET ROLE;

SET ROLE cw_admin;
SELECT crosswalk.link('learnhub', 'admin-made') IS NOT NULL AS admin_links;
SELECT crosswalk.unlink('learnhub', 'admin-made') AS admin_unlinks;
-- Even the admin changes identities only through the functions.
DELETE FROM crosswalk.account;
UPDATE crosswalk.person SET merged_into = NULL;
RESET ROLE;

-- Functions executable by PUBLIC, each with why it may be. Any other
-- function that PUBLIC can execute is listed as unexpected and fails this test.
CREATE TEMP TABLE public_ok (pattern text, why text);
INSERT INTO public_ok VALUES
  ('canonical\_id\_%', 'I/O, comparison and hashing of the canonical_id type'),
  ('encrypted\_%', 'I/O, comparison and hashing of the encrypted type (ciphertext only)'),
  ('new\_canonical\_id', 'makes a random id; touches no data'),
  ('canonical\_json', 'pure: lets anyone recompute a ledger copy''s hashes'),
  ('ledger\_entry\_hash', 'pure: lets anyone recompute a ledger copy''s hashes'),
  ('verify\_checkpoint\_signature', 'pure: checks a signature against a given public key'),
  ('current\_identity', 'returns only the caller''s own transaction identity'),
  ('encrypt', 'gated per key: needs a grant on the key (grant_decrypt) or crosswalk_admin'),
  ('decrypt', 'gated per key: needs a grant on the key or crosswalk_admin'),
  ('decrypt\_bytea', 'gated per key: needs a grant on the key or crosswalk_admin'),
  ('reencrypt', 'gated per key: needs a grant on the key or crosswalk_admin'),
  ('blind\_index', 'gated per key: needs a grant on the key or crosswalk_admin'),
  ('key\_id\_of', 'reads the cleartext header of a ciphertext'),
  ('key\_version\_of', 'reads the cleartext header of a ciphertext');
SELECT o.why, count(*) AS functions
  FROM pg_proc p JOIN public_ok o ON p.proname LIKE o.pattern
 WHERE p.pronamespace = 'crosswalk'::regnamespace
   AND has_function_privilege('cw_nobody', p.oid, 'EXECUTE')
 GROUP BY o.why ORDER BY o.why;
SELECT p.oid::regprocedure AS unexpected_public_function
  FROM pg_proc p
 WHERE p.pronamespace = 'crosswalk'::regnamespace
   AND has_function_privilege('cw_nobody', p.oid, 'EXECUTE')
   AND NOT EXISTS (SELECT FROM public_ok o WHERE p.proname LIKE o.pattern)
 ORDER BY 1;
-- Every SECURITY DEFINER function pins search_path.
SELECT p.proname, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'crosswalk'::regnamespace AND p.prosecdef
 ORDER BY 1;
SELECT count(*) AS definer_without_search_path
  FROM pg_proc p
 WHERE p.pronamespace = 'crosswalk'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);
-- A hostile search_path does not redirect the definer functions: a fake
-- crosswalk-looking table in a schema first on the path is ignored.
CREATE SCHEMA evil;
CREATE TABLE evil.account (platform_id int, local_id text, person text);
GRANT USAGE ON SCHEMA evil TO cw_admin;
SET ROLE cw_admin;
SET search_path = evil, public;
SELECT crosswalk.link('learnhub', 'path-test') IS NOT NULL AS linked;
RESET search_path;
RESET ROLE;
SELECT count(*) AS rows_in_evil FROM evil.account;
SELECT crosswalk.unlink('learnhub', 'path-test');
DROP SCHEMA evil CASCADE;
DROP ROLE cw_nobody, cw_reader, cw_admin;
