//! The report of one collection as process-exporter's metric families: same names, help texts,
//! types, labels and label values.

use super::procfs::CLOCK_TICKS_PER_SECOND;
use super::tracker::{Report, Settings};
use crate::collector::Collection;
use crate::model::{Labels, MetricFamily, MetricType};

const PREFIX: &str = "namedprocess_namegroup_";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    // Sorted by label name, as process-exporter's output is.
    let mut out: Labels = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

fn seconds(ticks: u64) -> f64 {
    ticks as f64 / CLOCK_TICKS_PER_SECOND as f64
}

struct Families(Vec<MetricFamily>);

impl Families {
    fn family(&mut self, name: &str, help: &str, metric_type: MetricType) -> &mut MetricFamily {
        let full = if name.starts_with("namedprocess_scrape") {
            name.to_string()
        } else {
            format!("{PREFIX}{name}")
        };
        if let Some(i) = self.0.iter().position(|f| f.name == full) {
            return &mut self.0[i];
        }
        self.0.push(MetricFamily::new(full, help, metric_type));
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    fn push(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        l: &[(&str, &str)],
        v: f64,
    ) {
        self.family(name, help, metric_type).push(labels(l), v);
    }
}

/// Builds the families of one report.
pub fn build(report: Report, settings: &Settings) -> Collection {
    use MetricType::{Counter, Gauge};
    let mut f = Families(Vec::with_capacity(32));
    for (name, group) in &report.groups {
        let g = name.as_str();
        let c = &group.counts;
        let n = &group.now;
        f.push(
            "num_procs",
            "number of processes in this group",
            Gauge,
            &[("groupname", g)],
            n.procs as f64,
        );
        for (mode, ticks) in [("user", c.cpu_user_ticks), ("system", c.cpu_system_ticks)] {
            f.push(
                "cpu_seconds_total",
                "Cpu user usage in seconds",
                Counter,
                &[("groupname", g), ("mode", mode)],
                seconds(ticks),
            );
        }
        f.push(
            "read_bytes_total",
            "number of bytes read by this group",
            Counter,
            &[("groupname", g)],
            c.read_bytes as f64,
        );
        f.push(
            "write_bytes_total",
            "number of bytes written by this group",
            Counter,
            &[("groupname", g)],
            c.write_bytes as f64,
        );
        f.push(
            "major_page_faults_total",
            "Major page faults",
            Counter,
            &[("groupname", g)],
            c.major_faults as f64,
        );
        f.push(
            "minor_page_faults_total",
            "Minor page faults",
            Counter,
            &[("groupname", g)],
            c.minor_faults as f64,
        );
        for (kind, value) in [
            ("voluntary", c.ctx_voluntary),
            ("nonvoluntary", c.ctx_nonvoluntary),
        ] {
            f.push(
                "context_switches_total",
                "Context switches",
                Counter,
                &[("groupname", g), ("ctxswitchtype", kind)],
                value as f64,
            );
        }
        let mut memory = vec![
            ("resident", n.resident),
            ("virtual", n.virtual_bytes),
            ("swapped", n.swapped),
        ];
        if settings.smaps {
            memory.push(("proportionalResident", n.proportional_resident));
            memory.push(("proportionalSwapped", n.proportional_swapped));
        }
        for (memtype, bytes) in memory {
            f.push(
                "memory_bytes",
                "number of bytes of memory in use",
                Gauge,
                &[("groupname", g), ("memtype", memtype)],
                bytes as f64,
            );
        }
        f.push(
            "open_filedesc",
            "number of open file descriptors for this group",
            Gauge,
            &[("groupname", g)],
            n.open_fds as f64,
        );
        f.push(
            "worst_fd_ratio",
            "the worst (closest to 1) ratio between open fds and max fds among all procs in this group",
            Gauge,
            &[("groupname", g)],
            n.worst_fd_ratio,
        );
        f.push(
            "oldest_start_time_seconds",
            "start time in seconds since 1970/01/01 of oldest process in group",
            Gauge,
            &[("groupname", g)],
            n.oldest_start.unwrap_or(0) as f64,
        );
        f.push(
            "num_threads",
            "Number of threads",
            Gauge,
            &[("groupname", g)],
            n.threads as f64,
        );
        let s = &n.states;
        for (state, count) in [
            ("Running", s.running),
            ("Sleeping", s.sleeping),
            ("Waiting", s.waiting),
            ("Zombie", s.zombie),
            ("Other", s.other),
        ] {
            f.push(
                "states",
                "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
                Gauge,
                &[("groupname", g), ("state", state)],
                count as f64,
            );
        }
        for (wchan, count) in &n.wchans {
            f.push(
                "threads_wchan",
                "Number of threads in this group waiting on each wchan",
                Gauge,
                &[("groupname", g), ("wchan", wchan)],
                *count as f64,
            );
        }
    }
    if settings.threads {
        for ((group, thread), t) in &report.threads {
            let (g, t_name) = (group.as_str(), thread.as_str());
            let c = &t.counts;
            f.push(
                "thread_count",
                "Number of threads in this group with same threadname",
                Gauge,
                &[("groupname", g), ("threadname", t_name)],
                t.count as f64,
            );
            for (mode, ticks) in [("user", c.cpu_user_ticks), ("system", c.cpu_system_ticks)] {
                f.push(
                    "thread_cpu_seconds_total",
                    "Cpu user/system usage in seconds",
                    Counter,
                    &[("groupname", g), ("threadname", t_name), ("mode", mode)],
                    seconds(ticks),
                );
            }
            for (iomode, bytes) in [("read", c.read_bytes), ("write", c.write_bytes)] {
                f.push(
                    "thread_io_bytes_total",
                    "number of bytes read/written by these threads",
                    Counter,
                    &[("groupname", g), ("threadname", t_name), ("iomode", iomode)],
                    bytes as f64,
                );
            }
            f.push(
                "thread_major_page_faults_total",
                "Major page faults for these threads",
                Counter,
                &[("groupname", g), ("threadname", t_name)],
                c.major_faults as f64,
            );
            f.push(
                "thread_minor_page_faults_total",
                "Minor page faults for these threads",
                Counter,
                &[("groupname", g), ("threadname", t_name)],
                c.minor_faults as f64,
            );
            for (kind, value) in [
                ("voluntary", c.ctx_voluntary),
                ("nonvoluntary", c.ctx_nonvoluntary),
            ] {
                f.push(
                    "thread_context_switches_total",
                    "Context switches for these threads",
                    Counter,
                    &[
                        ("groupname", g),
                        ("threadname", t_name),
                        ("ctxswitchtype", kind),
                    ],
                    value as f64,
                );
            }
        }
    }
    f.push(
        "namedprocess_scrape_errors",
        "general scrape errors: no proc metrics collected during a cycle",
        Counter,
        &[],
        report.scrape_errors as f64,
    );
    f.push(
        "namedprocess_scrape_procread_errors",
        "incremented each time a proc's metrics collection fails",
        Counter,
        &[],
        report.procread_errors as f64,
    );
    f.push(
        "namedprocess_scrape_partial_errors",
        "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats",
        Counter,
        &[],
        report.partial_errors as f64,
    );
    let mut families = f.0;
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for family in &mut families {
        family.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    Collection {
        families,
        problems: report.problems,
    }
}
