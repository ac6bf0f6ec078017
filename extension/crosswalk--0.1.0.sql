-- crosswalk 0.1.0: the canonical identity type, platforms, persons, accounts
-- and the functions that link, resolve, translate, merge and unlink them.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

-- Roles are cluster-wide: create them only where an earlier install (in
-- another database) has not.
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'crosswalk_reader') THEN
    CREATE ROLE crosswalk_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'crosswalk_admin') THEN
    CREATE ROLE crosswalk_admin NOLOGIN;
  END IF;
END
$roles$;
GRANT crosswalk_reader TO crosswalk_admin;

GRANT USAGE ON SCHEMA crosswalk TO PUBLIC;

------------------------------------------------------------------------------
-- Type crosswalk.canonical_id
------------------------------------------------------------------------------
CREATE TYPE crosswalk.canonical_id;

CREATE FUNCTION crosswalk.canonical_id_in(cstring) RETURNS crosswalk.canonical_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crosswalk.canonical_id_out(crosswalk.canonical_id) RETURNS cstring
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crosswalk.canonical_id_recv(internal) RETURNS crosswalk.canonical_id
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crosswalk.canonical_id_send(crosswalk.canonical_id) RETURNS bytea
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE crosswalk.canonical_id (
  INPUT = crosswalk.canonical_id_in,
  OUTPUT = crosswalk.canonical_id_out,
  RECEIVE = crosswalk.canonical_id_recv,
  SEND = crosswalk.canonical_id_send,
  INTERNALLENGTH = 16,
  ALIGNMENT = char,
  STORAGE = plain,
  CATEGORY = 'U'
);
COMMENT ON TYPE crosswalk.canonical_id IS 'a person across platforms: a 16-byte UUID (new ones are UUIDv7)';

CREATE FUNCTION crosswalk.canonical_id_eq(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_ne(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_lt(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_le(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_gt(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_ge(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_cmp(crosswalk.canonical_id, crosswalk.canonical_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_hash(crosswalk.canonical_id) RETURNS integer
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION crosswalk.canonical_id_hash_extended(crosswalk.canonical_id, bigint) RETURNS bigint
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

-- The operators live in pg_catalog, like those of the built-in types, so that
-- `a.person = b.person` works whatever the caller's search_path; their
-- argument types are ours, so they cannot clash with anything else.
CREATE OPERATOR pg_catalog.= (
  LEFTARG = crosswalk.canonical_id, RIGHTARG = crosswalk.canonical_id,
  FUNCTION = crosswalk.canonical_id_eq, COMMUTATOR = OPERATOR(pg_catalog.=),
  NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (
  LEFTARG = crosswalk.canonical_id, RIGHTARG = crosswalk.canonical_id,
  FUNCTION = crosswalk.canonical_id_ne, COMMUTATOR = OPERATOR(pg_catalog.<>),
  NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (
  LEFTARG = crosswalk.canonical_id, RIGHTARG = crosswalk.canonical_id,
  FUNCTION = crosswalk.canonical_id_lt, COMMUTATOR = OPERATOR(pg_catalog.>),
  NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (
  LEFTARG = crosswalk.canonical_id, RIGHTARG = crosswalk.canonical_id,
  FUNCTION = crosswalk.canonical_id_le, COMMUTATOR = OPERATOR(pg_catalog.>=),
  NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (
  LEFTARG = crosswalk.canonical_id, RIGHTARG = crosswalk.canonical_id,
  FUNCTION = crosswalk.canonical_id_gt, COMMUTATOR = OPERATOR(pg_catalog.<),
  NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (
  LEFTARG = crosswalk.canonical_id, RIGHTARG = crosswalk.canonical_id,
  FUNCTION = crosswalk.canonical_id_ge, COMMUTATOR = OPERATOR(pg_catalog.<=),
  NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS crosswalk.canonical_id_ops
  DEFAULT FOR TYPE crosswalk.canonical_id USING btree AS
    OPERATOR 1 pg_catalog.<,
    OPERATOR 2 pg_catalog.<=,
    OPERATOR 3 pg_catalog.=,
    OPERATOR 4 pg_catalog.>=,
    OPERATOR 5 pg_catalog.>,
    FUNCTION 1 crosswalk.canonical_id_cmp(crosswalk.canonical_id, crosswalk.canonical_id);

CREATE OPERATOR CLASS crosswalk.canonical_id_hash_ops
  DEFAULT FOR TYPE crosswalk.canonical_id USING hash AS
    OPERATOR 1 pg_catalog.=,
    FUNCTION 1 crosswalk.canonical_id_hash(crosswalk.canonical_id),
    FUNCTION 2 crosswalk.canonical_id_hash_extended(crosswalk.canonical_id, bigint);

-- Same 16 bytes, same order: the casts are free.
CREATE CAST (crosswalk.canonical_id AS uuid) WITHOUT FUNCTION;
CREATE CAST (uuid AS crosswalk.canonical_id) WITHOUT FUNCTION;

CREATE FUNCTION crosswalk.new_canonical_id() RETURNS crosswalk.canonical_id
  AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crosswalk.new_canonical_id() IS
  'a new RFC 9562 UUIDv7, strictly increasing within this backend';

------------------------------------------------------------------------------
-- Platforms, persons, accounts
------------------------------------------------------------------------------
CREATE TABLE crosswalk.platform (
  platform_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE
              CONSTRAINT platform_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  issuer      text UNIQUE CONSTRAINT platform_issuer_nonempty CHECK (issuer <> ''),
  audience    text CONSTRAINT platform_audience_nonempty CHECK (audience <> ''),
  jwks        jsonb CONSTRAINT platform_jwks_object CHECK (jsonb_typeof(jwks) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE crosswalk.platform IS 'a cooperating platform and how its login tokens are verified';

CREATE TABLE crosswalk.person (
  person      crosswalk.canonical_id PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  -- Written only by merge(); no self-referencing foreign key, which would make
  -- every pg_dump warn about circular constraints in the extension's data.
  merged_into crosswalk.canonical_id,
  CONSTRAINT person_not_merged_into_self CHECK (merged_into OPERATOR(pg_catalog.<>) person)
);
CREATE INDEX person_merged_into_idx ON crosswalk.person (merged_into) WHERE merged_into IS NOT NULL;
COMMENT ON TABLE crosswalk.person IS
  'one person; merged_into points at the live person that absorbed this one (never at a merged one)';

CREATE TABLE crosswalk.account (
  platform_id integer NOT NULL REFERENCES crosswalk.platform (platform_id),
  local_id    text NOT NULL
              CONSTRAINT account_local_id_format CHECK (local_id <> '' AND octet_length(local_id) <= 512),
  person      crosswalk.canonical_id NOT NULL REFERENCES crosswalk.person (person),
  linked_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
  method      text NOT NULL DEFAULT 'manual',
  PRIMARY KEY (platform_id, local_id),
  CONSTRAINT account_one_per_person_per_platform UNIQUE (person, platform_id)
);
COMMENT ON TABLE crosswalk.account IS 'a platform''s local user id linked to a person; one per person per platform';

-- The identity data is the user's, not the extension's: pg_dump must carry it.
SELECT pg_catalog.pg_extension_config_dump('crosswalk.platform', '');
SELECT pg_catalog.pg_extension_config_dump('crosswalk.platform_platform_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crosswalk.person', '');
SELECT pg_catalog.pg_extension_config_dump('crosswalk.account', '');

------------------------------------------------------------------------------
-- Internal helpers (not executable by PUBLIC)
------------------------------------------------------------------------------

-- The platform_id of a registered platform, or an error naming it.
CREATE FUNCTION crosswalk._platform_id(platform text) RETURNS integer
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id integer;
BEGIN
  SELECT p.platform_id INTO id FROM crosswalk.platform p WHERE p.name = platform;
  IF id IS NULL THEN
    RAISE EXCEPTION 'unknown platform "%"', platform
      USING ERRCODE = 'undefined_object',
            HINT = 'Register it first with crosswalk.register_platform().';
  END IF;
  RETURN id;
END
$$;

-- The live person for a canonical id (following a merge), or an error.
CREATE FUNCTION crosswalk._live_person(p crosswalk.canonical_id) RETURNS crosswalk.canonical_id
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  merged crosswalk.canonical_id;
  found_it boolean;
BEGIN
  SELECT true, x.merged_into INTO found_it, merged FROM crosswalk.person x WHERE x.person OPERATOR(pg_catalog.=) p;
  IF found_it IS NULL THEN
    RAISE EXCEPTION 'unknown person %', p
      USING ERRCODE = 'undefined_object',
            HINT = 'Pass NULL to crosswalk.link() to create a new person.';
  END IF;
  RETURN coalesce(merged, p);
END
$$;

------------------------------------------------------------------------------
-- Identity functions
------------------------------------------------------------------------------

CREATE FUNCTION crosswalk.register_platform(name text, issuer text DEFAULT NULL,
                                            audience text DEFAULT NULL, jwks jsonb DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  id integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'platform name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid platform name "%"', left(name, 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A platform name is 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit.';
  END IF;
  IF issuer = '' OR audience = '' THEN
    RAISE EXCEPTION 'issuer and audience must be NULL or non-empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(jwks) <> 'object' THEN
    RAISE EXCEPTION 'jwks must be a JSON object (a JWK Set), not %', jsonb_typeof(jwks)
      USING ERRCODE = 'invalid_parameter_value', HINT = 'A JWK Set looks like {"keys": [...]}.';
  END IF;
  -- Re-registering is idempotent: it returns the same id and replaces only
  -- the settings that are given (NULL keeps the current value).
  INSERT INTO crosswalk.platform AS p (name, issuer, audience, jwks)
  VALUES (register_platform.name, register_platform.issuer, register_platform.audience, register_platform.jwks)
  ON CONFLICT ON CONSTRAINT platform_name_key DO UPDATE
    SET issuer = coalesce(EXCLUDED.issuer, p.issuer),
        audience = coalesce(EXCLUDED.audience, p.audience),
        jwks = coalesce(EXCLUDED.jwks, p.jwks)
  RETURNING p.platform_id INTO id;
  RETURN id;
END
$$;
COMMENT ON FUNCTION crosswalk.register_platform(text, text, text, jsonb) IS
  'registers a platform (or updates the settings given) and returns its id';

CREATE FUNCTION crosswalk.link(platform text, local_id text, person crosswalk.canonical_id DEFAULT NULL)
RETURNS crosswalk.canonical_id
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pid integer;
  target crosswalk.canonical_id;
  existing crosswalk.canonical_id;
  merged crosswalk.canonical_id;
  created boolean := false;
  inserted integer;
  hops integer := 0;
BEGIN
  IF platform IS NULL OR local_id IS NULL THEN
    RAISE EXCEPTION 'platform and local_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF local_id = '' OR octet_length(local_id) > 512 THEN
    RAISE EXCEPTION 'invalid local_id: % bytes', octet_length(local_id)
      USING ERRCODE = 'invalid_parameter_value', HINT = 'A local user id is 1 to 512 bytes of text.';
  END IF;
  pid := crosswalk._platform_id(platform);

  IF person IS NOT NULL THEN
    -- Lock the person against a concurrent merge, then follow any merge that
    -- already happened: accounts always point at a live person.
    target := person;
    LOOP
      SELECT x.merged_into INTO merged FROM crosswalk.person x
       WHERE x.person OPERATOR(pg_catalog.=) target FOR SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown person %', person
          USING ERRCODE = 'undefined_object',
                HINT = 'Pass NULL as person to create a new one.';
      END IF;
      EXIT WHEN merged IS NULL;
      target := merged;
      hops := hops + 1;
      IF hops > 100 THEN
        RAISE EXCEPTION 'merge chain from person % does not end', person USING ERRCODE = 'data_corrupted';
      END IF;
    END LOOP;
  END IF;

  SELECT a.person INTO existing FROM crosswalk.account a
   WHERE a.platform_id = pid AND a.local_id = link.local_id;
  IF existing IS NOT NULL THEN
    IF target IS NULL OR existing OPERATOR(pg_catalog.=) target THEN
      RETURN existing;  -- idempotent
    END IF;
    RAISE EXCEPTION 'account % on platform "%" is already linked to person %', local_id, platform, existing
      USING ERRCODE = 'unique_violation',
            DETAIL = format('It was to be linked to person %s.', target),
            HINT = 'If both are the same person, use crosswalk.merge(); otherwise crosswalk.unlink() it first.';
  END IF;

  IF target IS NULL THEN
    target := crosswalk.new_canonical_id();
    INSERT INTO crosswalk.person (person) VALUES (target);
    created := true;
  ELSIF EXISTS (SELECT FROM crosswalk.account a
                 WHERE a.person OPERATOR(pg_catalog.=) target AND a.platform_id = pid) THEN
    RAISE EXCEPTION 'person % already has an account on platform "%"', target, platform
      USING ERRCODE = 'unique_violation',
            DETAIL = format('Its account there is %s.',
                            (SELECT a.local_id FROM crosswalk.account a
                              WHERE a.person OPERATOR(pg_catalog.=) target AND a.platform_id = pid)),
            HINT = 'A person has at most one account per platform; crosswalk.unlink() the other one first.';
  END IF;

  -- A concurrent link of the same account makes this insert wait for it and
  -- then do nothing; we then return the winner's person.
  INSERT INTO crosswalk.account (platform_id, local_id, person, method)
  VALUES (pid, link.local_id, target, CASE WHEN created THEN 'new' ELSE 'manual' END)
  ON CONFLICT ON CONSTRAINT account_pkey DO NOTHING;
  GET DIAGNOSTICS inserted = ROW_COUNT;
  IF inserted = 1 THEN
    RETURN target;
  END IF;

  SELECT a.person INTO existing FROM crosswalk.account a
   WHERE a.platform_id = pid AND a.local_id = link.local_id;
  IF created THEN
    DELETE FROM crosswalk.person x WHERE x.person OPERATOR(pg_catalog.=) target;
  END IF;
  IF existing IS NULL THEN
    RAISE EXCEPTION 'account % on platform "%" was linked and unlinked concurrently', local_id, platform
      USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
  END IF;
  IF created OR existing OPERATOR(pg_catalog.=) target THEN
    RETURN existing;
  END IF;
  RAISE EXCEPTION 'account % on platform "%" is already linked to person %', local_id, platform, existing
    USING ERRCODE = 'unique_violation',
          HINT = 'If both are the same person, use crosswalk.merge(); otherwise crosswalk.unlink() it first.';
END
$$;
COMMENT ON FUNCTION crosswalk.link(text, text, crosswalk.canonical_id) IS
  'links a platform''s local user id to a person (a new one when person is NULL); idempotent';

CREATE FUNCTION crosswalk.resolve(platform text, local_id text) RETURNS crosswalk.canonical_id
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  result crosswalk.canonical_id;
BEGIN
  IF platform IS NULL OR local_id IS NULL THEN
    RETURN NULL;
  END IF;
  -- Accounts always point at the live person (merge re-points them), so one
  -- index lookup follows merges.
  SELECT a.person INTO result
    FROM crosswalk.account a JOIN crosswalk.platform p ON p.platform_id = a.platform_id
   WHERE p.name = resolve.platform AND a.local_id = resolve.local_id;
  IF result IS NULL THEN
    PERFORM crosswalk._platform_id(platform);  -- unknown platform is an error, unknown account is NULL
  END IF;
  RETURN result;
END
$$;
COMMENT ON FUNCTION crosswalk.resolve(text, text) IS
  'the person behind a platform''s local user id (following merges), or NULL when the account is unknown';

CREATE FUNCTION crosswalk.local_id(person crosswalk.canonical_id, platform text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  live crosswalk.canonical_id;
  result text;
BEGIN
  IF person IS NULL OR platform IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(x.merged_into, x.person) INTO live FROM crosswalk.person x
   WHERE x.person OPERATOR(pg_catalog.=) local_id.person;
  SELECT a.local_id INTO result
    FROM crosswalk.account a JOIN crosswalk.platform p ON p.platform_id = a.platform_id
   WHERE p.name = local_id.platform AND a.person OPERATOR(pg_catalog.=) live;
  IF result IS NULL THEN
    PERFORM crosswalk._platform_id(platform);
  END IF;
  RETURN result;
END
$$;
COMMENT ON FUNCTION crosswalk.local_id(crosswalk.canonical_id, text) IS
  'the person''s user id on a platform, or NULL when they have no account there';

CREATE FUNCTION crosswalk.translate(local_id text, from_platform text, to_platform text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  result text;
BEGIN
  IF local_id IS NULL OR from_platform IS NULL OR to_platform IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT b.local_id INTO result
    FROM crosswalk.platform pa
    JOIN crosswalk.account a ON a.platform_id = pa.platform_id
    JOIN crosswalk.account b ON b.person OPERATOR(pg_catalog.=) a.person
    JOIN crosswalk.platform pb ON pb.platform_id = b.platform_id
   WHERE pa.name = from_platform AND a.local_id = translate.local_id AND pb.name = to_platform;
  IF result IS NULL THEN
    PERFORM crosswalk._platform_id(from_platform);
    PERFORM crosswalk._platform_id(to_platform);
  END IF;
  RETURN result;
END
$$;
COMMENT ON FUNCTION crosswalk.translate(text, text, text) IS
  'platform A''s user id to platform B''s for the same person, or NULL when either account is unknown';

CREATE FUNCTION crosswalk.merge(keep crosswalk.canonical_id, absorb crosswalk.canonical_id)
RETURNS crosswalk.canonical_id
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k crosswalk.canonical_id;
  a crosswalk.canonical_id;
  clash record;
BEGIN
  IF keep IS NULL OR absorb IS NULL THEN
    RAISE EXCEPTION 'merge needs two persons, got NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF keep OPERATOR(pg_catalog.=) absorb THEN
    RAISE EXCEPTION 'cannot merge person % into itself', keep USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Lock both in a fixed order so two opposite merges cannot deadlock, and
  -- so a concurrent link waits for us.
  PERFORM FROM crosswalk.person x
    WHERE x.person OPERATOR(pg_catalog.=) ANY (ARRAY[keep, absorb])
    ORDER BY x.person FOR UPDATE;
  k := crosswalk._live_person(keep);
  a := crosswalk._live_person(absorb);
  IF k OPERATOR(pg_catalog.=) a THEN
    RETURN k;  -- already one person: idempotent
  END IF;
  PERFORM FROM crosswalk.person x
    WHERE x.person OPERATOR(pg_catalog.=) ANY (ARRAY[k, a])
    ORDER BY x.person FOR UPDATE;

  SELECT p.name, ka.local_id AS keep_id, aa.local_id AS absorb_id INTO clash
    FROM crosswalk.account ka
    JOIN crosswalk.account aa ON aa.platform_id = ka.platform_id
    JOIN crosswalk.platform p ON p.platform_id = ka.platform_id
   WHERE ka.person OPERATOR(pg_catalog.=) k AND aa.person OPERATOR(pg_catalog.=) a
   ORDER BY p.name LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'cannot merge: both persons have an account on platform "%"', clash.name
      USING ERRCODE = 'unique_violation',
            DETAIL = format('Person %s has %s there and person %s has %s.', k, clash.keep_id, a, clash.absorb_id),
            HINT = 'A person has at most one account per platform; crosswalk.unlink() one of them first.';
  END IF;

  UPDATE crosswalk.account x SET person = k WHERE x.person OPERATOR(pg_catalog.=) a;
  -- Keep merge chains one hop long: whatever pointed at the absorbed person
  -- now points at the survivor.
  UPDATE crosswalk.person x SET merged_into = k
   WHERE x.person OPERATOR(pg_catalog.=) a OR x.merged_into OPERATOR(pg_catalog.=) a;
  RETURN k;
END
$$;
COMMENT ON FUNCTION crosswalk.merge(crosswalk.canonical_id, crosswalk.canonical_id) IS
  'records that two identities are one person; the absorbed one''s accounts move to the kept one';

CREATE FUNCTION crosswalk.unlink(platform text, local_id text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  pid integer;
BEGIN
  IF platform IS NULL OR local_id IS NULL THEN
    RAISE EXCEPTION 'platform and local_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  pid := crosswalk._platform_id(platform);
  DELETE FROM crosswalk.account a WHERE a.platform_id = pid AND a.local_id = unlink.local_id;
  RETURN FOUND;
END
$$;
COMMENT ON FUNCTION crosswalk.unlink(text, text) IS
  'removes an account''s link; true when there was one. The person stays.';

------------------------------------------------------------------------------
-- Privileges: nothing that changes identities is executable by PUBLIC.
------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA crosswalk FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA crosswalk FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
  crosswalk._platform_id(text),
  crosswalk._live_person(crosswalk.canonical_id),
  crosswalk.register_platform(text, text, text, jsonb),
  crosswalk.link(text, text, crosswalk.canonical_id),
  crosswalk.merge(crosswalk.canonical_id, crosswalk.canonical_id),
  crosswalk.unlink(text, text),
  crosswalk.resolve(text, text),
  crosswalk.local_id(crosswalk.canonical_id, text),
  crosswalk.translate(text, text, text)
FROM PUBLIC;

GRANT SELECT ON crosswalk.platform, crosswalk.person, crosswalk.account TO crosswalk_reader;
GRANT EXECUTE ON FUNCTION
  crosswalk._platform_id(text),
  crosswalk.resolve(text, text),
  crosswalk.local_id(crosswalk.canonical_id, text),
  crosswalk.translate(text, text, text)
TO crosswalk_reader;
GRANT EXECUTE ON FUNCTION
  crosswalk.register_platform(text, text, text, jsonb),
  crosswalk.link(text, text, crosswalk.canonical_id),
  crosswalk.merge(crosswalk.canonical_id, crosswalk.canonical_id),
  crosswalk.unlink(text, text)
TO crosswalk_admin;
