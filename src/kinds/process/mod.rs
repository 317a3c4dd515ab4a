//! The `process` kind: stats of the app's processes from `/proc`, process-exporter compatible.
//!
//! Processes are put in groups (`groups:`, first match wins) and each group is reported with
//! process-exporter's `namedprocess_namegroup_*` families, names, labels and help texts, so its
//! dashboards and alerts work unchanged.
//!
//! Where this differs from process-exporter, on purpose:
//! - a group whose name has no placeholder reports `num_procs 0` from the start (process-exporter
//!   shows a group only once a process matched it), so "is my app running" can be alerted on;
//! - a process that `exec`s (its comm changes) is matched anew, as process-exporter does only with
//!   `-recheck`;
//! - `children` is set per group (`children: true`), not for all groups at once;
//! - an empty group's `oldest_start_time_seconds` is 0 (process-exporter reports Go's zero time,
//!   -62135596800).

mod families;
mod matching;
pub mod procfs;
mod tracker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::collector::{CollectError, Collection, Collector, Context, Reason};
use crate::config::{ConfigError, KeyError, KindKeys};
use crate::explain::Recorder;
use crate::kinds::Builder;
use matching::Group;
use procfs::{parse_boot_time, ProcReader};
use tracker::{Settings, State};

/// One entry of `groups:`: which processes form the group, and its name. Every matcher given
/// must agree; a group needs at least one. The first group a process matches wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group name (the `groupname` label), a template: `{{comm}}` (process name),
    /// `{{exebase}}` (base name of `argv[0]`), `{{exefull}}` (`argv[0]`), `{{username}}`,
    /// `{{matches.NAME}}` (a named capture of a `cmdline` regex), `{{pid}}` (one series per
    /// process: avoid). process-exporter's `{{.Comm}}` spelling works too. Default `{{exebase}}`.
    #[serde(default)]
    pub name: String,
    /// Process names (`/proc/PID/comm`, at most 15 characters) that match, exactly.
    #[serde(default)]
    pub comm: Vec<String>,
    /// Executables that match: a base name (`nginx`) matches `argv[0]`'s base name, a path
    /// (`/usr/sbin/nginx`) matches `argv[0]` exactly.
    #[serde(default)]
    pub exe: Vec<String>,
    /// Regexes that must all be found in the command line (arguments joined by spaces).
    /// `['.+']` matches every process except kernel threads.
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// A file holding the pid of the process (re-read on every collection).
    pub pidfile: Option<String>,
    /// The pid of the process.
    pub pid: Option<u32>,
    /// The process(es) holding a TCP socket listening on this port (any address, IPv4 or IPv6).
    pub listening_port: Option<u16>,
    /// Only processes running as this user (a name from `/etc/passwd`, or a numeric uid).
    pub user: Option<String>,
    /// Also put the descendants of a matched process in this group (unless they match a group
    /// of their own).
    #[serde(default)]
    pub children: bool,
}

/// The `process` kind's keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// The process groups, first match wins.
    pub groups: Option<Vec<GroupConfig>>,
    /// Drop a group with no processes instead of reporting `num_procs 0`.
    pub remove_empty_groups: Option<bool>,
    /// Per-thread metrics with a `threadname` label.
    pub threads: Option<bool>,
    /// Read `/proc/PID/smaps_rollup` for proportional memory.
    pub smaps: Option<bool>,
    /// Also match the exporter's own process.
    pub include_self: Option<bool>,
}

/// The process collector of the embedded default config (`src/config/default.yaml`): one group
/// per process name, every process but kernel threads and the exporter itself.
pub fn default_config() -> ProcessConfig {
    crate::config::load(None)
        .ok()
        .and_then(|loaded| KindKeys::new(&loaded, 0, "process").take().ok())
        .unwrap_or_default()
}

/// Reads a `process` collector's keys.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let config = keys.take::<ProcessConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        Ok(Arc::new(ProcessCollector::from_config(&config)?))
    }))
}

struct Inner {
    settings: Settings,
    proc_root: PathBuf,
    boot_time: u64,
    state: Mutex<State>,
    target: String,
}

/// The `process` collector. It keeps, between collections, what each process used so far, so
/// that a group's counters never go down when its processes exit.
#[derive(Clone)]
pub struct ProcessCollector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProcessCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCollector")
            .field("target", &self.inner.target)
            .finish()
    }
}

impl ProcessCollector {
    /// Builds the collector from its config (`groups`, `remove_empty_groups`, `threads`,
    /// `smaps`, `include_self`). Errors say which group and key is wrong.
    pub fn from_config(cfg: &ProcessConfig) -> Result<ProcessCollector, KeyError> {
        Self::with_proc_root(cfg, PathBuf::from("/proc"))
    }

    /// Like [`ProcessCollector::from_config`], reading another `/proc` (a host's `/proc`
    /// mounted elsewhere, or a test fixture).
    pub fn with_proc_root(
        cfg: &ProcessConfig,
        proc_root: PathBuf,
    ) -> Result<ProcessCollector, KeyError> {
        let configs = match &cfg.groups {
            Some(groups) if !groups.is_empty() => groups,
            _ => {
                return Err(KeyError::from(
                    "`groups` is required for kind process: give at least one group, e.g. \
                     `groups: [{name: \"{{comm}}\", cmdline: ['.+']}]`",
                ))
            }
        };
        let users = || {
            std::fs::read_to_string("/etc/passwd")
                .map(|t| procfs::parse_passwd(&t))
                .unwrap_or_default()
        };
        let groups = configs
            .iter()
            .enumerate()
            .map(|(i, g)| {
                Group::compile(i, g, &users)
                    .map_err(|e| KeyError::from(e).in_item(i).below("groups"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stat = std::fs::read_to_string(proc_root.join("stat"))
            .map_err(|e| format!("cannot read {}: {e}", proc_root.join("stat").display()))?;
        let boot_time = parse_boot_time(&stat)
            .ok_or_else(|| format!("no `btime` line in {}", proc_root.join("stat").display()))?;
        let target = format!(
            "processes in {} group{}: {}",
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            configs
                .iter()
                .map(|g| if g.name.is_empty() {
                    "{{exebase}}"
                } else {
                    g.name.as_str()
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let settings = Settings {
            groups,
            threads: cfg.threads.unwrap_or(false),
            smaps: cfg.smaps.unwrap_or(false),
            include_self: cfg.include_self.unwrap_or(false),
            remove_empty_groups: cfg.remove_empty_groups.unwrap_or(false),
            self_pid: std::process::id(),
            page_size: procfs::page_size(),
        };
        let state = State::new(&settings);
        Ok(ProcessCollector {
            inner: Arc::new(Inner {
                settings,
                proc_root,
                boot_time,
                state: Mutex::new(state),
                target,
            }),
        })
    }

    /// Runs one collection on the calling thread (it reads files; the async `collect` runs it
    /// on tokio's blocking pool).
    pub fn collect_blocking(
        &self,
        deadline: std::time::Instant,
    ) -> Result<Collection, CollectError> {
        self.collect_explained(deadline, None)
    }

    /// [`ProcessCollector::collect_blocking`], recording in `recorder` (when there is one) each
    /// group and the processes it matched.
    fn collect_explained(
        &self,
        deadline: std::time::Instant,
        recorder: Option<&Recorder>,
    ) -> Result<Collection, CollectError> {
        let inner = &self.inner;
        // A panic while the state was held cannot leave it half-written in a way that matters
        // more than losing the collector: go on with it.
        let mut state = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut reader = ProcReader::new(&inner.proc_root);
        let report = tracker::collect(
            &inner.settings,
            &mut state,
            &mut reader,
            inner.boot_time,
            deadline,
        )?;
        if let Some(recorder) = recorder {
            explain_groups(
                recorder,
                &inner.settings,
                tracker::members(&inner.settings, &state),
            );
        }
        drop(state);
        Ok(families::build(report, &inner.settings))
    }
}

/// The most processes listed per group in an explanation.
const PROCESSES_LISTED: usize = 20;

/// One section per group: the processes it matched (groups with a fixed name are listed even
/// when they matched none).
fn explain_groups(recorder: &Recorder, settings: &Settings, members: Vec<(u32, String, String)>) {
    let mut groups: std::collections::BTreeMap<String, Vec<(u32, String)>> = settings
        .groups
        .iter()
        .filter_map(|group| group.template.fixed_name())
        .map(|name| (name, Vec::new()))
        .collect();
    for (pid, comm, name) in members {
        groups.entry(name).or_default().push((pid, comm));
    }
    if groups.is_empty() {
        recorder.section("groups", vec!["no process matched any group".to_string()]);
    }
    for (name, processes) in groups {
        let mut lines: Vec<String> = processes
            .iter()
            .take(PROCESSES_LISTED)
            .map(|(pid, comm)| format!("pid {pid} ({comm})"))
            .collect();
        if processes.len() > PROCESSES_LISTED {
            lines.push(format!("and {} more", processes.len() - PROCESSES_LISTED));
        }
        recorder.section(
            format!("group `{name}`: {} processes", processes.len()),
            lines,
        );
    }
}

/// True when every process visible in `proc_root` is the exporter itself or the pod's `pause`
/// container: the pod does not share its PID namespace.
fn only_own_processes_visible(proc_root: &std::path::Path, self_pid: u32) -> bool {
    let Ok(reader) = std::fs::read_dir(proc_root) else {
        return false;
    };
    for entry in reader.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == self_pid {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != "pause" {
            return false;
        }
    }
    true
}

#[async_trait::async_trait]
impl Collector for ProcessCollector {
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError> {
        let deadline = std::time::Instant::now() + ctx.remaining();
        let this = self.clone();
        let recorder = ctx.explain.clone();
        tokio::task::spawn_blocking(move || this.collect_explained(deadline, recorder.as_deref()))
            .await
            .map_err(|e| {
                CollectError::new(Reason::Parse, format!("process collection failed: {e}"))
            })?
    }

    fn target(&self) -> String {
        self.inner.target.clone()
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if only_own_processes_visible(&self.inner.proc_root, self.inner.settings.self_pid) {
            notes.push(
                "Only the sidecar's own processes are visible: the app's processes live in \
                 another PID namespace. Set `shareProcessNamespace: true` in the pod spec so \
                 that the sidecar can see them."
                    .to_string(),
            );
        }
        for group in &self.inner.settings.groups {
            if group.template.uses_pid() {
                notes.push(
                    "A group name uses {{pid}}: every process becomes its own series, which \
                     grows without bound as processes come and go."
                        .to_string(),
                );
                break;
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_are_plain() {
        let mut cfg = default_config();
        cfg.groups = None;
        assert!(ProcessCollector::from_config(&cfg)
            .unwrap_err()
            .message
            .contains("`groups` is required"));
        cfg.groups = Some(vec![GroupConfig {
            name: "{{bogus}}".into(),
            comm: vec!["x".into()],
            ..Default::default()
        }]);
        let err = ProcessCollector::from_config(&cfg).unwrap_err();
        assert!(
            err.message.contains("groups[0]") && err.message.contains("expected one of"),
            "{err}"
        );
        let path = [
            crate::config::locate::Step::Key("groups".into()),
            crate::config::locate::Step::Index(0),
        ];
        assert_eq!(err.path, path);
        let yaml = "groups:\n  - name: x\n    comms: [a]\n";
        assert!(serde_yaml::from_str::<ProcessConfig>(yaml).is_err());
    }

    fn fake_proc(pids: &[(u32, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stat"), "cpu 1 2 3\nbtime 1700000000\n").unwrap();
        for (pid, comm) in pids {
            let p = dir.path().join(pid.to_string());
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn kubernetes_note_when_alone() {
        let me = std::process::id();
        let alone = fake_proc(&[(1, "pause"), (me, "sidecar-exporter")]);
        let cfg = default_config();
        let c = ProcessCollector::with_proc_root(&cfg, alone.path().to_path_buf()).unwrap();
        let notes = c.notes();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].contains("shareProcessNamespace: true"),
            "{notes:?}"
        );
        assert!(notes[0].contains("Only the sidecar's own processes are visible"));

        let shared = fake_proc(&[(1, "pause"), (7, "nginx"), (me, "sidecar-exporter")]);
        let c = ProcessCollector::with_proc_root(&cfg, shared.path().to_path_buf()).unwrap();
        assert!(c.notes().is_empty());
    }

    #[test]
    fn pid_template_is_warned_about() {
        let mut cfg = default_config();
        cfg.groups = Some(vec![GroupConfig {
            name: "{{comm}}-{{pid}}".into(),
            cmdline: vec![".+".into()],
            ..Default::default()
        }]);
        let c = ProcessCollector::from_config(&cfg).unwrap();
        assert!(c.notes().iter().any(|n| n.contains("{{pid}}")));
    }
}
