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
RESET ROLE;

SET ROLE cw_reader;
SELECT crosswalk.resolve('learnhub', '42') IS NOT NULL AS reader_resolves;
SELECT crosswalk.translate('1000', 'learnhub', 'skillpath') AS reader_translates;
SELECT crosswalk.link('learnhub', 'evil');
INSERT INTO crosswalk.account VALUES (1, 'evil', crosswalk.new_canonical_id());
UPDATE crosswalk.account SET local_id = 'evil' WHERE local_id = '42';
DELETE FROM crosswalk.person;
RESET ROLE;

SET ROLE cw_admin;
SELECT crosswalk.link('learnhub', 'admin-made') IS NOT NULL AS admin_links;
SELECT crosswalk.unlink('learnhub', 'admin-made') AS admin_unlinks;
-- Even the admin changes identities only through the functions.
DELETE FROM crosswalk.account;
UPDATE crosswalk.person SET merged_into = NULL;
RESET ROLE;

-- Functions executable by PUBLIC: only the types' support functions,
-- new_canonical_id(), the pure functions anyone may use to check a ledger
-- copy or a checkpoint (canonical_json, ledger_entry_hash,
-- verify_checkpoint_signature), and the encryption functions
-- (gated by the grant on each key, see encryption.sql).
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'crosswalk'::regnamespace
   AND has_function_privilege('cw_nobody', p.oid, 'EXECUTE')
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
