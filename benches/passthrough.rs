//! The `prometheus` kind's work per scrape on a 10,000-series exposition (histograms, counters
//! with labels, gauges): parse, relabel, cap, and re-encode as text 0.0.4 and OpenMetrics.
//!
//! `cargo bench --bench passthrough`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::kinds::prometheus::process_exposition;
use sidecar_exporter::relabel::{RelabelConfig, Relabeler};

/// 10,000 series: 100 histograms × 10 handlers × (8 buckets + sum + count) = 10,000 lines.
fn exposition() -> String {
    let mut out = String::new();
    for family in 0..100 {
        out.push_str(&format!(
            "# HELP app_request_{family}_seconds Request latency of group {family}.\n\
             # TYPE app_request_{family}_seconds histogram\n"
        ));
        for handler in 0..10 {
            let mut cumulative = 0;
            for le in ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"] {
                cumulative += handler + 1;
                out.push_str(&format!(
                    "app_request_{family}_seconds_bucket{{handler=\"/api/v1/h{handler}\",method=\"GET\",le=\"{le}\"}} {cumulative}\n"
                ));
            }
            out.push_str(&format!(
                "app_request_{family}_seconds_sum{{handler=\"/api/v1/h{handler}\",method=\"GET\"}} {}.25\n\
                 app_request_{family}_seconds_count{{handler=\"/api/v1/h{handler}\",method=\"GET\"}} {cumulative}\n",
                cumulative * 3
            ));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let page = exposition();
    let lines = page.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(lines, 10_000);
    let none = Relabeler::default();
    let rules: Vec<RelabelConfig> = serde_yaml::from_str(
        "[{source_labels: [__name__], regex: 'go_.*', action: drop},
          {source_labels: [handler], target_label: path},
          {regex: handler, action: labeldrop}]",
    )
    .unwrap();
    let relabel = Relabeler::compile(&rules).unwrap();

    let mut group = c.benchmark_group("passthrough_10k_series");
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| process_exposition(page.as_bytes(), "text/plain", &none, 20_000).unwrap())
    });
    group.bench_function("parse_and_encode_text", |b| {
        let mut out = Vec::with_capacity(page.len() * 2);
        b.iter(|| {
            let collection =
                process_exposition(page.as_bytes(), "text/plain", &none, 20_000).unwrap();
            out.clear();
            encode(&collection.families, Format::Text, &mut out);
            out.len()
        })
    });
    group.bench_function("parse_relabel_3_rules_and_encode_openmetrics", |b| {
        let mut out = Vec::with_capacity(page.len() * 2);
        b.iter(|| {
            let collection =
                process_exposition(page.as_bytes(), "text/plain", &relabel, 20_000).unwrap();
            out.clear();
            encode(&collection.families, Format::OpenMetrics, &mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
