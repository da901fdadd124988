#!/usr/bin/env bash
# Soaks serve: single events offered at SOAK_RATE events/s for
# SOAK_DURATION, with serve's resident memory, threads and open files
# sampled every SOAK_SAMPLE seconds. At the end it says whether they stayed
# flat, gives loadgen's p99 ack latency, and checks that every acknowledged
# event is in SQLite. Results go to bench/out/soak-<timestamp>/ (samples.csv,
# loadgen.txt, serve.log) and a summary to stdout; it exits 1 when a check
# fails, also when the load fell short of the rate (loadgen runs on the
# same machine and may take the cores serve needs).
#
#   bash bench/soak.sh                      # 10 minutes at 5,000 events/s
#   SOAK_DURATION=60s bash bench/soak.sh    # a quick check of the script
#
# Flat means: after a warm-up (the first quarter of the run, at most two
# minutes), the mean of the last three samples is above that of the first
# three by no more than RSS_SLACK percent or 64 MB, whichever is more, for
# memory, and by no more than 8 for threads and open files. The p99 ack
# latency must stay under P99_LIMIT_MS. Goroutines are not sampled: serve has no metrics
# or pprof endpoint, so the OS threads of /proc/<pid>/status stand in
# (a goroutine leak that blocks in syscalls shows there, one parked on a
# channel does not; memory then shows it slowly).
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1

SOAK_DURATION=${SOAK_DURATION:-10m}
SOAK_RATE=${SOAK_RATE:-5000}
SOAK_SAMPLE=${SOAK_SAMPLE:-10}
CONNS=${CONNS:-32}
P99_LIMIT_MS=${P99_LIMIT_MS:-20}
RSS_SLACK=${RSS_SLACK:-15}
out="bench/out/soak-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/bin"

echo "== build"
go build -o "$out/bin/trackskills" ./cmd/trackskills

# shellcheck source=bench/lib.sh
source bench/lib.sh # the working directory is the repository root (cd above)
machine_info "$out/machine.txt"

# sample PID T: one line of samples.csv, at T seconds into the run.
sample() {
  local rss threads fds
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$1/status")
  fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  echo "$2,$rss,$threads,$fds"
}

echo "== serve"
hport=$(free_port); nport=$(free_port)
dir="$out/data"
"$out/bin/trackskills" serve --data-dir "$dir" --http-addr "127.0.0.1:$hport" --nats-addr "127.0.0.1:$nport" \
  --log-level warn 2>"$out/serve.log" & spid=$!
pids+=("$spid")
url="http://127.0.0.1:$hport"; db="$dir/trackskills.db"
wait_http "$url/readyz"

echo "== soak: single events offered at $SOAK_RATE events/s, $CONNS connections, $SOAK_DURATION, a sample every ${SOAK_SAMPLE}s"
echo "t_s,rss_mb,threads,open_files" >"$out/samples.csv"
start=$(date +%s)
(
  while kill -0 "$spid" 2>/dev/null; do
    sample "$spid" "$(( $(date +%s) - start ))" >>"$out/samples.csv"
    sleep "$SOAK_SAMPLE"
  done
) & sampler=$!
pids+=("$sampler")
"$out/bin/trackskills" loadgen --url "$url" --connections "$CONNS" --rate "$SOAK_RATE" \
  --duration "$SOAK_DURATION" --db "$db" 2>/dev/null | tee "$out/loadgen.txt"
kill "$sampler"; wait "$sampler" 2>/dev/null || true

echo "== samples ($out/samples.csv)"
column -s, -t <"$out/samples.csv" 2>/dev/null || cat "$out/samples.csv"

fail=0
verdict() { # verdict OK MESSAGE
  if [ "$1" = 1 ]; then echo "ok    $2"; else echo "FAIL  $2"; fail=1; fi
}

echo "== verdict"
# flat COLUMN NAME SLACK_PCT SLACK_ABS: compares the means of the first and
# last three samples after the warm-up.
flat() {
  awk -F, -v col="$1" -v name="$2" -v pct="$3" -v abs="$4" '
    NR > 1 { t[n] = $1; v[n] = $col; n++ }
    END {
      warm = t[n-1] / 4; if (warm > 120) warm = 120
      for (i = 0; i < n && t[i] < warm; i++) {}
      m = n - i; if (m < 2) { printf "0 %s: too few samples after the warm-up (%d)\n", name, m; exit }
      k = (m >= 6) ? 3 : 1
      for (j = 0; j < k; j++) { a += v[i+j]; b += v[n-1-j] }
      a /= k; b /= k
      limit = a * pct / 100; if (abs > limit) limit = abs
      printf "%d %s: %.1f after the warm-up (%ds), %.1f at the end (%+.1f; flat within %.1f)\n", (b - a <= limit), name, a, t[i], b, b - a, limit
    }' "$out/samples.csv"
}
for spec in "2 rss_mb $RSS_SLACK 64" "3 threads 0 8" "4 open_files 0 8"; do
  read -r ok msg < <(flat $spec)
  verdict "$ok" "$msg"
done

acked=$(awk '$1 == "acked" {print $2}' "$out/loadgen.txt")
failed=$(awk '$1 == "failed" {print $2}' "$out/loadgen.txt")
rate=$(awk '$1 == "throughput" {print $2}' "$out/loadgen.txt")
verdict "$(awk -v r="$rate" -v t="$SOAK_RATE" 'BEGIN { print (r >= 0.95 * t) }')" "throughput $rate acked events/s of $SOAK_RATE offered"
p99=$(awk '$1 == "latency" { for (i = 1; i <= NF; i++) if ($i ~ /^p99=/) { sub("p99=", "", $i); print $i } }' "$out/loadgen.txt")
verdict "$(awk -v p="$p99" -v l="$P99_LIMIT_MS" 'BEGIN { print (p < l) }')" "p99 ack latency ${p99} ms (limit ${P99_LIMIT_MS} ms)"
verdict "$([ "${failed:-1}" = 0 ] && echo 1 || echo 0)" "failed requests: ${failed:-unknown}"
rows=$(python3 - "$db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM skill_usage_events").fetchone()[1])
EOF
)
verdict "$([ "$rows" = "$acked" ] && echo 1 || echo 0)" "events in SQLite: $rows distinct, acknowledged: $acked (loadgen: $(grep '^rows' "$out/loadgen.txt" | tr -s ' ' || echo 'no rows line'))"

echo "serve peak RSS: $(peak_rss "$spid") MB"
kill -INT "$spid"
if wait "$spid"; then verdict 1 "serve stopped cleanly"; else verdict 0 "serve exited with status $? on SIGINT (see $out/serve.log)"; fi
rm -rf "$out/bin" "$dir"
echo "== results in $out"
exit "$fail"
