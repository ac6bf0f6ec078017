#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang, ASan and
# UBSan, and runs each for SECONDS (default 60) from its committed seed corpus
# (tests/fuzz/corpus/NAME/). New inputs go to build-fuzz/corpus/NAME, crashes
# to build-fuzz/crashes/; a crash fails the run. Prints executions per target.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
out=build-fuzz
cmake -S . -B "$out" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCROSSWALK_FUZZ=ON >/dev/null
cmake --build "$out" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for src in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi
mkdir -p "$out/crashes"
status=0
passed=0
failed=0
for t in "${targets[@]}"; do
  name=${t%_fuzz}
  seeds="tests/fuzz/corpus/$name"
  work="$out/corpus/$name"
  mkdir -p "$work"
  log="$out/$t.log"
  if ASAN_OPTIONS=detect_leaks=1 "$out/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$out/crashes/$t-" "$work" "$seeds" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    printf 'fuzz %-28s ok      %12s executions in %ss\n' "$t" "$execs" "$seconds"
    passed=$((passed + 1))
  else
    printf 'fuzz %-28s FAILED  (see %s)\n' "$t" "$log"
    grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 || true
    failed=$((failed + 1))
    status=1
  fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
