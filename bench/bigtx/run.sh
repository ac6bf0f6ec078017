#!/usr/bin/env bash
# bench/bigtx: one source transaction of ROWS rows (default 2M) streamed by
# crosswalk-sync. Measures the daemon's peak RSS (VmHWM in /proc/PID/status)
# against its peak after a baseline of small transactions, the apply rate, and
# what the source's reorder buffer spilled; and checks that the peer applied
# the transaction atomically: sampled while it is applied, the peer's row
# count is only ever the count before or the count after.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CROSSWALK_PG_BIN:?run through make bench}"
ROWS=${ROWS:-2000000}
SYNC=${SYNC:-build/crosswalk-sync}
[ -x "$SYNC" ] || { echo "build/crosswalk-sync missing: run make bench" >&2; exit 1; }

conf=(--conf "shared_buffers = 256MB" --conf "max_wal_size = 4GB")
read -r src_dir src_port < <(scripts/pgcluster.sh start --owner $$ "${conf[@]}")
read -r peer_dir peer_port < <(scripts/pgcluster.sh start --owner $$ "${conf[@]}")
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  scripts/pgcluster.sh stop "$src_dir" "$peer_dir"
}
trap cleanup EXIT INT TERM
src() { scripts/pgcluster.sh psql "$src_dir" -d postgres "$@"; }
peer() { scripts/pgcluster.sh psql "$peer_dir" -d postgres "$@"; }
now() { date +%s.%N; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$daemon/status"; }  # kB
drained() {  # the slot confirmed and the peer stored everything written so far
  local lsn
  lsn=$(src -tAc "SELECT pg_current_wal_insert_lsn()")
  until [ "$(src -tAc "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'crosswalk_bench'")" = t ] &&
    [ "$(peer -tAc "SELECT applied_lsn >= '$lsn' FROM crosswalk_sync.progress WHERE slot = 'crosswalk_bench'" 2>/dev/null)" = t ]; do
    sleep 0.2
  done
}

src -q -c "CREATE TABLE big (id bigint PRIMARY KEY, v int, payload text)" -c "CREATE PUBLICATION cw FOR TABLE big"
peer -q -c "CREATE TABLE big (id bigint PRIMARY KEY, v int, payload text)"
cat >"$peer_dir/sync.json" <<JSON
{ "source": { "dsn": "host=$src_dir port=$src_port user=postgres dbname=postgres", "platform": "learnhub",
              "publication": "cw" },
  "peers": [ { "name": "bench", "dsn": "host=$peer_dir port=$peer_port user=postgres dbname=postgres",
    "platform": "skillpath", "tables": [ { "source": "big", "target": "big", "key": ["id"],
      "columns": { "id": "id", "v": "v * 2", "payload": "payload" } } ] } ] }
JSON
"$SYNC" run -c "$peer_dir/sync.json" 2>"$peer_dir/sync.log" &
daemon=$!
until grep -q '"event":"streaming"' "$peer_dir/sync.log"; do sleep 0.1; done

# Baseline: 20 transactions of 1000 rows.
for i in $(seq 0 19); do
  src -q -c "INSERT INTO big SELECT g, g, md5(g::text) FROM generate_series(-($i * 1000 + 1000), -($i * 1000 + 1)) g"
done
drained
base_hwm=$(hwm)
before=$(peer -tAc "SELECT count(*) FROM big")

t0=$(now)
src -q -c "INSERT INTO big SELECT g, g, md5(g::text) FROM generate_series(1, $ROWS) g"
t1=$(now)
seen=$(
  lsn=$(src -tAc "SELECT pg_current_wal_insert_lsn()")
  until [ "$(peer -tAc "SELECT applied_lsn >= '$lsn' FROM crosswalk_sync.progress WHERE slot = 'crosswalk_bench'")" = t ]; do
    peer -tAc "SELECT count(*) FROM big"
    sleep 0.5
  done | sort -u | tr '\n' ' '
)
drained
t2=$(now)
peak_hwm=$(hwm)
after=$(peer -tAc "SELECT count(*) FROM big")
spill=$(src -tAc "SELECT pg_size_pretty(spill_bytes) || ' in ' || spill_count || ' spills' FROM pg_stat_replication_slots WHERE slot_name = 'crosswalk_bench'")
kill -TERM "$daemon"; wait "$daemon" || true; daemon=

[ "$after" = "$((before + ROWS))" ] || { echo "peer has $after rows, expected $((before + ROWS))" >&2; exit 1; }
for n in $seen; do
  [ "$n" = "$before" ] || [ "$n" = "$after" ] || { echo "not atomic: the peer showed $n rows mid-apply" >&2; exit 1; }
done
printf '%-44s %12s\n' "one source transaction of" "$ROWS rows"
printf '%-44s %12s\n' "source INSERT (s)" "$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")"
printf '%-44s %12s\n' "commit to applied on the peer (s)" "$(awk "BEGIN{printf \"%.1f\", $t2 - $t1}")"
printf '%-44s %12s\n' "apply rows/s" "$(awk "BEGIN{printf \"%.0f\", $ROWS / ($t2 - $t1)}")"
printf '%-44s %12s\n' "daemon peak RSS after 20 x 1000 rows (MiB)" "$(awk "BEGIN{printf \"%.1f\", $base_hwm / 1024}")"
printf '%-44s %12s\n' "daemon peak RSS after the big one (MiB)" "$(awk "BEGIN{printf \"%.1f\", $peak_hwm / 1024}")"
printf '%-44s %12s\n' "ratio" "$(awk "BEGIN{printf \"%.2f\", $peak_hwm / $base_hwm}")"
printf '%-44s %12s\n' "source reorder buffer spilled" "$spill"
printf '%-44s %12s\n' "peer row counts seen while applying" "$seen"
