#!/usr/bin/env bash
# Side by side: sidecar-exporter's nginx and apache presets against Debian's
# prometheus-nginx-exporter and prometheus-apache-exporter, scraping the same nginx and Apache
# (event MPM) on 127.0.0.1. For each exporter: wrk requests/s and p50/p99 latency of /metrics
# at 1 and 16 connections, CPU seconds per 1,000 scrapes (utime+stime of the exporter from
# /proc/PID/stat around the wrk runs), and RSS after the load.
#
# Bounded: every wrk run lasts DURATION seconds (default 10), everything listens on 127.0.0.1,
# and every process started here is stopped on exit.
#
#   apt-get install -y nginx apache2 wrk prometheus-nginx-exporter prometheus-apache-exporter
#   bench/web_vs_peers.sh            # DURATION=5 bench/web_vs_peers.sh for a quicker run
set -euo pipefail

DURATION=${DURATION:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require_tools nginx apache2 wrk prometheus-nginx-exporter prometheus-apache-exporter

(cd "$ROOT" && cargo build --release --quiet)
OURS="$ROOT/target/release/sidecar-exporter"

# --- the apps -------------------------------------------------------------------------------
NGINX_PORT=$(port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
user root root;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /stub_status { stub_status; }
    }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" -g 'daemon off;' &
PIDS+=($!)

APACHE_PORT=$(port)
M=/usr/lib/apache2/modules
mkdir -p "$WORK/apache"
chmod 755 "$WORK/apache"
cat >"$WORK/apache/apache2.conf" <<EOF
ServerRoot $WORK/apache
PidFile $WORK/apache/apache2.pid
ErrorLog $WORK/apache/error.log
Mutex file:$WORK/apache default
DefaultRuntimeDir $WORK/apache
ServerName 127.0.0.1
Listen 127.0.0.1:$APACHE_PORT
$( [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup nogroup\n' )
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_host_module $M/mod_authz_host.so
LoadModule status_module $M/mod_status.so
ExtendedStatus On
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
EOF
# setsid: on shutdown Apache signals its whole process group.
setsid apache2 -f "$WORK/apache/apache2.conf" -DFOREGROUND &
PIDS+=($!)
wait_port "$NGINX_PORT"
wait_port "$APACHE_PORT"
sleep 1

NGINX_URL="http://127.0.0.1:$NGINX_PORT/stub_status"
APACHE_URL="http://127.0.0.1:$APACHE_PORT/server-status?auto"

# --- the exporters --------------------------------------------------------------------------
start_ours() { # preset url
    local p cfg
    p=$(port)
    cfg="$WORK/ours-$1.yaml"
    printf 'collectors:\n  - name: %s\n    preset: %s\n    url: "%s"\n' "$1" "$1" "$2" >"$cfg"
    "$OURS" --config.file "$cfg" --web.listen-address "127.0.0.1:$p" --log.level warn &
    PIDS+=($!)
    STARTED_PID=$!
    STARTED_PORT=$p
}
start_nginx_peer() {
    local p
    p=$(port)
    prometheus-nginx-exporter --nginx.scrape-uri "$NGINX_URL" --web.listen-address "127.0.0.1:$p" >/dev/null 2>&1 &
    PIDS+=($!)
    STARTED_PID=$!
    STARTED_PORT=$p
}
start_apache_peer() {
    local p
    p=$(port)
    prometheus-apache-exporter --scrape_uri "$APACHE_URL" --telemetry.address "127.0.0.1:$p" >/dev/null 2>&1 &
    PIDS+=($!)
    STARTED_PID=$!
    STARTED_PORT=$p
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

# One exporter: wrk at 1 and 16 connections, then CPU per 1000 scrapes and RSS.
measure() { # label pid port
    local label=$1 pid=$2 p=$3 url="http://127.0.0.1:$3/metrics"
    wait_port "$p"
    curl -sf "$url" >/dev/null
    local before after total=0 line=""
    before=$(ticks "$pid")
    for c in 1 16; do
        local t=1
        [ "$c" -gt 1 ] && t=2
        local out rps p50 p99 reqs
        out=$(wrk -t"$t" -c"$c" -d"${DURATION}s" --latency "$url")
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        total=$((total + reqs))
        line+=$(printf ' | %9s | %8s | %8s' "$rps" "$p50" "$p99")
    done
    after=$(ticks "$pid")
    local cpu_per_1000
    cpu_per_1000=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$total" 'BEGIN {printf "%.3f", t / hz / n * 1000}')
    printf '| %-34s%s | %7s | %7s |\n' "$label" "$line" "$cpu_per_1000" "$(($(rss_kib "$pid") / 1024)) MiB"
}

echo "wrk ${DURATION}s per run; CPU = exporter utime+stime over both runs / scrapes × 1000"
echo
printf '| %-34s | %9s | %8s | %8s | %9s | %8s | %8s | %7s | %7s |\n' exporter "c1 req/s" "c1 p50" "c1 p99" "c16 req/s" "c16 p50" "c16 p99" "CPU s/1k" RSS
echo '|---|---|---|---|---|---|---|---|---|'
start_ours nginx "$NGINX_URL"
measure "sidecar-exporter (preset nginx)" "$STARTED_PID" "$STARTED_PORT"
kill "$STARTED_PID"
start_nginx_peer
measure "prometheus-nginx-exporter 0.11.0" "$STARTED_PID" "$STARTED_PORT"
kill "$STARTED_PID"
start_ours apache "$APACHE_URL"
measure "sidecar-exporter (preset apache)" "$STARTED_PID" "$STARTED_PORT"
kill "$STARTED_PID"
start_apache_peer
measure "prometheus-apache-exporter 0.12.0" "$STARTED_PID" "$STARTED_PORT"
kill "$STARTED_PID"
