#!/usr/bin/env bash
# CPU per scrape and RSS of sidecar-exporter builds with the embedded default config (the
# process collector on every process), for comparing build settings on one machine.
#
# Usage: bash bench/scrape_cost.sh [SCRAPES] BINARY...
#   e.g. cargo build --release && bash bench/scrape_cost.sh 300 target/release/sidecar-exporter
# Each binary listens on a free loopback port, gets SCRAPES sequential scrapes (default 300),
# and is stopped. CPU is its utime+stime from /proc/PID/stat.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

scrapes=300
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    scrapes=$1
    shift
fi
(($# > 0)) || { echo "usage: $0 [SCRAPES] BINARY..." >&2; exit 2; }
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

printf '%-50s %12s %14s %14s %14s\n' binary bytes "cpu ms/scrape" "idle RSS KiB" "RSS after KiB"
for binary in "$@"; do
    listen=$(port)
    "$binary" --web.listen-address="127.0.0.1:$listen" >/dev/null 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null' EXIT
    wait_port "$listen"
    sleep 1
    idle=$(rss_kib "$pid")
    before=$(cpu_ticks "$pid")
    for _ in $(seq 1 "$scrapes"); do
        curl -sf -o /dev/null "http://127.0.0.1:$listen/metrics"
    done
    after=$(cpu_ticks "$pid")
    rss=$(rss_kib "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    trap - EXIT
    ms=$(awk -v t="$((after - before))" -v hz="$ticks" -v n="$scrapes" 'BEGIN {printf "%.3f", t * 1000 / hz / n}')
    printf '%-50s %12s %14s %14s %14s\n' "$binary" "$(stat -c %s "$binary")" "$ms" "$idle" "$rss"
done
