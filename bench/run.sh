#!/usr/bin/env bash
# Measures the pipeline and, in the same run, the limits it is compared
# with. Results go to bench/out/<timestamp>/ and a summary to stdout.
#
#   bash bench/run.sh             # full run (about 6 minutes)
#   DURATION=5s BATCH_DURATION=10s LIVE_DURATION=10s bash bench/run.sh # shorter
#
# Phases: the HTTP ceiling (bench/ceiling) and serve under the same
# loadgen; a steady live load of single events at LIVE_RATE (bytes written
# to disk per event); batch ingest at a fixed offered rate for
# BATCH_DURATION (sustained, lag measured) and flat out; raw JetStream
# publish, the group-commit publisher, raw SQLite inserts and the consumer
# draining a pre-filled stream of DRAIN_EVENTS events (Go benchmarks).
# Every serve phase reports its peak RSS and the bytes it wrote to disk
# (NATS store and SQLite) per acknowledged event.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
BATCH_RATE=${BATCH_RATE:-50000}
BATCH_DURATION=${BATCH_DURATION:-60s}
LIVE_RATE=${LIVE_RATE:-2000}
LIVE_DURATION=${LIVE_DURATION:-60s}
DRAIN_EVENTS=${DRAIN_EVENTS:-1000000}
out="bench/out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
bin="$out/bin"
mkdir -p "$bin"

echo "== build"
go build -o "$bin/trackskills" ./cmd/trackskills
go build -o "$bin/ceiling" ./bench/ceiling

# shellcheck source=bench/lib.sh
source bench/lib.sh # the working directory is the repository root (cd above)
machine_info "$out/machine.txt"

echo "== 1. HTTP ceiling: bench/ceiling, loadgen single, $CONNS connections, $DURATION"
port=$(free_port)
"$bin/ceiling" --addr "127.0.0.1:$port" & pids+=($!)
sleep 0.5
"$bin/trackskills" loadgen --url "http://127.0.0.1:$port" --connections "$CONNS" --duration "$DURATION" 2>/dev/null | tee "$out/1-ceiling.txt"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

# serve_up NAME: starts a fresh serve; sets $url, $db, $spid.
serve_up() {
  local dir="$out/data-$1"
  local hport nport
  hport=$(free_port); nport=$(free_port)
  "$bin/trackskills" serve --data-dir "$dir" --http-addr "127.0.0.1:$hport" --nats-addr "127.0.0.1:$nport" \
    --log-level warn "${@:2}" 2>"$out/serve-$1.log" & spid=$!
  pids+=($spid)
  url="http://127.0.0.1:$hport"; db="$dir/trackskills.db"
  wait_http "$url/readyz"
}
serve_down() {
  echo "serve peak RSS: $(peak_rss "$spid") MB" | tee -a "$out/$1"
  kill -INT "$spid"; wait "$spid" 2>/dev/null || true
}
# serve_written FILE: after the loadgen report in FILE, the bytes serve has
# written to disk since serve_up, per acknowledged event; read before
# serve_down, so that the stop's last checkpoint is not counted.
serve_written() {
  local written acked
  written=$(io_written "$spid")
  acked=$(awk '$1 == "acked" {print $2}' "$out/$1")
  echo "serve wrote $written bytes to disk: $(awk -v w="$written" -v a="$acked" 'BEGIN { if (a > 0) printf "%.0f", w / a; else print "n/a" }') bytes per acked event" | tee -a "$out/$1"
}

echo "== 2. serve: loadgen single, $CONNS connections, $DURATION"
serve_up single
"$bin/trackskills" loadgen --url "$url" --connections "$CONNS" --duration "$DURATION" --db "$db" 2>/dev/null | tee "$out/2-serve-single.txt"
serve_written 2-serve-single.txt
serve_down 2-serve-single.txt

echo "== 2b. serve: steady live load, single events offered at $LIVE_RATE events/s, $LIVE_DURATION"
serve_up live
"$bin/trackskills" loadgen --url "$url" --connections 16 --rate "$LIVE_RATE" --duration "$LIVE_DURATION" --db "$db" 2>/dev/null | tee "$out/2b-serve-live.txt"
serve_written 2b-serve-live.txt
serve_down 2b-serve-live.txt

echo "== 3. serve: loadgen batch (500 events a request), offered $BATCH_RATE events/s, $BATCH_DURATION"
serve_up batch-rate
"$bin/trackskills" loadgen --url "$url" --mode batch --batch-size 500 --connections 16 --rate "$BATCH_RATE" \
  --duration "$BATCH_DURATION" --db "$db" 2>/dev/null | tee "$out/3-serve-batch-rate.txt"
serve_written 3-serve-batch-rate.txt
serve_down 3-serve-batch-rate.txt

echo "== 4. serve: loadgen batch (500 events a request), flat out, $DURATION"
serve_up batch-max
"$bin/trackskills" loadgen --url "$url" --mode batch --batch-size 500 --connections 8 \
  --duration "$DURATION" --db "$db" 2>/dev/null | tee "$out/4-serve-batch-max.txt"
serve_written 4-serve-batch-max.txt
serve_down 4-serve-batch-max.txt

echo "== 5. raw JetStream publish and the group-commit publisher (go test -bench)"
go test ./ingest -run '^$' -bench 'BenchmarkRawJetStreamPublish|BenchmarkPublisher_GroupCommit' \
  -benchtime 300000x -count 1 | tee "$out/5-jetstream.txt"

echo "== 6. raw SQLite inserts and WriteBatch: $DRAIN_EVENTS rows in 1,000-row transactions (go test -bench)"
# The same number of rows as the consumer drains below: an index grows
# slower to insert into, so a smaller run would flatter the raw limit.
go test ./sql -run '^$' -bench 'BenchmarkRawSQLiteInsert|BenchmarkDB_WriteBatch/size=1000' \
  -benchtime "$((DRAIN_EVENTS / 1000))x" -count 1 | tee "$out/6-sqlite.txt"

echo "== 7. consumer alone: stream pre-filled with $DRAIN_EVENTS events (go test -bench)"
TRACKSKILLS_BENCH_EVENTS=$DRAIN_EVENTS go test ./consumer -run '^$' -bench 'BenchmarkConsumer_Drain' \
  -benchtime 1x -count 1 -timeout 30m | tee "$out/7-consumer.txt"

rm -rf "$bin" "$out"/data-*
echo "== results in $out"
