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
    /// Kernel wait channels: the processes' own, and those of each thread of a multi-threaded
    /// process (process-exporter's count).
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

    fn includes(&self, what: &str) -> bool {
        self.permission.contains(&what) || self.other.contains(&what)
    }

    fn is_empty(&self) -> bool {
        self.permission.is_empty() && self.other.is_empty()
    }

    /// The problems of one process: one for what the kernel refused, one for the rest.
    fn add_problems(&self, pid: u32, comm: &str, problems: &mut Vec<CollectError>) {
        if !self.permission.is_empty() {
            problems.push(CollectError::new(
                Reason::Permission,
                format!(
                    "permission denied reading {} of pid {pid} ({comm}): left out for this process",
                    self.permission.join(", "),
                ),
            ));
        }
        if !self.other.is_empty() {
            problems.push(CollectError::new(
                Reason::Parse,
                format!(
                    "could not read {} of pid {pid} ({comm}): left out for this process",
                    self.other.join(", "),
                ),
            ));
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

/// This collection's figures of the grouped processes, added up per group.
#[derive(Default)]
struct Tally {
    groups_now: BTreeMap<String, GroupNow>,
    /// What each group's processes used since the last collection.
    group_growth: BTreeMap<String, Counts>,
    thread_now: BTreeMap<(String, String), ThreadReport>,
    /// Every process in a group, read or not.
    grouped_pids: HashSet<u32>,
    /// Partial failures of the processes read.
    problems: Vec<CollectError>,
    timed_out: bool,
}

/// Runs one collection over the `/proc` of `reader`: lists the processes, identifies and
/// matches them, reads the grouped ones, and adds what they used to their groups' totals.
pub fn collect(
    settings: &Settings,
    state: &mut State,
    reader: &mut ProcReader,
    boot_time: u64,
    deadline: Instant,
) -> Result<Report, CollectError> {
    state.cycle += 1;
    let first_ticks = *state
        .first_ticks
        .get_or_insert_with(|| ticks_since_boot(reader, boot_time));
    let mut problems = Vec::new();

    let pids = list_processes(state, reader)?;
    let mut dynamic = refresh_dynamic(settings, state, reader, &pids, &mut problems);
    identify_processes(settings, state, reader, &pids, &mut dynamic, deadline)?;
    forget_exited(state, dynamic);
    let membership = memberships(settings, state);
    let mut tally = read_groups(
        settings,
        state,
        reader,
        membership,
        first_ticks,
        boot_time,
        deadline,
    );
    forget_baselines_outside_groups(state, &tally.grouped_pids);
    update_totals(settings, state, &mut tally);
    if tally.timed_out {
        return Err(timeout(pids.len()));
    }
    problems.append(&mut tally.problems);
    Ok(build_report(state, tally, problems))
}

/// The pids in `/proc`. Failing to list them fails the whole collection.
fn list_processes(state: &mut State, reader: &ProcReader) -> Result<Vec<u32>, CollectError> {
    reader.pids().map_err(|e| {
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
    })
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

/// Pass 1: identifies every process with one `stat` read, and matches the new ones, those that
/// `exec`ed, and all of them when a pidfile or listening socket changed.
fn identify_processes(
    settings: &Settings,
    state: &mut State,
    reader: &mut ProcReader,
    pids: &[u32],
    dynamic: &mut DynamicFacts,
    deadline: Instant,
) -> Result<(), CollectError> {
    let needs_cmdline = settings.needs_cmdline();
    let needs_uid = settings.needs_uid();
    let ports = settings.ports();
    let mut users: Option<HashMap<u32, String>> = None;
    let mut socket_inodes = Vec::new();
    for (i, &pid) in pids.iter().enumerate() {
        if pid == settings.self_pid && !settings.include_self {
            continue;
        }
        if i % 64 == 0 && Instant::now() > deadline {
            return Err(timeout(pids.len()));
        }
        let Some(stat) = read_stat(reader, pid, &mut state.procread_errors) else {
            continue;
        };
        let known = state
            .procs
            .get(&pid)
            .is_some_and(|t| t.starttime == stat.starttime);
        if !known {
            state
                .procs
                .insert(pid, Tracked::new(stat.starttime, state.generation));
            // A new process may hold a listening socket it inherited (a forked worker).
            if !ports.is_empty() && state.port_inodes.values().any(|l| !l.is_empty()) {
                note_socket_owner(state, reader, pid, dynamic, &mut socket_inodes);
            }
        }
        let generation = state.generation;
        let Some(tracked) = state.procs.get_mut(&pid) else {
            continue;
        };
        let exec_seen = tracked.comm != stat.comm;
        if !known || exec_seen {
            read_identity(reader, pid, tracked, needs_cmdline, needs_uid);
        }
        if !known || exec_seen || tracked.generation != generation {
            tracked.own = own_group(settings, pid, &stat.comm, tracked, dynamic, &mut users);
            tracked.comm = stat.comm.clone();
            tracked.generation = generation;
        }
        tracked.seen = state.cycle;
        tracked.stat = stat;
    }
    Ok(())
}

impl Tracked {
    /// A process seen for the first time; it is matched right after.
    fn new(starttime: u64, generation: u64) -> Tracked {
        Tracked {
            starttime,
            comm: String::new(),
            generation,
            seen: 0,
            stat: Stat::default(),
            cmdline: Vec::new(),
            euid: super::procfs::UNKNOWN_UID,
            own: None,
            baseline: None,
            threads: HashMap::new(),
        }
    }
}

/// A process's `stat`, or None when it exited or cannot be read (the latter is counted).
fn read_stat(reader: &mut ProcReader, pid: u32, procread_errors: &mut u64) -> Option<Stat> {
    match reader.read(pid, None, "stat") {
        Ok(text) => {
            let stat = parse_stat(text);
            if stat.is_none() {
                *procread_errors += 1;
            }
            stat
        }
        Err(e) => {
            if classify(&e) != ReadFailure::Gone {
                *procread_errors += 1;
            }
            None
        }
    }
}

/// Adds `pid` to the owners of the listening sockets it holds.
fn note_socket_owner(
    state: &State,
    reader: &ProcReader,
    pid: u32,
    dynamic: &mut DynamicFacts,
    socket_inodes: &mut Vec<u64>,
) {
    socket_inodes.clear();
    if reader.socket_inodes(pid, socket_inodes).is_ok() {
        for (port, inodes) in &state.port_inodes {
            if socket_inodes.iter().any(|i| inodes.contains(i)) {
                dynamic.port_owners.entry(*port).or_default().insert(pid);
            }
        }
    }
}

/// Reads what a process's match depends on besides its comm: the command line and the owner,
/// each only when some group looks at it.
fn read_identity(
    reader: &mut ProcReader,
    pid: u32,
    tracked: &mut Tracked,
    needs_cmdline: bool,
    needs_uid: bool,
) {
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

/// The first group the process matches by itself: (group index, group name).
fn own_group(
    settings: &Settings,
    pid: u32,
    comm: &str,
    tracked: &mut Tracked,
    dynamic: &DynamicFacts,
    users: &mut Option<HashMap<u32, String>>,
) -> Option<(usize, String)> {
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
        comm: comm.to_string(),
        cmdline: std::mem::take(&mut tracked.cmdline),
        euid: tracked.euid,
        username,
    };
    let own = settings
        .groups
        .iter()
        .enumerate()
        .find_map(|(index, g)| g.matches(index, &facts, dynamic).map(|name| (index, name)));
    tracked.cmdline = facts.cmdline;
    own
}

fn load_users() -> HashMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .map(|text| parse_passwd(&text))
        .unwrap_or_default()
}

/// Forgets the processes not seen this collection (they exited), also as socket owners.
fn forget_exited(state: &mut State, mut dynamic: DynamicFacts) {
    let cycle = state.cycle;
    state.procs.retain(|_, t| t.seen == cycle);
    for owners in dynamic.port_owners.values_mut() {
        owners.retain(|pid| state.procs.contains_key(pid));
    }
    state.port_owners = dynamic.port_owners;
}

/// Which group each process is in, by pid: its own match, or (`children: true`) its nearest
/// matched ancestor's.
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

/// Every grouped process as (pid, comm, group name), for explanations.
pub fn members(settings: &Settings, state: &State) -> Vec<(u32, String, String)> {
    memberships(settings, state)
        .into_iter()
        .map(|(pid, group)| {
            let comm = state
                .procs
                .get(&pid)
                .map(|tracked| tracked.stat.comm.clone())
                .unwrap_or_default();
            (pid, comm, group)
        })
        .collect()
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

/// Pass 2: reads the grouped processes and adds them up per group.
fn read_groups(
    settings: &Settings,
    state: &mut State,
    reader: &mut ProcReader,
    membership: Vec<(u32, String)>,
    first_ticks: u64,
    boot_time: u64,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally {
        grouped_pids: membership.iter().map(|(pid, _)| *pid).collect(),
        ..Tally::default()
    };
    for (n, (pid, group_name)) in membership.into_iter().enumerate() {
        if n % 64 == 0 && Instant::now() > deadline {
            tally.timed_out = true;
            break;
        }
        let Some(tracked) = state.procs.get_mut(&pid) else {
            continue;
        };
        let mut missing = Missing::default();
        let Some(mut reading) = read_process(settings, reader, pid, &tracked.stat, &mut missing)
        else {
            // It exited while we read it.
            continue;
        };
        let growth = growth_since_baseline(tracked, reading.counts, &missing, first_ticks);
        let threads = std::mem::take(&mut reading.threads);
        tally
            .groups_now
            .entry(group_name.clone())
            .or_default()
            .add_process(tracked, reading, boot_time);
        tally
            .group_growth
            .entry(group_name.clone())
            .or_default()
            .add(&growth);
        if settings.threads {
            track_threads(tracked, threads, &group_name, &mut tally.thread_now);
        }
        if !missing.is_empty() {
            state.partial_errors += 1;
        }
        missing.add_problems(pid, &tracked.stat.comm, &mut tally.problems);
    }
    tally
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
    // `threads_wchan` is reported whatever `threads` says, because process-exporter reads the
    // wait channels with or without `-threads`. The cost: one more small read per grouped
    // process, and one per other thread of a multi-threaded process, beside the `status` of
    // each thread read anyway. A process the exporter may not ptrace shows `0` (nothing
    // counted), to process-exporter too.
    let own_wchan = read_wchan(reader, pid, None);
    let mut wchans: Vec<String> = own_wchan.iter().cloned().collect();
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
                // The main thread's `task/PID/wchan` is the process's, read above.
                let thread_wchan = if tid == pid {
                    own_wchan.clone()
                } else {
                    read_wchan(reader, pid, Some(tid))
                };
                thread_wchans.extend(thread_wchan);
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

/// What a process used since it was last read, which becomes its new baseline.
fn growth_since_baseline(
    tracked: &mut Tracked,
    mut counts: Counts,
    missing: &Missing,
    first_ticks: u64,
) -> Counts {
    // A figure that could not be read this time keeps its last value: no growth, and no
    // jump when it can be read again.
    if missing.includes("io") {
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
    growth
}

impl GroupNow {
    fn add_process(&mut self, tracked: &Tracked, reading: ProcessReading, boot_time: u64) {
        self.procs += 1;
        self.resident += reading.resident;
        self.virtual_bytes += reading.virtual_bytes;
        self.swapped += reading.swapped;
        self.proportional_resident += reading.pss;
        self.proportional_swapped += reading.swap_pss;
        if let Some(fds) = reading.open_fds {
            self.open_fds += fds;
            if let Some(limit) = reading.fd_limit.filter(|&l| l > 0) {
                let ratio = fds as f64 / limit as f64;
                if ratio > self.worst_fd_ratio {
                    self.worst_fd_ratio = ratio;
                }
            }
        }
        self.threads += tracked.stat.num_threads;
        self.states.count(tracked.stat.state);
        // process-exporter counts a multi-threaded process once by its own state and once
        // more per thread; kept for identical numbers.
        for &state in &reading.status_state_threads {
            self.states.count(state);
        }
        let start = boot_time + tracked.starttime / CLOCK_TICKS_PER_SECOND;
        self.oldest_start = Some(self.oldest_start.map_or(start, |s| s.min(start)));
        for wchan in reading.wchans {
            *self.wchans.entry(wchan).or_default() += 1;
        }
    }
}

/// Adds what each thread used since the last collection to its (group, thread name), and
/// keeps the threads' counts as their new baselines.
fn track_threads(
    tracked: &mut Tracked,
    readings: Vec<(u32, u64, String, Counts)>,
    group_name: &str,
    thread_now: &mut BTreeMap<(String, String), ThreadReport>,
) {
    let mut threads = HashMap::with_capacity(readings.len());
    for (tid, starttime, name, counts) in readings {
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
        let entry = thread_now
            .entry((group_name.to_string(), name))
            .or_default();
        entry.count += 1;
        entry.counts.add(&growth);
    }
    tracked.threads = threads;
}

/// A process in no group now starts afresh if it joins one later.
fn forget_baselines_outside_groups(state: &mut State, grouped_pids: &HashSet<u32>) {
    for (pid, tracked) in state.procs.iter_mut() {
        if !grouped_pids.contains(pid) {
            tracked.baseline = None;
            tracked.threads.clear();
        }
    }
}

/// Adds this collection's growth to the totals, which outlive the processes that made them.
fn update_totals(settings: &Settings, state: &mut State, tally: &mut Tally) {
    for (name, growth) in &tally.group_growth {
        state
            .group_totals
            .entry(name.clone())
            .or_default()
            .add(growth);
    }
    for name in tally.groups_now.keys() {
        state.group_totals.entry(name.clone()).or_default();
    }
    if settings.remove_empty_groups {
        state
            .group_totals
            .retain(|name, _| tally.groups_now.contains_key(name));
    }
    let mut thread_totals = BTreeMap::new();
    for (key, report) in &mut tally.thread_now {
        let mut total = state.thread_totals.get(key).copied().unwrap_or_default();
        total.add(&report.counts);
        report.counts = total;
        thread_totals.insert(key.clone(), total);
    }
    state.thread_totals = thread_totals;
}

/// Every known group with its totals and this collection's gauges.
fn build_report(state: &State, mut tally: Tally, problems: Vec<CollectError>) -> Report {
    let groups = state
        .group_totals
        .iter()
        .map(|(name, counts)| {
            (
                name.clone(),
                GroupReport {
                    counts: *counts,
                    now: tally.groups_now.remove(name).unwrap_or_default(),
                },
            )
        })
        .collect();
    Report {
        groups,
        threads: tally.thread_now,
        scrape_errors: state.scrape_errors,
        procread_errors: state.procread_errors,
        partial_errors: state.partial_errors,
        problems,
    }
}

fn timeout(processes: usize) -> CollectError {
    CollectError::new(
        Reason::Timeout,
        format!("the deadline passed while reading {processes} processes"),
    )
}
