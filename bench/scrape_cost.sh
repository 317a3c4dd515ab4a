#!/usr/bin/env bash
# The cost of a scrape for several sidecar-exporter builds on the same job, for comparing build
# settings (opt-level, LTO, features) on one machine.
#
# Usage: [CONFIG=FILE] [ROUNDS=N] bash bench/scrape_cost.sh [SCRAPES] BINARY...
#   e.g. cargo build --release && bash bench/scrape_cost.sh 300 target/release/sidecar-exporter
# Each binary listens on a free loopback port with CONFIG (default: the embedded default
# config, the process collector on every process), gets SCRAPES sequential scrapes (default
# 300) with curl, and is stopped; with ROUNDS > 1 the binaries take turns that many times.
#
# Printed per run: CPU per scrape, from `perf stat`'s task clock (nanoseconds of the exporter's
# threads on a CPU) when perf is installed, else from utime+stime in /proc/PID/stat (ticks of
# 10 ms); idle RSS; RSS after the scrapes. CPU time is counted only while the exporter runs,
# but a busy machine still inflates it (shared caches): compare builds in alternating ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

scrapes=300
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    scrapes=$1
    shift
fi
(($# > 0)) || { echo "usage: $0 [SCRAPES] BINARY..." >&2; exit 2; }
require_tools curl
rounds=${ROUNDS:-1}
config_args=()
[[ -n ${CONFIG:-} ]] && config_args=(--config.file "$CONFIG")
counting=false
if command -v perf >/dev/null && perf stat -e task-clock -x, -- true >/dev/null 2>&1; then
    counting=true
fi
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
scrape_all() {
    for _ in $(seq 1 "$scrapes"); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/metrics"
    done
}

printf '%-44s %10s %14s %9s %9s\n' binary bytes "CPU ms/scrape" "idle KiB" "after KiB"
for _ in $(seq 1 "$rounds"); do
    for binary in "$@"; do
        listen=$(port)
        "$binary" "${config_args[@]}" --web.listen-address="127.0.0.1:$listen" >/dev/null 2>&1 &
        pid=$!
        trap 'kill $pid 2>/dev/null' EXIT
        wait_port "$listen"
        sleep 1
        idle=$(rss_kib "$pid")
        # One scrape first, so that the figures are those of a running exporter, not its start.
        curl -sf -o /dev/null "http://127.0.0.1:$listen/metrics"
        if $counting; then
            counts=$(mktemp)
            perf stat -e task-clock -x, -o "$counts" -p "$pid" -- \
                bash -c "$(declare -f scrape_all); scrapes=$scrapes; scrape_all $listen"
            ms=$(awk -F, -v n="$scrapes" '$3 == "task-clock" {printf "%.3f", $1 / n}' "$counts")
            rm -f "$counts"
        else
            before=$(cpu_ticks "$pid")
            scrape_all "$listen"
            after=$(cpu_ticks "$pid")
            ms=$(awk -v t="$((after - before))" -v hz="$ticks" -v n="$scrapes" 'BEGIN {printf "%.3f", t * 1000 / hz / n}')
        fi
        rss=$(rss_kib "$pid")
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        trap - EXIT
        printf '%-44s %10s %14s %9s %9s\n' "$binary" "$(stat -c %s "$binary")" "$ms" "$idle" "$rss"
    done
done
