#!/usr/bin/env bash
# bench/ledger: appends from 8 concurrent sessions through crosswalk.record()
# vs plain INSERTs into a table of the same shape; then verify_ledger() over
# the whole chain (1M entries by default), in one run on one cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CROSSWALK_PG_BIN:?run through make bench}"
CLIENTS=${CLIENTS:-8}
APPENDS=${APPENDS:-2000}        # per client
VERIFY_ROWS=${VERIFY_ROWS:-1000000}

read -r dir port < <(scripts/pgcluster.sh start --owner $$ --conf "shared_buffers = 512MB" --conf "max_connections = 50")
trap 'scripts/pgcluster.sh stop "$dir"' EXIT INT TERM
psql() { scripts/pgcluster.sh psql "$dir" "$@"; }
psql -q <<'SQL' >/dev/null
CREATE EXTENSION crosswalk;
SELECT crosswalk.register_platform('learnhub');
CREATE TABLE people AS SELECT crosswalk.link('learnhub', 'u' || i) AS person FROM generate_series(1, 100) i;
-- The same shape as crosswalk.ledger, without the chain.
CREATE TABLE plain_ledger (
  seq bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(), kind text NOT NULL,
  person crosswalk.canonical_id NOT NULL, platform text NOT NULL, payload jsonb NOT NULL,
  prev_hash bytea, hash bytea);
CREATE INDEX ON plain_ledger (person);
SQL
cat >"$dir/record.sql" <<'PGBENCH'
\set n random(1, 100)
SELECT crosswalk.record('purchase', (SELECT person FROM people OFFSET :n - 1 LIMIT 1), 'learnhub', '{"product": "sql-101", "amount": "19.99", "currency": "EUR"}');
PGBENCH
cat >"$dir/plain.sql" <<'PGBENCH'
\set n random(1, 100)
INSERT INTO plain_ledger (kind, person, platform, payload) SELECT 'purchase', person, 'learnhub', '{"product": "sql-101", "amount": "19.99", "currency": "EUR"}' FROM people OFFSET :n - 1 LIMIT 1;
PGBENCH
tps() {  # tps FILE CLIENTS
  "$CROSSWALK_PG_BIN/pgbench" -h "$dir" -p "$port" -U postgres -n -M prepared -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" \
    -t "$APPENDS" -f "$1" postgres 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
best() { awk -v a="$1" -v b="$2" 'BEGIN{print (a > b) ? a : b}'; }
ledger=0 plain=0 ledger1=0 plain1=0
for _ in 1 2 3; do  # alternate the contenders, keep each one's best round
  ledger=$(best "$ledger" "$(tps "$dir/record.sql" "$CLIENTS")")
  plain=$(best "$plain" "$(tps "$dir/plain.sql" "$CLIENTS")")
  # One session: what an append costs without waiting for the chain lock.
  ledger1=$(best "$ledger1" "$(tps "$dir/record.sql" 1)")
  plain1=$(best "$plain1" "$(tps "$dir/plain.sql" 1)")
done

# Grow the chain to VERIFY_ROWS entries in one statement (the trigger chains each row).
have=$(psql -tA -c "SELECT count(*) FROM crosswalk.ledger")
psql -q -c "INSERT INTO crosswalk.ledger (kind, person, platform, payload)
            SELECT 'purchase', (SELECT person FROM people LIMIT 1), 'learnhub',
                   jsonb_build_object('product', 'p' || i, 'amount', (i % 1000) || '.99', 'currency', 'EUR')
              FROM generate_series(1, $VERIFY_ROWS - $have) i" >/dev/null
verify_ms=
for _ in 1 2 3; do
  t=$(psql -tA -c '\timing on' -c "SELECT ok FROM crosswalk.verify_ledger()" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
  if [ -z "$verify_ms" ] || awk -v t="$t" -v b="$verify_ms" 'BEGIN{exit !(t < b)}'; then verify_ms=$t; fi
done
ok=$(psql -tA -c "SELECT ok FROM crosswalk.verify_ledger()")
entries=$(psql -tA -c "SELECT count(*) FROM crosswalk.ledger")

printf '%s sessions x %s appends each (best of 3 alternating pgbench runs)\n\n' "$CLIENTS" "$APPENDS"
printf '%-30s %16s\n' "case" "rate"
printf '%-30s %11.0f tx/s\n' "crosswalk.record() appends" "$ledger"
printf '%-30s %11.0f tx/s\n' "plain INSERT, same shape" "$plain"
printf '%-30s %15.2fx\n' "ratio record / plain" "$(awk -v a="$ledger" -v b="$plain" 'BEGIN{print a / b}')"
printf '%-30s %11.0f tx/s\n' "record(), 1 session" "$ledger1"
printf '%-30s %11.0f tx/s\n' "plain INSERT, 1 session" "$plain1"
printf '%-30s %15.2fx\n' "ratio, 1 session" "$(awk -v a="$ledger1" -v b="$plain1" 'BEGIN{print a / b}')"
printf '%-30s %11.0f entries/s  (%s entries in %.0f ms, ok=%s)\n' "verify_ledger()" \
  "$(awk -v n="$entries" -v ms="$verify_ms" 'BEGIN{print n / (ms / 1000)}')" "$entries" "$verify_ms" "$ok"
