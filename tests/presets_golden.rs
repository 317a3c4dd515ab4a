//! Golden tests of the presets: each preset's format and
//! mapping applied to the real server output captured in `tests/fixtures/raw/` must give exactly
//! the exposition in `tests/fixtures/golden/<preset>.prom`.
//!
//! The golden files were written once from this output after checking it series by series
//! against the peer exporters (see `presets_live.rs`); any change of the output fails here.
//! To rewrite them after an intended change: `UPDATE_GOLDEN=1 cargo test --test presets_golden`,
//! then review the diff.

mod common;

use std::path::PathBuf;

use common::golden::{assert_golden, check, check_as, check_with, fixtures, preset};
use sidecar_exporter::config::presets;
use sidecar_exporter::formats;
use sidecar_exporter::mapping::{Mapping, MetricRule};

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

/// The postgres preset (`kind: sql`): each query's `metrics` applied to the rows that query
/// gave on PostgreSQL 15, captured as the kind sees them (every value text or null) in
/// `tests/fixtures/raw/postgres_rows.json` by `UPDATE_GOLDEN=1 cargo test --test sql_live`.
#[test]
fn postgres_rows() {
    check_sql("postgres", 250);
}

/// The mysql preset, the same way, on rows captured from MariaDB 10.11
/// (`tests/fixtures/raw/mysql_rows.json`).
#[test]
fn mysql_rows() {
    check_sql("mysql", 500);
}

/// A `kind: sql` preset: each query's `metrics` applied to its captured rows
/// (`raw/<preset>_rows.json`, keyed by query name) must give the golden exposition, with at
/// least `min_families` families and no problem.
fn check_sql(preset_name: &str, min_families: usize) {
    let preset = presets::find(preset_name).expect("the preset");
    let keys: serde_yaml::Value = serde_yaml::from_str(preset.yaml).unwrap();
    let fixture = fixtures().join(format!("raw/{preset_name}_rows.json"));
    let rows: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let mut families = Vec::new();
    let queries = keys["queries"].as_sequence().expect("queries");
    for query in queries {
        let name = query["name"].as_str().expect("every query has a name");
        let rules: Vec<MetricRule> = serde_yaml::from_value(query["metrics"].clone()).unwrap();
        let query_rows = rows
            .get(name)
            .unwrap_or_else(|| panic!("no rows captured for query {name}"));
        let collection = Mapping::compile(&rules).unwrap().apply(query_rows);
        assert!(
            collection.problems.is_empty(),
            "{name}: {:?}",
            collection.problems
        );
        families.extend(collection.families);
    }
    assert!(families.len() > min_families, "{} families", families.len());
    assert_golden(preset_name, &common::sorted_exposition(&families));
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
