#!/usr/bin/env bash
# `make bench`: runs every benchmark (bench/*/run.sh) in turn. Each compares
# crosswalk with the alternative side by side in one run, on the same data,
# and prints a table with ratios. Benchmarks are never part of `make test`.
#   make bench                 all of them
#   BENCH=identity make bench  only bench/identity
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for script in bench/*/run.sh; do
  name=$(basename "$(dirname "$script")")
  if [ -n "${BENCH:-}" ] && [ "$BENCH" != "$name" ]; then continue; fi
  echo "=== bench/$name"
  bash "$script" || { echo "bench/$name failed" >&2; status=1; }
  echo
done
exit $status
