#!/usr/bin/env bash
# CPU seconds per collection of the `process` kind vs Debian's prometheus-process-exporter, on
# the same ~1,000 live processes, with the equivalent config (one group per comm, every process).
#
#   bash bench/process_vs_peer.sh [SCRAPES] [PROCESSES]      (defaults: 100 and 1000)
#
# Needs: apt-get install -y prometheus-process-exporter curl; a release build of the example
# (the script builds it). process-exporter's figure includes serving HTTP and encoding the text;
# ours is the collection alone (the server is not part of this measurement).
set -euo pipefail
cd "$(dirname "$0")/.."

scrapes=${1:-100}
processes=${2:-1000}
port=${PORT:-19299}
peer=$(command -v prometheus-process-exporter || true)
[ -n "$peer" ] || { echo "apt-get install -y prometheus-process-exporter" >&2; exit 1; }
command -v curl >/dev/null || { echo "apt-get install -y curl" >&2; exit 1; }

cargo build --quiet --release --example process_collect
ours=target/release/examples/process_collect

work=$(mktemp -d)
pids=()
peer_pid=
cleanup() {
  [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq "$processes"); do
  sleep 600 </dev/null >/dev/null 2>&1 &
  pids+=("$!")
done
echo "processes on the machine: $(ls -d /proc/[0-9]* | wc -l)"

cat > "$work/pe.yaml" <<'YAML'
process_names:
  - name: "{{.Comm}}"
    cmdline: ['.+']
YAML

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

measure_peer() {  # $@: extra flags
  "$peer" -config.path "$work/pe.yaml" -web.listen-address "127.0.0.1:$port" "$@" >/dev/null 2>&1 &
  peer_pid=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"
  local before after start end
  before=$(cpu_ticks "$peer_pid"); start=$(date +%s.%N)
  for _ in $(seq "$scrapes"); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; done
  after=$(cpu_ticks "$peer_pid"); end=$(date +%s.%N)
  local rss; rss=$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$peer_pid/status")
  kill "$peer_pid"; wait "$peer_pid" 2>/dev/null || true; peer_pid=
  awk -v b="$before" -v a="$after" -v n="$scrapes" -v s="$start" -v e="$end" -v r="$rss" -v f="$*" \
    'BEGIN { printf "process-exporter %s: cpu_ms_per_collection=%.3f wall_ms_per_scrape=%.3f peak_rss=%s\n", f, (a-b)*10/n, (e-s)*1000/n, r }'
}

measure_peer -threads=false -gather-smaps=false -children=false
measure_peer
echo -n "sidecar-exporter default config: "
"$ours" "$scrapes"
