//! Golden tests of the JSON presets of this crate's `collectors/` folder against fixtures:
//! `spring_actuator` on a Spring Boot health answer (the shape Spring Boot's reference
//! documentation shows; Spring is not in Debian) and `prometheus_tsdb` on an answer captured
//! from Debian's prometheus 2.42.0. Set `UPDATE_GOLDEN=1` to rewrite the expected files.

use std::path::PathBuf;

use sidecar_exporter::config::presets;
use sidecar_exporter::encode::{encode, Format};
use sidecar_exporter::formats::{parse, FormatConfig};
use sidecar_exporter::mapping::{Mapping, MetricRule};

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// Maps `fixture` with the preset's `metrics` and compares the text exposition with `golden`.
fn check(preset: &str, fixture: &str, golden: &str) -> Vec<String> {
    let preset = presets::find(preset).unwrap();
    let yaml = preset.mapping().unwrap();
    let rules: Vec<MetricRule> = serde_yaml::from_value(yaml["metrics"].clone()).unwrap();
    let mapping = Mapping::compile(&rules).unwrap();
    let body = std::fs::read(path(fixture)).unwrap();
    let collection = mapping.apply(&parse(&FormatConfig::Json, &body).unwrap());
    let mut out = Vec::new();
    encode(&collection.families, Format::Text, &mut out);
    let text = String::from_utf8(out).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path(golden), &text).unwrap();
    }
    let expected = std::fs::read_to_string(path(golden)).unwrap();
    assert_eq!(text, expected, "{preset:?} on {fixture}");
    collection.problems.iter().map(|p| p.to_string()).collect()
}

#[test]
fn spring_actuator_health() {
    let problems = check(
        "spring_actuator",
        "presets/spring_actuator_health.json",
        "presets/spring_actuator_health.prom",
    );
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn spring_actuator_without_components_or_details() {
    // `show-components: never`: only the overall status, and no problem for the rest.
    let preset = presets::find("spring_actuator").unwrap();
    let rules: Vec<MetricRule> =
        serde_yaml::from_value(preset.mapping().unwrap()["metrics"].clone()).unwrap();
    let collection = Mapping::compile(&rules)
        .unwrap()
        .apply(&serde_json::json!({"status": "UP"}));
    assert!(collection.problems.is_empty(), "{:?}", collection.problems);
    assert_eq!(collection.families.len(), 1);
    assert_eq!(collection.families[0].samples[0].value, 1.0);
}

#[test]
fn prometheus_tsdb_status() {
    let problems = check(
        "prometheus_tsdb",
        "raw/prometheus_tsdb_status.json",
        "presets/prometheus_tsdb_status.prom",
    );
    assert!(problems.is_empty(), "{problems:?}");
}
