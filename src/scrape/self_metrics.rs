//! The exporter's own metrics: collector health, errors, requests, scrapes, build info, config
//! reloads, and the standard `process_*` metrics read from `/proc/self`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::collector::Reason;
use crate::kinds::process::procfs;
use crate::model::{labels, MetricFamily, MetricType};

use super::{CollectorEntry, Counters, Outcome};

/// The exporter's version (from Cargo).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision it was built from (`SIDECAR_EXPORTER_REVISION` at build time).
pub const REVISION: &str = match option_env!("SIDECAR_EXPORTER_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};
/// The compiler that built it (set by `build.rs`).
pub const RUSTC_VERSION: &str = match option_env!("SIDECAR_EXPORTER_RUSTC_VERSION") {
    Some(version) => version,
    None => "unknown",
};

/// The config reload state shown in the self-metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReloadState {
    /// Whether the last reload attempt succeeded.
    pub last_successful: bool,
    /// Unix time of the last successful load.
    pub last_success_timestamp: f64,
}

/// Builds the self-metric families for one scrape.
pub fn families(
    outcomes: &[(Arc<CollectorEntry>, Arc<Outcome>)],
    counters: &Counters,
    reload: ReloadState,
) -> Vec<MetricFamily> {
    let mut up = MetricFamily::new(
        "sidecar_exporter_collector_up",
        "Whether the collector's last collection succeeded (1) or failed (0).",
        MetricType::Gauge,
    );
    let mut duration = MetricFamily::new(
        "sidecar_exporter_collector_duration_seconds",
        "How long the collector's last collection took.",
        MetricType::Gauge,
    );
    for (entry, outcome) in outcomes {
        let collector_labels = labels([("collector", &entry.name), ("kind", entry.kind)]);
        up.push(
            collector_labels.clone(),
            if outcome.up() { 1.0 } else { 0.0 },
        );
        duration.push(collector_labels, outcome.duration.as_secs_f64());
    }

    let mut errors = MetricFamily::new(
        "sidecar_exporter_collector_errors_total",
        "Errors of each collector by reason (connect, timeout, http_status, parse, mapping, duplicate_series, limit, permission, auth, query).",
        MetricType::Counter,
    );
    let counted = counters.errors();
    for (entry, _) in outcomes {
        for reason in Reason::ALL {
            let value = counted
                .get(&(entry.name.clone(), entry.kind, reason))
                .copied()
                .unwrap_or(0);
            errors.push(
                labels([
                    ("collector", &entry.name),
                    ("kind", entry.kind),
                    ("reason", reason.as_str()),
                ]),
                value as f64,
            );
        }
    }

    let mut requests = MetricFamily::new(
        "sidecar_exporter_target_requests_total",
        "Requests sent to the application by each collector.",
        MetricType::Counter,
    );
    for (entry, _) in outcomes {
        let value = entry.target_requests();
        requests.push(
            labels([("collector", &entry.name), ("kind", entry.kind)]),
            value as f64,
        );
    }

    let mut scrapes = MetricFamily::new(
        "sidecar_exporter_scrapes_total",
        "Scrapes of the metrics endpoint answered, by HTTP status code.",
        MetricType::Counter,
    );
    for (code, count) in counters.scrapes() {
        scrapes.push(labels([("code", &code.to_string())]), count as f64);
    }

    let build_info = MetricFamily::new(
        "sidecar_exporter_build_info",
        "A metric with a constant '1' value labelled by version, revision and rustc_version.",
        MetricType::Gauge,
    )
    .with_sample(
        labels([
            ("version", VERSION),
            ("revision", REVISION),
            ("rustc_version", RUSTC_VERSION),
        ]),
        1.0,
    );
    let reload_ok = MetricFamily::new(
        "sidecar_exporter_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
        MetricType::Gauge,
    )
    .with_sample(Vec::new(), if reload.last_successful { 1.0 } else { 0.0 });
    let reload_time = MetricFamily::new(
        "sidecar_exporter_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
        MetricType::Gauge,
    )
    .with_sample(Vec::new(), reload.last_success_timestamp);

    let mut all = vec![up, duration, errors, requests];
    if !scrapes.samples.is_empty() {
        all.push(scrapes);
    }
    all.extend([build_info, reload_ok, reload_time]);
    all.extend(process_families());
    all
}

/// `sidecar_exporter_discovered_collectors`: the collectors `serve --discover` runs, by preset.
pub fn discovered(by_preset: &std::collections::BTreeMap<String, usize>) -> MetricFamily {
    let mut family = MetricFamily::new(
        "sidecar_exporter_discovered_collectors",
        "Collectors that discovery found and runs, by preset (--discover).",
        MetricType::Gauge,
    );
    for (preset, count) in by_preset {
        family.push(labels([("preset", preset.as_str())]), *count as f64);
    }
    family
}

/// The standard `process_*` metrics of the exporter itself, as client libraries export them.
pub fn process_families() -> Vec<MetricFamily> {
    let Some(me) = read_self() else {
        return Vec::new();
    };
    let gauge = |name: &str, help: &str, value: f64| {
        MetricFamily::new(name, help, MetricType::Gauge).with_sample(Vec::new(), value)
    };
    let mut out = vec![
        MetricFamily::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter,
        )
        .with_sample(Vec::new(), me.cpu_seconds),
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            me.resident_bytes,
        ),
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            me.virtual_bytes,
        ),
    ];
    if let Some(start) = me.start_time_seconds {
        out.push(gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            start,
        ));
    }
    if let Some(open) = me.open_fds {
        out.push(gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            open,
        ));
    }
    if let Some(max) = me.max_fds {
        out.push(gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            max,
        ));
    }
    out
}

struct SelfStats {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    start_time_seconds: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
}

/// The start time in seconds since the epoch, read once: it is the one figure that needs
/// `/proc/self/stat` and `/proc/stat` (the boot time), which cost more to read than every other
/// self-metric together. A failed read is retried on the next scrape.
fn start_time_seconds() -> Option<f64> {
    static START_TIME: OnceLock<f64> = OnceLock::new();
    if let Some(start) = START_TIME.get() {
        return Some(*start);
    }
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|text| procfs::parse_boot_time(&text))?;
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|text| procfs::parse_stat(&text))?;
    let ticks_per_second = procfs::CLOCK_TICKS_PER_SECOND as f64;
    Some(*START_TIME.get_or_init(|| boot_time as f64 + stat.starttime as f64 / ticks_per_second))
}

/// `/proc/self/statm` and the `/proc/self/fd` directory, opened once: reading `statm` again
/// from offset 0 (`/proc` regenerates a file's text on each read from its start) and asking the
/// open directory for its size spare a path lookup, an `open` and a `close` per scrape, which
/// cost more than the reads. `None` when they cannot be opened; then each scrape opens them
/// itself.
struct SelfFiles {
    statm: File,
    fd_dir: File,
}

fn self_files() -> Option<&'static SelfFiles> {
    static SELF_FILES: OnceLock<Option<SelfFiles>> = OnceLock::new();
    SELF_FILES
        .get_or_init(|| {
            Some(SelfFiles {
                statm: File::open("/proc/self/statm").ok()?,
                fd_dir: File::open("/proc/self/fd").ok()?,
            })
        })
        .as_ref()
}

/// The text of `/proc/self/statm`, in one read: a one-line `/proc` file is produced whole by
/// its first read, and a second read to see the end would make the kernel produce it again.
/// Plain reads: `fs::read_to_string` adds a `statx` and an `lseek` and grows its buffer from a
/// 32-byte probe, since `/proc` files report size 0.
fn read_statm(buf: &mut [u8]) -> Option<&str> {
    let opened;
    let file = match self_files() {
        Some(files) => &files.statm,
        None => {
            opened = File::open("/proc/self/statm").ok()?;
            &opened
        }
    };
    let read = file.read_at(buf, 0).ok()?;
    if read == 0 || read == buf.len() {
        return None;
    }
    std::str::from_utf8(&buf[..read]).ok()
}

/// The number of open descriptors: the size of the kept-open `/proc/self/fd` (Linux 6.2 and
/// later), else what [`procfs::count_fds`] finds.
fn open_fds() -> Option<u64> {
    let size = self_files()
        .and_then(|files| files.fd_dir.metadata().ok())
        .map_or(0, |metadata| metadata.len());
    if size > 0 {
        return Some(size);
    }
    procfs::count_fds(Path::new("/proc/self/fd")).ok()
}

/// The CPU time of the process: its CPU clock, or, on a kernel built without POSIX timers
/// (which has no CPU clocks), utime+stime of `/proc/self/stat` in ticks.
fn cpu_seconds() -> Option<f64> {
    use rustix::time::{clock_gettime_dynamic, ClockId, DynamicClockId};
    if let Ok(cpu) = clock_gettime_dynamic(DynamicClockId::Known(ClockId::ProcessCPUTime)) {
        return Some(cpu.tv_sec as f64 + cpu.tv_nsec as f64 / 1e9);
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let stat = procfs::parse_stat(&stat)?;
    Some((stat.utime + stat.stime) as f64 / procfs::CLOCK_TICKS_PER_SECOND as f64)
}

/// The figures of a scrape, each from the cheapest source that gives the value client
/// libraries export: the CPU clock and the descriptor limit from system calls (reading them
/// from `/proc/self/stat` and `/proc/self/limits` made the kernel format both files whole on
/// every scrape), the sizes from `statm` (its resident size is `VmRSS` of `status`, in pages;
/// the `rss` of `stat` can differ from it, as recent kernels sum the per-CPU counters only for
/// `status` and `statm`).
fn read_self() -> Option<SelfStats> {
    let mut buf = [0u8; 256];
    let statm = read_statm(&mut buf)?;
    let mut pages = statm
        .split_ascii_whitespace()
        .map(|field| field.parse::<f64>().ok());
    let (virtual_pages, resident_pages) = (pages.next()??, pages.next()??);
    let page_size = procfs::page_size() as f64;
    let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    Some(SelfStats {
        cpu_seconds: cpu_seconds()?,
        resident_bytes: resident_pages * page_size,
        virtual_bytes: virtual_pages * page_size,
        start_time_seconds: start_time_seconds(),
        open_fds: open_fds().map(|n| n as f64),
        max_fds: Some(max_fds as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process_metrics() {
        // The first call faults in the code it runs (megabytes of a debug build) after
        // reading the resident size: the second reads a size that stays.
        process_families();
        let families = process_families();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        for expected in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_start_time_seconds",
            "process_open_fds",
            "process_max_fds",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let rss = families
            .iter()
            .find(|f| f.name == "process_resident_memory_bytes")
            .unwrap();
        assert!(rss.samples[0].value > 1024.0 * 1024.0);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss = procfs::parse_status(&status).resident_bytes as f64;
        assert!(
            (rss.samples[0].value - vm_rss).abs() < vm_rss * 0.2,
            "rss {} against VmRSS {vm_rss}",
            rss.samples[0].value
        );
        let fds = families
            .iter()
            .find(|f| f.name == "process_open_fds")
            .unwrap();
        let listed = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64;
        // The listing holds the directory's own fd too; other test threads may open a few.
        assert!(
            (fds.samples[0].value - listed).abs() <= 8.0,
            "open fds {} against {listed} listed",
            fds.samples[0].value
        );
        let value_of = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
        let max_fds = procfs::parse_max_open_files(&limits).unwrap() as f64;
        assert_eq!(value_of("process_max_fds"), max_fds);
        let vm_size = status
            .lines()
            .find_map(|line| line.strip_prefix("VmSize:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap()
            * 1024.0;
        assert!(
            (value_of("process_virtual_memory_bytes") - vm_size).abs() < vm_size * 0.2,
            "virtual size against VmSize {vm_size}"
        );
        // The CPU clock is exact, /proc/self/stat counts in ticks of 10 ms.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let stat = procfs::parse_stat(&stat).unwrap();
        let cpu_from_stat = (stat.utime + stat.stime) as f64 / 100.0;
        assert!(
            (value_of("process_cpu_seconds_total") - cpu_from_stat).abs() < 0.5,
            "CPU {} against {cpu_from_stat} from /proc/self/stat",
            value_of("process_cpu_seconds_total")
        );
        let start = families
            .iter()
            .find(|f| f.name == "process_start_time_seconds")
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            (now - start.samples[0].value).abs() < 600.0,
            "start time {}",
            start.samples[0].value
        );
    }
}
