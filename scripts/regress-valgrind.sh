#!/usr/bin/env bash
# The pg_regress suite with every backend under valgrind memcheck. PostgreSQL
# 15's own binary is not instrumented for a sanitizer runtime (preloading ASan
# into it deadlocks in glibc's bindtextdomain), so the check of our shared
# object inside real backends is valgrind's: a private PostgreSQL copy whose
# `postgres` is a wrapper that runs the real binary under valgrind when
# CROSSWALK_VALGRIND_LOGS is set. Any memcheck error whose stack passes through
# crosswalk.so fails the run; errors inside PostgreSQL alone are counted and
# shown but not ours to fix.
#   scripts/regress-valgrind.sh MAKE PGROOT
set -euo pipefail
cd "$(dirname "$0")/.."
make_cmd=${1:-make}
root=${2:?private PostgreSQL folder}
bin=$(bash scripts/pgroot.sh "$root" "$make_cmd")
real="$bin/postgres.real"
if [ ! -f "$real" ]; then
  cp "$bin/postgres" "$real.tmp"   # a copy, not the hard link to the system's file
  mv "$real.tmp" "$real"
  rm -f "$bin/postgres"
  cat >"$bin/postgres" <<WRAPPER
#!/bin/sh
if [ -n "\${CROSSWALK_VALGRIND_LOGS:-}" ]; then
  exec valgrind --quiet --tool=memcheck --trace-children=no --leak-check=no --track-origins=no \\
    --error-limit=no --num-callers=30 --log-file="\$CROSSWALK_VALGRIND_LOGS/vg.%p" "$real" "\$@"
fi
exec "$real" "\$@"
WRAPPER
  chmod 755 "$bin/postgres"
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/crosswalk-valgrind.XXXXXX")
chmod 777 "$logs"
trap 'rm -rf "$logs"' EXIT
export CROSSWALK_PG_BIN=$bin
export CROSSWALK_PG_ENV="CROSSWALK_VALGRIND_LOGS=$logs"
status=0
bash scripts/regress.sh || status=$?
# One error block per blank-line-separated paragraph after "==PID== " prefixes.
ours=0
theirs=0
for f in "$logs"/vg.*; do
  [ -s "$f" ] || continue
  while IFS= read -r -d '' block; do
    # Ours: a frame in crosswalk.so, or in a C++ source file (ours are the
    # only ones built with debug information in this process).
    if grep -qE "crosswalk\.so\)|\.(cpp|hpp):[0-9]+\)" <<<"$block"; then
      ours=$((ours + 1))
      printf '%s\n\n' "$block" >&2
    elif grep -qE "Invalid|uninitialised|Mismatched|overlap|Syscall param" <<<"$block"; then
      theirs=$((theirs + 1))
    fi
  done < <(sed 's/^==[0-9]*== \{0,1\}//' "$f" | awk 'BEGIN{RS=""; ORS="\0"} {print}')
done
echo "valgrind pg_regress: $ours errors in crosswalk, $theirs in PostgreSQL alone"
[ "$ours" -eq 0 ] || status=1
exit $status
