-- Platforms, persons and accounts: link, resolve, local_id, translate, merge,
-- unlink, and what each does with bad input.
-- Runs q and shows its error (SQLSTATE, message, detail, hint) with the
-- random canonical ids replaced by <id>.
CREATE FUNCTION pg_temp.err(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  detail text;
  hint text;
BEGIN
  EXECUTE q;
  RETURN NEXT 'no error';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN NEXT regexp_replace(SQLSTATE || ': ' || SQLERRM, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
  IF detail <> '' THEN
    RETURN NEXT regexp_replace('DETAIL: ' || detail, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
  END IF;
  IF hint <> '' THEN
    RETURN NEXT 'HINT: ' || hint;
  END IF;
END $$;
-- Counts of every identity table, to show that a failed call changed nothing.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
  SELECT format('platforms=%s persons=%s merged=%s accounts=%s',
                (SELECT count(*) FROM crosswalk.platform),
                (SELECT count(*) FROM crosswalk.person),
                (SELECT count(*) FROM crosswalk.person WHERE merged_into IS NOT NULL),
                (SELECT count(*) FROM crosswalk.account))
$$;

-- register_platform: an id; registering again returns the same id and keeps
-- what is not given.
SELECT crosswalk.register_platform('learnhub', 'https://login.learnhub.example', 'learnhub-db') AS learnhub;
SELECT crosswalk.register_platform('skillpath') AS skillpath;
SELECT crosswalk.register_platform('liveclass') AS liveclass;
SELECT crosswalk.register_platform('learnhub') AS learnhub_again;
SELECT name, issuer, audience FROM crosswalk.platform ORDER BY platform_id;
SELECT crosswalk.register_platform(NULL);
SELECT pg_temp.err($$SELECT crosswalk.register_platform('has space')$$);
SELECT pg_temp.err($$SELECT crosswalk.register_platform('')$$);
SELECT pg_temp.err($$SELECT crosswalk.register_platform('x', '')$$);
SELECT pg_temp.err($$SELECT crosswalk.register_platform('x', NULL, NULL, '[1]')$$);
-- Two platforms cannot claim one token issuer.
SELECT pg_temp.err($$SELECT crosswalk.register_platform('impostor', 'https://login.learnhub.example')$$);
SELECT pg_temp.state();

-- link: a new person for a new account; idempotent.
CREATE TEMP TABLE p AS SELECT crosswalk.link('learnhub', '42') AS ada;
SELECT crosswalk.link('learnhub', '42') = (SELECT ada FROM p) AS link_is_idempotent;
SELECT crosswalk.resolve('learnhub', '42') = (SELECT ada FROM p) AS resolves;
-- The same person on another platform.
SELECT crosswalk.link('skillpath', 'a9f3c2', (SELECT ada FROM p)) = (SELECT ada FROM p) AS linked_to_ada;
SELECT crosswalk.link('skillpath', 'a9f3c2', (SELECT ada FROM p)) = (SELECT ada FROM p) AS again_idempotent;
SELECT crosswalk.translate('42', 'learnhub', 'skillpath');
SELECT crosswalk.translate('a9f3c2', 'skillpath', 'learnhub');
SELECT crosswalk.local_id((SELECT ada FROM p), 'skillpath');
SELECT crosswalk.local_id((SELECT ada FROM p), 'liveclass') IS NULL AS no_account_is_null;
SELECT method FROM crosswalk.account ORDER BY local_id;

-- Unknown accounts are NULL; unknown platforms are errors; NULL in, NULL out.
SELECT crosswalk.resolve('learnhub', 'nobody') IS NULL AS unknown_account;
SELECT crosswalk.translate('nobody', 'learnhub', 'skillpath') IS NULL AS unknown_account;
SELECT crosswalk.translate('42', 'learnhub', 'liveclass') IS NULL AS no_account_there;
SELECT crosswalk.resolve('nowhere', '42');
SELECT pg_temp.err($$SELECT crosswalk.translate('42', 'learnhub', 'nowhere')$$);
SELECT pg_temp.err($$SELECT crosswalk.translate('42', 'nowhere', 'learnhub')$$);
SELECT pg_temp.err($$SELECT crosswalk.local_id(crosswalk.new_canonical_id(), 'nowhere')$$);
SELECT crosswalk.resolve(NULL, '42') IS NULL, crosswalk.resolve('learnhub', NULL) IS NULL,
       crosswalk.translate(NULL, 'learnhub', 'skillpath') IS NULL,
       crosswalk.local_id(NULL, 'learnhub') IS NULL;
SELECT crosswalk.local_id(crosswalk.new_canonical_id(), 'learnhub') IS NULL AS unknown_person_is_null;

-- Bad links: each an error, none a half-done change.
SELECT pg_temp.state();
SELECT crosswalk.link('nowhere', '1');
SELECT crosswalk.link(NULL, '1');
SELECT pg_temp.err($$SELECT crosswalk.link('learnhub', NULL)$$);
SELECT pg_temp.err($$SELECT crosswalk.link('learnhub', '')$$);
SELECT pg_temp.err($$SELECT crosswalk.link('learnhub', repeat('x', 600))$$);
SELECT pg_temp.err($$SELECT crosswalk.link('learnhub', '7', '00000000-0000-7000-8000-000000000000')$$);
-- An account already linked to someone else.
CREATE TEMP TABLE q AS SELECT crosswalk.link('learnhub', '43') AS bob;
SELECT pg_temp.err($$SELECT crosswalk.link('learnhub', '43', (SELECT ada FROM p))$$);
-- A second account for the same person on one platform.
SELECT pg_temp.err($$SELECT crosswalk.link('learnhub', '44', (SELECT ada FROM p))$$);
SELECT pg_temp.state();

-- merge: Bob's skillpath account turns out to be his; then Bob and Ada are
-- found to be one person... but both have a learnhub account.
SELECT crosswalk.link('liveclass', 'bob@live', (SELECT bob FROM q)) = (SELECT bob FROM q) AS bob_on_liveclass;
SELECT pg_temp.err($$SELECT crosswalk.merge((SELECT ada FROM p), (SELECT bob FROM q))$$);
SELECT pg_temp.state();
-- Unlink Bob's learnhub account and the merge goes through.
SELECT crosswalk.unlink('learnhub', '43') AS unlinked;
SELECT crosswalk.unlink('learnhub', '43') AS unlinked_again;
SELECT crosswalk.merge((SELECT ada FROM p), (SELECT bob FROM q)) = (SELECT ada FROM p) AS kept_ada;
SELECT crosswalk.resolve('liveclass', 'bob@live') = (SELECT ada FROM p) AS resolve_follows_merge;
SELECT crosswalk.local_id((SELECT bob FROM q), 'skillpath') AS via_absorbed_id;
SELECT crosswalk.translate('bob@live', 'liveclass', 'learnhub');
-- Merging again, either way round, is a no-op that names the survivor.
SELECT crosswalk.merge((SELECT ada FROM p), (SELECT bob FROM q)) = (SELECT ada FROM p) AS idempotent;
SELECT crosswalk.merge((SELECT bob FROM q), (SELECT ada FROM p)) = (SELECT ada FROM p) AS reverse_is_noop;
-- Linking to an absorbed person links to the survivor.
SELECT crosswalk.unlink('liveclass', 'bob@live');
SELECT crosswalk.link('liveclass', 'ada@live', (SELECT bob FROM q)) = (SELECT ada FROM p) AS relinks_to_survivor;
SELECT crosswalk.unlink('liveclass', 'ada@live');
SELECT pg_temp.state();

-- Merge chains stay one hop long: Cy absorbs Ada (who absorbed Bob).
CREATE TEMP TABLE r AS SELECT crosswalk.link('liveclass', 'cy') AS cy;
SELECT crosswalk.merge((SELECT cy FROM r), (SELECT ada FROM p)) = (SELECT cy FROM r) AS kept_cy;
SELECT count(*) AS persons_pointing_at_a_merged_person
  FROM crosswalk.person x JOIN crosswalk.person y ON x.merged_into = y.person
 WHERE y.merged_into IS NOT NULL;
SELECT crosswalk.resolve('learnhub', '42') = (SELECT cy FROM r) AS ada_is_cy,
       crosswalk.local_id((SELECT bob FROM q), 'learnhub') AS bob_via_chain;

-- Merge errors.
SELECT pg_temp.err($$SELECT crosswalk.merge((SELECT cy FROM r), (SELECT cy FROM r))$$);
SELECT pg_temp.err($$SELECT crosswalk.merge(NULL, crosswalk.new_canonical_id())$$);
SELECT pg_temp.err($$SELECT crosswalk.merge((SELECT cy FROM r), '00000000-0000-7000-8000-000000000000')$$);
SELECT pg_temp.err($$SELECT crosswalk.unlink('nowhere', '1')$$);
SELECT pg_temp.err($$SELECT crosswalk.unlink('learnhub', NULL)$$);
SELECT pg_temp.state();

-- A DBA joins platform A's table to platform B's by canonical id, through
-- index scans on crosswalk.account.
CREATE TABLE learnhub_scores (user_id integer, course_id text, score integer);
CREATE TABLE skillpath_progress (user_id text, course_id text, progress numeric);
INSERT INTO learnhub_scores SELECT i, 'c' || (i % 7), i % 101 FROM generate_series(1000, 1999) i;
INSERT INTO skillpath_progress SELECT 'sp-' || i, 'c' || (i % 7), (i % 101) / 100.0 FROM generate_series(1000, 1999) i;
SELECT count(crosswalk.link('skillpath', 'sp-' || i, crosswalk.link('learnhub', i::text)))
  FROM generate_series(1000, 1999) i;
ANALYZE crosswalk.account, crosswalk.platform, learnhub_scores, skillpath_progress;
EXPLAIN (COSTS OFF)
SELECT s.user_id, s.score, p.progress
  FROM learnhub_scores s
  JOIN crosswalk.account a ON a.platform_id = 1 AND a.local_id = s.user_id::text
  JOIN crosswalk.account b ON b.person = a.person AND b.platform_id = 2
  JOIN skillpath_progress p ON p.user_id = b.local_id AND p.course_id = s.course_id
 WHERE s.user_id = 1234;
SELECT s.user_id, s.score, p.user_id AS skillpath_user, p.progress
  FROM learnhub_scores s
  JOIN crosswalk.account a ON a.platform_id = 1 AND a.local_id = s.user_id::text
  JOIN crosswalk.account b ON b.person = a.person AND b.platform_id = 2
  JOIN skillpath_progress p ON p.user_id = b.local_id AND p.course_id = s.course_id
 WHERE s.user_id = 1234;
SELECT count(*) AS matching_rows
  FROM learnhub_scores s
  JOIN crosswalk.account a ON a.platform_id = 1 AND a.local_id = s.user_id::text
  JOIN crosswalk.account b ON b.person = a.person AND b.platform_id = 2
  JOIN skillpath_progress p ON p.user_id = b.local_id AND p.course_id = s.course_id
 WHERE p.progress * 100 = s.score;
DROP TABLE learnhub_scores, skillpath_progress;
