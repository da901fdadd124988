#!/usr/bin/env bash
# Measures the analytics API at EVENTS events and, in the same
# run, the seed's way of answering the same questions: a query over the raw
# table. Results go to bench/out/<timestamp>/ and a summary to stdout.
#
#   bash bench/analytics.sh                        # seeds 10M events (a few minutes), then measures
#   SEEDED_DB=bench/out/X/data/trackskills.db bash bench/analytics.sh   # reuse a seeded database
#   EVENTS=1000000 N=500 bash bench/analytics.sh   # a quicker run
#
# Phases: `trackskills seed` (the consumer's write path, 1,000 events a
# transaction); `trackskills serve` on that data; each endpoint with
# days=30 over HTTP, warm, N requests one after another then N from
# CONCURRENCY workers (each phase stops at DURATION); serve's peak RSS;
# the seed's raw queries on the same file, RAW_RUNS timed runs after a
# warm-up; bytes per event and where they go.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1

EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-90}
TOOLS=${TOOLS:-200}
USERS=${USERS:-20000}
N=${N:-2000}
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-4}
RAW_RUNS=${RAW_RUNS:-5}
WINDOW=${WINDOW:-30}
out="bench/out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin="$out/bin"
mkdir -p "$bin"
results="$out/results.jsonl"

echo "== build"
go build -o "$bin/trackskills" ./cmd/trackskills
go build -o "$bin/analytics" ./bench/analytics

# shellcheck source=bench/lib.sh
source bench/lib.sh # the working directory is the repository root (cd above)
machine_info "$out/machine.txt"

data="$out/data"
if [[ -n "${SEEDED_DB:-}" ]]; then
  db=$(cd "$(dirname "$SEEDED_DB")" && pwd)/$(basename "$SEEDED_DB")
  echo "== 1. seed: skipped, using $db" | tee "$out/1-seed.txt"
else
  db="$data/trackskills.db"
  echo "== 1. seed: $EVENTS events over $DAYS days, $TOOLS tools, $USERS users"
  echo "command: trackskills seed --data-dir $data --events $EVENTS --days $DAYS --tools $TOOLS --users $USERS --seed 1" >"$out/1-seed.txt"
  "$bin/trackskills" seed --data-dir "$data" --events "$EVENTS" --days "$DAYS" --tools "$TOOLS" --users "$USERS" --seed 1 \
    2> >(tee "$out/1-seed-progress.txt" >&2) | tee -a "$out/1-seed.txt"
fi

echo "== 2. serve on that data; each endpoint with days=$WINDOW: $N requests (or $DURATION) sequential, then with $CONCURRENCY workers"
hport=$(free_port); nport=$(free_port)
"$bin/trackskills" serve --data-dir "$data" --db "$db" --http-addr "127.0.0.1:$hport" --nats-addr "127.0.0.1:$nport" \
  --log-level warn 2>"$out/serve.log" & spid=$!
pids+=($spid)
url="http://127.0.0.1:$hport"
wait_http "$url/readyz"

top_tool=$(curl -fs "$url/analytics/tools?days=$WINDOW" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t[0]["tool_name"] if t else "")')
top_skill=$(curl -fs "$url/analytics/skills?days=$WINDOW" | python3 -c 'import json,sys,urllib.parse; t=json.load(sys.stdin)["skills"]; print(urllib.parse.quote(t[0]["skill"], safe="") if t else "")')
top_server=$(curl -fs "$url/analytics/mcp?days=$WINDOW" | python3 -c 'import json,sys,urllib.parse; t=json.load(sys.stdin)["servers"]; print(urllib.parse.quote(t[0]["server"], safe="") if t else "")')
echo "top tool: $top_tool, top skill: $top_skill, top MCP server: $top_server"
endpoints=(
  "summary summary?days=$WINDOW"
  "tools tools?days=$WINDOW"
  "retention retention?days=$WINDOW"
  "errors errors?days=$WINDOW&limit=50"
  "timeseries timeseries?days=$WINDOW"
  "categories categories?days=$WINDOW"
  "cohorts cohorts?days=$WINDOW"
  "tool tools/$top_tool?days=$WINDOW"
  "skills skills?days=$WINDOW"
  "skill skills/$top_skill?days=$WINDOW"
  "runs runs?days=$WINDOW&limit=50"
  "mcp mcp?days=$WINDOW"
  "mcp_server mcp/$top_server?days=$WINDOW"
  "portfolio portfolio?days=$WINDOW"
)
measured=()
for e in "${endpoints[@]}"; do
  name=${e%% *}; path=${e#* }
  code=$(curl -s -o "$out/resp-$name.json" -w '%{http_code}' "$url/analytics/$path")
  if [[ "$code" != 200 ]]; then
    echo "$name: /analytics/$path answers $code; skipped" | tee -a "$out/2-http.txt"
    rm -f "$out/resp-$name.json"
    continue
  fi
  "$bin/analytics" http --name "$name" --url "$url/analytics/$path" --n "$N" --duration "$DURATION" \
    --concurrency "$CONCURRENCY" --out "$results" | tee -a "$out/2-http.txt"
  measured+=("$name")
done
rss=$(peak_rss "$spid")
echo "serve peak RSS: $rss MB" | tee -a "$out/2-http.txt"
kill -INT "$spid"; wait "$spid" 2>/dev/null || true

echo "== 3. the seed's queries over the raw table, same file, $RAW_RUNS runs after a warm-up"
for name in "${measured[@]}"; do
  "$bin/analytics" raw --name "$name" --db "$db" --days "$WINDOW" --runs "$RAW_RUNS" --tool "$top_tool" \
    --out "$results" 2>>"$out/3-raw-runs.txt" | tee -a "$out/3-raw.txt" || echo "$name: no raw query" | tee -a "$out/3-raw.txt"
done

echo "== 4. size"
if command -v sqlite3 >/dev/null; then
  sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  rows=$(sqlite3 "$db" 'SELECT COUNT(*) FROM skill_usage_events')
  size=$(( $(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0) ))
  {
    echo "rows: $rows, db + wal: $size bytes, $(awk -v s="$size" -v r="$rows" 'BEGIN {printf "%.1f", s/r}') bytes/event"
    echo "by table and index (MB, bytes per event):"
    sqlite3 "$db" "SELECT printf('  %-40s %8.1f %6.1f', name, SUM(pgsize)/1e6, SUM(pgsize)*1.0/$rows) FROM dbstat GROUP BY name ORDER BY SUM(pgsize) DESC"
    echo "aggregate rows:"
    sqlite3 "$db" "SELECT printf('  %-16s %d', 'tool_hourly', COUNT(*)) FROM tool_hourly; SELECT printf('  %-16s %d', 'tool_daily', COUNT(*)) FROM tool_daily;
      SELECT printf('  %-16s %d', 'user_daily', COUNT(*)) FROM user_daily; SELECT printf('  %-16s %d', 'tool_user_daily', COUNT(*)) FROM tool_user_daily;"
  } | tee "$out/4-size.txt"
else
  echo "sqlite3 not installed (apt-get install sqlite3): see the seed's own figure in 1-seed.txt" | tee "$out/4-size.txt"
fi

echo "== summary (days=$WINDOW; speed-up = the seed's raw query median / the API's sequential latency)"
{
  cat "$out/machine.txt"
  grep -E '^(rate|rows in|db size|events written)' "$out/1-seed.txt" || true
  head -1 "$out/4-size.txt"
  echo "serve peak RSS: $rss MB"
  echo
  "$bin/analytics" report "$results"
} | tee "$out/summary.md"

rm -rf "$bin"
echo "== results in $out (the seeded database stays in $data unless SEEDED_DB was given)"
