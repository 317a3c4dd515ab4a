//! Golden tests of `once --collector NAME --explain`: the fixtures in `tests/fixtures/explain/`
//! have one rule for each way a rule can miss (a path part that finds nothing, a value that is
//! not a number, a label template that finds nothing, a duplicate series, objects that are not
//! there), a collector that fails, and a `prometheus` collector whose families are dropped by
//! relabelling and by `max_series` (its answer served by Python's http.server on 127.0.0.1).
//!
//! Timings are written as `0.000s` and the server's port as `PORT` before comparing. To
//! rewrite the golden files after an intended change: `UPDATE_GOLDEN=1 cargo test --test
//! explain_golden`, then review the diff.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{free_port, require_tool, wait_for_port, ChildGuard};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain")
}

/// Runs `once --explain` in `dir` and returns (exit code, stdout with timings and `port`
/// made constant).
fn explain(
    dir: &std::path::Path,
    config: &str,
    collector: &str,
    port: Option<u16>,
) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(dir)
        .args([
            "once",
            "--config.file",
            config,
            "--explain",
            "--collector",
            collector,
        ])
        .output()
        .expect("running sidecar-exporter once --explain");
    let text = String::from_utf8(output.stdout).expect("the explanation is UTF-8");
    let timings = regex::Regex::new(r"\d+\.\d{3}s").unwrap();
    let mut text = timings.replace_all(&text, "0.000s").into_owned();
    if let Some(port) = port {
        text = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT");
    }
    (output.status.code().unwrap_or(-1), text)
}

fn check_golden(name: &str, got: &str) {
    let golden = fixtures().join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, got).unwrap();
    }
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert_eq!(
        got,
        want,
        "{name}: output differs from {}",
        golden.display()
    );
}

#[test]
fn every_way_a_rule_misses_is_explained() {
    let (code, text) = explain(&fixtures(), "config.yaml", "app", None);
    assert_eq!(
        code, 0,
        "the collector stays up despite its misses:\n{text}"
    );
    check_golden("app", &text);
    // The answer is shown to the person running `once`, but never a secret or `redact:` value.
    assert!(text.contains("degraded-distinct"), "{text}");
    assert!(text.contains("4.2.1-distinct"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("ann@example.org"), "{text}");
}

#[test]
fn a_failing_collector_says_why() {
    let (code, text) = explain(&fixtures(), "config.yaml", "gone", None);
    assert_eq!(code, 1, "a failed collection exits 1:\n{text}");
    check_golden("gone", &text);
}

#[test]
fn an_unknown_collector_is_an_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(fixtures())
        .args([
            "once",
            "--config.file",
            "config.yaml",
            "--explain",
            "--collector",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no collector named `nope`"));
}

#[test]
fn relabelling_and_max_series_drops_are_explained() {
    let python = require_tool("python3", "python3");
    let port = free_port();
    let _server = ChildGuard::spawn(
        Command::new(python)
            .current_dir(fixtures())
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    wait_for_port(port, Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "collectors:\n  - name: passthrough\n    kind: prometheus\n    url: http://127.0.0.1:{port}/metrics.txt\n    max_series: 6\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: app_debug_info\n        action: drop\n"
    );
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let (code, text) = explain(dir.path(), "config.yaml", "passthrough", Some(port));
    assert_eq!(code, 0, "{text}");
    check_golden("passthrough", &text);
}
