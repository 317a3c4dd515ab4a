//! Debian servers that several test files start: each on 127.0.0.1 on a free port, in a temp
//! dir, stopped when dropped.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{free_port, require_tool, wait_for_port, ChildGuard};

/// Runs `command`, panicking with its stderr when it fails; returns its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A redis-server on 127.0.0.1, stopped (and its directory removed) when dropped.
pub struct Redis {
    /// Its port.
    pub port: u16,
    // Before `_dir`: fields drop in order, and the server stops before its files are removed.
    _child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts it and waits until it listens.
    pub fn start() -> Redis {
        let server = require_tool("redis-server", "redis-server");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = ChildGuard::spawn(
            Command::new(server)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null()),
        );
        wait_for_port(port, Duration::from_secs(10));
        Redis {
            port,
            _dir: dir,
            _child: child,
        }
    }

    /// Runs `redis-cli` against it with `args`, returning its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let cli = require_tool("redis-cli", "redis-tools");
        run_ok(
            Command::new(cli)
                .args(["-p", &self.port.to_string()])
                .args(args),
        )
    }
}

/// HAProxy with a stats page, a frontend and a backend with one checked server that is down and
/// one unchecked server.
pub fn start_haproxy(dir: &Path) -> (ChildGuard, u16, u16) {
    let haproxy = require_tool("haproxy", "haproxy");
    let (stats, web) = (free_port(), free_port());
    // `timeout connect` also spaces HAProxy's 3 retries of a refused connection: at 1 s, each
    // request to the dead backend took 3 s and this test 15 s; refusals on 127.0.0.1 are
    // immediate, so 100 ms loses nothing.
    let config = format!(
        "global\n  log stdout format raw local0 err\n\
         defaults\n  mode http\n  timeout connect 100ms\n  timeout client 5s\n  timeout server 5s\n\
         frontend stats\n  bind 127.0.0.1:{stats}\n  stats enable\n  stats uri /stats\n\
         frontend web\n  bind 127.0.0.1:{web}\n  default_backend app\n\
         backend app\n  server app1 127.0.0.1:{down} check\n  server app2 127.0.0.1:{down2}\n",
        down = free_port(),
        down2 = free_port(),
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = ChildGuard::spawn(
        Command::new(haproxy)
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .stdout(Stdio::null()),
    );
    wait_for_port(stats, Duration::from_secs(10));
    wait_for_port(web, Duration::from_secs(10));
    (child, stats, web)
}

/// memcached on 127.0.0.1; returns it and its port.
pub fn start_memcached() -> (ChildGuard, u16) {
    let memcached = require_tool("memcached", "memcached");
    let port = free_port();
    let child = ChildGuard::spawn(
        Command::new(memcached)
            .args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"])
            .args(["-u", "nobody", "-m", "32"]),
    );
    wait_for_port(port, Duration::from_secs(10));
    (child, port)
}

/// PHP-FPM on a unix socket behind an nginx that also serves `stub_status`.
pub struct PhpFpmBehindNginx {
    /// nginx's port: `/status?json` is PHP-FPM's status page, `/stub_status` nginx's.
    pub port: u16,
    // Before `_dir`: the servers stop before their files are removed.
    _nginx: ChildGuard,
    _fpm: ChildGuard,
    _dir: tempfile::TempDir,
}

impl PhpFpmBehindNginx {
    /// Starts both and waits until the status page answers through nginx.
    pub fn start() -> PhpFpmBehindNginx {
        let fpm = require_tool("php-fpm8.2", "php8.2-fpm");
        let nginx = require_tool("nginx", "nginx");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let socket = d.join("fpm.sock");
        let fpm_conf = format!(
            "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm.log\ndaemonize = no\n\
             [poolx]\nlisten = {socket}\npm = static\npm.max_children = 2\npm.status_path = /status\n",
            d = d.display(),
            socket = socket.display()
        );
        std::fs::write(d.join("fpm.conf"), fpm_conf).unwrap();
        // -R: the test may run as root.
        let fpm = ChildGuard::spawn(
            Command::new(fpm)
                .args(["-F", "-R", "-n", "-y"])
                .arg(d.join("fpm.conf")),
        );
        let port = free_port();
        let nginx_conf = format!(
            "user root root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  fastcgi_temp_path {d}/fastcgi;\n\
               proxy_temp_path {d}/proxy;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 location = /stub_status {{ stub_status; }}\n\
                 location = /status {{\n      include /etc/nginx/fastcgi_params;\n\
                   fastcgi_param SCRIPT_NAME /status;\n      fastcgi_param SCRIPT_FILENAME /status;\n\
                   fastcgi_pass unix:{socket};\n    }}\n  }}\n}}\n",
            d = d.display(),
            socket = socket.display()
        );
        std::fs::write(d.join("nginx.conf"), nginx_conf).unwrap();
        let nginx = ChildGuard::spawn(
            Command::new(nginx)
                .arg("-c")
                .arg(d.join("nginx.conf"))
                .args([
                    "-e",
                    &format!("{}/nginx.log", d.display()),
                    "-g",
                    "daemon off;",
                ]),
        );
        wait_for_port(port, Duration::from_secs(10));
        let url = format!("http://127.0.0.1:{port}/status?json");
        super::eventually(
            Duration::from_secs(10),
            "php-fpm answers through nginx",
            || super::http_get(&url, &[]).0 == 200,
        );
        PhpFpmBehindNginx {
            port,
            _nginx: nginx,
            _fpm: fpm,
            _dir: dir,
        }
    }
}

/// DNS query type A.
pub const A: u16 = 1;
/// DNS query type AAAA.
pub const AAAA: u16 = 28;

/// A running named; stopped when dropped.
pub struct Named {
    /// Its DNS port (UDP and TCP).
    pub dns_port: u16,
    /// The statistics channel's port.
    pub stats_port: u16,
    // Before `_dir`: the server stops before its files are removed.
    _child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Named {
    /// named with one primary zone, recursion off the network (no forwarders, no root hints
    /// reachable), and the statistics channel on loopback.
    pub fn start() -> Named {
        let named = require_tool("named", "bind9");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let (dns_port, stats_port) = (free_port(), free_port());
        std::fs::write(
            dir.path().join("named.conf"),
            format!(
                r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  listen-on port {dns_port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  allow-query {{ 127.0.0.1; }};
  dnssec-validation no;
}};
statistics-channels {{ inet 127.0.0.1 port {stats_port} allow {{ 127.0.0.1; }}; }};
zone "example.test" {{ type primary; file "{d}/example.test.zone"; }};
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("example.test.zone"),
            "$TTL 300\n@ IN SOA ns.example.test. admin.example.test. 2026113001 3600 600 86400 300\n\
             @ IN NS ns.example.test.\nns IN A 127.0.0.1\nwww IN A 127.0.0.2\n",
        )
        .unwrap();
        let child = ChildGuard::spawn(
            Command::new(named)
                .args(["-g", "-c"])
                .arg(dir.path().join("named.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(stats_port, Duration::from_secs(10));
        let named = Named {
            dns_port,
            stats_port,
            _child: child,
            _dir: dir,
        };
        // The channel opens before the zones are loaded; until then queries get SERVFAIL.
        super::eventually(Duration::from_secs(10), "named serves example.test", || {
            named.query("ns.example.test", A) == 0
        });
        named
    }

    /// Sends one query and waits for the answer; returns its RCODE.
    pub fn query(&self, name: &str, qtype: u16) -> u8 {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Header: id, flags (RD off), one question.
        let mut packet = vec![0x12, 0x34, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            packet.push(label.len() as u8);
            packet.extend_from_slice(label.as_bytes());
        }
        packet.push(0);
        packet.extend_from_slice(&qtype.to_be_bytes());
        packet.extend_from_slice(&1u16.to_be_bytes()); // class IN
        socket
            .send_to(&packet, ("127.0.0.1", self.dns_port))
            .unwrap();
        let mut answer = [0u8; 512];
        let n = socket.recv(&mut answer).unwrap();
        assert!(
            n >= 12 && answer[..2] == [0x12, 0x34],
            "not an answer to our query"
        );
        answer[3] & 0x0f
    }
}

/// A running Squid; stopped when dropped.
pub struct Squid {
    /// Its proxy port, which also serves the cache manager.
    pub port: u16,
    // Before `_dir`: the server stops before its files are removed.
    _child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Squid {
    /// Squid in the foreground, memory cache only, its cache manager open to localhost.
    pub fn start() -> Squid {
        let squid = require_tool("squid", "squid");
        let dir = tempfile::tempdir().unwrap();
        // Squid started as root works as the `proxy` user: its files must be writable by it.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let d = dir.path().display().to_string();
        let port = free_port();
        std::fs::write(
            dir.path().join("squid.conf"),
            format!(
                "http_port 127.0.0.1:{port}\npid_filename {d}/squid.pid\ncache_log {d}/cache.log\n\
                 access_log none\ncache_store_log none\ncoredump_dir {d}\npinger_enable off\n\
                 shutdown_lifetime 0 seconds\n\
                 http_access allow localhost manager\nhttp_access deny manager\n\
                 http_access allow localhost\nhttp_access deny all\n"
            ),
        )
        .unwrap();
        let child = ChildGuard::spawn(
            Command::new(squid)
                .args(["-N", "-f"])
                .arg(dir.path().join("squid.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(port, Duration::from_secs(20));
        Squid {
            port,
            _child: child,
            _dir: dir,
        }
    }
}
