#!/usr/bin/env bash
# Load on the exporter's own port: many concurrent scrapers, and scrapers next to hundreds of
# slow clients under a low descriptor limit. For each run: answers, non-2xx answers and socket
# errors as wrk counts them, latency p50/p99, and the exporter's RSS and open descriptors after.
#
# The collector reads a file, so what is measured is the server, not an app. Bounded: every
# wrk run lasts DURATION seconds (default 10), everything listens on 127.0.0.1, and every
# process started here is stopped on exit.
#
#   apt-get install -y wrk python3 util-linux
#   bench/load.sh                 # DURATION=5 bench/load.sh for a quicker run
set -euo pipefail

DURATION=${DURATION:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk python3 prlimit; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y wrk python3 util-linux" >&2
        exit 1
    }
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

(cd "$ROOT" && cargo build --release --quiet --locked)
OURS="$ROOT/target/release/sidecar-exporter"

echo '{"requests": 42, "errors": 1}' >"$WORK/stats.json"
cat >"$WORK/config.yaml" <<EOF
collectors:
  - name: stats
    kind: file
    path: $WORK/stats.json
    format: json
    metrics:
      - {name: app_requests_total, path: '{ .requests }', valuetype: counter}
      - {name: app_errors_total, path: '{ .errors }', valuetype: counter}
EOF

# Starts the exporter with the descriptor limit $1 (soft:hard); sets PORT and PID.
start() {
    PORT=$(port)
    prlimit --nofile="$1" -- "$OURS" --config.file "$WORK/config.yaml" \
        --web.listen-address "127.0.0.1:$PORT" --log.level warn &
    PID=$!
    PIDS+=("$PID")
    wait_port "$PORT"
}

# One wrk run of DURATION seconds with $1 connections, and the exporter's state after it.
measure() {
    local label=$1 connections=$2 threads=2
    [ "$connections" -lt 2 ] && threads=1
    local out
    out=$(wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency --timeout 5s \
        "http://127.0.0.1:$PORT/metrics" 2>&1)
    local requests non2xx errors p50 p99 rss fds
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    errors=$(awk '/Socket errors/ { print $0 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    rss=$(awk '/VmRSS/ { print $2 " " $3 }' "/proc/$PID/status")
    fds=$(ls "/proc/$PID/fd" | wc -l)
    printf '%-44s answers=%s non2xx=%s p50=%s p99=%s rss=%s fds=%s %s\n' \
        "$label" "$requests" "${non2xx:-0}" "$p50" "$p99" "$rss" "$fds" "${errors:+($errors)}"
}

# Holds $1 connections that each sent half a request, until killed; prints nothing.
hold_half_requests() {
    python3 - "$PORT" "$1" <<'PY' &
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
    held.append(s)
time.sleep(3600)
PY
    HOLDER=$!
    PIDS+=("$HOLDER")
    sleep 1
}

echo "exporter: $OURS ($(stat -c %s "$OURS") bytes), ${DURATION}s per run, $(nproc) cores"
start 4096:4096
measure "1 scraper" 1
measure "16 scrapers" 16
measure "1,000 scrapers" 1000
kill "$PID"; wait "$PID" 2>/dev/null || true

start 128:128
hold_half_requests 300
measure "4 scrapers beside 300 half-sent requests, 128 fds" 4
kill "$HOLDER" "$PID"; wait "$HOLDER" "$PID" 2>/dev/null || true
