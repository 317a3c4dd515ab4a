//! One collection of the `process` kind with about 1,000 live processes on the machine.
//!
//! Run: `cargo bench --bench process`. The setup starts 1,000 `sleep 600` children and kills
//! them at the end.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sidecar_exporter::kinds::process::{default_config, ProcessCollector, ProcessConfig};

const CHILDREN: usize = 1000;

struct Sleepers(Vec<Child>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

fn start_sleepers() -> Sleepers {
    let mut sleepers = Sleepers(Vec::with_capacity(CHILDREN));
    for _ in 0..CHILDREN {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting sleep");
        sleepers.0.push(child);
    }
    sleepers
}

fn one_app_group() -> ProcessConfig {
    serde_yaml::from_str("groups:\n  - {name: app, comm: [no-such-app], children: true}\n")
        .expect("bench config")
}

fn bench(c: &mut Criterion) {
    let _sleepers = start_sleepers();
    let deadline = || Instant::now() + Duration::from_secs(30);
    let mut group = c.benchmark_group("process_collect_1000_procs");
    group.sample_size(30);
    for (name, config) in [
        ("default_config_every_process", default_config()),
        ("one_app_group", one_app_group()),
    ] {
        let collector = ProcessCollector::from_config(&config).expect("collector");
        // The first collection matches every process; later ones read only what changed.
        collector
            .collect_blocking(deadline())
            .expect("first collection");
        group.bench_function(name, |b| {
            b.iter(|| collector.collect_blocking(deadline()).expect("collection"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
