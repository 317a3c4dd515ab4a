//! The encoders' output checked by Prometheus' own tools.
//!
//! - Text 0.0.4: `promtool check metrics` (parser + lint) must exit 0.
//! - OpenMetrics: promtool 2.x only knows the text format (it stops at `info`, for one), so the
//!   OpenMetrics output is checked by a strict rule set written here, and both formats are
//!   scraped by a real Prometheus server, which must report the targets healthy and store the
//!   series under the expected names with the label values intact.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{free_port, require_tool, wait_for_port, ChildGuard};
use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::model::{labels, MetricFamily, MetricType, Sample};

const TRICKY_PATH: &str = "C:\\dir\\\"quoted\"\nnext line";

fn sample(suffix: &'static str, labels: Vec<(String, String)>, value: f64) -> Sample {
    Sample {
        suffix,
        labels,
        value,
        timestamp_ms: None,
    }
}

fn with_le(mut labels: Vec<(String, String)>, le: &str) -> Vec<(String, String)> {
    labels.push(("le".into(), le.into()));
    labels
}

/// Every type, escaping, special values, timestamps, units; lint-clean for promtool.
fn rich_families() -> Vec<MetricFamily> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    let mut requests = MetricFamily::new(
        "fixture_requests_total",
        "Requests served, by \"method\" and code.\nSecond help line with a \\ backslash.",
        MetricType::Counter,
    );
    for (method, code, value) in [("GET", "200", 1027.0), ("POST", "500", 3.0)] {
        let labels = labels([("method", method), ("code", code)]);
        requests.samples.push(sample("", labels.clone(), value));
        requests
            .samples
            .push(sample("_created", labels, 1_700_000_000.25));
    }

    let mut temperature = MetricFamily::new(
        "fixture_temperature_celsius",
        "Temperatures, including the awkward ones.",
        MetricType::Gauge,
    );
    temperature.unit = "celsius".into();
    temperature.push(labels([("room", "nan")]), f64::NAN);
    temperature.push(labels([("room", "sun")]), f64::INFINITY);
    temperature.push(labels([("room", "space")]), f64::NEG_INFINITY);
    temperature.push(labels([("room", "tiny")]), 1.5e-7);
    temperature.push(labels([("room", "big")]), 6.02e23);
    let mut stamped = Sample::new(labels([("room", "stamped")]), 21.5);
    stamped.timestamp_ms = Some(now_ms - 1_234);
    temperature.samples.push(stamped);

    let tricky = MetricFamily::new(
        "fixture_tricky_labels",
        "Label values that need escaping.",
        MetricType::Gauge,
    )
    .with_sample(labels([("path", TRICKY_PATH), ("empty", "")]), 1.0);

    let histogram = |name: &str, metric_type| {
        let mut family = MetricFamily::new(name, "Latency.", metric_type);
        family.unit = "seconds".into();
        let base = labels([("handler", "/api")]);
        for (le, count) in [("0.1", 3.0), ("1", 8.0), ("+Inf", 9.0)] {
            family
                .samples
                .push(sample("_bucket", with_le(base.clone(), le), count));
        }
        family.samples.push(sample("_sum", base.clone(), 4.75));
        family.samples.push(sample("_count", base.clone(), 9.0));
        if metric_type == MetricType::Histogram {
            family
                .samples
                .push(sample("_created", base, 1_700_000_000.0));
        }
        family
    };

    let summary = MetricFamily {
        samples: vec![
            sample("", labels([("quantile", "0.5")]), 0.012),
            sample("", labels([("quantile", "0.99")]), 0.4),
            sample("_sum", Vec::new(), 17.5),
            sample("_count", Vec::new(), 1200.0),
        ],
        ..MetricFamily::new(
            "fixture_rpc_duration_seconds",
            "RPC latency.",
            MetricType::Summary,
        )
    };

    vec![
        requests,
        temperature,
        tricky,
        histogram("fixture_request_duration_seconds", MetricType::Histogram),
        histogram("fixture_queue_wait_seconds", MetricType::Gaugehistogram),
        summary,
        MetricFamily::new("fixture_build_info", "Build.", MetricType::Info)
            .with_sample(labels([("version", "1.2.3"), ("revision", "abc")]), 1.0),
        MetricFamily::new("fixture_legacy_value", "No type.", MetricType::Untyped)
            .with_sample(Vec::new(), 12.5),
        MetricFamily::new("fixture_app_state", "State.", MetricType::Stateset)
            .with_sample(labels([("fixture_app_state", "ok")]), 1.0)
            .with_sample(labels([("fixture_app_state", "failed")]), 0.0),
        MetricFamily::new("fixture_never_total", "No samples.", MetricType::Counter),
    ]
}

fn encoded(format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&rich_families(), format, &mut out);
    out
}

/// Runs `promtool check metrics` with `input` on stdin (it reads nothing else).
fn promtool_check(input: &[u8]) -> Output {
    let promtool = require_tool("promtool", "prometheus");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), input).unwrap();
    Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file.path()).unwrap())
        .output()
        .unwrap()
}

#[test]
fn promtool_accepts_text_format() {
    let text = encoded(Format::Text);
    let output = promtool_check(&text);
    assert!(
        output.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- input ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&text)
    );
}

#[test]
fn promtool_rejects_what_it_should() {
    // The check above can fail: promtool does read stdin, parse and lint.
    let unparsable = promtool_check(b"fixture_x{a=\"b\" 1\n");
    assert!(!unparsable.status.success());
    let unlinted = promtool_check(b"# HELP fixture_x X.\n# TYPE fixture_x counter\nfixture_x 1\n");
    assert!(!unlinted.status.success());
    // And it does not understand OpenMetrics, hence the strict check below.
    let openmetrics = promtool_check(&encoded(Format::OpenMetrics));
    assert!(!openmetrics.status.success());
}

// ---------------------------------------------------------------------------------------------
// A strict OpenMetrics 1.0.0 checker: the ABNF of the spec plus its family/sample naming rules.

/// Checks `exposition` against OpenMetrics 1.0.0 and returns the sample names in order.
fn check_openmetrics(exposition: &str) -> Result<Vec<String>, String> {
    let body = exposition
        .strip_suffix("# EOF\n")
        .or_else(|| exposition.strip_suffix("# EOF"))
        .ok_or("does not end with `# EOF`")?;
    let mut seen_families = BTreeSet::new();
    let mut family: Option<(String, String)> = None; // (name, type)
    let mut sample_names = Vec::new();
    for (number, line) in body.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}: {line:?}", number + 1);
        if line.is_empty() {
            return Err(at("empty line".into()));
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let (keyword, rest) = rest
                .split_once(' ')
                .ok_or_else(|| at("bare comment".into()))?;
            let (name, argument) = rest.split_once(' ').unwrap_or((rest, ""));
            if !valid_metric_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            let is_current = family.as_ref().is_some_and(|(current, _)| current == name);
            if !is_current {
                if !seen_families.insert(name.to_string()) {
                    return Err(at("family appears twice".into()));
                }
                family = Some((name.to_string(), "unknown".into()));
            }
            match keyword {
                "HELP" => check_escapes(argument, true).map_err(at)?,
                "TYPE" => {
                    const TYPES: [&str; 8] = [
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ];
                    if !TYPES.contains(&argument) {
                        return Err(at("unknown type".into()));
                    }
                    if let Some((_, metric_type)) = family.as_mut() {
                        *metric_type = argument.to_string();
                    }
                }
                "UNIT" => {
                    if !name.ends_with(&format!("_{argument}")) {
                        return Err(at("unit is not a suffix of the name".into()));
                    }
                }
                _ => return Err(at("unknown keyword".into())),
            }
            continue;
        }
        let (name, labels, rest) = split_sample(line).map_err(at)?;
        let (family_name, metric_type) = family
            .as_ref()
            .ok_or_else(|| at("sample before any TYPE".into()))?;
        let suffix = name
            .strip_prefix(family_name.as_str())
            .ok_or_else(|| at(format!("sample outside family {family_name}")))?;
        let allowed: &[&str] = match metric_type.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "gaugehistogram" => &["_bucket", "_gsum", "_gcount"],
            "summary" => &["", "_sum", "_count", "_created"],
            "info" => &["_info"],
            _ => &[""],
        };
        if !allowed.contains(&suffix) {
            return Err(at(format!(
                "suffix {suffix:?} not allowed for {metric_type}"
            )));
        }
        if suffix == "_bucket" && !labels.iter().any(|(n, _)| n == "le") {
            return Err(at("bucket without le".into()));
        }
        if metric_type == "stateset" && !labels.iter().any(|(n, _)| n == family_name) {
            return Err(at("stateset sample without its state label".into()));
        }
        let mut parts = rest.split(' ');
        let value = parts.next().unwrap_or("");
        if !valid_number(value) {
            return Err(at(format!("bad value {value:?}")));
        }
        if let Some(timestamp) = parts.next() {
            if !valid_number(timestamp) || timestamp.contains("Inf") || timestamp == "NaN" {
                return Err(at(format!("bad timestamp {timestamp:?}")));
            }
        }
        if parts.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        sample_names.push(name.to_string());
    }
    Ok(sample_names)
}

fn valid_metric_name(name: &str) -> bool {
    sidecar_exporter::model::is_valid_metric_name(name)
}

fn valid_number(text: &str) -> bool {
    matches!(text, "NaN" | "+Inf" | "-Inf")
        || (text.parse::<f64>().is_ok_and(f64::is_finite)
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+')))
}

/// Only `\\`, `\n` and (when `quotes_escaped`) `\"` escapes; no raw `"` when quotes must be
/// escaped; no raw newline.
fn check_escapes(text: &str, quotes_escaped: bool) -> Result<(), String> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\' | 'n') => {}
                Some('"') if quotes_escaped => {}
                other => return Err(format!("bad escape \\{other:?}")),
            },
            '"' if quotes_escaped => return Err("unescaped quote".into()),
            '\n' => return Err("raw newline".into()),
            _ => {}
        }
    }
    Ok(())
}

type SampleParts<'a> = (&'a str, Vec<(String, String)>, &'a str);

/// Splits `name{a="b",…} rest` strictly; label values are unescaped.
fn split_sample(line: &str) -> Result<SampleParts<'_>, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "no value".to_string())?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("bad sample name {name:?}"));
    }
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = after_brace;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after_eq) = rest.split_once("=\"").ok_or("label without =\"")?;
            if !sidecar_exporter::model::is_valid_label_name(label) {
                return Err(format!("bad label name {label:?}"));
            }
            let mut value = String::new();
            let mut chars = after_eq.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape in label value: {other:?}")),
                    },
                    Some((i, '"')) => break i,
                    Some((_, '\n')) | None => return Err("unterminated label value".into()),
                    Some((_, c)) => value.push(c),
                }
            };
            if labels.iter().any(|(n, _)| n == label) {
                return Err(format!("label {label} twice"));
            }
            labels.push((label.to_string(), value));
            rest = &after_eq[end + 1..];
            if let Some(after_comma) = rest.strip_prefix(',') {
                rest = after_comma;
            } else if !rest.starts_with('}') {
                return Err("expected , or } after a label".into());
            }
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    Ok((name, labels, rest))
}

#[test]
fn openmetrics_passes_the_strict_check() {
    let exposition = String::from_utf8(encoded(Format::OpenMetrics)).unwrap();
    let names = check_openmetrics(&exposition).unwrap_or_else(|e| panic!("{e}\n{exposition}"));
    let names: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "fixture_requests_total",
        "fixture_requests_created",
        "fixture_temperature_celsius",
        "fixture_tricky_labels",
        "fixture_request_duration_seconds_bucket",
        "fixture_request_duration_seconds_sum",
        "fixture_request_duration_seconds_count",
        "fixture_request_duration_seconds_created",
        "fixture_queue_wait_seconds_bucket",
        "fixture_queue_wait_seconds_gsum",
        "fixture_queue_wait_seconds_gcount",
        "fixture_rpc_duration_seconds",
        "fixture_rpc_duration_seconds_sum",
        "fixture_rpc_duration_seconds_count",
        "fixture_build_info",
        "fixture_legacy_value",
        "fixture_app_state",
    ]
    .into();
    assert_eq!(names, expected);
}

#[test]
fn strict_check_rejects_what_it_should() {
    let bad = [
        "# TYPE a counter\na_total 1\n",                     // no EOF
        "# TYPE a counter\na 1\n# EOF\n",                    // counter sample w/o _total
        "# TYPE a_total counter\na_total 1\n# EOF\n",        // name keeps _total: a_total_total
        "# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n",    // unit not a suffix
        "# TYPE a gauge\na{b=\"c\\t\"} 1\n# EOF\n",          // bad escape
        "# TYPE a gauge\na{b=\"c\"} inf\n# EOF\n",           // bad value spelling
        "# HELP a say \"hi\"\n# TYPE a gauge\na 1\n# EOF\n", // raw quote in HELP
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n# EOF\n", // family twice
        "# TYPE a unknown\na_sum 1\n# EOF\n",                // suffix on unknown
    ];
    for input in bad {
        assert!(check_openmetrics(input).is_err(), "accepted {input:?}");
    }
    assert!(check_openmetrics("# TYPE a counter\na_total 1 1700000000.5\n# EOF\n").is_ok());
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus scrapes both formats.

/// Serves `text` on `/text` and `openmetrics` on `/openmetrics` from 127.0.0.1, forever (the
/// thread ends with the test process).
fn serve_expositions(port: u16, text: Vec<u8>, openmetrics: Vec<u8>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let (format, body) = if request.starts_with(b"GET /openmetrics ") {
                (Format::OpenMetrics, &openmetrics)
            } else {
                (Format::Text, &text)
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                format.content_type(),
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
}

/// GETs `path_and_query` from 127.0.0.1:`port`: the status code and the body.
fn get(port: u16, path_and_query: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    (status, body.to_string())
}

/// GETs `path_and_query` from 127.0.0.1:`port` and parses the JSON body of a 200 answer.
fn get_json(port: u16, path_and_query: &str) -> serde_json::Value {
    let (status, body) = get(port, path_and_query);
    assert_eq!(status, 200, "GET {path_and_query}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `__name__`s Prometheus stored for `job`.
fn stored_names(port: u16, job: &str) -> BTreeSet<String> {
    let query = url_encode(&format!("group by (__name__) ({{job=\"{job}\"}})"));
    let answer = get_json(port, &format!("/api/v1/query?query={query}"));
    answer["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("unexpected answer {answer}"))
        .iter()
        .filter_map(|series| series["metric"]["__name__"].as_str().map(String::from))
        .collect()
}

#[test]
fn prometheus_scrapes_both_formats() {
    let prometheus = require_tool("prometheus", "prometheus");
    let exposition_port = free_port();
    serve_expositions(
        exposition_port,
        encoded(Format::Text),
        encoded(Format::OpenMetrics),
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
             - job_name: text\n  metrics_path: /text\n  static_configs: [{{targets: ['127.0.0.1:{exposition_port}']}}]\n\
             - job_name: openmetrics\n  metrics_path: /openmetrics\n  static_configs: [{{targets: ['127.0.0.1:{exposition_port}']}}]\n"
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let _prometheus = ChildGuard::spawn(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(prometheus_port, Duration::from_secs(30));
    let start = Instant::now();
    while get(prometheus_port, "/-/ready").0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Prometheus not ready within 30s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Wait until both targets have been scraped at least once.
    let start = Instant::now();
    let targets = loop {
        let answer = get_json(prometheus_port, "/api/v1/targets");
        let targets = answer["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let scraped = targets.len() == 2
            && targets
                .iter()
                .all(|t| t["health"].as_str() != Some("unknown"));
        if scraped {
            break targets;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "targets not scraped within 30s: {answer}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for target in &targets {
        assert_eq!(
            (target["health"].as_str(), target["lastError"].as_str()),
            (Some("up"), Some("")),
            "{target}"
        );
    }

    let text_names = stored_names(prometheus_port, "text");
    let openmetrics_names = stored_names(prometheus_port, "openmetrics");
    let common = [
        "fixture_requests_total",
        "fixture_temperature_celsius",
        "fixture_tricky_labels",
        "fixture_request_duration_seconds_bucket",
        "fixture_request_duration_seconds_sum",
        "fixture_request_duration_seconds_count",
        "fixture_queue_wait_seconds_bucket",
        "fixture_rpc_duration_seconds",
        "fixture_rpc_duration_seconds_sum",
        "fixture_rpc_duration_seconds_count",
        "fixture_build_info",
        "fixture_legacy_value",
        "fixture_app_state",
    ];
    let with = |extra: &[&str]| -> BTreeSet<String> {
        common.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let scrape_series = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];
    let without_scrape_series = |names: BTreeSet<String>| -> BTreeSet<String> {
        names
            .into_iter()
            .filter(|n| !n.starts_with("scrape_") && !scrape_series.contains(&n.as_str()))
            .collect()
    };
    assert_eq!(
        without_scrape_series(text_names),
        with(&[
            "fixture_queue_wait_seconds_sum",
            "fixture_queue_wait_seconds_count"
        ])
    );
    assert_eq!(
        without_scrape_series(openmetrics_names),
        with(&[
            "fixture_queue_wait_seconds_gsum",
            "fixture_queue_wait_seconds_gcount",
            "fixture_requests_created",
            "fixture_request_duration_seconds_created",
        ])
    );

    // The escaped label value arrives unchanged through both formats.
    for job in ["text", "openmetrics"] {
        let query = url_encode(&format!("fixture_tricky_labels{{job=\"{job}\"}}"));
        let answer = get_json(prometheus_port, &format!("/api/v1/query?query={query}"));
        assert_eq!(
            answer["data"]["result"][0]["metric"]["path"].as_str(),
            Some(TRICKY_PATH),
            "{job}: {answer}"
        );
    }
}
