//! What each fuzz target does with its input, and the fixed inputs the targets share: the
//! formats and metric rules of the built-in presets plus a few hand-written ones that reach the
//! less common options.
//!
//! Each binary in `fuzz_targets/` calls one function of [`TARGETS`]. The main crate's
//! `tests/fuzz_corpus.rs` includes this file with `#[path]` (a test cannot depend on this crate)
//! and replays the committed inputs of `tests/fixtures/fuzz/<target>/` through the same
//! functions, so the fuzzers and the regression tests cannot drift apart. Hence this file uses
//! only crates the main crate depends on too.

use std::path::Path;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;
use sidecar_exporter::config::load_bytes;
use sidecar_exporter::config::presets::PRESETS;
use sidecar_exporter::encode::{self, Format};
use sidecar_exporter::formats::prom_text::parse_exposition;
use sidecar_exporter::formats::{parse, FormatConfig, RegexConfig};
use sidecar_exporter::mapping::jsonpath::{Expr, Hit};
use sidecar_exporter::mapping::{Mapping, MetricRule};
use sidecar_exporter::scrape::Engine;
use sidecar_exporter::server::requested_names;
use sidecar_exporter::server::web_config::parse as parse_web_config;

/// What a fuzz target does with one input. It must not panic, whatever the input.
pub type Target = fn(&[u8]);

/// Every fuzz target by name (the `[[bin]]` names of `Cargo.toml`).
pub const TARGETS: &[(&str, Target)] = &[
    ("format_json", format_json),
    ("format_kv", format_kv),
    ("format_regex", format_regex),
    ("format_csv", format_csv),
    ("prom_text", prom_text),
    ("config_load", config_load),
    ("mapping_compile", mapping_compile),
    ("mapping_apply", mapping_apply),
    ("web_config", web_config),
    ("negotiate", negotiate),
    ("name_query", name_query),
    ("jsonpath", jsonpath),
];

/// The json format: the input is the body.
pub fn format_json(data: &[u8]) {
    let _ = parse(&FormatConfig::Json, data);
}

static KV_CONFIGS: LazyLock<Vec<FormatConfig>> = LazyLock::new(|| {
    formats(
        "kv",
        &[
            "kv",
            "{type: kv, sections: true, comment_prefix: '#', split_values: {pairs: ',', kv: '='}}",
            "{type: kv, separator: ' ', line_prefix: 'STAT ', terminator_line: END, skip_invalid_lines: true}",
            "{type: kv, indexed_keys: true, skip_invalid_lines: true, trim: false}",
            "{type: kv, indexed_keys: true, sections: true, comment_prefix: '#', split_values: {}}",
            "{type: kv, separator: '=', required_keys: {a: 'no a'}}",
        ],
    )
});

/// The kv format with the preset configs (apache, redis, memcached, …) and a few more; the
/// first byte picks the config, the rest is the body.
pub fn format_kv(data: &[u8]) {
    if let Some((config, body)) = pick(&KV_CONFIGS, data) {
        let _ = parse(config, body);
    }
}

static REGEX_CONFIGS: LazyLock<Vec<FormatConfig>> = LazyLock::new(|| {
    [
        (r"Active connections: (?P<active>\d+)", false),
        (r"(?P<a>\d+)\s*(?P<b>[a-z]*)", false),
        (r"(?m)^(?P<key>\w+)=(?P<value>.*)$", true),
        (r"(?P<a>\d+)(?P<b>:)?", true),
        (r"(?s)(?P<all>.*)", false),
        (r"(?P<empty>x*)", true),
    ]
    .iter()
    .map(|(p, m)| FormatConfig::Regex(RegexConfig::new(p, *m).expect("pattern compiles")))
    .collect()
});

/// The regex format with fixed patterns, single and multiple; the first byte picks one.
pub fn format_regex(data: &[u8]) {
    if let Some((config, body)) = pick(&REGEX_CONFIGS, data) {
        let _ = parse(config, body);
    }
}

static CSV_CONFIGS: LazyLock<Vec<FormatConfig>> = LazyLock::new(|| {
    formats(
        "csv",
        &[
            "csv",
            "{type: csv, header_prefix: '# '}",
            "{type: csv, delimiter: ';'}",
        ],
    )
});

/// The csv format (default, haproxy's `# ` header, `;`); the first byte picks the config.
pub fn format_csv(data: &[u8]) {
    if let Some((config, body)) = pick(&CSV_CONFIGS, data) {
        let _ = parse(config, body);
    }
}

/// The exposition parser (text 0.0.4 and OpenMetrics): the input is the page.
pub fn prom_text(data: &[u8]) {
    let _ = parse_exposition(data);
}

fn lookup(name: &str) -> Option<String> {
    match name {
        "A" => Some("value".into()),
        "PORT" => Some("8080".into()),
        _ => None,
    }
}

/// A whole config file, `${VAR}` expansion included (`${A}` is set, the rest are not), then
/// every collector built as its kind: each kind reads its own keys and places errors in the text.
pub fn config_load(data: &[u8]) {
    // `include:` globs the file system (a pattern such as `/**/*` walks the whole disk), and a
    // kind reads the files it names when it is built (`ca_file`, `password_file`,
    // `json_exporter_module`, where `/dev/zero` is a possible answer): the user's choice, not a
    // parser bug. Keep the fuzzer off them.
    let mentions = |word: &str| {
        data.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    if ["include", "_file", "json_exporter_module"]
        .into_iter()
        .any(mentions)
    {
        return;
    }
    if let Ok(loaded) = load_bytes(
        "fuzz.yaml",
        data,
        Path::new("/nonexistent-fuzz-dir"),
        &lookup,
    ) {
        let _ = Engine::build(&loaded, Default::default());
    }
}

/// `metrics:` rules from YAML text, compiled (paths, templates, names), then applied to
/// [`DOCUMENT`] so that a rule that compiles also runs.
pub fn mapping_compile(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = serde_yaml::from_str::<Vec<MetricRule>>(text) else {
        return;
    };
    if let Ok(mapping) = Mapping::compile(&rules) {
        let _ = mapping.apply(&DOCUMENT);
    }
}

static MAPPINGS: LazyLock<Vec<Mapping>> = LazyLock::new(mappings);

/// Fixed rules (every path form, see [`FIXED_RULES`], and the presets' rules) applied to a JSON
/// document from the fuzzer; the first byte picks the rule set.
pub fn mapping_apply(data: &[u8]) {
    let Some((mapping, body)) = pick(&MAPPINGS, data) else {
        return;
    };
    if let Ok(document) = serde_json::from_slice(body) {
        let _ = mapping.apply(&document);
    }
}

/// The web config file (TLS, basic auth users, headers).
pub fn web_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_web_config("web.yml", text);
    }
}

/// The `Accept` header of a scrape, negotiated into an exposition format.
pub fn negotiate(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    // Cheap check of the answer, not only of the absence of panics: OpenMetrics is chosen only
    // for an entry naming it, anything else falls back to text.
    if encode::negotiate(Some(header)) == Format::OpenMetrics {
        assert!(
            header
                .to_ascii_lowercase()
                .contains("application/openmetrics-text"),
            "OpenMetrics chosen for {header:?}"
        );
    }
}

/// The query string of a `/metrics` request, read for its `name[]=` filters.
pub fn name_query(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(names) = requested_names(Some(query)) {
        assert!(!names.is_empty(), "an empty filter would hide every family");
    }
}

/// A JSONPath expression (kubectl-style template or RFC 9535 `$` query) parsed, then run on
/// [`DOCUMENT`] the way a `type: object` rule runs: the part before the first newline selects
/// nodes, the part after it (the same expression when there is no newline) is evaluated on the
/// document and on each selected node, as labels and values are.
pub fn jsonpath(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (selector, value) = text.split_once('\n').unwrap_or((text, text));
    let root = Hit::root(&DOCUMENT);
    let value = Expr::parse(value).ok();
    if let Some(value) = &value {
        let _ = value.evaluate(root);
    }
    let Ok(selector) = Expr::parse(selector) else {
        return;
    };
    let _ = selector.check_selector();
    let (hits, _) = selector.select(root);
    if let Some(value) = &value {
        for hit in hits {
            let _ = value.evaluate(hit);
        }
    }
}

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

/// The document the `mapping_compile` and `jsonpath` targets run their paths on: nested
/// objects and arrays, every JSON type, keys with dots and spaces.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::json!({
        "a": {"b": 1, "c": "2", "d": null, "e": true},
        "items": [
            {"id": "x", "state": "UP", "count": 3, "tags": ["t1", "t2"]},
            {"id": "y", "state": "DOWN", "count": "4", "nested": {"items": [{"id": "z", "count": -1.5}]}},
            {"id": 7, "state": "UP", "count": 1e300}
        ],
        "map": {"k1": "UP", "k2": 5, "k 3": [1, [2, [3]]]},
        "key.with.dots": 8,
        "Scoreboard": "_SRW__K.",
        "version": "Apache/2.4.71 (Debian)",
        "empty": {"object": {}, "array": [], "string": ""}
    })
});

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
