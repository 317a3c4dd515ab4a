#!/usr/bin/env bash
# Soak: sidecar-exporter watching every preset's real app for SOAK_MINUTES (default 30) while
# several clients scrape it every 100 ms, the apps restart every few minutes, one collector's
# target hangs, and the config is reloaded every minute. Each minute prints the exporter's RSS,
# descriptors and threads and the scrapes done and failed; the end prints start, end and peak and
# a verdict. Exit status 1 when a scrape failed outside an app's restart window, a resource grew
# beyond noise, a reload failed, a collector was down at the end, or the hanging collector
# stopped timing out.
#
# Everything listens on 127.0.0.1 only, inside a temp dir; every process started here is stopped
# on exit and checked gone; every loop is bounded in count and time. The scrapers and the
# hanging target are bench/soak_helper.py (python3, standard library).
#
#   apt-get install -y nginx apache2 php-fpm redis-server memcached haproxy prometheus curl python3
#   bench/soak.sh                        # 30 minutes after a 30 s warm-up
#   SOAK_MINUTES=4 bench/soak.sh         # one restart round; four reloads after three in the warm-up
#
# Knobs (environment): SOAK_MINUTES (30), SOAK_CLIENTS (4), SOAK_PERIOD (0.1 s between a client's
# scrapes), SOAK_SLOW_SECONDS (2: a slower scrape counts as failed), SOAK_WARMUP_SECONDS (30),
# SOAK_RESTART_EVERY_MINUTES (3; 0: no restarts), SOAK_DOWN_SECONDS (3), SOAK_RELOAD (1; 0: no
# reloads), SOAK_HANG_TIMEOUT (50ms), SOAK_FD_SLACK (4), SOAK_THREAD_SLACK (4), SOAK_KEEP_DIR (1:
# keep the temp dir), SIDECAR_EXPORTER_BIN (a binary to use instead of building
# target/release/sidecar-exporter). Turning restarts or reloads off tells which of them a growth
# comes with.
set -euo pipefail

MINUTES=${SOAK_MINUTES:-30}
CLIENTS=${SOAK_CLIENTS:-4}
PERIOD=${SOAK_PERIOD:-0.1}
SLOW=${SOAK_SLOW_SECONDS:-2}
WARMUP=${SOAK_WARMUP_SECONDS:-30}
RESTART_EVERY=${SOAK_RESTART_EVERY_MINUTES:-3}
RELOAD=${SOAK_RELOAD:-1}
DOWN=${SOAK_DOWN_SECONDS:-3}
HANG_TIMEOUT=${SOAK_HANG_TIMEOUT:-50ms}
FD_SLACK=${SOAK_FD_SLACK:-4}
THREAD_SLACK=${SOAK_THREAD_SLACK:-4}
# A failure this long after an app came back still belongs to its restart: a collection that
# started against the old process may finish late.
GRACE=5
for n in MINUTES CLIENTS WARMUP RESTART_EVERY RELOAD DOWN FD_SLACK THREAD_SLACK; do
    [[ ${!n} =~ ^[0-9]+$ ]] || { echo "the SOAK_* settings are whole numbers (seconds, minutes, counts): $n=${!n}" >&2; exit 2; }
done
[ "$MINUTES" -gt 0 ] && [ "$CLIENTS" -gt 0 ] ||
    { echo "SOAK_MINUTES and SOAK_CLIENTS must be above 0" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HELPER="$ROOT/bench/soak_helper.py"

# --- what must be installed ------------------------------------------------------------------
find_tool() { # name: prints the path, from PATH or the sbin folders Debian puts daemons in
    command -v "$1" 2>/dev/null && return 0
    local dir
    for dir in /usr/sbin /sbin /usr/local/sbin; do
        [ -x "$dir/$1" ] && { echo "$dir/$1"; return 0; }
    done
    return 1
}
MISSING=()
need() { # variable tool package
    local path
    if path=$(find_tool "$2"); then
        printf -v "$1" '%s' "$path"
    else
        MISSING+=("$3")
    fi
}
need NGINX_BIN nginx nginx
need APACHE_BIN apache2 apache2
need REDIS_BIN redis-server redis-server
need MEMCACHED_BIN memcached memcached
need HAPROXY_BIN haproxy haproxy
need PROMETHEUS_BIN prometheus prometheus
need CURL_BIN curl curl
need PYTHON_BIN python3 python3
need SETSID_BIN setsid util-linux
need PGREP_BIN pgrep procps
# php-fpm is installed under its PHP version's name (php-fpm8.2 on bookworm).
FPM_BIN=$(find /usr/sbin /usr/bin -maxdepth 1 -name 'php-fpm[0-9]*' 2>/dev/null | sort -V | tail -n 1)
[ -n "$FPM_BIN" ] || MISSING+=(php-fpm)
if [ ${#MISSING[@]} -gt 0 ]; then
    echo "missing: apt-get install -y ${MISSING[*]}" >&2
    exit 1
fi
[ -f /etc/nginx/fastcgi_params ] || { echo "missing /etc/nginx/fastcgi_params: apt-get install -y nginx" >&2; exit 1; }

if [ -n "${SIDECAR_EXPORTER_BIN:-}" ]; then
    BIN=$SIDECAR_EXPORTER_BIN
else
    (cd "$ROOT" && cargo build --release --locked)
    BIN="$ROOT/target/release/sidecar-exporter"
fi
[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 1; }

# --- temp dir, process bookkeeping, cleanup --------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sidecar-soak.XXXXXX")
# Apache's and nginx's workers (another user when started as root) read files here.
chmod 755 "$WORK"
mkdir -p "$WORK/pids" "$WORK/log"
: >"$WORK/sessions"
APPS=(nginx apache php_fpm redis memcached haproxy prometheus)
EXPORTER_PID= CLIENTS_PID= HANG_PID=

alive() { # pid: true while it runs (a zombie has finished)
    local state
    state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# Every process is started in a session of its own, whose id is its pid: Apache signals its
# whole process group when it stops, a Ctrl-C must reach the trap rather than the apps, and a
# session id finds the workers that would outlive a killed parent.
launch() { # name command...
    local name=$1
    shift
    "$SETSID_BIN" "$@" </dev/null >>"$WORK/log/$name.log" 2>&1 &
    echo "$!" >"$WORK/pids/$name"
    echo "$!" >>"$WORK/sessions"
}

stop_pid() { # pid: TERM, up to 15 s to exit, then KILL; then whatever is left of its session
    local pid=$1 _
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && { kill -KILL "$pid" 2>/dev/null || true; }
    for _ in $(seq 1 50); do "$PGREP_BIN" -s "$pid" >/dev/null || break; sleep 0.1; done
    "$PGREP_BIN" -s "$pid" >/dev/null && { pkill -KILL -s "$pid" 2>/dev/null || true; }
    wait "$pid" 2>/dev/null || true
}

stop_named() { # name
    local pid
    pid=$(cat "$WORK/pids/$1" 2>/dev/null) || return 0
    [ -n "$pid" ] && stop_pid "$pid"
    return 0
}

cleanup() {
    local rc=$? sessions left
    set +e
    trap - INT TERM
    # Load first, then the exporter, then what it watches.
    [ -n "$CLIENTS_PID" ] && stop_pid "$CLIENTS_PID"
    stop_named exporter
    for app in "${APPS[@]}"; do stop_named "$app"; done
    [ -n "$HANG_PID" ] && stop_pid "$HANG_PID"
    sessions=$(sort -u "$WORK/sessions" | paste -sd, -)
    if [ -n "$sessions" ] && left=$("$PGREP_BIN" -a -s "$sessions"); then
        echo "still running after cleanup:" >&2
        echo "$left" >&2
        rc=1
    fi
    if [ "$rc" -ne 0 ] && [ -s "$WORK/log/exporter.log" ]; then
        # The hanging collector logs every timeout; the other lines are the news.
        echo "--- last lines of the exporter's log, but the hanging collector's" >&2
        grep -v 'collector=hang ' "$WORK/log/exporter.log" | tail -n 20 >&2
    fi
    if [ "${SOAK_KEEP_DIR:-}" = 1 ]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- ports, clocks, HTTP ---------------------------------------------------------------------
# Bound together so that they differ; each was free a moment ago.
read -r NGINX_PORT APACHE_PORT REDIS_PORT MEMCACHED_PORT HAPROXY_PORT HAPROXY_WEB_PORT \
    PROM_PORT EXPORTER_PORT < <("$PYTHON_BIN" -c '
import socket
s = [socket.socket() for _ in range(8)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

now_ms() { NOW_MS=$((${EPOCHREALTIME/./} / 1000)); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

wait_http() { # url pattern seconds: until the page answers 200 with pattern in it
    local _ body
    for _ in $(seq 1 $(($3 * 5))); do
        if body=$("$CURL_BIN" -sf --max-time 1 "$1" 2>/dev/null) && grep -q -- "$2" <<<"$body"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}
wait_port() { # port seconds
    local _
    for _ in $(seq 1 $(($2 * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- the apps' configs -----------------------------------------------------------------------
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

mkdir -p "$WORK/www/actuator" "$WORK/nginx" "$WORK/apache" "$WORK/fpm" "$WORK/redis" "$WORK/prometheus"
echo "hello from nginx" >"$WORK/www/hello.txt"
# Spring Boot is not in Debian: nginx serves the health answer the spring_actuator preset's
# golden test reads, so the preset's collector runs against a live HTTP server like the others.
cp "$ROOT/tests/fixtures/presets/spring_actuator_health.json" "$WORK/www/actuator/health"

cat >"$WORK/nginx/nginx.conf" <<EOF
$([ "$IS_ROOT" = 1 ] && echo 'user root root;')
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
    default_type text/plain;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location = /stub_status { stub_status; }
        location = /actuator/health { default_type application/json; }
        # php-fpm's status page, as tests/presets_live.rs reaches it: FastCGI on a unix socket.
        location = /status {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_NAME /status;
            fastcgi_param SCRIPT_FILENAME /status;
            fastcgi_pass unix:$WORK/fpm/fpm.sock;
        }
    }
}
EOF

M=/usr/lib/apache2/modules
cat >"$WORK/apache/apache2.conf" <<EOF
ServerRoot $WORK/apache
PidFile $WORK/apache/apache2.pid
ErrorLog $WORK/apache/error.log
LogLevel warn
Mutex file:$WORK/apache default
DefaultRuntimeDir $WORK/apache
ServerName 127.0.0.1
Listen 127.0.0.1:$APACHE_PORT
$([ "$IS_ROOT" = 1 ] && printf 'User nobody\nGroup nogroup\n')
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_host_module $M/mod_authz_host.so
LoadModule status_module $M/mod_status.so
ExtendedStatus On
KeepAlive On
StartServers 2
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
EOF

cat >"$WORK/fpm/fpm.conf" <<EOF
[global]
pid = $WORK/fpm/fpm.pid
error_log = $WORK/fpm/fpm.log
daemonize = no
[soak]
listen = $WORK/fpm/fpm.sock
pm = static
pm.max_children = 2
pm.status_path = /status
EOF

# The stats page, and a frontend whose backend is the nginx above with health checks, so that
# the server series move and go down while nginx restarts.
cat >"$WORK/haproxy.cfg" <<EOF
defaults
  mode http
  timeout connect 100ms
  timeout client 5s
  timeout server 5s
frontend stats
  bind 127.0.0.1:$HAPROXY_PORT
  stats enable
  stats uri /stats
frontend web
  bind 127.0.0.1:$HAPROXY_WEB_PORT
  default_backend app
backend app
  server nginx 127.0.0.1:$NGINX_PORT check inter 5s
EOF

# Prometheus scrapes itself and the exporter, as it would in production: its TSDB then holds
# the exporter's series, and the exporter sees one more client.
cat >"$WORK/prometheus/prometheus.yml" <<EOF
global: {scrape_interval: 10s, scrape_timeout: 5s}
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:$PROM_PORT']}]
  - job_name: sidecar
    static_configs: [{targets: ['127.0.0.1:$EXPORTER_PORT']}]
EOF

MEMCACHED_USER=()
[ "$IS_ROOT" = 1 ] && MEMCACHED_USER=(-u nobody)

start_app() { # name
    case $1 in
    nginx) launch nginx "$NGINX_BIN" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" -g 'daemon off;' ;;
    apache) launch apache "$APACHE_BIN" -f "$WORK/apache/apache2.conf" -DFOREGROUND ;;
    # -R: allowed to run as root, which the tests and this script may be.
    php_fpm) launch php_fpm "$FPM_BIN" -F -R -n -y "$WORK/fpm/fpm.conf" ;;
    redis) launch redis "$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize no --dir "$WORK/redis" ;;
    memcached) launch memcached "$MEMCACHED_BIN" -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 32 "${MEMCACHED_USER[@]}" ;;
    haproxy) launch haproxy "$HAPROXY_BIN" -f "$WORK/haproxy.cfg" -db ;;
    prometheus) launch prometheus "$PROMETHEUS_BIN" --config.file="$WORK/prometheus/prometheus.yml" \
        --storage.tsdb.path="$WORK/prometheus/data" --web.listen-address="127.0.0.1:$PROM_PORT" ;;
    esac
}

ready_app() { # name: until the app serves what its collector reads (bounded)
    case $1 in
    nginx) wait_http "http://127.0.0.1:$NGINX_PORT/stub_status" 'Active connections' 10 ;;
    # Apache's parent listens before its children serve.
    apache) wait_http "http://127.0.0.1:$APACHE_PORT/server-status?auto" 'Scoreboard: ' 10 ;;
    php_fpm) wait_http "http://127.0.0.1:$NGINX_PORT/status?json" '"pool"' 10 ;;
    redis) wait_port "$REDIS_PORT" 10 ;;
    memcached) wait_port "$MEMCACHED_PORT" 10 ;;
    haproxy) wait_http "http://127.0.0.1:$HAPROXY_PORT/stats;csv" '^# pxname' 10 ;;
    prometheus) wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 'Ready' 30 ;;
    esac
}

for app in "${APPS[@]}"; do start_app "$app"; done
for app in "${APPS[@]}"; do
    ready_app "$app" || { echo "$app did not come up; its log:" >&2; tail -n 20 "$WORK/log/$app.log" >&2; exit 1; }
done

# The hanging target: accepts, reads, never answers.
"$SETSID_BIN" "$PYTHON_BIN" "$HELPER" hang --port-file "$WORK/hang.port" --status-file "$WORK/hang.status" \
    --seconds $((WARMUP + MINUTES * 60 + 300)) </dev/null >>"$WORK/log/hang.log" 2>&1 &
HANG_PID=$!
echo "$HANG_PID" >>"$WORK/sessions"
for _ in $(seq 1 50); do [ -s "$WORK/hang.port" ] && break; sleep 0.1; done
HANG_PORT=$(cat "$WORK/hang.port")

# --- the exporter's config -------------------------------------------------------------------
CFG="$WORK/config.yaml"
write_config() { # generation: the probe's timeout alternates so that every reload changes the config
    local probe_timeout=800ms
    [ $(($1 % 2)) = 1 ] && probe_timeout=900ms
    cat >"$CFG.tmp" <<EOF
# soak generation $1
global:
  scrape_timeout: 1s
collectors:
  - name: web
    preset: nginx
    url: http://127.0.0.1:$NGINX_PORT/stub_status
  - name: httpd
    preset: apache
    url: 'http://127.0.0.1:$APACHE_PORT/server-status?auto'
  - name: php
    preset: php_fpm
    url: 'http://127.0.0.1:$NGINX_PORT/status?json'
  - name: cache
    preset: redis
    address: 127.0.0.1:$REDIS_PORT
  - name: sessions
    preset: memcached
    address: 127.0.0.1:$MEMCACHED_PORT
  - name: lb
    preset: haproxy
    url: 'http://127.0.0.1:$HAPROXY_PORT/stats;csv'
  - name: tsdb
    preset: prometheus_tsdb
    url: http://127.0.0.1:$PROM_PORT/api/v1/status/tsdb
  - name: spring
    preset: spring_actuator
    url: http://127.0.0.1:$NGINX_PORT/actuator/health
  - name: prom
    kind: prometheus
    url: http://127.0.0.1:$PROM_PORT/metrics
    # Its process_* would collide with the exporter's own.
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'process_.*', action: drop}
  - name: apps
    kind: process
    # By pidfile rather than by name: other nginx or redis on the machine stay out, and a
    # restart changes the pid the collector has to follow.
    groups:
$(for app in "${APPS[@]}"; do printf '      - {name: %s, pidfile: %s, children: true}\n' "$app" "$WORK/pids/$app"; done)
  - name: probe
    kind: http_probe
    url: http://127.0.0.1:$NGINX_PORT/hello.txt
    timeout: $probe_timeout
  - name: hang
    kind: http_json
    url: http://127.0.0.1:$HANG_PORT/status
    # Every scrape waits for it: short enough that a scrape still fits a client's 100 ms.
    timeout: $HANG_TIMEOUT
    metrics:
      - {name: soak_hang_value, help: 'Never set: the target never answers.', path: '{ .value }'}
EOF
    mv "$CFG.tmp" "$CFG"
}
write_config 0
"$BIN" check --config.file "$CFG" >/dev/null

launch exporter "$BIN" --config.file "$CFG" --web.listen-address "127.0.0.1:$EXPORTER_PORT" --log.level warn
EXPORTER_PID=$(cat "$WORK/pids/exporter")
URL="http://127.0.0.1:$EXPORTER_PORT"
wait_http "$URL/-/ready" Ready 10 || { echo "the exporter did not become ready" >&2; exit 1; }

SELF_FAMILIES="name[]=sidecar_exporter_config_last_reload_successful&name[]=sidecar_exporter_config_last_reload_success_timestamp_seconds&name[]=sidecar_exporter_collector_errors_total&name[]=sidecar_exporter_collector_up"
self_metrics() { "$CURL_BIN" -sf --max-time 5 "$URL/metrics?$SELF_FAMILIES"; }
value() { # exposition series: its value, or NaN
    awk -v s="$2" '$1 == s { v = $2 } END { print (v == "" ? "NaN" : v) }' <<<"$1"
}
HANG_TIMEOUTS_SERIES='sidecar_exporter_collector_errors_total{collector="hang",kind="http_json",reason="timeout"}'
RELOAD_OK_SERIES=sidecar_exporter_config_last_reload_successful
RELOAD_TS_SERIES=sidecar_exporter_config_last_reload_success_timestamp_seconds
collectors_down() { # exposition: the collectors that should be up and are not, and hang if it is up
    awk '/^sidecar_exporter_collector_up\{/ {
        match($1, /collector="[^"]*"/); c = substr($1, RSTART + 11, RLENGTH - 12)
        if ((c == "hang") != ($2 == 0)) printf "%s=%s ", c, $2
    }' <<<"$1"
}
all_up() { # seconds: until every collector but hang is up (bounded)
    local _ m
    for _ in $(seq 1 "$1"); do
        m=$(self_metrics) && [ -z "$(collectors_down "$m")" ] && return 0
        sleep 1
    done
    echo "collectors not in their expected state: $(collectors_down "$(self_metrics)")" >&2
    return 1
}
all_up 30

# --- load ------------------------------------------------------------------------------------
: >"$WORK/seconds.log"
: >"$WORK/failures.log"
"$SETSID_BIN" "$PYTHON_BIN" "$HELPER" clients --url "$URL/metrics" --clients "$CLIENTS" --period "$PERIOD" \
    --slow "$SLOW" --seconds $((WARMUP + MINUTES * 60 + 120)) \
    --seconds-log "$WORK/seconds.log" --failures "$WORK/failures.log" </dev/null >>"$WORK/log/clients.log" 2>&1 &
CLIENTS_PID=$!
echo "$CLIENTS_PID" >>"$WORK/sessions"
: >"$WORK/windows"

HZ=$(getconf CLK_TCK)
sample() { # sets RSS (KiB), FDS, THREADS, TICKS of the exporter
    RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$EXPORTER_PID/status")
    THREADS=$(awk '/^Threads:/ { print $2 }' "/proc/$EXPORTER_PID/status")
    # The fewest of a few reads over two client periods: a collection in flight holds its
    # connections for a moment, and a leak raises the fewest as well.
    local n _
    FDS=
    for _ in 1 2 3 4 5 6 7; do
        n=$(ls "/proc/$EXPORTER_PID/fd" | wc -l)
        { [ -z "$FDS" ] || [ "$n" -lt "$FDS" ]; } && FDS=$n
        sleep 0.03
    done
    TICKS=$(sed 's/^.*) //' "/proc/$EXPORTER_PID/stat" | awk '{ print $12 + $13 }')
}
scrapes_between() { # from to (whole seconds): "scrapes failed slowest" from the clients' log
    awk -v a="$1" -v b="$2" '$1 >= a && $1 < b { n += $2; f += $3; if ($4 > m) m = $4 }
        END { printf "%d %d %.3f\n", n, f, m }' "$WORK/seconds.log" 2>/dev/null
}
hang_open() { awk '{ print $4 }' "$WORK/hang.status" 2>/dev/null || echo '?'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "$("$BIN" --version 2>/dev/null | head -n 1) on 127.0.0.1:$EXPORTER_PORT, pid $EXPORTER_PID"
echo "apps: nginx :$NGINX_PORT, apache :$APACHE_PORT, php-fpm via nginx, redis :$REDIS_PORT," \
    "memcached :$MEMCACHED_PORT, haproxy :$HAPROXY_PORT, prometheus :$PROM_PORT; hanging target :$HANG_PORT"
echo "$CLIENTS clients every ${PERIOD}s for $MINUTES min after a ${WARMUP}s warm-up;" \
    "$([ "$RESTART_EVERY" -gt 0 ] && echo "apps restart every $RESTART_EVERY min (down ${DOWN}s each)" || echo "no app restarts");" \
    "$([ "$RELOAD" = 0 ] && echo "no reloads" || echo "config reload every minute"); slow = over ${SLOW}s"
echo

LINE_FORMAT='%-7s %9s %5s %7s %8s %6s %8s %5s %-12s %10s %5s\n'
PROBLEMS=()
RELOADS=0 GENERATION=0

minute_line() { # label reload-text
    local second counts cpu hang delta
    second=$((NOW_MS / 1000 - 2)) # the clients' log lags up to a second behind
    counts=$(scrapes_between "$PREV_SECOND" "$second")
    PREV_SECOND=$second
    cpu=$(awk -v t=$((TICKS - PREV_TICKS)) -v hz="$HZ" -v ms=$((NOW_MS - PREV_MS)) \
        'BEGIN { printf "%.0f", (ms > 0 ? t / hz / (ms / 1000) * 100 : 0) }')
    PREV_TICKS=$TICKS PREV_MS=$NOW_MS
    hang=$(value "$M" "$HANG_TIMEOUTS_SERIES")
    delta=$(awk -v a="$PREV_HANG" -v b="$hang" 'BEGIN { print b - a }')
    PREV_HANG=$hang
    # shellcheck disable=SC2086,SC2059
    printf "$LINE_FORMAT" "$1" "$(mib "$RSS")" "$FDS" "$THREADS" $counts "$cpu" "$2" "+$delta" "$(hang_open)"
    HANG_DELTA=$delta
}

reload() { # when (for messages): alternates SIGHUP and POST /-/reload, then checks that it happened
    local method code _ ts ok
    GENERATION=$((GENERATION + 1))
    write_config "$GENERATION"
    if [ $((GENERATION % 2)) = 1 ]; then
        method=HUP
        kill -HUP "$EXPORTER_PID"
    else
        method=POST
        code=$("$CURL_BIN" -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$URL/-/reload") || code=000
        [ "$code" = 200 ] || PROBLEMS+=("$1: POST /-/reload answered $code")
    fi
    RELOADS=$((RELOADS + 1))
    for _ in $(seq 1 50); do
        M=$(self_metrics) || M=
        ts=$(value "$M" "$RELOAD_TS_SERIES")
        ok=$(value "$M" "$RELOAD_OK_SERIES")
        awk -v a="$PREV_TS" -v b="$ts" 'BEGIN { exit !(b > a) }' && break
        sleep 0.2
    done
    if [ "$ok" != 1 ]; then
        PROBLEMS+=("$1: last_reload_successful is $ok after $method")
        RELOAD_TEXT="$method FAILED"
    elif ! awk -v a="$PREV_TS" -v b="$ts" 'BEGIN { exit !(b > a) }'; then
        PROBLEMS+=("$1: no reload seen within 10 s of $method")
        RELOAD_TEXT="$method none"
    else
        RELOAD_TEXT="$method ok"
    fi
    PREV_TS=$ts
}

peaks() {
    [ "$RSS" -gt "$PEAK_RSS" ] && PEAK_RSS=$RSS
    [ "$FDS" -gt "$PEAK_FDS" ] && PEAK_FDS=$FDS
    [ "$THREADS" -gt "$PEAK_THREADS" ] && PEAK_THREADS=$THREADS
    return 0
}

sample
echo "idle, before the load: RSS $(mib "$RSS") MiB, $FDS descriptors, $THREADS threads"
PREV_TICKS=$TICKS
now_ms
PREV_MS=$NOW_MS
M=$(self_metrics)
PREV_HANG=$(value "$M" "$HANG_TIMEOUTS_SERIES")
PREV_TS=$(value "$M" "$RELOAD_TS_SERIES")
# The warm-up reloads too. The first reloads grow RSS by about 3 MiB once (the threads that build
# the new collectors get malloc arenas of their own), then a reload costs a few KiB at most; the
# start sample comes after that step, so that start → end shows growth, not first use.
WARMUP_RELOADS=3
[ "$RELOAD" = 0 ] && WARMUP_RELOADS=0
for i in $(seq 1 "$WARMUP_RELOADS"); do
    sleep $((WARMUP / (WARMUP_RELOADS + 1)))
    reload "warm-up reload $i"
done
sleep $((WARMUP - WARMUP_RELOADS * (WARMUP / (WARMUP_RELOADS + 1))))

# --- the soak --------------------------------------------------------------------------------
# shellcheck disable=SC2059
printf "$LINE_FORMAT" minute "RSS MiB" fds threads scrapes failed slowest cpu reload "hang t/o" "hang"
# shellcheck disable=SC2059
printf "$LINE_FORMAT" "" "" "" "" "" "" "s" "%" "" "+/min" open

now_ms
T0=$NOW_MS
END=$((T0 + MINUTES * 60000))
PREV_SECOND=0 # the warm-up's scrapes count in the first line
sample
START_RSS=$RSS START_FDS=$FDS START_THREADS=$THREADS
PEAK_RSS=$RSS PEAK_FDS=$FDS PEAK_THREADS=$THREADS
M=$(self_metrics)
FIRST_HANG=$(value "$M" "$HANG_TIMEOUTS_SERIES")

minute_line start "warm-up x$WARMUP_RELOADS"

NEXT_MINUTE=1
# Rounds fall between the minute marks (1.5, 4.5, … min with the default of 3), and only while
# one can finish before the end, so that the last samples see every app back.
NEXT_ROUND=$((T0 + RESTART_EVERY * 30000))
ROUNDS=0 RESTARTS=0
QUEUE=() PHASE=up DUE=0 DOWN_AT=0
ITERATIONS=0
MAX_ITERATIONS=$((MINUTES * 60 * 5 + 2000))
while [ "$NEXT_MINUTE" -le "$MINUTES" ] && [ "$ITERATIONS" -lt "$MAX_ITERATIONS" ]; do
    ITERATIONS=$((ITERATIONS + 1))
    now_ms
    if [ "$NOW_MS" -ge $((T0 + NEXT_MINUTE * 60000)) ]; then
        # Sampled before the reload: right after it the old collectors may still be finishing.
        sample
        peaks
        if [ "$RELOAD" = 0 ]; then
            RELOAD_TEXT=off
            M=$(self_metrics) || M=
        else
            reload "minute $NEXT_MINUTE"
        fi
        minute_line "$NEXT_MINUTE" "$RELOAD_TEXT"
        awk -v d="$HANG_DELTA" 'BEGIN { exit !(d > 0) }' ||
            PROBLEMS+=("minute $NEXT_MINUTE: the hanging collector's timeouts did not grow")
        NEXT_MINUTE=$((NEXT_MINUTE + 1))
        continue
    fi
    if [ "$RESTART_EVERY" -gt 0 ] && [ ${#QUEUE[@]} -eq 0 ] && [ "$NOW_MS" -ge "$NEXT_ROUND" ] &&
        [ $((NEXT_ROUND + 60000)) -le "$END" ]; then
        ROUNDS=$((ROUNDS + 1))
        QUEUE=("${APPS[@]}") PHASE=up DUE=$NOW_MS
        NEXT_ROUND=$((NEXT_ROUND + RESTART_EVERY * 60000))
        echo "        restart round $ROUNDS: ${APPS[*]}"
    fi
    if [ ${#QUEUE[@]} -gt 0 ] && [ "$NOW_MS" -ge "$DUE" ]; then
        app=${QUEUE[0]}
        if [ "$PHASE" = up ]; then
            DOWN_AT=$NOW_MS
            stop_named "$app"
            now_ms
            PHASE=down DUE=$((NOW_MS + DOWN * 1000))
        else
            start_app "$app"
            ready_app "$app" || PROBLEMS+=("$app did not come back after its restart")
            now_ms
            echo "$DOWN_AT $((NOW_MS + GRACE * 1000)) $app" >>"$WORK/windows"
            echo "        restarted $app: down $(secs $((NOW_MS - DOWN_AT))) s"
            RESTARTS=$((RESTARTS + 1))
            QUEUE=("${QUEUE[@]:1}")
            PHASE=up DUE=$((NOW_MS + 1000))
        fi
        continue
    fi
    sleep 0.2
done
# Never end with an app left stopped by an unfinished round.
if [ ${#QUEUE[@]} -gt 0 ] && [ "$PHASE" = down ]; then
    start_app "${QUEUE[0]}"
    ready_app "${QUEUE[0]}" || true
    now_ms
    echo "$DOWN_AT $((NOW_MS + GRACE * 1000)) ${QUEUE[0]}" >>"$WORK/windows"
fi

# --- verdict ---------------------------------------------------------------------------------
END_RSS=$RSS END_FDS=$FDS END_THREADS=$THREADS
all_up 20 || PROBLEMS+=("not every collector but hang was up at the end: $(collectors_down "$(self_metrics)")")
M=$(self_metrics)
LAST_HANG=$(value "$M" "$HANG_TIMEOUTS_SERIES")
[ "$(value "$M" "$RELOAD_OK_SERIES")" = 1 ] || PROBLEMS+=("last_reload_successful is not 1 at the end")
stop_pid "$CLIENTS_PID"
CLIENTS_PID=
read -r TOTAL FAILED SLOWEST < <(scrapes_between 0 9999999999)

# A failure is excused when it overlaps a restart window (stop → back + GRACE s).
read -r IN_WINDOWS OUTSIDE < <(awk '
    FILENAME == ARGV[1] { n++; b[n] = $1 / 1000; e[n] = $2 / 1000; next }
    { excused = 0; for (i = 1; i <= n; i++) if ($1 <= e[i] && $2 >= b[i]) excused = 1
      if (excused) w++; else o++ }
    END { print w + 0, o + 0 }' "$WORK/windows" "$WORK/failures.log" 2>/dev/null || echo "0 0")
if [ "$OUTSIDE" -gt 0 ]; then
    PROBLEMS+=("$OUTSIDE scrapes failed outside the restart windows")
    echo "failures outside the restart windows (begin end client status took reason):"
    # The first 20 only, counted in awk: a `head` would end the pipe early (SIGPIPE under pipefail).
    awk 'FILENAME == ARGV[1] { n++; b[n] = $1 / 1000; e[n] = $2 / 1000; next }
        { for (i = 1; i <= n; i++) if ($1 <= e[i] && $2 >= b[i]) next; if (++shown <= 20) print }' \
        "$WORK/windows" "$WORK/failures.log"
fi
awk -v s="$START_RSS" -v e="$END_RSS" 'BEGIN { exit !(e <= s * 1.2 + 2048) }' ||
    PROBLEMS+=("RSS grew: $(mib "$START_RSS") → $(mib "$END_RSS") MiB (bound: start × 1.2 + 2 MiB)")
[ $((END_FDS - START_FDS)) -le "$FD_SLACK" ] && [ $((START_FDS - END_FDS)) -le "$FD_SLACK" ] ||
    PROBLEMS+=("descriptors: $START_FDS → $END_FDS (bound: ± $FD_SLACK)")
[ $((END_THREADS - START_THREADS)) -le "$THREAD_SLACK" ] && [ $((START_THREADS - END_THREADS)) -le "$THREAD_SLACK" ] ||
    PROBLEMS+=("threads: $START_THREADS → $END_THREADS (bound: ± $THREAD_SLACK)")
awk -v a="$FIRST_HANG" -v b="$LAST_HANG" 'BEGIN { exit !(b > a) }' ||
    PROBLEMS+=("the hanging collector's timeouts did not grow: $FIRST_HANG → $LAST_HANG")

echo
printf '%-12s %9s %9s %9s\n' "" start end peak
printf '%-12s %9s %9s %9s\n' "RSS MiB" "$(mib "$START_RSS")" "$(mib "$END_RSS")" "$(mib "$PEAK_RSS")"
printf '%-12s %9s %9s %9s\n' descriptors "$START_FDS" "$END_FDS" "$PEAK_FDS"
printf '%-12s %9s %9s %9s\n' threads "$START_THREADS" "$END_THREADS" "$PEAK_THREADS"
echo "scrapes: $TOTAL ($FAILED failed: $IN_WINDOWS during app restarts, $OUTSIDE outside); slowest ${SLOWEST} s"
echo "restarts: $RESTARTS apps in $ROUNDS rounds; reloads: $RELOADS ($WARMUP_RELOADS in the warm-up; SIGHUP and POST /-/reload alternating)"
echo "hanging collector: errors_total{reason=\"timeout\"} $FIRST_HANG → $LAST_HANG;" \
    "hanging server: $(cat "$WORK/hang.status" 2>/dev/null || echo '?')"
if [ ${#PROBLEMS[@]} -eq 0 ]; then
    echo "verdict: PASS (RSS end ≤ start × 1.2 + 2 MiB, descriptors ± $FD_SLACK, threads ± $THREAD_SLACK," \
        "no failed scrape outside restarts, every reload successful, hanging collector timing out)"
else
    echo "verdict: FAIL"
    printf '  - %s\n' "${PROBLEMS[@]}"
    exit 1
fi
