-- The ledger: record, chaining, append-only, verification, purchases.
CREATE FUNCTION pg_temp.err(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  EXECUTE q;
  RETURN NEXT 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN NEXT regexp_replace(SQLSTATE || ': ' || SQLERRM,
                             '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
  IF hint <> '' THEN RETURN NEXT 'HINT: ' || hint; END IF;
END $$;

-- canonical_json: RFC 8785 whatever the jsonb layout.
SELECT crosswalk.canonical_json('{"b": [1.0, 2e0, "x\u0001"], "a": {"y": null, "x": 1e30}}');
SELECT crosswalk.canonical_json('{"amount": 19.990, "n": 0.000001, "m": 1e-7}');
SELECT pg_temp.err($$SELECT crosswalk.canonical_json('[1e400]')$$);

-- Two people, purchases on two platforms.
CREATE TEMP TABLE who AS
  SELECT crosswalk.link('learnhub', 'ledger-ann') AS ann, crosswalk.link('learnhub', 'ledger-ben') AS ben;
SELECT crosswalk.link('skillpath', 'ledger-ann-sp', (SELECT ann FROM who)) = (SELECT ann FROM who) AS ann_on_skillpath;
-- Payment references are kept only as ciphertext (the suite's server has a
-- test master key).
SELECT crosswalk.create_key('ledger-payments') IS NOT NULL AS payments_key;
SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                        jsonb_build_object('product', 'sql-101', 'amount', '19.99', 'currency', 'EUR',
                                           'reference', crosswalk.encrypt('pay_1', 'ledger-payments', 'ledger:reference')::text)) AS seq;
SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'skillpath',
                        '{"product": "stats-110", "amount": 49, "currency": "EUR"}') AS seq;
SELECT crosswalk.record('purchase', (SELECT ben FROM who), 'learnhub',
                        '{"product": "rust-201", "amount": "99.00", "currency": "USD"}') AS seq;
SELECT crosswalk.record('refund', (SELECT ann FROM who), 'learnhub',
                        '{"product": "sql-101", "amount": "19.99", "currency": "EUR"}') AS seq;
SELECT crosswalk.record('transfer', (SELECT ann FROM who), 'learnhub',
                        '{"product": "stats-110", "from_platform": "skillpath", "to_platform": "learnhub"}') AS seq;

-- The chain: seq 1..5, each prev_hash the previous hash, the first the zero hash.
SELECT seq, kind, platform,
       prev_hash = coalesce(lag(hash) OVER (ORDER BY seq), ('\x' || repeat('00', 32))::bytea) AS chained,
       hash = crosswalk.ledger_entry_hash(prev_hash, seq, recorded_at, kind, person, platform, payload) AS hash_ok,
       octet_length(hash) AS hash_bytes
  FROM crosswalk.ledger ORDER BY seq;
-- The hash is SHA-256 over prev_hash and the canonical entry: recompute it
-- here with pgcrypto-free SQL (sha256 is built in) from the documented encoding.
SELECT hash = sha256(prev_hash || convert_to(
         format('{"kind":%s,"payload":%s,"person":"%s","platform":%s,"recorded_at":"%s","seq":%s}',
                to_jsonb(kind), crosswalk.canonical_json(payload), person, to_jsonb(platform),
                to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), seq), 'UTF8'))
         AS documented_encoding
  FROM crosswalk.ledger ORDER BY seq;
SELECT * FROM crosswalk.verify_ledger();

-- A person's purchases on every platform; refunds are negative.
SELECT seq, kind, platform, product, amount, currency, from_platform, to_platform,
       crosswalk.decrypt(reference, 'ledger:reference') AS reference
  FROM crosswalk.purchases((SELECT ann FROM who));
SELECT pg_typeof(reference) FROM crosswalk.purchases((SELECT ann FROM who)) LIMIT 1;
SELECT position('pay_1' in payload::text) AS plaintext_in_ledger FROM crosswalk.ledger WHERE seq = 1;
SELECT count(*) AS ben_entries FROM crosswalk.purchases((SELECT ben FROM who));
-- After a merge, the survivor's view includes the absorbed identity's entries,
-- asked for by either id.
SELECT crosswalk.unlink('learnhub', 'ledger-ben');
SELECT crosswalk.merge((SELECT ann FROM who), (SELECT ben FROM who)) = (SELECT ann FROM who) AS merged;
SELECT count(*) AS ann_entries_after_merge FROM crosswalk.purchases((SELECT ann FROM who));
SELECT count(*) AS via_absorbed_id FROM crosswalk.purchases((SELECT ben FROM who));
-- New entries for the absorbed id are recorded under the survivor.
SELECT crosswalk.record('purchase', (SELECT ben FROM who), 'skillpath',
                        '{"product": "go-101", "amount": "5", "currency": "EUR"}') AS seq;
SELECT person = (SELECT ann FROM who) AS recorded_under_survivor FROM crosswalk.ledger WHERE seq = 6;

-- Bad input: clear errors, and the chain stays whole.
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub', '[1, 2]')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub', '"x"')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', NULL, 'learnhub', '{}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('gift', (SELECT ann FROM who), 'learnhub', '{}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'nowhere', '{}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', '00000000-0000-7000-8000-000000000000', 'learnhub', '{}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub', '{"product": "x"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": "-5", "currency": "EUR"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": "5", "currency": "euro"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('transfer', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "from_platform": "learnhub", "to_platform": "nowhere"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub',
                                             jsonb_build_object('blob', repeat('x', 70000)))$$);
SELECT pg_temp.err($$SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"n": 1e400}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": "5", "currency": "EUR", "reference": "pay_2"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": "5", "currency": "EUR", "reference": "cw1:AAAA"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": "5", "currency": "EUR", "reference": 12345}')$$);
SELECT count(*) AS entries, max(seq) AS tip FROM crosswalk.ledger;

-- Signed checkpoints: the platform vouches for its tip with an Ed25519 key
-- whose seed is stored only wrapped by the master key.
SELECT octet_length(crosswalk.create_signing_key('learnhub-ledger')) AS public_key_bytes;
SELECT pg_temp.err($$SELECT crosswalk.create_signing_key('learnhub-ledger')$$);
SELECT pg_temp.err($$SELECT crosswalk.create_signing_key('bad name')$$);
SELECT octet_length(wrapped_seed) AS wrapped_bytes FROM crosswalk.signing_key;
CREATE TEMP TABLE cp AS SELECT * FROM crosswalk.ledger_checkpoint('learnhub-ledger');
SELECT seq, key_name, tip_hash = (SELECT hash FROM crosswalk.ledger WHERE seq = cp.seq) AS signs_the_tip,
       octet_length(signature) AS signature_bytes FROM cp;
SELECT crosswalk.verify_checkpoint(seq, tip_hash, signature, public_key) AS verifies FROM cp;
-- A wrong hash, seq, signature or key does not verify.
SELECT crosswalk.verify_checkpoint(seq, sha256(tip_hash), signature, public_key) AS other_hash,
       crosswalk.verify_checkpoint(seq - 1, tip_hash, signature, public_key) AS other_seq,
       crosswalk.verify_checkpoint(seq, tip_hash, set_byte(signature, 0, get_byte(signature, 0) # 1), public_key) AS flipped_signature,
       crosswalk.verify_checkpoint(seq, tip_hash, signature, set_byte(public_key, 5, get_byte(public_key, 5) # 1)) AS other_key,
       crosswalk.verify_checkpoint_signature(seq, tip_hash, substr(signature, 1, 63), public_key) AS short_signature
  FROM cp;
SELECT pg_temp.err($$SELECT crosswalk.verify_checkpoint_signature(1, '\x00', '\x00', '\x00')$$);
SELECT pg_temp.err($$SELECT crosswalk.ledger_checkpoint('nobody')$$);
-- Checkpointing the same tip again keeps the one checkpoint.
SELECT count(*) FROM (SELECT crosswalk.ledger_checkpoint('learnhub-ledger')) x;
SELECT count(*) AS checkpoints FROM crosswalk.ledger_checkpoint;

-- An administrator extends the kinds.
INSERT INTO crosswalk.ledger_kind VALUES ('gift', 'a course given to a learner');
SELECT crosswalk.record('gift', (SELECT ann FROM who), 'learnhub', '{"product": "sql-101"}') AS seq;
SELECT pg_temp.err($$INSERT INTO crosswalk.ledger_kind VALUES ('Bad Kind')$$);

-- Append-only: UPDATE, DELETE and TRUNCATE are refused, even for a superuser.
UPDATE crosswalk.ledger SET payload = '{"product": "free"}' WHERE seq = 1;
DELETE FROM crosswalk.ledger WHERE seq = 7;
TRUNCATE crosswalk.ledger;
-- Rows inserted by hand are chained and checked like record()'s.
SELECT pg_temp.err($$INSERT INTO crosswalk.ledger (seq, kind, person, platform, payload)
                     VALUES (3, 'link', (SELECT ann FROM who), 'learnhub', '{}')$$);
SELECT pg_temp.err($$INSERT INTO crosswalk.ledger (kind, person, platform, payload, prev_hash)
                     VALUES ('link', (SELECT ann FROM who), 'learnhub', '{}', ('\x' || repeat('11', 32))::bytea)$$);
SELECT pg_temp.err($$INSERT INTO crosswalk.ledger (kind, person, platform, payload, hash)
                     VALUES ('link', (SELECT ann FROM who), 'learnhub', '{}', ('\x' || repeat('22', 32))::bytea)$$);
SELECT * FROM crosswalk.verify_ledger();

-- Tampering with the triggers disabled is found, and named.
ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;
UPDATE crosswalk.ledger SET payload = jsonb_set(payload, '{amount}', '"0.99"') WHERE seq = 3;
SELECT * FROM crosswalk.verify_ledger();
UPDATE crosswalk.ledger SET payload = jsonb_set(payload, '{amount}', '"99.00"') WHERE seq = 3;
SELECT * FROM crosswalk.verify_ledger();
-- A re-ordered key layout in the payload is not tampering: same canonical form.
UPDATE crosswalk.ledger SET payload = '{"currency": "USD", "amount": "99.00", "product": "rust-201"}' WHERE seq = 3;
SELECT * FROM crosswalk.verify_ledger();
-- Deleting an entry in the middle breaks the chain at the next one.
CREATE TEMP TABLE saved AS SELECT * FROM crosswalk.ledger WHERE seq = 4;
DELETE FROM crosswalk.ledger WHERE seq = 4;
SELECT * FROM crosswalk.verify_ledger();
INSERT INTO crosswalk.ledger SELECT * FROM saved;
SELECT * FROM crosswalk.verify_ledger();
-- Rewriting an entry and its hash breaks the link from the next one.
UPDATE crosswalk.ledger
   SET platform = 'liveclass',
       hash = crosswalk.ledger_entry_hash(prev_hash, seq, recorded_at, kind, person, 'liveclass', payload)
 WHERE seq = 2;
SELECT * FROM crosswalk.verify_ledger();
ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER;

-- 0.8.0: record() and the trigger canonicalize payloads straight from jsonb;
-- canonical_json() still goes through JSON text and the parser. Both must
-- give the same bytes for every value (and fail alike), so every hash below
-- is recomputed from canonical_json() by the documented encoding.
ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;
TRUNCATE crosswalk.ledger;
ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER;
CREATE TEMP TABLE payloads (n int, p jsonb);
INSERT INTO payloads VALUES
  (1, '{}'),
  (2, '{"numbers": [0, -0, 0.0, -0.0, 1, -1, 1.0, 1.5, 0.1, 0.000001, 0.0000001, 1e21, 1e20, 123456789012345678901234567890]}'),
  (3, '{"edges": [9007199254740993, 18446744073709551615, 18446744073709551616, -9223372036854775809, 5e-324, 1e-400, 1.7976931348623157e308]}'),
  (4, '{"decimals": [19.990, 0.30000000000000004, 3.14159265358979323846264338327950288, 100, 1E2, 2.5e-3]}'),
  (5, '{"s": "quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f ctl \u0001 \u001f del \u007f"}'),
  (6, '{"s": "caf\u00e9 \u2028 \u20ac \uffff \ud83d\ude00 \u65e5\u672c"}'),
  -- Member names sort by UTF-16 code units: U+1F600 (a surrogate pair, D83D)
  -- before U+E000 and U+FFFF, unlike in UTF-8 byte order.
  (7, '{"\ue000": 1, "\ud83d\ude00": 2, "\uffff": 3, "z": 4, "a": 5, "A": 6, "": 7, "aa": 8, "\u00e9": 9}'),
  (8, '{"nested": {"b": [true, false, null, {"y": [], "x": {}}], "a": [[[]]]}, "b": null, "a": "x"}'),
  (9, ('{"deep": ' || repeat('[', 255) || repeat(']', 255) || '}')::jsonb),
  (10, ('{"deep": ' || repeat('[', 255) || '1' || repeat(']', 255) || '}')::jsonb);
CREATE TEMP TABLE appended AS
  SELECT n, crosswalk.record('link', (SELECT ann FROM who), 'learnhub', p) AS s FROM payloads ORDER BY n;
SELECT n, hash = sha256(prev_hash || convert_to(
         format('{"kind":%s,"payload":%s,"person":"%s","platform":%s,"recorded_at":"%s","seq":%s}',
                to_jsonb(kind), crosswalk.canonical_json(payload), person, to_jsonb(platform),
                to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), seq), 'UTF8'))
         AS same_as_text_path
  FROM appended JOIN crosswalk.ledger l ON l.seq = appended.s ORDER BY n;
SELECT crosswalk.canonical_json(p) FROM payloads WHERE n IN (3, 7);
SELECT * FROM crosswalk.verify_ledger();
-- Nesting: 256 levels are fine, 257 are not, in both paths, with one message.
SELECT pg_temp.err($$SELECT crosswalk.canonical_json(('{"deep": ' || repeat('[', 256) || repeat(']', 256) || '}')::jsonb)$$);
SELECT pg_temp.err($$SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub',
                                             ('{"deep": ' || repeat('[', 256) || repeat(']', 256) || '}')::jsonb)$$);
SELECT pg_temp.err($$SELECT crosswalk.canonical_json(('{"deep": ' || repeat('[', 256) || '1' || repeat(']', 256) || '}')::jsonb)$$);
SELECT pg_temp.err($$SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub',
                                             ('{"deep": ' || repeat('[', 256) || '1' || repeat(']', 256) || '}')::jsonb)$$);
SELECT pg_temp.err($$SELECT crosswalk.ledger_entry_hash(('\x' || repeat('00', 32))::bytea, 1, now(), 'link',
                                                        (SELECT ann FROM who), 'learnhub', '[1]')$$);

-- More bad input for record(): each refused with its SQLSTATE, nothing appended.
SELECT pg_temp.err($$SELECT crosswalk.record(NULL, (SELECT ann FROM who), 'learnhub', '{}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub', NULL)$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub', 'null')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub', '12')$$);
SELECT pg_temp.err($$SELECT crosswalk.record(repeat('é', 150), (SELECT ann FROM who), 'learnhub', '{}')$$);
-- A purchase without an amount (0.7.0 let it through: its NULL checks passed).
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "currency": "EUR"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('refund', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": "5.", "currency": "EUR"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('refund', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "amount": true, "currency": "EUR"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('purchase', (SELECT ann FROM who), 'learnhub',
                                             '{"product": 7, "amount": "5", "currency": "EUR"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('transfer', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "from_platform": 1, "to_platform": "learnhub"}')$$);
SELECT pg_temp.err($$SELECT crosswalk.record('transfer', (SELECT ann FROM who), 'learnhub',
                                             '{"product": "x", "from_platform": "nowhere", "to_platform": "learnhub"}')$$);
SELECT count(*) AS entries FROM crosswalk.ledger;
-- Numbers as amounts are read as SQL's ->> gives them.
SELECT crosswalk.record('refund', (SELECT ann FROM who), 'learnhub', '{"product": "x", "amount": 1E2, "currency": "EUR"}') AS seq;

-- An aborted append leaves no gap: the next one takes its seq.
BEGIN;
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"try": 1}') AS seq;
ROLLBACK;
BEGIN;
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"try": 2}') AS seq;
SAVEPOINT s;
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"try": 3}') AS seq;
ROLLBACK TO SAVEPOINT s;
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"try": 4}') AS seq;
-- Direct INSERTs and record() mix in one transaction, and in one statement.
INSERT INTO crosswalk.ledger (kind, person, platform, payload)
  VALUES ('link', (SELECT ann FROM who), 'learnhub', '{"try": 5}') RETURNING seq;
INSERT INTO crosswalk.ledger (kind, person, platform, payload)
  SELECT 'link', (SELECT ann FROM who), 'learnhub',
         jsonb_build_object('try', 6, 'also', crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"try": 7}'))
  RETURNING seq, payload;
COMMIT;
SELECT seq, payload FROM crosswalk.ledger WHERE payload ? 'try' ORDER BY seq;
SELECT * FROM crosswalk.verify_ledger();

-- record() chains its row itself and the trigger lets exactly that row
-- through: a trigger that changes the row first makes the append fail.
CREATE FUNCTION pg_temp.meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.payload := NEW.payload || '{"meddled": true}';
  RETURN NEW;
END $$;
CREATE TRIGGER a_meddle BEFORE INSERT ON crosswalk.ledger FOR EACH ROW EXECUTE FUNCTION pg_temp.meddle();
SELECT pg_temp.err($$SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{}')$$);
DROP TRIGGER a_meddle ON crosswalk.ledger;

-- record() keeps the ledger's CHECK constraints planned per backend; the plan
-- inlines SQL functions, so a function replaced since must be planned again.
CREATE FUNCTION public.ledger_payload_allowed(p jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
ALTER TABLE crosswalk.ledger ADD CONSTRAINT ledger_payload_allowed CHECK (public.ledger_payload_allowed(payload));
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"blocked": true}') > 0 AS appended_while_allowed;
CREATE OR REPLACE FUNCTION public.ledger_payload_allowed(p jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT NOT (p ? 'blocked') $$;
SELECT pg_temp.err($$SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"blocked": true}')$$);
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{}') > 0 AS appended_without_block;
ALTER TABLE crosswalk.ledger DROP CONSTRAINT ledger_payload_allowed;
DROP FUNCTION public.ledger_payload_allowed(jsonb);
SELECT crosswalk.record('link', (SELECT ann FROM who), 'learnhub', '{"blocked": true}') > 0 AS appended_after_drop;
SELECT ok FROM crosswalk.verify_ledger();

-- verify_ledger() names rows it cannot even encode, rather than failing.
ALTER TABLE crosswalk.ledger DISABLE TRIGGER USER;
CREATE TEMP TABLE kept AS SELECT * FROM crosswalk.ledger WHERE seq = 4;
UPDATE crosswalk.ledger SET payload = '{"n": 1e400}' WHERE seq = 4;
SELECT * FROM crosswalk.verify_ledger();
UPDATE crosswalk.ledger SET payload = (SELECT payload FROM kept), recorded_at = 'infinity' WHERE seq = 4;
SELECT * FROM crosswalk.verify_ledger();
UPDATE crosswalk.ledger SET recorded_at = (SELECT recorded_at FROM kept) WHERE seq = 4;
SELECT * FROM crosswalk.verify_ledger();
-- A chain that does not start at 1 is bad at its first entry.
DELETE FROM crosswalk.ledger WHERE seq = 1;
SELECT * FROM crosswalk.verify_ledger();
ALTER TABLE crosswalk.ledger ENABLE TRIGGER USER;

-- verify_ledger() reads the whole table: a role that may call it but not
-- read the ledger is refused.
CREATE ROLE cw_ledger_caller;
GRANT USAGE ON SCHEMA crosswalk TO cw_ledger_caller;
GRANT EXECUTE ON FUNCTION crosswalk.verify_ledger() TO cw_ledger_caller;
SET ROLE cw_ledger_caller;
SELECT pg_temp.err($$SELECT * FROM crosswalk.verify_ledger()$$);
RESET ROLE;
REVOKE ALL ON FUNCTION crosswalk.verify_ledger() FROM cw_ledger_caller;
REVOKE ALL ON SCHEMA crosswalk FROM cw_ledger_caller;
DROP ROLE cw_ledger_caller;
