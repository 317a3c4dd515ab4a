//! The bind and squid presets against the real Debian servers on 127.0.0.1, side by side with
//! Debian's prometheus-bind-exporter and prometheus-squid-exporter: every family the preset
//! emits has the peer's type, label sets and values, and the preset emits at least 90 % of the
//! peer's families about the app (the rest is listed in the preset's description).

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::exposition::{compare, parse, Exposition};
use common::servers::{Named, Squid, A, AAAA};
use common::{
    free_port, http_get, require_tool, sample_value, wait_for_port, ChildGuard, Exporter,
};

/// The peer's page, once it answers.
fn scrape_peer(port: u16) -> Exposition {
    let (status, text) = http_get(&format!("http://127.0.0.1:{port}/metrics"), &[]);
    assert_eq!(status, 200, "{text}");
    parse(&text)
}

/// Asserts that we emit at least `percent` % of the peer's families with `prefix` that `own`
/// does not call the exporter's own.
fn assert_coverage(
    peer: &Exposition,
    ours: &Exposition,
    prefix: &str,
    own: &[&str],
    percent: usize,
) {
    let about_app: Vec<&String> = peer
        .types
        .keys()
        .filter(|f| f.starts_with(prefix) && !own.contains(&f.as_str()))
        .collect();
    let shared = about_app
        .iter()
        .filter(|f| ours.types.contains_key(**f))
        .count();
    eprintln!(
        "{prefix}: {shared} of the peer's {} families",
        about_app.len()
    );
    assert!(
        shared * 100 >= about_app.len() * percent,
        "{prefix}: {shared} of the peer's {} families",
        about_app.len()
    );
}

// ---------------------------------------------------------------------------------------------
// BIND

#[test]
fn bind_side_by_side_with_bind_exporter() {
    let named = Named::start();
    for _ in 0..2 {
        assert_eq!(named.query("www.example.test", A), 0);
        assert_eq!(named.query("nope.example.test", A), 3, "NXDOMAIN");
    }
    assert_eq!(named.query("www.example.test", AAAA), 0);

    let peer_bin = require_tool("prometheus-bind-exporter", "prometheus-bind-exporter");
    let peer_port = free_port();
    let _peer = ChildGuard::spawn(
        Command::new(peer_bin)
            .arg(format!(
                "--bind.stats-url=http://127.0.0.1:{}/",
                named.stats_port
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{peer_port}"))
            .stderr(Stdio::null()),
    );
    wait_for_port(peer_port, Duration::from_secs(10));
    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: dns\n    preset: bind\n    url: http://127.0.0.1:{}/json/v1\n",
        named.stats_port
    ));

    let peer = scrape_peer(peer_port);
    let ours_text = exporter.metrics();
    let ours = parse(&ours_text);
    assert_eq!(
        sample_value(&ours_text, "bind_up"),
        Some(1.0),
        "{ours_text}"
    );
    // Four here, and those sent while waiting for the zone.
    assert!(sample_value(&ours_text, r#"bind_incoming_queries_total{type="A"}"#).unwrap() >= 5.0);
    assert_eq!(
        sample_value(&ours_text, r#"bind_incoming_queries_total{type="AAAA"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&ours_text, r#"bind_responses_total{result="NXDOMAIN"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample_value(
            &ours_text,
            r#"bind_zone_serial{view="_default",zone_name="example.test"}"#
        ),
        Some(2026113001.0)
    );

    // Reading the statistics changes none of them: every value must be the peer's.
    let not_emitted = compare(&peer, &ours, "bind_", |_| false, |_, _| false);
    let expected: BTreeSet<String> = [
        "bind_exporter_build_info",
        "bind_resolver_query_duration_seconds",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(not_emitted, expected);
    assert_coverage(&peer, &ours, "bind_", &["bind_exporter_build_info"], 90);
}

#[test]
fn bind_down_is_bind_up_0() {
    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: dns\n    preset: bind\n    url: http://127.0.0.1:{}/json/v1\n",
        free_port()
    ));
    let text = exporter.metrics();
    assert_eq!(sample_value(&text, "bind_up"), Some(0.0), "{text}");
    assert_eq!(
        sample_value(
            &text,
            r#"sidecar_exporter_collector_errors_total{collector="dns",kind="http_json",reason="connect"}"#
        ),
        Some(1.0),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Squid

/// What changes between the peer's read and ours: each cache manager request is a client
/// request, and the service times move with them.
fn squid_moving(series: &str) -> bool {
    series.starts_with("squid_client_http_")
        || ["HTTP_Requests", "Cache_", "Near_Hits", "DNS_Lookups"]
            .iter()
            .any(|section| series.starts_with(&format!("squid_{section}")))
}

#[test]
fn squid_side_by_side_with_squid_exporter() {
    let squid = Squid::start();
    // Traffic through the proxy: a page it fetches from a local server, and one that fails.
    let origin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin_port = origin.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in origin.incoming().take(3) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            );
        }
    });
    // A proxy request is the absolute URL sent to the proxy.
    let proxied = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", squid.port)).unwrap();
        write!(
            stream,
            "GET http://127.0.0.1:{origin_port}{path} HTTP/1.1\r\nHost: 127.0.0.1:{origin_port}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_string()
    };
    for _ in 0..3 {
        let status = proxied("/page");
        assert!(status.contains(" 200 "), "{status}");
    }

    let peer_bin = require_tool("prometheus-squid-exporter", "prometheus-squid-exporter");
    let peer_port = free_port();
    let _peer = ChildGuard::spawn(
        Command::new(peer_bin)
            .args(["-squid-hostname", "127.0.0.1", "-squid-port"])
            .arg(squid.port.to_string())
            .arg("-listen")
            .arg(format!("127.0.0.1:{peer_port}"))
            .stderr(Stdio::null()),
    );
    wait_for_port(peer_port, Duration::from_secs(10));
    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: proxy\n    preset: squid\n    url: http://127.0.0.1:{}/squid-internal-mgr\n",
        squid.port
    ));

    let mut peer = scrape_peer(peer_port);
    let ours_text = exporter.metrics();
    let mut ours = parse(&ours_text);
    assert_eq!(
        sample_value(&ours_text, "squid_up"),
        Some(1.0),
        "{ours_text}"
    );
    assert_eq!(
        sample_value(&ours_text, "squid_server_http_requests_total"),
        Some(3.0),
        "{ours_text}"
    );
    assert!(sample_value(&ours_text, "squid_client_http_requests_total").unwrap() >= 5.0);

    // The one difference: the peer labels its squid_up with the host it reads.
    assert_eq!(
        peer.series.remove(r#"squid_up{host="127.0.0.1"}"#),
        Some(1.0)
    );
    assert_eq!(ours.series.remove("squid_up"), Some(1.0));
    let not_emitted = compare(&peer, &ours, "squid_", squid_moving, |_, _| false);
    let expected: BTreeSet<String> = ["squid_exporter_build_info".to_string()].into();
    assert_eq!(not_emitted, expected);
    assert_coverage(&peer, &ours, "squid_", &["squid_exporter_build_info"], 90);
}
