//! The `nginx` and `apache` presets: golden outputs on captured pages, real servers, side by
//! side with Debian's nginx-prometheus-exporter and apache_exporter, and failures.
//!
//! Golden files (`tests/fixtures/golden/*.prom`) are written in client_golang's order (families
//! by name, series by labels) so that they can be diffed with the peers' output; they were
//! checked equal to what the peers print for the same page (HELP, TYPE, series and values).
//! `UPDATE_GOLDEN=1 cargo test --test presets_web golden` rewrites them.

mod apache_support;
mod common;
mod nginx_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apache_support::{Apache, ApacheOptions, StaticStatusPage};
use common::{
    free_port, http_get, require_tool, sample_value, wait_for_port, ChildGuard, Exporter,
};
use nginx_support::Nginx;
use sidecar_exporter::collector::{CollectError, Reason};
use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::model::MetricFamily;
use sidecar_exporter::scrape::{Counters, Engine};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/raw")
        .join(name)
}

/// The preset with its source replaced by a `file` source reading `path`.
fn preset_on_file(preset: &str, path: &Path) -> String {
    let mut collector = sidecar_exporter::config::presets::find(preset)
        .unwrap()
        .mapping()
        .unwrap();
    for key in ["url", "description", "detect"] {
        collector.remove(key);
    }
    collector.insert("name".into(), preset.into());
    collector.insert("kind".into(), "file".into());
    collector.insert("path".into(), path.display().to_string().into());
    let config = serde_yaml::to_string(&serde_yaml::Value::Mapping(collector)).unwrap();
    format!("collectors:\n- {}", config.replace('\n', "\n  "))
}

/// One collection of the preset on a captured page: the exposition (client_golang's order),
/// the partial problems, and the error if it failed.
fn collect_fixture(preset: &str, page: &str) -> (String, Vec<CollectError>, Option<CollectError>) {
    let yaml = preset_on_file(preset, &fixture(page));
    let config =
        sidecar_exporter::config::load_bytes("test.yaml", yaml.as_bytes(), Path::new("."), &|_| {
            None
        })
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let engine = Engine::build(&config, Arc::new(Counters::default())).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcomes =
        runtime.block_on(engine.collect(tokio::time::Instant::now() + Duration::from_secs(5)));
    let outcome = &outcomes[0].1;
    (
        sorted_exposition(&outcome.families),
        outcome.problems.clone(),
        outcome.error.clone(),
    )
}

fn sorted_exposition(families: &[MetricFamily]) -> String {
    let mut families = families.to_vec();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for family in &mut families {
        family.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    let mut out = Vec::new();
    encode(&families, Format::Text, &mut out);
    String::from_utf8(out).unwrap()
}

fn check_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(format!("{name}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{name}: output differs from {}",
        path.display()
    );
}

#[test]
fn golden_nginx() {
    let (out, problems, error) = collect_fixture("nginx", "nginx_stub_status.txt");
    assert!(
        error.is_none() && problems.is_empty(),
        "{error:?} {problems:?}"
    );
    check_golden("nginx_stub_status", &out);
}

#[test]
fn golden_apache_mpms_tls_and_proxy() {
    for (page, golden) in [
        ("apache_status_auto_event.txt", "apache_event"),
        ("apache_status_auto_prefork.txt", "apache_prefork"),
        ("apache_status_auto_worker.txt", "apache_worker"),
        (
            "apache_status_auto_event_ssl_proxy.txt",
            "apache_event_ssl_proxy",
        ),
    ] {
        let (out, problems, error) = collect_fixture("apache", page);
        assert!(
            error.is_none() && problems.is_empty(),
            "{page}: {error:?} {problems:?}"
        );
        check_golden(golden, &out);
    }
}

#[test]
fn golden_apache_extended_status_off_says_so() {
    let (out, problems, error) = collect_fixture("apache", "apache_status_auto_extended_off.txt");
    assert!(error.is_none(), "{error:?}");
    check_golden("apache_extended_off", &out);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].reason, Reason::Mapping);
    assert!(
        problems[0].message.contains("ExtendedStatus is off")
            && problems[0].message.contains("set `ExtendedStatus On`"),
        "{}",
        problems[0].message
    );
}

/// Apache 2.2's `?auto` page has no host name, version, MPM, generation, load or CPU time
/// lines: apache_exporter labels `apache_info` `UNKNOWN` and leaves `apache_version` out.
#[test]
fn golden_apache_2_2_page_has_unknown_info() {
    let (out, problems, error) = collect_fixture("apache", "apache_status_auto_2_2.txt");
    assert!(
        error.is_none() && problems.is_empty(),
        "{error:?} {problems:?}"
    );
    check_golden("apache_2_2", &out);
    assert!(
        out.contains("\napache_info{mpm=\"UNKNOWN\",version=\"UNKNOWN\"} 1\n"),
        "{out}"
    );
    assert!(!out.contains("apache_version"), "{out}");
}

#[test]
fn apache_html_page_asks_for_auto() {
    let (out, _, error) = collect_fixture("apache", "apache_status_html.html");
    let error = error.expect("the HTML page is refused");
    assert_eq!(error.reason, Reason::Parse);
    assert!(
        error
            .message
            .contains("not mod_status' machine-readable output")
            && error.message.contains("add `?auto` to the URL"),
        "{}",
        error.message
    );
    assert!(out.contains("apache_up 0"), "{out}");
}

// --- real servers ----------------------------------------------------------------------------

fn nginx_config(url: &str) -> String {
    format!("collectors:\n  - name: web\n    preset: nginx\n    url: {url}\n")
}

fn apache_config(url: &str) -> String {
    format!("collectors:\n  - name: httpd\n    preset: apache\n    url: '{url}'\n")
}

fn value(exposition: &str, series: &str) -> f64 {
    sample_value(exposition, series).unwrap_or_else(|| panic!("no `{series}` in:\n{exposition}"))
}

#[test]
fn nginx_real_server() {
    let nginx = Nginx::start();
    let exporter = Exporter::start(&nginx_config(&nginx.url("/stub_status")));
    let before = value(&exporter.metrics(), "nginx_http_requests_total");
    for _ in 0..10 {
        assert_eq!(http_get(&nginx.url("/hello.txt"), &[]).0, 200);
    }
    let m = exporter.metrics();
    assert_eq!(value(&m, "nginx_up"), 1.0);
    // Ten requests, plus this scrape's own request to stub_status.
    assert_eq!(value(&m, "nginx_http_requests_total") - before, 11.0, "{m}");
    assert!(value(&m, "nginx_connections_accepted") >= 11.0);
    assert!(value(&m, "nginx_connections_handled") >= 11.0);
    assert!(value(&m, "nginx_connections_active") >= 1.0);
    assert!(m.contains("# TYPE nginx_http_requests_total counter"));
    assert!(m.contains("# TYPE nginx_connections_writing gauge"));
    assert_eq!(
        value(
            &m,
            r#"sidecar_exporter_collector_up{collector="web",kind="http_text"}"#
        ),
        1.0
    );
}

fn check_apache_real(options: ApacheOptions) {
    let apache = Apache::start(options);
    let exporter = Exporter::start(&apache_config(&apache.url("/server-status?auto")));
    for _ in 0..10 {
        assert_eq!(http_get(&apache.url("/hello.txt"), &[]).0, 200);
    }
    if options.proxy {
        for _ in 0..6 {
            http_get(&apache.url("/app/hello.txt"), &[]);
        }
    }
    // Right after the requests above, a worker may still be closing its connection or a new
    // prefork child starting: scrape until Apache reports an idle worker (it keeps spares).
    let start = Instant::now();
    let m = loop {
        let m = exporter.metrics();
        if sample_value(&m, r#"apache_workers{state="idle"}"#).is_some_and(|idle| idle >= 1.0) {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Apache reported no idle worker within 10 s:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mpm = options.mpm;
    assert_eq!(value(&m, "apache_up"), 1.0, "{m}");
    assert!(value(&m, "apache_accesses_total") >= 11.0, "{m}");
    assert!(value(&m, "apache_sent_kilobytes_total") >= 0.0);
    assert!(value(&m, "apache_uptime_seconds_total") >= 0.0);
    assert!(value(&m, "apache_duration_ms_total") >= 0.0);
    assert_eq!(value(&m, "apache_version"), 2.04071);
    assert!(
        m.contains(&format!(r#"apache_info{{mpm="{mpm}",version="Apache/2.4."#)),
        "{m}"
    );
    assert!(value(&m, r#"apache_workers{state="busy"}"#) >= 1.0);
    assert!(value(&m, r#"apache_workers{state="idle"}"#) >= 1.0);
    // This scrape's own request is being answered.
    assert!(value(&m, r#"apache_scoreboard{state="reply"}"#) >= 1.0);
    let states = m
        .lines()
        .filter(|l| l.starts_with("apache_scoreboard{"))
        .count();
    assert_eq!(states, 11, "{m}");
    assert_eq!(value(&m, r#"apache_generation{type="config"}"#), 1.0);
    assert!(m.contains(r#"apache_load{interval="1min"}"#));
    assert!(m.contains(r#"apache_cpu_time_ms_total{type="user"}"#));
    assert!(m.contains("apache_cpuload "));
    // Only the event MPM prints Processes, Stopping and the Conns* lines.
    if mpm != "event" {
        assert!(!m.contains("apache_processes{"), "{m}");
        assert!(!m.contains("apache_connections{"), "{m}");
    } else {
        assert!(value(&m, r#"apache_processes{state="all"}"#) >= 1.0);
        assert!(m.contains(r#"apache_connections{state="total"}"#));
    }
    if options.proxy {
        let member = format!(
            r#"{{balancer="balancer://backend",worker="http://127.0.0.1:{}"}}"#,
            apache.backend_port
        );
        assert!(value(&m, &format!("apache_proxy_balancer_accesses_total{member}")) >= 1.0);
        assert!(m.contains("apache_proxy_balancer_status{"), "{m}");
        assert!(
            m.contains("apache_proxy_balancer_response_kbytes_total{"),
            "{m}"
        );
    }
    assert_eq!(
        value(
            &m,
            r#"sidecar_exporter_collector_errors_total{collector="httpd",kind="http_text",reason="mapping"}"#
        ),
        0.0,
        "{m}"
    );
}

#[test]
fn apache_real_event_with_tls_and_proxy() {
    check_apache_real(ApacheOptions {
        ssl: true,
        proxy: true,
        ..ApacheOptions::mpm("event")
    });
}

#[test]
fn apache_real_prefork() {
    check_apache_real(ApacheOptions::mpm("prefork"));
}

#[test]
fn apache_real_worker() {
    check_apache_real(ApacheOptions::mpm("worker"));
}

// --- side by side with the peers -------------------------------------------------------------

/// A parsed exposition: family → (HELP, TYPE), and series (`name{labels}`) → value.
#[derive(Debug, Default)]
struct Parsed {
    families: BTreeMap<String, (String, String)>,
    series: BTreeMap<String, f64>,
}

/// Families of the exporters themselves, not of the app.
fn ignored(name: &str) -> bool {
    [
        "go_",
        "process_",
        "promhttp_",
        "sidecar_exporter_",
        "nginxexporter_",
        "apache_exporter_",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn parse(exposition: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if !ignored(name) {
                parsed.families.entry(name.into()).or_default().0 = help.into();
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            if !ignored(name) {
                parsed.families.entry(name.into()).or_default().1 = kind.into();
            }
        } else if !line.is_empty() && !line.starts_with('#') {
            let (series, value) = line.rsplit_once(' ').unwrap();
            if !ignored(series) {
                parsed.series.insert(series.into(), value.parse().unwrap());
            }
        }
    }
    parsed
}

/// Ours must have the peer's families (HELP and TYPE), series, and values between the peer's
/// reads before and after ours, give or take `slack(series)` for gauges that the scrapers' own
/// connections move.
fn compare(peer_before: &str, ours: &str, peer_after: &str, slack: impl Fn(&str) -> f64) {
    let (before, ours, after) = (parse(peer_before), parse(ours), parse(peer_after));
    assert_eq!(
        ours.families, before.families,
        "families, HELP or TYPE differ"
    );
    let keys = |p: &Parsed| p.series.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        keys(&ours),
        keys(&before),
        "series (names and labels) differ"
    );
    for (series, value) in &ours.series {
        let (a, b) = (before.series[series], after.series[series]);
        let s = slack(series);
        assert!(
            *value >= a.min(b) - s && *value <= a.max(b) + s,
            "{series}: ours {value}, peer {a} then {b}"
        );
    }
}

fn start_peer(command: &mut Command, port: u16) -> ChildGuard {
    let child = ChildGuard::spawn(command);
    wait_for_port(port, Duration::from_secs(10));
    child
}

fn get_metrics(port: u16) -> String {
    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/metrics"), &[]);
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn side_by_side_nginx_prometheus_exporter() {
    let peer_bin = require_tool("prometheus-nginx-exporter", "prometheus-nginx-exporter");
    let nginx = Nginx::start();
    for _ in 0..5 {
        http_get(&nginx.url("/hello.txt"), &[]);
    }
    let port = free_port();
    let _peer = start_peer(
        Command::new(peer_bin)
            .arg(format!("--nginx.scrape-uri={}", nginx.url("/stub_status")))
            .arg(format!("--web.listen-address=127.0.0.1:{port}")),
        port,
    );
    let exporter = Exporter::start(&nginx_config(&nginx.url("/stub_status")));
    let peer_before = get_metrics(port);
    let ours = exporter.metrics();
    let peer_after = get_metrics(port);
    // Each exporter keeps an idle keep-alive connection to nginx.
    compare(&peer_before, &ours, &peer_after, |s| {
        if s.starts_with("nginx_connections_") {
            2.0
        } else {
            0.0
        }
    });
}

/// apache_exporter and the `apache` preset on the same status page: the peer's exposition
/// before ours, ours, and the peer's after (values that move must lie between).
fn apache_exporter_and_ours(peer_bin: &Path, url: &str) -> (String, String, String) {
    let port = free_port();
    let _peer = start_peer(
        Command::new(peer_bin)
            .arg(format!("--scrape_uri={url}"))
            .arg(format!("--telemetry.address=127.0.0.1:{port}")),
        port,
    );
    let exporter = Exporter::start(&apache_config(url));
    let peer_before = get_metrics(port);
    let ours = exporter.metrics();
    let peer_after = get_metrics(port);
    (peer_before, ours, peer_after)
}

fn side_by_side_apache(options: ApacheOptions) {
    let peer_bin = require_tool("prometheus-apache-exporter", "prometheus-apache-exporter");
    let apache = Apache::start(ApacheOptions {
        keep_alive: false,
        ..options
    });
    for _ in 0..5 {
        http_get(&apache.url("/hello.txt"), &[]);
        if options.proxy {
            http_get(&apache.url("/app/hello.txt"), &[]);
        }
    }
    let (peer_before, ours, peer_after) =
        apache_exporter_and_ours(&peer_bin, &apache.url("/server-status?auto"));
    compare(&peer_before, &ours, &peer_after, |s| {
        // A worker may still be finishing the previous scrape's request; CPULoad is rounded.
        let moving = ["apache_scoreboard{", "apache_workers{", "apache_cpuload"];
        if moving.iter().any(|p| s.starts_with(p)) {
            1.0
        } else {
            0.0
        }
    });
}

#[test]
fn side_by_side_apache_exporter_event_tls_proxy() {
    side_by_side_apache(ApacheOptions {
        ssl: true,
        proxy: true,
        ..ApacheOptions::mpm("event")
    });
}

#[test]
fn side_by_side_apache_exporter_prefork() {
    side_by_side_apache(ApacheOptions::mpm("prefork"));
}

/// Apache 2.2's page, which no Apache installed here writes, served as a static file.
#[test]
fn side_by_side_apache_exporter_apache_2_2_page() {
    let peer_bin = require_tool("prometheus-apache-exporter", "prometheus-apache-exporter");
    let page = std::fs::read(fixture("apache_status_auto_2_2.txt")).unwrap();
    let server = StaticStatusPage::serve(page);
    let (peer_before, ours, peer_after) =
        apache_exporter_and_ours(&peer_bin, &server.url("/server-status?auto"));
    // The page does not change: every value must be the peer's.
    compare(&peer_before, &ours, &peer_after, |_| 0.0);
    let info = r#"apache_info{mpm="UNKNOWN",version="UNKNOWN"}"#;
    assert_eq!(value(&peer_before, info), 1.0, "{peer_before}");
    assert_eq!(value(&ours, info), 1.0, "{ours}");
    assert_eq!(
        value(
            &ours,
            r#"sidecar_exporter_collector_errors_total{collector="httpd",kind="http_text",reason="mapping"}"#
        ),
        0.0,
        "{ours}"
    );
}

#[test]
fn side_by_side_apache_exporter_worker_extended_status_off() {
    side_by_side_apache(ApacheOptions {
        extended_status: false,
        ..ApacheOptions::mpm("worker")
    });
}

// --- failures --------------------------------------------------------------------------------

fn errors(m: &str, collector: &str, reason: &str) -> f64 {
    value(
        m,
        &format!(
            r#"sidecar_exporter_collector_errors_total{{collector="{collector}",kind="http_text",reason="{reason}"}}"#
        ),
    )
}

#[test]
fn nginx_down_is_up_0_with_reason_connect() {
    let closed = free_port();
    let exporter = Exporter::start(&nginx_config(&format!(
        "http://127.0.0.1:{closed}/stub_status"
    )));
    let m = exporter.metrics();
    assert_eq!(value(&m, "nginx_up"), 0.0, "{m}");
    assert!(m.contains("# HELP nginx_up Status of the last metric scrape"));
    assert!(!m.contains("nginx_http_requests_total"));
    assert_eq!(errors(&m, "web", "connect"), 1.0, "{m}");
}

#[test]
fn nginx_404_is_reason_http_status() {
    let nginx = Nginx::start();
    let exporter = Exporter::start(&nginx_config(&nginx.url("/no_such_status")));
    let m = exporter.metrics();
    assert_eq!(value(&m, "nginx_up"), 0.0, "{m}");
    assert_eq!(errors(&m, "web", "http_status"), 1.0, "{m}");
    assert_eq!(errors(&m, "web", "connect"), 0.0, "{m}");
}

#[test]
fn apache_without_auto_and_without_extended_status_say_so() {
    let apache = Apache::start(ApacheOptions {
        extended_status: false,
        ..ApacheOptions::mpm("event")
    });
    let config = format!(
        "collectors:\n  - name: html\n    preset: apache\n    url: '{}'\n  - name: plain\n    preset: apache\n    url: '{}'\n    labels: {{instance: plain}}\n",
        apache.url("/server-status"),
        apache.url("/server-status?auto"),
    );
    let exporter = Exporter::start(&config);
    let m = exporter.metrics();
    // The HTML page is refused; the ?auto page without ExtendedStatus gives what it has.
    assert_eq!(errors(&m, "html", "parse"), 1.0, "{m}");
    assert_eq!(errors(&m, "plain", "mapping"), 1.0, "{m}");
    assert_eq!(value(&m, r#"apache_up{instance="plain"}"#), 1.0, "{m}");
    // (The engine writes constant labels after the preset's.)
    assert!(
        m.contains(r#"apache_workers{state="idle",instance="plain"}"#),
        "{m}"
    );
    assert!(!m.contains("apache_accesses_total"), "{m}");
    let (_, page) = exporter.get("/");
    assert!(page.contains("add `?auto` to the URL"), "{page}");
    assert!(page.contains("ExtendedStatus is off"), "{page}");
}
