//! One pass over `/proc` per collection: which processes belong to which group, what they
//! used since the last pass, and the per-group totals that never decrease.
//!
//! Counters follow process-exporter: a process seen at the first collection contributes what it
//! uses from then on; a process started later contributes everything it used; when a process
//! exits, what it contributed stays in its group's totals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::matching::{parse_pidfile, DynamicFacts, Group, ProcessFacts};
use super::procfs::{
    classify, parse_cmdline, parse_io, parse_listening_inodes, parse_max_open_files, parse_passwd,
    parse_smaps_rollup, parse_stat, parse_status, ProcReader, ReadFailure, Stat,
    CLOCK_TICKS_PER_SECOND,
};
use crate::collector::{CollectError, Reason};

/// The counters process-exporter keeps per process, per thread and per group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// User CPU in clock ticks.
    pub cpu_user_ticks: u64,
    /// System CPU in clock ticks.
    pub cpu_system_ticks: u64,
    /// Bytes read from storage.
    pub read_bytes: u64,
    /// Bytes written to storage.
    pub write_bytes: u64,
    /// Major page faults.
    pub major_faults: u64,
    /// Minor page faults.
    pub minor_faults: u64,
    /// Voluntary context switches.
    pub ctx_voluntary: u64,
    /// Involuntary context switches.
    pub ctx_nonvoluntary: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.cpu_user_ticks += other.cpu_user_ticks;
        self.cpu_system_ticks += other.cpu_system_ticks;
        self.read_bytes += other.read_bytes;
        self.write_bytes += other.write_bytes;
        self.major_faults += other.major_faults;
        self.minor_faults += other.minor_faults;
        self.ctx_voluntary += other.ctx_voluntary;
        self.ctx_nonvoluntary += other.ctx_nonvoluntary;
    }

    /// What grew since `before` (never negative).
    pub fn since(&self, before: &Counts) -> Counts {
        Counts {
            cpu_user_ticks: self.cpu_user_ticks.saturating_sub(before.cpu_user_ticks),
            cpu_system_ticks: self
                .cpu_system_ticks
                .saturating_sub(before.cpu_system_ticks),
            read_bytes: self.read_bytes.saturating_sub(before.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(before.write_bytes),
            major_faults: self.major_faults.saturating_sub(before.major_faults),
            minor_faults: self.minor_faults.saturating_sub(before.minor_faults),
            ctx_voluntary: self.ctx_voluntary.saturating_sub(before.ctx_voluntary),
            ctx_nonvoluntary: self
                .ctx_nonvoluntary
                .saturating_sub(before.ctx_nonvoluntary),
        }
    }
}

/// Process counts by state, in process-exporter's five buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct States {
    /// `R`.
    pub running: u64,
    /// `S`.
    pub sleeping: u64,
    /// `D`.
    pub waiting: u64,
    /// `Z`.
    pub zombie: u64,
    /// Anything else (`T`, `t`, `I`, `X`, …).
    pub other: u64,
}

impl States {
    fn count(&mut self, state: u8) {
        match state {
            b'R' => self.running += 1,
            b'S' => self.sleeping += 1,
            b'D' => self.waiting += 1,
            b'Z' => self.zombie += 1,
            _ => self.other += 1,
        }
    }
}

/// The gauges of one group in this collection.
#[derive(Debug, Clone, Default)]
pub struct GroupNow {
    /// Processes in the group.
    pub procs: u64,
    /// Resident bytes.
    pub resident: u64,
    /// Virtual bytes.
    pub virtual_bytes: u64,
    /// Swapped bytes.
    pub swapped: u64,
    /// Proportional resident bytes (`smaps: true`).
    pub proportional_resident: u64,
    /// Proportional swapped bytes (`smaps: true`).
    pub proportional_swapped: u64,
    /// Open fds (of the processes whose fds could be counted).
    pub open_fds: u64,
    /// The highest open fds / fd limit ratio.
    pub worst_fd_ratio: f64,
    /// Threads.
    pub threads: u64,
    /// States.
    pub states: States,
    /// Start time (seconds since the epoch) of the oldest process.
    pub oldest_start: Option<u64>,
    /// Threads by kernel wait channel (`threads: true`).
    pub wchans: BTreeMap<String, u64>,
}

/// One group's figures as reported: totals that never decrease, and this collection's gauges.
#[derive(Debug, Clone, Default)]
pub struct GroupReport {
    /// Totals since the first collection.
    pub counts: Counts,
    /// Gauges (all zero when the group has no process now).
    pub now: GroupNow,
}

/// Per-thread-name figures of a group (`threads: true`).
#[derive(Debug, Clone, Default)]
pub struct ThreadReport {
    /// Threads with this name.
    pub count: u64,
    /// Totals.
    pub counts: Counts,
}

/// What one collection found.
#[derive(Debug, Default)]
pub struct Report {
    /// Groups by name.
    pub groups: BTreeMap<String, GroupReport>,
    /// Threads by (group, thread name).
    pub threads: BTreeMap<(String, String), ThreadReport>,
    /// process-exporter's `namedprocess_scrape_errors`.
    pub scrape_errors: u64,
    /// process-exporter's `namedprocess_scrape_procread_errors`.
    pub procread_errors: u64,
    /// process-exporter's `namedprocess_scrape_partial_errors`.
    pub partial_errors: u64,
    /// Partial failures of this collection.
    pub problems: Vec<CollectError>,
}

/// The compiled configuration.
#[derive(Debug)]
pub struct Settings {
    /// The groups, first match wins.
    pub groups: Vec<Group>,
    /// Per-thread metrics.
    pub threads: bool,
    /// Read `smaps_rollup`.
    pub smaps: bool,
    /// Match the exporter's own process too.
    pub include_self: bool,
    /// Forget groups with no process.
    pub remove_empty_groups: bool,
    /// The exporter's pid.
    pub self_pid: u32,
    /// Bytes per page (for `stat`'s resident set size).
    pub page_size: u64,
}

impl Settings {
    fn needs_cmdline(&self) -> bool {
        self.groups.iter().any(Group::needs_cmdline)
    }
    fn needs_uid(&self) -> bool {
        self.groups.iter().any(Group::needs_uid)
    }
    fn needs_username(&self) -> bool {
        self.groups.iter().any(|g| g.template.uses_username())
    }
    fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .groups
            .iter()
            .filter_map(|g| g.listening_port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
    fn any_children(&self) -> bool {
        self.groups.iter().any(|g| g.children)
    }
}

#[derive(Debug)]
struct ThreadTrack {
    starttime: u64,
    baseline: Counts,
}

/// What is remembered of one process between collections.
#[derive(Debug)]
struct Tracked {
    starttime: u64,
    /// The comm the match was made with: an `exec` changes it, and the process is matched anew.
    comm: String,
    generation: u64,
    seen: u64,
    stat: Stat,
    cmdline: Vec<String>,
    euid: u32,
    /// The group this process matches by itself: (group index, group name).
    own: Option<(usize, String)>,
    /// The counts read at the last collection in which the process was in a group.
    baseline: Option<Counts>,
    threads: HashMap<u32, ThreadTrack>,
}

/// Everything kept between collections.
#[derive(Debug, Default)]
pub struct State {
    cycle: u64,
    /// Bumped when a pidfile or a listening socket changes: every match is made anew.
    generation: u64,
    /// Clock ticks since boot at the first collection.
    first_ticks: Option<u64>,
    procs: HashMap<u32, Tracked>,
    group_totals: BTreeMap<String, Counts>,
    thread_totals: BTreeMap<(String, String), Counts>,
    pidfile_pids: Vec<Option<u32>>,
    port_inodes: HashMap<u16, Vec<u64>>,
    port_owners: HashMap<u16, HashSet<u32>>,
    scrape_errors: u64,
    procread_errors: u64,
    partial_errors: u64,
}

impl State {
    /// A state where the groups with a fixed name are known (and report `num_procs 0`) before
    /// any process is seen.
    pub fn new(settings: &Settings) -> State {
        let mut state = State::default();
        for group in &settings.groups {
            if let Some(name) = group.template.fixed_name() {
                state.group_totals.entry(name).or_default();
            }
        }
        state
    }
}

/// Clock ticks since boot now, from `/proc/uptime` (the clock of `stat`'s start time; the wall
/// clock minus `btime` can be a second off).
fn ticks_since_boot(reader: &mut ProcReader, boot_time: u64) -> u64 {
    if let Some(seconds) = reader
        .read_root_file("uptime")
        .ok()
        .and_then(|text| text.split_ascii_whitespace().next()?.parse::<f64>().ok())
    {
        return (seconds * CLOCK_TICKS_PER_SECOND as f64) as u64;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now.saturating_sub(boot_time * 1000) * CLOCK_TICKS_PER_SECOND / 1000
}

/// Figures one process could not give this collection.
#[derive(Debug, Default)]
struct Missing {
    permission: Vec<&'static str>,
    other: Vec<&'static str>,
}

impl Missing {
    fn note(&mut self, what: &'static str, failure: ReadFailure) {
        match failure {
            ReadFailure::Permission => self.permission.push(what),
            _ => self.other.push(what),
        }
    }
}

/// What was read of one grouped process.
struct ProcessReading {
    counts: Counts,
    status_state_threads: Vec<u8>,
    resident: u64,
    virtual_bytes: u64,
    swapped: u64,
    pss: u64,
    swap_pss: u64,
    open_fds: Option<u64>,
    fd_limit: Option<u64>,
    wchans: Vec<String>,
    /// (tid, starttime, name, counts) of each thread, when the process has more than one.
    threads: Vec<(u32, u64, String, Counts)>,
}

/// Runs one collection over the `/proc` of `reader`.
pub fn collect(
    settings: &Settings,
    state: &mut State,
    reader: &mut ProcReader,
    boot_time: u64,
    deadline: Instant,
) -> Result<Report, CollectError> {
    state.cycle += 1;
    let cycle = state.cycle;
    let first_ticks = *state
        .first_ticks
        .get_or_insert_with(|| ticks_since_boot(reader, boot_time));
    let mut problems = Vec::new();

    let pids = reader.pids().map_err(|e| {
        state.scrape_errors += 1;
        let reason = match classify(&e) {
            ReadFailure::Permission => Reason::Permission,
            _ => Reason::Connect,
        };
        CollectError::new(
            reason,
            format!(
                "cannot list the processes in {}: {e}",
                reader.root().display()
            ),
        )
    })?;

    // The pidfiles and listening sockets of this collection.
    let dynamic = refresh_dynamic(settings, state, reader, &pids, &mut problems);

    // Pass 1: identify every process (one `stat` read each) and match the new ones.
    let needs_cmdline = settings.needs_cmdline();
    let needs_uid = settings.needs_uid();
    let ports = settings.ports();
    let mut dynamic = dynamic;
    let mut users: Option<HashMap<u32, String>> = None;
    let mut socket_inodes = Vec::new();
    for (i, &pid) in pids.iter().enumerate() {
        if pid == settings.self_pid && !settings.include_self {
            continue;
        }
        if i % 64 == 0 && Instant::now() > deadline {
            return Err(timeout(pids.len()));
        }
        let stat = match reader.read(pid, None, "stat") {
            Ok(text) => match parse_stat(text) {
                Some(stat) => stat,
                None => {
                    state.procread_errors += 1;
                    continue;
                }
            },
            Err(e) => {
                if classify(&e) != ReadFailure::Gone {
                    state.procread_errors += 1;
                }
                continue;
            }
        };
        let known = state
            .procs
            .get(&pid)
            .is_some_and(|t| t.starttime == stat.starttime);
        if !known {
            state.procs.insert(
                pid,
                Tracked {
                    starttime: stat.starttime,
                    comm: String::new(),
                    generation: state.generation,
                    seen: 0,
                    stat: Stat::default(),
                    cmdline: Vec::new(),
                    euid: super::procfs::UNKNOWN_UID,
                    own: None,
                    baseline: None,
                    threads: HashMap::new(),
                },
            );
            // A new process may hold a listening socket it inherited (a forked worker).
            if !ports.is_empty() && state.port_inodes.values().any(|l| !l.is_empty()) {
                socket_inodes.clear();
                if reader.socket_inodes(pid, &mut socket_inodes).is_ok() {
                    for (port, inodes) in &state.port_inodes {
                        if socket_inodes.iter().any(|i| inodes.contains(i)) {
                            dynamic.port_owners.entry(*port).or_default().insert(pid);
                        }
                    }
                }
            }
        }
        let Some(tracked) = state.procs.get_mut(&pid) else {
            continue;
        };
        let exec_seen = tracked.comm != stat.comm;
        if !known || exec_seen || tracked.generation != state.generation {
            if !known || exec_seen {
                if needs_cmdline {
                    tracked.cmdline = match reader.read_bytes(pid, "cmdline") {
                        Ok(bytes) => parse_cmdline(bytes),
                        Err(_) => Vec::new(),
                    };
                }
                if needs_uid {
                    if let Ok(text) = reader.read(pid, None, "status") {
                        tracked.euid = parse_status(text).euid;
                    }
                }
            }
            let username = if settings.needs_username() {
                let users = users.get_or_insert_with(load_users);
                users
                    .get(&tracked.euid)
                    .cloned()
                    .unwrap_or_else(|| tracked.euid.to_string())
            } else {
                String::new()
            };
            let facts = ProcessFacts {
                pid,
                comm: stat.comm.clone(),
                cmdline: std::mem::take(&mut tracked.cmdline),
                euid: tracked.euid,
                username,
            };
            tracked.own = settings.groups.iter().enumerate().find_map(|(index, g)| {
                g.matches(index, &facts, &dynamic).map(|name| (index, name))
            });
            tracked.cmdline = facts.cmdline;
            tracked.comm = stat.comm.clone();
            tracked.generation = state.generation;
        }
        tracked.seen = cycle;
        tracked.stat = stat;
    }
    state.procs.retain(|_, t| t.seen == cycle);
    for owners in dynamic.port_owners.values_mut() {
        owners.retain(|pid| state.procs.contains_key(pid));
    }
    state.port_owners = dynamic.port_owners;

    // Which group each process is in: its own match, or (`children: true`) its nearest
    // matched ancestor's.
    let membership = memberships(settings, state);

    // Pass 2: read the grouped processes and add up their groups.
    let mut groups_now: BTreeMap<String, GroupNow> = BTreeMap::new();
    let mut group_growth: BTreeMap<String, Counts> = BTreeMap::new();
    let mut thread_now: BTreeMap<(String, String), ThreadReport> = BTreeMap::new();
    let mut timed_out = false;
    let grouped_pids: HashSet<u32> = membership.iter().map(|(pid, _)| *pid).collect();
    for (n, (pid, group_name)) in membership.into_iter().enumerate() {
        if n % 64 == 0 && Instant::now() > deadline {
            timed_out = true;
            break;
        }
        let Some(tracked) = state.procs.get_mut(&pid) else {
            continue;
        };
        let mut missing = Missing::default();
        let Some(reading) = read_process(settings, reader, pid, &tracked.stat, &mut missing) else {
            // It exited while we read it.
            continue;
        };
        let mut counts = reading.counts;
        // A figure that could not be read this time keeps its last value: no growth, and no
        // jump when it can be read again.
        if missing.permission.contains(&"io") || missing.other.contains(&"io") {
            let before = tracked.baseline.unwrap_or_default();
            counts.read_bytes = before.read_bytes;
            counts.write_bytes = before.write_bytes;
        }
        let growth = match tracked.baseline {
            Some(before) => counts.since(&before),
            None if tracked.starttime > first_ticks => counts,
            None => Counts::default(),
        };
        tracked.baseline = Some(counts);

        let group = groups_now.entry(group_name.clone()).or_default();
        group.procs += 1;
        group.resident += reading.resident;
        group.virtual_bytes += reading.virtual_bytes;
        group.swapped += reading.swapped;
        group.proportional_resident += reading.pss;
        group.proportional_swapped += reading.swap_pss;
        if let Some(fds) = reading.open_fds {
            group.open_fds += fds;
            if let Some(limit) = reading.fd_limit.filter(|&l| l > 0) {
                let ratio = fds as f64 / limit as f64;
                if ratio > group.worst_fd_ratio {
                    group.worst_fd_ratio = ratio;
                }
            }
        }
        group.threads += tracked.stat.num_threads;
        group.states.count(tracked.stat.state);
        // process-exporter counts a multi-threaded process once by its own state and once
        // more per thread; kept for identical numbers.
        for &state in &reading.status_state_threads {
            group.states.count(state);
        }
        let start = boot_time + tracked.starttime / CLOCK_TICKS_PER_SECOND;
        group.oldest_start = Some(group.oldest_start.map_or(start, |s| s.min(start)));
        for wchan in reading.wchans {
            *group.wchans.entry(wchan).or_default() += 1;
        }
        group_growth
            .entry(group_name.clone())
            .or_default()
            .add(&growth);

        if settings.threads {
            let mut threads = HashMap::with_capacity(reading.threads.len());
            for (tid, starttime, name, counts) in reading.threads {
                let growth = match tracked.threads.get(&tid) {
                    Some(t) if t.starttime == starttime => counts.since(&t.baseline),
                    _ => Counts::default(),
                };
                threads.insert(
                    tid,
                    ThreadTrack {
                        starttime,
                        baseline: counts,
                    },
                );
                let entry = thread_now.entry((group_name.clone(), name)).or_default();
                entry.count += 1;
                entry.counts.add(&growth);
            }
            tracked.threads = threads;
        }

        if !missing.permission.is_empty() || !missing.other.is_empty() {
            state.partial_errors += 1;
        }
        if !missing.permission.is_empty() {
            problems.push(CollectError::new(
                Reason::Permission,
                format!(
                    "permission denied reading {} of pid {pid} ({}): left out for this process",
                    missing.permission.join(", "),
                    tracked.stat.comm
                ),
            ));
        }
        if !missing.other.is_empty() {
            problems.push(CollectError::new(
                Reason::Parse,
                format!(
                    "could not read {} of pid {pid} ({}): left out for this process",
                    missing.other.join(", "),
                    tracked.stat.comm
                ),
            ));
        }
    }
    // A process in no group now starts afresh if it joins one later.
    for (pid, tracked) in state.procs.iter_mut() {
        if !grouped_pids.contains(pid) {
            tracked.baseline = None;
            tracked.threads.clear();
        }
    }

    // Totals: what grew this collection, on top of what was seen before.
    for (name, growth) in &group_growth {
        state
            .group_totals
            .entry(name.clone())
            .or_default()
            .add(growth);
    }
    for name in groups_now.keys() {
        state.group_totals.entry(name.clone()).or_default();
    }
    if settings.remove_empty_groups {
        state
            .group_totals
            .retain(|name, _| groups_now.contains_key(name));
    }
    let mut thread_totals = BTreeMap::new();
    for (key, report) in &mut thread_now {
        let mut total = state.thread_totals.get(key).copied().unwrap_or_default();
        total.add(&report.counts);
        report.counts = total;
        thread_totals.insert(key.clone(), total);
    }
    state.thread_totals = thread_totals;

    if timed_out {
        return Err(timeout(pids.len()));
    }

    let groups = state
        .group_totals
        .iter()
        .map(|(name, counts)| {
            (
                name.clone(),
                GroupReport {
                    counts: *counts,
                    now: groups_now.remove(name).unwrap_or_default(),
                },
            )
        })
        .collect();
    Ok(Report {
        groups,
        threads: thread_now,
        scrape_errors: state.scrape_errors,
        procread_errors: state.procread_errors,
        partial_errors: state.partial_errors,
        problems,
    })
}

fn timeout(processes: usize) -> CollectError {
    CollectError::new(
        Reason::Timeout,
        format!("the deadline passed while reading {processes} processes"),
    )
}

fn load_users() -> HashMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .map(|text| parse_passwd(&text))
        .unwrap_or_default()
}

/// Reads the pidfiles and the listening sockets; when one changed, every process is matched
/// anew (the generation moves on).
fn refresh_dynamic(
    settings: &Settings,
    state: &mut State,
    reader: &mut ProcReader,
    pids: &[u32],
    problems: &mut Vec<CollectError>,
) -> DynamicFacts {
    let mut changed = false;
    let pidfile_pids: Vec<Option<u32>> = settings
        .groups
        .iter()
        .map(|g| {
            let path = g.pidfile.as_ref()?;
            match std::fs::read_to_string(path) {
                Ok(text) => parse_pidfile(&text),
                Err(e) => {
                    // A missing pidfile is an app that is not running: no error.
                    if classify(&e) == ReadFailure::Permission {
                        problems.push(CollectError::new(
                            Reason::Permission,
                            format!("permission denied reading pidfile {path}"),
                        ));
                    }
                    None
                }
            }
        })
        .collect();
    if pidfile_pids != state.pidfile_pids {
        changed = true;
        state.pidfile_pids = pidfile_pids.clone();
    }

    let ports = settings.ports();
    if !ports.is_empty() {
        let mut inodes: HashMap<u16, Vec<u64>> = HashMap::new();
        for table in ["net/tcp", "net/tcp6"] {
            if let Ok(text) = reader.read_root_file(table) {
                for &port in &ports {
                    parse_listening_inodes(text, port, inodes.entry(port).or_default());
                }
            }
        }
        for list in inodes.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        if inodes != state.port_inodes {
            changed = true;
            // Find the owners: every process holding one of the sockets.
            let mut owners: HashMap<u16, HashSet<u32>> = HashMap::new();
            let mut held = Vec::new();
            if inodes.values().any(|l| !l.is_empty()) {
                for &pid in pids {
                    held.clear();
                    if reader.socket_inodes(pid, &mut held).is_err() {
                        continue;
                    }
                    for (port, list) in &inodes {
                        if held.iter().any(|i| list.contains(i)) {
                            owners.entry(*port).or_default().insert(pid);
                        }
                    }
                }
            }
            state.port_owners = owners;
            state.port_inodes = inodes;
        }
    }
    if changed {
        state.generation += 1;
    }
    DynamicFacts {
        pidfile_pids,
        port_owners: std::mem::take(&mut state.port_owners),
    }
}

/// The group of every grouped process, by pid.
fn memberships(settings: &Settings, state: &State) -> Vec<(u32, String)> {
    let any_children = settings.any_children();
    let mut resolved: HashMap<u32, Option<(usize, String)>> = HashMap::new();
    let mut out = Vec::new();
    for (&pid, tracked) in &state.procs {
        let group = if tracked.own.is_some() || !any_children {
            tracked.own.clone()
        } else {
            inherited(settings, state, pid, &mut resolved, 0)
        };
        if let Some((_, name)) = group {
            out.push((pid, name));
        }
    }
    out.sort_unstable_by_key(|(pid, _)| *pid);
    out
}

/// The group a process joins through `children: true` of a matched ancestor.
fn inherited(
    settings: &Settings,
    state: &State,
    pid: u32,
    resolved: &mut HashMap<u32, Option<(usize, String)>>,
    depth: usize,
) -> Option<(usize, String)> {
    if let Some(found) = resolved.get(&pid) {
        return found.clone();
    }
    let tracked = state.procs.get(&pid)?;
    let ppid = tracked.stat.ppid;
    let found = if depth > 256 || ppid == 0 || ppid == pid {
        None
    } else {
        match state.procs.get(&ppid) {
            None => None,
            Some(parent) => match &parent.own {
                Some((index, name)) if settings.groups[*index].children => {
                    Some((*index, name.clone()))
                }
                Some(_) => None,
                None => inherited(settings, state, ppid, resolved, depth + 1),
            },
        }
    };
    resolved.insert(pid, found.clone());
    found
}

/// Reads the per-collection figures of one grouped process. None when it exited meanwhile.
fn read_process(
    settings: &Settings,
    reader: &mut ProcReader,
    pid: u32,
    stat: &Stat,
    missing: &mut Missing,
) -> Option<ProcessReading> {
    let status = match reader.read(pid, None, "status") {
        Ok(text) => parse_status(text),
        Err(e) => match classify(&e) {
            ReadFailure::Gone => return None,
            failure => {
                missing.note("status", failure);
                Default::default()
            }
        },
    };
    let io = match reader.read(pid, None, "io") {
        Ok(text) => parse_io(text),
        Err(e) => match classify(&e) {
            ReadFailure::Gone => return None,
            failure => {
                missing.note("io", failure);
                Default::default()
            }
        },
    };
    let open_fds = match reader.open_fds(pid) {
        Ok(n) => Some(n),
        Err(e) => match classify(&e) {
            ReadFailure::Gone => return None,
            failure => {
                missing.note("fd", failure);
                None
            }
        },
    };
    let fd_limit = match reader.read(pid, None, "limits") {
        Ok(text) => parse_max_open_files(text),
        Err(e) => match classify(&e) {
            ReadFailure::Gone => return None,
            failure => {
                missing.note("limits", failure);
                None
            }
        },
    };
    let (pss, swap_pss) = if settings.smaps {
        match reader.read(pid, None, "smaps_rollup") {
            Ok(text) => parse_smaps_rollup(text),
            Err(e) => match classify(&e) {
                ReadFailure::Gone => return None,
                failure => {
                    missing.note("smaps_rollup", failure);
                    (0, 0)
                }
            },
        }
    } else {
        (0, 0)
    };
    let mut counts = Counts {
        cpu_user_ticks: stat.utime,
        cpu_system_ticks: stat.stime,
        read_bytes: io.read_bytes,
        write_bytes: io.write_bytes,
        major_faults: stat.majflt,
        minor_faults: stat.minflt,
        ctx_voluntary: status.voluntary_ctxt_switches,
        ctx_nonvoluntary: status.nonvoluntary_ctxt_switches,
    };
    let mut wchans = Vec::new();
    if settings.threads {
        if let Some(wchan) = read_wchan(reader, pid, None) {
            wchans.push(wchan);
        }
    }
    let mut thread_states = Vec::new();
    let mut threads = Vec::new();
    let mut thread_wchans = Vec::new();
    // `status` gives the main thread's context switches only: with more threads, add them up
    // over `task/` (as process-exporter does).
    if stat.num_threads > 1 {
        if let Ok(tids) = reader.tids(pid) {
            let mut voluntary = 0;
            let mut nonvoluntary = 0;
            let mut listed = 0;
            for tid in tids {
                // The main thread's `task/PID/status` is the `status` read above.
                let thread_status = if tid == pid {
                    status.clone()
                } else {
                    let Ok(text) = reader.read(pid, Some(tid), "status") else {
                        continue;
                    };
                    parse_status(text)
                };
                listed += 1;
                voluntary += thread_status.voluntary_ctxt_switches;
                nonvoluntary += thread_status.nonvoluntary_ctxt_switches;
                thread_states.push(thread_status.state);
                if settings.threads {
                    let Some(thread_stat) = reader
                        .read(pid, Some(tid), "stat")
                        .ok()
                        .and_then(parse_stat)
                    else {
                        continue;
                    };
                    let thread_io = reader
                        .read(pid, Some(tid), "io")
                        .map(parse_io)
                        .unwrap_or_default();
                    if let Some(wchan) = read_wchan(reader, pid, Some(tid)) {
                        thread_wchans.push(wchan);
                    }
                    threads.push((
                        tid,
                        thread_stat.starttime,
                        thread_stat.comm,
                        Counts {
                            cpu_user_ticks: thread_stat.utime,
                            cpu_system_ticks: thread_stat.stime,
                            read_bytes: thread_io.read_bytes,
                            write_bytes: thread_io.write_bytes,
                            major_faults: thread_stat.majflt,
                            minor_faults: thread_stat.minflt,
                            ctx_voluntary: thread_status.voluntary_ctxt_switches,
                            ctx_nonvoluntary: thread_status.nonvoluntary_ctxt_switches,
                        },
                    ));
                }
            }
            if listed > 1 {
                counts.ctx_voluntary = voluntary;
                counts.ctx_nonvoluntary = nonvoluntary;
                wchans.append(&mut thread_wchans);
            } else {
                thread_states.clear();
                threads.clear();
            }
        }
    }
    Some(ProcessReading {
        counts,
        status_state_threads: thread_states,
        // `stat`'s figures, as process-exporter reads them. (Since Linux 6.2 `VmRSS` in
        // `status` is summed exactly over CPUs and can be a few percent above `stat`'s.)
        resident: stat.rss_pages * settings.page_size,
        virtual_bytes: stat.vsize,
        swapped: status.swapped_bytes,
        pss,
        swap_pss,
        open_fds,
        fd_limit,
        wchans,
        threads,
    })
}

fn read_wchan(reader: &mut ProcReader, pid: u32, tid: Option<u32>) -> Option<String> {
    let text = reader.read(pid, tid, "wchan").ok()?.trim();
    (!text.is_empty() && text != "0").then(|| text.to_string())
}
