-- crosswalk 0.7.0: platforms' HMAC secrets (HS256/384/512 tokens) are stored
-- only wrapped by the master key, in a table no role but its owner reads,
-- instead of as "oct" keys in crosswalk.platform.jwks (in clear, readable by
-- crosswalk_reader). New "oct" keys in a JWKS are refused; those already
-- there keep verifying until crosswalk.move_platform_secrets() moves them.
\echo Use "CREATE EXTENSION crosswalk" to load this file. \quit

------------------------------------------------------------------------------
-- The secrets
------------------------------------------------------------------------------
CREATE TABLE crosswalk.platform_secret (
  platform_id integer NOT NULL REFERENCES crosswalk.platform (platform_id) ON DELETE CASCADE,
  -- The token header's kid that selects the secret. NULL: the secret has no
  -- kid, and is tried for tokens without one (a token with a kid only ever
  -- matches the secret of that kid).
  kid         text CONSTRAINT platform_secret_kid_length CHECK (octet_length(kid) BETWEEN 1 AND 256),
  -- The one algorithm the secret verifies; NULL: every HS algorithm it is
  -- long enough for (as a JWK without "alg").
  alg         text CONSTRAINT platform_secret_alg_known CHECK (alg IN ('HS256', 'HS384', 'HS512')),
  -- 0x01 | nonce | AES-256-GCM(secret) | tag, under the master-derived wrap
  -- key, with the platform id, alg and kid as associated data.
  wrapped     bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT platform_secret_kid_key UNIQUE NULLS NOT DISTINCT (platform_id, kid)
);
COMMENT ON TABLE crosswalk.platform_secret IS
  'HMAC secrets of platforms that sign tokens with HS256/384/512, only ever stored wrapped (AES-256-GCM) by the master key';
-- The secrets are the user's data: pg_dump carries them (wrapped).
SELECT pg_catalog.pg_extension_config_dump('crosswalk.platform_secret', '');

-- What an administrator may see: which secrets exist, never their bytes.
CREATE VIEW crosswalk.platform_secrets AS
  SELECT p.name AS platform, s.kid, s.alg, s.created_at
    FROM crosswalk.platform_secret s
    JOIN crosswalk.platform p ON p.platform_id OPERATOR(pg_catalog.=) s.platform_id;
COMMENT ON VIEW crosswalk.platform_secrets IS 'the stored HMAC secrets of platforms, by platform and kid (not the secrets)';

-- Every backend's key cache drops a platform whose secrets change, as when
-- its row changes (the trigger function invalidates crosswalk.platform).
CREATE TRIGGER platform_secret_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crosswalk.platform_secret
  FOR EACH STATEMENT EXECUTE FUNCTION crosswalk._platform_changed();

-- Internal (C): a secret wrapped for (platform, kid, alg), after checking it.
-- The first refuses to run while the server logs bind parameters.
CREATE FUNCTION crosswalk._wrap_platform_secret(platform_id integer, kid text, alg text, secret bytea) RETURNS bytea
  AS 'MODULE_PATHNAME', 'wrap_platform_secret' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION crosswalk._wrap_jwk_secret(platform_id integer, kid text, alg text, jwk jsonb) RETURNS bytea
  AS 'MODULE_PATHNAME', 'wrap_jwk_secret' LANGUAGE C VOLATILE PARALLEL UNSAFE;

------------------------------------------------------------------------------
-- No new secrets in a JWKS
------------------------------------------------------------------------------

-- The keys of a JWKS document of one kind: 'secret' (kty oct) or 'public'
-- (any other kty); none when the document has no "keys" array.
CREATE FUNCTION crosswalk._jwks_keys(jwks jsonb, kind text) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT k.key
    FROM pg_catalog.jsonb_array_elements(
           CASE WHEN pg_catalog.jsonb_typeof(jwks OPERATOR(pg_catalog.->) 'keys') OPERATOR(pg_catalog.=) 'array'
                THEN jwks OPERATOR(pg_catalog.->) 'keys' ELSE '[]'::jsonb END) AS k(key)
   WHERE pg_catalog.jsonb_typeof(k.key) OPERATOR(pg_catalog.=) 'object'
     AND ((k.key OPERATOR(pg_catalog.->>) 'kty') OPERATOR(pg_catalog.=) 'oct')
         OPERATOR(pg_catalog.=) (kind OPERATOR(pg_catalog.=) 'secret')
$$;

-- Before a platform row is written: a JWKS may not gain an "oct" key (an
-- HMAC secret in clear); keys already there may stay, or be removed. Nor may
-- it gain public keys while the platform has stored secrets (one kind of
-- key per platform, as within a JWKS).
-- SECURITY DEFINER: it reads crosswalk.platform_secret, which the role
-- writing the platform row may not.
CREATE FUNCTION crosswalk._platform_jwks_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.jwks IS NULL OR (TG_OP = 'UPDATE' AND NEW.jwks IS NOT DISTINCT FROM OLD.jwks) THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT FROM crosswalk._jwks_keys(NEW.jwks, 'secret') n(key)
              WHERE TG_OP = 'INSERT'
                 OR NOT EXISTS (SELECT FROM crosswalk._jwks_keys(OLD.jwks, 'secret') o(key)
                                 WHERE o.key OPERATOR(pg_catalog.=) n.key)) THEN
    RAISE EXCEPTION 'a JWKS may not hold HMAC secrets (keys of kty "oct"): platform "%"', NEW.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Store the secret with crosswalk.set_platform_secret(platform, secret, kid, alg): it is kept '
                   'wrapped by the master key, readable by no role. Register the platform without the "oct" key.';
  END IF;
  IF EXISTS (SELECT FROM crosswalk._jwks_keys(NEW.jwks, 'public'))
     AND EXISTS (SELECT FROM crosswalk.platform_secret s
                  WHERE s.platform_id OPERATOR(pg_catalog.=) NEW.platform_id) THEN
    RAISE EXCEPTION 'platform "%" verifies with HMAC secrets; its JWKS may not add public keys', NEW.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A platform uses either HMAC secrets or public keys. Remove its secrets first with '
                   'crosswalk.drop_platform_secret().';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER platform_jwks_guard
  BEFORE INSERT OR UPDATE OF jwks ON crosswalk.platform
  FOR EACH ROW EXECUTE FUNCTION crosswalk._platform_jwks_guard();

------------------------------------------------------------------------------
-- Managing secrets (crosswalk_admin)
------------------------------------------------------------------------------

-- The platform row of a name, locked for update, or an error.
CREATE FUNCTION crosswalk._lock_platform(platform text) RETURNS crosswalk.platform
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p crosswalk.platform;
BEGIN
  IF platform IS NULL THEN
    RAISE EXCEPTION 'platform must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT * INTO p FROM crosswalk.platform x WHERE x.name OPERATOR(pg_catalog.=) platform FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown platform "%"', left(platform, 100)
      USING ERRCODE = 'undefined_object', HINT = 'Register it first with crosswalk.register_platform().';
  END IF;
  RETURN p;
END
$$;

-- The JWKS without its "oct" keys of this kid (NULL: those without a kid);
-- NULL when no key is left.
CREATE FUNCTION crosswalk._jwks_without_secret(jwks jsonb, kid text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN pg_catalog.count(k.key) OPERATOR(pg_catalog.=) 0 THEN NULL
              ELSE pg_catalog.jsonb_set(jwks, '{keys}', pg_catalog.jsonb_agg(k.key ORDER BY k.n)) END
    FROM pg_catalog.jsonb_array_elements(jwks OPERATOR(pg_catalog.->) 'keys') WITH ORDINALITY AS k(key, n)
   WHERE NOT ((k.key OPERATOR(pg_catalog.->>) 'kty') OPERATOR(pg_catalog.=) 'oct'
              AND (k.key OPERATOR(pg_catalog.->>) 'kid') IS NOT DISTINCT FROM kid)
$$;

CREATE FUNCTION crosswalk.set_platform_secret(platform text, secret bytea, kid text DEFAULT NULL,
                                              alg text DEFAULT 'HS256')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p crosswalk.platform;
BEGIN
  IF secret IS NULL THEN
    RAISE EXCEPTION 'secret must not be NULL' USING ERRCODE = 'null_value_not_allowed',
      HINT = 'crosswalk.drop_platform_secret() removes a secret.';
  END IF;
  p := crosswalk._lock_platform(platform);
  IF EXISTS (SELECT FROM crosswalk._jwks_keys(p.jwks, 'public')) THEN
    RAISE EXCEPTION 'platform "%" verifies with the public keys of its JWKS; it cannot also have HMAC secrets', p.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A platform uses either HMAC secrets or public keys.';
  END IF;
  -- Checked, wrapped and the parameters-logged check in C; only the wrapped
  -- bytes are stored.
  INSERT INTO crosswalk.platform_secret AS s (platform_id, kid, alg, wrapped)
  VALUES (p.platform_id, set_platform_secret.kid, set_platform_secret.alg,
          crosswalk._wrap_platform_secret(p.platform_id, set_platform_secret.kid, set_platform_secret.alg,
                                          set_platform_secret.secret))
  ON CONFLICT ON CONSTRAINT platform_secret_kid_key DO UPDATE
    SET alg = EXCLUDED.alg, wrapped = EXCLUDED.wrapped, created_at = EXCLUDED.created_at;
  -- The stored secret replaces an "oct" key of the same kid left in the JWKS.
  IF EXISTS (SELECT FROM crosswalk._jwks_keys(p.jwks, 'secret') k(key)
              WHERE (k.key OPERATOR(pg_catalog.->>) 'kid') IS NOT DISTINCT FROM set_platform_secret.kid) THEN
    UPDATE crosswalk.platform x SET jwks = crosswalk._jwks_without_secret(p.jwks, set_platform_secret.kid)
     WHERE x.platform_id OPERATOR(pg_catalog.=) p.platform_id;
  END IF;
END
$$;
COMMENT ON FUNCTION crosswalk.set_platform_secret(text, bytea, text, text) IS
  'stores (or replaces) a platform''s HMAC secret for a kid, wrapped by the master key; pass the secret as a bind parameter';

CREATE FUNCTION crosswalk.drop_platform_secret(platform text, kid text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p crosswalk.platform;
  dropped integer;
  in_jwks boolean;
BEGIN
  p := crosswalk._lock_platform(platform);
  DELETE FROM crosswalk.platform_secret s
   WHERE s.platform_id OPERATOR(pg_catalog.=) p.platform_id AND s.kid IS NOT DISTINCT FROM drop_platform_secret.kid;
  GET DIAGNOSTICS dropped = ROW_COUNT;
  in_jwks := EXISTS (SELECT FROM crosswalk._jwks_keys(p.jwks, 'secret') k(key)
                      WHERE (k.key OPERATOR(pg_catalog.->>) 'kid') IS NOT DISTINCT FROM drop_platform_secret.kid);
  IF in_jwks THEN
    UPDATE crosswalk.platform x SET jwks = crosswalk._jwks_without_secret(p.jwks, drop_platform_secret.kid)
     WHERE x.platform_id OPERATOR(pg_catalog.=) p.platform_id;
  END IF;
  RETURN dropped > 0 OR in_jwks;
END
$$;
COMMENT ON FUNCTION crosswalk.drop_platform_secret(text, text) IS
  'removes a platform''s HMAC secret of a kid (stored, or an "oct" key left in its JWKS); false when there was none';

-- The migration: every "oct" key of the platform's JWKS becomes a stored,
-- wrapped secret, and leaves the JWKS, in one transaction. The secret never
-- passes through SQL text or a parameter.
CREATE FUNCTION crosswalk.move_platform_secrets(platform text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  p crosswalk.platform;
  key jsonb;
  moved integer := 0;
BEGIN
  p := crosswalk._lock_platform(platform);
  IF EXISTS (SELECT FROM crosswalk._jwks_keys(p.jwks, 'public')) THEN
    RAISE EXCEPTION 'platform "%" has public keys in its JWKS next to HMAC secrets; they cannot be moved', p.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A platform uses either HMAC secrets or public keys: register a JWKS of one kind first.';
  END IF;
  FOR key IN SELECT k.key FROM crosswalk._jwks_keys(p.jwks, 'secret') k(key) LOOP
    IF EXISTS (SELECT FROM crosswalk.platform_secret s
                WHERE s.platform_id OPERATOR(pg_catalog.=) p.platform_id
                  AND s.kid IS NOT DISTINCT FROM (key OPERATOR(pg_catalog.->>) 'kid')) THEN
      -- A secret stored for this kid already replaces the JWKS key.
      CONTINUE;
    END IF;
    INSERT INTO crosswalk.platform_secret (platform_id, kid, alg, wrapped)
    VALUES (p.platform_id, key OPERATOR(pg_catalog.->>) 'kid', key OPERATOR(pg_catalog.->>) 'alg',
            crosswalk._wrap_jwk_secret(p.platform_id, key OPERATOR(pg_catalog.->>) 'kid',
                                       key OPERATOR(pg_catalog.->>) 'alg', key));
    moved := moved + 1;
  END LOOP;
  IF EXISTS (SELECT FROM crosswalk._jwks_keys(p.jwks, 'secret')) THEN
    -- Only "oct" keys and entries that are no keys at all were left: the
    -- platform now verifies with its stored secrets alone.
    UPDATE crosswalk.platform x SET jwks = NULL WHERE x.platform_id OPERATOR(pg_catalog.=) p.platform_id;
  END IF;
  RETURN moved;
END
$$;
COMMENT ON FUNCTION crosswalk.move_platform_secrets(text) IS
  'moves the HMAC secrets ("oct" keys) of a platform''s JWKS into crosswalk.platform_secret, wrapped by the master key';

------------------------------------------------------------------------------
-- Privileges: the table is the owner's alone; administrators see the view.
------------------------------------------------------------------------------
REVOKE ALL ON crosswalk.platform_secret, crosswalk.platform_secrets FROM PUBLIC;
GRANT SELECT ON crosswalk.platform_secrets TO crosswalk_admin;

REVOKE EXECUTE ON FUNCTION
  crosswalk._wrap_platform_secret(integer, text, text, bytea),
  crosswalk._wrap_jwk_secret(integer, text, text, jsonb),
  crosswalk._jwks_keys(jsonb, text),
  crosswalk._platform_jwks_guard(),
  crosswalk._lock_platform(text),
  crosswalk._jwks_without_secret(jsonb, text),
  crosswalk.set_platform_secret(text, bytea, text, text),
  crosswalk.drop_platform_secret(text, text),
  crosswalk.move_platform_secrets(text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  crosswalk.set_platform_secret(text, bytea, text, text),
  crosswalk.drop_platform_secret(text, text),
  crosswalk.move_platform_secrets(text)
TO crosswalk_admin;
