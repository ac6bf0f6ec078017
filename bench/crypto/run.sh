#!/usr/bin/env bash
# bench/crypto: encrypted columns side by side, in one run, on one cluster.
#
#   decrypting scan  : sum(length(crosswalk.decrypt(v)))  over N rows of 64-byte values
#   plain scan       : sum(length(v))                      over the same values in a text column
#   pgcrypto         : sum(length(pgp_sym_decrypt(v, pw))) over a subset, scaled per row
#   encrypted INSERT : INSERT ... SELECT crosswalk.encrypt(...) of N rows
#   plain INSERT     : INSERT ... SELECT of the same N plaintexts
#
# Each timing is the best of 3 runs after a warm-up, serial plans only
# (max_parallel_workers_per_gather = 0) so both sides use one core.
#   ROWS=1000000 PGP_ROWS=20000 bash bench/crypto/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-1000000}
PGP_ROWS=${PGP_ROWS:-20000}
: "${CROSSWALK_PG_BIN:?run through make bench (CROSSWALK_PG_BIN names the PostgreSQL to use)}"

keydir=$(mktemp -d "${TMPDIR:-/tmp}/crosswalk-bench-key.XXXXXX")
openssl rand -hex 32 >"$keydir/master.key"
chmod 600 "$keydir/master.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$keydir"
read -r dir port < <(scripts/pgcluster.sh start --owner $$ --conf "crosswalk.master_key_file = '$keydir/master.key'" \
  --conf "shared_buffers = 512MB" --conf "max_parallel_workers_per_gather = 0" --conf "jit = off")
trap 'scripts/pgcluster.sh stop "$dir"; rm -rf "$keydir"' EXIT INT TERM
psql() { scripts/pgcluster.sh psql "$dir" -d postgres "$@"; }

psql <<SQL
CREATE EXTENSION crosswalk;
CREATE EXTENSION pgcrypto;
SELECT crosswalk.create_key('bench') IS NOT NULL;
CREATE UNLOGGED TABLE src (id int, v text);
INSERT INTO src SELECT i, md5(i::text) || md5((-i)::text) FROM generate_series(1, $ROWS) i;  -- 64 bytes each
CREATE UNLOGGED TABLE plain_t (id int, v text);
CREATE UNLOGGED TABLE enc_t (id int, v crosswalk.encrypted);
CREATE UNLOGGED TABLE pgp_t (id int, v bytea);
INSERT INTO pgp_t SELECT id, pgp_sym_encrypt(v, 'bench password') FROM src WHERE id <= $PGP_ROWS;
VACUUM ANALYZE src, pgp_t;

-- Best of 3 (after one warm-up) of q, in milliseconds; before runs first each time.
CREATE FUNCTION best_ms(q text, before text DEFAULT NULL) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
  t timestamptz;
  best float8 := 'Infinity';
  ms float8;
BEGIN
  FOR i IN 0..3 LOOP
    IF before IS NOT NULL THEN EXECUTE before; END IF;
    t := clock_timestamp();
    EXECUTE q;
    ms := extract(epoch FROM clock_timestamp() - t) * 1000;
    IF i > 0 AND ms < best THEN best := ms; END IF;
  END LOOP;
  RETURN best;
END \$\$;
SQL

psql -At -F' ' <<SQL >"$dir/results.txt"
SELECT 'plain_insert', best_ms('INSERT INTO plain_t SELECT id, v FROM src', 'TRUNCATE plain_t');
SELECT 'enc_insert', best_ms('INSERT INTO enc_t SELECT id, crosswalk.encrypt(v, ''bench'') FROM src', 'TRUNCATE enc_t');
VACUUM ANALYZE plain_t, enc_t;
SELECT 'plain_scan', best_ms('SELECT sum(length(v)) FROM plain_t');
SELECT 'decrypt_scan', best_ms('SELECT sum(length(crosswalk.decrypt(v))) FROM enc_t');
SELECT 'pgp_scan', best_ms('SELECT sum(length(pgp_sym_decrypt(v, ''bench password''))) FROM pgp_t');
SELECT 'check', (SELECT count(*) FROM enc_t e JOIN src s USING (id) WHERE crosswalk.decrypt(e.v) = s.v);
SQL

awk -v rows="$ROWS" -v pgp_rows="$PGP_ROWS" '
  { t[$1] = $2 }
  END {
    if (t["check"] != rows) { print "bench/crypto: decrypted values do not match (" t["check"] " of " rows ")" > "/dev/stderr"; exit 1 }
    us = 1000.0 / rows
    printf "%-34s %12s %12s\n", "operation (" rows " rows of 64 bytes)", "total ms", "us/row"
    printf "%-34s %12.0f %12.3f\n", "plain scan: sum(length(v))", t["plain_scan"], t["plain_scan"] * us
    printf "%-34s %12.0f %12.3f\n", "crosswalk.decrypt scan", t["decrypt_scan"], t["decrypt_scan"] * us
    pgp_us = t["pgp_scan"] * 1000.0 / pgp_rows
    printf "%-34s %12.0f %12.3f\n", "pgp_sym_decrypt scan (scaled)", pgp_us * rows / 1000.0, pgp_us
    printf "%-34s %12.0f %12.3f\n", "plain INSERT ... SELECT", t["plain_insert"], t["plain_insert"] * us
    printf "%-34s %12.0f %12.3f\n", "crosswalk.encrypt INSERT ... SELECT", t["enc_insert"], t["enc_insert"] * us
    print ""
    printf "decrypt scan / plain scan         %8.2fx   (target <= 3x)\n", t["decrypt_scan"] / t["plain_scan"]
    printf "pgp_sym_decrypt / crosswalk.decrypt %6.0fx   (target >= 300x; pgcrypto measured on %d rows)\n", pgp_us / (t["decrypt_scan"] * us), pgp_rows
    printf "encrypted INSERT / plain INSERT   %8.2fx   (target <= 1.5x)\n", t["enc_insert"] / t["plain_insert"]
  }' "$dir/results.txt"
