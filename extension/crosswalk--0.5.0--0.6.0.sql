-- crosswalk 0.6.0: faster appends to the ledger. The chaining trigger is C++
-- (one advisory lock, one indexed read of the tip, the hash, no PL/pgSQL
-- row rebuilds), and record() looks its kind, platform and person up in one
-- statement. Behaviour and error codes are those of 0.5.0.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

-- An invoker trigger now: record() runs as the ledger's owner, and anyone
-- else allowed to insert rows (a replication role) must be able to read the
-- ledger it extends.
CREATE OR REPLACE FUNCTION crosswalk._ledger_chain() RETURNS trigger
  AS 'MODULE_PATHNAME', 'ledger_chain' LANGUAGE C;

CREATE OR REPLACE FUNCTION crosswalk.record(kind text, person crosswalk.canonical_id, platform text, payload jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kind_known boolean;
  platform_known boolean;
  live crosswalk.canonical_id;
  new_seq bigint;
BEGIN
  IF kind IS NULL OR person IS NULL OR platform IS NULL OR payload IS NULL THEN
    RAISE EXCEPTION 'record needs a kind, a person, a platform and a payload; got NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- The three lookups in one statement: record() is on the payment path.
  SELECT EXISTS (SELECT FROM crosswalk.ledger_kind k WHERE k.kind = record.kind),
         EXISTS (SELECT FROM crosswalk.platform p WHERE p.name = record.platform),
         (SELECT coalesce(x.merged_into, x.person) FROM crosswalk.person x
           WHERE x.person OPERATOR(pg_catalog.=) record.person)
    INTO kind_known, platform_known, live;
  IF NOT kind_known THEN
    RAISE EXCEPTION 'unknown ledger kind "%"', left(kind, 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Known kinds are in crosswalk.ledger_kind; crosswalk_admin may add one.';
  END IF;
  IF NOT platform_known THEN
    RAISE EXCEPTION 'unknown platform "%"', platform
      USING ERRCODE = 'undefined_object', HINT = 'Register it first with crosswalk.register_platform().';
  END IF;
  IF live IS NULL THEN
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
