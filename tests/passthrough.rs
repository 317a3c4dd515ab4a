//! The `prometheus` kind against real Debian servers: prometheus, prometheus-node-exporter and
//! prometheus-pushgateway, started on 127.0.0.1 by the test and passed through the exporter.
//! The re-emitted page is checked with `promtool check metrics` and its series compared with
//! the upstream pages. Also: collisions with other collectors and with the exporter's own
//! `process_*` metrics, `max_series`, relabelling, garbage from the app, the `prometheus_tsdb`
//! preset and `json_exporter_module` against real servers.

mod common;
mod nginx_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    eventually, free_port, http_get, require_tool, sample_value, wait_for_port, ChildGuard,
    Exporter,
};
use sidecar_exporter::formats::prom_text::{parse_exposition, parse_exposition_as};
use sidecar_exporter::model::{Format, MetricFamily};

/// The three upstream servers.
struct Upstreams {
    _children: Vec<ChildGuard>,
    _dir: tempfile::TempDir,
    prometheus: u16,
    node: u16,
    pushgateway: u16,
}

/// What the test pushes to the pushgateway: a histogram, escaped label values, NaN and ±Inf.
const PUSHED: &str = r#"# HELP batch_duration_seconds How long the batch ran.
# TYPE batch_duration_seconds histogram
batch_duration_seconds_bucket{le="1"} 1
batch_duration_seconds_bucket{le="5"} 2
batch_duration_seconds_bucket{le="+Inf"} 2
batch_duration_seconds_sum 3.5
batch_duration_seconds_count 2
# HELP batch_note A "quoted" help\nwith a newline and a \\ backslash.
# TYPE batch_note untyped
batch_note{msg="say \"hi\"\nbye",path="C:\\dir\\file"} NaN
# TYPE batch_limits gauge
batch_limits{side="up"} +Inf
batch_limits{side="down"} -Inf
"#;

impl Upstreams {
    fn start() -> Upstreams {
        let prometheus_bin = require_tool("prometheus", "prometheus");
        let node_bin = require_tool("prometheus-node-exporter", "prometheus-node-exporter");
        let push_bin = require_tool("prometheus-pushgateway", "prometheus-pushgateway");
        let dir = tempfile::tempdir().unwrap();
        let (prometheus, node, pushgateway) = (free_port(), free_port(), free_port());
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: self\n    \
                 static_configs: [{{targets: ['127.0.0.1:{prometheus}']}}]\n"
            ),
        )
        .unwrap();
        let quiet = |c: &mut Command| {
            c.stdout(Stdio::null()).stderr(Stdio::null());
        };
        let mut children = Vec::new();
        let mut cmd = Command::new(prometheus_bin);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus}"));
        quiet(&mut cmd);
        children.push(ChildGuard::spawn(&mut cmd));
        let mut cmd = Command::new(node_bin);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{node}"))
            .args([
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.meminfo",
                "--collector.loadavg",
                "--collector.uname",
            ]);
        quiet(&mut cmd);
        children.push(ChildGuard::spawn(&mut cmd));
        let mut cmd = Command::new(push_bin);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{pushgateway}"))
            .arg(format!(
                "--persistence.file={}",
                dir.path().join("push.data").display()
            ));
        quiet(&mut cmd);
        children.push(ChildGuard::spawn(&mut cmd));
        for port in [prometheus, node, pushgateway] {
            wait_for_port(port, Duration::from_secs(20));
        }
        let status = post(pushgateway, "/metrics/job/batch/instance/i1", PUSHED);
        assert!(status == 200 || status == 202, "push answered {status}");
        Upstreams {
            _children: children,
            _dir: dir,
            prometheus,
            node,
            pushgateway,
        }
    }

    fn page(&self, port: u16) -> String {
        let (status, body) = http_get(&format!("http://127.0.0.1:{port}/metrics"), &[]);
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// POSTs `body` to 127.0.0.1:`port` and returns the status code.
fn post(port: u16, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `sample name{sorted labels}` → value, for every sample of an exposition (text 0.0.4 names;
/// `_created` samples are left out, as text 0.0.4 output leaves them out).
fn series(families: &[MetricFamily]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for family in families {
        for sample in &family.samples {
            if sample.suffix == "_created" {
                continue;
            }
            let mut labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            labels.sort();
            out.insert(
                format!("{}{}{{{}}}", family.name, sample.suffix, labels.join(",")),
                sample.value,
            );
        }
    }
    out
}

/// The series of `page` carrying `upstream="NAME"`, with that label removed.
fn series_of_upstream(page: &BTreeMap<String, f64>, name: &str) -> BTreeMap<String, f64> {
    let marker = format!("upstream={name:?}");
    page.iter()
        .filter(|(k, _)| k.contains(&marker))
        .map(|(k, v)| {
            let key = k
                .replace(&format!(",{marker}"), "")
                .replace(&format!("{marker},"), "")
                .replace(&marker, "");
            (key, *v)
        })
        .collect()
}

/// promtool accepts the page: exit 0, or 3 (lint findings only) with no finding the upstream
/// pages do not have themselves. Exit 1 is a syntax error.
fn assert_promtool_accepts(ours: &str, upstream_pages: &[&str]) {
    let (code, findings) = common::promtool_check_metrics(ours);
    assert!(code == 0 || code == 3, "promtool exit {code}: {findings:?}");
    let mut upstream_findings = BTreeSet::new();
    for page in upstream_pages {
        let (code, upstream) = common::promtool_check_metrics(page);
        assert!(code == 0 || code == 3, "upstream page: {upstream:?}");
        upstream_findings.extend(upstream);
    }
    let new: Vec<&String> = findings.difference(&upstream_findings).collect();
    assert!(
        new.is_empty(),
        "lint findings the upstream pages do not have: {new:?}"
    );
}

/// Upstream series read before and after ours: ours hold every series seen in both reads
/// and nothing seen in neither.
fn assert_same_series(
    name: &str,
    before: &BTreeMap<String, f64>,
    ours: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) {
    let missing: Vec<&String> = before
        .keys()
        .filter(|k| after.contains_key(*k) && !ours.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{name}: series not passed through: {missing:?}"
    );
    let extra: Vec<&String> = ours
        .keys()
        .filter(|k| !before.contains_key(*k) && !after.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty(),
        "{name}: series the app does not have: {extra:?}"
    );
    assert!(ours.len() > 10, "{name}: only {} series", ours.len());
}

fn counter(page: &str, collector: &str, reason: &str) -> f64 {
    sample_value(
        page,
        &format!(
            "sidecar_exporter_collector_errors_total{{collector=\"{collector}\",kind=\"prometheus\",reason=\"{reason}\"}}"
        ),
    )
    .unwrap_or(0.0)
}

#[test]
fn real_expositions_pass_through_unchanged() {
    let up = Upstreams::start();
    let exporter = Exporter::start(&format!(
        r#"
collectors:
  - name: node
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
    labels: {{upstream: node}}
  - name: prom
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
    labels: {{upstream: prometheus}}
  - name: push
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
    labels: {{upstream: pushgateway}}
  - name: tsdb
    preset: prometheus_tsdb
    url: http://127.0.0.1:{}/api/v1/status/tsdb
"#,
        up.node, up.prometheus, up.pushgateway, up.prometheus
    ));
    let ports = [
        ("node", up.node),
        ("prometheus", up.prometheus),
        ("pushgateway", up.pushgateway),
    ];
    let before: Vec<String> = ports.iter().map(|(_, port)| up.page(*port)).collect();
    let ours = exporter.metrics();
    let after: Vec<String> = ports.iter().map(|(_, port)| up.page(*port)).collect();

    for collector in ["node", "prom", "push", "tsdb"] {
        let kind = if collector == "tsdb" {
            "http_json"
        } else {
            "prometheus"
        };
        assert_eq!(
            sample_value(
                &ours,
                &format!(
                    "sidecar_exporter_collector_up{{collector=\"{collector}\",kind=\"{kind}\"}}"
                )
            ),
            Some(1.0),
            "{collector} is down:\n{ours}"
        );
    }
    let upstream_pages: Vec<&str> = before.iter().map(String::as_str).collect();
    assert_promtool_accepts(&ours, &upstream_pages);

    let ours_series = series(&parse_exposition(ours.as_bytes()).unwrap());
    for (i, (name, _)) in ports.iter().enumerate() {
        let b = series(&parse_exposition(before[i].as_bytes()).unwrap());
        let a = series(&parse_exposition(after[i].as_bytes()).unwrap());
        let mine = series_of_upstream(&ours_series, name);
        assert_same_series(name, &b, &mine, &a);
    }

    // Values that do not move are passed exactly: the pushed group, and build/memory facts.
    let pushed = series_of_upstream(&ours_series, "pushgateway");
    let expected = series(&parse_exposition(PUSHED.as_bytes()).unwrap());
    for (key, value) in &expected {
        let with_group = key.replacen('{', "{instance=\"i1\",job=\"batch\",", 1);
        let with_group = with_group.replace(",}", "}");
        // Labels are sorted: instance, job come before le / msg / side only by chance; look
        // the series up by its sorted form instead.
        let sorted = resort(&with_group);
        let got = pushed
            .get(&sorted)
            .unwrap_or_else(|| panic!("{sorted} missing from {pushed:#?}"));
        assert!(
            got == value || (got.is_nan() && value.is_nan()),
            "{sorted}: {got} != {value}"
        );
    }
    assert!(ours.contains(
        r#"batch_note{instance="i1",job="batch",msg="say \"hi\"\nbye",path="C:\\dir\\file",upstream="pushgateway"} NaN"#
    ), "{ours}");
    let node_before = series(&parse_exposition(before[0].as_bytes()).unwrap());
    let node_ours = series_of_upstream(&ours_series, "node");
    for key in ["node_memory_MemTotal_bytes{}", "node_exporter_build_info{"] {
        let (k, v) = node_before
            .iter()
            .find(|(k, _)| k.starts_with(key))
            .unwrap_or_else(|| panic!("{key} not on the node page"));
        assert_eq!(node_ours.get(k), Some(v), "{k}");
    }

    // OpenMetrics output of the same collection parses back with the same series.
    let (status, openmetrics) = http_get(
        &exporter.url("/metrics"),
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    );
    assert_eq!(status, 200);
    assert!(openmetrics.ends_with("# EOF\n"));
    let om_families =
        parse_exposition_as(openmetrics.as_bytes(), Some(Format::OpenMetrics)).unwrap();
    let om_series = series(&om_families);
    let pushed_om = series_of_upstream(&om_series, "pushgateway");
    assert_eq!(
        pushed_om.keys().collect::<Vec<_>>(),
        pushed.keys().collect::<Vec<_>>()
    );
    assert!(
        openmetrics.contains(r#"msg="say \"hi\"\nbye",path="C:\\dir\\file""#),
        "{}",
        openmetrics
            .lines()
            .filter(|l| l.contains("batch_note"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // OpenMetrics escapes quotes in HELP too.
    assert!(
        openmetrics.contains(
            "# HELP batch_note A \\\"quoted\\\" help\\nwith a newline and a \\\\ backslash.\n"
        ),
        "{}",
        openmetrics
            .lines()
            .filter(|l| l.contains("batch_note"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The tsdb preset, live.
    let head_series = sample_value(&ours, "prometheus_tsdb_status_head_series").unwrap();
    assert!(head_series >= 0.0);
    eventually(
        Duration::from_secs(20),
        "prometheus has head series",
        || {
            sample_value(&exporter.metrics(), "prometheus_tsdb_status_head_series")
                .is_some_and(|v| v > 0.0)
        },
    );
    let page = exporter.metrics();
    assert_eq!(sample_value(&page, "prometheus_tsdb_status_up"), Some(1.0));
    assert_eq!(
        sample_value(
            &page,
            r#"sidecar_exporter_collector_errors_total{collector="tsdb",kind="http_json",reason="mapping"}"#
        )
        .unwrap_or(0.0),
        0.0
    );
}

/// Puts the labels of `name{a="1",b="2"}` in sorted order, as [`series`] writes them.
fn resort(series: &str) -> String {
    let (name, rest) = series.split_once('{').unwrap();
    let body = rest.strip_suffix('}').unwrap();
    let mut labels: Vec<&str> = split_labels(body);
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// Splits `a="x",b="y,z"` at the commas between labels (not those inside quoted values).
fn split_labels(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

#[test]
fn collisions_relabelling_and_max_series() {
    let up = Upstreams::start();
    // node and prom both export go_* and process_* without distinguishing labels; the
    // exporter exports process_* itself.
    let exporter = Exporter::start(&format!(
        r#"
collectors:
  - name: node
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
  - name: prom
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
  - name: small
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
    max_series: 20
    labels: {{copy: small}}
  - name: relabelled
    kind: prometheus
    url: http://127.0.0.1:{}/metrics
    labels: {{copy: relabelled}}
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: '(go|process|promhttp)_.*', action: drop}}
      - {{source_labels: [mode], target_label: cpu_mode}}
      - {{regex: mode, action: labeldrop}}
      - source_labels: [__name__]
        regex: 'node_load(.*)'
        target_label: __name__
        replacement: 'host_load$1'
"#,
        up.node, up.prometheus, up.node, up.node
    ));
    exporter.metrics();
    let page = exporter.metrics();
    // Each family once, whatever collides.
    for family in [
        "go_goroutines",
        "process_cpu_seconds_total",
        "process_open_fds",
    ] {
        let type_lines = page
            .lines()
            .filter(|l| l.starts_with(&format!("# TYPE {family} ")))
            .count();
        assert_eq!(type_lines, 1, "{family}:\n{page}");
    }
    let (code, findings) = common::promtool_check_metrics(&page);
    assert_ne!(code, 1, "promtool: {findings:?}");
    // The app's unlabelled process_* collide with the exporter's own (which stay), and prom's
    // go_* with node's (node came first): reported, not merged.
    assert!(counter(&page, "node", "duplicate_series") > 0.0, "{page}");
    assert!(counter(&page, "prom", "duplicate_series") > 0.0, "{page}");
    let own_fds = sample_value(&page, "process_open_fds").unwrap();
    let exporter_fds = std::fs::read_dir(format!("/proc/{}/fd", exporter.child.pid()))
        .unwrap()
        .count() as f64;
    assert!(
        (own_fds - exporter_fds).abs() < 20.0,
        "{own_fds} vs {exporter_fds}"
    );

    // max_series 20: whole families up to 20 series, the rest counted as `limit`.
    let families = parse_exposition(page.as_bytes()).unwrap();
    let small: usize = families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.labels.iter().any(|(k, v)| k == "copy" && v == "small"))
        .count();
    assert!(small > 0 && small <= 20, "{small}");
    assert!(counter(&page, "small", "limit") > 0.0);
    assert_eq!(
        sample_value(
            &page,
            r#"sidecar_exporter_collector_up{collector="small",kind="prometheus"}"#
        ),
        Some(1.0)
    );

    // Relabelling: dropped families, a renamed label, a renamed family.
    let relabelled: Vec<&MetricFamily> = families
        .iter()
        .filter(|f| {
            f.samples.iter().any(|s| {
                s.labels
                    .iter()
                    .any(|(k, v)| k == "copy" && v == "relabelled")
            })
        })
        .collect();
    assert!(relabelled
        .iter()
        .all(|f| !f.name.starts_with("go_") && !f.name.starts_with("process_")));
    let cpu = relabelled
        .iter()
        .find(|f| f.name == "node_cpu_seconds_total")
        .unwrap();
    assert!(cpu
        .samples
        .iter()
        .filter(|s| s
            .labels
            .iter()
            .any(|(k, v)| k == "copy" && v == "relabelled"))
        .all(|s| s.labels.iter().any(|(k, _)| k == "cpu_mode")
            && !s.labels.iter().any(|(k, _)| k == "mode")));
    assert!(relabelled.iter().any(|f| f.name == "host_load1"));
    assert!(!relabelled.iter().any(|f| f.name == "node_load1"));
    assert_eq!(counter(&page, "relabelled", "mapping"), 0.0);
}

#[test]
fn garbage_and_errors_from_the_app() {
    // A fault-injecting server: an HTML page with a text/plain content type.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<html><body>Whitelabel Error Page</body></html>\n";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let closed = free_port();
    let exporter = Exporter::start(&format!(
        r#"
collectors:
  - name: garbage
    kind: prometheus
    url: http://127.0.0.1:{port}/metrics
  - name: closed
    kind: prometheus
    url: http://127.0.0.1:{closed}/metrics
"#
    ));
    let page = exporter.metrics();
    assert_eq!(
        sample_value(
            &page,
            r#"sidecar_exporter_collector_up{collector="garbage",kind="prometheus"}"#
        ),
        Some(0.0)
    );
    assert_eq!(counter(&page, "garbage", "parse"), 1.0);
    assert_eq!(counter(&page, "closed", "connect"), 1.0);
    let (_, status) = exporter.get("/");
    assert!(status.contains("must start with a metric name"), "{status}");
}

#[test]
fn bad_relabel_config_is_refused_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "collectors:\n  - name: app\n    kind: prometheus\n    url: http://127.0.0.1:1/metrics\n    \
         metric_relabel_configs:\n      - {regex: '(', action: drop, source_labels: [a]}\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .args(["check", "--config.file"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("config.yaml:5:5:") && stderr.contains("metric_relabel_configs[0]: regex"),
        "{stderr}"
    );
    // A key of another kind is refused too.
    std::fs::write(
        &config,
        "collectors:\n  - name: app\n    kind: http_json\n    url: http://127.0.0.1:1/\n    max_series: 5\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .args(["check", "--config.file"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("config.yaml:5:5: collectors[0] (http_json): unknown key `max_series`"),
        "{stderr}"
    );
}

#[test]
fn json_exporter_module_against_nginx_with_basic_auth() {
    let nginx = nginx_support::Nginx::start();
    let data = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/json_exporter/data.json"
    ))
    .unwrap();
    std::fs::write(nginx.dir().join("www/private/data.json"), data).unwrap();
    // json_exporter's example config, with basic auth for the protected location.
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/json_exporter/config.yml"
    ))
    .unwrap();
    let with_auth = example.replacen(
        "    headers:\n      X-Dummy: my-test-header\n",
        &format!(
            "    headers:\n      X-Dummy: my-test-header\n    http_client_config:\n      \
             basic_auth:\n        username: {}\n        password: {}\n",
            nginx_support::USER,
            nginx_support::PASSWORD
        ),
        1,
    );
    assert_ne!(with_auth, example);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("json_exporter.yml"), with_auth).unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "collectors:\n  - name: orders\n    kind: http_json\n    url: {}\n    \
             json_exporter_module: json_exporter.yml#default\n",
            nginx.url("/private/data.json")
        ),
    )
    .unwrap();
    let exporter = Exporter::start_in(dir, &["--config.file", "config.yaml"]);
    let page = exporter.metrics();
    let expected = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/json_exporter/default.prom"
    ))
    .unwrap();
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        assert!(page.contains(line), "{line} missing:\n{page}");
    }
    assert_eq!(
        sample_value(
            &page,
            r#"sidecar_exporter_collector_up{collector="orders",kind="http_json"}"#
        ),
        Some(1.0)
    );
}

#[test]
fn json_exporter_module_errors_name_file_and_module() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/json_exporter/config.yml"
        ),
        dir.path().join("je.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "collectors:\n  - name: orders\n    kind: http_json\n    url: http://127.0.0.1:1/\n    \
         json_exporter_module: je.yml#nope\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(dir.path())
        .args(["check", "--config.file", "config.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("je.yml: no module `nope` in `modules:` (modules: animals, default,"),
        "{stderr}"
    );
}
