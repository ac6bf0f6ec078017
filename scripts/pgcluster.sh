#!/usr/bin/env bash
# Throwaway PostgreSQL 15 clusters for tests, the demo and the benchmarks.
#
#   pgcluster.sh start [--owner PID] [--conf 'key = value']...   -> prints: DIR PORT
#   pgcluster.sh stop DIR                                         (immediate stop, then rm -rf)
#   pgcluster.sh reap                                             (stop clusters whose owner died)
#   pgcluster.sh psql DIR [psql args...]                          (psql as the cluster superuser)
#
# Each cluster lives in its own mktemp folder (data/, its Unix socket, its log),
# listens on 127.0.0.1 on a free port, runs with wal_level=logical, and is run by
# the `postgres` OS user when the caller is root (PostgreSQL refuses root).
# The folder records the PID of the process that owns it; `reap` (run by every
# start) stops and removes clusters whose owner is gone, so a test that was
# killed cannot leak a postmaster for long.
set -euo pipefail

PG_BIN=${CROSSWALK_PG_BIN:-$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
TMP_ROOT=${CROSSWALK_TMP:-${TMPDIR:-/tmp}}
PREFIX=crosswalk-pg.

die() { echo "pgcluster: $*" >&2; exit 1; }

# Runs a command as the cluster's OS user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop_dir() {
  local dir=$1
  [ -d "$dir" ] || return 0
  case "$(basename "$dir")" in "$PREFIX"*) ;; *) die "refusing to remove $dir: not a cluster folder" ;; esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    # A postmaster that did not answer pg_ctl is killed outright.
    local pid
    pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -rf "$dir"
}

reap() {
  local d owner
  for d in "$TMP_ROOT"/"$PREFIX"*; do
    [ -d "$d" ] || continue
    owner=$(cat "$d/owner" 2>/dev/null || true)
    if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then
      stop_dir "$d"
    fi
  done
}

# A template cluster made once by initdb and copied for every start: initdb
# costs a second or two, a copy a tenth of that.
template() {
  local key
  key=$(echo "$PG_BIN" | cksum | cut -d' ' -f1)
  local tpl="$TMP_ROOT/crosswalk-pgtemplate-$(id -u)-$key"
  (
    flock 9
    if [ ! -f "$tpl/ready" ]; then
      rm -rf "$tpl"
      mkdir -p "$tpl"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$tpl"
      as_pg "$PG_BIN/initdb" -D "$tpl/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tpl/initdb.log" 2>&1 \
        || { cat "$tpl/initdb.log" >&2; exit 1; }
      touch "$tpl/ready"
    fi
  ) 9>"$tpl.lock"
  echo "$tpl/data"
}

start() {
  local owner=$PPID
  local extra=()
  while [ "$#" -gt 0 ]; do
    case "$1" in
      --owner) owner=$2; shift 2 ;;
      --conf) extra+=("$2"); shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  reap
  local tpl dir
  tpl=$(template)
  dir=$(mktemp -d "$TMP_ROOT/${PREFIX}XXXXXX")
  echo "$owner" >"$dir/owner"
  cp -a "$tpl" "$dir/data"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
  chmod 700 "$dir/data"

  local port attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    {
      echo "# crosswalk throwaway cluster"
      echo "port = $port"
      echo "listen_addresses = '127.0.0.1'"
      echo "unix_socket_directories = '$dir'"
      echo "wal_level = logical"
      echo "max_replication_slots = 32"
      echo "max_wal_senders = 32"
      echo "max_connections = 100"
      echo "max_worker_processes = 16"
      echo "max_logical_replication_workers = 8"
      echo "fsync = off"
      echo "full_page_writes = off"
      echo "shared_buffers = 64MB"
      echo "logging_collector = off"
      echo "log_min_messages = warning"
      echo "lc_messages = 'C'"
      local line
      for line in "${extra[@]}"; do echo "$line"; done
    } | as_pg tee "$dir/data/postgresql.auto.conf" >/dev/null
    # CROSSWALK_PG_ENV: extra environment for the server (e.g. a sanitizer
    # runtime to preload), as NAME=value words.
    local env_words=()
    [ -n "${CROSSWALK_PG_ENV:-}" ] && read -r -a env_words <<<"$CROSSWALK_PG_ENV"
    if as_pg env "${env_words[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      echo "$dir $port"
      return 0
    fi
    # Most likely the port was taken between our pick and the bind: try another.
    grep -q "could not bind\|Address already in use\|could not create any TCP/IP sockets" "$dir/server.log" 2>/dev/null || {
      cat "$dir/server.log" >&2
      stop_dir "$dir"
      die "could not start a cluster (see log above)"
    }
    : >"$dir/server.log"
  done
  stop_dir "$dir"
  die "no free port after 10 tries"
}

cmd=${1:-}
[ -n "$cmd" ] || die "usage: pgcluster.sh start|stop DIR|reap|psql DIR"
shift
case "$cmd" in
  start) start "$@" ;;
  stop) [ "$#" -ge 1 ] || die "stop needs a folder"; for d in "$@"; do stop_dir "$d"; done ;;
  reap) reap ;;
  psql)
    dir=$1; shift
    port=$(sed -n 's/^port = //p' "$dir/data/postgresql.auto.conf" | tail -1)
    exec "$PG_BIN/psql" -X -q -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"
    ;;
  *) die "unknown command $cmd" ;;
esac
