#!/usr/bin/env bash
# Start to first good scrape: the time from starting sidecar-exporter to the first `/metrics`
# answered 200, polling every millisecond.
#
# Usage: [CONFIG=FILE] [RUNS=N] bash bench/start_time.sh BINARY...
#   e.g. cargo build --release && bash bench/start_time.sh target/release/sidecar-exporter
# CONFIG defaults to the embedded default config (the process collector on every process).
# Prints the median and the slowest of RUNS starts (default 20) per binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

(($# > 0)) || { echo "usage: $0 BINARY..." >&2; exit 2; }
require_tools python3
for binary in "$@"; do
    BINARY=$binary LISTEN=$(port) RUNS=${RUNS:-20} CONFIG=${CONFIG:-} python3 - <<'EOF'
import os, socket, statistics, subprocess, time

binary, listen, runs = os.environ["BINARY"], int(os.environ["LISTEN"]), int(os.environ["RUNS"])
args = [binary, f"--web.listen-address=127.0.0.1:{listen}"]
if os.environ["CONFIG"]:
    args += ["--config.file", os.environ["CONFIG"]]
request = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()

def scrape_status():
    """The status code of one scrape, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.sendall(request)
            head = s.recv(64)
            while s.recv(65536):
                pass
        return int(head.split()[1])
    except (OSError, IndexError, ValueError):
        return None

times = []
for _ in range(runs):
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while scrape_status() != 200:
            if time.perf_counter() - started > 10:
                raise SystemExit(f"{binary}: no good scrape within 10 s")
            time.sleep(0.001)
        times.append((time.perf_counter() - started) * 1000)
    finally:
        process.terminate()
        process.wait()
print(f"{binary}: start to first good scrape, median {statistics.median(times):.1f} ms, "
      f"slowest {max(times):.1f} ms ({runs} starts)")
EOF
done
