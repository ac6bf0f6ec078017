#!/usr/bin/env bash
# `make demo`: two throwaway platforms, one person across both.
#
# learnhub (integer user ids, course scores 0-100) and skillpath (uuid user
# ids, progress 0.0-1.0) run as two separate PostgreSQL clusters. Both install
# crosswalk; learnhub's database is the identity hub. The demo links a few
# hundred learners who use both platforms, then answers a question neither
# platform could answer alone: how does each person do on the same course on
# both sides? Finally crosswalk-sync migrates learnhub's scores into
# skillpath's progress (user ids translated, learners new to skillpath
# provisioned) and streams live changes, and the two sides are compared.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CROSSWALK_PG_BIN:?run through make demo}"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

read -r lh_dir lh_port < <(scripts/pgcluster.sh start --owner $$)
read -r sp_dir sp_port < <(scripts/pgcluster.sh start --owner $$)
trap 'scripts/pgcluster.sh stop "$lh_dir" "$sp_dir"' EXIT INT TERM

lh() { scripts/pgcluster.sh psql "$lh_dir" -d learnhub "$@"; }
sp() { scripts/pgcluster.sh psql "$sp_dir" -d skillpath "$@"; }
scripts/pgcluster.sh psql "$lh_dir" -c "CREATE DATABASE learnhub"
scripts/pgcluster.sh psql "$sp_dir" -c "CREATE DATABASE skillpath"

say "Two platforms: learnhub on port $lh_port, skillpath on port $sp_port"
lh <<'SQL'
CREATE EXTENSION crosswalk;
CREATE TABLE users (user_id integer PRIMARY KEY, email text NOT NULL UNIQUE, name text);
CREATE TABLE scores (user_id integer REFERENCES users, course_id text, score integer CHECK (score BETWEEN 0 AND 100),
                     PRIMARY KEY (user_id, course_id));
-- 400 learners; ids 1000..1399
INSERT INTO users SELECT 1000 + i, 'learner' || i || '@example.org', 'Learner ' || i FROM generate_series(0, 399) i;
INSERT INTO scores SELECT 1000 + i, c, (i * 37 + length(c) * 11) % 101
  FROM generate_series(0, 399) i, unnest(ARRAY['sql-101', 'rust-201', 'stats-110']) c;
SQL
sp <<'SQL'
CREATE EXTENSION crosswalk;
CREATE TABLE learners (user_id uuid PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE progress (user_id uuid REFERENCES learners, course_id text, progress numeric(4,3),
                       PRIMARY KEY (user_id, course_id));
-- 350 learners, 300 of whom also study on learnhub (learner100..learner399)
INSERT INTO learners SELECT md5('sp' || i)::uuid, 'learner' || i || '@example.org' FROM generate_series(100, 449) i;
INSERT INTO progress SELECT md5('sp' || i)::uuid, c, ((i * 37 + length(c) * 11) % 101) / 100.0
  FROM generate_series(100, 449) i, unnest(ARRAY['sql-101', 'stats-110']) c;
SQL
echo "learnhub: $(lh -tAc 'SELECT count(*) FROM users') users; skillpath: $(sp -tAc 'SELECT count(*) FROM learners') learners"

say "Register both platforms in the identity hub (learnhub's database)"
lh -c "SELECT crosswalk.register_platform('learnhub') AS learnhub_id, crosswalk.register_platform('skillpath') AS skillpath_id"

say "Link accounts: every learnhub user gets a canonical id; skillpath learners with the same e-mail join that person"
# skillpath's learners reach the hub through postgres_fdw, so the hub can match them.
lh <<SQL
CREATE EXTENSION postgres_fdw;
CREATE SERVER skillpath FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host '$sp_dir', port '$sp_port', dbname 'skillpath');
CREATE USER MAPPING FOR CURRENT_USER SERVER skillpath OPTIONS (user 'postgres');
CREATE SCHEMA skillpath;
IMPORT FOREIGN SCHEMA public FROM SERVER skillpath INTO skillpath;
SELECT count(crosswalk.link('learnhub', user_id::text)) AS learnhub_accounts_linked FROM users;
SELECT count(crosswalk.link('skillpath', l.user_id::text,
                            crosswalk.resolve('learnhub', u.user_id::text))) AS skillpath_accounts_joined
  FROM skillpath.learners l JOIN users u USING (email);
SELECT count(crosswalk.link('skillpath', l.user_id::text)) AS skillpath_only_accounts
  FROM skillpath.learners l WHERE crosswalk.resolve('skillpath', l.user_id::text) IS NULL;
SELECT (SELECT count(*) FROM crosswalk.person) AS persons,
       (SELECT count(*) FROM crosswalk.account) AS accounts,
       (SELECT count(*) FROM (SELECT person FROM crosswalk.account GROUP BY person HAVING count(*) = 2) x)
         AS persons_on_both_platforms;
SQL

say "One person, two user ids"
lh -c "SELECT crosswalk.resolve('learnhub', '1234') AS canonical_id,
              crosswalk.translate('1234', 'learnhub', 'skillpath') AS skillpath_user_id,
              crosswalk.translate(crosswalk.translate('1234', 'learnhub', 'skillpath'), 'skillpath', 'learnhub')
                AS back_to_learnhub"

say "A cross-platform query by canonical id: the same course on both platforms"
lh <<'SQL'
SELECT a.person AS canonical_id, u.user_id AS learnhub_user, b.local_id::uuid AS skillpath_user,
       s.course_id, s.score AS learnhub_score, p.progress AS skillpath_progress
  FROM users u
  JOIN scores s USING (user_id)
  JOIN crosswalk.account a ON a.platform_id = 1 AND a.local_id = u.user_id::text
  JOIN crosswalk.account b ON b.person = a.person AND b.platform_id = 2
  JOIN skillpath.progress p ON p.user_id = b.local_id::uuid AND p.course_id = s.course_id
 WHERE u.user_id IN (1100, 1234, 1399)
 ORDER BY u.user_id, s.course_id;
SELECT count(*) AS course_results_on_both_platforms,
       count(*) FILTER (WHERE p.progress * 100 = s.score) AS agreeing
  FROM scores s
  JOIN crosswalk.account a ON a.platform_id = 1 AND a.local_id = s.user_id::text
  JOIN crosswalk.account b ON b.person = a.person AND b.platform_id = 2
  JOIN skillpath.progress p ON p.user_id = b.local_id::uuid AND p.course_id = s.course_id;
SQL

say "Two accounts found to be one person: merge"
lh <<'SQL'
-- learnhub user 1050 has no skillpath account; an old import made one for
-- them under a stray person.
SELECT crosswalk.translate('1050', 'learnhub', 'skillpath') AS before_merge;
SELECT crosswalk.link('skillpath', 'legacy-import-50') IS NOT NULL AS stray_account_linked;
SELECT crosswalk.merge(crosswalk.resolve('learnhub', '1050'), crosswalk.resolve('skillpath', 'legacy-import-50'))
         = crosswalk.resolve('learnhub', '1050') AS merged_into_learnhub_person;
SELECT crosswalk.translate('1050', 'learnhub', 'skillpath') AS after_merge,
       crosswalk.translate('legacy-import-50', 'skillpath', 'learnhub') AS and_back;
SQL
say "crosswalk-sync: migrate learnhub's scores into skillpath's progress, then stream live changes"
# The stray import account is retired first: skillpath ids are uuids.
lh -c "SELECT crosswalk.unlink('skillpath', 'legacy-import-50') AS stray_account_retired"
# skillpath keeps learnhub's results in its own shape: uuid user ids, progress
# 0.0-1.0. Learners new to skillpath are provisioned by skillpath's own
# function (idempotent per learnhub user) and linked in the hub.
sp <<'SQL'
CREATE TABLE course_progress (user_id uuid REFERENCES learners, course_id text,
                              progress numeric(4,3) CHECK (progress BETWEEN 0 AND 1),
                              PRIMARY KEY (user_id, course_id));
CREATE FUNCTION provision_learner(source jsonb) RETURNS text LANGUAGE sql AS $$
  INSERT INTO learners (user_id, email)
  VALUES (gen_random_uuid(), 'learnhub-' || (source->>'user_id') || '@provisioned.example.org')
  ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
  RETURNING user_id::text
$$;
SQL
cat >"$lh_dir/sync.json" <<JSON
{
  "source":   { "dsn": "host=$lh_dir port=$lh_port user=postgres dbname=learnhub", "platform": "learnhub",
                "publication": "crosswalk", "create_publication": true },
  "peers": [
    { "name": "skillpath", "dsn": "host=$sp_dir port=$sp_port user=postgres dbname=skillpath",
      "platform": "skillpath", "on_unmapped_identity": "provision",
      "provision_sql": "SELECT public.provision_learner(\$1::jsonb)",
      "tables": [
        { "source": "public.scores", "target": "public.course_progress", "key": ["user_id", "course_id"],
          "columns": { "user_id": { "identity": "user_id" }, "course_id": "course_id",
                       "progress": "score / 100.0" } } ] } ]
}
JSON
sync=build/crosswalk-sync
"$sync" check -c "$lh_dir/sync.json" 2>/dev/null
"$sync" run -c "$lh_dir/sync.json" 2>"$lh_dir/sync.log" &
sync_pid=$!
trap 'kill "$sync_pid" 2>/dev/null || true; wait "$sync_pid" 2>/dev/null || true; scripts/pgcluster.sh stop "$lh_dir" "$sp_dir"' EXIT INT TERM
until [ "$(sp -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'crosswalk_sync' AND tablename = 'progress'")" = 1 ] &&
      [ "$(sp -tAc "SELECT count(*) FROM crosswalk_sync.progress")" = 1 ]; do sleep 0.2; done
echo "migrated: $(sp -tAc 'SELECT count(*) FROM course_progress') results," \
     "$(sp -tAc "SELECT count(*) FROM learners WHERE email LIKE 'learnhub-%'") learners provisioned on skillpath"

say "Live workload on learnhub: a new learner, score changes, a withdrawal"
lh <<'SQL'
INSERT INTO users VALUES (1400, 'newcomer@example.org', 'Newcomer');
INSERT INTO scores VALUES (1400, 'sql-101', 12), (1400, 'rust-201', 3);
UPDATE scores SET score = LEAST(score + 15, 100) WHERE user_id BETWEEN 1100 AND 1149;
UPDATE scores SET score = 88 WHERE user_id = 1400 AND course_id = 'sql-101';
DELETE FROM scores WHERE user_id = 1234 AND course_id = 'rust-201';
BEGIN;
UPDATE scores SET score = 100 WHERE course_id = 'stats-110' AND score >= 95;
DELETE FROM scores WHERE user_id = 1399;
COMMIT;
SQL
target=$(lh -tAc "SELECT pg_current_wal_insert_lsn()")
until [ "$(lh -tAc "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'crosswalk_skillpath'")" = t ]; do
  sleep 0.2
done
lh -c "IMPORT FOREIGN SCHEMA public LIMIT TO (course_progress, learners) FROM SERVER skillpath INTO skillpath" 2>/dev/null ||
  lh -c "IMPORT FOREIGN SCHEMA public LIMIT TO (course_progress) FROM SERVER skillpath INTO skillpath"

say "Side by side: learnhub score, skillpath progress (moved, mapped and translated by crosswalk-sync)"
lh <<'SQL'
SELECT s.user_id AS learnhub_user, cp.user_id AS skillpath_user, s.course_id, s.score, cp.progress
  FROM scores s
  LEFT JOIN skillpath.course_progress cp
         ON cp.user_id = crosswalk.translate(s.user_id::text, 'learnhub', 'skillpath')::uuid
        AND cp.course_id = s.course_id
 WHERE s.user_id IN (1000, 1120, 1234, 1400)
 ORDER BY 1, 3;
SQL

say "Proof: the two sides match row for row"
lh <<'SQL'
WITH expected AS (SELECT crosswalk.translate(user_id::text, 'learnhub', 'skillpath') AS user_id, course_id,
                         score / 100.0 AS progress FROM scores),
     actual AS (SELECT user_id::text, course_id, progress FROM skillpath.course_progress)
SELECT (SELECT count(*) FROM scores) AS learnhub_results,
       (SELECT count(*) FROM actual) AS skillpath_results,
       (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual) x) AS missing_on_skillpath,
       (SELECT count(*) FROM (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected) x) AS extra_on_skillpath,
       (SELECT count(*) FROM expected WHERE user_id IS NULL) AS learners_without_skillpath_account;
SQL
"$sync" status -c "$lh_dir/sync.json"
kill -TERM "$sync_pid"; wait "$sync_pid" || true
echo "crosswalk-sync log: $(wc -l <"$lh_dir/sync.log") JSON lines, e.g.:"
grep -m3 -E '"event":"(snapshot_done|provisioned|streaming)"' "$lh_dir/sync.log" || true

say "Done: the clusters are stopped and removed on exit."
