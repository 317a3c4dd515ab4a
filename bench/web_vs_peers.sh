#!/usr/bin/env bash
# Side by side: sidecar-exporter's presets against the Debian peer exporters they replace, each
# pair scraping the same real app from Debian's packages on 127.0.0.1:
#
#   job         app                          peer                             ours
#   nginx       nginx stub_status            prometheus-nginx-exporter        preset nginx
#   apache      Apache (event MPM) ?auto     prometheus-apache-exporter       preset apache
#   haproxy     HAProxy stats CSV            prometheus-haproxy-exporter      preset haproxy
#   redis       redis-server INFO            prometheus-redis-exporter        preset redis
#   bind        named statistics channel     prometheus-bind-exporter         preset bind
#   squid       Squid cache manager          prometheus-squid-exporter        preset squid
#   http_probe  a small page served by nginx prometheus-blackbox-exporter     kind http_probe
#                                            (/probe?target=…&module=http_2xx)
#   postgres    PostgreSQL 15 (initdb)       prometheus-postgres-exporter     preset postgres
#   mysql       MariaDB (mariadb-install-db) prometheus-mysqld-exporter       preset mysql
#   nginx_cached nginx stub_status           nginx serving our page as a     preset nginx with
#                                            static file (the floor)          global.min_interval
#
# For each exporter: RSS once it listens, before its first scrape; wrk requests/s and p50/p99
# latency of its metrics page at 1 and 16 connections; CPU milliseconds per scrape at each
# (utime+stime from /proc/PID/stat around each wrk run; at 16 connections ours answers scrapes
# that arrive during a collection from that collection, so the figure at 1 connection is the one
# compared); RSS and its anonymous part (RssAnon) after the load. One table at the end, one row
# per job, each cell "peer / ours", and ours/peer ratios for requests/s and CPU per scrape at 1
# connection and for the RSS after the load.
#
# Bounded: every wrk run lasts DURATION seconds (default 10, and is killed 30 s past that),
# everything listens on 127.0.0.1, each app and exporter is stopped when its job ends, and every
# process started here is stopped on exit. Run as root: the databases run as the postgres and
# mysql users.
#
#   apt-get install -y wrk curl nginx apache2 haproxy redis-server bind9 squid \
#     prometheus-nginx-exporter prometheus-apache-exporter prometheus-haproxy-exporter \
#     prometheus-redis-exporter prometheus-bind-exporter prometheus-squid-exporter \
#     prometheus-blackbox-exporter postgresql mariadb-server prometheus-postgres-exporter \
#     prometheus-mysqld-exporter
#   bench/web_vs_peers.sh                       # builds the release binary, every job
#   BIN=path/to/sidecar-exporter JOBS="nginx redis" DURATION=5 bench/web_vs_peers.sh
set -euo pipefail

DURATION=${DURATION:-10}
ALL_JOBS="nginx apache haproxy redis bind squid http_probe postgres mysql nginx_cached"
JOBS=${JOBS:-$ALL_JOBS}
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

PG_BIN=/usr/lib/postgresql/15/bin
# The password of the databases' monitoring users.
DB_PASSWORD=bench-password
tools=(wrk curl)
for job in $JOBS; do
    case $job in
        nginx) tools+=(nginx prometheus-nginx-exporter) ;;
        apache) tools+=(apache2 prometheus-apache-exporter) ;;
        haproxy) tools+=(haproxy prometheus-haproxy-exporter) ;;
        redis) tools+=(redis-server prometheus-redis-exporter) ;;
        bind) tools+=(named prometheus-bind-exporter) ;;
        squid) tools+=(squid prometheus-squid-exporter) ;;
        http_probe) tools+=(nginx prometheus-blackbox-exporter) ;;
        postgres) tools+=("$PG_BIN/initdb" "$PG_BIN/pg_ctl" runuser prometheus-postgres-exporter) ;;
        mysql) tools+=(mariadbd mariadb-install-db mariadb prometheus-mysqld-exporter) ;;
        nginx_cached) tools+=(nginx) ;;
        *) echo "unknown job $job (jobs: $ALL_JOBS)" >&2; exit 1 ;;
    esac
done
require_tools "${tools[@]}"

# The release binary measured: BIN as given, else a fresh release build of this tree.
if [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
    BIN="$ROOT/target/release/sidecar-exporter"
fi
[ -x "$BIN" ] || { echo "BIN=$BIN is not an executable" >&2; exit 1; }

# Stops one process started here and waits for it, also when it is not a child (the postmaster).
stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
}

# --- the apps -------------------------------------------------------------------------------
# Each start_* starts one app in its own directory under $WORK and sets APP_PID and APP_PORT.

# An nginx config serving DIR/www on PORT, one worker; extra lines for the top level and the
# server block.
nginx_conf() { # dir port top-lines server-lines
    cat <<EOF
user root root;
worker_processes 1;
$3
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:$2;
        root $1/www;
        $4
    }
}
EOF
}

start_nginx() { # nginx with stub_status and a small page (/hello.txt)
    local d="$WORK/nginx"
    APP_PORT=$(port)
    mkdir -p "$d/www"
    echo hello >"$d/www/hello.txt"
    nginx_conf "$d" "$APP_PORT" "" "location = /stub_status { stub_status; }" >"$d/nginx.conf"
    nginx -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;' &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT"
}

start_apache() {
    local d="$WORK/apache" m=/usr/lib/apache2/modules
    APP_PORT=$(port)
    mkdir -p "$d"
    chmod 755 "$d"
    cat >"$d/apache2.conf" <<EOF
ServerRoot $d
PidFile $d/apache2.pid
ErrorLog $d/error.log
Mutex file:$d default
DefaultRuntimeDir $d
ServerName 127.0.0.1
Listen 127.0.0.1:$APP_PORT
$( [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup nogroup\n' )
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule authz_host_module $m/mod_authz_host.so
LoadModule status_module $m/mod_status.so
ExtendedStatus On
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
EOF
    # setsid: on shutdown Apache signals its whole process group.
    setsid apache2 -f "$d/apache2.conf" -DFOREGROUND &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT"
}

start_haproxy() { # the stats page, a frontend and a backend with one checked server that is down
    local d="$WORK/haproxy"
    APP_PORT=$(port)
    mkdir -p "$d"
    cat >"$d/haproxy.cfg" <<EOF
global
  log stdout format raw local0 err
defaults
  mode http
  timeout connect 100ms
  timeout client 5s
  timeout server 5s
frontend stats
  bind 127.0.0.1:$APP_PORT
  stats enable
  stats uri /stats
frontend web
  bind 127.0.0.1:$(port)
  default_backend app
backend app
  server app1 127.0.0.1:$(port) check
  server app2 127.0.0.1:$(port)
EOF
    haproxy -f "$d/haproxy.cfg" -db >"$d/haproxy.log" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT"
}

start_redis() {
    local d="$WORK/redis"
    APP_PORT=$(port)
    mkdir -p "$d"
    redis-server --port "$APP_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$d" >"$d/redis.log" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT"
}

start_named() { # one primary zone, no recursion, the statistics channel on APP_PORT
    local d="$WORK/named" dns_port
    APP_PORT=$(port)
    dns_port=$(port)
    mkdir -p "$d"
    cat >"$d/named.conf" <<EOF
options {
  directory "$d";
  pid-file "$d/named.pid";
  listen-on port $dns_port { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { 127.0.0.1; };
  dnssec-validation no;
};
statistics-channels { inet 127.0.0.1 port $APP_PORT allow { 127.0.0.1; }; };
zone "example.test" { type primary; file "$d/example.test.zone"; };
EOF
    cat >"$d/example.test.zone" <<'EOF'
$TTL 300
@ IN SOA ns.example.test. admin.example.test. 2026113001 3600 600 86400 300
@ IN NS ns.example.test.
ns IN A 127.0.0.1
www IN A 127.0.0.2
EOF
    named -g -c "$d/named.conf" >"$d/named.log" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT"
    # The channel opens before the zones are loaded.
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$APP_PORT/json/v1/zones" | grep -q example.test && return 0
        sleep 0.1
    done
    echo "named did not load example.test; its log: $d/named.log" >&2
    exit 1
}

start_squid() { # memory cache only, the cache manager open to localhost
    local d="$WORK/squid"
    APP_PORT=$(port)
    mkdir -p "$d"
    # Squid started as root works as the `proxy` user: its files must be writable by it.
    chmod 777 "$d"
    cat >"$d/squid.conf" <<EOF
http_port 127.0.0.1:$APP_PORT
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log none
cache_store_log none
coredump_dir $d
pinger_enable off
shutdown_lifetime 0 seconds
http_access allow localhost manager
http_access deny manager
http_access allow localhost
http_access deny all
EOF
    squid -N -f "$d/squid.conf" >"$d/squid.out" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT" 20
}

start_postgres() { # a fresh cluster; APP_PID is the postmaster
    local d="$WORK/postgres"
    APP_PORT=$(port)
    mkdir -p "$d"
    chown postgres "$d"
    echo "$DB_PASSWORD" >"$d/pw"
    chown postgres "$d/pw"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$d/data" -U postgres -N -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$d/pw" >"$d/initdb.log"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w \
        -o "-p $APP_PORT -k $d -c listen_addresses=127.0.0.1" start >/dev/null
    APP_PID=$(head -1 "$d/data/postmaster.pid")
    PIDS+=("$APP_PID")
}

start_mariadb() { # a fresh data directory and a monitoring user `exporter`
    local d="$WORK/mariadb"
    APP_PORT=$(port)
    mkdir -p "$d"
    chown mysql "$d"
    mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$d/install.log" 2>&1
    mariadbd --no-defaults --user=mysql --datadir="$d/data" --socket="$d/sock" \
        --port="$APP_PORT" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$d/pid" \
        >"$d/server.log" 2>&1 &
    APP_PID=$!
    PIDS+=("$APP_PID")
    wait_port "$APP_PORT" 30
    mariadb --no-defaults --socket="$d/sock" -uroot -e "CREATE USER 'exporter'@'127.0.0.1' \
        IDENTIFIED BY '$DB_PASSWORD'; GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'127.0.0.1';"
}

# --- measuring ------------------------------------------------------------------------------

ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# The anonymous part of the RSS: the process' own memory, without the pages of its binary and
# libraries, which the kernel maps from the page cache and can take back.
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
declare -A FIG # job.side.figure -> value; side is peer or ours

# One exporter: starts it, checks its first scrape reports the app up, wrk at 1 and 16
# connections, then stops it. Records idle_rss, c1_rps, c1_p50, c1_p99, c1_cpu (CPU ms per
# scrape), the same for c16, and rss and anon (after the load), RSS in KiB.
measure() { # job side port path up-metric command...
    local job=$1 side=$2 p=$3 path=$4 up=$5
    shift 5
    local url="http://127.0.0.1:$p$path" log="$WORK/$job-$side.log" pid
    echo "$job: $side ($(basename "$1"))" >&2
    "$@" >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port "$p"
    # Settled: listening is not the end of every exporter's start-up.
    sleep 1
    FIG[$job.$side.idle_rss]=$(rss_kib "$pid")
    local first
    first=$(curl -sf --max-time 10 "$url") || { echo "$job: $side's first scrape of $url failed; its log:" >&2; cat "$log" >&2; exit 1; }
    grep -Eq "^$up(\{[^}]*\})? 1$" <<<"$first" || {
        echo "$job: $side does not report $up 1 on its first scrape:" >&2
        grep -E "^$up" <<<"$first" >&2 || true
        cat "$log" >&2
        exit 1
    }
    local before c t out reqs non2xx
    for c in 1 16; do
        t=1
        [ "$c" -gt 1 ] && t=2
        before=$(ticks "$pid")
        out=$(timeout $((DURATION + 30)) wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 5s --latency "$url")
        FIG[$job.$side.c${c}_rps]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        FIG[$job.$side.c${c}_p50]=$(awk '$1 == "50%" {print $2}' <<<"$out")
        FIG[$job.$side.c${c}_p99]=$(awk '$1 == "99%" {print $2}' <<<"$out")
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
        [ -z "$non2xx" ] || echo "$job: $side answered $non2xx of $reqs scrapes at $c connections with an error" >&2
        FIG[$job.$side.c${c}_cpu]=$(awk -v t=$(($(ticks "$pid") - before)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.4f", t / hz / n * 1000}')
    done
    FIG[$job.$side.rss]=$(rss_kib "$pid")
    FIG[$job.$side.anon]=$(anon_kib "$pid")
    stop "$pid"
}

# Ours: the collector given as YAML (the part under `collectors:`, then optional lines for the
# top of the file), on a free port.
measure_ours() { # job up-metric collector-yaml [top-yaml]
    local p cfg="$WORK/ours-$1.yaml"
    p=$(port)
    printf '%scollectors:\n%s\n' "${4:-}" "$3" >"$cfg"
    "$BIN" --config.file "$cfg" check >/dev/null || { echo "$1: $cfg is refused" >&2; exit 1; }
    measure "$1" ours "$p" /metrics "$2" "$BIN" --config.file "$cfg" --web.listen-address "127.0.0.1:$p" --log.level warn
}

peer_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null | sed 's/-[^-]*$//; s/+ds$//'; }

# --- the jobs -------------------------------------------------------------------------------
# Each job starts its app, measures ours then the peer against it, and stops the app.

# Ours, then the peer, on the app the job started, which is stopped afterwards. `{port}` in the
# peer's command is the port it is to listen on.
ours_then_peer() { # job up-metric collector-yaml peer-path peer-command...
    local job=$1 up=$2 collector=$3 path=$4 p
    shift 4
    measure_ours "$job" "$up" "$collector"
    p=$(port)
    measure "$job" peer "$p" "$path" "$up" "${@//\{port\}/$p}"
    stop "$APP_PID"
}

job_nginx() {
    start_nginx
    local url="http://127.0.0.1:$APP_PORT/stub_status"
    ours_then_peer nginx nginx_up "  - {name: nginx, preset: nginx, url: \"$url\"}" /metrics \
        prometheus-nginx-exporter --nginx.scrape-uri "$url" --web.listen-address "127.0.0.1:{port}"
}

job_apache() {
    start_apache
    local url="http://127.0.0.1:$APP_PORT/server-status?auto"
    ours_then_peer apache apache_up "  - {name: apache, preset: apache, url: \"$url\"}" /metrics \
        prometheus-apache-exporter --scrape_uri "$url" --telemetry.address "127.0.0.1:{port}"
}

job_haproxy() {
    start_haproxy
    local url="http://127.0.0.1:$APP_PORT/stats;csv"
    ours_then_peer haproxy haproxy_up "  - {name: haproxy, preset: haproxy, url: \"$url\"}" /metrics \
        prometheus-haproxy-exporter --haproxy.scrape-uri "$url" --web.listen-address "127.0.0.1:{port}"
}

job_redis() {
    start_redis
    ours_then_peer redis redis_up "  - {name: redis, preset: redis, address: \"127.0.0.1:$APP_PORT\"}" /metrics \
        prometheus-redis-exporter --redis.addr "redis://127.0.0.1:$APP_PORT" --web.listen-address "127.0.0.1:{port}"
}

job_bind() {
    start_named
    ours_then_peer bind bind_up "  - {name: bind, preset: bind, url: \"http://127.0.0.1:$APP_PORT/json/v1\"}" /metrics \
        prometheus-bind-exporter --bind.stats-url "http://127.0.0.1:$APP_PORT/" --web.listen-address "127.0.0.1:{port}"
}

job_squid() {
    start_squid
    ours_then_peer squid squid_up "  - {name: squid, preset: squid, url: \"http://127.0.0.1:$APP_PORT/squid-internal-mgr\"}" /metrics \
        prometheus-squid-exporter -squid-hostname 127.0.0.1 -squid-port "$APP_PORT" -listen "127.0.0.1:{port}"
}

job_http_probe() {
    start_nginx
    local target="http://127.0.0.1:$APP_PORT/hello.txt"
    cat >"$WORK/blackbox.yml" <<'EOF'
modules:
  http_2xx:
    prober: http
    http:
      preferred_ip_protocol: ip4
EOF
    ours_then_peer http_probe probe_success "  - {name: probe, kind: http_probe, url: \"$target\"}" \
        "/probe?target=$target&module=http_2xx" \
        prometheus-blackbox-exporter --config.file "$WORK/blackbox.yml" --web.listen-address "127.0.0.1:{port}"
}

# The peers take the password from their environment or a file, ours from a file.
job_postgres() {
    start_postgres
    echo "$DB_PASSWORD" >"$WORK/db-password"
    ours_then_peer postgres pg_up "  - {name: pg, preset: postgres, dsn: 'postgresql://postgres@127.0.0.1:$APP_PORT/postgres?sslmode=disable', password_file: $WORK/db-password}" /metrics \
        env DATA_SOURCE_NAME="postgresql://postgres:$DB_PASSWORD@127.0.0.1:$APP_PORT/postgres?sslmode=disable" \
        prometheus-postgres-exporter --web.listen-address "127.0.0.1:{port}"
}

job_mysql() {
    start_mariadb
    echo "$DB_PASSWORD" >"$WORK/db-password"
    printf '[client]\nuser=exporter\npassword=%s\nhost=127.0.0.1\nport=%s\n' "$DB_PASSWORD" "$APP_PORT" >"$WORK/my.cnf"
    ours_then_peer mysql mysql_up "  - {name: db, preset: mysql, dsn: 'mysql://exporter@127.0.0.1:$APP_PORT/', password_file: $WORK/db-password}" /metrics \
        prometheus-mysqld-exporter --config.my-cnf "$WORK/my.cnf" --web.listen-address "127.0.0.1:{port}"
}

# A cached scrape against the floor: nginx serving the same page as a static file. Ours answers
# from the collection kept for min_interval; the "peer" is a single nginx process (no master,
# so that its PID is the one that works) serving our page, saved once.
job_nginx_cached() {
    start_nginx
    local url="http://127.0.0.1:$APP_PORT/stub_status" p pid d="$WORK/nginx-static"
    local collector="  - {name: nginx, preset: nginx, url: \"$url\"}" top=$'global:\n  min_interval: 1h\n'
    mkdir -p "$d/www"
    p=$(port)
    printf '%scollectors:\n%s\n' "$top" "$collector" >"$WORK/save-page.yaml"
    "$BIN" --config.file "$WORK/save-page.yaml" --web.listen-address "127.0.0.1:$p" --log.level warn &
    pid=$!
    PIDS+=("$pid")
    wait_port "$p"
    curl -sf "http://127.0.0.1:$p/metrics" >"$d/www/metrics"
    stop "$pid"
    measure_ours nginx_cached nginx_up "$collector" "$top"
    p=$(port)
    nginx_conf "$d" "$p" "master_process off;" "" >"$d/nginx.conf"
    measure nginx_cached peer "$p" /metrics nginx_up nginx -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;'
    stop "$APP_PID"
}

declare -A PEER_OF=(
    [nginx]=prometheus-nginx-exporter [apache]=prometheus-apache-exporter
    [haproxy]=prometheus-haproxy-exporter [redis]=prometheus-redis-exporter
    [bind]=prometheus-bind-exporter [squid]=prometheus-squid-exporter
    [http_probe]=prometheus-blackbox-exporter [postgres]=prometheus-postgres-exporter
    [mysql]=prometheus-mysqld-exporter [nginx_cached]=nginx
)

for job in $JOBS; do "job_$job"; done

# --- the table ------------------------------------------------------------------------------
int() { awk -v n="$1" 'BEGIN {printf "%.0f", n}'; }
cpu3() { awk -v s="$1" 'BEGIN {printf "%.3f", s}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ratio() { awk -v o="$1" -v p="$2" 'BEGIN {if (p > 0) printf "%.2f", o / p; else print "-"}'; }
pair() { printf '%s / %s' "$1" "$2"; } # peer / ours

echo
echo "sidecar-exporter: $("$BIN" --version); wrk ${DURATION}s per run at 1 then 16 connections"
echo "each cell: peer / ours; CPU = exporter utime+stime during the run / scrapes, in ms;"
echo "idle RSS = before the first scrape; anon = RssAnon after the load; ratios ours / peer"
echo
echo "| job | peer | c1 req/s | c1 p50 | c1 p99 | c16 req/s | c16 p50 | c16 p99 | c1 CPU ms / scrape | c16 CPU ms / scrape | idle RSS MiB | RSS after MiB | anon MiB | c1 req/s ratio | c1 CPU ratio | RSS ratio |"
echo '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
for job in $JOBS; do
    row="| $job | ${PEER_OF[$job]#prometheus-} $(peer_version "${PEER_OF[$job]}")"
    for c in c1 c16; do
        row+=" | $(pair "$(int "${FIG[$job.peer.${c}_rps]}")" "$(int "${FIG[$job.ours.${c}_rps]}")")"
        for f in p50 p99; do row+=" | $(pair "${FIG[$job.peer.${c}_$f]}" "${FIG[$job.ours.${c}_$f]}")"; done
    done
    for c in c1 c16; do
        row+=" | $(pair "$(cpu3 "${FIG[$job.peer.${c}_cpu]}")" "$(cpu3 "${FIG[$job.ours.${c}_cpu]}")")"
    done
    for f in idle_rss rss anon; do
        row+=" | $(pair "$(mib "${FIG[$job.peer.$f]}")" "$(mib "${FIG[$job.ours.$f]}")")"
    done
    row+=" | $(ratio "${FIG[$job.ours.c1_rps]}" "${FIG[$job.peer.c1_rps]}")"
    row+=" | $(ratio "${FIG[$job.ours.c1_cpu]}" "${FIG[$job.peer.c1_cpu]}")"
    row+=" | $(ratio "${FIG[$job.ours.rss]}" "${FIG[$job.peer.rss]}") |"
    echo "$row"
done
