//! Helpers shared by the integration tests: finding the real tools, free ports, child processes
//! that are stopped when the test ends.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Finds `tool` on PATH or in the sbin folders Debian puts daemons in. Panics with the install
/// step when it is missing: tests never skip silently.
pub fn require_tool(tool: &str, debian_package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = path.split(':').map(PathBuf::from).chain(
        [
            "/usr/sbin",
            "/sbin",
            "/usr/local/sbin",
            "/usr/bin",
            "/usr/local/bin",
        ]
        .map(PathBuf::from),
    );
    for dir in dirs {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` is not installed: run `scripts/test` (it installs the test dependencies) \
         or `apt-get install {debian_package}`"
    );
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port on 127.0.0.1")
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listened on 127.0.0.1:{port} within {timeout:?}");
}

/// A child process killed (and reaped) when dropped.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawns `command`, panicking with its description when it cannot start.
    pub fn spawn(command: &mut Command) -> ChildGuard {
        let description = format!("{command:?}");
        ChildGuard(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("starting {description}: {e}")),
        )
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
