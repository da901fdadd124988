#!/usr/bin/env bash
# The transcript import: a generated directory of MB megabytes of Claude
# Code transcripts (bench/transcripts) read by `trackskills import
# transcripts`, first alone (--dry-run: the reading), then into a fresh
# serve (reading, sending, storing). Reports MB/s, events/s and the
# import's peak RSS (GNU time), beside serve's.
#
#   bash bench/import.sh            # 1 GB
#   MB=100 bash bench/import.sh     # shorter
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
MB=${MB:-1024}
out="bench/out/import-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/bin"
# shellcheck source=bench/lib.sh
source bench/lib.sh
machine_info "$out/machine.txt"
go build -o "$out/bin/trackskills" ./cmd/trackskills
go run ./bench/transcripts --dir "$out/projects" --mb "$MB" | tee "$out/generate.txt"

echo "== read alone (--dry-run)"
/usr/bin/time -v "$out/bin/trackskills" import transcripts "$out/projects" --dry-run >"$out/dry.txt" 2>"$out/dry.time"
cat "$out/dry.txt"
grep -E "Maximum resident|Elapsed" "$out/dry.time"

echo "== into serve"
hport=$(free_port); nport=$(free_port)
"$out/bin/trackskills" serve --data-dir "$out/data" --http-addr "127.0.0.1:$hport" --nats-addr "127.0.0.1:$nport" \
  --log-level warn >"$out/serve.log" 2>&1 & spid=$!; pids+=($spid)
wait_http "http://127.0.0.1:$hport/readyz"
TRACKSKILLS_URL="http://127.0.0.1:$hport" /usr/bin/time -v "$out/bin/trackskills" import transcripts "$out/projects" \
  >"$out/import.txt" 2>"$out/import.time"
cat "$out/import.txt"
grep -E "Maximum resident|Elapsed" "$out/import.time"
echo "serve peak RSS: $(peak_rss "$spid") MB"
kill "$spid"; wait "$spid" 2>/dev/null || true
echo "report: $out"
