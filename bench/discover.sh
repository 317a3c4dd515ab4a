#!/usr/bin/env bash
# The cost of one discovery round with 20 listening ports on loopback: 8 HTTP servers that answer
# 404 to everything, 6 that send an SSH banner, 6 that accept and never answer (the worst case:
# each costs a whole probe timeout). A real redis-server and nginx are added when installed, so
# that preset probes run too. Everything started here stops when the script ends.
#
#   bench/discover.sh [path/to/sidecar-exporter]     (default: target/release/sidecar-exporter)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin=${1:-target/release/sidecar-exporter}
[ -x "$bin" ] || cargo build --release --locked
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

python3 - "$work/ports" <<'PY' &
import socket, sys, threading
ports = []
def serve(kind):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(64); ports.append(s.getsockname()[1])
    held = []
    def loop():
        while True:
            c, _ = s.accept()
            if kind == "http":
                c.recv(65536)
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); c.close()
            elif kind == "banner":
                c.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n"); held.append(c)
            else:
                held.append(c)
    threading.Thread(target=loop, daemon=True).start()
for kind in ["http"] * 8 + ["banner"] * 6 + ["silent"] * 6:
    serve(kind)
open(sys.argv[1], "w").write(" ".join(map(str, ports)))
threading.Event().wait()
PY
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/ports" ] && break; sleep 0.1; done

if command -v redis-server >/dev/null; then
    rport=$(port)
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --daemonize no --dir "$work" >/dev/null &
    pids+=($!)
    wait_port "$rport"
fi

echo "listening on loopback for this run: $(wc -w <"$work/ports") test ports + redis; the machine's other sockets count too"
for run in 1 2 3; do
    start=$(date +%s.%N)
    out=$("$bin" discover)
    end=$(date +%s.%N)
    printf 'run %s: %.2f s wall; %s\n' "$run" "$(echo "$end - $start" | bc)" "$(echo "$out" | head -1 | sed 's/^# Written by `sidecar-exporter discover`: //')"
done
