//! Discovery against real Debian servers on random loopback ports: two nginx (PHP-FPM behind
//! one), Apache, Redis, memcached and HAProxy, plus an SSH-style banner server and a server
//! that accepts and never answers. `discover` must find each app with the right preset and
//! address and nothing else of ours, within its bound; its output must pass `check`, and `once`
//! on it must give the series of a hand-written config.
//!
//! The machine may run other servers (other test suites): findings whose owner is not one of
//! this test's processes are left out of the comparison, never the other way round.

mod apache_support;
mod common;
mod nginx_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apache_support::{Apache, ApacheOptions};
use common::servers::{start_haproxy, start_memcached, PhpFpmBehindNginx, Redis};
use nginx_support::Nginx;

/// The tests here start servers that the others would discover: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn exporter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
}

/// One collector of the printed config: what its comment and keys say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Printed {
    /// The preset, or `prometheus` for a suggestion of the app's own metrics.
    preset: String,
    /// `url:` or `address:`.
    target: String,
    /// The pid in the comment.
    pid: Option<u32>,
    /// Printed commented out.
    commented: bool,
    name: String,
}

/// Reads the collectors `discover` printed after the default process collector.
fn printed(config: &str) -> Vec<Printed> {
    let mut found = Vec::new();
    let mut pid = None;
    let mut current: Option<Printed> = None;
    for line in config.lines() {
        let trimmed = line.trim_start();
        if let Some(comment) = trimmed.strip_prefix("# ") {
            if let Some(after) = comment.split(": pid ").nth(1) {
                pid = after.split(' ').next().and_then(|p| p.parse().ok());
            }
        }
        let commented = trimmed.starts_with("# ");
        let body = trimmed.trim_start_matches("# ").trim_start();
        if let Some(name) = body.strip_prefix("- name: ") {
            found.extend(current.take());
            current = Some(Printed {
                preset: String::new(),
                target: String::new(),
                pid,
                commented,
                name: name.to_string(),
            });
        } else if let Some(entry) = current.as_mut() {
            if let Some(preset) = body.strip_prefix("preset: ") {
                entry.preset = preset.to_string();
            } else if body == "kind: prometheus" {
                entry.preset = "prometheus".to_string();
            } else if let Some(target) = body
                .strip_prefix("url: ")
                .or_else(|| body.strip_prefix("address: "))
            {
                entry.target = target.trim_matches('"').to_string();
            }
        }
    }
    found.extend(current);
    found.retain(|p| p.name != "processes");
    found
}

/// This process and every process below it.
fn own_process_tree() -> BTreeSet<u32> {
    let mut parents = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.insert(pid, ppid);
        }
    }
    let mut tree = BTreeSet::from([std::process::id()]);
    loop {
        let before = tree.len();
        for (pid, ppid) in &parents {
            if tree.contains(ppid) {
                tree.insert(*pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

/// A server that sends an SSH banner to every connection and then waits.
fn banner_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
            held.push(stream);
        }
    });
    port
}

/// A server that accepts connections and never answers.
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

fn discover_round() -> (String, Duration) {
    let started = Instant::now();
    let output = exporter().arg("discover").output().unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "discover failed: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    (text, took)
}

/// Series identities (name and labels) of `once` for one collector; values move between runs.
fn once_series(dir: &std::path::Path, file: &str, collector: &str) -> BTreeSet<String> {
    let output = exporter()
        .current_dir(dir)
        .args(["once", "--config.file", file, "--collector", collector])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "once --collector {collector} on {file}: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_string()))
        .collect()
}

#[test]
fn discover_finds_each_app_with_its_preset_and_address_and_nothing_else() {
    let _serial = serial();
    let nginx = Nginx::start();
    let fpm = PhpFpmBehindNginx::start();
    let apache = Apache::start(ApacheOptions::mpm("event"));
    let redis = Redis::start();
    let (_memcached, memcached_port) = start_memcached();
    let dir = tempfile::tempdir().unwrap();
    let (_haproxy, haproxy_stats, haproxy_web) = start_haproxy(dir.path());
    let banner = banner_server();
    let silent = silent_server();

    let (text, took) = discover_round();
    // The round's own bound is 5 s; the process start and /proc reading come on top.
    assert!(took < Duration::from_secs(7), "discover took {took:?}");
    let ours = own_process_tree();
    let found: BTreeSet<(String, String, bool)> = printed(&text)
        .into_iter()
        .filter(|p| p.pid.is_some_and(|pid| ours.contains(&pid)))
        .map(|p| (p.preset, p.target, p.commented))
        .collect();
    let at = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    // This Apache serves its status page on its two plain ports: one app, one collector, on
    // the lower port.
    let apache_port = apache.port.min(apache.backend_port);
    let expected: BTreeSet<(String, String, bool)> = [
        ("nginx", at(nginx.port, "/stub_status")),
        ("nginx", at(fpm.port, "/stub_status")),
        ("php_fpm", at(fpm.port, "/status?json&full")),
        ("apache", at(apache_port, "/server-status?auto")),
        ("redis", format!("127.0.0.1:{}", redis.port)),
        ("memcached", format!("127.0.0.1:{memcached_port}")),
        ("haproxy", at(haproxy_stats, "/stats;csv")),
    ]
    .into_iter()
    .map(|(preset, target)| (preset.to_string(), target, false))
    .collect();
    assert_eq!(found, expected, "{text}");
    for port in [banner, silent, nginx.tls_port, haproxy_web] {
        assert!(!text.contains(&format!(":{port}")), "port {port}: {text}");
    }
    // The two nginx are told apart by name and label, the evidence is spelled out.
    assert!(
        text.contains(&format!("  - name: nginx_{}\n    preset: nginx\n    url: http://127.0.0.1:{}/stub_status\n    labels: {{port: \"{}\"}}\n", nginx.port, nginx.port, nginx.port)),
        "{text}"
    );
    assert!(
        text.contains(&format!("# redis on 127.0.0.1:{}: pid ", redis.port))
            && text.contains("\"redis-server\", \"PING\\r\\n\" matched"),
        "{text}"
    );
    assert!(
        text.contains(&format!("# php_fpm on 127.0.0.1:{}: pid ", fpm.port))
            && text.contains(", behind nginx; pid "),
        "{text}"
    );

    // The output is a config as it is.
    std::fs::write(dir.path().join("discovered.yaml"), &text).unwrap();
    let check = exporter()
        .current_dir(dir.path())
        .args(["check", "--config.file", "discovered.yaml"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check refused the discovered config: {}\n{text}",
        String::from_utf8_lossy(&check.stderr)
    );

    // `once` on it gives the series of the same collectors written by hand. Names follow the
    // printed ones: another server of the machine may make a preset's name carry its port.
    let mut hand_written = String::from("collectors:\n");
    let mut names = Vec::new();
    for entry in printed(&text)
        .into_iter()
        .filter(|p| p.pid.is_some_and(|pid| ours.contains(&pid)))
    {
        let key = if entry.target.starts_with("http") {
            "url"
        } else {
            "address"
        };
        let port = entry
            .target
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        let labels = if entry.name == entry.preset {
            String::new()
        } else {
            format!(", labels: {{port: '{port}'}}")
        };
        hand_written.push_str(&format!(
            "  - {{name: {}, preset: {}, {key}: '{}'{labels}}}\n",
            entry.name, entry.preset, entry.target
        ));
        names.push(entry.name);
    }
    assert_eq!(names.len(), 7, "{hand_written}");
    std::fs::write(dir.path().join("hand.yaml"), &hand_written).unwrap();
    for name in &names {
        // A first collection leaves its traces in the app (Redis counts the commands it was
        // sent, per command): the compared ones come after it.
        once_series(dir.path(), "hand.yaml", name);
        let discovered = once_series(dir.path(), "discovered.yaml", name);
        let hand = once_series(dir.path(), "hand.yaml", name);
        assert!(!hand.is_empty(), "{name}");
        assert_eq!(discovered, hand, "{name}");
    }
}

#[test]
fn discover_skips_excluded_ports_and_exits_0_with_the_process_collector() {
    let _serial = serial();
    let (_memcached, memcached_port) = start_memcached();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!("global:\n  discover:\n    exclude_ports: [{memcached_port}]\n"),
    )
    .unwrap();
    let output = exporter()
        .current_dir(dir.path())
        .args(["discover", "--config.file", "config.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("  - name: processes\n    kind: process\n"),
        "{text}"
    );
    assert!(!text.contains(&format!(":{memcached_port}")), "{text}");
    // Without the exclusion the same memcached is found.
    let (text, _) = discover_round();
    assert!(
        text.contains(&format!("address: 127.0.0.1:{memcached_port}")),
        "{text}"
    );
}

/// The value of `sidecar_exporter_target_requests_total` of the collector whose name is
/// `name`, or `name_PORT` (several of one preset), in `text`.
fn collector_line<'a>(text: &'a str, family: &str, names: &[String]) -> Option<&'a str> {
    text.lines().find(|line| {
        line.starts_with(family)
            && names
                .iter()
                .any(|name| line.contains(&format!("collector=\"{name}\"")))
    })
}

fn value(line: &str) -> f64 {
    line.rsplit_once(' ')
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn serve_discover_adds_and_retires_collectors_and_the_others_keep_counting() {
    let _serial = serial();
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.txt"), "requests: 5\n").unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "collectors:\n  - name: configured\n    kind: file\n    path: page.txt\n    format: kv\n    metrics:\n      - {name: page_requests, path: '{ .requests }'}\n",
    )
    .unwrap();
    let exporter = common::Exporter::start_in(
        dir,
        &[
            "--config.file",
            "config.yaml",
            "--discover",
            "--discover.interval",
            "1s",
        ],
    );
    let redis_names = ["redis".to_string(), format!("redis_{}", redis.port)];
    let up = "sidecar_exporter_collector_up{";
    let requests = "sidecar_exporter_target_requests_total{";
    common::eventually(Duration::from_secs(15), "redis discovered", || {
        collector_line(&exporter.metrics(), up, &redis_names).is_some_and(|l| value(l) == 1.0)
    });
    let text = exporter.metrics();
    assert!(
        text.contains("sidecar_exporter_discovered_collectors{preset=\"redis\"}"),
        "{text}"
    );
    let configured = ["configured".to_string()];
    let before = value(collector_line(&text, requests, &configured).unwrap());
    let redis_before = value(collector_line(&text, requests, &redis_names).unwrap());

    // A new app: its collector appears within the interval (and the socket check).
    let (memcached, memcached_port) = start_memcached();
    let memcached_names = [
        "memcached".to_string(),
        format!("memcached_{memcached_port}"),
    ];
    let appeared = Instant::now();
    common::eventually(Duration::from_secs(15), "memcached discovered", || {
        collector_line(&exporter.metrics(), up, &memcached_names).is_some_and(|l| value(l) == 1.0)
    });
    eprintln!("memcached collector after {:?}", appeared.elapsed());
    let text = exporter.metrics();
    assert!(value(collector_line(&text, requests, &configured).unwrap()) > before);
    assert!(value(collector_line(&text, requests, &redis_names).unwrap()) > redis_before);
    let (status, page) = exporter.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("id=\"discovery\""), "{page}");
    assert!(
        page.contains(&format!("127.0.0.1:{memcached_port}")),
        "{page}"
    );

    // The app goes away: so does its collector; the others keep counting.
    drop(memcached);
    common::eventually(Duration::from_secs(15), "memcached retired", || {
        collector_line(&exporter.metrics(), up, &memcached_names).is_none()
    });
    let text = exporter.metrics();
    assert!(value(collector_line(&text, requests, &configured).unwrap()) > before);
    assert!(collector_line(&text, up, &redis_names).is_some_and(|l| value(l) == 1.0));
}
