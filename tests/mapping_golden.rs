//! Golden tests of the mapping engine against json_exporter's documented behaviour, and its
//! behaviour on hostile input.
//!
//! json_exporter is not packaged in Debian, so the expected outputs are its documented ones:
//! the README's `curl …/probe` transcripts and its `test/response/*.txt` files. The configs
//! under `tests/fixtures/json_exporter/` are in json_exporter's own file shape (`modules:`),
//! and each module's `metrics:` list goes into [`Mapping::compile`] unchanged.
//!
//! One deliberate difference: the README transcript shows `example_timestamped_value … 2
//! 1657568506000`, but json_exporter's code reads `epochTimestamp` as milliseconds
//! (`time.UnixMilli`), and the data holds `1657568506`; we follow the code, so `default.prom`
//! says `1657568506`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};
use sidecar_exporter::collector::{Collection, Reason};
use sidecar_exporter::mapping::{Mapping, MetricRule};

/// json_exporter's config file: only what the mapping needs (headers etc. are ignored here).
#[derive(Deserialize)]
struct ExporterConfig {
    modules: BTreeMap<String, Module>,
}

#[derive(Deserialize)]
struct Module {
    metrics: Vec<MetricRule>,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/json_exporter")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn module(config: &str, name: &str) -> Mapping {
    let config: ExporterConfig = serde_yaml::from_str(&read(config)).unwrap();
    let module = &config.modules[name];
    Mapping::compile(&module.metrics).unwrap()
}

fn data(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap()
}

fn reasons(collection: &Collection) -> Vec<Reason> {
    collection.problems.iter().map(|p| p.reason).collect()
}

#[test]
fn readme_default_module() {
    let got = module("config.yml", "default").apply(&data("data.json"));
    assert_eq!(
        common::sorted_exposition(&got.families),
        read("default.prom")
    );
    assert!(got.problems.is_empty(), "{:?}", got.problems);
}

#[test]
fn readme_animals_module() {
    let got = module("config.yml", "animals").apply(&data("animal-data.json"));
    assert_eq!(
        common::sorted_exposition(&got.families),
        read("animals.prom")
    );
    assert!(got.problems.is_empty(), "{:?}", got.problems);
}

#[test]
fn value_converter() {
    let got = module("converter.yml", "default").apply(&data("converter-data.json"));
    assert_eq!(
        common::sorted_exposition(&got.families),
        read("converter.prom")
    );
    // test4 ("ACTIVE" without a converter) and test7's INACTIVE each cost one series.
    assert_eq!(reasons(&got), [Reason::Mapping, Reason::Mapping]);
    assert!(got.problems[0].message.contains("(test4)"));
    assert!(got.problems[1].message.contains("(test7)"));
}

#[test]
fn allow_missing_key() {
    let data = data("data.json");
    for (name, problems) in [
        ("missing_value_ok", 0),
        ("missing_value_not_ok", 1),
        ("missing_object_value_ok", 0),
        ("missing_object_value_not_ok", 1),
    ] {
        let got = module("config.yml", name).apply(&data);
        assert_eq!(common::sorted_exposition(&got.families), "", "{name}");
        assert_eq!(got.problems.len(), problems, "{name}: {:?}", got.problems);
        assert!(got.problems.iter().all(|p| p.reason == Reason::Mapping));
    }
}

#[test]
fn legacy_spellings_value_types_and_one_bad_value() {
    let got = module("config.yml", "legacy").apply(&data("data.json"));
    assert_eq!(
        common::sorted_exposition(&got.families),
        read("legacy.prom")
    );
    assert_eq!(reasons(&got), [Reason::Mapping]);
    assert!(got.problems[0]
        .message
        .contains("\"1000 MB\" is not a number"));
}

#[test]
fn rfc9535_paths_give_the_same_families() {
    let rules: Vec<MetricRule> = serde_yaml::from_str(
        r#"
- name: example_global_value
  path: $.counter
  help: Example of a top-level global value scrape in the json
  labels:
    environment: beta
    location: 'planet-{ .location }'
- name: example_value
  type: object
  help: Example of sub-level value scrapes from a json
  path: $.values[?@.state == 'ACTIVE']
  labels:
    environment: beta
    id: $.id
  values:
    active: 1
    count: $.count
    boolean: $.some_boolean
"#,
    )
    .unwrap();
    let got = Mapping::compile(&rules).unwrap().apply(&data("data.json"));
    let expected: String = read("default.prom")
        .split_inclusive('\n')
        .filter(|line| !line.contains("example_timestamped_value"))
        .collect();
    assert_eq!(common::sorted_exposition(&got.families), expected);
}

// --- hostile input ---

fn rules(yaml: &str) -> Mapping {
    let rules: Vec<MetricRule> = serde_yaml::from_str(yaml).unwrap();
    Mapping::compile(&rules).unwrap()
}

#[test]
fn fifty_levels_deep() {
    let mut doc = json!({"value": 42, "name": "bottom"});
    for _ in 0..50 {
        doc = json!({ "next": doc, "noise": [1, 2, 3] });
    }
    // Through the JSON parser as a real answer would be.
    let doc: Value = serde_json::from_str(&doc.to_string()).unwrap();
    let deep_path = format!("{{{}.value}}", ".next".repeat(50));
    let mapping = rules(&format!(
        r#"
- name: deep_value
  path: '{deep_path}'
- name: deep_recursive
  type: object
  path: '{{..[?(@.name)]}}'
  labels: {{name: '{{.name}}', key: '{{$key}}'}}
  values: {{value: '{{.value}}'}}
- name: deep_missing
  path: '{{.next.next.nope.value}}'
"#
    ));
    let got = mapping.apply(&doc);
    let text = common::sorted_exposition(&got.families);
    assert!(text.contains("\ndeep_value 42\n"), "{text}");
    assert!(
        text.contains("deep_recursive_value{key=\"next\",name=\"bottom\"} 42"),
        "{text}"
    );
    assert_eq!(reasons(&got), [Reason::Mapping]);
    assert!(got.problems[0].message.contains("`nope` is not found"));
}

#[test]
fn hundred_thousand_elements() {
    let items: Vec<Value> = (0..100_000)
        .map(|i| json!({"id": format!("item-{i}"), "n": i, "state": if i % 2 == 0 { "UP" } else { "DOWN" }}))
        .collect();
    let doc = json!({ "items": items });
    let mapping = rules(
        r#"
- name: item
  type: object
  path: '{.items[?(@.state == "UP")]}'
  labels: {id: '{.id}'}
  values: {n: '{.n}'}
- name: item_up
  type: object
  path: '$.items[*]'
  labels: {id: '$.id'}
  values: {state: '$.state'}
  value_map: {UP: 1, DOWN: 0}
- name: item_missing
  type: object
  path: '{.items[*]}'
  labels: {id: '{.id}'}
  values: {x: '{.x}'}
"#,
    );
    let started = Instant::now();
    let got = mapping.apply(&doc);
    // Not a timing assertion (the bench measures); printed for the curious.
    eprintln!("100k elements, 3 rules: {:?}", started.elapsed());
    assert_eq!(got.families.len(), 2);
    assert_eq!(got.families[0].samples.len(), 50_000);
    assert_eq!(got.families[1].samples.len(), 100_000);
    assert_eq!(got.families[1].samples[1].value, 0.0);
    // 100k missing `x`: a few listed, the rest summed up in one more problem.
    assert!(got.problems.len() <= 6, "{}", got.problems.len());
    assert!(got.problems.last().unwrap().message.contains("99995 more"));
}

#[test]
fn label_values_are_kept_verbatim() {
    let doc = json!({"items": [
        {"name": "say \"hi\"", "v": 1},
        {"name": "back\\slash", "v": 2},
        {"name": "two\nlines", "v": 3},
        {"name": "ünïcödé ✓", "v": 4},
        {"name": "", "v": 5}
    ]});
    let got = rules(
        "- name: x\n  type: object\n  path: '{.items[*]}'\n  labels: {name: '{.name}'}\n  values: {v: '{.v}'}\n",
    )
    .apply(&doc);
    let names: Vec<&str> = got.families[0]
        .samples
        .iter()
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(
        names,
        ["say \"hi\"", "back\\slash", "two\nlines", "ünïcödé ✓", ""]
    );
    assert!(got.problems.is_empty());
}

#[test]
fn non_object_documents_do_not_panic() {
    let mapping = rules(
        "- name: a\n  path: '{.a.b[0]}'\n- name: b\n  type: object\n  path: '{.items[*]}'\n  values: {v: '{.v}'}\n  labels: {k: '{$key}'}\n",
    );
    for doc in [
        json!(null),
        json!(42),
        json!("text"),
        json!([1, 2, 3]),
        json!({"a": [1]}),
        json!({"a": {"b": "x"}, "items": "not a list"}),
        json!({"items": [null, 1, "s", [], {}]}),
    ] {
        let got = mapping.apply(&doc);
        assert!(got.families.iter().all(|f| f.samples.is_empty()), "{doc}");
    }
}
