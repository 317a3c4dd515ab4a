//! Real BIND (named) and Squid from Debian on 127.0.0.1, for the side-by-side and end-to-end
//! tests.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{free_port, require_tool, wait_for_port, ChildGuard};

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
