//! Parsing speed of the formats on pages captured from real servers.
//! Run: `cargo bench --bench formats`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sidecar_exporter::formats::{self, prom_text, FormatConfig};

fn config(yaml: &str) -> FormatConfig {
    serde_yaml::from_str(yaml).expect("bench config")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("formats");
    let cases: [(&str, &[u8], FormatConfig); 5] = [
        (
            "kv_redis_info_sections",
            include_bytes!("../tests/fixtures/raw/redis_info.txt"),
            config("{type: kv, comment_prefix: '#', sections: true, split_values: {pairs: ',', kv: '='}}"),
        ),
        (
            "kv_apache_status",
            include_bytes!("../tests/fixtures/raw/apache_status_auto_event.txt"),
            config("{type: kv, skip_invalid_lines: true}"),
        ),
        (
            "regex_nginx_stub_status",
            include_bytes!("../tests/fixtures/raw/nginx_stub_status.txt"),
            config(r"{type: regex, pattern: '(?s)Active connections:\s*(?P<active>\d+).*?(?P<accepts>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+).*?Reading:\s*(?P<reading>\d+)\s+Writing:\s*(?P<writing>\d+)\s+Waiting:\s*(?P<waiting>\d+)'}"),
        ),
        (
            "csv_haproxy",
            include_bytes!("../tests/fixtures/raw/haproxy_stats.csv"),
            config("{type: csv, header_prefix: '# '}"),
        ),
        (
            "json_php_fpm_full",
            include_bytes!("../tests/fixtures/raw/php_fpm_status_full.json"),
            config("json"),
        ),
    ];
    for (name, body, format) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| formats::parse(format, std::hint::black_box(body)).expect("parses"))
        });
    }
    for (name, body) in [
        (
            "prom_node_exporter_text",
            &include_bytes!("../tests/fixtures/prom/node_exporter_text.txt")[..],
        ),
        (
            "prom_prometheus_text",
            &include_bytes!("../tests/fixtures/prom/prometheus_text.txt")[..],
        ),
        (
            "prom_python_openmetrics",
            &include_bytes!("../tests/fixtures/prom/python_client_openmetrics.txt")[..],
        ),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| prom_text::parse_exposition(std::hint::black_box(body)).expect("parses"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
