# Helpers shared by the benchmark scripts; source it, don't run it.

pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wait_http URL: waits up to a minute (a first start may run migrations).
wait_http() {
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "not up: $1" >&2; return 1
}

# peak_rss PID: the peak resident set (VmHWM) of a process, in MB.
peak_rss() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# io_written PID: the bytes a process has caused to be written to disk
# (write_bytes of /proc/PID/io: the page cache's writeback, WAL and store
# files included).
io_written() { awk '/^write_bytes/ {print $2}' "/proc/$1/io"; }

# machine_info FILE: what ran the benchmark, to stdout and FILE.
machine_info() {
  {
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "go: $(go version)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo '+dirty')"
    echo "date: $(date -u +%FT%TZ)"
  } | tee "$1"
}
