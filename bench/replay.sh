#!/usr/bin/env bash
# Measures `trackskills replay` (consumer.Replay) beside the limits it is
# compared with, in one run, on the same kind of events: a history of
# EVENTS events over HISTORY (loadgen's generator, as `trackskills seed`
# makes it). Results go to bench/out/<timestamp>/ and a table of events/s
# to stdout.
#
#   bash bench/replay.sh                # 1,000,000 events over 90 days
#   EVENTS=20000 bash bench/replay.sh   # a quick check of the script
#
# In this order, with `sync` and PAUSE seconds between (an unsynced run
# slows the next): raw SQLite inserts and WriteBatch, 1,000 events a
# transaction (sql benchmarks); then for messages of 1, 8 and 500 events,
# the consumer draining a pre-filled stream into a fresh database and the
# replay of the same stream into another (consumer benchmarks). Each
# benchmark runs once (-benchtime 1x for the stream ones); pre-filling the
# stream is not timed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1

EVENTS=${EVENTS:-1000000}
HISTORY=${HISTORY:-90d}
PAUSE=${PAUSE:-5}
if (( EVENTS < 1000 || EVENTS % 1000 != 0 )); then
  echo "EVENTS=$EVENTS: want a multiple of 1,000 (the SQLite benchmarks write 1,000 a transaction)" >&2
  exit 1
fi
out="bench/out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
bin="$PWD/$out/bin"
mkdir -p "$bin"

echo "== build the benchmark binaries"
go test -c -o "$bin/sql.test" ./sql
go test -c -o "$bin/consumer.test" ./consumer

# shellcheck source=bench/lib.sh
source bench/lib.sh # the working directory is the repository root (cd above)
machine_info "$out/machine.txt"
echo "events: $EVENTS over $HISTORY" | tee -a "$out/machine.txt"

export TRACKSKILLS_BENCH_EVENTS=$EVENTS TRACKSKILLS_BENCH_HISTORY=$HISTORY

# quiet: lets the previous phase's writes reach the disk before the next.
quiet() { sync; sleep "$PAUSE"; }

# bench PKG FILE PATTERN BENCHTIME: runs one benchmark of PKG's test binary
# in PKG's directory, as go test does, into $out/FILE.
bench() {
  (cd "$1" && "$bin/$1.test" -test.run '^$' -test.bench "$3" -test.benchtime "$4" \
    -test.count 1 -test.timeout 60m) | tee "$out/$2"
}

# rate FILE: the events/s a benchmark report gives, as a whole number.
rate() { awk '{ for (i = 2; i <= NF; i++) if ($i == "events/s") { printf "%.0f", $(i - 1); exit } }' "$out/$1"; }

# commas N: N with thousands separators (1234567 -> 1,234,567).
commas() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }

echo "== 1. raw SQLite inserts: $EVENTS rows in 1,000-row transactions"
bench sql 1-raw.txt 'BenchmarkRawSQLiteInsert' "$((EVENTS / 1000))x"
quiet
echo "== 2. WriteBatch: $EVENTS events in batches of 1,000"
bench sql 2-writebatch.txt 'BenchmarkDB_WriteBatch/^size=1000$' "$((EVENTS / 1000))x"

n=3
for shape in single grouped batched; do
  quiet
  echo "== $n. consumer drain, $shape messages: $EVENTS events"
  bench consumer "$n-drain-$shape.txt" "BenchmarkConsumer_Drain/^$shape\$/^aggregates=true\$" 1x
  n=$((n + 1))
  quiet
  echo "== $n. replay, $shape messages: $EVENTS events"
  bench consumer "$n-replay-$shape.txt" "BenchmarkReplay/^$shape\$" 1x
  n=$((n + 1))
done

rm -rf "$bin"
{
  echo
  echo "events/s, $(commas "$EVENTS") events over $HISTORY"
  echo
  echo "| | events/s |"
  echo "| --- | --- |"
  echo "| raw SQLite inserts, 1,000 a transaction | $(commas "$(rate 1-raw.txt)") |"
  echo "| WriteBatch, 1,000 a transaction | $(commas "$(rate 2-writebatch.txt)") |"
  echo
  echo "| events a message | consumer drain | replay | replay / drain |"
  echo "| --- | --- | --- | --- |"
  n=3
  for shape in single:1 grouped:8 batched:500; do
    d=$(rate "$n-drain-${shape%%:*}.txt"); r=$(rate "$((n + 1))-replay-${shape%%:*}.txt")
    echo "| ${shape##*:} | $(commas "$d") | $(commas "$r") | $(awk -v r="$r" -v d="$d" 'BEGIN { printf "%.0f%%", 100 * r / d }') |"
    n=$((n + 2))
  done
} | tee "$out/summary.txt"
echo "== results in $out"
