//! Golden tests of the redis, memcached, haproxy and php_fpm presets: each preset's format and
//! mapping applied to the real server output captured in `tests/fixtures/raw/` must give exactly
//! the exposition in `tests/fixtures/golden/<preset>.prom`.
//!
//! The golden files were written once from this output after checking it series by series
//! against the peer exporters (see `presets_live.rs`); any change of the output fails here.
//! To rewrite them after an intended change: `UPDATE_GOLDEN=1 cargo test --test presets_golden`,
//! then review the diff.

mod common;

use std::path::PathBuf;

use sidecar_exporter::config::presets;
use sidecar_exporter::formats;
use sidecar_exporter::kinds::pipeline::MappedConfig;
use sidecar_exporter::mapping::Mapping;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The preset's own `format` and `metrics`.
fn preset(name: &str) -> MappedConfig {
    let preset = presets::find(name).unwrap_or_else(|| panic!("no preset {name}"));
    let mut keys: serde_yaml::Mapping = serde_yaml::from_str(preset.yaml).unwrap();
    keys.retain(|key, _| key == "format" || key == "metrics");
    serde_yaml::from_value(serde_yaml::Value::Mapping(keys)).unwrap()
}

/// The records a preset's mapping reads from the captured answers: for a preset with
/// `requests:`, `raw_fixture` is a directory with one `<request name>.txt` per request, each read
/// with its own format (or the preset's), combined under the request names as the collector
/// does; otherwise it is the one answer.
fn records(preset_name: &str, config: &MappedConfig, raw_fixture: &str) -> serde_json::Value {
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
fn preset_requests(name: &str) -> Vec<(String, Option<formats::FormatConfig>)> {
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

fn check(preset_name: &str, raw_fixture: &str) {
    check_with(preset_name, raw_fixture, |text| text);
}

/// `check`, with the exposition passed through `normalize` first (for values that depend on
/// the clock).
fn check_with(preset_name: &str, raw_fixture: &str, normalize: impl Fn(String) -> String) {
    check_as(preset_name, raw_fixture, preset_name, normalize);
}

/// `check_with`, compared with `golden/<golden_name>.prom` (for a preset's second page).
fn check_as(
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
    let got = normalize(common::sorted_exposition(&collection.families));
    let golden = fixtures()
        .join("golden")
        .join(format!("{golden_name}.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert_eq!(
        got,
        want,
        "{preset_name}: output differs from {}",
        golden.display()
    );
}

#[test]
fn redis_info_all_config_and_slowlog_over_the_wire() {
    check_with("redis", "redis", |text| {
        // The start time is the clock now minus the captured uptime: checked, then fixed.
        let uptime: f64 = std::fs::read_to_string(fixtures().join("raw/redis/info.txt"))
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("uptime_in_seconds:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        text.lines()
            .map(
                |line| match line.strip_prefix("redis_start_time_seconds ") {
                    Some(value) => {
                        let start: f64 = value.parse().unwrap();
                        assert!((now - uptime - start).abs() <= 2.0, "{line}");
                        "redis_start_time_seconds NOW-UPTIME".to_string()
                    }
                    None => line.to_string(),
                },
            )
            .map(|line| line + "\n")
            .collect()
    });
}

#[test]
fn bind_statistics_channel_json() {
    check("bind", "bind");
}

#[test]
fn squid_cache_manager() {
    check("squid", "squid");
}

#[test]
fn memcached_stats_slabs_items_and_settings() {
    check("memcached", "memcached");
}

#[test]
fn haproxy_stats_csv() {
    check("haproxy", "haproxy_stats.csv");
}

#[test]
fn php_fpm_status_json() {
    check("php_fpm", "php_fpm_status.json");
}

#[test]
fn php_fpm_full_status_adds_the_process_series() {
    check_as(
        "php_fpm",
        "php_fpm_status_full.json",
        "php_fpm_full",
        |text| text,
    );
}

#[test]
fn php_fpm_process_in_a_state_the_exporter_does_not_list() {
    // PHP 7.4 and later write "Getting request information"; php-fpm_exporter lists the older
    // spelling, so such a process gets a seventh state series, as the exporter gives it.
    let config = preset("php_fpm");
    let page = std::fs::read_to_string(fixtures().join("raw/php_fpm_status_full.json"))
        .unwrap()
        .replacen(
            r#""state":"Idle""#,
            r#""state":"Getting request information""#,
            1,
        );
    let records =
        formats::parse(&config.format.clone().unwrap_or_default(), page.as_bytes()).unwrap();
    let mapping = Mapping::compile(config.metrics.as_deref().unwrap_or_default()).unwrap();
    let collection = mapping.apply(&records);
    assert!(collection.problems.is_empty(), "{:?}", collection.problems);
    let text = common::sorted_exposition(&collection.families);
    let states: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with(r#"phpfpm_process_state{child="0""#))
        .collect();
    assert_eq!(
        states,
        [
            r#"phpfpm_process_state{child="0",pool="www",state="Ending"} 0"#,
            r#"phpfpm_process_state{child="0",pool="www",state="Finishing"} 0"#,
            r#"phpfpm_process_state{child="0",pool="www",state="Getting request information"} 1"#,
            r#"phpfpm_process_state{child="0",pool="www",state="Getting request informations"} 0"#,
            r#"phpfpm_process_state{child="0",pool="www",state="Idle"} 0"#,
            r#"phpfpm_process_state{child="0",pool="www",state="Reading headers"} 0"#,
            r#"phpfpm_process_state{child="0",pool="www",state="Running"} 0"#,
        ],
        "{text}"
    );
}

/// Every file in `collectors/` is a preset (found by `build.rs`), builds as a collector of its
/// kind, and has a golden exposition under `tests/fixtures/golden/` or `tests/fixtures/presets/`
/// named after it (`NAME.prom` or `NAME_*.prom`).
#[test]
fn every_preset_builds_and_has_a_golden_file() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join("collectors"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".yaml").map(str::to_string)
        })
        .collect();
    files.sort();
    let embedded: Vec<&str> = presets::PRESETS.iter().map(|p| p.name).collect();
    assert_eq!(
        embedded, files,
        "the embedded presets are the files in collectors/"
    );

    let golden: Vec<String> = ["golden", "presets"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(fixtures().join(dir)).unwrap())
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".prom"))
        .collect();
    for preset in presets::PRESETS {
        let config = format!("collectors:\n  - name: c\n    preset: {}\n", preset.name);
        let loaded =
            sidecar_exporter::config::load_bytes("presets.yaml", config.as_bytes(), &root, &|_| {
                None
            })
            .unwrap_or_else(|e| panic!("preset {}: {e}", preset.name));
        sidecar_exporter::scrape::Engine::build(&loaded, Default::default())
            .unwrap_or_else(|e| panic!("preset {}: {e}", preset.name));
        assert!(
            golden
                .iter()
                .any(|file| file == &format!("{}.prom", preset.name)
                    || file.starts_with(&format!("{}_", preset.name))),
            "preset {} has no golden file tests/fixtures/{{golden,presets}}/{}[_*].prom",
            preset.name,
            preset.name
        );
    }
}
