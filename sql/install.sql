-- Installs the extension for the rest of the suite and checks what it made.
CREATE EXTENSION crosswalk;
SELECT extname, extversion = (SELECT default_version FROM pg_available_extensions WHERE name = extname) AS newest,
       nspname AS schema, extrelocatable
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'crosswalk';
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'crosswalk%' ORDER BY 1;
-- Installing twice is an error, not a second copy.
CREATE EXTENSION crosswalk;
-- The schema is not relocatable.
ALTER EXTENSION crosswalk SET SCHEMA public;
