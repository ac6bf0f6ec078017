-- Encrypted columns: keys, encrypt/decrypt, rotation, grants, blind indexes,
-- match keys, shredding and forget, and what each does with bad input.
-- (The suite's server has crosswalk.master_key_file set to a test key.)
-- Runs q and shows its error with random ids replaced by <id> (and, when
-- mask is set, quoted random ciphertext by <random>).
CREATE FUNCTION pg_temp.err(q text, mask boolean DEFAULT false) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
  msg text;
BEGIN
  EXECUTE q;
  RETURN NEXT 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  msg := regexp_replace(SQLSTATE || ': ' || SQLERRM,
                        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
  IF mask THEN
    msg := regexp_replace(msg, '"cw1:[A-Za-z0-9_-]+"', '"cw1:<random>"', 'g');
  END IF;
  RETURN NEXT msg;
  IF hint <> '' THEN
    RETURN NEXT 'HINT: ' || hint;
  END IF;
END $$;
-- The SQLSTATE of a query, or 'ok'.
CREATE FUNCTION pg_temp.state_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE;
END $$;
-- An envelope's bytes as the text form (base64url without padding).
CREATE FUNCTION pg_temp.as_encrypted_text(b bytea) RETURNS text LANGUAGE sql AS $$
  SELECT 'cw1:' || translate(rtrim(replace(encode(b, 'base64'), E'\n', ''), '='), '+/', '-_')
$$;

-- Keys: one randomized, one deterministic.
SELECT crosswalk.create_key('email') IS NOT NULL AS created;
SELECT crosswalk.create_key('email_det', 'aes-256-siv') IS NOT NULL AS created;
SELECT name, algorithm, current_version, owner, shredded_at FROM crosswalk.key ORDER BY name;
-- Wrapped data keys: 1 + 12 + 32 + 16 bytes (GCM), 1 + 12 + 64 + 16 (SIV).
SELECT k.name, v.version, octet_length(v.wrapped) FROM crosswalk.key_version v JOIN crosswalk.key k USING (key_id)
 ORDER BY 1, 2;
SELECT pg_temp.err($$SELECT crosswalk.create_key('email')$$);
SELECT pg_temp.err($$SELECT crosswalk.create_key('bad name')$$);
SELECT pg_temp.err($$SELECT crosswalk.create_key('')$$);
SELECT pg_temp.err($$SELECT crosswalk.create_key('x', 'aes-128-cbc')$$);
SELECT pg_temp.err($$SELECT crosswalk.create_key(NULL)$$);
SELECT pg_temp.err($$SELECT crosswalk.create_key('x', 'aes-256-gcm', '00000000-0000-7000-8000-000000000000')$$);

-- Round trips: text, bytea, empty, multibyte, with and without context.
SELECT crosswalk.decrypt(crosswalk.encrypt('ada@example.org', 'email', 'users.email:1'), 'users.email:1');
SELECT crosswalk.decrypt(crosswalk.encrypt('ada@example.org', 'email'));
SELECT crosswalk.decrypt(crosswalk.encrypt('', 'email', 'c'), 'c') = '' AS empty_text;
SELECT crosswalk.decrypt(crosswalk.encrypt('', 'email_det', 'c'), 'c') = '' AS empty_text_siv;
SELECT crosswalk.decrypt(crosswalk.encrypt('Élise 東京 🙂', 'email_det', 'c'), 'c');
SELECT crosswalk.decrypt_bytea(crosswalk.encrypt('\x00ff00'::bytea, 'email', 'c'), 'c');
SELECT crosswalk.decrypt_bytea(crosswalk.encrypt(''::bytea, 'email_det')) = ''::bytea AS empty_bytea;
SELECT crosswalk.decrypt(crosswalk.encrypt(repeat('long ', 100000), 'email', 'c'), 'c') = repeat('long ', 100000) AS long_value;
-- NULL in, NULL out.
SELECT crosswalk.encrypt(NULL::text, 'email') IS NULL, crosswalk.decrypt(NULL) IS NULL,
       crosswalk.encrypt('x', NULL) IS NULL, crosswalk.decrypt(crosswalk.encrypt('x', 'email'), NULL) IS NULL;

-- The text form: prefix, ASCII, never the plaintext, accepted back by input.
CREATE TEMP TABLE v AS
  SELECT crosswalk.encrypt('ada@example.org', 'email', 'ctx') AS gcm,
         crosswalk.encrypt('ada@example.org', 'email_det', 'ctx') AS siv;
SELECT left(gcm::text, 4) AS prefix, gcm::text ~ '^cw1:[A-Za-z0-9_-]+$' AS ascii_base64url,
       strpos(gcm::text, 'ada') = 0 AS no_plaintext, length(gcm::text) AS text_length,
       octet_length(crosswalk.encrypted_send(gcm)) AS envelope_bytes FROM v;
SELECT length(siv::text) AS siv_text_length, octet_length(crosswalk.encrypted_send(siv)) AS siv_envelope_bytes FROM v;
SELECT gcm::text::crosswalk.encrypted = gcm AS text_round_trip, crosswalk.decrypt(gcm::text::crosswalk.encrypted, 'ctx')
  FROM v;
SELECT crosswalk.key_version_of(gcm), crosswalk.key_id_of(gcm) = (SELECT key_id FROM crosswalk.key WHERE name = 'email')
  FROM v;
-- GCM is randomized; SIV is deterministic for the same key, version and context.
SELECT crosswalk.encrypt('same', 'email') <> crosswalk.encrypt('same', 'email') AS gcm_randomized,
       crosswalk.encrypt('same', 'email_det', 'c') = crosswalk.encrypt('same', 'email_det', 'c') AS siv_deterministic,
       crosswalk.encrypt('same', 'email_det', 'c') <> crosswalk.encrypt('same', 'email_det', 'd') AS siv_context_bound,
       crosswalk.encrypt('same', 'email_det', 'c') <> crosswalk.encrypt('other', 'email_det', 'c') AS siv_distinct;

-- Wrong context: an error, never garbage.
SELECT pg_temp.err($$SELECT crosswalk.decrypt(gcm, 'other') FROM v$$);
SELECT pg_temp.err($$SELECT crosswalk.decrypt(gcm) FROM v$$);
SELECT pg_temp.err($$SELECT crosswalk.decrypt(siv, 'ctx ') FROM v$$);
-- Decrypting bytes that are not text in the database encoding.
SELECT pg_temp.err($$SELECT crosswalk.decrypt(crosswalk.encrypt('\xff00'::bytea, 'email'))$$);

-- Every byte of a GCM and a SIV envelope flipped in turn: each one refused
-- (by input, or by decrypt), none decrypted. Grouped by SQLSTATE.
CREATE TEMP TABLE flips AS
  SELECT alg, i, pg_temp.state_of(format('SELECT crosswalk.decrypt(%L::crosswalk.encrypted, %L)',
           pg_temp.as_encrypted_text(set_byte(b, i, get_byte(b, i) # 1)), 'ctx')) AS outcome
    FROM (SELECT 'gcm' AS alg, crosswalk.encrypted_send(gcm) AS b FROM v
          UNION ALL SELECT 'siv', crosswalk.encrypted_send(siv) FROM v) e,
         generate_series(0, octet_length(b) - 1) i;
SELECT alg, outcome, count(*), min(i), max(i) FROM flips GROUP BY 1, 2 ORDER BY 1, 2;
-- Every truncation of the envelope is refused: by input while it is shorter
-- than header + nonce + tag (50 bytes GCM, 38 SIV), by decrypt after that.
SELECT alg, pg_temp.state_of(format('SELECT crosswalk.decrypt(%L::crosswalk.encrypted, %L)',
                                    pg_temp.as_encrypted_text(substring(b FROM 1 FOR n)), 'ctx')) AS outcome,
       count(*) AS truncations, min(n) AS shortest, max(n) AS longest
  FROM (SELECT 'gcm' AS alg, crosswalk.encrypted_send(gcm) AS b FROM v
        UNION ALL SELECT 'siv', crosswalk.encrypted_send(siv) FROM v) e,
       generate_series(0, octet_length(b) - 1) n
 GROUP BY 1, 2 ORDER BY 1, 2;

-- Bad text input: 22P02 with a bounded quote of the input.
SELECT pg_temp.err($$SELECT 'hello'::crosswalk.encrypted$$);
SELECT pg_temp.err($$SELECT ''::crosswalk.encrypted$$);
SELECT pg_temp.err($$SELECT 'cw1:'::crosswalk.encrypted$$);
SELECT pg_temp.err($$SELECT 'cw1:!!!!'::crosswalk.encrypted$$);
SELECT pg_temp.err($$SELECT 'cw1:AQ='::crosswalk.encrypted$$);
SELECT pg_temp.err($$SELECT ('cw1:' || repeat('A', 10000))::crosswalk.encrypted$$);
SELECT pg_temp.err(format('SELECT %L::crosswalk.encrypted',
                          pg_temp.as_encrypted_text('\x02'::bytea || substring(crosswalk.encrypted_send(gcm) FROM 2))),
                   true)
  FROM v;
SELECT pg_temp.err(format('SELECT %L::crosswalk.encrypted',
                          pg_temp.as_encrypted_text('\x0103'::bytea || substring(crosswalk.encrypted_send(gcm) FROM 3))),
                   true)
  FROM v;

-- Unknown key.
SELECT pg_temp.err($$SELECT crosswalk.encrypt('x', 'nope')$$);

-- Rotation: new values under version 2, old ones still decrypt, reencrypt
-- moves them (and leaves a value already there unchanged).
SELECT crosswalk.rotate_key('email') AS new_version;
SELECT crosswalk.key_version_of(crosswalk.encrypt('x', 'email')) AS new_values_use;
SELECT crosswalk.decrypt(gcm, 'ctx') AS old_still_decrypts FROM v;
SELECT crosswalk.key_version_of(crosswalk.reencrypt(gcm, 'ctx')) AS reencrypted_to,
       crosswalk.decrypt(crosswalk.reencrypt(gcm, 'ctx'), 'ctx') AS reencrypted_value FROM v;
SELECT crosswalk.reencrypt(crosswalk.reencrypt(gcm, 'ctx'), 'ctx') IS NOT NULL AS idempotent FROM v;
WITH r AS (SELECT crosswalk.reencrypt(gcm, 'ctx') AS x FROM v)
SELECT crosswalk.reencrypt(x, 'ctx') = x AS unchanged_when_current FROM r;
SELECT pg_temp.err($$SELECT crosswalk.reencrypt(gcm, 'wrong') FROM v$$);
SELECT pg_temp.err($$SELECT crosswalk.rotate_key('nope')$$);

-- Deterministic column: a unique index and an index lookup.
CREATE TABLE people (id int PRIMARY KEY, email crosswalk.encrypted NOT NULL UNIQUE);
INSERT INTO people SELECT i, crosswalk.encrypt('user' || i || '@example.org', 'email_det', 'people.email')
  FROM generate_series(1, 200) i;
SELECT pg_temp.err($$INSERT INTO people VALUES (999, crosswalk.encrypt('user7@example.org', 'email_det', 'people.email'))$$);
SELECT id FROM people WHERE email = (SELECT crosswalk.encrypt('user42@example.org', 'email_det', 'people.email'));
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM people WHERE email = (SELECT crosswalk.encrypt('user42@example.org', 'email_det', 'people.email'));
RESET enable_seqscan;

-- Blind indexes: equal for equal values, per key, unchanged by rotation.
SELECT octet_length(crosswalk.blind_index('ada@example.org', 'email')) AS bytes,
       crosswalk.blind_index('ada@example.org', 'email') = crosswalk.blind_index('ada@example.org', 'email') AS stable,
       crosswalk.blind_index('ada@example.org', 'email') <> crosswalk.blind_index('bob@example.org', 'email') AS distinct_values,
       crosswalk.blind_index('ada@example.org', 'email') <> crosswalk.blind_index('ada@example.org', 'email_det') AS per_key;
CREATE TEMP TABLE bi AS SELECT crosswalk.blind_index('ada@example.org', 'email') AS before;
SELECT crosswalk.rotate_key('email') AS rotated_again;
SELECT before = crosswalk.blind_index('ada@example.org', 'email') AS survives_rotation FROM bi;

-- match_key: normalised, kind-separated, 32 bytes.
SELECT octet_length(crosswalk.match_key('ada@example.org')) AS bytes,
       crosswalk.match_key('  Ada@Example.ORG ') = crosswalk.match_key('ada@example.org') AS email_normalised,
       crosswalk.match_key('+33 6 12-34-56-78', 'phone') = crosswalk.match_key('33612345678', 'phone') AS phone_normalised,
       crosswalk.match_key('33612345678', 'phone') <> crosswalk.match_key('33612345678', 'email') AS kinds_separate,
       crosswalk.match_key('ada@example.org') <> crosswalk.match_key('bob@example.org') AS distinct_values;
-- Known answer for the suite's test master key (computed with Python's
-- hmac/hashlib, see tests/unit/key_hierarchy_test.cpp).
SELECT encode(crosswalk.match_key('ADA@example.org '), 'hex');
SELECT pg_temp.err($$SELECT crosswalk.match_key('   ')$$);
SELECT pg_temp.err($$SELECT crosswalk.match_key('n/a', 'phone')$$);
SELECT pg_temp.err($$SELECT crosswalk.match_key('x', 'ssn')$$);

-- Grants: a role without one gets 42501; with one it can use the key; a
-- revoke takes it back. Members of crosswalk_admin use every key.
CREATE ROLE cw_app LOGIN;
CREATE ROLE cw_other LOGIN;
CREATE ROLE cw_keyadmin LOGIN IN ROLE crosswalk_admin;
GRANT SELECT ON v TO cw_app, cw_other;
SET ROLE cw_app;
SELECT pg_temp.err($$SELECT crosswalk.decrypt(gcm, 'ctx') FROM v$$);
SELECT pg_temp.err($$SELECT crosswalk.encrypt('x', 'email')$$);
SELECT pg_temp.err($$SELECT crosswalk.blind_index('x', 'email')$$);
SELECT pg_temp.err($$SELECT crosswalk.create_key('mine')$$);
SELECT pg_temp.err($$SELECT crosswalk.grant_decrypt('email', 'cw_app')$$);
SELECT pg_temp.err($$SELECT crosswalk.match_key('x')$$);
SELECT pg_temp.err($$SELECT count(*) FROM crosswalk.key_version$$);
SELECT pg_temp.err($$SELECT count(*) FROM crosswalk.key$$);
RESET ROLE;
SET ROLE cw_keyadmin;
SELECT crosswalk.grant_decrypt('email', 'cw_app');
SELECT crosswalk.grant_decrypt('email', 'cw_app');  -- idempotent
SELECT pg_temp.err($$SELECT count(*) FROM crosswalk.key_version$$);
SELECT count(*) AS admin_reads_grants FROM crosswalk.key_grant;
RESET ROLE;
SET ROLE cw_app;
SELECT crosswalk.decrypt(gcm, 'ctx') AS granted_decrypts FROM v;
SELECT crosswalk.decrypt(crosswalk.encrypt('mine', 'email')) AS granted_encrypts;
SELECT pg_temp.err($$SELECT crosswalk.decrypt(siv, 'ctx') FROM v$$);
RESET ROLE;
SET ROLE cw_other;
SELECT pg_temp.err($$SELECT crosswalk.decrypt(gcm, 'ctx') FROM v$$);
RESET ROLE;
SELECT crosswalk.revoke_decrypt('email', 'cw_app');
SET ROLE cw_app;
SELECT pg_temp.err($$SELECT crosswalk.decrypt(gcm, 'ctx') FROM v$$);
RESET ROLE;
SELECT pg_temp.err($$SELECT crosswalk.grant_decrypt('email', NULL)$$);
SELECT pg_temp.err($$SELECT crosswalk.grant_decrypt('nope', 'cw_app')$$);

-- Parameters that the server would log are refused for plaintext inputs.
SET log_statement = 'all';
SELECT pg_temp.err($$SELECT crosswalk.encrypt('x', 'email')$$);
SET log_parameter_max_length = 0;
SELECT crosswalk.decrypt(crosswalk.encrypt('x', 'email')) AS logged_without_parameters;
RESET log_statement;
RESET log_parameter_max_length;
SET log_parameter_max_length_on_error = 64;
SELECT pg_temp.err($$SELECT crosswalk.match_key('x')$$);
RESET log_parameter_max_length_on_error;

-- Shredding: the key's values no longer decrypt, nothing encrypts under it,
-- and its wrapped data keys are gone.
CREATE TEMP TABLE doomed AS SELECT crosswalk.encrypt('bye', 'email_det', 'c') AS x;
SELECT crosswalk.shred_key('email_det');
SELECT pg_temp.err($$SELECT crosswalk.decrypt(x, 'c') FROM doomed$$);
SELECT pg_temp.err($$SELECT crosswalk.encrypt('x', 'email_det')$$);
SELECT pg_temp.err($$SELECT crosswalk.rotate_key('email_det')$$);
SELECT crosswalk.shred_key('email_det');  -- idempotent
SELECT count(*) AS wrapped_keys_left FROM crosswalk.key_version v JOIN crosswalk.key k USING (key_id)
 WHERE k.name = 'email_det';
SELECT shredded_at IS NOT NULL AS shredded FROM crosswalk.key WHERE name = 'email_det';

-- forget(person): shreds the person's keys and removes their links.
SELECT crosswalk.register_platform('forgetful') IS NOT NULL AS registered;
CREATE TEMP TABLE fp AS SELECT crosswalk.link('forgetful', 'u1') AS person;
SELECT crosswalk.link('skillpath', 'forget-me', (SELECT person FROM fp)) = (SELECT person FROM fp) AS linked;
SELECT crosswalk.create_key('person:u1', 'aes-256-gcm', (SELECT person FROM fp)) IS NOT NULL AS owned_key;
CREATE TEMP TABLE fv AS SELECT crosswalk.encrypt('my address', 'person:u1', 'profile') AS x;
SELECT crosswalk.decrypt(x, 'profile') AS before_forget FROM fv;
SELECT crosswalk.forget((SELECT person FROM fp));
SELECT pg_temp.err($$SELECT crosswalk.decrypt(x, 'profile') FROM fv$$);
SELECT count(*) AS links_left FROM crosswalk.account WHERE person = (SELECT person FROM fp);
SELECT crosswalk.resolve('forgetful', 'u1') IS NULL AS unresolvable;
SELECT (SELECT count(*) FROM crosswalk.key WHERE name = 'email' AND shredded_at IS NULL) AS other_keys_untouched;
SELECT pg_temp.err($$SELECT crosswalk.forget('00000000-0000-7000-8000-000000000000')$$);
SELECT pg_temp.err($$SELECT crosswalk.forget(NULL)$$);

-- The key cache of a call site (fn_extra: one per expression, kept for a
-- whole scan) follows everything the backend's key cache follows. Rows under
-- two keys and two versions, interleaved, through one decrypt() call site:
SELECT crosswalk.create_key('site_a') IS NOT NULL AS a, crosswalk.create_key('site_b', 'aes-256-siv') IS NOT NULL AS b;
CREATE TEMP TABLE mixed (n int, x crosswalk.encrypted);
INSERT INTO mixed VALUES (1, crosswalk.encrypt('a1', 'site_a')), (2, crosswalk.encrypt('b1', 'site_b'));
SELECT crosswalk.rotate_key('site_a');
INSERT INTO mixed VALUES (3, crosswalk.encrypt('a2', 'site_a')), (4, crosswalk.encrypt('b2', 'site_b'));
INSERT INTO mixed SELECT 5, x FROM mixed WHERE n = 1;
SELECT n, crosswalk.key_version_of(x) AS version, crosswalk.decrypt(x) FROM mixed ORDER BY n;
-- One encrypt() call site, the key name changing from row to row; a name
-- that is a prefix of the cached one is a different (unknown) key.
SELECT n, crosswalk.key_id_of(crosswalk.encrypt('p', k)) = (SELECT key_id FROM crosswalk.key WHERE name = k) AS right_key
  FROM (VALUES (1, 'site_a'), (2, 'site_b'), (3, 'site_a')) v(n, k) ORDER BY n;
SELECT pg_temp.err($$SELECT crosswalk.encrypt('p', k) FROM (VALUES (1, 'site_a'), (2, 'site_')) v(n, k) ORDER BY n$$);
-- plpgsql keeps a simple expression's state, and so its call sites, for the
-- whole transaction: the same call site is used by the statements below.
CREATE FUNCTION pg_temp.dec(v crosswalk.encrypted) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN crosswalk.decrypt(v);
END $$;
CREATE FUNCTION pg_temp.enc(p text, k text) RETURNS crosswalk.encrypted LANGUAGE plpgsql AS $$
BEGIN
  RETURN crosswalk.encrypt(p, k);
END $$;
GRANT SELECT ON mixed TO cw_other;
-- Another current user at a warm call site is checked again (one
-- transaction each: the failure's rollback would reset every call site).
BEGIN;
SELECT pg_temp.dec(x) AS as_superuser FROM mixed WHERE n = 1;
SET LOCAL ROLE cw_other;
SELECT pg_temp.err($$SELECT pg_temp.dec(x) FROM mixed WHERE n = 1$$);
ROLLBACK;
BEGIN;
SELECT crosswalk.key_version_of(pg_temp.enc('p', 'site_a')) AS as_superuser;
SET LOCAL ROLE cw_other;
SELECT pg_temp.err($$SELECT pg_temp.enc('p', 'site_a')$$);
ROLLBACK;
BEGIN;
-- A rotation by this session: the warm encrypt() call site takes the new version.
SELECT crosswalk.key_version_of(pg_temp.enc('p', 'site_a')) AS before_rotation;
SELECT crosswalk.rotate_key('site_a');
SELECT crosswalk.key_version_of(pg_temp.enc('p', 'site_a')) AS after_rotation;
-- A shred by this session: the warm decrypt() call site refuses.
SAVEPOINT before_shred;
SELECT pg_temp.dec(x) AS before_shred FROM mixed WHERE n = 1;
SELECT crosswalk.shred_key('site_a');
SELECT pg_temp.err($$SELECT pg_temp.dec(x) FROM mixed WHERE n = 1$$);
-- Rolled back: the key is back, at version 3.
ROLLBACK TO SAVEPOINT before_shred;
SELECT pg_temp.dec(x) AS after_rollback FROM mixed WHERE n = 1;
SELECT crosswalk.key_version_of(pg_temp.enc('p', 'site_a')) AS after_rollback;
ROLLBACK;
SELECT crosswalk.key_version_of(pg_temp.enc('p', 'site_a')) AS after_rotation_rolled_back;
DROP TABLE mixed;

DROP TABLE people;
DROP OWNED BY cw_app, cw_other, cw_keyadmin;
DROP ROLE cw_app, cw_other, cw_keyadmin;
