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
