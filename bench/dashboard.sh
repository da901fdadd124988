#!/usr/bin/env bash
# How long the dashboard takes to be fully drawn in headless Chromium over a
# seeded data dir (every chart and table; window.trackskills.loadedMs, ms
# since navigation start), per range. Seed one first, for example the
# 10M-event database of bench/analytics.sh:
#   go run ./cmd/trackskills seed --data-dir bench/out/seed10m
#   bash bench/dashboard.sh bench/out/seed10m
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath "${1:?usage: bench/dashboard.sh <seeded data dir>}")
TRACKSKILLS_BENCH_DATA_DIR="$dir" go test -count=1 -run '^TestDashboard_LoadTime$' -v ./cmd/trackskills 2>&1 |
  grep -E 'fully drawn|^(---|ok|FAIL)'
