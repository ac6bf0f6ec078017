#!/usr/bin/env bash
# bench/identity: resolve()/translate() against the hand-written join over the
# same tables, 1M linked persons (2M accounts), in one run on one cluster.
#   point lookups: one query per lookup (pgbench, prepared statements, 1 client)
#   bulk: one query resolving 200k ids
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CROSSWALK_PG_BIN:?run through make bench}"
PERSONS=${PERSONS:-1000000}
LOOKUPS=${LOOKUPS:-200000}
POINT_TX=${POINT_TX:-50000}

read -r dir port < <(scripts/pgcluster.sh start --owner $$ --conf "shared_buffers = 512MB" --conf "work_mem = 64MB")
trap 'scripts/pgcluster.sh stop "$dir"' EXIT INT TERM
psql() { scripts/pgcluster.sh psql "$dir" "$@"; }

psql -q <<SQL
CREATE EXTENSION crosswalk;
SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath');
-- Bulk-load the identity tables directly (the benchmark is about lookups).
INSERT INTO crosswalk.person (person)
  SELECT crosswalk.new_canonical_id() FROM generate_series(1, $PERSONS);
INSERT INTO crosswalk.account (platform_id, local_id, person)
  SELECT 1, (1000000 + row_number() OVER ())::text, person FROM crosswalk.person;
INSERT INTO crosswalk.account (platform_id, local_id, person)
  SELECT 2, md5(local_id), person FROM crosswalk.account WHERE platform_id = 1;
CREATE TABLE lookups AS
  SELECT (1000000 + 1 + (hashint4(i) & 2147483647) % $PERSONS)::text AS local_id
    FROM generate_series(1, $LOOKUPS) i;
VACUUM ANALYZE;
SQL

# Runs a query 3 times and prints the best wall time in milliseconds.
best_ms() {
  local q=$1 best=
  for _ in 1 2 3; do
    local t
    t=$(psql -tA -c '\timing on' -c "$q" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

bulk_resolve=$(best_ms "SELECT count(crosswalk.resolve('learnhub', local_id)) FROM lookups")
bulk_join=$(best_ms "SELECT count(a.person) FROM lookups l JOIN crosswalk.account a ON a.platform_id = (SELECT platform_id FROM crosswalk.platform WHERE name = 'learnhub') AND a.local_id = l.local_id")
bulk_translate=$(best_ms "SELECT count(crosswalk.translate(local_id, 'learnhub', 'skillpath')) FROM lookups")
bulk_tjoin=$(best_ms "SELECT count(b.local_id) FROM lookups l JOIN crosswalk.account a ON a.platform_id = 1 AND a.local_id = l.local_id JOIN crosswalk.account b ON b.person = a.person AND b.platform_id = 2")

pgbench_tps() {
  local script=$1
  printf '%s\n' "$script" >"$dir/bench.sql"
  "$CROSSWALK_PG_BIN/pgbench" -h "$dir" -p "$port" -U postgres -n -M prepared -c 1 -t "$POINT_TX" \
    -f "$dir/bench.sql" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
max() { awk "BEGIN{print ($1 > $2) ? $1 : $2}"; }
rnd="\\set id random(1000001, $((1000000 + PERSONS)))"
q_resolve="SELECT crosswalk.resolve('learnhub', :id::text);"
q_join="SELECT a.person FROM crosswalk.account a JOIN crosswalk.platform p ON p.platform_id = a.platform_id WHERE p.name = 'learnhub' AND a.local_id = :id::text;"
q_translate="SELECT crosswalk.translate(:id::text, 'learnhub', 'skillpath');"
q_tjoin="SELECT b.local_id FROM crosswalk.platform pa JOIN crosswalk.account a ON a.platform_id = pa.platform_id JOIN crosswalk.account b ON b.person = a.person JOIN crosswalk.platform pb ON pb.platform_id = b.platform_id WHERE pa.name = 'learnhub' AND a.local_id = :id::text AND pb.name = 'skillpath';"
point_resolve=0 point_join=0 point_translate=0 point_tjoin=0
# Alternate the contenders and keep each one's best round, so that load from
# elsewhere on the machine hits both alike.
for _ in 1 2 3; do
  point_resolve=$(max "$point_resolve" "$(pgbench_tps "$rnd
$q_resolve")")
  point_join=$(max "$point_join" "$(pgbench_tps "$rnd
$q_join")")
  point_translate=$(max "$point_translate" "$(pgbench_tps "$rnd
$q_translate")")
  point_tjoin=$(max "$point_tjoin" "$(pgbench_tps "$rnd
$q_tjoin")")
done

printf '%s persons, %s accounts; bulk = one query over %s lookups (best of 3); point = best of 3 alternating pgbench runs of %s prepared single-lookup queries, 1 client\n\n' \
  "$PERSONS" "$((2 * PERSONS))" "$LOOKUPS" "$POINT_TX"
printf '%-22s %16s %16s %10s\n' "case" "crosswalk" "hand-written" "ratio"
printf '%-22s %13s ms %13s ms %9sx\n' "bulk resolve" "$bulk_resolve" "$bulk_join" "$(ratio "$bulk_resolve" "$bulk_join")"
printf '%-22s %13s ms %13s ms %9sx\n' "bulk translate" "$bulk_translate" "$bulk_tjoin" "$(ratio "$bulk_translate" "$bulk_tjoin")"
printf '%-22s %12s tps %12s tps %9sx\n' "point resolve" "$point_resolve" "$point_join" "$(ratio "$point_join" "$point_resolve")"
printf '%-22s %12s tps %12s tps %9sx\n' "point translate" "$point_translate" "$point_tjoin" "$(ratio "$point_tjoin" "$point_translate")"
echo
echo "ratio = crosswalk time / hand-written time (lower is better; 1.00 = as fast as the join)"
