//! Reading `/proc`: pure parsers for the few files the `process` kind needs, and a small reader
//! that reuses one buffer for every file of a collection.
//!
//! Why not `sysinfo` or the `procfs` crate: a collection needs a handful of fields from `stat`,
//! `status`, `io`, `limits` and the size of `fd/`, read once per process. `sysinfo` does not
//! expose context switches, per-thread figures, fd limits or page faults, so `/proc` would be
//! read twice; the `procfs` crate parses every field of every file into owned structs (and pulls
//! in a dependency tree) where a few `split_whitespace` calls do. Parsing by hand keeps one read per
//! file per collection and makes every parser a pure, tested function.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Clock ticks per second of the times in `/proc/PID/stat` (`USER_HZ`, what `getconf CLK_TCK`
/// prints). Reading it needs `sysconf(_SC_CLK_TCK)` through libc, which this crate does not call
/// (no unsafe code); Linux fixes `USER_HZ` at 100 on every architecture we ship for (x86_64,
/// arm64, arm, riscv64, s390x, ppc64), and process-exporter uses the same constant.
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// The fields of `/proc/PID/stat` (or `/proc/PID/task/TID/stat`) the collector uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// The process name (`comm`), at most 15 bytes.
    pub comm: String,
    /// The one-letter state (`R`, `S`, `D`, `Z`, `T`, …).
    pub state: u8,
    /// The parent's pid.
    pub ppid: u32,
    /// Minor page faults.
    pub minflt: u64,
    /// Major page faults.
    pub majflt: u64,
    /// User CPU time in clock ticks.
    pub utime: u64,
    /// System CPU time in clock ticks.
    pub stime: u64,
    /// Number of threads.
    pub num_threads: u64,
    /// Start time in clock ticks after boot.
    pub starttime: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

/// Parses `/proc/PID/stat`. The name is between the first `(` and the last `)` (it may itself
/// contain spaces and parentheses).
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_string();
    let mut fields = text[close + 1..].split_ascii_whitespace();
    // Field numbers below are those of proc(5), counting pid as 1 and comm as 2.
    let state = fields.next()?.bytes().next()?; // 3
    let ppid = fields.next()?.parse().ok()?; // 4
    let mut fields = fields.skip(5); // 5..=9
    let minflt = fields.next()?.parse().ok()?; // 10
    let majflt = fields.nth(1)?.parse().ok()?; // 12
    let utime = fields.nth(1)?.parse().ok()?; // 14
    let stime = fields.next()?.parse().ok()?; // 15
    let num_threads = fields.nth(4)?.parse().ok()?; // 20
    let starttime = fields.nth(1)?.parse().ok()?; // 22
    let vsize = fields.next()?.parse().ok()?; // 23
    let rss_pages = fields.next()?.parse::<i64>().ok()?.max(0) as u64; // 24
    Some(Stat {
        comm,
        state,
        ppid,
        minflt,
        majflt,
        utime,
        stime,
        num_threads,
        starttime,
        vsize,
        rss_pages,
    })
}

/// The fields of `/proc/PID/status` the collector uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The one-letter state.
    pub state: u8,
    /// The effective user id ([`UNKNOWN_UID`] when the file has no readable `Uid` line).
    pub euid: u32,
    /// Resident memory in bytes (`VmRSS`).
    pub resident_bytes: u64,
    /// Virtual memory in bytes (`VmSize`).
    pub virtual_bytes: u64,
    /// Swapped-out memory in bytes (`VmSwap`).
    pub swapped_bytes: u64,
    /// Voluntary context switches (of this thread only: `/proc/PID/status` reports the
    /// main thread).
    pub voluntary_ctxt_switches: u64,
    /// Involuntary context switches (of this thread only).
    pub nonvoluntary_ctxt_switches: u64,
}

fn kilobytes(value: &str) -> u64 {
    value
        .split_ascii_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        .saturating_mul(1024)
}

/// The uid of a process whose owner could not be read: no user has it, so a `user:` matcher
/// never matches such a process (0 would make it look like root's).
pub const UNKNOWN_UID: u32 = u32::MAX;

/// Parses `/proc/PID/status`. Kernel threads have no `Vm*` lines: their memory is 0.
pub fn parse_status(text: &str) -> Status {
    let mut status = Status {
        euid: UNKNOWN_UID,
        ..Status::default()
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "State" => status.state = value.bytes().next().unwrap_or(b'?'),
            "Uid" => {
                status.euid = value
                    .split_ascii_whitespace()
                    .nth(1)
                    .and_then(|uid| uid.parse().ok())
                    .unwrap_or(UNKNOWN_UID)
            }
            "VmSize" => status.virtual_bytes = kilobytes(value),
            "VmRSS" => status.resident_bytes = kilobytes(value),
            "VmSwap" => status.swapped_bytes = kilobytes(value),
            "voluntary_ctxt_switches" => {
                status.voluntary_ctxt_switches = value.parse().unwrap_or(0)
            }
            "nonvoluntary_ctxt_switches" => {
                status.nonvoluntary_ctxt_switches = value.parse().unwrap_or(0)
            }
            _ => {}
        }
    }
    status
}

/// Bytes read from and written to storage, from `/proc/PID/io`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Io {
    /// `read_bytes`.
    pub read_bytes: u64,
    /// `write_bytes`.
    pub write_bytes: u64,
}

/// Parses `/proc/PID/io`.
pub fn parse_io(text: &str) -> Io {
    let mut io = Io::default();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("read_bytes:") {
            io.read_bytes = value.trim().parse().unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("write_bytes:") {
            io.write_bytes = value.trim().parse().unwrap_or(0);
        }
    }
    io
}

/// The page size of this machine (4096 on x86_64; arm64 kernels may use 16 or 64 KiB), read
/// once from the start of `/proc/self/smaps`; 4096 when it cannot be read.
pub fn page_size() -> u64 {
    static PAGE_SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // The first mapping's lines are enough: read only the start of the file.
        let mut start = vec![0u8; 4096];
        let read = std::fs::File::open("/proc/self/smaps")
            .and_then(|mut f| f.read(&mut start))
            .unwrap_or(0);
        parse_page_size(&String::from_utf8_lossy(&start[..read])).unwrap_or(4096)
    })
}

/// The number of open fds in a `/proc/PID/fd` directory. Since Linux 6.2 the directory's size
/// is that number (one `stat` call); older kernels report 0 and the directory is counted.
pub fn count_fds(dir: &Path) -> io::Result<u64> {
    let size = std::fs::metadata(dir)?.len();
    if size > 0 {
        return Ok(size);
    }
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        entry?;
        count += 1;
    }
    Ok(count)
}

/// The soft limit on open files from `/proc/PID/limits` (`unlimited` is `u64::MAX`).
pub fn parse_max_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?;
    if soft == "unlimited" {
        Some(u64::MAX)
    } else {
        soft.parse().ok()
    }
}

/// Proportional set size and proportional swap in bytes, from `/proc/PID/smaps_rollup`.
pub fn parse_smaps_rollup(text: &str) -> (u64, u64) {
    let mut pss = 0;
    let mut swap_pss = 0;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("Pss:") {
            pss = kilobytes(value);
        } else if let Some(value) = line.strip_prefix("SwapPss:") {
            swap_pss = kilobytes(value);
        }
    }
    (pss, swap_pss)
}

/// Splits `/proc/PID/cmdline` (NUL-separated, NUL-terminated) into its arguments. An empty file
/// (kernel threads, zombies) gives no arguments.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let trimmed = match bytes.iter().rposition(|&b| b != 0) {
        Some(last) => &bytes[..=last],
        None => return Vec::new(),
    };
    trimmed
        .split(|&b| b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The inodes of the sockets listening on `port`, from `/proc/net/tcp` or `/proc/net/tcp6`.
pub fn parse_listening_inodes(text: &str, port: u16, into: &mut Vec<u64>) {
    for line in text.lines().skip(1) {
        let mut fields = line.split_ascii_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // 0A is TCP_LISTEN.
        if state != "0A" {
            continue;
        }
        let local_port = local
            .rsplit_once(':')
            .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
        if local_port != Some(port) {
            continue;
        }
        // After state: tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode.
        if let Some(inode) = fields.nth(5).and_then(|i| i.parse::<u64>().ok()) {
            if inode != 0 {
                into.push(inode);
            }
        }
    }
}

/// The socket inode of an fd link target such as `socket:[12345]`.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The page size in bytes from the `KernelPageSize` lines of `/proc/self/smaps` (libc's
/// `sysconf(_SC_PAGESIZE)` would need unsafe code).
pub fn parse_page_size(smaps: &str) -> Option<u64> {
    smaps
        .lines()
        .find_map(|l| l.strip_prefix("KernelPageSize:"))
        .map(kilobytes)
        .filter(|&size| size > 0)
}

/// `btime` (boot time, seconds since the epoch) from `/proc/stat`.
pub fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Uid → user name from `/etc/passwd`.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

/// How reading one file of a process failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFailure {
    /// The process (or thread) is gone: it exited while we read it. Not an error.
    Gone,
    /// The kernel refused (another user's process, without the needed capability).
    Permission,
    /// Anything else.
    Other,
}

/// Classifies an I/O error from a `/proc` read.
pub fn classify(error: &io::Error) -> ReadFailure {
    match error.kind() {
        io::ErrorKind::NotFound => ReadFailure::Gone,
        io::ErrorKind::PermissionDenied => ReadFailure::Permission,
        // ESRCH: the task exited between open and read.
        _ if error.raw_os_error() == Some(3) => ReadFailure::Gone,
        _ => ReadFailure::Other,
    }
}

/// Reads files under one `/proc` root, reusing its buffers.
#[derive(Debug)]
pub struct ProcReader {
    root: PathBuf,
    text: String,
    bytes: Vec<u8>,
}

impl ProcReader {
    /// A reader of the `/proc` mounted at `root`.
    pub fn new(root: &Path) -> Self {
        ProcReader {
            root: root.to_path_buf(),
            text: String::with_capacity(4096),
            bytes: Vec::with_capacity(4096),
        }
    }

    /// The root this reader reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `/proc/PID/NAME`, or of `/proc/PID/task/TID/NAME` when `tid` is given.
    pub fn path(&self, pid: u32, tid: Option<u32>, name: &str) -> PathBuf {
        let mut path = self.root.join(pid.to_string());
        if let Some(tid) = tid {
            path.push("task");
            path.push(tid.to_string());
        }
        path.push(name);
        path
    }

    /// Reads `/proc/PID/NAME` (or the thread's) as text into the reused buffer.
    pub fn read(&mut self, pid: u32, tid: Option<u32>, name: &str) -> io::Result<&str> {
        let path = self.path(pid, tid, name);
        self.text.clear();
        std::fs::File::open(path)?.read_to_string(&mut self.text)?;
        Ok(&self.text)
    }

    /// Reads `/proc/PID/NAME` as bytes (for `cmdline`, which need not be UTF-8).
    pub fn read_bytes(&mut self, pid: u32, name: &str) -> io::Result<&[u8]> {
        let path = self.path(pid, None, name);
        self.bytes.clear();
        std::fs::File::open(path)?.read_to_end(&mut self.bytes)?;
        Ok(&self.bytes)
    }

    /// Reads a file relative to the root (`stat`, `net/tcp`).
    pub fn read_root_file(&mut self, name: &str) -> io::Result<&str> {
        self.text.clear();
        std::fs::File::open(self.root.join(name))?.read_to_string(&mut self.text)?;
        Ok(&self.text)
    }

    /// The pids in the root, in no particular order.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids = Vec::with_capacity(512);
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    /// The thread ids of a process.
    pub fn tids(&self, pid: u32) -> io::Result<Vec<u32>> {
        let mut tids = Vec::new();
        for entry in std::fs::read_dir(self.root.join(pid.to_string()).join("task"))? {
            let entry = entry?;
            if let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                tids.push(tid);
            }
        }
        Ok(tids)
    }

    /// The number of open fds of a process.
    pub fn open_fds(&self, pid: u32) -> io::Result<u64> {
        count_fds(&self.path(pid, None, "fd"))
    }

    /// The socket inodes among a process's fds.
    pub fn socket_inodes(&self, pid: u32, into: &mut Vec<u64>) -> io::Result<()> {
        for entry in std::fs::read_dir(self.path(pid, None, "fd"))? {
            let Ok(entry) = entry else { continue };
            if let Ok(target) = std::fs::read_link(entry.path()) {
                if let Some(inode) = target.to_str().and_then(socket_inode) {
                    into.push(inode);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod uid_tests {
    use super::*;

    #[test]
    fn a_status_without_a_readable_uid_is_nobodys() {
        assert_eq!(
            parse_status("Name:\tx\nState:\tS (sleeping)\n").euid,
            UNKNOWN_UID
        );
        assert_eq!(parse_status("Uid:\t0\tgarbage\t0\t0\n").euid, UNKNOWN_UID);
        assert_eq!(parse_status("Uid:\t1000\t33\t1000\t1000\n").euid, 33);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 250 0 3 0 17 5 0 0 20 0 4 0 98765 12345678 900 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";

    #[test]
    fn stat_fields() {
        let stat = parse_stat(STAT).unwrap();
        assert_eq!(stat.comm, "my (odd) name");
        assert_eq!(stat.state, b'S');
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.minflt, 250);
        assert_eq!(stat.majflt, 3);
        assert_eq!(stat.utime, 17);
        assert_eq!(stat.stime, 5);
        assert_eq!(stat.num_threads, 4);
        assert_eq!(stat.starttime, 98765);
        assert_eq!(stat.vsize, 12345678);
        assert_eq!(stat.rss_pages, 900);
    }

    #[test]
    fn stat_garbage_is_none() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(
            parse_stat("12 )x( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"),
            None
        );
    }

    #[test]
    fn stat_of_this_process() {
        let text = std::fs::read_to_string("/proc/self/stat").unwrap();
        let stat = parse_stat(&text).unwrap();
        assert!(stat.num_threads >= 1);
        assert!(stat.vsize > 0);
    }

    #[test]
    fn status_fields() {
        let text = "Name:\tbash\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\nVmSize:\t   10000 kB\nVmRSS:\t    2000 kB\nVmSwap:\t       4 kB\nvoluntary_ctxt_switches:\t7\nnonvoluntary_ctxt_switches:\t2\n";
        let status = parse_status(text);
        assert_eq!(
            status,
            Status {
                state: b'S',
                euid: 1001,
                resident_bytes: 2000 * 1024,
                virtual_bytes: 10000 * 1024,
                swapped_bytes: 4096,
                voluntary_ctxt_switches: 7,
                nonvoluntary_ctxt_switches: 2,
            }
        );
        // A kernel thread: no memory lines.
        assert_eq!(
            parse_status("Name:\tkthreadd\nState:\tS (sleeping)\n").resident_bytes,
            0
        );
    }

    #[test]
    fn io_limits_smaps() {
        let io = parse_io("rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n");
        assert_eq!(
            io,
            Io {
                read_bytes: 4096,
                write_bytes: 8192
            }
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        assert_eq!(
            parse_max_open_files(
                "Max open files            unlimited            unlimited            files\n"
            ),
            Some(u64::MAX)
        );
        assert_eq!(parse_max_open_files("nothing"), None);
        let smaps = "00400000-7fff [rollup]\nRss:  100 kB\nPss:  50 kB\nPss_Anon: 1 kB\nSwap: 4 kB\nSwapPss: 2 kB\n";
        assert_eq!(parse_smaps_rollup(smaps), (50 * 1024, 2048));
    }

    #[test]
    fn cmdline_split() {
        assert_eq!(parse_cmdline(b"sleep\x00600\x00"), vec!["sleep", "600"]);
        assert_eq!(parse_cmdline(b"a b\x00\x00c\x00"), vec!["a b", "", "c"]);
        assert!(parse_cmdline(b"").is_empty());
        assert!(parse_cmdline(b"\x00").is_empty());
    }

    #[test]
    fn listening_inodes() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 41299 1 0000000000000000 100 0 0 10 0\n   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        let mut inodes = Vec::new();
        parse_listening_inodes(tcp, 8080, &mut inodes);
        assert_eq!(inodes, vec![41234]);
        inodes.clear();
        parse_listening_inodes(tcp, 22, &mut inodes);
        assert_eq!(inodes, vec![999]);
        inodes.clear();
        parse_listening_inodes("header\ngarbage line\n", 22, &mut inodes);
        assert!(inodes.is_empty());
        assert_eq!(socket_inode("socket:[41234]"), Some(41234));
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn page_size() {
        let smaps = "55d0-55d1 r--p 00000000 08:01 1 /usr/bin/sleep\nSize:  4 kB\nKernelPageSize:  4 kB\nMMUPageSize:  4 kB\n";
        assert_eq!(parse_page_size(smaps), Some(4096));
        assert_eq!(parse_page_size("nothing"), None);
        let own = std::fs::read_to_string("/proc/self/smaps").unwrap();
        assert!(parse_page_size(&own).unwrap() >= 4096);
    }

    #[test]
    fn boot_time_and_passwd() {
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1700000000)
        );
        assert_eq!(parse_boot_time("cpu 1\n"), None);
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\nbroken\n",
        );
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn classify_errors() {
        assert_eq!(
            classify(&io::Error::from(io::ErrorKind::NotFound)),
            ReadFailure::Gone
        );
        assert_eq!(
            classify(&io::Error::from(io::ErrorKind::PermissionDenied)),
            ReadFailure::Permission
        );
        assert_eq!(
            classify(&io::Error::from_raw_os_error(3)),
            ReadFailure::Gone
        );
        assert_eq!(classify(&io::Error::other("x")), ReadFailure::Other);
    }
}
