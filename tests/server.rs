//! End-to-end tests of the exporter binary: endpoints, negotiation, reload, shutdown.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{eventually, http_get, http_request, sample_value, Exporter};

const FILE_CONFIG: &str = r#"
global:
  labels: {site: test}
collectors:
  - name: stats
    kind: file
    path: stats.json
    format: json
    metrics:
      - name: app_requests_total
        help: Requests served.
        path: '{ .requests }'
        valuetype: counter
"#;

fn start_with_stats() -> Exporter {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), FILE_CONFIG).unwrap();
    std::fs::write(dir.path().join("stats.json"), r#"{"requests": 42}"#).unwrap();
    Exporter::start_in(dir, &["--config.file", "config.yaml"])
}

#[test]
fn serves_collected_and_self_metrics() {
    let exporter = start_with_stats();
    let body = exporter.metrics();
    assert_eq!(
        sample_value(&body, r#"app_requests_total{site="test"}"#),
        Some(42.0),
        "{body}"
    );
    assert_eq!(
        sample_value(
            &body,
            r#"sidecar_exporter_collector_up{collector="stats",kind="file"}"#
        ),
        Some(1.0)
    );
    assert!(body.contains("# TYPE app_requests_total counter"), "{body}");
    assert!(sample_value(&body, "process_resident_memory_bytes").unwrap() > 0.0);
    assert_eq!(
        sample_value(&body, "sidecar_exporter_config_last_reload_successful"),
        Some(1.0)
    );
    assert!(
        body.contains("sidecar_exporter_build_info{version=\""),
        "{body}"
    );
    assert!(!body.contains("rustc_version=\"unknown\""), "{body}");
}

#[test]
fn health_readiness_and_status_page() {
    let exporter = start_with_stats();
    assert_eq!(exporter.get("/-/healthy").0, 200);
    assert_eq!(exporter.get("/-/ready").0, 200);
    exporter.metrics();
    let (status, page) = exporter.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("data-collector=\"stats\""), "{page}");
    assert!(page.contains(">up<"), "{page}");
    assert!(page.contains("href=\"/metrics\""), "{page}");
}

#[test]
fn negotiates_openmetrics_and_filters_names() {
    let exporter = start_with_stats();
    let url = exporter.url("/metrics?name[]=app_requests_total");
    let (status, body) = http_get(
        &url,
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;q=0.5",
        )],
    );
    assert_eq!(status, 200);
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("# TYPE app_requests counter"), "{body}");
    assert!(
        !body.contains("sidecar_exporter_collector_up"),
        "name[] filter ignored: {body}"
    );
    let (_, text) = http_get(
        &exporter.url("/metrics"),
        &[("Accept", "text/plain;version=0.0.4")],
    );
    assert!(!text.contains("# EOF"));
}

#[test]
fn failing_collector_does_not_fail_the_scrape() {
    let config = format!("{FILE_CONFIG}\n  - name: missing\n    kind: file\n    up_metric: missing_up\n    path: nowhere.json\n    format: json\n");
    let exporter = Exporter::start(&config);
    std::fs::write(exporter.dir.path().join("stats.json"), r#"{"requests": 7}"#).unwrap();
    let body = exporter.metrics();
    assert_eq!(
        sample_value(&body, r#"app_requests_total{site="test"}"#),
        Some(7.0),
        "{body}"
    );
    assert_eq!(
        sample_value(
            &body,
            r#"sidecar_exporter_collector_up{collector="missing",kind="file"}"#
        ),
        Some(0.0)
    );
    assert_eq!(
        sample_value(
            &body,
            r#"sidecar_exporter_collector_errors_total{collector="missing",kind="file",reason="connect"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&body, r#"missing_up{site="test"}"#),
        Some(0.0),
        "{body}"
    );
    let (_, page) = exporter.get("/");
    assert!(page.contains("cannot read nowhere.json"), "{page}");
}

#[test]
fn broken_reload_keeps_old_config_and_reports_it() {
    let exporter = start_with_stats();
    let config_path = exporter.dir.path().join("config.yaml");
    std::fs::write(
        &config_path,
        "collectors:\n  - name: x\n    kind: file\n    pathh: y\n",
    )
    .unwrap();
    let (status, reason) = http_request("POST", &exporter.url("/-/reload"), &[]);
    assert_eq!(status, 500);
    assert!(
        reason.contains("config.yaml:4:5: collectors[0] (file): unknown key `pathh`"),
        "{reason}"
    );
    let body = exporter.metrics();
    assert_eq!(
        sample_value(&body, "sidecar_exporter_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(
        sample_value(&body, r#"app_requests_total{site="test"}"#),
        Some(42.0),
        "old config must keep serving"
    );
    let (_, page) = exporter.get("/");
    assert!(page.contains("reload-error"), "{page}");

    // A good file is picked up by POST /-/reload.
    std::fs::write(
        &config_path,
        FILE_CONFIG.replace("site: test", "site: fixed"),
    )
    .unwrap();
    assert_eq!(http_request("POST", &exporter.url("/-/reload"), &[]).0, 200);
    let body = exporter.metrics();
    assert_eq!(
        sample_value(&body, "sidecar_exporter_config_last_reload_successful"),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&body, r#"app_requests_total{site="fixed"}"#),
        Some(42.0),
        "{body}"
    );
}

#[test]
fn reloads_on_sighup_and_on_file_change_through_a_symlink_swap() {
    let dir = tempfile::tempdir().unwrap();
    // The Kubernetes ConfigMap layout: config.yaml -> ..data/config.yaml, ..data -> ..v1.
    std::fs::create_dir(dir.path().join("..v1")).unwrap();
    std::fs::write(dir.path().join("..v1/config.yaml"), FILE_CONFIG).unwrap();
    std::os::unix::fs::symlink("..v1", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/config.yaml", dir.path().join("config.yaml")).unwrap();
    std::fs::write(dir.path().join("stats.json"), r#"{"requests": 1}"#).unwrap();
    let exporter = Exporter::start_in(dir, &["--config.file", "config.yaml"]);
    let root = exporter.dir.path().to_path_buf();

    std::fs::create_dir(root.join("..v2")).unwrap();
    std::fs::write(
        root.join("..v2/config.yaml"),
        FILE_CONFIG.replace("site: test", "site: swapped"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..v2", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    eventually(Duration::from_secs(15), "config change picked up", || {
        exporter
            .metrics()
            .contains(r#"app_requests_total{site="swapped"}"#)
    });

    std::fs::write(
        root.join("..v2/config.yaml"),
        FILE_CONFIG.replace("site: test", "site: hup"),
    )
    .unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &exporter.child.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(Duration::from_secs(3), "SIGHUP reload", || {
        exporter
            .metrics()
            .contains(r#"app_requests_total{site="hup"}"#)
    });
}

#[test]
fn sigterm_stops_promptly_with_success() {
    let mut exporter = start_with_stats();
    let status = exporter.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn listens_on_ipv4_and_ipv6_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let v6_port = common::free_port();
    let exporter = Exporter::start_in(dir, &[&format!("--web.listen-address=[::1]:{v6_port}")]);
    assert_eq!(exporter.get("/-/healthy").0, 200);
    let (status, _) = http_get(&format!("http://[::1]:{v6_port}/-/healthy"), &[]);
    assert_eq!(status, 200);
}

/// The tests know their exporter by the process that listens, not by whoever answers on a
/// port: a port taken from `free_port` may be bound by someone else first, and then the
/// exporter exits with "address in use" while the stranger answers in its place.
#[test]
fn the_harness_is_not_fooled_by_a_stranger_on_the_port() {
    let stranger = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = stranger.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), FILE_CONFIG).unwrap();
    let mut child = common::ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
            .current_dir(dir.path())
            .args(["--config.file", "config.yaml"])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stderr(std::process::Stdio::null()),
    );
    // A connection to the port succeeds: the stranger answers.
    common::wait_for_port(port, Duration::from_secs(10));
    let outcome = common::wait_for_own_listener(&mut child, Duration::from_secs(10));
    assert!(
        outcome.as_ref().is_err_and(|e| e.contains("exited")),
        "{outcome:?}"
    );

    let exporter = start_with_stats();
    let exporter_ports = common::listening_ports(exporter.child.pid());
    assert_eq!(exporter_ports, vec![exporter.port]);
    assert!(common::listening_ports(std::process::id()).contains(&port));
    assert_eq!(exporter.get("/-/healthy").0, 200);
}

fn run(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn check_once_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yaml"), FILE_CONFIG).unwrap();
    std::fs::write(dir.path().join("stats.json"), r#"{"requests": 3}"#).unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "global:\n  scrape_timeout: soon\n",
    )
    .unwrap();

    let (code, out, _) = run(&["check", "--config.file", "good.yaml"], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains("stats (file): file stats.json"), "{out}");

    let (code, _, err) = run(&["check", "--config.file", "bad.yaml"], dir.path());
    assert_eq!(code, 1);
    assert!(err.starts_with("bad.yaml:2:3: "), "{err}");
    assert!(err.contains("invalid duration \"soon\""), "{err}");

    let (code, out, _) = run(&["once", "--config.file", "good.yaml"], dir.path());
    assert_eq!(code, 0);
    assert_eq!(
        sample_value(&out, r#"app_requests_total{site="test"}"#),
        Some(3.0),
        "{out}"
    );

    std::fs::remove_file(dir.path().join("stats.json")).unwrap();
    let (code, _, err) = run(&["once", "--config.file", "good.yaml"], dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("stats: connect: cannot read stats.json"),
        "{err}"
    );

    let (code, out, _) = run(&["presets"], dir.path());
    assert_eq!(code, 0);
    for preset in [
        "nginx",
        "apache",
        "redis",
        "haproxy",
        "php_fpm",
        "memcached",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(preset)),
            "{preset} missing: {out}"
        );
    }
    let (code, out, _) = run(&["presets", "nginx"], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains("up_metric: nginx_up"), "{out}");
    let (code, _, err) = run(&["presets", "nginxx"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("unknown preset `nginxx`"), "{err}");

    let (code, _, _) = run(&["--no-such-flag"], dir.path());
    assert_eq!(code, 2);
    let (code, out, _) = run(&["--version"], dir.path());
    assert_eq!(code, 0);
    assert!(out.starts_with("sidecar-exporter "), "{out}");
}

#[test]
fn environment_variables_stand_in_for_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "nonsense: 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(dir.path())
        .arg("check")
        .env("SIDECAR_EXPORTER_CONFIG_FILE", "bad.yaml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr)
        .starts_with("bad.yaml:1:1: unknown field `nonsense`"));
}

/// A collector that stays down logs one line, not one per scrape; coming back logs one more.
#[test]
fn a_collector_going_down_and_coming_back_logs_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), FILE_CONFIG).unwrap();
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = common::ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
            .current_dir(dir.path())
            .args(["--config.file", "config.yaml", "--log.level=info"])
            .arg("--web.listen-address=127.0.0.1:0")
            .stderr(log),
    );
    let port = common::wait_for_own_listener(&mut child, Duration::from_secs(10)).unwrap();
    let scrape = || {
        let (status, _) = http_get(&format!("http://127.0.0.1:{port}/metrics"), &[]);
        assert_eq!(status, 200);
    };
    // stats.json does not exist yet: down, for three scrapes.
    for _ in 0..3 {
        scrape();
    }
    std::fs::write(dir.path().join("stats.json"), r#"{"requests": 1}"#).unwrap();
    for _ in 0..3 {
        scrape();
    }
    let text = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let down: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("collector down"))
        .collect();
    assert_eq!(down.len(), 1, "{text}");
    assert!(down[0].contains("reason=connect"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("collector up again"))
            .count(),
        1,
        "{text}"
    );
}
