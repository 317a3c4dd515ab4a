# shellcheck shell=bash
# Sourced by the bench scripts: the tools they need, loopback ports.

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to $2 seconds (default 10) for something to listen on 127.0.0.1:$1; exits the
# script otherwise.
wait_port() {
    for _ in $(seq 1 $((${2:-10} * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    exit 1
}

# Exits naming the install step unless every tool given is on PATH or in /usr/sbin.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
            echo "missing $tool: install its Debian package (scripts/install-test-deps.sh installs the servers and peer exporters; wrk is apt-get install wrk)" >&2
            exit 1
        }
    done
}
