//! The `process` collector against real processes: counts, fds, threads, CPU, counters across a
//! child's exit, every matcher, and a collector running without the rights to read everything.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, require_tool, wait_for_port, wait_until_asleep, ChildGuard};
use sidecar_exporter::collector::{Collection, Collector, Context, Reason};
use sidecar_exporter::kinds::process::{default_config, ProcessCollector, ProcessConfig};

fn collector(groups_yaml: &str, extra: &str) -> ProcessCollector {
    let yaml = format!("{extra}\ngroups:\n{groups_yaml}");
    let cfg: ProcessConfig = serde_yaml::from_str(&yaml).unwrap();
    ProcessCollector::from_config(&cfg).unwrap()
}

async fn collect(c: &ProcessCollector) -> Collection {
    let ctx = Context::with_deadline(tokio::time::Instant::now() + Duration::from_secs(20));
    c.collect(&ctx).await.expect("collection failed")
}

fn value(c: &Collection, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = c.families.iter().find(|f| f.name == family)?;
    family
        .samples
        .iter()
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}

fn get(c: &Collection, family: &str, labels: &[(&str, &str)]) -> f64 {
    value(c, family, labels).unwrap_or_else(|| panic!("no {family}{labels:?} in {c:#?}"))
}

fn cpu(c: &Collection, group: &str) -> f64 {
    get(
        c,
        "namedprocess_namegroup_cpu_seconds_total",
        &[("groupname", group), ("mode", "user")],
    ) + get(
        c,
        "namedprocess_namegroup_cpu_seconds_total",
        &[("groupname", group), ("mode", "system")],
    )
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

/// Waits until `/proc/PID/FILE` satisfies `ok` (an exec done, threads started).
fn wait_for_proc(pid: u32, file: &str, ok: impl Fn(&str) -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/{file}")) {
            if ok(&text) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("/proc/{pid}/{file} never became ready");
}

#[tokio::test]
async fn several_sleeps_in_one_group() {
    let _sleeps: Vec<_> = (0..3).map(|_| spawn("sleep", &["6001"])).collect();
    let _other = spawn("sleep", &["6091"]);
    for sleep in &_sleeps {
        wait_until_asleep(sleep.pid());
    }
    let c = collector(
        "  - {name: sleepers, comm: [sleep], cmdline: ['^sleep 6001$']}",
        "",
    );
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "sleepers")]
        ),
        3.0
    );
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_threads",
            &[("groupname", "sleepers")]
        ),
        3.0
    );
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_states",
            &[("groupname", "sleepers"), ("state", "Sleeping")]
        ),
        3.0
    );
    assert!(
        get(
            &got,
            "namedprocess_namegroup_memory_bytes",
            &[("groupname", "sleepers"), ("memtype", "resident")]
        ) > 0.0
    );
    assert!(
        get(
            &got,
            "namedprocess_namegroup_memory_bytes",
            &[("groupname", "sleepers"), ("memtype", "virtual")]
        ) > 0.0
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let oldest = get(
        &got,
        "namedprocess_namegroup_oldest_start_time_seconds",
        &[("groupname", "sleepers")],
    );
    assert!(
        (now - oldest).abs() < 30.0,
        "oldest start {oldest} vs now {now}"
    );
    // Every family process-exporter has, with its type.
    let families: Vec<&str> = got.families.iter().map(|f| f.name.as_str()).collect();
    for name in [
        "namedprocess_namegroup_num_procs",
        "namedprocess_namegroup_cpu_seconds_total",
        "namedprocess_namegroup_memory_bytes",
        "namedprocess_namegroup_open_filedesc",
        "namedprocess_namegroup_worst_fd_ratio",
        "namedprocess_namegroup_num_threads",
        "namedprocess_namegroup_states",
        "namedprocess_namegroup_oldest_start_time_seconds",
        "namedprocess_namegroup_context_switches_total",
        "namedprocess_namegroup_read_bytes_total",
        "namedprocess_namegroup_write_bytes_total",
        "namedprocess_namegroup_major_page_faults_total",
        "namedprocess_namegroup_minor_page_faults_total",
    ] {
        assert!(families.contains(&name), "{name} missing from {families:?}");
    }
}

#[tokio::test]
async fn open_file_descriptors_are_exact() {
    // bash opens fds 3..=7 and execs sleep, which keeps them: 0, 1, 2 plus 5.
    let child = spawn(
        "bash",
        &[
            "-c",
            "exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null; exec sleep 6002",
        ],
    );
    wait_for_proc(child.pid(), "comm", |c| c.trim() == "sleep");
    let c = collector("  - {name: fds, cmdline: ['^sleep 6002$']}", "");
    let got = collect(&c).await;
    // The truth, counted by listing the directory (the collector takes the directory's size):
    // 0, 1, 2, the five from bash, and whatever this test process inherited without CLOEXEC.
    let listed = std::fs::read_dir(format!("/proc/{}/fd", child.pid()))
        .unwrap()
        .count() as f64;
    assert!(listed >= 8.0);
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_open_filedesc",
            &[("groupname", "fds")]
        ),
        listed
    );
    let limit: f64 = std::fs::read_to_string(format!("/proc/{}/limits", child.pid()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap()
        .parse()
        .unwrap();
    let ratio = get(
        &got,
        "namedprocess_namegroup_worst_fd_ratio",
        &[("groupname", "fds")],
    );
    assert!(
        (ratio - listed / limit).abs() < 1e-12,
        "ratio {ratio}, limit {limit}"
    );
}

const THREADS: &str = "import threading, time\nfor _ in range(4):\n    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\ntime.sleep(600)\n";

#[tokio::test]
async fn thread_counts_and_per_thread_metrics() {
    require_tool("python3", "python3");
    let child = spawn("python3", &["-c", THREADS]);
    wait_for_proc(child.pid(), "status", |s| s.contains("Threads:\t5"));
    wait_until_asleep(child.pid());
    let c = collector(
        &format!("  - {{name: threaded, pid: {}}}", child.pid()),
        "threads: true",
    );
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_threads",
            &[("groupname", "threaded")]
        ),
        5.0
    );
    // process-exporter counts a multi-threaded process by its own state and by each thread's.
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_states",
            &[("groupname", "threaded"), ("state", "Sleeping")]
        ),
        6.0
    );
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_thread_count",
            &[("groupname", "threaded"), ("threadname", "python3")]
        ),
        5.0
    );
    assert!(value(
        &got,
        "namedprocess_namegroup_thread_cpu_seconds_total",
        &[
            ("groupname", "threaded"),
            ("threadname", "python3"),
            ("mode", "user")
        ]
    )
    .is_some());
    let wchans: f64 = got
        .families
        .iter()
        .find(|f| f.name == "namedprocess_namegroup_threads_wchan")
        .map(|f| f.samples.iter().map(|s| s.value).sum())
        .unwrap_or(0.0);
    assert_eq!(
        wchans, 6.0,
        "one wait channel for the process and one per thread"
    );
}

#[tokio::test]
async fn cpu_seconds_grow_for_a_busy_process() {
    let _burner = spawn("bash", &["-c", "while :; do :; done"]);
    let c = collector(&format!("  - {{name: burner, pid: {}}}", _burner.pid()), "");
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", _burner.pid())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
    };
    // The machine may be busy: compare with what the kernel says around each collection.
    let outer_before = ticks();
    let first = collect(&c).await;
    let inner_before = ticks();
    std::thread::sleep(Duration::from_millis(1500));
    let inner_after = ticks();
    let second = collect(&c).await;
    let outer_after = ticks();
    let grown = cpu(&second, "burner") - cpu(&first, "burner");
    assert!(
        grown > 0.05,
        "cpu grew by only {grown} s in 1.5 s of busy loop"
    );
    assert!(
        grown >= inner_after - inner_before - 1e-9 && grown <= outer_after - outer_before + 1e-9,
        "cpu grew by {grown} s, the kernel says between {} and {}",
        inner_after - inner_before,
        outer_after - outer_before
    );
}

#[tokio::test]
async fn counters_stay_monotonic_when_a_child_exits() {
    // The parent waits for a line, then runs a child that burns CPU for 4 s and exits.
    let mut parent = ChildGuard::spawn(
        Command::new("bash")
            .args([
                "-c",
                "read line; (end=$((SECONDS+4)); while [ $SECONDS -lt $end ]; do :; done); exec sleep 6005",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let c = collector(
        &format!(
            "  - {{name: family, pid: {}, children: true}}",
            parent.pid()
        ),
        "",
    );
    let before = collect(&c).await;
    assert_eq!(
        get(
            &before,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "family")]
        ),
        1.0
    );
    parent.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    // Poll rather than sleep a fixed time: on a loaded machine the child may get little CPU
    // at first. It burns for 4 s of wall time, so it is still running while this polls.
    let cpu_before = cpu(&before, "family");
    let started = Instant::now();
    let during = loop {
        let during = collect(&c).await;
        let procs = get(
            &during,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "family")],
        );
        if procs == 2.0 && cpu(&during, "family") > cpu_before + 0.05 {
            break during;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the child never showed with CPU: num_procs {procs}, cpu {} then {}",
            cpu_before,
            cpu(&during, "family")
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    wait_for_proc(parent.pid(), "comm", |c| c.trim() == "sleep");
    let after = collect(&c).await;
    assert_eq!(
        get(
            &after,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "family")]
        ),
        1.0
    );
    let (a, b, c_) = (
        cpu(&before, "family"),
        cpu(&during, "family"),
        cpu(&after, "family"),
    );
    assert!(b > a + 0.05, "the child's CPU did not count: {a} then {b}");
    assert!(
        c_ >= b,
        "cpu went down after the child exited: {b} then {c_}"
    );
    for family in [
        "namedprocess_namegroup_minor_page_faults_total",
        "namedprocess_namegroup_major_page_faults_total",
        "namedprocess_namegroup_read_bytes_total",
        "namedprocess_namegroup_write_bytes_total",
    ] {
        let (x, y) = (
            get(&during, family, &[("groupname", "family")]),
            get(&after, family, &[("groupname", "family")]),
        );
        assert!(y >= x, "{family} went down: {x} then {y}");
    }
}

#[tokio::test]
async fn pidfile_follows_the_file() {
    let a = spawn("sleep", &["6006"]);
    let b = spawn("sleep", &["6006"]);
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("app.pid");
    std::fs::write(&pidfile, format!("{}\n", a.pid())).unwrap();
    let c = collector(
        &format!(
            "  - {{name: 'app-{{{{pid}}}}', pidfile: '{}'}}",
            pidfile.display()
        ),
        "remove_empty_groups: true",
    );
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", &format!("app-{}", a.pid()))]
        ),
        1.0
    );
    std::fs::write(&pidfile, format!("{}\n", b.pid())).unwrap();
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", &format!("app-{}", b.pid()))]
        ),
        1.0
    );
    assert_eq!(
        value(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", &format!("app-{}", a.pid()))]
        ),
        None
    );
    std::fs::remove_file(&pidfile).unwrap();
    let got = collect(&c).await;
    assert_eq!(
        value(&got, "namedprocess_namegroup_num_procs", &[]),
        None,
        "no pidfile, no group"
    );
}

#[tokio::test]
async fn pid_matcher_and_self_exclusion() {
    let me = std::process::id();
    let c = collector(&format!("  - {{name: me, pid: {me}}}"), "");
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "me")]
        ),
        0.0
    );
    let c = collector(
        &format!("  - {{name: me, pid: {me}}}"),
        "include_self: true",
    );
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "me")]
        ),
        1.0
    );
    // The embedded default names groups by comm and leaves the exporter out.
    let child = spawn("sleep", &["6007"]);
    let c = ProcessCollector::from_config(&default_config()).unwrap();
    let got = collect(&c).await;
    assert!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "sleep")]
        ) >= 1.0
    );
    // Another run of this same test binary (its comm is this one's) may be alive: the group
    // must count exactly the others, not this process.
    let my_comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    let others_with_my_comm = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.parse::<u32>()
                    .is_ok_and(|pid| pid != std::process::id())
            })
            .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c == my_comm))
            .count() as f64
    };
    let others_before = others_with_my_comm();
    let got = collect(&c).await;
    let others_after = others_with_my_comm();
    let mine = value(
        &got,
        "namedprocess_namegroup_num_procs",
        &[("groupname", my_comm.trim())],
    )
    .unwrap_or(0.0);
    assert!(
        mine == others_before || mine == others_after,
        "the exporter itself was counted: {mine} processes named {my_comm:?}, \
         others alive: {others_before} then {others_after}"
    );
    drop(child);
}

#[tokio::test]
async fn empty_groups_report_zero_or_disappear() {
    let groups = "  - {name: nothing-here, comm: [no-such-process]}";
    let got = collect(&collector(groups, "")).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "nothing-here")]
        ),
        0.0
    );
    let got = collect(&collector(groups, "remove_empty_groups: true")).await;
    assert_eq!(
        value(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "nothing-here")]
        ),
        None
    );
}

const LISTENER: &str = "import socket, sys, time\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\ntime.sleep(600)\n";

#[tokio::test]
async fn listening_port_finds_the_owner() {
    require_tool("python3", "python3");
    let port = free_port();
    let c = collector(
        &format!("  - {{name: '{{{{comm}}}}', listening_port: {port}}}"),
        "",
    );
    // Nothing listens yet.
    let got = collect(&c).await;
    assert_eq!(
        value(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "python3")]
        ),
        None
    );
    let listener = spawn("python3", &["-c", LISTENER, &port.to_string()]);
    wait_for_port(port, Duration::from_secs(10));
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "python3")]
        ),
        1.0
    );
    drop(listener);
}

#[tokio::test]
async fn user_matcher() {
    let setpriv = require_tool("setpriv", "util-linux");
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    assert!(
        is_root,
        "this test starts a process as `nobody`: run the tests as root"
    );
    let _as_nobody = ChildGuard::spawn(
        Command::new(&setpriv)
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "sleep",
                "6008",
            ])
            .stdout(Stdio::null()),
    );
    let _as_root = spawn("sleep", &["6008"]);
    wait_for_proc(_as_nobody.pid(), "comm", |c| c.trim() == "sleep");
    let c = collector(
        "  - {name: '{{username}}', user: nobody, cmdline: ['^sleep 6008$']}",
        "",
    );
    let got = collect(&c).await;
    assert_eq!(
        get(
            &got,
            "namedprocess_namegroup_num_procs",
            &[("groupname", "nobody")]
        ),
        1.0
    );
}

/// Run as `nobody` by `permission_denied_lowers_figures_only`: reads a root process.
#[tokio::test]
async fn permission_inner() {
    let Ok(pid) = std::env::var("PROCESS_TEST_TARGET_PID") else {
        return; // only meaningful when started by the outer test
    };
    let c = collector(&format!("  - {{name: target, pid: {pid}}}"), "");
    let got = collect(&c).await;
    let procs = get(
        &got,
        "namedprocess_namegroup_num_procs",
        &[("groupname", "target")],
    );
    let permission: Vec<_> = got
        .problems
        .iter()
        .filter(|p| p.reason == Reason::Permission)
        .collect();
    println!(
        "RESULT procs={procs} permission_problems={}",
        permission.len()
    );
    for p in &permission {
        println!("PROBLEM {}", p.message);
    }
}

#[test]
fn permission_denied_lowers_figures_only() {
    let setpriv = require_tool("setpriv", "util-linux");
    let target = spawn("sleep", &["6009"]);
    let me = std::env::current_exe().unwrap();
    let out = Command::new(&setpriv)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&me)
        .args([
            "--exact",
            "permission_inner",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PROCESS_TEST_TARGET_PID", target.pid().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "inner test failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("RESULT procs=1 permission_problems=1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PROBLEM permission denied reading io"),
        "{stdout}"
    );
}
