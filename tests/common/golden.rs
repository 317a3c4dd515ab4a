//! Golden tests of presets: a preset's format and mapping applied to an app's answers captured
//! in `tests/fixtures/raw/` must give exactly the exposition in `tests/fixtures/golden/`.
//! `UPDATE_GOLDEN=1` rewrites the golden files (then review the diff).

use std::path::PathBuf;

use sidecar_exporter::config::presets;
use sidecar_exporter::formats;
use sidecar_exporter::kinds::pipeline::MappedConfig;
use sidecar_exporter::mapping::Mapping;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The preset's own `format` and `metrics`.
pub fn preset(name: &str) -> MappedConfig {
    let preset = presets::find(name).unwrap_or_else(|| panic!("no preset {name}"));
    let mut keys: serde_yaml::Mapping = serde_yaml::from_str(preset.yaml).unwrap();
    keys.retain(|key, _| key == "format" || key == "metrics");
    serde_yaml::from_value(serde_yaml::Value::Mapping(keys)).unwrap()
}

/// The records a preset's mapping reads from the captured answers: for a preset with
/// `requests:`, `raw_fixture` is a directory with one `<request name>.txt` per request, each read
/// with its own format (or the preset's), combined under the request names as the collector
/// does; otherwise it is the one answer.
pub fn records(preset_name: &str, config: &MappedConfig, raw_fixture: &str) -> serde_json::Value {
    let raw = fixtures().join("raw").join(raw_fixture);
    let collector_format = config.format.clone().unwrap_or_default();
    let requests = preset_requests(preset_name);
    if requests.is_empty() {
        return formats::parse(&collector_format, &std::fs::read(&raw).unwrap()).unwrap();
    }
    let mut document = serde_json::Map::new();
    for (name, format) in requests {
        let body = std::fs::read(raw.join(format!("{name}.txt")))
            .unwrap_or_else(|e| panic!("{preset_name}: request {name}: {e}"));
        let format = format.unwrap_or_else(|| collector_format.clone());
        let parsed = formats::parse(&format, &body)
            .unwrap_or_else(|e| panic!("{preset_name}: request {name}: {e}"));
        document.insert(name, parsed);
    }
    serde_json::Value::Object(document)
}

/// `requests:` of a preset: each request's name and own format.
pub fn preset_requests(name: &str) -> Vec<(String, Option<formats::FormatConfig>)> {
    #[derive(serde::Deserialize)]
    struct Item {
        name: String,
        format: Option<formats::FormatConfig>,
    }
    let preset = presets::find(name).unwrap_or_else(|| panic!("no preset {name}"));
    let keys: serde_yaml::Mapping = serde_yaml::from_str(preset.yaml).unwrap();
    let Some(listed) = keys.get("requests") else {
        return Vec::new();
    };
    let listed: Vec<serde_yaml::Mapping> = serde_yaml::from_value(listed.clone()).unwrap();
    listed
        .into_iter()
        .map(|mut item| {
            item.retain(|key, _| key == "name" || key == "format");
            let item: Item = serde_yaml::from_value(serde_yaml::Value::Mapping(item)).unwrap();
            (item.name, item.format)
        })
        .collect()
}

pub fn check(preset_name: &str, raw_fixture: &str) {
    check_with(preset_name, raw_fixture, |text| text);
}

/// `check`, with the exposition passed through `normalize` first (for values that depend on
/// the clock).
pub fn check_with(preset_name: &str, raw_fixture: &str, normalize: impl Fn(String) -> String) {
    check_as(preset_name, raw_fixture, preset_name, normalize);
}

/// `check_with`, compared with `golden/<golden_name>.prom` (for a preset's second page).
pub fn check_as(
    preset_name: &str,
    raw_fixture: &str,
    golden_name: &str,
    normalize: impl Fn(String) -> String,
) {
    let config = preset(preset_name);
    let records = records(preset_name, &config, raw_fixture);
    let mapping = Mapping::compile(config.metrics.as_deref().unwrap_or_default()).unwrap();
    let collection = mapping.apply(&records);
    assert!(
        collection.problems.is_empty(),
        "{preset_name}: {:?}",
        collection.problems
    );
    assert_golden(
        golden_name,
        &normalize(super::sorted_exposition(&collection.families)),
    );
}

/// Compares an exposition with `tests/fixtures/golden/<golden_name>.prom` (rewriting the file
/// first with `UPDATE_GOLDEN=1`).
pub fn assert_golden(golden_name: &str, got: &str) {
    let golden = fixtures()
        .join("golden")
        .join(format!("{golden_name}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, got).unwrap();
    }
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert_eq!(got, want, "output differs from {}", golden.display());
}
