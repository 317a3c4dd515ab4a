//! Helpers shared by the integration tests: finding the real tools, free ports, child processes
//! that are stopped when the test ends.
#![allow(dead_code)]

pub mod exposition;
pub mod golden;
pub mod servers;

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

/// The ports on 127.0.0.1 that process `pid` itself listens on: the LISTEN entries of
/// `/proc/net/tcp` whose socket is one of the process' descriptors. Unlike a connection to the
/// port, this cannot be answered by another process holding the port.
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
            Some(inode.to_string())
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            let (address, port) = local.split_once(':')?;
            let ours = address == "0100007F" && *state == "0A" && inodes.contains(*inode);
            ours.then(|| u16::from_str_radix(port, 16).ok()).flatten()
        })
        .collect()
}

/// Waits until `child` itself listens on 127.0.0.1 and returns the port; an error when it
/// exits first or does not listen within `timeout`.
pub fn wait_for_own_listener(child: &mut ChildGuard, timeout: Duration) -> Result<u16, String> {
    let start = Instant::now();
    loop {
        if let Some(port) = listening_ports(child.pid()).first() {
            return Ok(*port);
        }
        match child.0.try_wait() {
            Ok(Some(status)) => return Err(format!("exited with {status} before listening")),
            Ok(None) => {}
            Err(error) => return Err(format!("cannot wait for it: {error}")),
        }
        if start.elapsed() > timeout {
            return Err(format!("not listening on 127.0.0.1 within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `command`, told to listen on `127.0.0.1:0`, and returns it with the port it bound
/// (read from `/proc`, see [`Exporter::start_in`] for why not a port picked beforehand).
/// `what` names it in the panic when it exits or does not listen within 10 s.
pub fn spawn_listening(command: &mut Command, what: &str) -> (ChildGuard, u16) {
    let mut child = ChildGuard::spawn(command);
    let port = wait_for_own_listener(&mut child, Duration::from_secs(10))
        .unwrap_or_else(|problem| panic!("{what}: {problem}"));
    (child, port)
}

/// Waits until every thread of `pid` sleeps: right after exec a process still runs its
/// startup, and on a busy machine it may be caught runnable.
pub fn wait_until_asleep(pid: u32) {
    let start = Instant::now();
    loop {
        let states: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
            .filter_map(|stat| {
                Some(
                    stat.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .next()?
                        .to_string(),
                )
            })
            .collect();
        if !states.is_empty() && states.iter().all(|s| s == "S") {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the threads of {pid} are not all asleep: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
    /// SIGTERM first, so that a master process (nginx, apache, php-fpm) stops its workers, which
    /// would otherwise be orphaned and keep the test's output pipe open; SIGKILL after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running sidecar-exporter binary with its config in a temporary directory.
pub struct Exporter {
    /// The process (stopped on drop).
    pub child: ChildGuard,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Holds the config file.
    pub dir: tempfile::TempDir,
}

impl Exporter {
    /// Writes `config` to `config.yaml` in a new temporary directory and starts the exporter
    /// on a free port of 127.0.0.1, waiting until it listens.
    pub fn start(config: &str) -> Exporter {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        std::fs::write(dir.path().join("config.yaml"), config).expect("writing config.yaml");
        Exporter::start_in(dir, &["--config.file", "config.yaml"])
    }

    /// Starts the exporter in `dir` with `args` (plus the listen address), waiting until it
    /// listens.
    ///
    /// It binds port 0 and the port is read back from `/proc`, rather than a port taken from
    /// [`free_port`]: that port is free only until someone else binds it (another test's
    /// exporter picking the same one, any process on the machine). Then this exporter exits
    /// with "address in use", [`wait_for_port`] is answered by the stranger, and the test
    /// talks to a process it does not own, seeing its pages and, when its owner stops it, a
    /// "Connection reset by peer".
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Exporter {
        let (child, port) = spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
                .current_dir(dir.path())
                .args(args)
                .arg("--web.listen-address=127.0.0.1:0")
                .arg("--log.level=debug"),
            "the exporter",
        );
        Exporter { child, port, dir }
    }

    /// Sends SIGTERM and waits for the exit, which must come within 10 s.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.0.try_wait().expect("waiting for the exporter") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still running 10 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// GETs `path` and returns status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.url(path), &[])
    }

    /// The text exposition of `/metrics`.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "GET /metrics answered {status}: {body}");
        body
    }
}

/// A minimal blocking HTTP/1.1 GET (the tests need no client library for it), returning the
/// status code and the body.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http_request("GET", url, headers)
}

/// A minimal blocking HTTP/1.1 request with `Connection: close`.
pub fn http_request(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connecting to {authority}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("setting a read timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("sending the request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("reading the response");
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the series whose exposition line starts with `series` (name and labels as
/// written, e.g. `sidecar_exporter_collector_up{collector="a",kind="file"}`).
pub fn sample_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        let value = rest.strip_prefix(' ')?.split_whitespace().next()?;
        match value {
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            v => v.parse().ok(),
        }
    })
}

/// Polls `check` every 50 ms until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not true within {timeout:?}");
}

/// Runs `promtool check metrics` on `page`: its exit code (0 clean, 3 lint findings only,
/// 1 unparsable) and its findings, one per line.
pub fn promtool_check_metrics(page: &str) -> (i32, std::collections::BTreeSet<String>) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(require_tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(page.as_bytes())
        .expect("writing to promtool");
    let output = child.wait_with_output().expect("waiting for promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.code().unwrap_or(-1),
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

/// The exposition client_golang writes: families sorted by name, series sorted by labels, no
/// braces without labels, timestamps in milliseconds. Golden files of the replaced exporters'
/// output are compared with this.
pub fn sorted_exposition(families: &[sidecar_exporter::model::MetricFamily]) -> String {
    let mut families: Vec<_> = families.iter().collect();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for family in families {
        out.push_str(&format!("# HELP {} {}\n", family.name, family.help));
        out.push_str(&format!(
            "# TYPE {} {}\n",
            family.name,
            family.metric_type.text_name()
        ));
        let mut samples: Vec<_> = family.samples.iter().collect();
        samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        for sample in samples {
            out.push_str(&family.name);
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                out.push_str(&format!("{{{}}}", labels.join(",")));
            }
            out.push_str(&format!(" {}", sample.value));
            if let Some(ts) = sample.timestamp_ms {
                out.push_str(&format!(" {ts}"));
            }
            out.push('\n');
        }
    }
    out
}
