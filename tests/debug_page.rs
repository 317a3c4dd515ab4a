//! `GET /debug/collectors/NAME` of a running sidecar, on the fixtures of `explain_golden.rs`:
//! without `--web.debug-answers` no value of the app's answer appears on any page (keys, counts
//! and reasons do); with it, values do, but secret-looking and `redact:` keys stay hidden; and
//! the debug pages never make more collections than scrapes would.

mod common;

use std::path::PathBuf;

use common::{sample_value, Exporter};

/// Values of `tests/fixtures/explain/answer.json` that must never be on a page without the flag.
const APP_VALUES: &[&str] = &[
    "degraded-distinct",
    "4.2.1-distinct",
    "alpha-distinct",
    "hunter2-distinct",
    "ann@example.org",
    "3456",
    "86400",
];
/// Values under secret-looking (`password`) and `redact:` (`customer_email`) keys.
const SECRET_VALUES: &[&str] = &["hunter2-distinct", "ann@example.org"];

fn start(args: &[&str], min_interval: &str) -> Exporter {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures.join("answer.json"), dir.path().join("answer.json")).unwrap();
    let config = std::fs::read_to_string(fixtures.join("config.yaml")).unwrap();
    let config = format!("global:\n  min_interval: {min_interval}\n{config}");
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let mut all = vec!["--config.file", "config.yaml"];
    all.extend_from_slice(args);
    Exporter::start_in(dir, &all)
}

/// Whether `body` shows `value`. A number counts only as a whole number: the pages carry
/// durations and timestamps whose digits may contain it (`0.004345668` holds `3456`).
fn shows(body: &str, value: &str) -> bool {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return body.contains(value);
    }
    let part_of_a_number = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit() || *b == b'.');
    body.match_indices(value).any(|(at, _)| {
        let before = at.checked_sub(1).and_then(|i| body.as_bytes().get(i));
        let after = body.as_bytes().get(at + value.len());
        !part_of_a_number(before) && !part_of_a_number(after)
    })
}

fn get_ok(exporter: &Exporter, path: &str) -> String {
    let (status, body) = exporter.get(path);
    assert_eq!(status, 200, "GET {path} answered {status}: {body}");
    body
}

/// Every page a person can open, after one scrape.
fn pages(exporter: &Exporter) -> Vec<(String, String)> {
    exporter.metrics();
    [
        "/",
        "/debug/collectors/app",
        "/debug/collectors/app?format=json",
        "/debug/collectors/app?fresh=1",
        "/debug/collectors/gone",
        "/debug/collectors/gone?format=json",
    ]
    .iter()
    .map(|path| (path.to_string(), get_ok(exporter, path)))
    .collect()
}

#[test]
fn without_the_flag_no_value_of_the_answer_is_shown() {
    let exporter = start(&[], "0s");
    let pages = pages(&exporter);
    for (path, body) in &pages {
        for value in APP_VALUES {
            assert!(
                !shows(body, value),
                "{path} shows the app's value {value}:\n{body}"
            );
        }
    }
    let html = &pages[1].1;
    // Keys, counts and reasons are shown.
    for expected in [
        "`cache` is not found under `.stats` (keys there: `connections`, `requests`, `state`)",
        "a text that is not a number",
        "label `version`",
        "already has a series with the same labels (labels `queue`)",
        "customer_email",
        "--web.debug-answers",
    ] {
        let expected = expected.replace('<', "&lt;").replace('>', "&gt;");
        assert!(
            html.contains(&expected),
            "the debug page lacks {expected:?}:\n{html}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&pages[2].1).unwrap();
    assert_eq!(json["answers_shown"], false);
    assert!(json.get("answer").is_none(), "{json}");
    assert_eq!(json["rules"][1]["series"], 0);
    assert_eq!(json["rules"][0]["series"], 1);
    assert_eq!(json["records"]["first"][0]["stats"]["state"], "<string>");
    let gone: serde_json::Value = serde_json::from_str(&pages[5].1).unwrap();
    assert_eq!(gone["up"], false);
    assert_eq!(gone["error"]["reason"], "connect");
}

#[test]
fn with_the_flag_values_are_shown_but_secrets_stay_hidden() {
    let exporter = start(&["--web.debug-answers"], "0s");
    let pages = pages(&exporter);
    let debug = &pages[1].1;
    for value in ["degraded-distinct", "4.2.1-distinct", "alpha-distinct"] {
        assert!(
            debug.contains(value),
            "the debug page lacks {value}:\n{debug}"
        );
    }
    assert!(debug.contains("&lt;redacted&gt;"), "{debug}");
    for (path, body) in &pages {
        for value in SECRET_VALUES {
            assert!(
                !body.contains(value),
                "{path} shows the secret {value}:\n{body}"
            );
        }
    }
    let json: serde_json::Value = serde_json::from_str(&pages[2].1).unwrap();
    assert_eq!(json["answers_shown"], true);
    assert_eq!(json["records"]["first"][0]["db"]["password"], "<redacted>");
    assert_eq!(
        json["records"]["first"][0]["db"]["customer_email"],
        "<redacted>"
    );
    assert_eq!(
        json["records"]["first"][0]["stats"]["state"],
        "degraded-distinct"
    );
    let excerpt = json["answer"]["excerpt"].as_str().unwrap();
    assert!(
        excerpt.contains("\"password\": \"<redacted>\""),
        "{excerpt}"
    );
    // The status page stays without the app's data even with the flag.
    for value in APP_VALUES {
        assert!(!shows(&pages[0].1, value), "the status page shows {value}");
    }
}

#[test]
fn debug_pages_do_not_make_more_collections_than_scrapes() {
    let exporter = start(&[], "30s");
    exporter.metrics();
    for _ in 0..5 {
        get_ok(&exporter, "/debug/collectors/app?fresh=1");
        get_ok(&exporter, "/debug/collectors/app");
    }
    let metrics = exporter.metrics();
    let requests = sample_value(
        &metrics,
        "sidecar_exporter_target_requests_total{collector=\"app\",kind=\"file\"}",
    )
    .expect("the request counter of app");
    // The scrape's collection, then one explained collection for the first debug page: the
    // others within min_interval answer with it.
    assert_eq!(requests, 2.0, "{metrics}");
    let unknown = exporter.get("/debug/collectors/nope");
    assert_eq!(unknown.0, 404);
}
