#!/usr/bin/env python3
"""The two parts of bench/soak.sh that a shell loop does badly.

  soak_helper.py hang    --port-file F --status-file F --seconds N
      A TCP server on 127.0.0.1 that accepts, reads and never answers: the hanging target.
  soak_helper.py clients --url URL --clients N --period S --slow S --seconds N
                         --seconds-log F --failures F
      N scrapers of URL, each starting a scrape on a 100 ms grid (Prometheus-like: a tick that
      falls inside a running scrape is skipped), over keep-alive connections.

Both stop on SIGTERM or after --seconds, whichever comes first, so a lost trap cannot leave
them running. Standard library only.
"""

import argparse
import http.client
import os
import selectors
import signal
import socket
import sys
import threading
import time
import urllib.parse

STOP = threading.Event()


def on_term(_signum, _frame):
    STOP.set()


def write_atomically(path, text):
    # The shell reads these files while they are rewritten: a rename never shows half a file.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def hang(args):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Port 0 and a file, rather than a port chosen by the shell: nothing can take it in between.
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.setblocking(False)
    write_atomically(args.port_file, "%d\n" % listener.getsockname()[1])
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    conns = {}  # socket -> accept time; dicts keep insertion order, so the first is the oldest
    accepted = 0
    peak = 0
    deadline = time.monotonic() + args.seconds
    last_status = 0.0
    while not STOP.is_set() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            sock = key.fileobj
            if sock is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                conns[conn] = time.monotonic()
                accepted += 1
                # Bounded: a client that never closes cannot make this server hold every
                # descriptor; the exporter is expected to close its side at its timeout anyway.
                if len(conns) > args.max_open:
                    oldest = next(iter(conns))
                    sel.unregister(oldest)
                    oldest.close()
                    del conns[oldest]
                peak = max(peak, len(conns))
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            # Requests are read and dropped; only the peer closing ends a connection.
            if not data:
                sel.unregister(sock)
                sock.close()
                del conns[sock]
        now = time.monotonic()
        if now - last_status >= 1.0:
            last_status = now
            write_atomically(
                args.status_file, "accepted %d open %d peak_open %d\n" % (accepted, len(conns), peak)
            )
    for conn in list(conns):
        conn.close()
    listener.close()
    write_atomically(args.status_file, "accepted %d open %d peak_open %d\n" % (accepted, 0, peak))


class Totals:
    """Per wall-clock second: scrapes finished, failed, slowest; the shell sums minutes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.per_second = {}

    def add(self, end_wall, ok, took):
        second = int(end_wall)
        with self.lock:
            done, failed, slowest = self.per_second.get(second, (0, 0, 0.0))
            self.per_second[second] = (done + 1, failed + (0 if ok else 1), max(slowest, took))

    def take_before(self, second):
        with self.lock:
            ready = sorted(s for s in self.per_second if s < second)
            return [(s,) + self.per_second.pop(s) for s in ready]


# Half the clients ask as Prometheus does (OpenMetrics preferred, gzip, its timeout header), half
# as curl does, so both encoders and compression run all along.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
    "text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "1",
    "User-Agent": "soak-prometheus-like",
}
PLAIN_HEADERS = {"Accept": "*/*", "User-Agent": "soak-curl-like"}


def client(index, args, url, start, end, totals, failures, failures_lock):
    headers = PROMETHEUS_HEADERS if index % 2 == 0 else PLAIN_HEADERS
    path = url.path + ("?" + url.query if url.query else "")
    conn = None
    tick = 0
    # Bounded twice: by the end time and by the number of ticks that fit before it.
    max_ticks = int((end - start) / args.period) + 1
    while not STOP.is_set() and tick < max_ticks:
        # Every client uses the same grid, so their scrapes meet and share one collection, as
        # those of several Prometheus servers do.
        due = start + tick * args.period
        if due >= end:
            break
        delay = due - time.monotonic()
        if delay > 0 and STOP.wait(delay):
            break
        begin_wall, begin = time.time(), time.monotonic()
        status, reason = None, ""
        try:
            if conn is None:
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=args.request_timeout)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as error:
            reason = type(error).__name__
            if conn is not None:
                conn.close()
            conn = None
        took = time.monotonic() - begin
        end_wall = time.time()
        ok = status == 200 and took <= args.slow
        if not ok:
            if not reason:
                reason = "status" if status != 200 else "slow"
            with failures_lock:
                failures.write(
                    "%.3f %.3f client=%d status=%s took=%.3fs %s\n"
                    % (begin_wall, end_wall, index, status, took, reason)
                )
                failures.flush()
        totals.add(end_wall, ok, took)
        tick = int((time.monotonic() - start) / args.period) + 1
    if conn is not None:
        conn.close()


def clients(args):
    url = urllib.parse.urlsplit(args.url)
    totals = Totals()
    failures_lock = threading.Lock()
    start = time.monotonic()
    end = start + args.seconds
    with open(args.failures, "a") as failures, open(args.seconds_log, "a") as log:
        threads = [
            threading.Thread(
                target=client,
                args=(i, args, url, start, end, totals, failures, failures_lock),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads) and time.monotonic() < end + args.request_timeout + 5:
            STOP.wait(1.0)
            for second, done, failed, slowest in totals.take_before(int(time.time())):
                log.write("%d %d %d %.3f\n" % (second, done, failed, slowest))
            log.flush()
        STOP.set()
        for t in threads:
            t.join(args.request_timeout + 1)
        for second, done, failed, slowest in totals.take_before(sys.maxsize):
            log.write("%d %d %d %.3f\n" % (second, done, failed, slowest))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("hang")
    h.add_argument("--port-file", required=True)
    h.add_argument("--status-file", required=True)
    h.add_argument("--seconds", type=float, required=True)
    h.add_argument("--max-open", type=int, default=256)
    c = sub.add_parser("clients")
    c.add_argument("--url", required=True)
    c.add_argument("--clients", type=int, default=4)
    c.add_argument("--period", type=float, default=0.1)
    c.add_argument("--slow", type=float, default=2.0)
    c.add_argument("--request-timeout", type=float, default=10.0)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--seconds-log", required=True)
    c.add_argument("--failures", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if args.command == "hang":
        hang(args)
    else:
        clients(args)


if __name__ == "__main__":
    main()
