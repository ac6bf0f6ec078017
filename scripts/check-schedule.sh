#!/usr/bin/env bash
# Fails when a pg_regress test in sql/ is missing from the schedule (a test
# that never runs is a test that cannot fail), or the schedule names a test
# that does not exist.
set -euo pipefail
cd "$(dirname "$0")/.."
schedule=sql/schedule
status=0
listed=$(sed -n 's/^test:[[:space:]]*//p' "$schedule" | tr -s ' \t' '\n\n' | sed '/^$/d' | sort)
for f in sql/*.sql; do
  name=$(basename "$f" .sql)
  if ! grep -qx "$name" <<<"$listed"; then
    echo "check-schedule: $f is not listed in $schedule" >&2
    status=1
  fi
  [ -f "expected/$name.out" ] || { echo "check-schedule: expected/$name.out is missing" >&2; status=1; }
done
for name in $listed; do
  [ -f "sql/$name.sql" ] || { echo "check-schedule: $schedule lists $name but sql/$name.sql does not exist" >&2; status=1; }
done
exit $status
