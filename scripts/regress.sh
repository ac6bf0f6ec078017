#!/usr/bin/env bash
# Runs the pg_regress suite (sql/schedule) against a throwaway cluster and
# prints regression.diffs when anything differs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PG_BIN=${CROSSWALK_PG_BIN:?run through make: CROSSWALK_PG_BIN names the PostgreSQL to test}
pg_regress="$("$PG_BIN/pg_config" --pkglibdir)/pgxs/src/test/regress/pg_regress"
out="$root/build/regress"

# A fixed test master key (crosswalk.master_key_file), readable only by the
# server's OS user, in a folder of its own.
keydir=$(mktemp -d "${TMPDIR:-/tmp}/crosswalk-regress-key.XXXXXX")
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$keydir/master.key"
chmod 600 "$keydir/master.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$keydir"
read -r dir port < <(scripts/pgcluster.sh start --owner $$ --conf "shared_preload_libraries = ''" \
  --conf "crosswalk.master_key_file = '$keydir/master.key'")
trap 'scripts/pgcluster.sh stop "$dir"; rm -rf "$keydir"' EXIT INT TERM

rm -rf "$out"
mkdir -p "$out"
# pg_regress writes its results as the calling user; the server only reads.
status=0
PGHOST=$dir PGPORT=$port PGUSER=postgres "$pg_regress" \
  --inputdir="$root" --outputdir="$out" \
  --bindir="$PG_BIN" \
  --host="$dir" --port="$port" --user=postgres \
  --schedule="$root/sql/schedule" --dbname=crosswalk_regress || status=$?
if [ "$status" -ne 0 ] && [ -f "$out/regression.diffs" ]; then
  echo "==== regression.diffs ====" >&2
  cat "$out/regression.diffs" >&2
fi
exit $status
