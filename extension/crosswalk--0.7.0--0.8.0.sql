-- crosswalk 0.8.0: faster ledger appends and verification, same chain.
-- record() is C++: it checks the entry, canonicalizes the payload straight
-- from jsonb and prepares the insert before it takes the chain lock, then
-- chains and inserts the row itself (the chaining trigger passes exactly that
-- row through, and still chains every row inserted any other way).
-- verify_ledger() is C++: one pass through the primary key, no per-row SQL.
-- Hashes, error codes and messages are those of 0.7.0, except that a purchase
-- or refund without an "amount" is refused (0.7.0 let it through), an append
-- from a REPEATABLE READ snapshot chains onto the real tip (0.7.0 failed with
-- a duplicate seq), and verify_ledger() names an entry it cannot encode
-- instead of raising the encoding error.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

CREATE OR REPLACE FUNCTION crosswalk.record(kind text, person crosswalk.canonical_id, platform text, payload jsonb)
RETURNS bigint
  AS 'MODULE_PATHNAME', 'ledger_record'
  LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION crosswalk.verify_ledger(OUT ok boolean, OUT first_bad bigint)
  AS 'MODULE_PATHNAME', 'verify_ledger'
  LANGUAGE C STABLE;
