//! The lighttpd, beanstalkd, uwsgi and nats presets: golden outputs on pages captured from the
//! Debian servers (`tests/fixtures/raw/`), each preset against the real server started on
//! 127.0.0.1 (and its `detect` probe), and the failures: no server, the wrong one, a silent one.
//!
//! `UPDATE_GOLDEN=1 cargo test --test presets_more golden` rewrites the golden files
//! (`tests/fixtures/golden/<preset>.prom`); review the diff.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::golden::check;
use common::{
    eventually, free_port, http_get, require_tool, sample_value, wait_for_port, ChildGuard,
    Exporter,
};
use sidecar_exporter::config::presets;

/// The names of the families of an exposition (from its `# TYPE` lines).
fn families(exposition: &str) -> Vec<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .map(str::to_string)
        .collect()
}

/// The preset's `detect.probe` against the real server: its request (HTTP `request:` or TCP
/// `send:`) must get an answer its `expect` regex matches.
fn assert_probe_matches(preset_name: &str, port: u16) {
    let preset = presets::find(preset_name).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(preset.yaml).unwrap();
    let probe = &yaml["detect"]["probe"];
    let expect = regex::Regex::new(probe["expect"].as_str().unwrap()).unwrap();
    let answer = if let Some(request) = probe["request"].as_str() {
        let path = request
            .strip_prefix("GET ")
            .expect("probes are GET requests");
        http_get(&format!("http://127.0.0.1:{port}{path}"), &[]).1
    } else {
        let send = probe["send"].as_str().unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(send.as_bytes()).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let n = stream.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(
        expect.is_match(&answer),
        "{preset_name}: detect.probe.expect {expect} does not match {answer:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// lighttpd

#[test]
fn golden_lighttpd() {
    check("lighttpd", "lighttpd_status_auto.txt");
}

/// lighttpd on a free port with mod_status at `/server-status` and a static file.
struct Lighttpd {
    port: u16,
    _child: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Lighttpd {
    fn start() -> Lighttpd {
        let lighttpd = require_tool("lighttpd", "lighttpd");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        std::fs::write(d.join("index.html"), "hello\n").unwrap();
        let config = format!(
            "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
             server.errorlog = \"{d}/error.log\"\nserver.max-connections = 64\n\
             server.modules = (\"mod_status\")\nstatus.status-url = \"/server-status\"\n",
            d = d.display()
        );
        std::fs::write(d.join("lighttpd.conf"), config).unwrap();
        let child = ChildGuard::spawn(
            Command::new(lighttpd)
                .arg("-D")
                .arg("-f")
                .arg(d.join("lighttpd.conf")),
        );
        wait_for_port(port, Duration::from_secs(10));
        Lighttpd {
            port,
            _child: child,
            _dir: dir,
        }
    }
}

#[test]
fn lighttpd_live() {
    let server = Lighttpd::start();
    for _ in 0..5 {
        let (status, body) = http_get(&format!("http://127.0.0.1:{}/index.html", server.port), &[]);
        assert_eq!((status, body.as_str()), (200, "hello\n"));
    }
    // A connection kept alive after its request shows as `k` on the scoreboard.
    let mut kept = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    kept.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("hello"));

    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: web\n    preset: lighttpd\n    url: http://127.0.0.1:{}/server-status?auto\n",
        server.port
    ));
    // lighttpd adds up its request counters once a second.
    let mut text = String::new();
    eventually(
        Duration::from_secs(5),
        "lighttpd counted the requests",
        || {
            text = exporter.metrics();
            sample_value(&text, "lighttpd_accesses_total").is_some_and(|v| v >= 6.0)
        },
    );
    assert_eq!(sample_value(&text, "lighttpd_up"), Some(1.0), "{text}");
    let busy = sample_value(&text, r#"lighttpd_workers{state="busy"}"#).unwrap();
    let idle = sample_value(&text, r#"lighttpd_workers{state="idle"}"#).unwrap();
    assert_eq!(busy + idle, 64.0, "{text}");
    assert_eq!(
        sample_value(&text, r#"lighttpd_scoreboard{state="idle"}"#),
        Some(idle),
        "{text}"
    );
    assert!(sample_value(&text, r#"lighttpd_scoreboard{state="keepalive"}"#).unwrap() >= 1.0);
    // The exporter's own request is being handled.
    assert!(sample_value(&text, r#"lighttpd_scoreboard{state="handle_request"}"#).unwrap() >= 1.0);
    assert!(
        text.contains("# TYPE lighttpd_sent_kilobytes_total counter"),
        "{text}"
    );
    assert!(sample_value(&text, "lighttpd_uptime_seconds_total").is_some());
    drop(kept);
    assert_probe_matches("lighttpd", server.port);

    // The HTML page (no `?auto`) is refused with the fix in the error.
    let html = Exporter::start(&format!(
        "collectors:\n  - name: web\n    preset: lighttpd\n    url: http://127.0.0.1:{}/server-status\n",
        server.port
    ));
    let text = html.metrics();
    assert_eq!(sample_value(&text, "lighttpd_up"), Some(0.0), "{text}");
    let (_, page) = html.get("/");
    assert!(page.contains("add `?auto` to the URL"), "{page}");
    assert_eq!(
        families(&text)
            .iter()
            .filter(|f| f.starts_with("lighttpd_"))
            .count(),
        1,
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// beanstalkd

#[test]
fn golden_beanstalkd() {
    check("beanstalkd", "beanstalkd_stats.txt");
}

/// Sends `commands` on `stream` and reads until the answer holds `until` lines.
fn beanstalk(stream: &mut TcpStream, commands: &str, until: usize) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(commands.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while answer.iter().filter(|&&b| b == b'\n').count() < until {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "beanstalkd closed after {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn beanstalkd_live() {
    let beanstalkd = require_tool("beanstalkd", "beanstalkd");
    let port = free_port();
    let _server = ChildGuard::spawn(Command::new(beanstalkd).args([
        "-l",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]));
    wait_for_port(port, Duration::from_secs(10));
    let mut producer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let answer = beanstalk(
        &mut producer,
        "use emails\r\nput 0 0 60 5\r\nhello\r\nput 2000 0 60 5\r\nworld\r\nput 100 3600 60 2\r\nhi\r\n",
        4,
    );
    assert!(answer.ends_with("INSERTED 3\r\n"), "{answer}");
    let mut worker = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let answer = beanstalk(&mut worker, "watch emails\r\nreserve-with-timeout 0\r\n", 3);
    assert!(answer.contains("RESERVED 1 5"), "{answer}");

    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: queue\n    preset: beanstalkd\n    address: 127.0.0.1:{port}\n"
    ));
    let text = exporter.metrics();
    for (series, want) in [
        ("beanstalkd_up", 1.0),
        ("current_jobs_ready", 1.0),
        ("current_jobs_reserved", 1.0),
        ("current_jobs_delayed", 1.0),
        ("current_jobs_buried", 0.0),
        ("current_tubes", 2.0),
        ("current_producers", 1.0),
        ("current_workers", 1.0),
        ("cmd_put", 3.0),
        ("total_jobs", 3.0),
        ("draining", 0.0),
        ("max_job_size", 65535.0),
    ] {
        assert_eq!(sample_value(&text, series), Some(want), "{series}\n{text}");
    }
    // The exporter's connection: counted, and closed by `quit` (not left open).
    assert!(sample_value(&text, "total_connections").unwrap() >= 3.0);
    assert!(text.contains("# TYPE cmd_put gauge"), "{text}");
    let ours: Vec<String> = families(&text)
        .into_iter()
        .filter(|f| !f.starts_with("sidecar_exporter_") && !f.starts_with("process_"))
        .collect();
    assert_eq!(ours.len(), 46, "{ours:?}");
    let again = exporter.metrics();
    assert_eq!(
        sample_value(&again, "current_connections"),
        Some(3.0),
        "{again}"
    );
    assert_probe_matches("beanstalkd", port);
}

// ---------------------------------------------------------------------------------------------
// uWSGI

#[test]
fn golden_uwsgi() {
    check("uwsgi", "uwsgi_stats.json");
}

/// A WSGI app that raises on `/boom` and uses the uWSGI cache on `/cache/KEY`.
const WSGI_APP: &str = r#"
import uwsgi

def application(env, start_response):
    path = env.get('PATH_INFO', '/')
    if path == '/boom':
        raise RuntimeError('boom')
    if path.startswith('/cache/'):
        key = path[len('/cache/'):]
        if uwsgi.cache_get(key, 'mycache') is None:
            uwsgi.cache_set(key, b'v', 0, 'mycache')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello\n']
"#;

#[test]
fn uwsgi_live() {
    let uwsgi = require_tool("uwsgi", "uwsgi-core");
    let plugin = Path::new("/usr/lib/uwsgi/plugins/python3_plugin.so");
    assert!(
        plugin.exists(),
        "{} is missing: run `scripts/test` (it installs the test dependencies) or \
         `apt-get install uwsgi-plugin-python3`",
        plugin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), WSGI_APP).unwrap();
    let (http, stats) = (free_port(), free_port());
    let _server = ChildGuard::spawn(
        Command::new(uwsgi)
            .current_dir(dir.path())
            .args(["--plugin", "python3", "--wsgi-file", "app.py", "--master"])
            .args(["--processes", "2", "--memory-report", "--die-on-term"])
            .args(["--cache2", "name=mycache,items=100"])
            .arg(format!("--http-socket=127.0.0.1:{http}"))
            .arg(format!("--stats=127.0.0.1:{stats}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(http, Duration::from_secs(10));
    wait_for_port(stats, Duration::from_secs(10));
    let url = |path: &str| format!("http://127.0.0.1:{http}{path}");
    // The workers load the app after the master listens.
    eventually(Duration::from_secs(10), "uWSGI serves the app", || {
        http_get(&url("/"), &[]).0 == 200
    });
    for _ in 0..4 {
        assert_eq!(http_get(&url("/"), &[]).0, 200);
    }
    // The app raises before answering: uWSGI closes the connection without a response.
    assert_ne!(http_get(&url("/boom"), &[]).0, 200);
    for key in ["a", "a", "b"] {
        assert_eq!(http_get(&url(&format!("/cache/{key}")), &[]).0, 200);
    }

    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: app\n    preset: uwsgi\n    address: 127.0.0.1:{stats}\n"
    ));
    let text = exporter.metrics();
    assert_eq!(sample_value(&text, "uwsgi_up"), Some(1.0), "{text}");
    assert_eq!(sample_value(&text, "uwsgi_workers"), Some(2.0), "{text}");
    let per_worker = |family: &str| -> f64 {
        (1..=2)
            .map(|id| {
                sample_value(&text, &format!("{family}{{worker_id=\"{id}\"}}"))
                    .unwrap_or_else(|| panic!("{family} of worker {id}\n{text}"))
            })
            .sum()
    };
    // 1 + 4 + 1 + 3 requests, one of them failed.
    assert_eq!(per_worker("uwsgi_worker_requests_total"), 9.0, "{text}");
    assert_eq!(per_worker("uwsgi_worker_exceptions_total"), 1.0, "{text}");
    assert_eq!(per_worker("uwsgi_worker_accepting"), 2.0, "{text}");
    assert_eq!(per_worker("uwsgi_worker_apps"), 2.0, "{text}");
    assert_eq!(per_worker("uwsgi_worker_idle"), 2.0, "{text}");
    assert!(per_worker("uwsgi_worker_rss_bytes") > 1e6, "{text}");
    assert!(
        per_worker("uwsgi_worker_transmitted_bytes_total") > 0.0,
        "{text}"
    );
    for (series, want) in [
        (r#"uwsgi_cache_hits{name="mycache"}"#, 1.0),
        (r#"uwsgi_cache_misses{name="mycache"}"#, 2.0),
        (r#"uwsgi_cache_items{name="mycache"}"#, 2.0),
        (r#"uwsgi_cache_max_items{name="mycache"}"#, 100.0),
    ] {
        assert_eq!(sample_value(&text, series), Some(want), "{series}\n{text}");
    }
    let socket = format!(r#"uwsgi_socket_queue_length{{name="127.0.0.1:{http}",proto="http"}}"#);
    assert_eq!(sample_value(&text, &socket), Some(0.0), "{text}");
    let app_requests: f64 = text
        .lines()
        .filter(|l| l.starts_with("uwsgi_worker_app_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(app_requests, 9.0, "{text}");
    assert!(
        text.contains("# TYPE uwsgi_worker_requests_total counter"),
        "{text}"
    );
    let uwsgi_families = families(&text)
        .into_iter()
        .filter(|f| f.starts_with("uwsgi_"))
        .count();
    // Every family of uwsgi_exporter 1.3.0 but its own uwsgi_exporter_* and the per-core ones.
    assert_eq!(uwsgi_families, 36, "{text}");
    assert_probe_matches("uwsgi", stats);
}

// ---------------------------------------------------------------------------------------------
// NATS

#[test]
fn golden_nats() {
    check("nats", "nats_varz.json");
}

#[test]
fn nats_live() {
    let nats = require_tool("nats-server", "nats-server");
    let dir = tempfile::tempdir().unwrap();
    let (client, monitor) = (free_port(), free_port());
    let _server = ChildGuard::spawn(
        Command::new(&nats)
            .args(["-a", "127.0.0.1", "-p", &client.to_string()])
            .args(["-m", &monitor.to_string(), "-js", "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(client, Duration::from_secs(10));
    wait_for_port(monitor, Duration::from_secs(10));
    // The NATS text protocol: a subscriber that gets two of the three messages.
    let mut stream = TcpStream::connect(("127.0.0.1", client)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPUB foo 3\r\nabc\r\nPUB bar 2\r\nhi\r\nPING\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("PONG") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "nats-server closed after {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }

    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: bus\n    preset: nats\n    url: http://127.0.0.1:{monitor}/varz\n"
    ));
    let text = exporter.metrics();
    assert_eq!(sample_value(&text, "gnatsd_up"), Some(1.0), "{text}");
    let server_id = text
        .lines()
        .find_map(|l| l.strip_prefix("gnatsd_varz_connections{server_id=\""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no gnatsd_varz_connections\n{text}"))
        .to_string();
    assert!(
        server_id.starts_with('N') && server_id.len() == 56,
        "{server_id}"
    );
    let series = |name: &str| format!("{name}{{server_id=\"{server_id}\"}}");
    for (name, want) in [
        ("gnatsd_varz_connections", 1.0),
        ("gnatsd_varz_in_msgs", 3.0),
        ("gnatsd_varz_out_msgs", 2.0),
        ("gnatsd_varz_in_bytes", 10.0),
        ("gnatsd_varz_out_bytes", 8.0),
        ("gnatsd_varz_slow_consumers", 0.0),
        ("gnatsd_varz_port", f64::from(client)),
        ("gnatsd_varz_jetstream_stats_accounts", 1.0),
    ] {
        assert_eq!(
            sample_value(&text, &series(name)),
            Some(want),
            "{name}\n{text}"
        );
    }
    // wait_for_port's connection counts too.
    assert!(sample_value(&text, &series("gnatsd_varz_total_connections")).unwrap() >= 1.0);
    let version = String::from_utf8(
        Command::new(&nats)
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let version = version.trim().trim_start_matches("nats-server: v");
    assert_eq!(
        sample_value(
            &text,
            &format!(r#"gnatsd_varz_version{{server_id="{server_id}",value="{version}"}}"#)
        ),
        Some(1.0),
        "{text}"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    let start = sample_value(&text, &series("gnatsd_varz_start")).unwrap();
    assert!(
        start <= now_ms && now_ms - start < 120_000.0,
        "start {start}, now {now_ms}"
    );
    assert!(text.contains("# TYPE gnatsd_varz_in_msgs gauge"), "{text}");
    assert_eq!(
        sample_value(
            &text,
            r#"sidecar_exporter_collector_errors_total{collector="bus",kind="http_json",reason="mapping"}"#
        ),
        Some(0.0),
        "{text}"
    );
    assert_probe_matches("nats", monitor);
}

// ---------------------------------------------------------------------------------------------
// Failures

/// A preset pointed at nothing, or at the wrong server, is down with the reason counted, and
/// emits none of its series.
#[test]
fn wrong_or_missing_server_is_down_with_a_reason() {
    let beanstalkd_port = free_port();
    let _beanstalkd = ChildGuard::spawn(
        Command::new(require_tool("beanstalkd", "beanstalkd")).args([
            "-l",
            "127.0.0.1",
            "-p",
            &beanstalkd_port.to_string(),
        ]),
    );
    let nats_port = free_port();
    let _nats = ChildGuard::spawn(
        Command::new(require_tool("nats-server", "nats-server"))
            .args(["-a", "127.0.0.1", "-p", &nats_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(beanstalkd_port, Duration::from_secs(10));
    wait_for_port(nats_port, Duration::from_secs(10));
    let closed = free_port();
    let exporter = Exporter::start(&format!(
        "collectors:\n\
         - {{name: gone, preset: beanstalkd, address: '127.0.0.1:{closed}', labels: {{instance: gone}}}}\n\
         - {{name: nats_not_beanstalkd, preset: beanstalkd, address: '127.0.0.1:{nats_port}', labels: {{instance: wrong}}}}\n\
         - {{name: silent, preset: uwsgi, address: '127.0.0.1:{beanstalkd_port}', timeout: 500ms}}\n"
    ));
    let text = exporter.metrics();
    let errors = |collector: &str, reason: &str| {
        sample_value(
            &text,
            &format!(
                r#"sidecar_exporter_collector_errors_total{{collector="{collector}",kind="tcp_text",reason="{reason}"}}"#
            ),
        )
    };
    assert_eq!(
        sample_value(&text, r#"beanstalkd_up{instance="gone"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(errors("gone", "connect"), Some(1.0), "{text}");
    // nats-server greets with `INFO {…}` and refuses `stats`: not beanstalkd's answer.
    assert_eq!(
        sample_value(&text, r#"beanstalkd_up{instance="wrong"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(errors("nats_not_beanstalkd", "parse"), Some(1.0), "{text}");
    // beanstalkd says nothing until asked: the uwsgi preset waits for its document in vain.
    assert_eq!(sample_value(&text, "uwsgi_up"), Some(0.0), "{text}");
    assert_eq!(errors("silent", "timeout"), Some(1.0), "{text}");
    assert!(!text.contains("current_jobs_ready"), "{text}");
    assert!(!text.contains("uwsgi_workers"), "{text}");
    let (_, page) = exporter.get("/");
    assert!(page.contains("current-jobs-ready"), "{page}");
}
