//! Side by side with Debian's `prometheus-process-exporter` on the same processes and the
//! equivalent config: same family names, help texts, types, label names and label values; the
//! same values for counts (processes, threads, states, fds), within a tolerance for memory and
//! counters (the two exporters read at slightly different moments).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, require_tool, wait_for_port, wait_until_asleep, ChildGuard};
use sidecar_exporter::collector::{Collection, Collector, Context};
use sidecar_exporter::kinds::process::{ProcessCollector, ProcessConfig};
use sidecar_exporter::model::MetricType;

/// The groups, in process-exporter's syntax; ours take the same entries under `groups:`.
const GROUPS: &str = r#"
  - name: "{{.Comm}}-a"
    cmdline: ['^sleep 6101$']
  - name: "fds"
    comm: [sleep]
    cmdline: ['^sleep 6102$']
  - name: "{{.ExeBase}}-t"
    cmdline: ['compat-6103']
"#;

const THREADS: &str = "# compat-6103\nimport threading, time\nfor _ in range(4):\n    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\ntime.sleep(600)\n";

type Series = BTreeMap<(String, Vec<(String, String)>), f64>;

#[derive(Default)]
struct Exposition {
    help: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
    series: Series,
}

fn parse_exposition(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.help.insert(name.to_string(), help.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.types.insert(name.to_string(), kind.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut parsed = Vec::new();
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"").unwrap();
                parsed.push((k.to_string(), v.trim_end_matches('"').to_string()));
            }
            parsed.sort();
            out.series
                .insert((name.to_string(), parsed), value.parse().unwrap());
        }
    }
    out
}

fn from_collection(c: &Collection) -> Exposition {
    let mut out = Exposition::default();
    for f in &c.families {
        out.help.insert(f.name.clone(), f.help.clone());
        let kind = match f.metric_type {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            other => panic!("unexpected type {other:?}"),
        };
        out.types.insert(f.name.clone(), kind.to_string());
        for s in &f.samples {
            let mut labels = s.labels.clone();
            labels.sort();
            out.series.insert((f.name.clone(), labels), s.value);
        }
    }
    out
}

fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn wait_for_proc(pid: u32, file: &str, ok: impl Fn(&str) -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::fs::read_to_string(format!("/proc/{pid}/{file}")).is_ok_and(|t| ok(&t)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("/proc/{pid}/{file} never became ready");
}

fn spawn(program: &str, args: &[&str]) -> ChildGuard {
    ChildGuard::spawn(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// How far apart two readings may be, by family.
fn tolerance(family: &str, labels: &[(String, String)], peer: f64) -> f64 {
    let memtype = labels
        .iter()
        .find(|(k, _)| k == "memtype")
        .map(|(_, v)| v.as_str());
    match family {
        // Proportional memory moves whenever any process sharing the pages starts or exits.
        "namedprocess_namegroup_memory_bytes"
            if matches!(
                memtype,
                Some("proportionalResident" | "proportionalSwapped")
            ) =>
        {
            0.10 * peer + 65536.0
        }
        "namedprocess_namegroup_memory_bytes" => 0.01 * peer + 16384.0,
        // Counters start at the first reading of each exporter; idle processes, so little moves.
        f if f.ends_with("cpu_seconds_total") => 0.05,
        f if f.ends_with("_total") => 50.0,
        // Counts must agree exactly.
        _ => 0.0,
    }
}

#[tokio::test]
async fn same_series_as_process_exporter() {
    let peer = require_tool("prometheus-process-exporter", "prometheus-process-exporter");
    require_tool("python3", "python3");

    let _sleeps: Vec<_> = (0..3).map(|_| spawn("sleep", &["6101"])).collect();
    let fds = spawn(
        "bash",
        &[
            "-c",
            "exec 3</dev/null 4</dev/null 5</dev/null; exec sleep 6102",
        ],
    );
    let threaded = spawn("python3", &["-c", THREADS]);
    wait_for_proc(fds.pid(), "comm", |c| c.trim() == "sleep");
    wait_for_proc(threaded.pid(), "status", |s| s.contains("Threads:\t5"));
    // Both exporters count states: compare them on processes that have settled.
    for pid in _sleeps.iter().chain([&fds, &threaded]).map(ChildGuard::pid) {
        wait_until_asleep(pid);
    }

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("process-exporter.yaml");
    std::fs::write(&config_path, format!("process_names:{GROUPS}")).unwrap();
    let port = free_port();
    let _peer = ChildGuard::spawn(
        Command::new(&peer)
            .arg("-config.path")
            .arg(&config_path)
            .args(["-web.listen-address", &format!("127.0.0.1:{port}")])
            .args(["-children=false", "-threads=true", "-gather-smaps=true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port, Duration::from_secs(10));

    let yaml = format!("threads: true\nsmaps: true\ngroups:{GROUPS}");
    let cfg: ProcessConfig = serde_yaml::from_str(&yaml).unwrap();
    let ours = ProcessCollector::from_config(&cfg).unwrap();
    let ctx = || Context::with_deadline(tokio::time::Instant::now() + Duration::from_secs(20));

    // One reading each to set the counters' starting points, then the compared readings.
    scrape(port);
    ours.collect(&ctx()).await.unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let theirs = parse_exposition(&scrape(port));
    let mine = from_collection(&ours.collect(&ctx()).await.unwrap());

    let groups: BTreeSet<&str> = ["sleep-a", "fds", "python3-t"].into();
    let in_groups = |series: &Series| -> Series {
        series
            .iter()
            .filter(|((_, labels), _)| {
                labels
                    .iter()
                    .any(|(k, v)| k == "groupname" && groups.contains(v.as_str()))
            })
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let (their_series, my_series) = (in_groups(&theirs.series), in_groups(&mine.series));
    assert!(
        !their_series.is_empty(),
        "process-exporter reported none of the groups"
    );

    // Same families, help texts and types.
    let families = |s: &Series| -> BTreeSet<String> { s.keys().map(|(n, _)| n.clone()).collect() };
    assert_eq!(
        families(&my_series),
        families(&their_series),
        "family names differ"
    );
    for family in families(&their_series) {
        assert_eq!(
            mine.help.get(&family),
            theirs.help.get(&family),
            "help of {family}"
        );
        assert_eq!(
            mine.types.get(&family),
            theirs.types.get(&family),
            "type of {family}"
        );
    }
    for family in [
        "namedprocess_scrape_errors",
        "namedprocess_scrape_partial_errors",
        "namedprocess_scrape_procread_errors",
    ] {
        assert!(
            mine.types.contains_key(family) && theirs.types.contains_key(family),
            "{family}"
        );
    }

    // Same label names and values, series by series.
    let keys =
        |s: &Series| -> BTreeSet<(String, Vec<(String, String)>)> { s.keys().cloned().collect() };
    let only_theirs: Vec<_> = keys(&their_series)
        .difference(&keys(&my_series))
        .cloned()
        .collect();
    let only_mine: Vec<_> = keys(&my_series)
        .difference(&keys(&their_series))
        .cloned()
        .collect();
    assert!(
        only_theirs.is_empty() && only_mine.is_empty(),
        "series differ:\nonly process-exporter: {only_theirs:#?}\nonly ours: {only_mine:#?}"
    );

    // Values: exact for counts, within tolerance for memory and counters.
    let mut mismatches = Vec::new();
    for ((family, labels), peer_value) in &their_series {
        let my_value = my_series[&(family.clone(), labels.clone())];
        let allowed = tolerance(family, labels, *peer_value);
        if (my_value - peer_value).abs() > allowed + 1e-9 {
            mismatches.push(format!("{family}{labels:?}: ours {my_value}, process-exporter {peer_value} (tolerance {allowed})"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "values differ:\n{}",
        mismatches.join("\n")
    );

    // The exact ones, spelled out so a change in tolerance cannot hide them.
    let g = |v: &str| vec![("groupname".to_string(), v.to_string())];
    assert_eq!(
        my_series[&("namedprocess_namegroup_num_procs".into(), g("sleep-a"))],
        3.0
    );
    assert_eq!(
        my_series[&("namedprocess_namegroup_num_threads".into(), g("python3-t"))],
        5.0
    );
    assert_eq!(
        my_series[&("namedprocess_namegroup_open_filedesc".into(), g("fds"))],
        their_series[&("namedprocess_namegroup_open_filedesc".into(), g("fds"))]
    );
}
