#!/usr/bin/env bash
# bench/crypto: encrypted columns side by side, in one run, on one cluster.
#
#   plain scan       : SELECT sum(length(v)) FROM plain_t                      (text column)
#   decrypting scan  : SELECT sum(length(crosswalk.decrypt(v))) FROM enc_t     (same values, encrypted)
#   pgcrypto         : SELECT sum(length(pgp_sym_decrypt(v, pw))) FROM pgp_t  (a subset, scaled per row)
#   (information)    : the decrypting scan of the same values under a deterministic (aes-256-siv) key
#   plain INSERT     : INSERT INTO plain_t SELECT id, v FROM src                       (one statement)
#   encrypted INSERT : INSERT INTO enc_t SELECT id, crosswalk.encrypt(v, 'bench') FROM src
#   (diagnostics)    : INSERT of ready-made envelopes; SELECT count(crosswalk.encrypt(v, 'bench')) FROM src
#
# Method (see bench/README.md, section crypto):
#  - The tables are what a DBA has: ordinary logged tables with a primary key,
#    identical but for the type of v (text vs crosswalk.encrypted), on a server
#    with its durability defaults (fsync, full_page_writes and
#    synchronous_commit on; the test clusters turn fsync off).
#  - Every timed statement is its own transaction sent by psql (\timing:
#    wall time at the client, commit included); before each INSERT the target
#    is truncated and a CHECKPOINT taken, and max_wal_size is large enough that
#    no checkpoint starts inside a timed statement. Autovacuum is off for the
#    bench tables (it would run in the background of the next measurement).
#  - Contenders alternate within each round (the order flips every round);
#    round 0 is a warm-up; each figure is the best of ROUNDS rounds.
#  - Serial plans (max_parallel_workers_per_gather = 0): decrypt() is PARALLEL
#    RESTRICTED, so a parallel plain scan would compare core counts, not code.
#
#   ROWS=1000000 PGP_ROWS=20000 ROUNDS=5 bash bench/crypto/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-1000000}
PGP_ROWS=${PGP_ROWS:-20000}
ROUNDS=${ROUNDS:-5}
: "${CROSSWALK_PG_BIN:?run through make bench (CROSSWALK_PG_BIN names the PostgreSQL to use)}"

keydir=$(mktemp -d "${TMPDIR:-/tmp}/crosswalk-bench-key.XXXXXX")
openssl rand -hex 32 >"$keydir/master.key"
chmod 600 "$keydir/master.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$keydir"
read -r dir port < <(scripts/pgcluster.sh start --owner $$ --conf "crosswalk.master_key_file = '$keydir/master.key'" \
  --conf "shared_buffers = 512MB" --conf "max_parallel_workers_per_gather = 0" --conf "jit = off" \
  --conf "fsync = on" --conf "full_page_writes = on" --conf "synchronous_commit = on" \
  --conf "max_wal_size = 8GB" --conf "checkpoint_timeout = 1h")
trap 'scripts/pgcluster.sh stop "$dir"; rm -rf "$keydir"' EXIT INT TERM
psql() { scripts/pgcluster.sh psql "$dir" -d postgres "$@"; }

psql -q >/dev/null <<SQL
CREATE EXTENSION crosswalk;
CREATE EXTENSION pgcrypto;
SELECT crosswalk.create_key('bench') IS NOT NULL, crosswalk.create_key('bench_det', 'aes-256-siv') IS NOT NULL;
CREATE TABLE src (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO src SELECT i, md5(i::text) || md5((-i)::text) FROM generate_series(1, $ROWS) i;  -- 64 bytes each
CREATE TABLE plain_t (id int PRIMARY KEY, v text NOT NULL) WITH (autovacuum_enabled = off);
CREATE TABLE enc_t (id int PRIMARY KEY, v crosswalk.encrypted NOT NULL) WITH (autovacuum_enabled = off);
CREATE TABLE pgp_t (id int PRIMARY KEY, v bytea NOT NULL);
INSERT INTO pgp_t SELECT id, pgp_sym_encrypt(v, 'bench password') FROM src WHERE id <= $PGP_ROWS;
CREATE TABLE det_t (id int PRIMARY KEY, v crosswalk.encrypted NOT NULL);
INSERT INTO det_t SELECT id, crosswalk.encrypt(v, 'bench_det') FROM src;
CREATE TABLE ready (id int PRIMARY KEY, v crosswalk.encrypted NOT NULL);
INSERT INTO ready SELECT id, crosswalk.encrypt(v, 'bench') FROM src;
VACUUM ANALYZE src, pgp_t, ready, det_t;
SQL

# One psql session runs every timed statement; "@ name" lines label the next
# \timing figure. Each round runs a phase's contenders in order when even,
# reversed when odd. The INSERT phase has two diagnostics besides the two
# contenders: INSERT of ready-made envelopes (what the wider rows alone
# cost) and encrypt() without an INSERT (what the calls alone cost, against
# the same scan of src).
inserts=(
  "TRUNCATE plain_t; CHECKPOINT;|plain_insert|INSERT INTO plain_t SELECT id, v FROM src;"
  "TRUNCATE enc_t; CHECKPOINT;|enc_insert|INSERT INTO enc_t SELECT id, crosswalk.encrypt(v, 'bench') FROM src;"
  "TRUNCATE enc_t; CHECKPOINT;|ready_insert|INSERT INTO enc_t SELECT id, v FROM ready;"
  "|src_scan|SELECT count(v) FROM src;"
  "|encrypt_only|SELECT count(crosswalk.encrypt(v, 'bench')) FROM src;"
)
scans=(
  "|plain_scan|SELECT sum(length(v)) FROM plain_t;"
  "|decrypt_scan|SELECT sum(length(crosswalk.decrypt(v))) FROM enc_t;"
  "|pgp_scan|SELECT sum(length(pgp_sym_decrypt(v, 'bench password'))) FROM pgp_t;"
  "|siv_scan|SELECT sum(length(crosswalk.decrypt(v))) FROM det_t;"
)
# Prints round r of the contenders given as arguments.
round_of() {
  local r=$1
  shift
  local list=("$@") i n=$#
  for ((i = 0; i < n; i++)); do
    local entry=${list[$((r % 2 == 0 ? i : n - 1 - i))]}
    IFS='|' read -r before label sql <<<"$entry"
    [ -n "$before" ] && echo "$before"
    printf '\\echo @ %s\n%s\n' "$label" "$sql"
  done
}
{
  echo '\timing on'
  for ((r = 0; r <= ROUNDS; r++)); do round_of "$r" "${inserts[@]}"; done
  # The last INSERT of the loop may have been the ready-made one: fill enc_t
  # with this run's own encrypt() output for the scans and the check.
  echo "TRUNCATE enc_t; INSERT INTO enc_t SELECT id, crosswalk.encrypt(v, 'bench') FROM src;"
  echo 'VACUUM ANALYZE plain_t, enc_t;'
  for ((r = 0; r <= ROUNDS; r++)); do round_of "$r" "${scans[@]}"; done
  echo "SELECT 'check', count(*) FROM enc_t e JOIN src s USING (id) WHERE crosswalk.decrypt(e.v) = s.v;"
} >"$dir/timed.sql"
psql -q -At -F' ' -f "$dir/timed.sql" >"$dir/timed.out"

awk -v rows="$ROWS" -v pgp_rows="$PGP_ROWS" '
  # Best (lowest) time per label, skipping the first (warm-up) of each.
  /^@ / { label = $2; next }
  /^Time: / && label != "" {
    seen[label]++
    if (seen[label] > 1 && (!(label in t) || $2 < t[label])) t[label] = $2
    label = ""; next
  }
  $1 == "check" { check = $2; next }
  END {
    if (check != rows) { print "bench/crypto: decrypted values do not match (" check " of " rows ")" > "/dev/stderr"; exit 1 }
    us = 1000.0 / rows
    printf "%-44s %12s %12s\n", "operation (" rows " rows of 64 bytes)", "best ms", "us/row"
    printf "%-44s %12.0f %12.3f\n", "plain scan: sum(length(v))", t["plain_scan"], t["plain_scan"] * us
    printf "%-44s %12.0f %12.3f\n", "crosswalk.decrypt scan", t["decrypt_scan"], t["decrypt_scan"] * us
    printf "%-44s %12.0f %12.3f\n", "crosswalk.decrypt scan, aes-256-siv key", t["siv_scan"], t["siv_scan"] * us
    pgp_us = t["pgp_scan"] * 1000.0 / pgp_rows
    printf "%-44s %12.0f %12.3f\n", "pgp_sym_decrypt scan (scaled)", pgp_us * rows / 1000.0, pgp_us
    printf "%-44s %12.0f %12.3f\n", "plain INSERT ... SELECT (logged, PK)", t["plain_insert"], t["plain_insert"] * us
    printf "%-44s %12.0f %12.3f\n", "crosswalk.encrypt INSERT ... SELECT", t["enc_insert"], t["enc_insert"] * us
    printf "%-44s %12.0f %12.3f\n", "  INSERT of ready-made envelopes", t["ready_insert"], t["ready_insert"] * us
    printf "%-44s %12.0f %12.3f\n", "  SELECT count(v) FROM src", t["src_scan"], t["src_scan"] * us
    printf "%-44s %12.0f %12.3f\n", "  SELECT count(crosswalk.encrypt(v)) FROM src", t["encrypt_only"], t["encrypt_only"] * us
    print ""
    printf "encrypted INSERT - plain INSERT: %.3f us/row = wider rows %.3f (ready-made - plain) + encrypt() %.3f (count(encrypt) - count) + rest %.3f\n", \
      (t["enc_insert"] - t["plain_insert"]) * us, (t["ready_insert"] - t["plain_insert"]) * us, (t["encrypt_only"] - t["src_scan"]) * us, \
      (t["enc_insert"] - t["ready_insert"] - t["encrypt_only"] + t["src_scan"]) * us
    print ""
    printf "decrypt scan / plain scan             %8.2fx   (target <= 3x)\n", t["decrypt_scan"] / t["plain_scan"]
    printf "pgp_sym_decrypt / crosswalk.decrypt   %8.0fx   (target >= 300x; pgcrypto measured on %d rows)\n", pgp_us / (t["decrypt_scan"] * us), pgp_rows
    printf "encrypted INSERT / plain INSERT       %8.2fx   (target <= 1.5x; bulk INSERT ... SELECT)\n", t["enc_insert"] / t["plain_insert"]
  }' "$dir/timed.out"
