#!/usr/bin/env bash
# Side by side: sidecar-exporter's postgres and mysql presets against Debian's
# prometheus-postgres-exporter and prometheus-mysqld-exporter, reading the same PostgreSQL 15
# and MariaDB on 127.0.0.1 (fresh data directories in a temp dir). For each exporter: CPU
# seconds per 1,000 scrapes (utime+stime of the exporter from /proc/PID/stat around SCRAPES
# sequential scrapes, each a full collection), milliseconds per scrape, and RSS afterwards.
#
# Bounded: SCRAPES (default 300) scrapes per exporter, everything on 127.0.0.1, every process
# started here stopped on exit. Run as root (the servers run as the postgres and mysql users).
#
#   scripts/install-test-deps.sh && bench/sql_vs_peers.sh
set -euo pipefail

SCRAPES=${SCRAPES:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/sql-bench-XXXXXX)
chmod 755 "$WORK"
PIDS=()
PG_DATA="$WORK/pg/data"
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -d "$PG_DATA" ] && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
require_tools /usr/lib/postgresql/15/bin/initdb mariadbd mariadb-install-db prometheus-postgres-exporter prometheus-mysqld-exporter curl

(cd "$ROOT" && cargo build --release --quiet)
OURS="$ROOT/target/release/sidecar-exporter"
PASSWORD=bench-password

# --- the databases ---------------------------------------------------------------------------
PG_PORT=$(port)
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
echo "$PASSWORD" >"$WORK/pg/pw" && chown postgres "$WORK/pg/pw"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$PG_DATA" -U postgres -N -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$WORK/pg/pw" >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PG_DATA" -l "$WORK/pg/log" -w \
    -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null

MY_PORT=$(port)
mkdir -p "$WORK/my" && chown mysql "$WORK/my"
mariadb-install-db --no-defaults --user=mysql --datadir="$WORK/my/data" \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --user=mysql --datadir="$WORK/my/data" --socket="$WORK/my/sock" \
    --port="$MY_PORT" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$WORK/my/pid" \
    >"$WORK/my/log" 2>&1 &
PIDS+=($!)
wait_port "$MY_PORT"
mariadb --no-defaults --socket="$WORK/my/sock" -uroot -e \
    "CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY '$PASSWORD'; GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'127.0.0.1';"

# --- the exporters ---------------------------------------------------------------------------
PEER_PG_PORT=$(port)
DATA_SOURCE_NAME="postgresql://postgres:$PASSWORD@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
    prometheus-postgres-exporter --web.listen-address="127.0.0.1:$PEER_PG_PORT" >/dev/null 2>&1 &
PEER_PG=$!; PIDS+=($PEER_PG)

printf '[client]\nuser=exporter\npassword=%s\nhost=127.0.0.1\nport=%s\n' "$PASSWORD" "$MY_PORT" >"$WORK/my.cnf"
PEER_MY_PORT=$(port)
prometheus-mysqld-exporter --config.my-cnf="$WORK/my.cnf" --web.listen-address="127.0.0.1:$PEER_MY_PORT" >/dev/null 2>&1 &
PEER_MY=$!; PIDS+=($PEER_MY)

echo "$PASSWORD" >"$WORK/password"
cat >"$WORK/pg.yaml" <<YAML
collectors:
  - {name: pg, preset: postgres, dsn: 'postgresql://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable', password_file: $WORK/password}
YAML
cat >"$WORK/my.yaml" <<YAML
collectors:
  - {name: db, preset: mysql, dsn: 'mysql://exporter@127.0.0.1:$MY_PORT/', password_file: $WORK/password}
YAML
OURS_PG_PORT=$(port)
"$OURS" --config.file "$WORK/pg.yaml" --web.listen-address="127.0.0.1:$OURS_PG_PORT" --log.level=warn &
OURS_PG=$!; PIDS+=($OURS_PG)
OURS_MY_PORT=$(port)
"$OURS" --config.file "$WORK/my.yaml" --web.listen-address="127.0.0.1:$OURS_MY_PORT" --log.level=warn &
OURS_MY=$!; PIDS+=($OURS_MY)
for p in "$PEER_PG_PORT" "$PEER_MY_PORT" "$OURS_PG_PORT" "$OURS_MY_PORT"; do wait_port "$p"; done

# --- the measurement -------------------------------------------------------------------------
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

measure() { # name pid port
    local name=$1 pid=$2 port=$3 series before after start end
    for _ in 1 2 3; do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; done
    series=$(curl -sf "http://127.0.0.1:$port/metrics" | grep -vc '^#')
    before=$(ticks "$pid")
    start=$(date +%s.%N)
    for _ in $(seq 1 "$SCRAPES"); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null; done
    end=$(date +%s.%N)
    after=$(ticks "$pid")
    awk -v n="$name" -v s="$series" -v t=$((after - before)) -v hz="$HZ" -v k="$SCRAPES" \
        -v wall="$(echo "$end - $start" | bc)" -v rss="$(rss_kib "$pid")" \
        'BEGIN { printf "| %s | %d | %.2f | %.1f | %.1f |\n", n, s, t / hz * 1000 / k, wall * 1000 / k, rss / 1024 }'
}

echo "| exporter | series | CPU s / 1,000 scrapes | ms / scrape | RSS MiB |"
echo "|---|---:|---:|---:|---:|"
measure "sidecar-exporter, postgres preset" "$OURS_PG" "$OURS_PG_PORT"
measure "prometheus-postgres-exporter 0.11" "$PEER_PG" "$PEER_PG_PORT"
measure "sidecar-exporter, mysql preset" "$OURS_MY" "$OURS_MY_PORT"
measure "prometheus-mysqld-exporter 0.14" "$PEER_MY" "$PEER_MY_PORT"
