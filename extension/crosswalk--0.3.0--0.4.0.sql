-- crosswalk 0.4.0: signed ledger checkpoints, and payment references kept
-- only as ciphertext.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

------------------------------------------------------------------------------
-- Signing keys (Ed25519; the private half stored only wrapped by the master key)
------------------------------------------------------------------------------
CREATE FUNCTION crosswalk._new_signing_key(name text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'new_signing_key' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION crosswalk._signing_public_key(name text, wrapped_seed bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'signing_public_key' LANGUAGE C STABLE STRICT;
CREATE FUNCTION crosswalk._sign_checkpoint(name text, wrapped_seed bytea, seq bigint, tip_hash bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'sign_checkpoint' LANGUAGE C STABLE STRICT;
CREATE FUNCTION crosswalk.verify_checkpoint_signature(seq bigint, tip_hash bytea, signature bytea, public_key bytea)
RETURNS boolean
  AS 'MODULE_PATHNAME', 'verify_checkpoint_signature' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crosswalk.verify_checkpoint_signature(bigint, bytea, bytea, bytea) IS
  'whether signature is public_key''s Ed25519 signature of the checkpoint (seq, tip_hash)';

CREATE TABLE crosswalk.signing_key (
  name         text PRIMARY KEY CONSTRAINT signing_key_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  algorithm    text NOT NULL DEFAULT 'ed25519' CONSTRAINT signing_key_algorithm CHECK (algorithm = 'ed25519'),
  public_key   bytea NOT NULL CONSTRAINT signing_key_public_key_length CHECK (octet_length(public_key) = 32),
  wrapped_seed bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE crosswalk.signing_key IS 'Ed25519 keys that sign ledger checkpoints; the seed only wrapped by the master key';
SELECT pg_catalog.pg_extension_config_dump('crosswalk.signing_key', '');

CREATE TABLE crosswalk.ledger_checkpoint (
  key_name   text NOT NULL,
  seq        bigint NOT NULL,
  tip_hash   bytea NOT NULL CONSTRAINT ledger_checkpoint_hash_length CHECK (octet_length(tip_hash) = 32),
  public_key bytea NOT NULL,
  signature  bytea NOT NULL CONSTRAINT ledger_checkpoint_signature_length CHECK (octet_length(signature) = 64),
  signed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (key_name, seq)
);
COMMENT ON TABLE crosswalk.ledger_checkpoint IS 'ledger tips signed by this platform, to hand to peers';
SELECT pg_catalog.pg_extension_config_dump('crosswalk.ledger_checkpoint', '');

CREATE FUNCTION crosswalk.create_signing_key(name text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wrapped bytea;
  pub bytea;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'a signing key needs a name' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid signing key name "%"', left(name, 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A key name is 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit.';
  END IF;
  IF EXISTS (SELECT FROM crosswalk.signing_key k WHERE k.name = create_signing_key.name) THEN
    RAISE EXCEPTION 'signing key "%" already exists', name USING ERRCODE = 'duplicate_object';
  END IF;
  wrapped := crosswalk._new_signing_key(name);
  pub := crosswalk._signing_public_key(name, wrapped);
  INSERT INTO crosswalk.signing_key (name, public_key, wrapped_seed) VALUES (create_signing_key.name, pub, wrapped);
  RETURN pub;
END
$$;
COMMENT ON FUNCTION crosswalk.create_signing_key(text) IS
  'makes an Ed25519 key for ledger checkpoints and returns its public key (hand it to peers)';

CREATE FUNCTION crosswalk.ledger_checkpoint(key_name text) RETURNS crosswalk.ledger_checkpoint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.signing_key;
  tip crosswalk.ledger;
  result crosswalk.ledger_checkpoint;
BEGIN
  SELECT * INTO k FROM crosswalk.signing_key s WHERE s.name = ledger_checkpoint.key_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'signing key "%" does not exist', key_name
      USING ERRCODE = 'undefined_object', HINT = 'crosswalk.create_signing_key() makes one.';
  END IF;
  SELECT * INTO tip FROM crosswalk.ledger l ORDER BY l.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the ledger is empty: there is nothing to vouch for' USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  INSERT INTO crosswalk.ledger_checkpoint AS c (key_name, seq, tip_hash, public_key, signature)
  VALUES (k.name, tip.seq, tip.hash, k.public_key,
          crosswalk._sign_checkpoint(k.name, k.wrapped_seed, tip.seq, tip.hash))
  ON CONFLICT ON CONSTRAINT ledger_checkpoint_pkey DO UPDATE SET signed_at = c.signed_at
  RETURNING * INTO result;
  RETURN result;
END
$$;
COMMENT ON FUNCTION crosswalk.ledger_checkpoint(text) IS
  'signs the ledger''s tip (seq and hash) with a signing key and keeps the checkpoint';

CREATE FUNCTION crosswalk.verify_checkpoint(seq bigint, tip_hash bytea, signature bytea, public_key bytea)
RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- The other platform signed (seq, tip_hash), and this database's copy of
  -- the ledger has that entry with that hash: both vouch for the same state.
  SELECT crosswalk.verify_checkpoint_signature(seq, tip_hash, signature, public_key)
     AND EXISTS (SELECT FROM crosswalk.ledger l WHERE l.seq = verify_checkpoint.seq AND l.hash = verify_checkpoint.tip_hash)
$$;
COMMENT ON FUNCTION crosswalk.verify_checkpoint(bigint, bytea, bytea, bytea) IS
  'whether a checkpoint is validly signed by public_key and matches this database''s ledger';

------------------------------------------------------------------------------
-- Payment references only as ciphertext
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION crosswalk.record(kind text, person crosswalk.canonical_id, platform text, payload jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  live crosswalk.canonical_id;
  new_seq bigint;
BEGIN
  IF kind IS NULL OR person IS NULL OR platform IS NULL OR payload IS NULL THEN
    RAISE EXCEPTION 'record needs a kind, a person, a platform and a payload; got NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT FROM crosswalk.ledger_kind k WHERE k.kind = record.kind) THEN
    RAISE EXCEPTION 'unknown ledger kind "%"', left(kind, 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Known kinds are in crosswalk.ledger_kind; crosswalk_admin may add one.';
  END IF;
  -- The lookups of crosswalk._platform_id() and _live_person(), inlined:
  -- record() is on the payment path and each nested call costs a search_path
  -- switch.
  IF NOT EXISTS (SELECT FROM crosswalk.platform p WHERE p.name = record.platform) THEN
    RAISE EXCEPTION 'unknown platform "%"', platform
      USING ERRCODE = 'undefined_object', HINT = 'Register it first with crosswalk.register_platform().';
  END IF;
  SELECT coalesce(x.merged_into, x.person) INTO live FROM crosswalk.person x
   WHERE x.person OPERATOR(pg_catalog.=) record.person;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown person %', person
      USING ERRCODE = 'undefined_object', HINT = 'Link the person''s account first with crosswalk.link().';
  END IF;
  IF jsonb_typeof(payload) <> 'object' THEN
    RAISE EXCEPTION 'a ledger payload must be a JSON object, not %', jsonb_typeof(payload)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF kind IN ('purchase', 'refund') THEN
    IF jsonb_typeof(payload -> 'product') IS DISTINCT FROM 'string'
       OR jsonb_typeof(payload -> 'currency') IS DISTINCT FROM 'string'
       OR (payload ->> 'currency') !~ '^[A-Z]{3}$'
       OR jsonb_typeof(payload -> 'amount') NOT IN ('string', 'number')
       OR (payload ->> 'amount') !~ '^[0-9]+(\.[0-9]+)?$' THEN
      RAISE EXCEPTION 'a % payload needs "product" (string), "amount" (a non-negative decimal) and "currency" (ISO 4217 code)', kind
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'For example {"product": "sql-101", "amount": "19.99", "currency": "EUR"}; give amounts as strings to keep every digit.';
    END IF;
  ELSIF kind = 'transfer' THEN
    IF jsonb_typeof(payload -> 'product') IS DISTINCT FROM 'string'
       OR jsonb_typeof(payload -> 'from_platform') IS DISTINCT FROM 'string'
       OR jsonb_typeof(payload -> 'to_platform') IS DISTINCT FROM 'string' THEN
      RAISE EXCEPTION 'a transfer payload needs "product", "from_platform" and "to_platform" (strings)'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM crosswalk._platform_id(payload ->> 'from_platform');
    PERFORM crosswalk._platform_id(payload ->> 'to_platform');
  END IF;
  -- A payment reference identifies a payment at a processor: it travels
  -- with the ledger to every peer, so it is kept only as ciphertext.
  IF payload ? 'reference' THEN
    IF jsonb_typeof(payload -> 'reference') IS DISTINCT FROM 'string' OR (payload ->> 'reference') !~ '^cw1:' THEN
      RAISE EXCEPTION 'a payment reference must be stored encrypted'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Pass crosswalk.encrypt(reference, key_name, ''ledger:reference'')::text as "reference".';
    END IF;
    PERFORM (payload ->> 'reference')::crosswalk.encrypted;  -- its structure, or 22P02
  END IF;
  INSERT INTO crosswalk.ledger (kind, person, platform, payload)
  VALUES (record.kind, live, record.platform, record.payload)
  RETURNING seq INTO new_seq;
  RETURN new_seq;
END
$$;

DROP FUNCTION crosswalk.purchases(crosswalk.canonical_id);
CREATE FUNCTION crosswalk.purchases(person crosswalk.canonical_id)
RETURNS TABLE (seq bigint, recorded_at timestamptz, kind text, platform text, product text,
               amount numeric, currency text, from_platform text, to_platform text,
               reference crosswalk.encrypted)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- The person's entries on every platform: those recorded under the live
  -- person and under every identity merged into it. The reference stays a
  -- ciphertext: decrypt() it with the key's grant.
  WITH live AS (
    SELECT coalesce((SELECT y.merged_into FROM crosswalk.person y
                      WHERE y.person OPERATOR(pg_catalog.=) purchases.person), purchases.person) AS p)
  SELECT l.seq, l.recorded_at, l.kind, l.platform, l.payload ->> 'product',
         CASE WHEN l.kind = 'refund' THEN -(l.payload ->> 'amount')::numeric ELSE (l.payload ->> 'amount')::numeric END,
         l.payload ->> 'currency', l.payload ->> 'from_platform', l.payload ->> 'to_platform',
         (l.payload ->> 'reference')::crosswalk.encrypted
    FROM crosswalk.ledger l, live
   WHERE l.kind IN ('purchase', 'refund', 'transfer')
     AND (l.person OPERATOR(pg_catalog.=) live.p
          OR l.person IN (SELECT x.person FROM crosswalk.person x WHERE x.merged_into OPERATOR(pg_catalog.=) live.p))
   ORDER BY l.seq
$$;
COMMENT ON FUNCTION crosswalk.purchases(crosswalk.canonical_id) IS
  'a person''s purchases, refunds (negative amounts) and transfers on every platform';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------
REVOKE ALL ON crosswalk.signing_key, crosswalk.ledger_checkpoint FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
  crosswalk._new_signing_key(text),
  crosswalk._signing_public_key(text, bytea),
  crosswalk._sign_checkpoint(text, bytea, bigint, bytea),
  crosswalk.create_signing_key(text),
  crosswalk.ledger_checkpoint(text),
  crosswalk.verify_checkpoint(bigint, bytea, bytea, bytea),
  crosswalk.purchases(crosswalk.canonical_id)
FROM PUBLIC;
-- Readers see which keys exist and their public halves, never the wrapped seed.
GRANT SELECT (name, algorithm, public_key, created_at) ON crosswalk.signing_key TO crosswalk_reader;
GRANT SELECT ON crosswalk.ledger_checkpoint TO crosswalk_reader;
GRANT EXECUTE ON FUNCTION
  crosswalk.verify_checkpoint(bigint, bytea, bytea, bytea),
  crosswalk.purchases(crosswalk.canonical_id)
TO crosswalk_reader;
GRANT EXECUTE ON FUNCTION
  crosswalk.create_signing_key(text),
  crosswalk.ledger_checkpoint(text)
TO crosswalk_admin;
