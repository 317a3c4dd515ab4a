#!/bin/sh
# Runs fuzz targets one after another for a bounded time each (default: all, 180 s each).
# Usage: ./run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")"
seconds=${1:-180}
[ $# -gt 0 ] && shift
targets=${*:-$(cargo fuzz list --fuzz-dir .)}
[ -d corpus ] || ./seed.sh
mkdir -p logs
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "== $t (${seconds}s)"
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . -O "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=512 -timeout=2 -print_final_stats=1 \
        > "logs/$t.log" 2>&1 || echo "   $t stopped: see logs/$t.log and artifacts/$t/"
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb' "logs/$t.log" | tr '\n' ' '; echo
done
