//! Discovery: evidence (listening sockets, their processes) → candidates (preset, port) →
//! probes over loopback → findings, printed as a config (`sidecar-exporter discover`) or
//! run beside the configured collectors (`serve --discover`). The presets' `detect:` sections
//! are the only rules.

pub mod evidence;
pub mod probe;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use futures::stream::StreamExt;
use regex::Regex;
use tokio::time::Instant;

use crate::config::presets::PRESETS;
use crate::config::ProbeSpec;
use evidence::{Evidence, Socket};

/// Default bound on one probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default bound on a whole round.
pub const ROUND_BUDGET: Duration = Duration::from_secs(5);
/// Probes in flight at once.
const CONCURRENT_PROBES: usize = 16;

/// The probe for an app's own `/metrics` on a port no preset claimed: a 2xx answer with a
/// `# TYPE` line of the exposition format.
const METRICS_PATH: &str = "/metrics";
const METRICS_EXPECT: &str =
    r"(?m)^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped|unknown)\s*$";

/// One preset's detection rules, checked and compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The preset.
    pub preset: &'static str,
    ports: Vec<u16>,
    process_names: Vec<String>,
    cmdline: Vec<Regex>,
    /// The confirming probe.
    pub probe: ProbeSpec,
    /// Printed commented out with a placeholder DSN.
    pub needs_credentials: bool,
}

/// The rules of every embedded preset that has a probe. A broken `detect:` is a build
/// defect (a unit test checks them all); such a preset is left out rather than stop discovery.
pub fn rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    for preset in PRESETS {
        let detect = match preset.detect() {
            Ok(Some(detect)) => detect,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(preset = preset.name, "{error}");
                continue;
            }
        };
        let (Some(probe), Ok(cmdline)) = (detect.probe.as_ref(), detect.cmdline_patterns()) else {
            continue;
        };
        let Ok(probe) = probe.spec() else { continue };
        rules.push(Rule {
            preset: preset.name,
            ports: detect.ports.clone(),
            process_names: detect.process_names.clone(),
            cmdline,
            probe,
            needs_credentials: detect.needs_credentials,
        });
    }
    rules
}

impl Rule {
    fn names_process(&self, process: &evidence::Process) -> Option<Why> {
        if self.process_names.iter().any(|name| name == &process.comm) {
            return Some(Why::ProcessName);
        }
        self.cmdline
            .iter()
            .any(|pattern| pattern.is_match(&process.cmdline))
            .then_some(Why::Cmdline)
    }

    fn is_http(&self) -> bool {
        matches!(self.probe, ProbeSpec::Http { .. })
    }
}

/// Why a (preset, port) pair was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// The socket's owner has one of the preset's process names.
    ProcessName,
    /// The owner's command line matches one of the preset's patterns.
    Cmdline,
    /// The port is one of the preset's usual ports.
    UsualPort,
    /// The preset's process runs (pid, name) and this port serves a confirmed HTTP preset:
    /// PHP-FPM's status page through its web server.
    Behind {
        /// The process of the preset's app.
        pid: u32,
        /// Its name.
        comm: String,
        /// The preset confirmed on this port.
        front: &'static str,
    },
    /// No preset claimed the port and it answered `/metrics` in the exposition format.
    OwnMetrics,
}

impl Why {
    /// Stronger evidence is probed first.
    fn rank(&self) -> u8 {
        match self {
            Why::ProcessName => 0,
            Why::Cmdline => 1,
            Why::Behind { .. } => 2,
            Why::UsualPort => 3,
            Why::OwnMetrics => 4,
        }
    }
}

/// What one round found on one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The preset, `None` for an app's own `/metrics` (a suggested `prometheus` collector).
    pub preset: Option<&'static str>,
    /// The loopback address it answered on.
    pub address: SocketAddr,
    /// The socket's owner and its name, when visible.
    pub owner: Option<(u32, String)>,
    /// The evidence that made it a candidate.
    pub why: Why,
    /// The probe that confirmed it, in words (`GET /stub_status`, `"PING\r\n"`).
    pub probe: String,
    /// The preset needs credentials (printed commented out).
    pub needs_credentials: bool,
}

impl Finding {
    /// The evidence in words: `pid 123 "nginx", GET /stub_status matched`.
    pub fn evidence(&self) -> String {
        let owner = match &self.owner {
            Some((pid, comm)) => format!("pid {pid} {comm:?}"),
            None => "owner not visible".to_string(),
        };
        let why = match &self.why {
            Why::ProcessName | Why::OwnMetrics => String::new(),
            Why::Cmdline => ", command line matched".to_string(),
            Why::UsualPort => ", its usual port".to_string(),
            Why::Behind { pid, comm, front } => {
                format!(", behind {front}; pid {pid} {comm:?} runs")
            }
        };
        format!("{owner}{why}, {} matched", self.probe)
    }
}

/// Bytes as they are written in a preset's `send:` (`PING\r\n`, `\x04\xd2`).
fn escaped(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n"),
            b'\t' => text.push_str("\\t"),
            b'\\' => text.push_str("\\\\"),
            b'"' => text.push_str("\\\""),
            0x20..=0x7e => text.push(char::from(byte)),
            _ => text.push_str(&format!("\\x{byte:02x}")),
        }
    }
    text
}

/// How a round looks and probes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `/proc` is mounted.
    pub proc_root: PathBuf,
    /// Ports never probed (`global.discover.exclude_ports`).
    pub exclude_ports: Vec<u16>,
    /// Bound on one probe.
    pub probe_timeout: Duration,
    /// Bound on the whole round; probes not started by then are not sent.
    pub round_budget: Duration,
    /// Sockets of this process are not probed (the exporter's own `/metrics`).
    pub own_pid: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            proc_root: PathBuf::from("/proc"),
            exclude_ports: Vec::new(),
            probe_timeout: PROBE_TIMEOUT,
            round_budget: ROUND_BUDGET,
            own_pid: std::process::id(),
        }
    }
}

/// The result of one round.
#[derive(Debug, Clone)]
pub struct Round {
    /// What was found, by port then preset.
    pub findings: Vec<Finding>,
    /// Listening ports seen.
    pub sockets: usize,
    /// Probes sent.
    pub probes: usize,
    /// How long the round took.
    pub duration: Duration,
    /// When it ended.
    pub finished: SystemTime,
    /// The round's budget ran out before every candidate was probed.
    pub cut_short: bool,
}

struct Candidate<'a> {
    rule: Option<&'a Rule>,
    socket: &'a Socket,
    address: SocketAddr,
    why: Why,
}

/// Runs one round: looks at `/proc`, probes the candidates, returns what answered.
pub async fn run(options: &Options, rules: &[Rule]) -> Round {
    let evidence = evidence::gather(&options.proc_root);
    run_on(&evidence, options, rules).await
}

/// Runs one round on evidence already gathered.
pub async fn run_on(evidence: &Evidence, options: &Options, rules: &[Rule]) -> Round {
    let started = Instant::now();
    let deadline = started + options.round_budget;
    let metrics_probe = ProbeSpec::Http {
        path: METRICS_PATH.to_string(),
        expect: Regex::new(METRICS_EXPECT)
            .unwrap_or_else(|e| unreachable!("the pattern is a constant: {e}")),
    };
    let reachable: Vec<(&Socket, SocketAddr)> = evidence
        .sockets
        .iter()
        .filter(|s| !options.exclude_ports.contains(&s.port))
        .filter(|s| s.owner != Some(options.own_pid))
        .filter_map(|s| s.loopback().map(|ip| (s, SocketAddr::new(ip, s.port))))
        .collect();
    let owner_of = |socket: &Socket| {
        socket.owner.and_then(|pid| {
            evidence
                .processes
                .get(&pid)
                .map(|process| (pid, process.comm.clone()))
        })
    };

    // First the sockets the presets point at, strongest evidence first.
    let mut candidates = Vec::new();
    for &(socket, address) in &reachable {
        let owner = socket.owner.and_then(|pid| evidence.processes.get(&pid));
        for rule in rules {
            let why = owner
                .and_then(|process| rule.names_process(process))
                .or_else(|| rule.ports.contains(&socket.port).then_some(Why::UsualPort));
            if let Some(why) = why {
                candidates.push(Candidate {
                    rule: Some(rule),
                    socket,
                    address,
                    why,
                });
            }
        }
    }
    candidates.sort_by_key(|c| c.why.rank());
    let mut tried: BTreeSet<(&str, u16)> = candidates
        .iter()
        .filter_map(|c| c.rule.map(|r| (r.preset, c.socket.port)))
        .collect();
    let mut probes = candidates.len();
    let (mut confirmed, mut cut_short) =
        probe_all(candidates, options, deadline, &metrics_probe).await;

    // Then presets whose app runs but listens elsewhere (a unix socket, FastCGI) on the ports
    // where a web server was just confirmed.
    let fronts: Vec<(&'static str, &Socket, SocketAddr)> = confirmed
        .iter()
        .filter(|c| c.rule.is_some_and(Rule::is_http))
        .filter_map(|c| c.rule.map(|rule| (rule.preset, c.socket, c.address)))
        .collect();
    let mut behind = Vec::new();
    for rule in rules.iter().filter(|r| r.is_http()) {
        let Some((pid, process)) = evidence
            .processes
            .iter()
            .find(|(_, process)| rule.names_process(process).is_some())
        else {
            continue;
        };
        for &(front, socket, address) in &fronts {
            if tried.insert((rule.preset, socket.port)) {
                behind.push(Candidate {
                    rule: Some(rule),
                    socket,
                    address,
                    why: Why::Behind {
                        pid: *pid,
                        comm: process.comm.clone(),
                        front,
                    },
                });
            }
        }
    }
    probes += behind.len();
    let (found, short) = probe_all(behind, options, deadline, &metrics_probe).await;
    confirmed.extend(found);
    cut_short |= short;

    // Last, an app's own /metrics on the ports nobody claimed.
    let claimed: BTreeSet<u16> = confirmed.iter().map(|c| c.socket.port).collect();
    let own_metrics: Vec<Candidate> = reachable
        .iter()
        .filter(|(socket, _)| !claimed.contains(&socket.port))
        .map(|&(socket, address)| Candidate {
            rule: None,
            socket,
            address,
            why: Why::OwnMetrics,
        })
        .collect();
    probes += own_metrics.len();
    let (found, short) = probe_all(own_metrics, options, deadline, &metrics_probe).await;
    confirmed.extend(found);
    cut_short |= short;

    let mut findings: Vec<Finding> = Vec::new();
    confirmed.sort_by_key(|c| (c.socket.port, c.why.rank()));
    let mut seen_apps: BTreeSet<(&str, u32)> = BTreeSet::new();
    for candidate in confirmed {
        let preset = candidate.rule.map(|r| r.preset);
        // One app serving the same page on two ports is one collector, not two.
        if let (Some(preset), Some(pid)) = (preset, candidate.socket.owner) {
            if !seen_apps.insert((preset, pid)) {
                continue;
            }
        }
        let probe = match candidate.rule.map_or(&metrics_probe, |r| &r.probe) {
            ProbeSpec::Http { path, .. } => format!("GET {path}"),
            ProbeSpec::Tcp { send, .. } => format!("\"{}\"", escaped(send)),
        };
        findings.push(Finding {
            preset,
            address: candidate.address,
            owner: owner_of(candidate.socket),
            why: candidate.why,
            probe,
            needs_credentials: candidate.rule.is_some_and(|r| r.needs_credentials),
        });
    }
    let round = Round {
        findings,
        sockets: evidence.sockets.len(),
        probes,
        duration: started.elapsed(),
        finished: SystemTime::now(),
        cut_short,
    };
    tracing::debug!(
        sockets = round.sockets,
        probes = round.probes,
        found = round.findings.len(),
        duration = round.duration.as_secs_f64(),
        "discovery round"
    );
    round
}

/// Probes the candidates (each with its rule's probe, or `default` without a rule), at most
/// [`CONCURRENT_PROBES`] at once, none started after `deadline`; returns the confirmed ones and
/// whether the deadline cut the round short.
async fn probe_all<'a>(
    candidates: Vec<Candidate<'a>>,
    options: &Options,
    deadline: Instant,
    default: &ProbeSpec,
) -> (Vec<Candidate<'a>>, bool) {
    let mut results = futures::stream::iter(candidates.into_iter().map(|candidate| async move {
        let spec = candidate.rule.map_or(default, |rule| &rule.probe);
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = options.probe_timeout.min(left);
        let matched = !timeout.is_zero() && probe::probe(candidate.address, spec, timeout).await;
        (candidate, matched)
    }))
    .buffer_unordered(CONCURRENT_PROBES);
    let mut confirmed = Vec::new();
    while let Some((candidate, matched)) = results.next().await {
        if matched {
            confirmed.push(candidate);
        }
    }
    (confirmed, Instant::now() >= deadline)
}

/// The preset's findings by preset name, for the self-metric.
pub fn count_by_preset(findings: &[Finding]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for finding in findings {
        let name = finding.preset.unwrap_or("prometheus");
        *counts.entry(name.to_string()).or_default() += 1;
    }
    counts
}
