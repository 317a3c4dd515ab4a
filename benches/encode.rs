//! Encoding throughput: 10k and 100k series in ~100 families with 3 labels each, in both
//! exposition formats.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::model::{MetricFamily, MetricType, Sample};

const FAMILIES: usize = 100;
const HISTOGRAM_BOUNDS: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];

/// `series` samples spread over [`FAMILIES`] families: every tenth family a histogram (10
/// buckets, sum, count per label set), the rest alternately counters and gauges; every sample
/// has three labels (a histogram bucket also `le`). Values mix integers and fractions.
fn families(series: usize) -> Vec<MetricFamily> {
    let per_family = series / FAMILIES;
    (0..FAMILIES)
        .map(|f| {
            let (name, metric_type) = match f % 10 {
                9 => (
                    format!("app_request_duration_{f}_seconds"),
                    MetricType::Histogram,
                ),
                n if n % 2 == 0 => (format!("app_requests_{f}_total"), MetricType::Counter),
                _ => (format!("app_queue_depth_{f}"), MetricType::Gauge),
            };
            let mut family =
                MetricFamily::new(name, "Some help text for this family.", metric_type);
            let label_set = |i: usize| {
                vec![
                    (
                        "method".to_string(),
                        ["GET", "POST", "PUT"][i % 3].to_string(),
                    ),
                    (
                        "code".to_string(),
                        ["200", "404", "500", "503"][i % 4].to_string(),
                    ),
                    ("path".to_string(), format!("/api/v1/items/{i}")),
                ]
            };
            let value = |i: usize| {
                if i.is_multiple_of(2) {
                    (i * 37) as f64
                } else {
                    i as f64 * 0.731
                }
            };
            if metric_type == MetricType::Histogram {
                let label_sets = per_family / (HISTOGRAM_BOUNDS.len() + 2);
                for i in 0..label_sets {
                    for (b, bound) in HISTOGRAM_BOUNDS.iter().enumerate() {
                        let mut labels = label_set(i);
                        labels.push(("le".to_string(), bound.to_string()));
                        family.samples.push(Sample {
                            suffix: "_bucket",
                            labels,
                            value: (i * (b + 1)) as f64,
                            timestamp_ms: None,
                        });
                    }
                    for suffix in ["_sum", "_count"] {
                        family.samples.push(Sample {
                            suffix,
                            labels: label_set(i),
                            value: value(i),
                            timestamp_ms: None,
                        });
                    }
                }
            } else {
                for i in 0..per_family {
                    family.push(label_set(i), value(i));
                }
            }
            family
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for series in [10_000, 100_000] {
        let input = families(series);
        let written: usize = input.iter().map(|f| f.samples.len()).sum();
        group.throughput(Throughput::Elements(written as u64));
        for (label, format) in [("text", Format::Text), ("openmetrics", Format::OpenMetrics)] {
            group.bench_with_input(BenchmarkId::new(label, series), &input, |b, input| {
                // A fresh buffer each time, as a scrape handler would have.
                b.iter(|| {
                    let mut out = Vec::new();
                    encode(input, format, &mut out);
                    out
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_encode);
criterion_main!(benches);
