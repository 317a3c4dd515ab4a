//! Slow and hostile clients cannot starve the scrape: half-sent headers, a body never sent, idle
//! keep-alive connections and hundreds of such connections under a 128-descriptor limit, while a
//! normal scrape is answered in time every half second, and the exporter recovers by itself.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{http_get, require_tool, sample_value, wait_for_own_listener, ChildGuard};

const CONFIG: &str = "collectors:\n  - name: stats\n    kind: file\n    path: stats.json\n    format: json\n    metrics:\n      - name: app_requests\n        path: '{ .requests }'\n";

struct Running {
    child: ChildGuard,
    port: u16,
    _dir: tempfile::TempDir,
}

/// Starts the exporter with `args`, under `prlimit --nofile=LIMITS` when given.
fn start(args: &[&str], nofile: Option<&str>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("stats.json"), r#"{"requests": 7}"#).unwrap();
    let exporter = env!("CARGO_BIN_EXE_sidecar-exporter");
    let mut command = match nofile {
        Some(limits) => {
            let mut command = Command::new(require_tool("prlimit", "util-linux"));
            command
                .arg(format!("--nofile={limits}"))
                .arg("--")
                .arg(exporter);
            command
        }
        None => Command::new(exporter),
    };
    command
        .current_dir(dir.path())
        .args(["--config.file", "config.yaml"])
        .arg("--web.listen-address=127.0.0.1:0")
        .args(args);
    let mut child = ChildGuard::spawn(&mut command);
    // prlimit runs the exporter in its own process, so the child's pid is the exporter's.
    let port = wait_for_own_listener(&mut child, Duration::from_secs(10))
        .unwrap_or_else(|problem| panic!("the exporter: {problem}"));
    Running {
        child,
        port,
        _dir: dir,
    }
}

/// A normal scrape: 200 with the collected series, within `budget`.
fn scrape_in_time(port: u16, budget: Duration) {
    let started = Instant::now();
    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/metrics"), &[]);
    let took = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(sample_value(&body, "app_requests"), Some(7.0), "{body}");
    assert!(took < budget, "the scrape took {took:?}");
}

/// Scrapes every half second for `during`, each within 2 s.
fn scrape_repeatedly(port: u16, during: Duration) {
    let until = Instant::now() + during;
    while Instant::now() < until {
        scrape_in_time(port, Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A connection that sent `bytes` and then nothing more.
fn stalled(port: u16, bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    stream.write_all(bytes.as_bytes()).expect("sending");
    stream
}

const HALF_HEADER: &str = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow";

/// True when the server closes `stream` within `within` (reading what it may still send, such as
/// an answer, first).
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let until = Instant::now() + within;
    let mut buffer = [0u8; 4096];
    while Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn half_sent_headers_are_cut_off_while_scrapes_go_on() {
    let exporter = start(
        &["--web.header-read-timeout=1s", "--web.idle-timeout=60s"],
        None,
    );
    let mut stalled: Vec<TcpStream> = (0..50)
        .map(|_| stalled(exporter.port, HALF_HEADER))
        .collect();
    scrape_repeatedly(exporter.port, Duration::from_secs(2));
    for stream in &mut stalled {
        assert!(
            closed_by_server(stream, Duration::from_secs(3)),
            "a half-sent request is still open past the header timeout"
        );
    }
    scrape_in_time(exporter.port, Duration::from_secs(2));
}

#[test]
fn a_keep_alive_connection_outlives_the_header_timeout_between_requests() {
    // Prometheus keeps its connection between scrapes: only the idle timeout may close it.
    let exporter = start(
        &["--web.header-read-timeout=1s", "--web.idle-timeout=60s"],
        None,
    );
    let mut connection = TcpStream::connect(("127.0.0.1", exporter.port)).unwrap();
    connection
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = "GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut answer = [0u8; 512];
    for round in 0..2 {
        connection.write_all(request.as_bytes()).unwrap();
        let n = connection.read(&mut answer).expect("an answer");
        assert!(
            answer[..n].starts_with(b"HTTP/1.1 200"),
            "round {round}: {:?}",
            String::from_utf8_lossy(&answer[..n])
        );
        std::thread::sleep(Duration::from_millis(2500));
    }
}

#[test]
fn a_body_never_sent_and_an_idle_keep_alive_end_at_the_idle_timeout() {
    let exporter = start(
        &["--web.header-read-timeout=10s", "--web.idle-timeout=1s"],
        None,
    );
    let mut no_body = stalled(
        exporter.port,
        "POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n",
    );
    let mut keep_alive = stalled(
        exporter.port,
        "GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    let mut answer = [0u8; 512];
    keep_alive
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let n = keep_alive.read(&mut answer).expect("the health answer");
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &answer[..n]
    );
    scrape_repeatedly(exporter.port, Duration::from_secs(1));
    assert!(
        closed_by_server(&mut no_body, Duration::from_secs(4)),
        "a request whose body never came is still open past the idle timeout"
    );
    assert!(
        closed_by_server(&mut keep_alive, Duration::from_secs(4)),
        "an idle keep-alive connection is still open past the idle timeout"
    );
}

#[test]
fn hundreds_of_slow_clients_under_a_128_descriptor_limit() {
    // Timeouts long enough that only the connection cap can keep the port usable.
    let exporter = start(
        &["--web.header-read-timeout=60s", "--web.idle-timeout=60s"],
        Some("128:128"),
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", exporter.child.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert!(
        open_files.split_whitespace().nth(3) == Some("128"),
        "{open_files}"
    );
    let stalled: Vec<TcpStream> = (0..300)
        .map(|_| stalled(exporter.port, HALF_HEADER))
        .collect();
    scrape_repeatedly(exporter.port, Duration::from_secs(5));
    let (_, body) = http_get(&format!("http://127.0.0.1:{}/metrics", exporter.port), &[]);
    let fds = sample_value(&body, "process_open_fds").unwrap();
    assert!(fds < 128.0, "{fds} descriptors open");
    drop(stalled);
    scrape_repeatedly(exporter.port, Duration::from_secs(1));
}

#[test]
fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
    let exporter = start(&[], Some("256:4096"));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", exporter.child.pid())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = open_files.split_whitespace().collect();
    assert_eq!(&fields[3..5], ["4096", "4096"], "{open_files}");
}
