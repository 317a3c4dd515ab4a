//! The `sql` kind and the `postgres` and `mysql` presets against a real PostgreSQL 15 and
//! MariaDB 10.11 from Debian, each started by the test in a temporary data directory on a random
//! loopback port, side by side with Debian's prometheus-postgres-exporter and
//! prometheus-mysqld-exporter; plus the failure cases: a slow query, a query the server
//! refuses, a stopped server, a wrong password, and that the password shows up nowhere.
//!
//! `UPDATE_GOLDEN=1 cargo test --test sql_live` also rewrites the rows the golden tests of the
//! presets map (`tests/fixtures/raw/{postgres,mysql}_rows.json`), captured from these servers.

mod common;
mod db_support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, http_get, require_tool, sample_value, spawn_listening, ChildGuard};
use db_support::{Mariadb, Postgres, PASSWORD};

/// The sidecar with its log in a file (to look for the password in it).
struct Sidecar {
    _child: ChildGuard,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sidecar {
    fn start(config: &str, files: &[(&str, &str)]) -> Sidecar {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.yaml"), config).unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let log = File::create(dir.path().join("log")).unwrap();
        let (child, port) = spawn_listening(
            Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
                .current_dir(dir.path())
                .args(["--config.file", "config.yaml", "--log.level=debug"])
                .arg("--web.listen-address=127.0.0.1:0")
                .stdout(log.try_clone().unwrap())
                .stderr(log),
            "the exporter",
        );
        Sidecar {
            _child: child,
            port,
            dir,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(&format!("http://127.0.0.1:{}{path}", self.port), &[])
    }

    fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A scrape that must answer within `limit` (slow queries are stopped, not waited for).
    fn metrics_within(&self, limit: Duration) -> String {
        let started = Instant::now();
        let text = self.metrics();
        let took = started.elapsed();
        assert!(took < limit, "the scrape took {took:?}");
        text
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap()
    }
}

/// One exposition: per family its type, HELP and label-name sets; per series its value.
#[derive(Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    help: BTreeMap<String, String>,
    label_names: BTreeMap<String, BTreeSet<Vec<String>>>,
    series: BTreeMap<String, f64>,
}

fn parse(text: &str) -> Exposition {
    let mut e = Exposition::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            e.types.insert(name.into(), kind.into());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            e.help.insert(name.into(), help.into());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (key, value) = line.rsplit_once(' ').unwrap();
            let family = key.split('{').next().unwrap().to_string();
            let names: Vec<String> = key
                .split_once('{')
                .map(|(_, labels)| {
                    labels
                        .split("\",")
                        .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            e.label_names.entry(family).or_default().insert(names);
            let value = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap(),
            };
            e.series.insert(key.into(), value);
        }
    }
    e
}

/// What a side-by-side comparison ignores or lets differ.
struct Rules {
    /// Prefixes of the peer's families about the exporter itself, not the database.
    peer_own: &'static [&'static str],
    /// Prefix of the families both export.
    prefix: &'static str,
    /// The families whose values depend only on the server's configuration and version.
    deterministic: fn(&str) -> bool,
    /// Families whose values differ for a reason the preset's description gives.
    documented_value_differences: &'static [&'static str],
}

/// Every family the peer exports (its own aside) must be exported with the same type, HELP
/// and label names, every series with the same label values, the deterministic ones with the
/// same value; and no series only here. Returns the differences.
fn compare(peer_text: &str, ours_text: &str, rules: &Rules) -> Vec<String> {
    let (peer, ours) = (parse(peer_text), parse(ours_text));
    let own = |family: &str| rules.peer_own.iter().any(|p| family.starts_with(p));
    let mut problems = Vec::new();
    for family in peer.types.keys().filter(|f| !own(f)) {
        let family = family.as_str();
        let Some(ours_type) = ours.types.get(family) else {
            problems.push(format!("missing family {family}"));
            continue;
        };
        if &peer.types[family] != ours_type {
            problems.push(format!(
                "{family}: type {} here, {} at the peer",
                ours_type, peer.types[family]
            ));
        }
        if peer.help.get(family) != ours.help.get(family) {
            problems.push(format!(
                "{family}: HELP {:?} here, {:?} at the peer",
                ours.help.get(family),
                peer.help.get(family)
            ));
        }
        if peer.label_names.get(family) != ours.label_names.get(family) {
            problems.push(format!(
                "{family}: labels {:?} here, {:?} at the peer",
                ours.label_names.get(family),
                peer.label_names.get(family)
            ));
        }
    }
    for (key, peer_value) in &peer.series {
        let family = key.split('{').next().unwrap();
        if own(family) {
            continue;
        }
        let Some(ours_value) = ours.series.get(key) else {
            problems.push(format!("only the peer has {key}"));
            continue;
        };
        let equal = peer_value == ours_value || (peer_value.is_nan() && ours_value.is_nan());
        if (rules.deterministic)(family)
            && !equal
            && !rules.documented_value_differences.contains(&family)
        {
            problems.push(format!(
                "{key}: {ours_value} here, {peer_value} at the peer"
            ));
        }
    }
    for key in ours.series.keys() {
        let family = key.split('{').next().unwrap();
        if family.starts_with(rules.prefix) && !peer.series.contains_key(key) {
            problems.push(format!("only the sidecar has {key}"));
        }
    }
    problems
}

const POSTGRES_RULES: Rules = Rules {
    peer_own: &[
        "go_",
        "process_",
        "promhttp_",
        "pg_exporter_",
        "pg_scrape_collector_",
        "postgres_exporter_",
    ],
    prefix: "pg_",
    deterministic: |family| {
        family.starts_with("pg_settings_") || family == "pg_static" || family == "pg_up"
    },
    documented_value_differences: &["pg_settings_extra_float_digits"],
};

/// The peer's page and ours, each connected once before, so that each sees the other's session;
/// the peer must be up (`up_family` 1) with more than `min_families` families.
fn read_both(
    sidecar: &Sidecar,
    peer_port: u16,
    up_family: &str,
    min_families: usize,
) -> (String, String) {
    sidecar.metrics();
    let (status, peer_text) = http_get(&format!("http://127.0.0.1:{peer_port}/metrics"), &[]);
    assert_eq!(status, 200);
    let ours_text = sidecar.metrics();
    assert_eq!(
        sample_value(&peer_text, up_family),
        Some(1.0),
        "the peer is not connected"
    );
    assert!(
        parse(&peer_text).types.len() > min_families,
        "too few peer families: {peer_text}"
    );
    (peer_text, ours_text)
}

#[test]
fn the_postgres_preset_gives_the_peers_series() {
    let peer_bin = require_tool(
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    );
    let pg = Postgres::start();
    // A replica, so that the replication families have rows on the primary.
    let _standby = pg.start_standby();
    let (_peer, peer_port) = spawn_listening(
        Command::new(peer_bin)
            .arg("--web.listen-address=127.0.0.1:0")
            .env(
                "DATA_SOURCE_NAME",
                format!(
                    "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
                    pg.port
                ),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "postgres_exporter",
    );
    let config = format!(
        "collectors:\n  - name: pg\n    preset: postgres\n    dsn: postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable\n    password_file: password\n",
        pg.port
    );
    let sidecar = Sidecar::start(&config, &[("password", PASSWORD)]);

    let (peer_text, ours_text) = read_both(&sidecar, peer_port, "pg_up", 250);
    let problems = compare(&peer_text, &ours_text, &POSTGRES_RULES);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for reason in ["connect", "auth", "timeout", "query", "mapping"] {
        let series = format!(
            "sidecar_exporter_collector_errors_total{{collector=\"pg\",kind=\"sql\",reason=\"{reason}\"}}"
        );
        assert_eq!(sample_value(&ours_text, &series), Some(0.0), "{series}");
    }

    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        capture_rows("postgres", |sql| pg.rows_as_text(sql));
    }
}

/// Writes the rows of each query of `preset` to `tests/fixtures/raw/<preset>_rows.json`, for
/// the golden test (`tests/presets_golden.rs`).
fn capture_rows(preset: &str, rows_of: impl Fn(&str) -> serde_json::Value) {
    let found = sidecar_exporter::config::presets::find(preset).unwrap();
    let keys: serde_yaml::Value = serde_yaml::from_str(found.yaml).unwrap();
    let mut rows = serde_json::Map::new();
    for query in keys["queries"].as_sequence().unwrap() {
        let name = query["name"].as_str().unwrap();
        let sql = query["query"].as_str().unwrap();
        rows.insert(name.to_string(), rows_of(sql));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/raw")
        .join(format!("{preset}_rows.json"));
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(rows)).unwrap();
    std::fs::write(path, text + "\n").unwrap();
}

fn errors(text: &str, collector: &str, reason: &str) -> f64 {
    let series = format!(
        "sidecar_exporter_collector_errors_total{{collector=\"{collector}\",kind=\"sql\",reason=\"{reason}\"}}"
    );
    sample_value(text, &series).unwrap_or_else(|| panic!("no {series}"))
}

#[test]
fn queries_time_out_fail_and_recover_alone_and_the_password_stays_secret() {
    let pg = Postgres::start();
    let port = pg.port;
    let config = format!(
        r#"global: {{scrape_timeout: 5s}}
collectors:
  - name: app
    kind: sql
    dsn: postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable
    password_file: right
    up_metric: app_up
    queries:
      - name: items
        query: SELECT * FROM (VALUES ('a', 1), ('b', 22)) AS t(kind, n)
        metrics:
          - {{name: app_items, valuetype: counter, type: object, path: '{{ [*] }}', labels: {{kind: '{{ .kind }}'}}, values: {{total: '{{ .n }}'}}}}
      - name: slow
        query: SELECT pg_sleep(5) AS slept
        timeout: 1s
        metrics:
          - {{name: app_slow, type: object, path: '{{ [*] }}', value: '1'}}
      - name: missing_table
        query: SELECT n FROM no_such_table
        metrics:
          - {{name: app_missing, type: object, path: '{{ [*] }}', value: '{{ .n }}'}}
      - name: cached
        query: SELECT extract(epoch FROM clock_timestamp()) AS now
        min_interval: 1h
        metrics:
          - {{name: app_cached_now, type: object, path: '{{ [*] }}', value: '{{ .now }}'}}
      - name: fresh
        query: SELECT extract(epoch FROM clock_timestamp()) AS now
        metrics:
          - {{name: app_fresh_now, type: object, path: '{{ [*] }}', value: '{{ .now }}'}}
      - name: session
        query: SELECT current_setting('transaction_read_only') AS read_only
        metrics:
          - {{name: app_read_only, type: object, path: '{{ [*] }}', value: '{{ .read_only }}', value_map: {{'on': 1, 'off': 0}}}}
  - name: wrong
    kind: sql
    dsn: postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable
    password_file: wrong
    up_metric: wrong_up
    queries:
      - query: SELECT 1 AS one
        metrics: [{{name: wrong_one, type: object, path: '{{ [*] }}', value: '{{ .one }}'}}]
  - name: inline
    kind: sql
    dsn: postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable
    up_metric: inline_up
    queries:
      - query: SELECT 1 AS one
        metrics: [{{name: inline_one, type: object, path: '{{ [*] }}', value: '{{ .one }}'}}]
"#
    );
    let sidecar = Sidecar::start(
        &config,
        &[("right", &format!("{PASSWORD}\n")), ("wrong", "not-it\n")],
    );

    // The slow query is stopped at its 1 s timeout; the scrape does not wait for its 5 s.
    let text = sidecar.metrics_within(Duration::from_millis(2500));
    assert_eq!(sample_value(&text, "app_up"), Some(1.0), "{text}");
    assert_eq!(
        sample_value(&text, "app_items_total{kind=\"a\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&text, "app_items_total{kind=\"b\"}"),
        Some(22.0)
    );
    assert!(text.contains("# TYPE app_items_total counter"), "{text}");
    // Queries after the slow and the failing one still ran, in a read-only session.
    assert_eq!(sample_value(&text, "app_read_only"), Some(1.0), "{text}");
    assert!(!text.contains("app_slow"), "{text}");
    assert!(!text.contains("app_missing"), "{text}");
    assert_eq!(errors(&text, "app", "timeout"), 1.0);
    assert_eq!(errors(&text, "app", "query"), 1.0);
    assert_eq!(errors(&text, "app", "connect"), 0.0);
    assert_eq!(sample_value(&text, "wrong_up"), Some(0.0));
    assert_eq!(errors(&text, "wrong", "auth"), 1.0);
    assert_eq!(sample_value(&text, "inline_up"), Some(1.0));

    let (status, page) = sidecar.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("password authentication failed"), "{page}");
    assert!(
        page.contains(&format!("postgresql://postgres@127.0.0.1:{port}/postgres")),
        "the target is shown without its password: {page}"
    );
    let check = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(sidecar.dir.path())
        .args(["check", "--config.file", "config.yaml"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let check_text = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    for (what, text) in [
        ("/metrics", &text),
        ("the status page", &page),
        ("the log", &sidecar.log()),
        ("check", &check_text),
    ] {
        assert!(
            !text.contains(PASSWORD),
            "the password is in {what}: {text}"
        );
    }
    assert!(sidecar.log().contains("reason=auth"), "{}", sidecar.log());

    // min_interval: the cached query's rows are reused, the other query runs again.
    let again = sidecar.metrics();
    assert_eq!(
        sample_value(&again, "app_cached_now"),
        sample_value(&text, "app_cached_now")
    );
    assert_ne!(
        sample_value(&again, "app_fresh_now"),
        sample_value(&text, "app_fresh_now")
    );

    // password_file is read again when it changes, and the connection opened with it.
    std::fs::write(sidecar.dir.path().join("wrong"), PASSWORD).unwrap();
    eventually(Duration::from_secs(10), "wrong_up 1 after the fix", || {
        sample_value(&sidecar.metrics(), "wrong_up") == Some(1.0)
    });

    // The server goes away: down with reason connect, and the scrape still answers 200.
    pg.stop();
    let text = sidecar.metrics();
    assert_eq!(sample_value(&text, "app_up"), Some(0.0), "{text}");
    assert!(errors(&text, "app", "connect") >= 1.0, "{text}");
    assert!(!text.contains("app_items_total{"), "{text}");
    // And back: the connection is opened again.
    pg.start_server();
    eventually(Duration::from_secs(10), "app_up 1 after a restart", || {
        sample_value(&sidecar.metrics(), "app_up") == Some(1.0)
    });
    assert!(!sidecar.log().contains(PASSWORD));
}

/// Queries are sent together; those queued behind a slow one that uses up the time must not
/// cost the answers already in: the collection stops waiting before its deadline.
#[test]
fn queries_queued_behind_a_slow_one_cost_only_their_own_series() {
    let pg = Postgres::start();
    let port = pg.port;
    let config = format!(
        r#"global: {{scrape_timeout: 2s}}
collectors:
  - name: app
    kind: sql
    dsn: postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable
    up_metric: app_up
    queries:
      - name: first
        query: SELECT 1 AS one
        metrics: [{{name: app_first, type: object, path: '{{ [*] }}', value: '{{ .one }}'}}]
      - name: slow
        query: SELECT pg_sleep(10) AS slept
        metrics: [{{name: app_slow, type: object, path: '{{ [*] }}', value: '1'}}]
      - name: queued
        query: SELECT pg_sleep(0.6) AS slept, 1 AS one
        metrics: [{{name: app_queued, type: object, path: '{{ [*] }}', value: '{{ .one }}'}}]
"#
    );
    let sidecar = Sidecar::start(&config, &[]);
    let text = sidecar.metrics_within(Duration::from_millis(2500));
    // The slow query is stopped by its statement timeout, a margin before the deadline; the one
    // queued behind it cannot end in time and is given up; the first one's series stay.
    assert_eq!(sample_value(&text, "app_up"), Some(1.0), "{text}");
    assert_eq!(sample_value(&text, "app_first"), Some(1.0), "{text}");
    assert!(!text.contains("app_slow "), "{text}");
    assert!(!text.contains("app_queued "), "{text}");
    assert_eq!(errors(&text, "app", "timeout"), 2.0, "{text}");
    let (_, page) = sidecar.get("/debug/collectors/app");
    assert!(
        page.contains("query `queued`: no answer before the collection"),
        "{page}"
    );
}

const MYSQL_RULES: Rules = Rules {
    peer_own: &[
        "go_",
        "process_",
        "promhttp_",
        "mysql_exporter_",
        "mysqld_exporter_",
    ],
    prefix: "mysql_",
    deterministic: |family| {
        family.starts_with("mysql_global_variables_")
            || family == "mysql_version_info"
            || family == "mysql_transaction_isolation"
            || family == "mysql_galera_variables_info"
            || family == "mysql_up"
    },
    documented_value_differences: &[],
};

#[test]
fn the_mysql_preset_gives_the_peers_series_on_mariadb() {
    let peer_bin = require_tool("prometheus-mysqld-exporter", "prometheus-mysqld-exporter");
    // Both exporters read a replica, so that mysql_slave_status_* has a row.
    let primary = Mariadb::start_primary();
    let db = primary.start_replica();
    let my_cnf = db.dir.path().join("peer.cnf");
    std::fs::write(
        &my_cnf,
        format!(
            "[client]\nuser=exporter\npassword={PASSWORD}\nhost=127.0.0.1\nport={}\n",
            db.port
        ),
    )
    .unwrap();
    let (_peer, peer_port) = spawn_listening(
        Command::new(peer_bin)
            .arg(format!("--config.my-cnf={}", my_cnf.display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "mysqld_exporter",
    );
    let config = format!(
        "collectors:\n  - name: db\n    preset: mysql\n    dsn: mysql://exporter@127.0.0.1:{}/\n    password_file: password\n",
        db.port
    );
    let sidecar = Sidecar::start(&config, &[("password", PASSWORD)]);

    let (peer_text, ours_text) = read_both(&sidecar, peer_port, "mysql_up", 500);
    // The replica's status is there at both, so the comparison covers it.
    for (who, text) in [("the peer", &peer_text), ("the sidecar", &ours_text)] {
        assert!(
            text.contains("\nmysql_slave_status_slave_io_running{"),
            "no replica status from {who}"
        );
    }
    let problems = compare(&peer_text, &ours_text, &MYSQL_RULES);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for reason in ["connect", "auth", "timeout", "query", "mapping"] {
        assert_eq!(errors(&ours_text, "db", reason), 0.0, "{reason}");
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        capture_rows("mysql", |sql| db.rows_as_text(sql));
    }

    // A query of its own, a slow one stopped at its timeout, and a wrong password.
    let config = format!(
        r#"collectors:
  - name: app
    kind: sql
    dsn: mysql://exporter@127.0.0.1:{port}/
    password_file: password
    up_metric: app_up
    queries:
      - query: SELECT * FROM (SELECT 'a' AS kind, 1 AS n UNION ALL SELECT 'b', 22) AS t
        metrics:
          - {{name: app_items, valuetype: counter, type: object, path: '{{ [*] }}', labels: {{kind: '{{ .kind }}'}}, values: {{total: '{{ .n }}'}}}}
      - query: SELECT SLEEP(5) AS slept
        timeout: 1s
        metrics:
          - {{name: app_slow, type: object, path: '{{ [*] }}', value: '1'}}
      - query: SELECT @@session.tx_read_only AS read_only
        metrics:
          - {{name: app_read_only, type: object, path: '{{ [*] }}', value: '{{ .read_only }}'}}
  - name: wrong
    kind: sql
    dsn: mysql://exporter:not-it@127.0.0.1:{port}/
    up_metric: wrong_up
    queries:
      - query: SELECT 1 AS one
        metrics: [{{name: wrong_one, type: object, path: '{{ [*] }}', value: '{{ .one }}'}}]
"#,
        port = db.port
    );
    let sidecar = Sidecar::start(&config, &[("password", PASSWORD)]);
    let text = sidecar.metrics_within(Duration::from_millis(2500));
    assert_eq!(sample_value(&text, "app_up"), Some(1.0), "{text}");
    assert_eq!(
        sample_value(&text, "app_items_total{kind=\"b\"}"),
        Some(22.0)
    );
    assert_eq!(sample_value(&text, "app_read_only"), Some(1.0), "{text}");
    assert!(!text.contains("app_slow"), "{text}");
    assert_eq!(errors(&text, "app", "timeout"), 1.0);
    assert_eq!(sample_value(&text, "wrong_up"), Some(0.0));
    assert_eq!(errors(&text, "wrong", "auth"), 1.0);
    let (_, page) = sidecar.get("/");
    for (what, text) in [
        ("/metrics", &text),
        ("the status page", &page),
        ("the log", &sidecar.log()),
    ] {
        assert!(!text.contains(PASSWORD), "the password is in {what}");
    }

    // The server goes away: mysql_up 0 with reason connect, and the scrape answers 200.
    drop(db);
    let text = sidecar.metrics();
    assert_eq!(sample_value(&text, "app_up"), Some(0.0), "{text}");
    assert!(errors(&text, "app", "connect") >= 1.0, "{text}");
}

#[test]
fn tls_to_postgres_is_verified_unless_told_otherwise() {
    let pg = Postgres::start_with_tls();
    let (port, cert) = (pg.port, pg.certificate());
    let collector = |name: &str, tls: &str| {
        format!(
            r#"  - name: {name}
    kind: sql
    dsn: postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=require
    password_file: password
    up_metric: {name}_up
{tls}    queries:
      - query: SELECT ssl::int AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()
        metrics: [{{name: {name}_ssl, type: object, path: '{{ [*] }}', value: '{{ .ssl }}'}}]
"#
        )
    };
    let config = format!(
        "collectors:\n{}{}{}",
        collector(
            "verified",
            &format!("    tls_config: {{ca_file: '{}'}}\n", cert.display())
        ),
        collector("unknown", ""),
        collector("insecure", "    tls_config: {insecure_skip_verify: true}\n"),
    );
    let sidecar = Sidecar::start(&config, &[("password", PASSWORD)]);
    let text = sidecar.metrics();
    // Trusted through ca_file: up, and the session is encrypted.
    assert_eq!(sample_value(&text, "verified_up"), Some(1.0), "{text}");
    assert_eq!(sample_value(&text, "verified_ssl"), Some(1.0), "{text}");
    // A certificate nobody vouches for is refused.
    assert_eq!(sample_value(&text, "unknown_up"), Some(0.0), "{text}");
    assert_eq!(errors(&text, "unknown", "connect"), 1.0);
    let (_, page) = sidecar.get("/");
    assert!(page.to_lowercase().contains("certificate"), "{page}");
    // insecure_skip_verify: encrypted, not verified.
    assert_eq!(sample_value(&text, "insecure_up"), Some(1.0), "{text}");
    assert_eq!(sample_value(&text, "insecure_ssl"), Some(1.0), "{text}");
}
