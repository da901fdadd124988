#!/usr/bin/env bash
# The Claude Code hook's cost per call, process start to exit, measured with
# hyperfine (Debian package) over 200 runs: the lean trackskills-hook binary
# (what hook install sets up) and trackskills hook, beside the seed's bash +
# curl helper measured in the same run; then POST /api/hooks/claude-code at
# 1,000 requests/s with loadgen --mode hook. Results: bench/out/hook/.
#   bash bench/hook.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
runs=${RUNS:-200}
out=bench/out/hook
rm -rf "$out" && mkdir -p "$out"
machine_info "$out/machine.txt"
go build -o "$out/trackskills" ./cmd/trackskills
go build -o "$out/trackskills-hook" ./cmd/trackskills-hook
bin=$(realpath "$out/trackskills")
hookbin=$(realpath "$out/trackskills-hook")

http_port=$(free_port); nats_port=$(free_port)
"$bin" serve --data-dir "$out/data" --http-addr "127.0.0.1:$http_port" --nats-addr "127.0.0.1:$nats_port" >"$out/serve.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$http_port"
wait_http "$url/readyz"
down="http://127.0.0.1:$(free_port)"

payload=$(realpath "$out/post.json")
cp claudecode/testdata/hooks/bash_post.json "$payload"
# The seed's bash helper (skills/_track.sh in its README), pointed at us.
cat >"$out/seed_track.sh" <<SEED
#!/bin/bash
TOOL_NAME=\$1
curl -X POST "$url/api/track" \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer \${API_KEY}" \\
  -d "{\"tool_name\":\"\$TOOL_NAME\",\"duration_ms\":100,\"status\":\"success\",\"tool_category\":\"your_category\"}" \\
  2>/dev/null &
SEED

export TRACKSKILLS_SPOOL_DIR
TRACKSKILLS_SPOOL_DIR=$(mktemp -d)
hyperfine --runs "$runs" --warmup 10 --export-json "$out/hyperfine.json" --export-markdown "$out/hyperfine.md" \
  -n "trackskills-hook (server up)" "TRACKSKILLS_URL=$url $hookbin < $payload" \
  -n "trackskills-hook (server down: spool)" "TRACKSKILLS_URL=$down $hookbin < $payload" \
  -n "trackskills hook (server up)" "TRACKSKILLS_URL=$url $bin hook < $payload" \
  -n "trackskills hook (server down: spool)" "TRACKSKILLS_URL=$down $bin hook < $payload" \
  -n "seed helper: bash _track.sh (curl in background)" "bash $out/seed_track.sh my_skill" \
  -n "client/track.sh (curl in background)" "TRACKSKILLS_URL=$url bash client/track.sh my_skill" \
  -n "client/track.sh, waiting for curl" "TRACKSKILLS_SYNC=1 TRACKSKILLS_URL=$url bash client/track.sh my_skill" \
  -n "trackskills send (waits for the answer)" "TRACKSKILLS_URL=$url $bin send my_skill" | tee "$out/hyperfine.txt"
rm -rf "$TRACKSKILLS_SPOOL_DIR"

python3 - "$out/hyperfine.json" <<'PY' | tee "$out/percentiles.txt"
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"]); n = len(t)
    p = lambda q: t[min(n - 1, int(q * n))] * 1000
    print(f'{r["command"]:48s} p50 {p(0.50):6.2f} ms  p95 {p(0.95):6.2f} ms  p99 {p(0.99):6.2f} ms  (n={n})')
PY

echo "== POST /api/hooks/claude-code at 1,000 requests/s"
"$bin" loadgen --url "$url" --mode hook --rate 1000 --connections 8 --duration 20s | tee "$out/endpoint.txt"
