//! Side by side with Debian's `prometheus-process-exporter` on the same processes and the
//! equivalent config: same family names, help texts, types, label names and label values; the
//! same values for counts (processes, threads, states, fds, wait channels), within a tolerance
//! for memory and counters (the two exporters read at slightly different moments). Once with
//! per-thread metrics and proportional memory, once with this exporter's defaults.

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
/// `BASE` is replaced by each test's own number, so that tests running at the same time watch
/// their own processes.
const GROUPS: &str = r#"
  - name: "{{.Comm}}-a"
    cmdline: ['^sleep BASE01$']
  - name: "fds"
    comm: [sleep]
    cmdline: ['^sleep BASE02$']
  - name: "{{.ExeBase}}-t"
    cmdline: ['compat-BASE03']
"#;

/// A process of five threads, all asleep, found by the `compat-BASE03` in its command line.
const THREADS: &str = "# compat-BASE03\nimport threading, time\nfor _ in range(4):\n    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\ntime.sleep(600)\n";

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

/// What both exporters reported for the groups of one test.
struct SideBySide {
    theirs: Exposition,
    mine: Exposition,
}

/// Held while a side-by-side comparison runs.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts the watched processes (three `sleep BASE01`, a `sleep BASE02` holding three more
/// fds, a five-thread python), process-exporter with `peer_flags` and the groups, and our
/// collector with `settings` and the same groups; returns what each reported on its second
/// reading (the first sets the counters' starting points).
async fn side_by_side(base: u32, peer_flags: &[&str], settings: &str) -> SideBySide {
    // One comparison at a time: proportional memory (PSS) divides shared pages among the
    // processes mapping them, so the other test's python3 starting or exiting between our
    // reading and the peer's would change the value compared.
    let _alone = ONE_AT_A_TIME.lock().await;
    let peer = require_tool("prometheus-process-exporter", "prometheus-process-exporter");
    require_tool("python3", "python3");
    let base = base.to_string();
    let groups = GROUPS.replace("BASE", &base);
    let arg = |n: &str| format!("{base}{n}");

    let sleeps: Vec<_> = (0..3).map(|_| spawn("sleep", &[&arg("01")])).collect();
    let fds = spawn(
        "bash",
        &[
            "-c",
            &format!(
                "exec 3</dev/null 4</dev/null 5</dev/null; exec sleep {}",
                arg("02")
            ),
        ],
    );
    let threaded = spawn("python3", &["-c", &THREADS.replace("BASE", &base)]);
    wait_for_proc(fds.pid(), "comm", |c| c.trim() == "sleep");
    wait_for_proc(threaded.pid(), "status", |s| s.contains("Threads:\t5"));
    // Both exporters count states and wait channels: compare them on processes that have
    // settled.
    for pid in sleeps.iter().chain([&fds, &threaded]).map(ChildGuard::pid) {
        wait_until_asleep(pid);
    }

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("process-exporter.yaml");
    std::fs::write(&config_path, format!("process_names:{groups}")).unwrap();
    let port = free_port();
    let _peer = ChildGuard::spawn(
        Command::new(&peer)
            .arg("-config.path")
            .arg(&config_path)
            .args(["-web.listen-address", &format!("127.0.0.1:{port}")])
            .args(peer_flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port, Duration::from_secs(10));

    let yaml = format!("{settings}groups:{groups}");
    let cfg: ProcessConfig = serde_yaml::from_str(&yaml).unwrap();
    let ours = ProcessCollector::from_config(&cfg).unwrap();
    let ctx = || Context::with_deadline(tokio::time::Instant::now() + Duration::from_secs(20));

    scrape(port);
    ours.collect(&ctx()).await.unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let theirs = parse_exposition(&scrape(port));
    let mine = from_collection(&ours.collect(&ctx()).await.unwrap());
    SideBySide { theirs, mine }
}

/// The series of the test's groups.
fn in_groups(series: &Series) -> Series {
    let groups: BTreeSet<&str> = ["sleep-a", "fds", "python3-t"].into();
    series
        .iter()
        .filter(|((_, labels), _)| {
            labels
                .iter()
                .any(|(k, v)| k == "groupname" && groups.contains(v.as_str()))
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn families(series: &Series) -> BTreeSet<String> {
    series.keys().map(|(name, _)| name.clone()).collect()
}

/// Same families (help texts and types too), same series, same values (exact for counts,
/// within [`tolerance`] for memory and counters).
fn assert_same(both: &SideBySide) {
    let (theirs, mine) = (&both.theirs, &both.mine);
    let (their_series, my_series) = (in_groups(&theirs.series), in_groups(&mine.series));
    assert!(
        !their_series.is_empty(),
        "process-exporter reported none of the groups"
    );

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

/// The wait channels of a group, by wait channel.
fn wchans(series: &Series, group: &str) -> BTreeMap<String, f64> {
    series
        .iter()
        .filter(|((name, labels), _)| {
            name == "namedprocess_namegroup_threads_wchan"
                && labels.iter().any(|(k, v)| k == "groupname" && v == group)
        })
        .filter_map(|((_, labels), value)| {
            let wchan = labels.iter().find(|(k, _)| k == "wchan")?;
            Some((wchan.1.clone(), *value))
        })
        .collect()
}

#[tokio::test]
async fn same_series_as_process_exporter() {
    let both = side_by_side(
        61,
        &["-children=false", "-threads=true", "-gather-smaps=true"],
        "threads: true\nsmaps: true\n",
    )
    .await;
    assert_same(&both);
}

/// With this exporter's defaults (no `threads`, no `smaps`, no `children`) against
/// process-exporter with the same choices: process-exporter reads the wait channels even with
/// `-threads=false`, so `threads_wchan` must be there too. (process-exporter's own default,
/// `-threads=true`, adds the per-thread families that `threads: true` gives, compared above.)
#[tokio::test]
async fn default_settings_give_the_same_families_as_process_exporter() {
    let both = side_by_side(
        62,
        &["-children=false", "-threads=false", "-gather-smaps=false"],
        "",
    )
    .await;
    let their_families = families(&in_groups(&both.theirs.series));
    assert!(
        their_families.contains("namedprocess_namegroup_threads_wchan"),
        "process-exporter reported no wait channels: {their_families:?}"
    );
    assert!(
        !their_families.iter().any(|f| f.contains("_thread_")),
        "per-thread families with -threads=false: {their_families:?}"
    );
    assert_eq!(
        families(&in_groups(&both.mine.series)),
        their_families,
        "family names differ with the default settings"
    );
    assert_same(&both);
    // A process counts its own wait channel, and each of its threads' when it has several:
    // the five-thread python sleeping in all six.
    let mine = in_groups(&both.mine.series);
    let total: f64 = wchans(&mine, "python3-t").values().sum();
    assert_eq!(total, 6.0, "{:?}", wchans(&mine, "python3-t"));
    let total: f64 = wchans(&mine, "sleep-a").values().sum();
    assert_eq!(total, 3.0, "{:?}", wchans(&mine, "sleep-a"));
}
