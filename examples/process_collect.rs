//! Runs N collections of the `process` kind with the embedded default config (or a YAML file
//! of the kind's keys, `groups:`, `threads:`, …, given as second argument) and prints this
//! process's CPU seconds, wall time and peak RSS for them. Used by `bench/process_vs_peer.sh`.
//!
//! `cargo run --release --example process_collect -- 100 [process.yaml]`

use std::time::{Duration, Instant};

use sidecar_exporter::kinds::process::{default_config, ProcessCollector, ProcessConfig};

fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let count: u32 = args
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or("usage: process_collect COUNT [process.yaml]")?;
    let config: ProcessConfig = match args.next() {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            serde_yaml::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => default_config(),
    };
    let collector = ProcessCollector::from_config(&config).map_err(|e| e.to_string())?;
    let deadline = || Instant::now() + Duration::from_secs(30);
    // Like process-exporter, which reads every process once when it starts.
    collector
        .collect_blocking(deadline())
        .map_err(|e| e.to_string())?;
    let (cpu_before, wall_before) = (own_cpu_seconds(), Instant::now());
    let mut series = 0;
    for _ in 0..count {
        let collection = collector
            .collect_blocking(deadline())
            .map_err(|e| e.to_string())?;
        series = collection.families.iter().map(|f| f.samples.len()).sum();
    }
    let cpu = own_cpu_seconds() - cpu_before;
    let wall = wall_before.elapsed().as_secs_f64();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    println!(
        "collections={count} cpu_seconds={cpu:.3} cpu_ms_per_collection={:.3} wall_ms_per_collection={:.3} series={series} peak_rss={hwm}",
        cpu * 1000.0 / count as f64,
        wall * 1000.0 / count as f64
    );
    Ok(())
}
