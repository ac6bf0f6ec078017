#!/usr/bin/env bash
# bench/kafka: crosswalk-sync streaming the same backlog (TX transactions of
# ROWS_PER_TX inserts and one update, with a column resolved through the
# identity hub) to an event peer on librdkafka's mock Kafka cluster and to a
# database peer, one after the other in one run; prints changes/s for each
# and the ratio. The time counts from the daemon's start to the slot being
# drained (every event acknowledged / every row committed).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CROSSWALK_PG_BIN:?run through make bench}"
[ -x build/kafka_bench ] || { echo "build/kafka_bench missing: run make bench" >&2; exit 1; }
TX=${TX:-20000} ROWS_PER_TX=${ROWS_PER_TX:-10} build/kafka_bench 2>/dev/null
