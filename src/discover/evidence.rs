//! What discovery sees without sending anything: the listening TCP sockets of this network
//! namespace (`/proc/net/tcp`, `tcp6`), the processes owning them where their fds are readable,
//! and every visible process's name and command line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::kinds::process::procfs::{parse_cmdline, ProcReader};

/// One listening socket as `/proc/net/tcp{,6}` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    /// The local address it is bound to (`0.0.0.0` / `::` for all).
    pub address: IpAddr,
    /// The local port.
    pub port: u16,
    /// The socket inode, to find its owner (0 when the kernel hides it).
    pub inode: u64,
}

/// A visible process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// `/proc/PID/comm`.
    pub comm: String,
    /// `/proc/PID/cmdline`, arguments joined by spaces.
    pub cmdline: String,
}

/// The listening sockets of one port, with their owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// The port.
    pub port: u16,
    /// Every address it is bound to.
    pub addresses: Vec<IpAddr>,
    /// The process owning it (the lowest pid among the owners: a server's master process),
    /// `None` when no readable fd holds it.
    pub owner: Option<u32>,
}

impl Socket {
    /// The loopback address to reach it at: 127.0.0.1 when bound to an IPv4 loopback or
    /// wildcard address or to `::` (dual-stack), ::1 when only bound there; `None` when bound
    /// only to other addresses (discovery never leaves the machine).
    pub fn loopback(&self) -> Option<IpAddr> {
        let v4 = self.addresses.iter().find_map(|address| match address {
            IpAddr::V4(v4) if v4.is_unspecified() => Some(Ipv4Addr::LOCALHOST),
            IpAddr::V4(v4) if v4.is_loopback() => Some(*v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if v4.is_loopback() => Some(v4),
                Some(v4) if v4.is_unspecified() => Some(Ipv4Addr::LOCALHOST),
                _ if v6.is_unspecified() => Some(Ipv4Addr::LOCALHOST),
                _ => None,
            },
            _ => None,
        });
        if let Some(v4) = v4 {
            return Some(IpAddr::V4(v4));
        }
        self.addresses
            .iter()
            .any(|address| matches!(address, IpAddr::V6(v6) if v6.is_loopback()))
            .then_some(IpAddr::V6(Ipv6Addr::LOCALHOST))
    }
}

/// Everything discovery saw in one look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The listening sockets, one per port, by port.
    pub sockets: Vec<Socket>,
    /// Every visible process by pid.
    pub processes: BTreeMap<u32, Process>,
}

/// Reads the listening sockets of `/proc/net/tcp` (or `tcp6` with `v6`) into `into`. Lines that
/// are not understood are skipped: the file's format is the kernel's, not the user's.
pub fn parse_listeners(text: &str, v6: bool, into: &mut Vec<Listener>) {
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode …; 0A is TCP_LISTEN.
        if fields.len() < 10 || fields[3] != "0A" {
            continue;
        }
        let Some((address, port)) = fields[1].split_once(':') else {
            continue;
        };
        let (Some(address), Ok(port), Ok(inode)) = (
            parse_address(address, v6),
            u16::from_str_radix(port, 16),
            fields[9].parse::<u64>(),
        ) else {
            continue;
        };
        into.push(Listener {
            address,
            port,
            inode,
        });
    }
}

/// The kernel prints an address as its 32-bit words in host byte order.
fn parse_address(hex: &str, v6: bool) -> Option<IpAddr> {
    let words = |count: usize| -> Option<Vec<u8>> {
        if hex.len() != count * 8 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = Vec::with_capacity(count * 4);
        for index in 0..count {
            let word = u32::from_str_radix(&hex[index * 8..index * 8 + 8], 16).ok()?;
            bytes.extend_from_slice(&word.to_ne_bytes());
        }
        Some(bytes)
    };
    if v6 {
        let bytes: [u8; 16] = words(4)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(bytes)))
    } else {
        let bytes: [u8; 4] = words(1)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(bytes)))
    }
}

/// The listening sockets grouped by port, with the owner found through `owners` (inode → pid).
pub fn group_sockets(listeners: &[Listener], owners: &HashMap<u64, u32>) -> Vec<Socket> {
    let mut by_port: BTreeMap<u16, Socket> = BTreeMap::new();
    for listener in listeners {
        let socket = by_port.entry(listener.port).or_insert_with(|| Socket {
            port: listener.port,
            addresses: Vec::new(),
            owner: None,
        });
        if !socket.addresses.contains(&listener.address) {
            socket.addresses.push(listener.address);
        }
        if let Some(&pid) = owners.get(&listener.inode) {
            socket.owner = Some(socket.owner.map_or(pid, |known| known.min(pid)));
        }
    }
    by_port.into_values().collect()
}

/// The listening sockets only, without owners: cheap enough to read every few seconds to tell
/// whether anything started or stopped listening.
pub fn listening_set(proc_root: &Path) -> BTreeSet<(IpAddr, u16)> {
    read_listeners(&mut ProcReader::new(proc_root))
        .into_iter()
        .map(|l| (l.address, l.port))
        .collect()
}

fn read_listeners(reader: &mut ProcReader) -> Vec<Listener> {
    let mut listeners = Vec::new();
    for (name, v6) in [("net/tcp", false), ("net/tcp6", true)] {
        // A kernel without IPv6 has no tcp6.
        if let Ok(text) = reader.read_root_file(name) {
            parse_listeners(text, v6, &mut listeners);
        }
    }
    listeners
}

/// Looks at `/proc` (mounted at `proc_root`): sockets, their owners, every process.
/// Processes whose fds cannot be read (another user's, without the capability) are still
/// listed by name; their sockets then have no owner.
pub fn gather(proc_root: &Path) -> Evidence {
    let mut reader = ProcReader::new(proc_root);
    let listeners = read_listeners(&mut reader);
    let wanted: BTreeSet<u64> = listeners
        .iter()
        .map(|l| l.inode)
        .filter(|&i| i != 0)
        .collect();
    let mut owners = HashMap::new();
    let mut processes = BTreeMap::new();
    let mut inodes = Vec::new();
    for pid in reader.pids().unwrap_or_default() {
        let Ok(comm) = reader
            .read(pid, None, "comm")
            .map(|c| c.trim_end().to_string())
        else {
            continue;
        };
        let cmdline = reader
            .read_bytes(pid, "cmdline")
            .map(|bytes| parse_cmdline(bytes).join(" "))
            .unwrap_or_default();
        processes.insert(pid, Process { comm, cmdline });
        inodes.clear();
        if reader.socket_inodes(pid, &mut inodes).is_ok() {
            for inode in &inodes {
                if wanted.contains(inode) {
                    owners
                        .entry(*inode)
                        .and_modify(|known: &mut u32| *known = (*known).min(pid))
                        .or_insert(pid);
                }
            }
        }
    }
    Evidence {
        sockets: group_sockets(&listeners, &owners),
        processes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from a machine with nginx on 0.0.0.0:8080 and [::]:8080, redis on 127.0.0.1:6379
    // and ::1:6379, a client connection (01, established) and a socket on 10.1.2.3:9000.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 41002 1 0000000000000000 100 0 0 10 0
   2: 0100007F:18EB 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000   105        0 41003 1 0000000000000000 20 4 30 10 -1
   3: 0302010A:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41004 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41005 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 41006 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0
";

    fn listeners() -> Vec<Listener> {
        let mut listeners = Vec::new();
        parse_listeners(TCP, false, &mut listeners);
        parse_listeners(TCP6, true, &mut listeners);
        listeners
    }

    #[test]
    fn listening_sockets_with_their_addresses_ports_and_inodes() {
        let v4 = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(
            listeners(),
            [
                (v4("0.0.0.0"), 8080, 41001),
                (v4("127.0.0.1"), 6379, 41002),
                (v4("10.1.2.3"), 9000, 41004),
                (v4("::"), 8080, 41005),
                (v4("::1"), 6379, 41006),
                (v4("::ffff:127.0.0.1"), 80, 0),
            ]
            .map(|(address, port, inode)| Listener {
                address,
                port,
                inode
            })
        );
    }

    #[test]
    fn sockets_group_by_port_with_the_lowest_owning_pid_and_a_loopback_address() {
        let owners = HashMap::from([(41001, 700), (41005, 650), (41002, 900)]);
        let sockets = group_sockets(&listeners(), &owners);
        let summary: Vec<(u16, Option<u32>, Option<IpAddr>)> = sockets
            .iter()
            .map(|s| (s.port, s.owner, s.loopback()))
            .collect();
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        assert_eq!(
            summary,
            [
                (80, None, ip("127.0.0.1")),
                (6379, Some(900), ip("127.0.0.1")),
                (8080, Some(650), ip("127.0.0.1")),
                (9000, None, None),
            ]
        );
        let only_v6 = Socket {
            port: 1,
            addresses: vec!["::1".parse().unwrap()],
            owner: None,
        };
        assert_eq!(only_v6.loopback(), ip("::1"));
        let dual = Socket {
            port: 1,
            addresses: vec!["::".parse().unwrap()],
            owner: None,
        };
        assert_eq!(dual.loopback(), ip("127.0.0.1"));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let mut listeners = Vec::new();
        parse_listeners(
            "header\n 0: zz:1F90 0 0A a b c d e 5\n 1: 0100007F 0 0A a b c d e 5\n 2: 0100007F:1F90 0 0A\n",
            false,
            &mut listeners,
        );
        assert!(listeners.is_empty());
    }

    #[test]
    fn gathers_this_process_as_the_owner_of_its_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let evidence = gather(Path::new("/proc"));
        let socket = evidence.sockets.iter().find(|s| s.port == port).unwrap();
        assert_eq!(socket.owner, Some(std::process::id()));
        let own = &evidence.processes[&std::process::id()];
        assert!(!own.cmdline.is_empty());
        assert!(listening_set(Path::new("/proc")).contains(&("127.0.0.1".parse().unwrap(), port)));
    }
}
