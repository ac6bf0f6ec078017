-- crosswalk 0.2.0: the append-only, hash-chained ledger of cross-platform
-- purchases, refunds and transfers.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

------------------------------------------------------------------------------
-- Canonical JSON and the entry hash (C++, lib/json_canonical.cpp, lib/ledger.cpp)
------------------------------------------------------------------------------
CREATE FUNCTION crosswalk.canonical_json(jsonb) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crosswalk.canonical_json(jsonb) IS
  'the RFC 8785 canonical text of a JSON value (numbers as IEEE 754 doubles)';

CREATE FUNCTION crosswalk.ledger_entry_hash(prev_hash bytea, seq bigint, recorded_at timestamptz, kind text,
                                            person crosswalk.canonical_id, platform text, payload jsonb)
RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crosswalk.ledger_entry_hash(bytea, bigint, timestamptz, text, crosswalk.canonical_id, text, jsonb) IS
  'SHA-256 over prev_hash and the RFC 8785 encoding of the entry: what chains the ledger';

------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------
CREATE TABLE crosswalk.ledger_kind (
  kind        text PRIMARY KEY CONSTRAINT ledger_kind_format CHECK (kind ~ '^[a-z][a-z0-9_]{0,62}$'),
  description text NOT NULL DEFAULT ''
);
COMMENT ON TABLE crosswalk.ledger_kind IS 'the kinds of ledger entry; crosswalk_admin may add more';
INSERT INTO crosswalk.ledger_kind (kind, description) VALUES
  ('purchase',  'a purchase on a platform: product, amount, currency'),
  ('refund',    'a refund of a purchase: product, amount, currency'),
  ('transfer',  'an entitlement moved from one platform to another: product, from_platform, to_platform'),
  ('link',      'an account linked to a person'),
  ('migration', 'a learner''s records migrated between platforms');
-- Only the kinds an administrator added belong in a dump; the built-in ones
-- come with the extension.
SELECT pg_catalog.pg_extension_config_dump('crosswalk.ledger_kind',
  $$WHERE kind NOT IN ('purchase', 'refund', 'transfer', 'link', 'migration')$$);

CREATE TABLE crosswalk.ledger (
  seq         bigint PRIMARY KEY CONSTRAINT ledger_seq_positive CHECK (seq >= 1),
  recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  -- No foreign key to ledger_kind: record() checks the kind, and a copy of
  -- another platform's ledger must load even where that platform's own kinds
  -- are not registered.
  kind        text NOT NULL,
  person      crosswalk.canonical_id NOT NULL,
  platform    text NOT NULL,
  payload     jsonb NOT NULL,
  prev_hash   bytea NOT NULL CONSTRAINT ledger_prev_hash_length CHECK (octet_length(prev_hash) = 32),
  hash        bytea NOT NULL UNIQUE CONSTRAINT ledger_hash_length CHECK (octet_length(hash) = 32)
);
CREATE INDEX ledger_person_idx ON crosswalk.ledger (person);
COMMENT ON TABLE crosswalk.ledger IS
  'append-only: each entry holds the previous entry''s hash and its own, SHA-256 over that and the entry''s RFC 8785 encoding';
SELECT pg_catalog.pg_extension_config_dump('crosswalk.ledger', '');

------------------------------------------------------------------------------
-- Appending: every row, however inserted, is checked and chained here.
------------------------------------------------------------------------------

-- Chains a new entry to the tip. Appends are serialized by a transaction-level
-- advisory lock (an advisory lock, not a table lock, so that it cannot
-- deadlock with the INSERT's own lock); under it the entry gets the next seq,
-- the tip's hash as prev_hash, and its hash. An entry that arrives with those
-- already set (a copy replicated from another platform) must match them.
CREATE FUNCTION crosswalk._ledger_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tip_seq bigint;
  tip_hash bytea;
  computed bytea;
BEGIN
  -- 'crosswalk.ledger' as two int4 keys: hashtext('crosswalk') and the table's oid.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('crosswalk'), TG_RELID::integer);
  SELECT l.seq, l.hash INTO tip_seq, tip_hash FROM crosswalk.ledger l ORDER BY l.seq DESC LIMIT 1;
  tip_seq := coalesce(tip_seq, 0);
  tip_hash := coalesce(tip_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);

  IF NEW.payload IS NULL OR jsonb_typeof(NEW.payload) <> 'object' THEN
    RAISE EXCEPTION 'a ledger payload must be a JSON object, not %', coalesce(jsonb_typeof(NEW.payload), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF pg_catalog.pg_column_size(NEW.payload) > 65536 THEN
    RAISE EXCEPTION 'ledger payload too large: % bytes', pg_catalog.pg_column_size(NEW.payload)
      USING ERRCODE = 'program_limit_exceeded', HINT = 'A ledger payload is at most 64 KiB (its jsonb size).';
  END IF;
  IF NEW.seq IS NULL THEN
    NEW.seq := tip_seq + 1;
  ELSIF NEW.seq <> tip_seq + 1 THEN
    RAISE EXCEPTION 'ledger entry % does not follow the tip %', NEW.seq, tip_seq
      USING ERRCODE = 'serialization_failure', HINT = 'Entries are appended in sequence, without gaps.';
  END IF;
  IF NEW.prev_hash IS NULL THEN
    NEW.prev_hash := tip_hash;
  ELSIF NEW.prev_hash <> tip_hash THEN
    RAISE EXCEPTION 'ledger entry % does not chain to entry %: prev_hash differs', NEW.seq, tip_seq
      USING ERRCODE = 'data_corrupted';
  END IF;
  computed := crosswalk.ledger_entry_hash(NEW.prev_hash, NEW.seq, NEW.recorded_at, NEW.kind, NEW.person,
                                          NEW.platform, NEW.payload);
  IF NEW.hash IS NULL THEN
    NEW.hash := computed;
  ELSIF NEW.hash <> computed THEN
    RAISE EXCEPTION 'ledger entry % has a hash that does not match its contents', NEW.seq
      USING ERRCODE = 'data_corrupted';
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION crosswalk._ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'crosswalk.ledger is append-only: % is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Record a correcting entry (for example a refund) with crosswalk.record().';
END
$$;

CREATE TRIGGER ledger_chain BEFORE INSERT ON crosswalk.ledger
  FOR EACH ROW EXECUTE FUNCTION crosswalk._ledger_chain();
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON crosswalk.ledger
  FOR EACH ROW EXECUTE FUNCTION crosswalk._ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON crosswalk.ledger
  FOR EACH STATEMENT EXECUTE FUNCTION crosswalk._ledger_refuse_change();

CREATE FUNCTION crosswalk.record(kind text, person crosswalk.canonical_id, platform text, payload jsonb)
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
  INSERT INTO crosswalk.ledger (kind, person, platform, payload)
  VALUES (record.kind, live, record.platform, record.payload)
  RETURNING seq INTO new_seq;
  RETURN new_seq;
END
$$;
COMMENT ON FUNCTION crosswalk.record(text, crosswalk.canonical_id, text, jsonb) IS
  'appends an entry to the ledger and returns its sequence number';

------------------------------------------------------------------------------
-- Reading and verifying
------------------------------------------------------------------------------
CREATE FUNCTION crosswalk.verify_ledger(OUT ok boolean, OUT first_bad bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- One pass in seq order: each entry must follow the previous one by one,
  -- hold its hash as prev_hash, and hash to its own hash.
  SELECT first_bad IS NULL, first_bad FROM (
    SELECT min(seq) AS first_bad FROM (
      SELECT l.seq,
             l.hash,
             l.prev_hash,
             lag(l.seq) OVER w AS before_seq,
             lag(l.hash) OVER w AS before_hash,
             crosswalk.ledger_entry_hash(l.prev_hash, l.seq, l.recorded_at, l.kind, l.person, l.platform, l.payload)
               AS recomputed
        FROM crosswalk.ledger l
      WINDOW w AS (ORDER BY l.seq)) x
     WHERE x.seq <> coalesce(x.before_seq, 0) + 1
        OR x.prev_hash <> coalesce(x.before_hash,
                                   '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
        OR x.recomputed <> x.hash) y
$$;
COMMENT ON FUNCTION crosswalk.verify_ledger() IS
  'recomputes the hash chain; ok, or the first entry that does not match';

CREATE FUNCTION crosswalk.purchases(person crosswalk.canonical_id)
RETURNS TABLE (seq bigint, recorded_at timestamptz, kind text, platform text, product text,
               amount numeric, currency text, from_platform text, to_platform text, reference text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- The person's entries on every platform: those recorded under the live
  -- person and under every identity merged into it.
  WITH live AS (
    SELECT coalesce((SELECT y.merged_into FROM crosswalk.person y
                      WHERE y.person OPERATOR(pg_catalog.=) purchases.person), purchases.person) AS p)
  SELECT l.seq, l.recorded_at, l.kind, l.platform, l.payload ->> 'product',
         CASE WHEN l.kind = 'refund' THEN -(l.payload ->> 'amount')::numeric ELSE (l.payload ->> 'amount')::numeric END,
         l.payload ->> 'currency', l.payload ->> 'from_platform', l.payload ->> 'to_platform',
         l.payload ->> 'reference'
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
REVOKE ALL ON crosswalk.ledger, crosswalk.ledger_kind FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
  crosswalk._ledger_chain(),
  crosswalk._ledger_refuse_change(),
  crosswalk.record(text, crosswalk.canonical_id, text, jsonb),
  crosswalk.verify_ledger(),
  crosswalk.purchases(crosswalk.canonical_id)
FROM PUBLIC;
GRANT SELECT ON crosswalk.ledger, crosswalk.ledger_kind TO crosswalk_reader;
GRANT INSERT ON crosswalk.ledger_kind TO crosswalk_admin;
GRANT EXECUTE ON FUNCTION
  crosswalk.verify_ledger(),
  crosswalk.purchases(crosswalk.canonical_id)
TO crosswalk_reader;
GRANT EXECUTE ON FUNCTION crosswalk.record(text, crosswalk.canonical_id, text, jsonb) TO crosswalk_admin;
