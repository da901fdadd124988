#!/usr/bin/env bash
# Ingest through a three-node NATS cluster with an R3 stream, beside a
# single node in the same run: the Procfile way (trackskills nats, ingest,
# consumer as separate processes), the same loadgen against each. Results
# go to bench/out/cluster-<timestamp>/ and a summary to stdout.
#
#   bash bench/cluster.sh                      # defaults: 30 s a phase
#   DURATION=5s bash bench/cluster.sh          # a quick look
#
# Phases, for the single node (R1) and then the cluster (R3): single events
# over CONNS connections for DURATION (events/s, p99 of the HTTP ack), and
# batches of BATCH_SIZE offered at BATCH_RATE events/s for DURATION (ack ->
# row in SQLite as well). Every process shares the machine's cores, so the
# cluster's figures include three servers' replication work on them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1

DURATION=${DURATION:-30s}
CONNS=${CONNS:-32}
BATCH_SIZE=${BATCH_SIZE:-500}
BATCH_RATE=${BATCH_RATE:-20000}
out="bench/out/cluster-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/bin"
bin="$out/bin/trackskills"

echo "== build"
go build -o "$bin" ./cmd/trackskills

# shellcheck source=bench/lib.sh
source bench/lib.sh # the working directory is the repository root (cd above)
machine_info "$out/machine.txt"

# wait_file PATH: waits up to 30 s for a file to exist.
wait_file() {
  for _ in $(seq 1 300); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  echo "no file: $1" >&2; return 1
}

# nats_up NAME N REPLICAS: starts N `trackskills nats` servers (a cluster
# when N > 1) under $out/NAME-n<i>; sets $nats_urls and $hub_dir (the first
# node's data dir, where ingest and consumer find the credentials).
nats_up() {
  local name=$1 n=$2 replicas=$3 i routes="" ports=() cports=()
  for i in $(seq 1 "$n"); do
    ports+=("$(free_port)"); cports+=("$(free_port)")
    routes="${routes:+$routes,}nats-route://127.0.0.1:${cports[-1]}"
  done
  nats_urls=""
  hub_dir="$out/$name-n1"
  for i in $(seq 1 "$n"); do
    local dir="$out/$name-n$i" args=()
    if [ "$n" -gt 1 ]; then
      args=(--server-name "n$i" --cluster-name bench --cluster-addr "127.0.0.1:${cports[$((i - 1))]}" --routes "$routes")
      if [ "$i" -gt 1 ]; then # every server of a cluster has the first one's credentials
        mkdir -p "$dir"; cp -r "$hub_dir/nats-creds" "$dir/"
      fi
    fi
    "$bin" nats --data-dir "$dir" --nats-addr "127.0.0.1:${ports[$((i - 1))]}" --stream-replicas "$replicas" \
      --log-level warn "${args[@]}" 2>"$out/$name-nats-n$i.log" & pids+=($!)
    nats_urls="${nats_urls:+$nats_urls,}nats://127.0.0.1:${ports[$((i - 1))]}"
    if [ "$i" -eq 1 ] && [ "$n" -gt 1 ]; then
      wait_file "$hub_dir/nats-creds/route.creds"
    fi
  done
}

# pipeline_up NAME: starts ingest and consumer on $nats_urls; sets $url, $db.
pipeline_up() {
  local name=$1 hport cport
  hport=$(free_port); cport=$(free_port)
  db="$out/$name.db"
  "$bin" ingest --data-dir "$hub_dir" --http-addr "127.0.0.1:$hport" --nats-url "$nats_urls" \
    --log-level warn 2>"$out/$name-ingest.log" & pids+=($!)
  "$bin" consumer --data-dir "$hub_dir" --db "$db" --nats-url "$nats_urls" --health-addr "127.0.0.1:$cport" \
    --log-level warn 2>"$out/$name-consumer.log" & pids+=($!)
  url="http://127.0.0.1:$hport"
  wait_http "$url/readyz"
  wait_http "http://127.0.0.1:$cport/readyz"
}

# down: stops every process started so far, newest first.
down() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -INT "${pids[$i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# phases NAME: the two loads against $url.
phases() {
  echo "-- $1: single events, $CONNS connections, $DURATION"
  "$bin" loadgen --url "$url" --connections "$CONNS" --duration "$DURATION" --db "$db" 2>/dev/null | tee "$out/$1-single.txt"
  echo "-- $1: batches of $BATCH_SIZE offered at $BATCH_RATE events/s, $DURATION"
  "$bin" loadgen --url "$url" --mode batch --batch-size "$BATCH_SIZE" --connections 16 --rate "$BATCH_RATE" \
    --duration "$DURATION" --db "$db" 2>/dev/null | tee "$out/$1-batch.txt"
}

echo "== 1. one node, R1 stream"
nats_up one 1 1
pipeline_up one
phases one
down

echo "== 2. three-node cluster, R3 stream"
nats_up three 3 3
pipeline_up three
phases three
down

echo "== summary (events/s and p99 of the HTTP ack; ack -> row from the batch phase)"
for f in one-single three-single one-batch three-batch; do
  printf '%-14s ' "$f"
  grep -E '^(acked|throughput|latency ms|lag ms)' "$out/$f.txt" | tr '\n' ' '
  echo
done | tee "$out/summary.txt"
