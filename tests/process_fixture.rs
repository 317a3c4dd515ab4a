//! The `process` collector end to end on a hand-made `/proc` (`tests/fixtures/proc/`, described
//! in `tests/fixtures/README.md`): what it exposes must be exactly
//! `tests/fixtures/golden/process_fixture.prom`, left out only the series that depend on the
//! machine running the test rather than on the fixture (see [`machine_independent`]).
//!
//! To rewrite the golden file after an intended change:
//! `UPDATE_GOLDEN=1 cargo test --test process_fixture`, then check the diff against the fixture.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::kinds::process::{procfs, ProcessCollector, ProcessConfig};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The collector under test, reading the `/proc` at `proc_root`, with per-thread metrics and
/// proportional memory (the golden file's settings) or with the defaults. The only place that
/// spells the collector config.
fn collector(proc_root: PathBuf, per_thread_and_smaps: bool) -> ProcessCollector {
    let settings = if per_thread_and_smaps {
        "threads: true\nsmaps: true\n"
    } else {
        ""
    };
    // `include_self`: the test's own pid may be one of the fixture's pids, which would otherwise
    // be skipped as the exporter's.
    let rest = r#"
include_self: true
groups:
  - {name: nginx, comm: [nginx]}
  - {name: php-fpm, cmdline: ['^php-fpm: master process'], children: true}
  - {name: backend, listening_port: 8000}
  - {name: redis, comm: [redis-server]}
  - {name: '{{comm}}', comm: [pause]}
"#;
    let yaml = format!("{settings}{rest}");
    let config: ProcessConfig = serde_yaml::from_str(&yaml).expect("the collector config");
    ProcessCollector::with_proc_root(&config, proc_root).expect("the collector")
}

/// One collection as text format 0.0.4, which must have gone without problems.
fn collect(collector: &ProcessCollector) -> String {
    let collection = collector
        .collect_blocking(Instant::now() + Duration::from_secs(20))
        .expect("the collection");
    assert!(collection.problems.is_empty(), "{:?}", collection.problems);
    let mut text = Vec::new();
    encode(&collection.families, Format::Text, &mut text);
    String::from_utf8(text).expect("UTF-8 exposition")
}

/// The exposition without what depends on the machine:
/// - `open_filedesc` and `worst_fd_ratio`: the reader takes the size of a `fd/` directory as its
///   number of entries, which holds on `/proc` (Linux 6.2 and later) but not for a directory on
///   disk (4096 on ext4, whatever the entries);
/// - resident memory, when the machine's pages are not 4 KiB: it is `stat`'s resident pages
///   times the page size of the machine, not of the fixture.
fn machine_independent(text: &str) -> String {
    let fd_families = [
        "namedprocess_namegroup_open_filedesc",
        "namedprocess_namegroup_worst_fd_ratio",
    ];
    let other_page_size = procfs::page_size() != 4096;
    text.lines()
        .filter(|line| {
            let name = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
                .unwrap_or(line);
            let name = name.split([' ', '{']).next().unwrap_or_default();
            !fd_families.contains(&name)
        })
        .filter(|line| !(other_page_size && line.contains("memtype=\"resident\"")))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// A `/proc` for the exporter's first collection, 100 s after boot: the pod's `pause` process
/// (pid 1) runs, the app's processes have not started yet.
fn proc_at_first_collection(dir: &Path, fixture: &Path) -> PathBuf {
    let root = dir.join("first");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::copy(fixture.join("stat"), root.join("stat")).expect("copy stat");
    std::fs::write(root.join("uptime"), "100.00 190.00\n").expect("write uptime");
    symlink(fixture.join("1"), root.join("1")).expect("symlink pid 1");
    root
}

/// The collector's root is a symlink, so that its first collection reads one `/proc` and the
/// next ones the fixture: every app process started after the first collection, so its counters
/// are what its files say (a process already running then counts only what it uses from then
/// on, which for pid 1 is nothing, its files being the same).
#[test]
fn fixture_proc_gives_the_golden_exposition() {
    let fixture = fixtures().join("proc");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("proc");
    symlink(proc_at_first_collection(dir.path(), &fixture), &root).expect("symlink root");
    let collector = collector(root.clone(), true);

    let first = collect(&collector);
    assert!(
        first.contains("namedprocess_namegroup_num_procs{groupname=\"nginx\"} 0\n"),
        "groups with a fixed name are there from the start:\n{first}"
    );

    std::fs::remove_file(&root).expect("remove root symlink");
    symlink(&fixture, &root).expect("symlink root to the fixture");
    let got = machine_independent(&collect(&collector));

    let golden = fixtures().join("golden/process_fixture.prom");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).expect("write the golden file");
    }
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert_eq!(got, want, "output differs from {}", golden.display());

    let again = machine_independent(&collect(&collector));
    assert_eq!(again, got, "the same files give the same output");
}

/// The wait channels need no `threads: true` (process-exporter reads them with or without
/// `-threads`): with the default settings they are the golden file's, which counts each grouped
/// process's `wchan` and, for pid 31 (two threads), each thread's: `backend` is pid 30 in
/// `do_select`, pid 31 and its thread 31 in `do_epoll_wait`, thread 35 running (`0`, not
/// counted); nginx's running worker 13 (`0`) is not counted either.
#[test]
fn wait_channels_need_no_threads_setting() {
    let fixture = fixtures().join("proc");
    let collector = collector(fixture, false);
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.contains("namedprocess_namegroup_threads_wchan"))
            .map(str::to_string)
            .collect()
    };
    let got = lines(&collect(&collector));
    let golden = fixtures().join("golden/process_fixture.prom");
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert_eq!(got, lines(&want));
    assert!(
        got.contains(
            &r#"namedprocess_namegroup_threads_wchan{groupname="backend",wchan="do_epoll_wait"} 2"#
                .to_string()
        ),
        "{got:#?}"
    );
    assert!(
        !collect(&collector).contains("namedprocess_namegroup_thread_count"),
        "per-thread families stay behind `threads: true`"
    );
}
