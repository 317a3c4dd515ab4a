//! Fixed inputs shared by the fuzz targets: the formats and metric rules of the built-in
//! presets plus a few hand-written ones that reach the less common options.

use serde::Deserialize;
use sidecar_exporter::formats::FormatConfig;
use sidecar_exporter::mapping::{Mapping, MetricRule};
use sidecar_exporter::config::presets::PRESETS;

/// The part of a preset the fuzzers use.
#[derive(Deserialize)]
struct PresetParts {
    format: Option<FormatConfig>,
    metrics: Option<Vec<MetricRule>>,
}

fn preset_parts() -> Vec<PresetParts> {
    PRESETS
        .iter()
        .map(|p| serde_yaml::from_str(p.yaml).expect("a preset parses"))
        .collect()
}

fn format(yaml: &str) -> FormatConfig {
    serde_yaml::from_str(yaml).expect("a fuzz format parses")
}

/// Every preset format of the given type, plus `extra` (YAML).
pub fn formats(kind: &str, extra: &[&str]) -> Vec<FormatConfig> {
    let mut all: Vec<FormatConfig> = preset_parts()
        .into_iter()
        .filter_map(|p| p.format)
        .filter(|f| f.name() == kind)
        .collect();
    all.extend(extra.iter().map(|y| format(y)));
    all
}

/// Picks one of `items` with the first byte of `data`; the rest is the input.
pub fn pick<'a, T>(items: &'a [T], data: &'a [u8]) -> Option<(&'a T, &'a [u8])> {
    let (&first, rest) = data.split_first()?;
    Some((&items[first as usize % items.len()], rest))
}

/// Rules that use every path form: kubectl-style filters, recursive descent, unions, slices,
/// `{$key}`, RFC 9535 `$` paths, templates with literal text, nested rules.
pub const FIXED_RULES: &str = r#"
- name: fz_value
  path: '{ .a.b }'
  labels: {l: 'x-{ .name }-y', k: '{ .items[0].id }'}
- name: fz_items
  type: object
  path: '{ .items[?(@.state == "UP")] }'
  labels: {id: '{ .id }', key: '{$key}'}
  values: {count: '{ .count }', one: 1}
  allow_missing_key: true
- name: fz_cmp
  type: object
  path: '{ .items[?(@.count >= 2)] }'
  labels: {id: '{ .id }'}
  values: {count: '{ .count }'}
- name: fz_has
  type: object
  path: '{ .items[?(@.id)] }'
  labels: {key: '{$key}'}
  values: {v: '{ .count }'}
  valueconverter: {'{ .count }': {UP: 1, down: 0}}
- name: fz_map
  type: object
  path: '{ .map.* }'
  labels: {name: '{$key}'}
  values: {v: '{ @ }'}
  value_map: {UP: 1, DOWN: 0}
  value_map_default: 2
- name: fz_slice
  type: object
  path: '{ .items[-2:] }'
  labels: {key: '{$key}'}
  values: {v: '{ .count }'}
- name: fz_deep
  type: object
  path: '{ ..items[*] }'
  labels: {key: '{$key}', id: '{ .id }'}
  values: {v: '{ .count }'}
- name: fz_union
  path: "{ ['a','b'] }"
  sum: true
  scale: 0.001
  allow_missing_key: true
- name: fz_dots
  path: '{ .key\.with\.dots }'
  missing_value: 0
- name: fz_units
  path: '{ .mem }'
  units: {K: 1024, M: 1048576}
  missing_message: the document has no mem
- name: fz_chars
  path: '{ .Scoreboard }'
  count_chars: '_.'
- name: fz_version
  path: '{ .version }'
  version_number: [2, 3]
  allow_missing_key: true
- name: fz_rfc_value
  path: '$.a.b'
  allow_missing_key: true
- name: fz_rfc
  type: object
  path: "$.items[?@.state=='UP']"
  labels: {id: '$.id', key: '{$key}'}
  values: {count: '$.count'}
  epochTimestamp: '{ .ts }'
- name: fz_rfc_deep
  type: object
  path: '$..items[*]'
  labels: {key: '{$key}'}
  values: {v: '$.count'}
- name: fz_nested
  type: object
  path: '{ .databases[*] }'
  labels: {database: '{ .name }'}
  metrics:
    - name: fz_nested_rows
      type: object
      path: '{ .tables[*] }'
      labels: {table: '{ .name }', tkey: '{$key}'}
      values: {total: '{ .rows }'}
"#;

/// Compiled mappings: [`FIXED_RULES`] and every preset's `metrics:`.
pub fn mappings() -> Vec<Mapping> {
    let fixed: Vec<MetricRule> = serde_yaml::from_str(FIXED_RULES).expect("fixed rules parse");
    let mut all = vec![Mapping::compile(&fixed).expect("fixed rules compile")];
    all.extend(
        preset_parts()
            .into_iter()
            .filter_map(|p| p.metrics)
            .map(|m| Mapping::compile(&m).expect("preset rules compile")),
    );
    all
}
