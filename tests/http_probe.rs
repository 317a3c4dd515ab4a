//! The `http_probe` kind against a real nginx, side by side with Debian's
//! prometheus-blackbox-exporter probing the same targets.

mod common;
mod nginx_support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::{free_port, require_tool, wait_for_port, ChildGuard};
use nginx_support::{cert_not_after_by_openssl, Nginx};
use sidecar_exporter::client::http::HttpRequestConfig;
use sidecar_exporter::client::tls::TlsConfig;
use sidecar_exporter::collector::{Collector, Context};
use sidecar_exporter::kinds::http_probe::{HttpProbeCollector, ProbeConfig};
use sidecar_exporter::model::MetricFamily;
use tokio::time::Instant;

/// `name{labels}` → value.
type Series = BTreeMap<String, f64>;

fn series_of(families: &[MetricFamily]) -> Series {
    let mut out = Series::new();
    for family in families {
        for sample in &family.samples {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let key = if labels.is_empty() {
                family.name.clone()
            } else {
                format!("{}{{{}}}", family.name, labels.join(","))
            };
            out.insert(key, sample.value);
        }
    }
    out
}

/// Parses blackbox's text exposition (no escaping needed for its label values).
fn parse_exposition(text: &str) -> Series {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// A probe's two parts of config: the request, and the body checks.
#[derive(Clone, Default)]
struct ProbeSetup {
    request: HttpRequestConfig,
    checks: ProbeConfig,
}

async fn probe(cfg: ProbeSetup) -> Series {
    let collector = HttpProbeCollector::from_config(&cfg.request, &cfg.checks).unwrap();
    let context = Context::with_deadline(Instant::now() + Duration::from_secs(5));
    let collection = collector.collect(&context).await.unwrap();
    series_of(&collection.families)
}

fn cfg(url: &str) -> ProbeSetup {
    ProbeSetup {
        request: HttpRequestConfig {
            url: Some(url.to_string()),
            ..Default::default()
        },
        checks: ProbeConfig::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_of_a_real_nginx() {
    let nginx = Nginx::start();

    let ok = probe(cfg(&nginx.url("/hello.txt"))).await;
    assert_eq!(ok["probe_success"], 1.0);
    assert_eq!(ok["probe_http_status_code"], 200.0);
    assert_eq!(
        ok["probe_http_content_length"],
        nginx_support::HELLO.len() as f64
    );
    assert_eq!(ok["probe_http_ssl"], 0.0);
    assert_eq!(ok["probe_http_version"], 1.1);
    assert!(ok["probe_duration_seconds"] > 0.0);
    assert!(ok["probe_http_duration_seconds{phase=\"connect\"}"] > 0.0);
    assert!(ok["probe_http_duration_seconds{phase=\"processing\"}"] > 0.0);
    assert!(!ok.contains_key("probe_ssl_earliest_cert_expiry"));

    let missing = probe(cfg(&nginx.url("/missing"))).await;
    assert_eq!(missing["probe_success"], 0.0);
    assert_eq!(missing["probe_http_status_code"], 404.0);
    let mut accept_404 = cfg(&nginx.url("/missing"));
    accept_404.request.valid_status_codes = Some(vec![404]);
    assert_eq!(probe(accept_404).await["probe_success"], 1.0);

    let mut must_match = cfg(&nginx.url("/hello.txt"));
    must_match.checks.fail_if_body_not_matches_regexp = Some(vec!["hello from".into()]);
    let matched = probe(must_match.clone()).await;
    assert_eq!(matched["probe_success"], 1.0);
    assert_eq!(matched["probe_failed_due_to_regex"], 0.0);
    must_match.checks.fail_if_body_not_matches_regexp = Some(vec!["goodbye".into()]);
    let mismatched = probe(must_match).await;
    assert_eq!(mismatched["probe_success"], 0.0);
    assert_eq!(mismatched["probe_failed_due_to_regex"], 1.0);
    let mut must_not_match = cfg(&nginx.url("/hello.txt"));
    must_not_match.checks.fail_if_body_matches_regexp = Some(vec!["^hello".into()]);
    assert_eq!(probe(must_not_match).await["probe_success"], 0.0);

    // Redirects are followed by default, as blackbox does.
    let redirected = probe(cfg(&nginx.url("/redirect"))).await;
    assert_eq!(redirected["probe_success"], 1.0);
    assert_eq!(redirected["probe_http_redirects"], 1.0);

    // A closed port: the probe fails, the collector does not.
    let down = probe(cfg(&format!("http://127.0.0.1:{}/", free_port()))).await;
    assert_eq!(down["probe_success"], 0.0);
    assert_eq!(down["probe_http_status_code"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_fails_the_probe_before_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let collector = HttpProbeCollector::from_config(
        &cfg(&format!("http://127.0.0.1:{port}/")).request,
        &ProbeConfig::default(),
    )
    .unwrap();
    // The probe keeps a tenth of the time (at most 250 ms) to build its answer: 2 s leave it
    // 200 ms, which a loaded machine needs.
    let context = Context::with_deadline(Instant::now() + Duration::from_secs(2));
    let collection = collector.collect(&context).await.unwrap();
    assert!(
        Instant::now() < context.deadline,
        "answered after the deadline"
    );
    let series = series_of(&collection.families);
    assert_eq!(series["probe_success"], 0.0);
    assert!(
        collector.notes()[0].contains("time"),
        "{:?}",
        collector.notes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_probe_reports_the_certificate_expiry() {
    let nginx = Nginx::start();
    let mut tls = cfg(&nginx.tls_url("/hello.txt"));
    tls.request.tls_config = Some(TlsConfig {
        ca_file: Some(nginx.cert.display().to_string()),
        ..Default::default()
    });
    let series = probe(tls).await;
    assert_eq!(series["probe_success"], 1.0);
    assert_eq!(series["probe_http_ssl"], 1.0);
    assert_eq!(
        series["probe_ssl_earliest_cert_expiry"],
        cert_not_after_by_openssl(&nginx.cert) as f64
    );
    assert!(series["probe_http_duration_seconds{phase=\"tls\"}"] > 0.0);
    // Without trusting the certificate the probe fails.
    let untrusted = probe(cfg(&nginx.tls_url("/hello.txt"))).await;
    assert_eq!(untrusted["probe_success"], 0.0);
    // server_name: the certificate is verified against it while the probe connects to the IP.
    for (server_name, success) in [("localhost", 1.0), ("other.example", 0.0)] {
        let mut named = cfg(&nginx.tls_url("/hello.txt"));
        named.request.tls_config = Some(TlsConfig {
            ca_file: Some(nginx.cert.display().to_string()),
            server_name: Some(server_name.into()),
            ..Default::default()
        });
        let series = probe(named).await;
        assert_eq!(series["probe_success"], success, "{server_name}");
    }
}

/// Families blackbox writes that this probe leaves out (TLS version and chain details).
const NOT_IMPLEMENTED: [&str; 3] = [
    "probe_tls_version_info",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_ssl_last_chain_info",
];

fn family_name(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_series_as_blackbox_exporter() {
    let blackbox = require_tool(
        "prometheus-blackbox-exporter",
        "prometheus-blackbox-exporter",
    );
    let nginx = Nginx::start();
    let bb_config = nginx.dir().join("blackbox.yml");
    std::fs::write(
        &bb_config,
        format!(
            r#"modules:
  http_2xx:
    prober: http
    http:
      preferred_ip_protocol: ip4
  body:
    prober: http
    http:
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ["goodbye"]
  tls:
    prober: http
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: {}
"#,
            nginx.cert.display()
        ),
    )
    .unwrap();
    let bb_port = free_port();
    let _bb = ChildGuard::spawn(
        Command::new(blackbox)
            .arg(format!("--config.file={}", bb_config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{bb_port}"))
            .stderr(std::process::Stdio::null()),
    );
    wait_for_port(bb_port, Duration::from_secs(10));
    let http = reqwest::Client::new();

    let tls_config = TlsConfig {
        ca_file: Some(nginx.cert.display().to_string()),
        ..Default::default()
    };
    let cases: Vec<(&str, String, ProbeSetup)> = vec![
        (
            "http_2xx",
            nginx.url("/hello.txt"),
            cfg(&nginx.url("/hello.txt")),
        ),
        (
            "http_2xx",
            nginx.url("/missing"),
            cfg(&nginx.url("/missing")),
        ),
        (
            "http_2xx",
            nginx.url("/redirect"),
            cfg(&nginx.url("/redirect")),
        ),
        ("http_2xx", nginx.url("/error"), cfg(&nginx.url("/error"))),
        ("body", nginx.url("/hello.txt"), {
            let mut c = cfg(&nginx.url("/hello.txt"));
            c.checks.fail_if_body_not_matches_regexp = Some(vec!["goodbye".into()]);
            c
        }),
        ("tls", nginx.tls_url("/hello.txt"), {
            let mut c = cfg(&nginx.tls_url("/hello.txt"));
            c.request.tls_config = Some(tls_config.clone());
            c
        }),
    ];
    let compared_values = [
        "probe_success",
        "probe_http_status_code",
        "probe_http_content_length",
        "probe_http_uncompressed_body_length",
        "probe_http_ssl",
        "probe_http_version",
        "probe_http_redirects",
        "probe_failed_due_to_regex",
        "probe_ip_protocol",
        "probe_ip_addr_hash",
        "probe_ssl_earliest_cert_expiry",
        "probe_http_last_modified_timestamp_seconds",
    ];
    for (module, target, ours_cfg) in cases {
        let theirs = http
            .get(format!("http://127.0.0.1:{bb_port}/probe"))
            .query(&[("target", target.as_str()), ("module", module)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let theirs = parse_exposition(&theirs);
        let ours = probe(ours_cfg).await;
        let their_names: std::collections::BTreeSet<&str> = theirs
            .keys()
            .map(|k| family_name(k))
            .filter(|n| !NOT_IMPLEMENTED.contains(n))
            .collect();
        let our_names: std::collections::BTreeSet<&str> =
            ours.keys().map(|k| family_name(k)).collect();
        assert_eq!(
            our_names, their_names,
            "{module} {target}: family names differ"
        );
        for key in theirs.keys() {
            if NOT_IMPLEMENTED.contains(&family_name(key)) {
                continue;
            }
            assert!(ours.contains_key(key), "{module} {target}: {key} missing");
        }
        for name in compared_values {
            assert_eq!(
                ours.get(name),
                theirs.get(name),
                "{module} {target}: {name} differs"
            );
        }
    }
}
