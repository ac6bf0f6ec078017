#!/usr/bin/env bash
# bench/sync: crosswalk-sync against PostgreSQL's native logical replication
# (CREATE SUBSCRIPTION) on the same source, workloads and machine, in one run.
#
#   streaming throughput: a backlog of insert-heavy and of update-heavy
#     transactions (TX transactions of 10 rows) is replayed by each consumer
#     alone; rows/s from start to the last transaction applied.
#   ceiling: the same backlog read from a third slot of the same publication
#     by pg_recvlogical, which applies nothing (it writes the pgoutput stream
#     to a file): how fast the source can decode and send it, which bounds
#     every consumer on this machine.
#   latency: single-row transactions at RATE/s for SECONDS, each consumer live
#     in turn; commit-to-apply = the peer's clock_timestamp() at apply minus the
#     source's at insert (one machine, one clock); p50 / p99.
#   snapshot: SNAP_ROWS rows migrated by `crosswalk-sync snapshot` vs a raw
#     `COPY ... TO STDOUT | COPY ... FROM STDIN` pipe vs native initial sync.
# crosswalk-sync maps one column through the identity hub (user_id ->
# skillpath's id); native replication copies identical tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CROSSWALK_PG_BIN:?run through make bench}"
TX=${TX:-10000}
RATE=${RATE:-1000}
SECONDS_LAT=${SECONDS_LAT:-10}
SNAP_ROWS=${SNAP_ROWS:-1000000}
SYNC=${SYNC:-build/crosswalk-sync}  # SYNC=path compares another build
[ -x "$SYNC" ] || { echo "build/crosswalk-sync missing: run make bench" >&2; exit 1; }

conf=(--conf "shared_buffers = 256MB" --conf "max_wal_size = 4GB")
read -r src_dir src_port < <(scripts/pgcluster.sh start --owner $$ "${conf[@]}")
read -r cw_dir cw_port < <(scripts/pgcluster.sh start --owner $$ "${conf[@]}")
# The native apply worker is restarted at once after ALTER SUBSCRIPTION ENABLE
# (the default 5 s wal_retrieve_retry_interval would be counted against it).
read -r nat_dir nat_port < <(scripts/pgcluster.sh start --owner $$ "${conf[@]}" --conf "wal_retrieve_retry_interval = '100ms'")
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  scripts/pgcluster.sh stop "$src_dir" "$cw_dir" "$nat_dir"
}
trap cleanup EXIT INT TERM
src() { scripts/pgcluster.sh psql "$src_dir" -d postgres "$@"; }
cw() { scripts/pgcluster.sh psql "$cw_dir" -d postgres "$@"; }
nat() { scripts/pgcluster.sh psql "$nat_dir" -d postgres "$@"; }
now() { date +%s.%N; }
rate() { awk "BEGIN{printf \"%.0f\", $1 / ($3 - $2)}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
wait_for() {  # wait_for FUNC QUERY WANT
  until [ "$($1 -tAc "$2")" = "$3" ]; do sleep 0.05; done
}

tables='
CREATE TABLE t_ins (id bigint PRIMARY KEY, user_id int, v int, payload text,
                    created_at timestamptz DEFAULT clock_timestamp());
CREATE TABLE t_upd (id bigint PRIMARY KEY, user_id int, v int, payload text);
CREATE TABLE t_lat (id bigint PRIMARY KEY, user_id int, created_at timestamptz DEFAULT clock_timestamp());
CREATE TABLE marker (phase text PRIMARY KEY);
CREATE TABLE t_snap (id bigint PRIMARY KEY, user_id int, v int, payload text);'
src -q <<SQL
CREATE EXTENSION crosswalk;
SELECT crosswalk.register_platform('learnhub'), crosswalk.register_platform('skillpath');
SELECT count(crosswalk.link('skillpath', 'sp-' || u, crosswalk.link('learnhub', u::text))) FROM generate_series(1, 1000) u;
$tables
CREATE SEQUENCE t_ins_id; ALTER TABLE t_ins ALTER id SET DEFAULT nextval('t_ins_id');
CREATE SEQUENCE t_lat_id; ALTER TABLE t_lat ALTER id SET DEFAULT nextval('t_lat_id');
INSERT INTO t_upd SELECT g, 1 + g % 1000, 0, md5(g::text) FROM generate_series(1, 100000) g;
INSERT INTO t_snap SELECT g, 1 + g % 1000, g, md5(g::text) || md5(g::text) FROM generate_series(1, $SNAP_ROWS) g;
CREATE PUBLICATION cw FOR TABLE t_ins, t_upd, t_lat, marker;
CREATE PUBLICATION cw_snap FOR TABLE t_snap;
CREATE PUBLICATION native FOR TABLE t_ins, t_upd, t_lat, marker;
CREATE PUBLICATION native_snap FOR TABLE t_snap;
VACUUM ANALYZE;
SQL
# crosswalk-sync's peer holds skillpath's ids (text); the native peer the same
# tables as the source. Both stamp the apply time.
cw -q <<'SQL'
CREATE TABLE t_ins (id bigint PRIMARY KEY, user_id text, v int, payload text, created_at timestamptz,
                    applied_at timestamptz DEFAULT clock_timestamp());
CREATE TABLE t_upd (id bigint PRIMARY KEY, user_id text, v int, payload text);
CREATE TABLE t_lat (id bigint PRIMARY KEY, user_id text, created_at timestamptz,
                    applied_at timestamptz DEFAULT clock_timestamp());
CREATE TABLE marker (phase text PRIMARY KEY);
CREATE TABLE t_snap (id bigint PRIMARY KEY, user_id text, v int, payload text);
CREATE TABLE t_snap_raw (id bigint PRIMARY KEY, user_id int, v int, payload text);
SQL
nat -q <<SQL
$tables
ALTER TABLE t_ins ADD applied_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE t_lat ADD applied_at timestamptz DEFAULT clock_timestamp();
SQL

src_dsn="host=$src_dir port=$src_port user=postgres dbname=postgres"
idcol='{ "identity": "user_id" }'
cat >"$cw_dir/stream.json" <<JSON
{ "source": { "dsn": "$src_dsn", "platform": "learnhub", "publication": "cw" },
  "peers": [ { "name": "bench", "dsn": "host=$cw_dir port=$cw_port user=postgres dbname=postgres",
    "platform": "skillpath", "tables": [
    { "source": "t_ins", "target": "t_ins", "key": ["id"],
      "columns": { "id": "id", "user_id": $idcol, "v": "v", "payload": "payload", "created_at": "created_at" } },
    { "source": "t_upd", "target": "t_upd", "key": ["id"],
      "columns": { "id": "id", "user_id": $idcol, "v": "v", "payload": "payload" } },
    { "source": "t_lat", "target": "t_lat", "key": ["id"],
      "columns": { "id": "id", "user_id": $idcol, "created_at": "created_at" } },
    { "source": "marker", "target": "marker", "key": ["phase"], "columns": { "phase": "phase" } } ] } ] }
JSON
cat >"$cw_dir/snap.json" <<JSON
{ "source": { "dsn": "$src_dsn", "platform": "learnhub", "publication": "cw_snap" },
  "peers": [ { "name": "snap", "dsn": "host=$cw_dir port=$cw_port user=postgres dbname=postgres",
    "platform": "skillpath", "tables": [
    { "source": "t_snap", "target": "t_snap", "key": ["id"],
      "columns": { "id": "id", "user_id": $idcol, "v": "v", "payload": "payload" } } ] } ] }
JSON

# --- snapshot ------------------------------------------------------------
t0=$(now)
"$CROSSWALK_PG_BIN/psql" -X -q -h "$src_dir" -p "$src_port" -U postgres -d postgres -c "COPY t_snap TO STDOUT" |
  "$CROSSWALK_PG_BIN/psql" -X -q -h "$cw_dir" -p "$cw_port" -U postgres -d postgres -c "COPY t_snap_raw FROM STDIN"
t1=$(now)
raw_rate=$(rate "$SNAP_ROWS" "$t0" "$t1")
t0=$(now)
"$SYNC" snapshot -c "$cw_dir/snap.json" 2>"$cw_dir/snap.log"
t1=$(now)
cw_snap_rate=$(rate "$SNAP_ROWS" "$t0" "$t1")
[ "$(cw -tAc 'SELECT count(*) FROM t_snap')" = "$SNAP_ROWS" ] || { echo "snapshot incomplete" >&2; exit 1; }
t0=$(now)
nat -q -c "CREATE SUBSCRIPTION native_snap CONNECTION '$src_dsn' PUBLICATION native_snap"
wait_for nat "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel" t
t1=$(now)
nat_snap_rate=$(rate "$SNAP_ROWS" "$t0" "$t1")
nat -q -c "ALTER SUBSCRIPTION native_snap DISABLE" -c "ALTER SUBSCRIPTION native_snap SET (slot_name = NONE)" \
  -c "DROP SUBSCRIPTION native_snap"
src -q -c "SELECT pg_drop_replication_slot('native_snap')" -c "SELECT pg_drop_replication_slot('crosswalk_snap')"

# --- set both consumers up, positioned, then stopped ---------------------
"$SYNC" run -c "$cw_dir/stream.json" 2>"$cw_dir/stream.log" &
daemon=$!
wait_for cw "SELECT count(*) FROM t_upd" 100000
kill -TERM "$daemon"; wait "$daemon"; daemon=
nat -q -c "CREATE SUBSCRIPTION native CONNECTION '$src_dsn' PUBLICATION native WITH (streaming = off)"
wait_for nat "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel" t
nat -q -c "ALTER SUBSCRIPTION native DISABLE"

# Replays the backlog of `phase` with one consumer; prints rows/s.
replay() {
  local who=$1 phase=$2 rows=$3 t0 t1
  t0=$(now)
  if [ "$who" = cw ]; then
    "$SYNC" run -c "$cw_dir/stream.json" 2>>"$cw_dir/stream.log" &
    daemon=$!
    wait_for cw "SELECT count(*) FROM marker WHERE phase = '$phase'" 1
    t1=$(now)
    kill -TERM "$daemon"; wait "$daemon"; daemon=
  else
    nat -q -c "ALTER SUBSCRIPTION native ENABLE"
    wait_for nat "SELECT count(*) FROM marker WHERE phase = '$phase'" 1
    t1=$(now)
    nat -q -c "ALTER SUBSCRIPTION native DISABLE"
  fi
  rate "$rows" "$t0" "$t1"
}
# The ceiling: a slot created just before the backlog, read to the end of it
# by a consumer that applies nothing.
new_ceiling_slot() {
  src -q -c "SELECT pg_drop_replication_slot('ceiling') FROM pg_replication_slots WHERE slot_name = 'ceiling'" \
    -c "SELECT pg_create_logical_replication_slot('ceiling', 'pgoutput')" >/dev/null
}
ceiling() {  # ceiling ROWS
  local end t0 t1
  end=$(src -tAc "SELECT pg_current_wal_lsn()")
  t0=$(now)
  "$CROSSWALK_PG_BIN/pg_recvlogical" -h "$src_dir" -p "$src_port" -U postgres -d postgres -S ceiling --start \
    -E "$end" --no-loop -o proto_version=1 -o publication_names=cw -f "$src_dir/ceiling.out"
  t1=$(now)
  rm -f "$src_dir/ceiling.out"
  rate "$1" "$t0" "$t1"
}
pgb() { "$CROSSWALK_PG_BIN/pgbench" -h "$src_dir" -p "$src_port" -U postgres -n "$@" postgres >/dev/null 2>&1; }

printf 'INSERT INTO t_ins (user_id, v, payload) SELECT 1 + (g * 37) %% 1000, g, md5(g::text) FROM generate_series(1, 10) g;\n' >"$src_dir/ins.sql"
printf '\\set s random(1, 99990)\nUPDATE t_upd SET v = v + 1, payload = md5(v::text) WHERE id BETWEEN :s AND :s + 9;\n' >"$src_dir/upd.sql"
new_ceiling_slot
pgb -c 2 -j 2 -t $((TX / 2)) -f "$src_dir/ins.sql"
src -q -c "INSERT INTO marker VALUES ('ins')"
cw_ins=$(replay cw ins $((TX * 10)))
nat_ins=$(replay nat ins $((TX * 10)))
ceil_ins=$(ceiling $((TX * 10)))
new_ceiling_slot
pgb -c 2 -j 2 -t $((TX / 2)) -f "$src_dir/upd.sql"
src -q -c "INSERT INTO marker VALUES ('upd')"
cw_upd=$(replay cw upd $((TX * 10)))
nat_upd=$(replay nat upd $((TX * 10)))
ceil_upd=$(ceiling $((TX * 10)))
src -q -c "SELECT pg_drop_replication_slot('ceiling')" >/dev/null

# --- latency: each consumer live in turn ---------------------------------
printf 'INSERT INTO t_lat (user_id) VALUES (1 + (random() * 999)::int);\n' >"$src_dir/lat.sql"
"$SYNC" run -c "$cw_dir/stream.json" 2>>"$cw_dir/stream.log" &
daemon=$!
sleep 1
lo=$(src -tAc "SELECT COALESCE(max(id), 0) FROM t_lat")
pgb -c 2 -j 2 -R "$RATE" -T "$SECONDS_LAT" -f "$src_dir/lat.sql"
hi=$(src -tAc "SELECT max(id) FROM t_lat")
src -q -c "INSERT INTO marker VALUES ('lat-cw')"
wait_for cw "SELECT count(*) FROM marker WHERE phase = 'lat-cw'" 1
kill -TERM "$daemon"; wait "$daemon"; daemon=
pct() { $1 -tAc "SELECT round(1000 * extract(epoch FROM percentile_cont($2) WITHIN GROUP (ORDER BY applied_at - created_at))::numeric, 1) FROM t_lat WHERE id > $3 AND id <= $4"; }
cw_p50=$(pct cw 0.5 "$lo" "$hi"); cw_p99=$(pct cw 0.99 "$lo" "$hi")
lat_tx=$((hi - lo))
nat -q -c "ALTER SUBSCRIPTION native ENABLE"
wait_for nat "SELECT count(*) FROM marker WHERE phase = 'lat-cw'" 1
lo=$(src -tAc "SELECT max(id) FROM t_lat")
pgb -c 2 -j 2 -R "$RATE" -T "$SECONDS_LAT" -f "$src_dir/lat.sql"
hi=$(src -tAc "SELECT max(id) FROM t_lat")
src -q -c "INSERT INTO marker VALUES ('lat-nat')"
wait_for nat "SELECT count(*) FROM marker WHERE phase = 'lat-nat'" 1
nat_p50=$(pct nat 0.5 "$lo" "$hi"); nat_p99=$(pct nat 0.99 "$lo" "$hi")
nat -q -c "ALTER SUBSCRIPTION native DISABLE"

echo "streaming: backlog of $TX transactions x 10 rows, replayed by one consumer at a time"
echo "latency: ~$lat_tx single-row transactions at ${RATE}/s, consumer live; snapshot: $SNAP_ROWS rows"
echo
printf '%-28s %16s %16s %8s\n' "case" "crosswalk-sync" "native" "ratio"
printf '%-28s %12s r/s %12s r/s %7sx\n' "insert-heavy apply" "$cw_ins" "$nat_ins" "$(ratio "$cw_ins" "$nat_ins")"
printf '%-28s %12s r/s %12s r/s %7sx\n' "update-heavy apply" "$cw_upd" "$nat_upd" "$(ratio "$cw_upd" "$nat_upd")"
printf '%-28s %12s r/s %12s r/s %7sx\n' "insert-heavy ceiling" "$ceil_ins" "$nat_ins" "$(ratio "$ceil_ins" "$nat_ins")"
printf '%-28s %12s r/s %12s r/s %7sx\n' "update-heavy ceiling" "$ceil_upd" "$nat_upd" "$(ratio "$ceil_upd" "$nat_upd")"
printf '%-28s %13s ms %13s ms %7sx\n' "commit-to-apply p50" "$cw_p50" "$nat_p50" "$(ratio "$cw_p50" "$nat_p50")"
printf '%-28s %13s ms %13s ms %7sx\n' "commit-to-apply p99" "$cw_p99" "$nat_p99" "$(ratio "$cw_p99" "$nat_p99")"
printf '%-28s %12s r/s %12s r/s %7sx\n' "snapshot vs native sync" "$cw_snap_rate" "$nat_snap_rate" "$(ratio "$cw_snap_rate" "$nat_snap_rate")"
printf '%-28s %12s r/s %12s r/s %7sx\n' "snapshot vs raw COPY pipe" "$cw_snap_rate" "$raw_rate" "$(ratio "$cw_snap_rate" "$raw_rate")"
echo
echo "throughput ratios: crosswalk-sync / other (higher is better); latency ratios: crosswalk-sync / native (lower is better)"
echo "ceiling rows: pg_recvlogical reading the same backlog and applying nothing, against native: the most any"
echo "consumer of this source could reach on this machine, as a multiple of native"
