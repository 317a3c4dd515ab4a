//! Applies 20 mapping rules to a 1 MB JSON document (a status page with many services, queues
//! and nested arrays): the cost of the mapping step of one collection.
//!
//! `cargo bench --bench mapping`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use sidecar_exporter::mapping::{Mapping, MetricRule};

const RULES: &str = r#"
- {name: app_uptime_seconds, path: '{.uptime}', valuetype: counter}
- {name: app_version_info, path: '{.one}', labels: {version: '{.version}'}}
- {name: app_healthy, path: '{.healthy}'}
- {name: app_memory_bytes, path: '{.memory_kb}', scale: 1024}
- {name: app_latency_seconds, path: '$.latency_ms', scale: 0.001}
- name: service
  type: object
  path: '{.services[*]}'
  labels: {service: '{.name}', zone: '{.zone}'}
  values: {requests_total: '{.requests}', errors_total: '{.errors}', latency_ms: '{.latency_ms}'}
- name: service_up
  type: object
  path: '{.services[*]}'
  labels: {service: '{.name}'}
  values: {state: '{.state}'}
  value_map: {UP: 1, DOWN: 0, DEGRADED: 0.5}
- name: service_active
  type: object
  path: '{.services[?(@.state == "UP")]}'
  labels: {service: '{.name}'}
  values: {connections: '{.connections}'}
- name: service_rfc
  type: object
  path: "$.services[?@.errors > 10]"
  labels: {service: '$.name'}
  values: {errors: '$.errors'}
- name: queue
  type: object
  path: '{.queues.*}'
  labels: {queue: '{$key}'}
  values: {ready: '{.ready}', unacked: '{.unacked}', consumers: '{.consumers}'}
- name: queue_rfc
  type: object
  path: '$.queues.*'
  labels: {queue: 'q-{$key}'}
  values: {ready: '$.ready'}
- name: cluster
  type: object
  path: '{.clusters[*]}'
  labels: {cluster: '{.name}'}
  metrics:
    - name: cluster_node
      type: object
      path: '{.nodes[*]}'
      labels: {node: '{.name}'}
      values: {cpu: '{.cpu}', memory: '{.memory}'}
- {name: scoreboard_idle, path: '{.scoreboard}', count_chars: '_'}
- {name: scoreboard_busy, path: '{.scoreboard}', count_chars: 'SRWKDCLG'}
- {name: first_service_requests, path: '{.services[0].requests}'}
- {name: last_service_requests, path: '{.services[-1].requests}'}
- {name: total_requests, path: '{.totals.requests}'}
- {name: total_errors, path: '{.totals.errors}'}
- {name: missing_value, path: '{.not_there}', allow_missing_key: true}
- {name: status_string, path: '{.status}', valueconverter: {'{.status}': {ok: 1}}}
"#;

const STATES: [&str; 3] = ["UP", "DOWN", "DEGRADED"];

fn document() -> Value {
    let services: Vec<Value> = (0..5000)
        .map(|i| {
            json!({
                "name": format!("service-{i:05}"),
                "zone": format!("zone-{}", i % 7),
                "state": STATES[i % 3],
                "requests": i * 1000 + 7,
                "errors": i % 50,
                "latency_ms": (i as f64) * 0.37,
                "connections": i % 100,
                "tags": ["a", "b", "c"],
            })
        })
        .collect();
    let queues: serde_json::Map<String, Value> = (0..3000)
        .map(|i| {
            (
                format!("queue.{i:05}"),
                json!({"ready": i, "unacked": i % 13, "consumers": i % 4, "durable": true}),
            )
        })
        .collect();
    let clusters: Vec<Value> = (0..60)
        .map(|c| {
            json!({
                "name": format!("cluster-{c}"),
                "nodes": (0..25).map(|n| json!({"name": format!("node-{n}"), "cpu": n as f64 / 25.0, "memory": n * 1_000_000})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "uptime": 123456, "one": 1, "version": "1.2.3", "healthy": true,
        "memory_kb": 204800, "latency_ms": 12.5, "status": "OK",
        "scoreboard": "_".repeat(200) + &"W".repeat(56) + &".".repeat(256),
        "totals": {"requests": 99999999, "errors": 1234},
        "services": services, "queues": queues, "clusters": clusters,
    })
}

fn bench(c: &mut Criterion) {
    let rules: Vec<MetricRule> = serde_yaml::from_str(RULES).expect("bench rules parse");
    assert_eq!(rules.len(), 20);
    let mapping = Mapping::compile(&rules).expect("bench rules compile");
    let doc = document();
    let bytes = serde_json::to_vec(&doc).expect("document serialises");
    let collection = mapping.apply(&doc);
    let series: usize = collection.families.iter().map(|f| f.samples.len()).sum();
    eprintln!(
        "document: {} bytes, families: {}, series: {series}, problems: {}",
        bytes.len(),
        collection.families.len(),
        collection.problems.len()
    );

    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("apply_20_rules_1mb", |b| b.iter(|| mapping.apply(&doc)));
    group.bench_function("parse_and_apply_20_rules_1mb", |b| {
        b.iter(|| {
            let doc: Value = serde_json::from_slice(&bytes).expect("valid JSON");
            mapping.apply(&doc)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
