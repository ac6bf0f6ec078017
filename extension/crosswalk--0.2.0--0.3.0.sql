-- crosswalk 0.2.0 -> 0.3.0: encrypted columns. The crosswalk.encrypted type,
-- data keys wrapped by a master key kept outside the database, encrypt /
-- decrypt / reencrypt / blind_index with per-key grants, rotation,
-- crypto-shredding (shred_key, forget) and match_key.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

------------------------------------------------------------------------------
-- Type crosswalk.encrypted
------------------------------------------------------------------------------
CREATE TYPE crosswalk.encrypted;

CREATE FUNCTION crosswalk.encrypted_in(cstring) RETURNS crosswalk.encrypted
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crosswalk.encrypted_out(crosswalk.encrypted) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crosswalk.encrypted_recv(internal) RETURNS crosswalk.encrypted
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crosswalk.encrypted_send(crosswalk.encrypted) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE external: ciphertext does not compress, so never try; large values
-- still move out of line.
CREATE TYPE crosswalk.encrypted (
  INPUT = crosswalk.encrypted_in,
  OUTPUT = crosswalk.encrypted_out,
  RECEIVE = crosswalk.encrypted_recv,
  SEND = crosswalk.encrypted_send,
  INTERNALLENGTH = VARIABLE,
  ALIGNMENT = int4,
  STORAGE = external,
  CATEGORY = 'U'
);
COMMENT ON TYPE crosswalk.encrypted IS
  'a ciphertext envelope (format version, algorithm, key id, key version, nonce, ciphertext, tag); text form cw1:base64url';

CREATE FUNCTION crosswalk.encrypted_eq(crosswalk.encrypted, crosswalk.encrypted) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_ne(crosswalk.encrypted, crosswalk.encrypted) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_lt(crosswalk.encrypted, crosswalk.encrypted) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_le(crosswalk.encrypted, crosswalk.encrypted) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_gt(crosswalk.encrypted, crosswalk.encrypted) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_ge(crosswalk.encrypted, crosswalk.encrypted) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_cmp(crosswalk.encrypted, crosswalk.encrypted) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_hash(crosswalk.encrypted) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.encrypted_hash_extended(crosswalk.encrypted, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

-- Bytewise equality and order: with an 'aes-256-siv' key, equal plaintexts
-- (same key version, same context) have equal envelopes, so an encrypted
-- column can carry a unique index or a join. In pg_catalog like the
-- canonical_id operators, so they resolve whatever the search_path.
CREATE OPERATOR pg_catalog.= (
  LEFTARG = crosswalk.encrypted, RIGHTARG = crosswalk.encrypted,
  FUNCTION = crosswalk.encrypted_eq, COMMUTATOR = OPERATOR(pg_catalog.=),
  NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (
  LEFTARG = crosswalk.encrypted, RIGHTARG = crosswalk.encrypted,
  FUNCTION = crosswalk.encrypted_ne, COMMUTATOR = OPERATOR(pg_catalog.<>),
  NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (
  LEFTARG = crosswalk.encrypted, RIGHTARG = crosswalk.encrypted,
  FUNCTION = crosswalk.encrypted_lt, COMMUTATOR = OPERATOR(pg_catalog.>),
  NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (
  LEFTARG = crosswalk.encrypted, RIGHTARG = crosswalk.encrypted,
  FUNCTION = crosswalk.encrypted_le, COMMUTATOR = OPERATOR(pg_catalog.>=),
  NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (
  LEFTARG = crosswalk.encrypted, RIGHTARG = crosswalk.encrypted,
  FUNCTION = crosswalk.encrypted_gt, COMMUTATOR = OPERATOR(pg_catalog.<),
  NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (
  LEFTARG = crosswalk.encrypted, RIGHTARG = crosswalk.encrypted,
  FUNCTION = crosswalk.encrypted_ge, COMMUTATOR = OPERATOR(pg_catalog.<=),
  NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS crosswalk.encrypted_ops
  DEFAULT FOR TYPE crosswalk.encrypted USING btree AS
    OPERATOR 1 pg_catalog.<,
    OPERATOR 2 pg_catalog.<=,
    OPERATOR 3 pg_catalog.=,
    OPERATOR 4 pg_catalog.>=,
    OPERATOR 5 pg_catalog.>,
    FUNCTION 1 crosswalk.encrypted_cmp(crosswalk.encrypted, crosswalk.encrypted);

CREATE OPERATOR CLASS crosswalk.encrypted_hash_ops
  DEFAULT FOR TYPE crosswalk.encrypted USING hash AS
    OPERATOR 1 pg_catalog.=,
    FUNCTION 1 crosswalk.encrypted_hash(crosswalk.encrypted),
    FUNCTION 2 crosswalk.encrypted_hash_extended(crosswalk.encrypted, bigint);

-- The clear-text header of a value: which key and key version it is under.
CREATE FUNCTION crosswalk.key_id_of(crosswalk.encrypted) RETURNS uuid
  AS 'MODULE_PATHNAME', 'encrypted_key_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crosswalk.key_id_of(crosswalk.encrypted) IS 'the id of the key a value is encrypted under';
CREATE FUNCTION crosswalk.key_version_of(crosswalk.encrypted) RETURNS integer
  AS 'MODULE_PATHNAME', 'encrypted_key_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crosswalk.key_version_of(crosswalk.encrypted) IS
  'the key version a value is encrypted under (for rotation in batches)';

------------------------------------------------------------------------------
-- Keys
------------------------------------------------------------------------------
CREATE TABLE crosswalk.key (
  key_id          uuid PRIMARY KEY,
  name            text NOT NULL UNIQUE
                  CONSTRAINT key_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$'),
  algorithm       text NOT NULL CONSTRAINT key_algorithm_known CHECK (algorithm IN ('aes-256-gcm', 'aes-256-siv')),
  owner           crosswalk.canonical_id REFERENCES crosswalk.person (person),
  current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
  -- Bumped by every rotation, grant, revoke and shred: with the row's xmin it
  -- tells each backend's key cache that the key changed.
  generation      bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
  shredded_at     timestamptz
);
CREATE INDEX key_owner_idx ON crosswalk.key (owner) WHERE owner IS NOT NULL;
COMMENT ON TABLE crosswalk.key IS
  'data keys by name; owner makes a key a person''s (shredded by forget); shredded_at is set when destroyed';

CREATE TABLE crosswalk.key_version (
  key_id     uuid NOT NULL REFERENCES crosswalk.key (key_id),
  version    integer NOT NULL CHECK (version >= 1),
  wrapped    bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (key_id, version)
);
COMMENT ON TABLE crosswalk.key_version IS
  'one random data key per key version, only ever stored wrapped (AES-256-GCM) by the master key';

CREATE TABLE crosswalk.key_grant (
  key_id  uuid NOT NULL REFERENCES crosswalk.key (key_id),
  grantee regrole NOT NULL,
  PRIMARY KEY (key_id, grantee)
);
COMMENT ON TABLE crosswalk.key_grant IS 'roles allowed to encrypt and decrypt with a key (grant_decrypt)';

-- Keys are the user's data: pg_dump carries them (wrapped).
SELECT pg_catalog.pg_extension_config_dump('crosswalk.key', '');
SELECT pg_catalog.pg_extension_config_dump('crosswalk.key_version', '');
SELECT pg_catalog.pg_extension_config_dump('crosswalk.key_grant', '');

------------------------------------------------------------------------------
-- Encryption functions (C). Executable by PUBLIC: the gate is the grant on
-- the key, checked for every use (grant_decrypt, or crosswalk_admin).
------------------------------------------------------------------------------
CREATE FUNCTION crosswalk.encrypt(value text, key_name text, context text DEFAULT '')
RETURNS crosswalk.encrypted AS 'MODULE_PATHNAME', 'encrypt_text' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION crosswalk.encrypt(value bytea, key_name text, context text DEFAULT '')
RETURNS crosswalk.encrypted AS 'MODULE_PATHNAME', 'encrypt_bytea' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.encrypt(text, text, text) IS
  'encrypts under the key''s newest version; context (e.g. table.column:row) is authenticated, not stored';
COMMENT ON FUNCTION crosswalk.encrypt(bytea, text, text) IS
  'encrypts under the key''s newest version; context (e.g. table.column:row) is authenticated, not stored';

CREATE FUNCTION crosswalk.decrypt(value crosswalk.encrypted, context text DEFAULT '') RETURNS text
  AS 'MODULE_PATHNAME', 'decrypt_text' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.decrypt(crosswalk.encrypted, text) IS
  'decrypts with the context given to encrypt(); needs a grant on the key';
CREATE FUNCTION crosswalk.decrypt_bytea(value crosswalk.encrypted, context text DEFAULT '') RETURNS bytea
  AS 'MODULE_PATHNAME', 'decrypt_bytea' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.decrypt_bytea(crosswalk.encrypted, text) IS
  'decrypts to bytea with the context given to encrypt(); needs a grant on the key';
CREATE FUNCTION crosswalk.reencrypt(value crosswalk.encrypted, context text DEFAULT '') RETURNS crosswalk.encrypted
  AS 'MODULE_PATHNAME', 'reencrypt' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.reencrypt(crosswalk.encrypted, text) IS
  'the value under its key''s newest version (unchanged when already there), for rotation in batches';
CREATE FUNCTION crosswalk.blind_index(value text, key_name text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'blind_index' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.blind_index(text, text) IS
  'HMAC-SHA-256 of the value under a key derived from the key''s first version: equality search on an encrypted column';
CREATE FUNCTION crosswalk.match_key(value text, kind text DEFAULT 'email') RETURNS bytea
  AS 'MODULE_PATHNAME', 'match_key' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.match_key(text, text) IS
  'HMAC-SHA-256 of the normalised value (email: trimmed, lower-case; phone: digits) under a key derived from the master key';

-- Internal: a new data key wrapped by the master key, and the cache reset of
-- this backend after a key change.
CREATE FUNCTION crosswalk._new_wrapped_key(key_id uuid, version integer, algorithm text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'new_wrapped_key' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION crosswalk._key_changed() RETURNS void
  AS 'MODULE_PATHNAME', 'key_changed' LANGUAGE C VOLATILE PARALLEL UNSAFE;

------------------------------------------------------------------------------
-- Key management (crosswalk_admin)
------------------------------------------------------------------------------

-- The crosswalk.key row of a key name, locked for update, or an error.
CREATE FUNCTION crosswalk._lock_key(key_name text) RETURNS crosswalk.key
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.key;
BEGIN
  IF key_name IS NULL THEN
    RAISE EXCEPTION 'key name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT * INTO k FROM crosswalk.key x WHERE x.name = key_name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key "%" does not exist', left(key_name, 100)
      USING ERRCODE = 'undefined_object', HINT = 'crosswalk.create_key() creates it.';
  END IF;
  RETURN k;
END
$$;

CREATE FUNCTION crosswalk.create_key(name text, algorithm text DEFAULT 'aes-256-gcm',
                                     owner crosswalk.canonical_id DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id uuid;
  live crosswalk.canonical_id;
BEGIN
  IF name IS NULL OR algorithm IS NULL THEN
    RAISE EXCEPTION 'key name and algorithm must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF name !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid key name "%"', left(name, 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A key name is 1 to 63 letters, digits, "_", ".", ":" or "-", starting with a letter or digit.';
  END IF;
  IF algorithm NOT IN ('aes-256-gcm', 'aes-256-siv') THEN
    RAISE EXCEPTION 'unknown algorithm "%"', left(algorithm, 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The algorithms are ''aes-256-gcm'' (randomized) and ''aes-256-siv'' (deterministic: equality, unique indexes, joins).';
  END IF;
  IF owner IS NOT NULL THEN
    live := crosswalk._live_person(owner);
  END IF;
  IF EXISTS (SELECT FROM crosswalk.key k WHERE k.name = create_key.name) THEN
    RAISE EXCEPTION 'key "%" already exists', name
      USING ERRCODE = 'duplicate_object', HINT = 'crosswalk.rotate_key() gives an existing key a new version.';
  END IF;
  id := pg_catalog.gen_random_uuid();
  INSERT INTO crosswalk.key (key_id, name, algorithm, owner) VALUES (id, create_key.name, create_key.algorithm, live);
  -- The data key is made and wrapped in C; only the wrapped bytes reach SQL.
  INSERT INTO crosswalk.key_version (key_id, version, wrapped)
  VALUES (id, 1, crosswalk._new_wrapped_key(id, 1, create_key.algorithm));
  RETURN id;
END
$$;
COMMENT ON FUNCTION crosswalk.create_key(text, text, crosswalk.canonical_id) IS
  'creates a key (random data key wrapped by the master key) and returns its id';

CREATE FUNCTION crosswalk.rotate_key(name text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.key;
  v integer;
BEGIN
  k := crosswalk._lock_key(name);
  IF k.shredded_at IS NOT NULL THEN
    RAISE EXCEPTION 'key "%" was shredded', name USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  v := k.current_version + 1;
  INSERT INTO crosswalk.key_version (key_id, version, wrapped)
  VALUES (k.key_id, v, crosswalk._new_wrapped_key(k.key_id, v, k.algorithm));
  UPDATE crosswalk.key x SET current_version = v, generation = x.generation + 1
   WHERE x.key_id OPERATOR(pg_catalog.=) k.key_id;
  PERFORM crosswalk._key_changed();
  RETURN v;
END
$$;
COMMENT ON FUNCTION crosswalk.rotate_key(text) IS
  'new key version for new values; old versions keep decrypting; reencrypt() moves values to it';

CREATE FUNCTION crosswalk.grant_decrypt(key_name text, role regrole) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.key;
BEGIN
  IF role IS NULL THEN
    RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  k := crosswalk._lock_key(key_name);
  IF k.shredded_at IS NOT NULL THEN
    RAISE EXCEPTION 'key "%" was shredded', key_name USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  INSERT INTO crosswalk.key_grant (key_id, grantee) VALUES (k.key_id, role) ON CONFLICT DO NOTHING;
  UPDATE crosswalk.key x SET generation = x.generation + 1 WHERE x.key_id OPERATOR(pg_catalog.=) k.key_id;
  PERFORM crosswalk._key_changed();
END
$$;
COMMENT ON FUNCTION crosswalk.grant_decrypt(text, regrole) IS
  'lets a role (and its members) encrypt and decrypt with the key';

CREATE FUNCTION crosswalk.revoke_decrypt(key_name text, role regrole) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.key;
BEGIN
  IF role IS NULL THEN
    RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  k := crosswalk._lock_key(key_name);
  DELETE FROM crosswalk.key_grant g
   WHERE g.key_id OPERATOR(pg_catalog.=) k.key_id AND g.grantee OPERATOR(pg_catalog.=) role;
  UPDATE crosswalk.key x SET generation = x.generation + 1 WHERE x.key_id OPERATOR(pg_catalog.=) k.key_id;
  PERFORM crosswalk._key_changed();
END
$$;
COMMENT ON FUNCTION crosswalk.revoke_decrypt(text, regrole) IS
  'takes back grant_decrypt; takes effect in other sessions at their next transaction';

CREATE FUNCTION crosswalk.shred_key(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.key;
BEGIN
  k := crosswalk._lock_key(name);
  IF k.shredded_at IS NOT NULL THEN
    RETURN;  -- already destroyed
  END IF;
  DELETE FROM crosswalk.key_version v WHERE v.key_id OPERATOR(pg_catalog.=) k.key_id;
  DELETE FROM crosswalk.key_grant g WHERE g.key_id OPERATOR(pg_catalog.=) k.key_id;
  UPDATE crosswalk.key x SET shredded_at = pg_catalog.now(), generation = x.generation + 1
   WHERE x.key_id OPERATOR(pg_catalog.=) k.key_id;
  PERFORM crosswalk._key_changed();
END
$$;
COMMENT ON FUNCTION crosswalk.shred_key(text) IS
  'destroys every version of a key: its values no longer decrypt anywhere';

CREATE FUNCTION crosswalk.forget(person crosswalk.canonical_id) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  live crosswalk.canonical_id;
  ids crosswalk.canonical_id[];
  key_name text;
BEGIN
  IF person IS NULL THEN
    RAISE EXCEPTION 'person must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- The person and every identity merged into them are the same human.
  PERFORM FROM crosswalk.person x WHERE x.person OPERATOR(pg_catalog.=) forget.person FOR UPDATE;
  live := crosswalk._live_person(forget.person);
  SELECT pg_catalog.array_agg(x.person) INTO ids FROM crosswalk.person x
   WHERE x.person OPERATOR(pg_catalog.=) live OR x.merged_into OPERATOR(pg_catalog.=) live;
  FOR key_name IN
    SELECT k.name FROM crosswalk.key k
     WHERE k.owner OPERATOR(pg_catalog.=) ANY (ids) AND k.shredded_at IS NULL ORDER BY k.name
  LOOP
    PERFORM crosswalk.shred_key(key_name);
  END LOOP;
  DELETE FROM crosswalk.account a WHERE a.person OPERATOR(pg_catalog.=) ANY (ids);
END
$$;
COMMENT ON FUNCTION crosswalk.forget(crosswalk.canonical_id) IS
  'erasure: shreds the person''s keys and removes their account links';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------
REVOKE ALL ON crosswalk.key, crosswalk.key_version, crosswalk.key_grant FROM PUBLIC;
GRANT SELECT ON crosswalk.key, crosswalk.key_grant TO crosswalk_admin;  -- never the wrapped keys

REVOKE EXECUTE ON FUNCTION
  crosswalk._new_wrapped_key(uuid, integer, text),
  crosswalk._key_changed(),
  crosswalk._lock_key(text),
  crosswalk.create_key(text, text, crosswalk.canonical_id),
  crosswalk.rotate_key(text),
  crosswalk.grant_decrypt(text, regrole),
  crosswalk.revoke_decrypt(text, regrole),
  crosswalk.shred_key(text),
  crosswalk.forget(crosswalk.canonical_id),
  crosswalk.match_key(text, text)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
  crosswalk.create_key(text, text, crosswalk.canonical_id),
  crosswalk.rotate_key(text),
  crosswalk.grant_decrypt(text, regrole),
  crosswalk.revoke_decrypt(text, regrole),
  crosswalk.shred_key(text),
  crosswalk.forget(crosswalk.canonical_id)
TO crosswalk_admin;
GRANT EXECUTE ON FUNCTION crosswalk.match_key(text, text) TO crosswalk_reader;
