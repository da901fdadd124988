#!/usr/bin/env bash
# The local relay (trackskills relay), in two parts. Results:
# bench/out/relay-<time>/.
#
# 1. One hook call as Claude Code pays it, p50/p99, in the same run: an
#    HTTP hook to the relay, the command hook (trackskills-hook, process
#    start to exit) and an HTTP hook straight to the server.
# 2. RATE (1,000) hook calls a second to the relay for DURATION (60 s)
#    seconds, the server stopped (SIGTERM) from DOWN_AT (20) to UP_AT (40)
#    seconds; then every call the relay answered must be stored on the
#    server exactly once.
#
#   bash bench/relay.sh
#   RATE=500 DURATION=20 DOWN_AT=5 UP_AT=10 bash bench/relay.sh   # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
source bench/lib.sh
RATE=${RATE:-1000}; DURATION=${DURATION:-60}; DOWN_AT=${DOWN_AT:-20}; UP_AT=${UP_AT:-40}
out="bench/out/relay-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
machine_info "$out/machine.txt"
go build -o "$out/trackskills" ./cmd/trackskills
go build -o "$out/trackskills-hook" ./cmd/trackskills-hook
go build -o "$out/relaybench" ./bench/relay
bin=$(realpath "$out/trackskills")

hport=$(free_port); nport=$(free_port); rport=$(free_port)
server="http://127.0.0.1:$hport"; relay="http://127.0.0.1:$rport"
start_serve() {
  "$bin" serve --data-dir "$out/data" --http-addr "127.0.0.1:$hport" --nats-addr "127.0.0.1:$nport" \
    --log-level warn >>"$out/serve.log" 2>&1 &
  spid=$!; pids+=("$spid")
  wait_http "$server/readyz"
}
start_serve
"$bin" relay --url "$server" --listen "127.0.0.1:$rport" --spool-dir "$out/spool" >"$out/relay.log" 2>&1 &
rpid=$!; pids+=("$rpid")
wait_http "$relay/healthz"

echo "== one hook call, three ways (same run)" | tee "$out/latency.txt"
TRACKSKILLS_SPOOL_DIR="$out/hookspool" "$out/relaybench" latency --relay "$relay" --server "$server" \
  --hook-bin "$(realpath "$out/trackskills-hook")" | tee -a "$out/latency.txt"

echo "== $RATE calls/s to the relay for ${DURATION}s, the server down from ${DOWN_AT}s to ${UP_AT}s" | tee "$out/load.txt"
"$out/relaybench" load --relay "$relay" --rate "$RATE" --duration "${DURATION}s" --prefix load >"$out/load.raw" &
lpid=$!
sleep "$DOWN_AT"; kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
echo "server stopped at ${DOWN_AT}s; relay: $(curl -fs "$relay/healthz")" | tee -a "$out/load.txt"
sleep $((UP_AT - DOWN_AT))
echo "relay before the restart: $(curl -fs "$relay/healthz")" | tee -a "$out/load.txt"
start_serve
echo "server started at ${UP_AT}s" | tee -a "$out/load.txt"
wait "$lpid"
cat "$out/load.raw" | tee -a "$out/load.txt"
answered=$(sed -n 's/^answered=//p' "$out/load.raw")
t0=$(date +%s.%N)
for _ in $(seq 1 1200); do
  pending=$(curl -fs "$relay/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_bytes"])')
  [ "$pending" = 0 ] && break
  sleep 0.1
done
echo "relay drained $(python3 -c "import time; print(round(time.time()-$t0, 1))")s after the load: $(curl -fs "$relay/healthz")" | tee -a "$out/load.txt"
# Let the consumer write the last batches, then count on the server's database.
for _ in $(seq 1 300); do
  "$out/relaybench" count --db "$out/data/trackskills.db" --prefix load --want "$answered" >"$out/count.txt" 2>&1 && break
  sleep 0.2
done
cat "$out/count.txt" | tee -a "$out/load.txt"
echo "relay peak RSS: $(peak_rss "$rpid") MB" | tee -a "$out/load.txt"
echo "report: $out"
