//! The redis, memcached, haproxy and php_fpm presets against the real Debian servers on
//! 127.0.0.1, side by side with Debian's prometheus-redis-exporter and
//! prometheus-haproxy-exporter, plus the failure cases of a tcp preset.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::exposition::{compare, family, parse};
use common::servers::{run_ok, start_haproxy, PhpFpmBehindNginx, Redis};
use common::{
    free_port, http_get, require_tool, sample_value, spawn_listening, wait_for_port, ChildGuard,
    Exporter,
};

// ---------------------------------------------------------------------------------------------
// Redis

fn redis_config(name: &str, port: u16, labels: &str) -> String {
    format!("  - name: {name}\n    preset: redis\n    address: 127.0.0.1:{port}\n{labels}")
}

/// Families of redis_exporter 1.45 that the preset does not emit (see collectors/redis.yaml for
/// why): the latency summary and the exporter's own series.
const REDIS_NOT_EMITTED: &[&str] = &[
    "redis_exporter_build_info",
    "redis_exporter_last_scrape_connect_time_seconds",
    "redis_exporter_last_scrape_duration_seconds",
    "redis_exporter_last_scrape_error",
    "redis_exporter_scrape_duration_seconds",
    "redis_exporter_scrapes_total",
    "redis_last_key_groups_scrape_duration_milliseconds",
    "redis_latency_percentiles_usec",
    "redis_target_scrape_request_errors_total",
];

/// The exporter's own families: not part of what Redis reports.
fn redis_exporter_own(family: &str) -> bool {
    family.starts_with("redis_exporter_")
        || family == "redis_last_key_groups_scrape_duration_milliseconds"
        || family == "redis_target_scrape_request_errors_total"
}

/// Series that change between the peer's read and ours on a quiesced server: what the reads
/// themselves cost (commands, connections, bytes, CPU, client buffers and the memory they
/// use), the clock (uptime, TTLs).
fn redis_moving(series: &str) -> bool {
    let name = family(series);
    [
        "redis_commands_processed_total",
        "redis_connections_received_total",
        "redis_net_input_bytes_total",
        "redis_net_output_bytes_total",
        "redis_total_reads_processed",
        "redis_total_writes_processed",
        "redis_uptime_in_seconds",
        "redis_db_avg_ttl_seconds",
        "redis_client_recent_max_input_buffer_bytes",
        "redis_client_recent_max_output_buffer_bytes",
        "redis_mem_clients_normal",
        // Every read is a command: the peer's and ours count each other's.
        "redis_commands_total",
        "redis_commands_duration_seconds_total",
        "redis_commands_failed_calls_total",
        "redis_commands_rejected_calls_total",
        // Computed from the clock at each read.
        "redis_start_time_seconds",
    ]
    .contains(&name)
        || name.starts_with("redis_cpu_")
        || name.starts_with("redis_memory_used_")
        || name.starts_with("redis_allocator_")
        || name.starts_with("redis_mem_fragmentation_")
}

#[test]
fn redis_side_by_side_with_redis_exporter() {
    let redis = Redis::start();
    redis.cli(&["set", "foo", "bar"]);
    redis.cli(&["set", "baz", "qux", "EX", "1000"]);
    redis.cli(&["-n", "3", "set", "x", "1"]);
    // An error for errorstats, and a slowlog with entries that then stops growing.
    redis.cli(&["nosuchcommand"]);
    redis.cli(&["config", "set", "slowlog-log-slower-than", "0"]);
    redis.cli(&["get", "foo"]);
    redis.cli(&["config", "set", "slowlog-log-slower-than", "1000000"]);

    let peer_bin = require_tool("prometheus-redis-exporter", "prometheus-redis-exporter");
    let (_peer, peer_port) = spawn_listening(
        Command::new(peer_bin)
            .arg(format!("--redis.addr=redis://127.0.0.1:{}", redis.port))
            .arg("--web.listen-address=127.0.0.1:0")
            .stderr(Stdio::null()),
        "the peer exporter",
    );
    let exporter = Exporter::start(&format!(
        "collectors:\n{}",
        redis_config("redis", redis.port, "")
    ));

    // Each reads once before the compared reads, so that the commands each one sends (some
    // after its INFO) are in both readings of commandstats.
    http_get(&format!("http://127.0.0.1:{peer_port}/metrics"), &[]);
    exporter.metrics();
    let (status, peer_text) = http_get(&format!("http://127.0.0.1:{peer_port}/metrics"), &[]);
    assert_eq!(status, 200);
    let ours_text = exporter.metrics();
    let peer = parse(&peer_text);
    let ours = parse(&ours_text);
    assert_eq!(ours.series["redis_up"], 1.0, "{ours_text}");
    assert_eq!(ours.series[r#"redis_db_keys{db="db0"}"#], 2.0);
    assert_eq!(ours.series[r#"redis_db_keys_expiring{db="db0"}"#], 1.0);
    assert!(ours.types.len() > 100, "{ours_text}");

    let not_emitted = compare(&peer, &ours, "redis_", redis_moving, |key, value| {
        // redis_exporter adds zero series for databases INFO does not list (CONFIG GET databases).
        let name = family(key);
        (name == "redis_db_keys" || name == "redis_db_keys_expiring")
            && value == 0.0
            && !ours.series.contains_key(key)
    });
    let expected: BTreeSet<String> = REDIS_NOT_EMITTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(not_emitted, expected);
    for family in [
        "redis_commands_total",
        "redis_errors_total",
        "redis_slowlog_length",
        "redis_config_io_threads",
    ] {
        assert!(
            peer.types.contains_key(family),
            "the workload should fill {family}"
        );
    }
    assert!(ours.series[r#"redis_errors_total{err="ERR"}"#] >= 1.0);
    assert!(ours.series["redis_slowlog_length"] >= 2.0);

    // At least 95 % of what redis_exporter reports about Redis, by family (its Go runtime and
    // process families aside).
    let about_redis = |f: &&String| f.starts_with("redis_") && !redis_exporter_own(f);
    let peer_families = peer.types.keys().filter(about_redis).count();
    let shared = peer
        .types
        .keys()
        .filter(about_redis)
        .filter(|f| ours.types.contains_key(*f))
        .count();
    eprintln!("redis: {shared} of the peer's {peer_families} families");
    assert!(
        shared * 100 >= peer_families * 95,
        "{shared} of the peer's {peer_families} families"
    );
}

#[test]
fn two_redis_instances_need_distinguishing_labels() {
    let a = Redis::start();
    let b = Redis::start();
    a.cli(&["set", "k1", "v"]);
    b.cli(&["set", "k1", "v"]);
    b.cli(&["set", "k2", "v"]);

    // Without labels the two collectors would emit the same series: refused.
    let dir = tempfile::tempdir().unwrap();
    let clash = format!(
        "collectors:\n{}{}",
        redis_config("a", a.port, ""),
        redis_config("b", b.port, "")
    );
    std::fs::write(dir.path().join("config.yaml"), clash).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .args(["check", "--config.file"])
        .arg(dir.path().join("config.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("would emit the same series"), "{stderr}");

    let exporter = Exporter::start(&format!(
        "collectors:\n{}{}",
        redis_config("a", a.port, "    labels: {instance: a}\n"),
        redis_config("b", b.port, "    labels: {instance: b}\n")
    ));
    let text = exporter.metrics();
    assert_eq!(
        sample_value(&text, r#"redis_db_keys{db="db0",instance="a"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample_value(&text, r#"redis_db_keys{db="db0",instance="b"}"#),
        Some(2.0),
        "{text}"
    );
    let ups: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("redis_up{"))
        .collect();
    assert_eq!(ups.len(), 2, "{text}");
    assert!(ups.iter().all(|l| l.ends_with(" 1")), "{ups:?}");
}

/// A server that answers every connection with text that is not an INFO reply.
fn garbage_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Bounded: enough connections for the test's scrapes.
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 256];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n<html>nope</html>\r\n");
        }
    });
    port
}

#[test]
fn redis_down_and_garbage_through_the_exporter() {
    let closed = free_port();
    let garbage = garbage_server();
    let exporter = Exporter::start(&format!(
        "collectors:\n{}{}",
        redis_config("down", closed, "    labels: {instance: down}\n"),
        redis_config("garbage", garbage, "    labels: {instance: garbage}\n")
    ));
    let text = exporter.metrics();
    assert_eq!(
        sample_value(&text, r#"redis_up{instance="down"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample_value(&text, r#"redis_up{instance="garbage"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample_value(
            &text,
            r#"sidecar_exporter_collector_errors_total{collector="down",kind="tcp_text",reason="connect"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample_value(
            &text,
            r#"sidecar_exporter_collector_errors_total{collector="garbage",kind="tcp_text",reason="parse"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("redis_connected_clients"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// memcached

fn memcached_command(port: u16, command: &str, until: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(command.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).ends_with(until) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "memcached closed after {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn memcached_live() {
    let memcached = require_tool("memcached", "memcached");
    let port = free_port();
    let _server = ChildGuard::spawn(
        Command::new(&memcached)
            .args([
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "0",
                "-u",
                "nobody",
            ])
            // `-c 700`: memcached_max_connections comes from `stats settings`.
            .args(["-m", "32", "-c", "700"]),
    );
    wait_for_port(port, Duration::from_secs(10));
    // Items in two slab classes: one small value, two of 2000 bytes.
    memcached_command(port, "set k 0 0 5\r\nhello\r\n", "STORED\r\n");
    let big = "x".repeat(2000);
    for key in ["big0", "big1"] {
        memcached_command(
            port,
            &format!("set {key} 0 0 {}\r\n{big}\r\n", big.len()),
            "STORED\r\n",
        );
    }
    memcached_command(port, "get k\r\n", "END\r\n");
    memcached_command(port, "get big0\r\n", "END\r\n");
    memcached_command(port, "get nope\r\n", "END\r\n");
    memcached_command(port, "get nope\r\n", "END\r\n");
    // A cas with a stale unique: memcached counts it in `cmd_set` too, the set hits do not.
    memcached_command(port, "cas k 0 0 5 999999\r\nworld\r\n", "EXISTS\r\n");

    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: cache\n    preset: memcached\n    address: 127.0.0.1:{port}\n"
    ));
    let text = exporter.metrics();
    let version = run_ok(Command::new(&memcached).arg("-V"));
    let version = version.trim().trim_start_matches("memcached ");
    for (series, want) in [
        ("memcached_up".to_string(), 1.0),
        (format!(r#"memcached_version{{version="{version}"}}"#), 1.0),
        (
            r#"memcached_commands_total{command="get",status="hit"}"#.to_string(),
            2.0,
        ),
        (
            r#"memcached_commands_total{command="get",status="miss"}"#.to_string(),
            2.0,
        ),
        (
            r#"memcached_commands_total{command="set",status="hit"}"#.to_string(),
            3.0,
        ),
        (
            r#"memcached_commands_total{command="cas",status="badval"}"#.to_string(),
            1.0,
        ),
        ("memcached_current_items".to_string(), 3.0),
        ("memcached_items_total".to_string(), 3.0),
        ("memcached_limit_bytes".to_string(), 32.0 * 1024.0 * 1024.0),
        ("memcached_max_connections".to_string(), 700.0),
        ("memcached_accepting_connections".to_string(), 1.0),
        // Debian's memcached runs the LRU crawler and maintainer by default.
        ("memcached_lru_crawler_enabled".to_string(), 1.0),
        ("memcached_lru_crawler_maintainer_thread".to_string(), 1.0),
    ] {
        assert_eq!(sample_value(&text, &series), Some(want), "{series}\n{text}");
    }
    assert!(sample_value(&text, "memcached_current_bytes").unwrap() > 0.0);

    let exposition = parse(&text);
    for (family, kind) in [
        ("memcached_read_bytes_total", "counter"),
        ("memcached_malloced_bytes", "gauge"),
        ("memcached_max_connections", "gauge"),
        ("memcached_slab_current_items", "gauge"),
        ("memcached_slab_chunk_size_bytes", "gauge"),
        ("memcached_slab_chunks_used", "gauge"),
        ("memcached_slab_current_pages", "gauge"),
        ("memcached_slab_commands_total", "counter"),
        ("memcached_slab_lru_hits_total", "counter"),
        ("memcached_slab_mem_requested_bytes", "counter"),
        ("memcached_slab_items_evicted_total", "counter"),
        ("memcached_slab_hot_items", "gauge"),
        ("memcached_lru_crawler_enabled", "gauge"),
        ("memcached_lru_crawler_hot_percent", "gauge"),
        ("memcached_lru_crawler_sleep", "gauge"),
    ] {
        assert_eq!(
            exposition.types.get(family).map(String::as_str),
            Some(kind),
            "{family}\n{text}"
        );
    }
    // One page (1 MiB) per slab class in use, at least.
    assert!(sample_value(&text, "memcached_malloced_bytes").unwrap() >= 2.0 * 1024.0 * 1024.0);

    // Each slab class in use, by its label: the small item in the class with the smaller
    // chunks, the two big ones in the other, each read from `stats items` and `stats slabs`.
    let per_slab = |family: &str| -> BTreeMap<String, f64> {
        exposition
            .series
            .iter()
            .filter_map(|(key, value)| {
                let slab = key
                    .strip_prefix(family)?
                    .strip_prefix("{slab=\"")?
                    .strip_suffix("\"}")?;
                Some((slab.to_string(), *value))
            })
            .collect()
    };
    let items = per_slab("memcached_slab_current_items");
    assert_eq!(items.len(), 2, "two slab classes in use: {items:?}\n{text}");
    let chunk_sizes = per_slab("memcached_slab_chunk_size_bytes");
    let mut by_chunk: Vec<(f64, &String)> =
        items.keys().map(|slab| (chunk_sizes[slab], slab)).collect();
    by_chunk.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (small, large) = (by_chunk[0].1.clone(), by_chunk[1].1.clone());
    assert!(by_chunk[1].0 >= 2000.0, "{by_chunk:?}");
    assert_eq!(items[&small], 1.0, "{text}");
    assert_eq!(items[&large], 2.0, "{text}");
    assert_eq!(
        per_slab("memcached_slab_chunks_used")[&large],
        2.0,
        "{text}"
    );
    // The LRU maintainer moves items between the segments at its own pace: they add up.
    let in_segments: f64 = ["hot", "warm", "cold"]
        .iter()
        .map(|segment| per_slab(&format!("memcached_slab_{segment}_items"))[&large])
        .sum();
    assert_eq!(in_segments, 2.0, "{text}");
    assert!(per_slab("memcached_slab_mem_requested_bytes")[&large] > 4000.0);
    for (series, want) in [
        (
            format!(
                r#"memcached_slab_commands_total{{command="get",slab="{large}",status="hit"}}"#
            ),
            1.0,
        ),
        (
            format!(
                r#"memcached_slab_commands_total{{command="set",slab="{large}",status="hit"}}"#
            ),
            2.0,
        ),
        (
            format!(
                r#"memcached_slab_commands_total{{command="set",slab="{small}",status="hit"}}"#
            ),
            1.0,
        ),
        (
            format!(
                r#"memcached_slab_commands_total{{command="cas",slab="{small}",status="badval"}}"#
            ),
            1.0,
        ),
    ] {
        assert_eq!(sample_value(&text, &series), Some(want), "{series}\n{text}");
    }
    // One get hit per class, counted in the LRU segment the item was in at that moment.
    for slab in [&small, &large] {
        let hits: f64 = ["hot", "warm", "cold", "temporary"]
            .iter()
            .map(|lru| {
                let series =
                    format!(r#"memcached_slab_lru_hits_total{{lru="{lru}",slab="{slab}"}}"#);
                sample_value(&text, &series).unwrap_or_else(|| panic!("{series}\n{text}"))
            })
            .sum();
        assert_eq!(hits, 1.0, "slab {slab}\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// HAProxy

/// Series that move between two reads: the stats frontend serves the reads themselves, and the
/// down server's health checks keep running.
fn haproxy_moving(series: &str) -> bool {
    series.contains(r#"frontend="stats""#)
        || family(series) == "haproxy_server_downtime_seconds_total"
        || family(series) == "haproxy_server_check_failures_total"
        || family(series) == "haproxy_server_check_duration_seconds"
        // A rate over the last second: the two scrapes fall in different seconds.
        || family(series).ends_with("_current_session_rate")
}

#[test]
fn haproxy_side_by_side_with_haproxy_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let (_haproxy, stats, web) = start_haproxy(dir.path());
    // Some traffic: the backend has no working server, so these are 503s.
    for _ in 0..5 {
        let (status, _) = http_get(&format!("http://127.0.0.1:{web}/"), &[]);
        assert_eq!(status, 503);
    }
    let url = format!("http://127.0.0.1:{stats}/stats;csv");
    let peer_bin = require_tool("prometheus-haproxy-exporter", "prometheus-haproxy-exporter");
    let (_peer, peer_port) = spawn_listening(
        Command::new(peer_bin)
            .arg(format!("--haproxy.scrape-uri={url}"))
            .arg("--web.listen-address=127.0.0.1:0")
            .stderr(Stdio::null()),
        "the peer exporter",
    );
    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: lb\n    preset: haproxy\n    url: '{url}'\n"
    ));
    let (status, peer_text) = http_get(&format!("http://127.0.0.1:{peer_port}/metrics"), &[]);
    assert_eq!(status, 200);
    let ours_text = exporter.metrics();
    let peer = parse(&peer_text);
    let ours = parse(&ours_text);
    assert_eq!(ours.series["haproxy_up"], 1.0);
    assert_eq!(
        ours.series[r#"haproxy_server_up{backend="app",server="app1"}"#],
        0.0
    );
    assert_eq!(
        ours.series[r#"haproxy_server_up{backend="app",server="app2"}"#],
        1.0
    );
    assert_eq!(
        ours.series[r#"haproxy_frontend_http_responses_total{code="5xx",frontend="web"}"#],
        5.0
    );
    let not_emitted = compare(&peer, &ours, "haproxy_", haproxy_moving, |_, _| false);
    let expected: BTreeSet<String> = [
        "haproxy_exporter_build_info",
        "haproxy_exporter_csv_parse_failures_total",
        "haproxy_exporter_scrapes_total",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(not_emitted, expected);
}

// ---------------------------------------------------------------------------------------------
// PHP-FPM behind nginx

#[test]
fn php_fpm_behind_nginx() {
    let server = PhpFpmBehindNginx::start();
    let url = format!("http://127.0.0.1:{}/status?json&full", server.port);
    for _ in 0..3 {
        assert_eq!(http_get(&url, &[]).0, 200);
    }
    let exporter = Exporter::start(&format!(
        "collectors:\n  - name: php\n    preset: php_fpm\n    url: '{url}'\n"
    ));
    let text = exporter.metrics();
    assert_eq!(sample_value(&text, "phpfpm_up"), Some(1.0), "{text}");
    assert_eq!(
        sample_value(&text, r#"phpfpm_total_processes{pool="poolx"}"#),
        Some(2.0),
        "{text}"
    );
    // The exporter's own request is being served, so at least one is active.
    assert!(sample_value(&text, r#"phpfpm_active_processes{pool="poolx"}"#).unwrap() >= 1.0);
    let accepted = sample_value(&text, r#"phpfpm_accepted_connections{pool="poolx"}"#).unwrap();
    assert!(accepted >= 5.0, "{text}");

    let exposition = parse(&text);
    for (family, kind) in [
        ("phpfpm_accepted_connections", "counter"),
        ("phpfpm_listen_queue_length", "gauge"),
        ("phpfpm_process_requests", "counter"),
        ("phpfpm_process_last_request_memory", "gauge"),
        ("phpfpm_process_last_request_cpu", "gauge"),
        ("phpfpm_process_request_duration", "gauge"),
        ("phpfpm_process_state", "gauge"),
    ] {
        assert_eq!(
            exposition.types.get(family).map(String::as_str),
            Some(kind),
            "{family}\n{text}"
        );
    }
    // pm.static with two children: `child` 0 and 1, each in exactly one of the six states, and
    // the one serving the exporter's request is Running.
    let states = [
        "Idle",
        "Running",
        "Finishing",
        "Reading headers",
        "Getting request informations",
        "Ending",
    ];
    let mut running = 0.0;
    let mut requests = 0.0;
    for child in ["0", "1"] {
        let mut in_state = 0.0;
        for state in states {
            let series =
                format!(r#"phpfpm_process_state{{child="{child}",pool="poolx",state="{state}"}}"#);
            let value = sample_value(&text, &series).unwrap_or_else(|| panic!("{series}\n{text}"));
            assert!(value == 0.0 || value == 1.0, "{series} {value}");
            in_state += value;
            if state == "Running" {
                running += value;
            }
        }
        assert_eq!(in_state, 1.0, "child {child}\n{text}");
        for family in [
            "phpfpm_process_last_request_memory",
            "phpfpm_process_last_request_cpu",
            "phpfpm_process_request_duration",
        ] {
            let series = format!(r#"{family}{{child="{child}",pool="poolx"}}"#);
            assert!(
                sample_value(&text, &series).unwrap() >= 0.0,
                "{series}\n{text}"
            );
        }
        requests += sample_value(
            &text,
            &format!(r#"phpfpm_process_requests{{child="{child}",pool="poolx"}}"#),
        )
        .unwrap();
    }
    assert!(running >= 1.0, "{text}");
    // Every accepted request was (or is being) served by one of the two.
    assert_eq!(requests, accepted, "{text}");
    assert!(!text.contains(r#"child="2""#), "{text}");
}
