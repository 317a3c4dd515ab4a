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
  peer_cpu_ms=$(awk -v b="$before" -v a="$after" -v n="$scrapes" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", (a-b)*1000/hz/n }')
  peer_rss_kb=${rss% *}
  awk -v c="$peer_cpu_ms" -v s="$start" -v e="$end" -v n="$scrapes" -v r="$rss" -v f="$*" \
    'BEGIN { printf "process-exporter %s: cpu_ms_per_collection=%s wall_ms_per_scrape=%.3f peak_rss=%s\n", f, c, (e-s)*1000/n, r }'
}

# Ratios ours / peer, as in bench/web_vs_peers.sh (CPU per scrape, RSS); requests/s has no
# counterpart here, ours being the collection alone, without a server.
ratio_row() { # label peer-cpu-ms peer-rss-kb
  awk -v l="$1" -v pc="$2" -v pr="$3" -v oc="$ours_cpu_ms" -v ors="$ours_rss_kb" \
    'BEGIN { printf "| %s | %.2f | %.2f |\n", l, oc / pc, ors / pr }'
}

measure_peer -threads=false -gather-smaps=false -children=false
lean=("$peer_cpu_ms" "$peer_rss_kb")
measure_peer
defaults=("$peer_cpu_ms" "$peer_rss_kb")
ours_line=$("$ours" "$scrapes")
echo "sidecar-exporter default config: $ours_line"
ours_cpu_ms=$(sed -n 's/.*cpu_ms_per_collection=\([0-9.]*\).*/\1/p' <<<"$ours_line")
ours_rss_kb=$(sed -n 's/.*peak_rss=\([0-9]*\).*/\1/p' <<<"$ours_line")
echo
echo "| ours / peer | CPU ratio (per collection) | RSS ratio (peak) |"
echo "|---|---:|---:|"
ratio_row "process-exporter -threads=false -gather-smaps=false -children=false" "${lean[@]}"
ratio_row "process-exporter (its defaults)" "${defaults[@]}"
