#!/usr/bin/env bash
# Random-SQL attack: sqlsmith sends QUERIES random queries (built from the
# catalog, so they call crosswalk's functions and operators with random
# arguments) to a database with the extension installed and populated, as a
# role holding crosswalk_admin (which includes crosswalk_reader). Afterwards
# the server log must show no backend terminated by a signal or an abnormal
# exit: the whole point is that no input crashes a backend.
#   scripts/sqlsmith.sh [QUERIES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CROSSWALK_PG_BIN:?run through make}"
queries=${1:-20000}
seed=${2:-$RANDOM}

read -r dir port < <(scripts/pgcluster.sh start --owner $$ --conf "log_min_messages = warning" \
  --conf "statement_timeout = '2s'")
trap 'scripts/pgcluster.sh stop "$dir"' EXIT INT TERM
psql() { scripts/pgcluster.sh psql "$dir" "$@"; }
psql -q -c "CREATE DATABASE smith" >/dev/null
psql -q -d smith >/dev/null <<'SQL'
CREATE EXTENSION crosswalk;
CREATE ROLE smith LOGIN IN ROLE crosswalk_admin;
SELECT crosswalk.register_platform('learnhub', 'https://lh.example', 'lh'), crosswalk.register_platform('skillpath');
SELECT crosswalk.link('skillpath', 'sp-' || i, crosswalk.link('learnhub', i::text)) FROM generate_series(1, 200) i;
SELECT crosswalk.record('purchase', crosswalk.resolve('learnhub', i::text), 'learnhub',
                        jsonb_build_object('product', 'c' || i, 'amount', i || '.99', 'currency', 'EUR'))
  FROM generate_series(1, 50) i;
CREATE TABLE public.enrollments (person crosswalk.canonical_id PRIMARY KEY, course text, score int);
INSERT INTO public.enrollments SELECT person, 'c' || local_id, length(local_id) FROM crosswalk.account WHERE platform_id = 1;
GRANT ALL ON public.enrollments TO smith;
SQL
log_before=$(wc -c <"$dir/server.log")
set +e
sqlsmith --target="host=$dir port=$port user=smith dbname=smith" --max-queries="$queries" --seed="$seed" \
  >"$dir/sqlsmith.out" 2>&1
smith_status=$?
set -e
tail -c +"$((log_before + 1))" "$dir/server.log" >"$dir/new.log"
crashes=$(grep -cE "terminated by signal|exited with exit code [1-9]|server process .* was terminated" "$dir/new.log" || true)
errors=$(grep -c "ERROR" "$dir/new.log" || true)
echo "sqlsmith: $queries queries (seed $seed), sqlsmith exit $smith_status, $errors query errors, $crashes backend crashes"
if [ "$crashes" -ne 0 ] || [ "$smith_status" -ne 0 ]; then
  grep -E -B2 -A8 "terminated by signal|exited with exit code|was terminated" "$dir/new.log" | head -60 >&2
  tail -20 "$dir/sqlsmith.out" >&2
  echo "sqlsmith: 0 passed, 1 failed"
  exit 1
fi
