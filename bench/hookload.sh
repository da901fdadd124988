#!/usr/bin/env bash
# The memory a burst of large Claude Code hook bodies costs `serve`:
# CONCURRENCY (24) PostToolUse bodies of about 8 MB each (a huge
# tool_response, as a file read or a command's output gives) sent at once
# to POST /api/hooks/claude-code, ROUNDS (5) times. It prints serve's
# resident set when idle, the peak (VmHWM) after the load, and the increase;
# the target is under +100 MB. Results: bench/out/hookload-<time>/.
#
#   bash bench/hookload.sh
#   CONCURRENCY=48 ROUNDS=3 bash bench/hookload.sh
#   BIN=/path/to/trackskills bash bench/hookload.sh   # another build, to compare
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
source bench/lib.sh

CONCURRENCY=${CONCURRENCY:-24}
ROUNDS=${ROUNDS:-5}
BODY_BYTES=${BODY_BYTES:-8000000}
out="bench/out/hookload-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
machine_info "$out/machine.txt"
if [ -n "${BIN:-}" ]; then
  cp "$BIN" "$out/trackskills"
else
  go build -o "$out/trackskills" ./cmd/trackskills
fi

# One body per request, each with its own tool_use_id (so that each is a
# new event), built once: curl then only reads a file.
python3 - "$out" "$CONCURRENCY" "$BODY_BYTES" <<'PY'
import json, sys
out, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = 'ok  \tacme/pkg\t0.412s "quoted" \\ back\\slash\n'
for i in range(n):
    body = {"session_id": "8c35adc1-4f1e-4b8e-9d7a-2f6a1c0e9b21", "hook_event_name": "PostToolUse",
            "tool_name": "Bash", "cwd": "/home/dev/acme", "permission_mode": "default",
            "tool_input": {"command": "cat huge.log", "description": "Read a huge log"},
            "tool_response": {"stdout": "", "stderr": "", "interrupted": False},
            "tool_use_id": "toolu_hookload_%04d" % i, "duration_ms": 1874}
    fixed = len(json.dumps(body, separators=(",", ":")))
    enc = len(json.dumps(line)) - 2  # the line as it is escaped in JSON
    body["tool_response"]["stdout"] = line * ((size - fixed) // enc)
    with open("%s/body-%02d.json" % (out, i), "w") as f:
        json.dump(body, f, separators=(",", ":"))
PY
echo "body: $(stat -c %s "$out/body-00.json") bytes, $CONCURRENCY at once, $ROUNDS rounds" | tee "$out/load.txt"

http_port=$(free_port); nats_port=$(free_port)
"$out/trackskills" serve --data-dir "$out/data" --http-addr "127.0.0.1:$http_port" --nats-addr "127.0.0.1:$nats_port" \
  >"$out/serve.log" 2>&1 &
spid=$!
pids+=("$spid")
url="http://127.0.0.1:$http_port"
wait_http "$url/readyz"
# A few small hooks first, so that the idle figure includes a warm server.
for _ in 1 2 3; do
  curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary @claudecode/testdata/hooks/bash_post.json "$url/api/hooks/claude-code"
done
sleep 2
idle=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$spid/status")
idle_hwm=$(peak_rss "$spid")

: >"$out/codes.txt"
for r in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((CONCURRENCY - 1))); do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
      --data-binary @"$out/$(printf 'body-%02d.json' "$i")" "$url/api/hooks/claude-code" >>"$out/codes.txt" &
  done
  wait $(jobs -p | grep -v "^$spid\$")
  echo "round $r: VmRSS $(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$spid/status") MB, peak $(peak_rss "$spid") MB" | tee -a "$out/load.txt"
done
peak=$(peak_rss "$spid")
{
  echo "answers: $(sort "$out/codes.txt" | uniq -c | awk '{printf "%s x%s  ", $2, $1}')"
  echo "serve RSS idle: $idle MB (peak before the load $idle_hwm MB)"
  echo "serve peak RSS under the load: $peak MB"
  echo "increase over idle: +$((peak - idle)) MB (target: under +100 MB)"
} | tee -a "$out/load.txt"
