//! Collections of several requests (`requests:`): against a real nginx over TCP and its unix
//! socket, the answers combine under their names; a failed optional request costs only its
//! series; a failed required one fails the collection, naming the request. Config errors point
//! at the request's key. HTTP requests go out at once, TCP ones one after the other.

mod common;
mod nginx_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{sample_value, Exporter};
use nginx_support::Nginx;

/// Two pages for the collector to read: JSON and a `key: value` text.
fn write_pages(nginx: &Nginx) {
    let api = nginx.dir.path().join("www/api");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::write(
        api.join("server.json"),
        r#"{"uptime": 42, "zones": {"a": {"size": 1}, "b": {"size": 2}}}"#,
    )
    .unwrap();
    std::fs::write(api.join("counters.txt"), "requests: 7\nerrors: 1\n").unwrap();
}

fn collector(name: &str, url: &str, missing_is_optional: bool) -> String {
    format!(
        r#"  - name: {name}
    kind: http_json
    url: {url}
    labels: {{via: {name}}}
    requests:
      - {{name: server, path: server.json}}
      - {{name: counters, path: /counters.txt, format: {{type: kv}}}}
      - {{name: absent, path: absent.json, optional: {missing_is_optional}}}
    metrics:
      - {{name: app_uptime_seconds, path: '{{ .server.uptime }}'}}
      - {{name: app_requests_total, valuetype: counter, path: '{{ .counters.requests }}'}}
      - name: app_zone
        type: object
        path: '{{ .server.zones.* }}'
        labels: {{zone: '{{$key}}'}}
        values: {{size: '{{ .size }}'}}
      - {{name: app_absent, path: '{{ .absent.x }}', allow_missing_key: true}}
"#
    )
}

#[test]
fn answers_combine_under_their_names_over_tcp_and_unix_sockets() {
    let nginx = Nginx::start();
    write_pages(&nginx);
    let tcp_base = format!("http://127.0.0.1:{}/api/", nginx.port);
    let unix_base = format!("unix:{}:/api", nginx.socket.display());
    let exporter = Exporter::start(&format!(
        "collectors:\n{}{}{}",
        collector("tcp", &tcp_base, true),
        collector("unix", &unix_base, true),
        collector("required", &tcp_base, false),
    ));
    let text = exporter.metrics();
    for via in ["tcp", "unix"] {
        let series = |s: &str| sample_value(&text, &s.replace("VIA", via));
        assert_eq!(
            series(r#"app_uptime_seconds{via="VIA"}"#),
            Some(42.0),
            "{text}"
        );
        assert_eq!(series(r#"app_requests_total{via="VIA"}"#), Some(7.0));
        assert_eq!(
            series(r#"app_zone_size{zone="b",via="VIA"}"#),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            series(r#"sidecar_exporter_collector_up{collector="VIA",kind="http_json"}"#),
            Some(1.0)
        );
        // The optional request's 404 is counted; its series is simply missing.
        assert_eq!(
            series(
                r#"sidecar_exporter_collector_errors_total{collector="VIA",kind="http_json",reason="http_status"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            series(r#"sidecar_exporter_target_requests_total{collector="VIA",kind="http_json"}"#),
            Some(3.0),
            "{text}"
        );
    }
    assert!(!text.contains("app_absent"), "{text}");

    // A required request that fails fails the collection, and says which one.
    assert_eq!(
        sample_value(
            &text,
            r#"sidecar_exporter_collector_up{collector="required",kind="http_json"}"#
        ),
        Some(0.0),
        "{text}"
    );
    assert!(
        !text.contains(r#"app_uptime_seconds{via="required"}"#),
        "{text}"
    );
    let (status, page) = exporter.get("/");
    assert_eq!(status, 200);
    assert!(
        page.contains("request &quot;absent&quot;") || page.contains("request \"absent\""),
        "{page}"
    );
}

/// How many requests a server had in hand at once, at most.
#[derive(Clone, Default)]
struct InFlight {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl InFlight {
    /// Counts one request in while it waits (up to 500 ms) for a second one to arrive, so that
    /// requests sent at once are seen together and requests sent in turn never are.
    fn hold(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let start = Instant::now();
        while self.now.load(Ordering::SeqCst) < 2 && start.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.most
            .fetch_max(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A server on 127.0.0.1 that answers each line-ended request (an HTTP head, or a command) with
/// `value: 1`, over HTTP/1.1 kept alive or, for `tcp`, closing after the answer.
fn counting_server(tcp: bool) -> (u16, InFlight) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let in_flight = InFlight::default();
    let counter = in_flight.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    let request_ended = if tcp { true } else { line == "\r\n" };
                    line.clear();
                    if !request_ended {
                        continue;
                    }
                    counter.hold();
                    let answer = if tcp {
                        "value: 1\n".to_string()
                    } else {
                        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nvalue: 1\n".to_string()
                    };
                    if writer.write_all(answer.as_bytes()).is_err() || tcp {
                        return;
                    }
                }
            });
        }
    });
    (port, in_flight)
}

#[test]
fn http_requests_go_out_at_once_and_tcp_ones_in_turn() {
    let (http_port, http_in_flight) = counting_server(false);
    let (tcp_port, tcp_in_flight) = counting_server(true);
    let config = format!(
        r#"collectors:
  - name: over_http
    kind: http_text
    url: http://127.0.0.1:{http_port}/
    format: {{type: kv, separator: ": "}}
    requests:
      - {{name: a, path: a}}
      - {{name: b, path: b}}
    metrics:
      - {{name: http_a, path: '{{ .a.value }}'}}
      - {{name: http_b, path: '{{ .b.value }}'}}
  - name: over_tcp
    kind: tcp_text
    address: 127.0.0.1:{tcp_port}
    format: {{type: kv, separator: ": "}}
    requests:
      - {{name: a, command: "a\n"}}
      - {{name: b, command: "b\n"}}
    metrics:
      - {{name: tcp_a, path: '{{ .a.value }}'}}
      - {{name: tcp_b, path: '{{ .b.value }}'}}
"#
    );
    let exporter = Exporter::start(&config);
    let text = exporter.metrics();
    for series in ["http_a", "http_b", "tcp_a", "tcp_b"] {
        assert_eq!(sample_value(&text, series), Some(1.0), "{series}: {text}");
    }
    assert_eq!(http_in_flight.most.load(Ordering::SeqCst), 2);
    assert_eq!(tcp_in_flight.most.load(Ordering::SeqCst), 1);
}

fn check(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .args(["check", "--config.file", "config.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_errors_point_at_the_request() {
    // (config, the position named, words of the message)
    let cases = [
        (
            "collectors:
  - name: cache
    kind: tcp_text
    address: 127.0.0.1:6379
    command: \"INFO\\r\\n\"
    format: kv
    requests:
      - {name: info, command: \"INFO\\r\\n\"}
",
            "config.yaml:5:5:",
            "each entry of `requests:`",
        ),
        (
            "collectors:
  - name: cache
    kind: tcp_text
    address: 127.0.0.1:6379
    format: kv
    requests:
      - {name: info, command: \"INFO\\r\\n\"}
      - {name: info, command: \"INFO\\r\\n\"}
",
            "config.yaml:8:10:",
            "two requests are named \"info\"",
        ),
        (
            "collectors:
  - name: cache
    kind: tcp_text
    address: 127.0.0.1:6379
    format: kv
    requests:
      - name: info
        command: \"INFO\\\\q\"
",
            "config.yaml:8:9:",
            "unknown escape",
        ),
        (
            "collectors:
  - name: app
    kind: http_text
    url: http://127.0.0.1:8080/
    requests:
      - {name: a, path: a.txt}
",
            "config.yaml:6:9:",
            "needs `format:`",
        ),
        (
            "collectors:
  - name: app
    kind: http_json
    url: http://127.0.0.1:8080/
    requests:
      - {name: a, path: a.json, command: x}
",
            "config.yaml:6:33:",
            "unknown field `command`",
        ),
    ];
    for (config, position, words) in cases {
        let error = check(config);
        assert!(
            error.contains(position) && error.contains(words),
            "{config}\n→ {error}"
        );
    }
}
