#![no_main]
//! `metrics:` rules from YAML text, compiled (paths, templates, names), then applied to a small
//! fixed document so that a rule that compiles also runs.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sidecar_exporter::mapping::{Mapping, MetricRule};

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::json!({
        "a": {"b": 1, "c": "2"},
        "items": [{"id": "x", "state": "UP", "count": 3}, {"id": "y", "state": "DOWN", "count": "4"}],
        "map": {"k1": "UP", "k2": 5},
        "Scoreboard": "_SRW__K.",
        "version": "Apache/2.4.71 (Debian)"
    })
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = serde_yaml::from_str::<Vec<MetricRule>>(text) else {
        return;
    };
    if let Ok(mapping) = Mapping::compile(&rules) {
        let _ = mapping.apply(&DOCUMENT);
    }
});
