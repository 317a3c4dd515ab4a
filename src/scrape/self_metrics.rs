//! The exporter's own metrics: collector health, errors, requests, scrapes, build info, config
//! reloads, and the standard `process_*` metrics read from `/proc/self`.

use std::sync::Arc;

use crate::collector::Reason;
use crate::model::{labels, MetricFamily, MetricType};

use super::{CollectorEntry, Counters, Outcome};

/// The exporter's version (from Cargo).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision it was built from (`SIDECAR_EXPORTER_REVISION` at build time).
pub const REVISION: &str = match option_env!("SIDECAR_EXPORTER_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};
/// The compiler that built it.
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
        "Errors of each collector by reason (connect, timeout, http_status, parse, mapping, duplicate_series, limit, permission).",
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
    let all_requests = counters.all_target_requests();
    for (entry, _) in outcomes {
        let value = all_requests
            .get(&(entry.name.clone(), entry.kind))
            .copied()
            .unwrap_or(0);
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
        gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            me.start_time_seconds,
        ),
    ];
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
    start_time_seconds: f64,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
}

/// Linux reports times in /proc in clock ticks of 1/100 s on every architecture we ship for
/// (USER_HZ is fixed at 100 in the kernel ABI).
const TICKS_PER_SECOND: f64 = 100.0;

fn read_self() -> Option<SelfStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after_comm = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |index_from_state: usize| {
        fields
            .get(index_from_state)
            .and_then(|f| f.parse::<f64>().ok())
    };
    // Field numbers of proc(5), minus 3 (pid, comm, state come first).
    let utime = field(11)?;
    let stime = field(12)?;
    let start_ticks = field(19)?;
    let virtual_bytes = field(20)?;
    // Resident size from /proc/self/status (kB), which does not depend on the page size.
    let resident_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })?;
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines().find_map(|l| {
            l.strip_prefix("btime ")
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
    })?;
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as f64);
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(3)
                        .and_then(|v| v.parse::<f64>().ok())
                })
        });
    Some(SelfStats {
        cpu_seconds: (utime + stime) / TICKS_PER_SECOND,
        resident_bytes: resident_kib * 1024.0,
        virtual_bytes,
        start_time_seconds: boot_time + start_ticks / TICKS_PER_SECOND,
        open_fds,
        max_fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process_metrics() {
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
