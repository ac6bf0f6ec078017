-- The canonical_id type: I/O, bad input, comparisons, operator classes, casts.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Text I/O: standard UUID form in, lower case out.
SELECT '0190A8C4-5E3B-7CDE-8F01-23456789ABCD'::crosswalk.canonical_id;
SELECT '00000000-0000-0000-0000-000000000000'::crosswalk.canonical_id;
SELECT 'ffffffff-ffff-ffff-ffff-ffffffffffff'::crosswalk.canonical_id::text;

-- Bad input: SQLSTATE 22P02 and a message quoting the input.
SELECT ''::crosswalk.canonical_id;
SELECT '0190a8c4-5e3b-7cde-8f01-23456789abc'::crosswalk.canonical_id;
SELECT pg_temp.err($q$SELECT '0190a8c4-5e3b-7cde-8f01-23456789abcde'::crosswalk.canonical_id$q$);
SELECT pg_temp.err($q$SELECT '0190a8c45e3b7cde8f0123456789abcd'::crosswalk.canonical_id$q$);
SELECT pg_temp.err($q$SELECT '0190a8c4-5e3b-7cde-8f01-23456789abcg'::crosswalk.canonical_id$q$);
SELECT pg_temp.err($q$SELECT '{0190a8c4-5e3b-7cde-8f01-23456789abc}'::crosswalk.canonical_id$q$);
SELECT pg_temp.err($q$SELECT ' 0190a8c4-5e3b-7cde-8f01-23456789abcd'::crosswalk.canonical_id$q$);
SELECT pg_temp.err($q$SELECT E'0190a8c4-5e3b-7cde-8f01-23456789abc\n'::crosswalk.canonical_id$q$);
-- 1 MB of text: the message quotes a bounded prefix and says how long it was.
SELECT pg_temp.err($q$SELECT repeat('a', 1048576)::crosswalk.canonical_id$q$);
SELECT NULL::crosswalk.canonical_id IS NULL AS null_stays_null;

-- Comparisons agree with uuid's (bytewise) order.
CREATE TEMP TABLE ids AS
  SELECT (md5(i::text)::uuid)::crosswalk.canonical_id AS id, md5(i::text)::uuid AS u
    FROM generate_series(1, 1000) i;
SELECT count(*) AS disagreements
  FROM ids a, ids b
 WHERE (a.id < b.id) <> (a.u < b.u) OR (a.id <= b.id) <> (a.u <= b.u)
    OR (a.id = b.id) <> (a.u = b.u) OR (a.id <> b.id) <> (a.u <> b.u)
    OR (a.id >= b.id) <> (a.u >= b.u) OR (a.id > b.id) <> (a.u > b.u);
SELECT bool_and(crosswalk.canonical_id_cmp(a.id, b.id) = CASE WHEN a.u < b.u THEN -1 WHEN a.u > b.u THEN 1 ELSE 0 END)
  FROM ids a, ids b WHERE a.u::text < '1' AND b.u::text < '1';
SELECT (SELECT array_agg(id::text ORDER BY id) FROM ids) = (SELECT array_agg(u::text ORDER BY u) FROM ids) AS same_order;

-- Casts to and from uuid are explicit and lossless.
SELECT '0190a8c4-5e3b-7cde-8f01-23456789abcd'::crosswalk.canonical_id::uuid;
SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid::crosswalk.canonical_id;
SELECT count(*) AS lossy FROM ids WHERE id::uuid <> u OR u::crosswalk.canonical_id <> id;
-- No implicit cast: comparing with uuid needs one.
SELECT pg_temp.err($q$SELECT '0190a8c4-5e3b-7cde-8f01-23456789abcd'::crosswalk.canonical_id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid$q$);

-- Primary keys, unique constraints, btree and hash indexes.
CREATE TEMP TABLE people (id crosswalk.canonical_id PRIMARY KEY, name text);
INSERT INTO people SELECT id, 'p' || row_number() OVER (ORDER BY u) FROM ids;
INSERT INTO people SELECT id, 'again' FROM ids ORDER BY u LIMIT 1;
ANALYZE people;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT name FROM people WHERE id = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
SELECT name FROM people WHERE id = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
SELECT count(*) FROM people WHERE id > 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
SELECT count(*) FROM ids WHERE u > 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
CREATE TEMP TABLE hashed (id crosswalk.canonical_id);
INSERT INTO hashed SELECT id FROM ids;
CREATE INDEX hashed_idx ON hashed USING hash (id);
ANALYZE hashed;
EXPLAIN (COSTS OFF) SELECT count(*) FROM hashed WHERE id = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
SELECT count(*) FROM hashed WHERE id = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b';
RESET enable_seqscan;

-- Hash joins, merge joins, GROUP BY, DISTINCT.
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM people p JOIN ids i ON p.id = i.id;
SELECT count(*) FROM people p JOIN ids i ON p.id = i.id;
SET enable_hashjoin = off;
SET enable_mergejoin = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM people p JOIN ids i ON p.id = i.id;
SELECT count(*) FROM people p JOIN ids i ON p.id = i.id;
RESET enable_nestloop;
RESET enable_hashjoin;
RESET enable_mergejoin;
SET enable_sort = off;
SELECT count(*) FROM (SELECT id FROM ids UNION ALL SELECT id FROM ids) x GROUP BY id HAVING count(*) <> 2;
RESET enable_sort;
SET enable_hashagg = off;
SELECT count(DISTINCT id) FROM (SELECT id FROM ids UNION ALL SELECT id FROM ids) x;
RESET enable_hashagg;
-- The hash function agrees with uuid's, and the extended one uses its seed.
SELECT bool_and(crosswalk.canonical_id_hash(id) = uuid_hash(u)) FROM ids;
SELECT bool_and(crosswalk.canonical_id_hash_extended(id, 7) = uuid_hash_extended(u, 7)) AS seeded,
       bool_or(crosswalk.canonical_id_hash_extended(id, 7) <> crosswalk.canonical_id_hash_extended(id, 8)) AS seed_matters
  FROM ids;

-- new_canonical_id(): RFC 9562 UUIDv7, strictly increasing within a backend,
-- its timestamp the current time.
CREATE TEMP TABLE fresh AS
  SELECT n, crosswalk.new_canonical_id() AS id FROM generate_series(1, 20000) n;
SELECT count(*) AS not_version_7 FROM fresh WHERE substr(id::text, 15, 1) <> '7';
SELECT count(*) AS not_variant_10 FROM fresh WHERE substr(id::text, 20, 1) NOT IN ('8', '9', 'a', 'b');
SELECT count(*) AS not_increasing
  FROM (SELECT id, lag(id) OVER (ORDER BY n) AS prev FROM fresh) x WHERE prev >= id;
SELECT count(DISTINCT id) AS distinct_ids FROM fresh;
SELECT abs(extract(epoch FROM now()) * 1000
           - ('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint) < 60000 AS timestamp_is_now
  FROM fresh WHERE n = 1;
