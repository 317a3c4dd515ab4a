//! A scrape of the engine with 10 trivial collectors: planning, single-flight bookkeeping,
//! merging and the self-metrics, without the network.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sidecar_exporter::config::load_bytes;
use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::scrape::{merge_families, self_metrics, Counters, Engine};

fn engine_scrape(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = String::from("collectors:\n");
    for i in 0..10 {
        let file = dir.path().join(format!("stats{i}.json"));
        std::fs::write(&file, format!(r#"{{"requests": {i}, "errors": 1}}"#)).expect("fixture");
        config.push_str(&format!(
            "  - name: c{i}\n    kind: file\n    path: {}\n    format: json\n    metrics:\n      - name: app{i}_requests_total\n        path: '{{ .requests }}'\n        valuetype: counter\n",
            file.display()
        ));
    }
    let loaded = load_bytes("bench.yaml", config.as_bytes(), Path::new("."), &|_| None)
        .expect("bench config loads");
    let counters = Arc::new(Counters::default());
    let engine = Engine::build(&loaded, counters.clone()).expect("bench config builds");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    c.bench_function("scrape, 10 file collectors, text", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                let outcomes = engine.collect(deadline).await;
                let (mut families, _) =
                    merge_families(outcomes.iter().map(|(_, o)| o.families.as_slice()));
                families.extend(
                    self_metrics::families(&outcomes, &counters, Default::default())
                        .into_iter()
                        .map(std::borrow::Cow::Owned),
                );
                let mut out = Vec::with_capacity(16 * 1024);
                encode(&families, Format::Text, &mut out);
                out.len()
            })
        })
    });
}

criterion_group!(benches, engine_scrape);
criterion_main!(benches);
