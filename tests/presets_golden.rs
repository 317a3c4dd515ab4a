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

use sidecar_exporter::config::CollectorConfig;
use sidecar_exporter::formats;
use sidecar_exporter::mapping::Mapping;
use sidecar_exporter::presets;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The preset's own YAML as a collector config.
fn preset(name: &str) -> CollectorConfig {
    let preset = presets::find(name).unwrap_or_else(|| panic!("no preset {name}"));
    serde_yaml::from_str(preset.yaml).unwrap()
}

fn check(preset_name: &str, raw_fixture: &str) {
    let config = preset(preset_name);
    let body = std::fs::read(fixtures().join("raw").join(raw_fixture)).unwrap();
    let format = config.format.clone().unwrap_or_default();
    let records = formats::parse(&format, &body).unwrap();
    let mapping = Mapping::compile(config.metrics.as_deref().unwrap_or_default()).unwrap();
    let collection = mapping.apply(&records);
    assert!(
        collection.problems.is_empty(),
        "{preset_name}: {:?}",
        collection.problems
    );
    let got = common::sorted_exposition(&collection.families);
    let golden = fixtures()
        .join("golden")
        .join(format!("{preset_name}.prom"));
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
fn redis_info_over_the_wire() {
    check("redis", "redis_info_wire.txt");
}

#[test]
fn memcached_stats() {
    check("memcached", "memcached_stats.txt");
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
fn php_fpm_full_status_gives_the_same_pool_series() {
    // `?json&full` adds the process list; the pool series stay the same shape.
    let config = preset("php_fpm");
    let body = std::fs::read(fixtures().join("raw/php_fpm_status_full.json")).unwrap();
    let records = formats::parse(&config.format.clone().unwrap_or_default(), &body).unwrap();
    let mapping = Mapping::compile(config.metrics.as_deref().unwrap_or_default()).unwrap();
    let collection = mapping.apply(&records);
    assert!(collection.problems.is_empty(), "{:?}", collection.problems);
    assert_eq!(collection.families.len(), 11);
}
