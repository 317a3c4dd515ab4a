//! The collector kinds, one module each, named after the kind, and their registry: which keys
//! each kind accepts and how it is built.

pub mod file;
pub mod http_json;
pub mod http_probe;
pub mod http_text;
pub mod pipeline;
pub mod process;
pub mod prometheus;
pub mod requests;
pub mod sql;
pub mod tcp_text;

use std::sync::Arc;

use crate::collector::Collector;
use crate::config::locate::Step;
use crate::config::{ConfigError, KeyError, KindKeys, LoadedConfig};

/// Builds a collector from the keys its kind has read. Separate from reading, so that the keys
/// of a disabled collector are checked without building it (which may read files it names).
pub type Builder = Box<dyn FnOnce() -> Result<Arc<dyn Collector>, KeyError>>;

/// A collector kind.
pub struct Kind {
    /// Its name in `kind:`.
    pub name: &'static str,
    /// One line for `check` and the docs.
    pub summary: &'static str,
    /// Reads the kind's own keys into its config structs, refusing any other key, and returns
    /// what builds the collector from them.
    pub read: fn(&mut KindKeys<'_>) -> Result<Builder, ConfigError>,
}

/// Every kind.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "file",
        summary: "read a local file and map it with a format",
        read: file::read,
    },
    Kind {
        name: "http_text",
        summary: "fetch a text page over HTTP and map it with a format (kv, regex, csv)",
        read: http_text::read,
    },
    Kind {
        name: "http_json",
        summary: "fetch JSON over HTTP and map it with json_exporter's metric schema",
        read: http_json::read,
    },
    Kind {
        name: "tcp_text",
        summary: "send a command over TCP (Redis INFO, memcached stats) and map the reply",
        read: tcp_text::read,
    },
    Kind {
        name: "prometheus",
        summary: "pass the app's own /metrics through, with relabel rules and a series cap",
        read: prometheus::read,
    },
    Kind {
        name: "http_probe",
        summary: "probe an HTTP endpoint like blackbox_exporter's http prober",
        read: http_probe::read,
    },
    Kind {
        name: "sql",
        summary:
            "run SQL queries on PostgreSQL, MySQL or MariaDB and map the rows with json_exporter's metric schema",
        read: sql::read,
    },
    Kind {
        name: "process",
        summary: "stats of the app's processes from /proc (process-exporter compatible)",
        read: process::read,
    },
];

/// The kind called `name`.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Builds collector `index` of `config` as its kind. Errors point at the collector, or at the
/// key at fault.
pub fn build(
    config: &LoadedConfig,
    index: usize,
) -> Result<(&'static Kind, Arc<dyn Collector>), ConfigError> {
    let kind = kind_of(config, index)?;
    let mut keys = KindKeys::new(config, index, kind.name);
    let build = (kind.read)(&mut keys)?;
    let collector = build().map_err(|e| keys.error(e))?;
    Ok((kind, collector))
}

/// Checks the keys of collector `index` of `config` as its kind reads them, without building
/// it: for collectors with `enabled: false`.
pub fn check(config: &LoadedConfig, index: usize) -> Result<(), ConfigError> {
    let kind = kind_of(config, index)?;
    (kind.read)(&mut KindKeys::new(config, index, kind.name)).map(drop)
}

/// The kind collector `index` names (or its preset does).
fn kind_of(config: &LoadedConfig, index: usize) -> Result<&'static Kind, ConfigError> {
    let collector = &config.collectors[index].config;
    let name = &collector.name;
    let kind_name = collector.kind.as_deref().ok_or_else(|| {
        config.error_at_collector(
            index,
            format!(
                "collector `{name}`: needs `kind:` or `preset:` (kinds: {})",
                kind_names()
            ),
        )
    })?;
    find(kind_name).ok_or_else(|| {
        config.error_at(
            index,
            &[Step::Key("kind".into())],
            format!(
                "collector `{name}`: unknown kind `{kind_name}`, expected one of {}",
                kind_names()
            ),
        )
    })
}

fn kind_names() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use crate::config::load_bytes;
    use crate::config::locate::Step;
    use crate::scrape::{Counters, Engine};

    fn build(text: &str) -> Result<Engine, crate::config::ConfigError> {
        let loaded = load_bytes("c.yaml", text.as_bytes(), Path::new("."), &|_| None)?;
        Engine::build(&loaded, Arc::new(Counters::default()))
    }

    #[test]
    fn invalid_metric_name_points_at_the_collectors_metrics() {
        let text = "collectors:\n  - name: ok\n    kind: file\n    path: a.json\n    format: json\n  - name: bad\n    kind: file\n    path: a.json\n    format: json\n    metrics:\n      - name: 9bad-name\n        path: '{ .a }'\n";
        let err = build(text).err().expect("refused");
        assert_eq!((err.line, err.column), (10, 5), "{err}");
        assert!(
            err.message.starts_with("collectors[1] (file): metrics[0]"),
            "{err}"
        );
        assert!(err.message.contains("9bad-name"), "{err}");
    }

    #[test]
    fn keys_of_another_kind_are_refused() {
        let err = build("collectors:\n  - name: p\n    kind: process\n    url: http://x\n")
            .err()
            .expect("refused");
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(
            err.message.starts_with(
                "collectors[0] (process): unknown key `url`, expected one of `groups`"
            ),
            "{err}"
        );
        assert!(!err.message.contains("tls_config"), "{err}");
    }

    #[test]
    fn unknown_key_names_position_and_valid_keys() {
        let err = build("collectors:\n  - name: a\n    kind: file\n    pathh: /x\n")
            .err()
            .expect("refused");
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(err.message.contains("unknown key `pathh`"), "{err}");
        assert!(err.message.contains("expected one of `path`"), "{err}");
        assert!(err.to_string().starts_with("c.yaml:4:5: "), "{err}");
    }

    #[test]
    fn unknown_kind_lists_the_kinds() {
        let err = build("collectors:\n  - name: p\n    kind: proces\n")
            .err()
            .expect("refused");
        assert!(
            err.message
                .contains("unknown kind `proces`, expected one of"),
            "{err}"
        );
    }

    #[test]
    fn a_preset_collector_with_another_kinds_key_lists_only_its_kinds_keys() {
        let text = "global:\n  scrape_timeout: 5s\ncollectors:\n  - name: web\n    smaps: true\n    preset: nginx\n";
        let err = build(text).err().expect("refused");
        assert_eq!(
            (err.file.as_str(), err.line, err.column),
            ("c.yaml", 5, 5),
            "{err}"
        );
        assert!(
            err.message.starts_with(
                "collectors[0] (http_text, preset `nginx`): unknown key `smaps`, expected one of `url`, `method`"
            ),
            "{err}"
        );
        assert!(err.message.contains("`format`, `metrics`"), "{err}");
        assert!(!err.message.contains("`groups`"), "{err}");
    }

    #[test]
    fn a_value_from_the_preset_is_placed_in_the_preset_file() {
        let loaded = load_bytes(
            "c.yaml",
            b"collectors:\n  - name: web\n    preset: nginx\n    url: http://127.0.0.1:1/\n",
            Path::new("."),
            &|_| None,
        )
        .unwrap();
        let metrics = [Step::Key("metrics".into()), Step::Index(0)];
        let err = loaded.error_at(0, &metrics, "m");
        let preset = crate::config::presets::find("nginx").unwrap().yaml;
        let line = preset
            .lines()
            .position(|l| l.starts_with("metrics:"))
            .unwrap()
            + 2;
        assert_eq!(
            (err.file.as_str(), err.line),
            ("collectors/nginx.yaml", line),
            "{err}"
        );
        // The user's own key stays in the user's file.
        let err = loaded.error_at(0, &[Step::Key("url".into())], "u");
        assert_eq!(
            (err.file.as_str(), err.line, err.column),
            ("c.yaml", 4, 5),
            "{err}"
        );
    }

    #[test]
    fn a_bad_value_deep_in_a_kinds_key_is_placed_at_its_line() {
        let text = "collectors:\n  - name: j\n    kind: http_json\n    url: http://127.0.0.1:1/\n    metrics:\n      - name: a\n        path: '{.a}'\n      - name: b\n        valuetype: sometimes\n        path: '{.b}'\n";
        let err = build(text).err().expect("refused");
        assert_eq!((err.line, err.column), (9, 9), "{err}");
        assert!(
            err.message.starts_with(
                "collectors[0] (http_json): metrics[1].valuetype: unknown variant `sometimes`"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_error_found_while_building_points_at_its_key() {
        let text = "collectors:\n  - name: t\n    kind: http_text\n    format: kv\n    url: https://127.0.0.1/\n    tls_config:\n      insecure_skip_verify: false\n      ca_file: /nonexistent/ca.pem\n";
        let err = build(text).err().expect("refused");
        assert_eq!((err.line, err.column), (8, 7), "{err}");
        assert!(
            err.message
                .starts_with("collectors[0] (http_text): cannot read ca_file /nonexistent/ca.pem"),
            "{err}"
        );
        // A key that is missing altogether is the collector's fault, at its definition.
        let err = build("collectors:\n  - name: t\n    kind: http_text\n    format: kv\n")
            .err()
            .expect("refused");
        assert_eq!((err.line, err.column), (2, 5), "{err}");
        assert!(
            err.message
                .starts_with("collector `t`: the `url` key is missing"),
            "{err}"
        );
    }

    #[test]
    fn a_disabled_collectors_keys_are_checked_but_it_is_not_built() {
        let disabled = "collectors:\n  - name: t\n    kind: http_text\n    enabled: false\n";
        let typo = format!("{disabled}    urll: http://127.0.0.1/\n");
        let err = build(&typo).err().expect("refused");
        assert_eq!((err.line, err.column), (5, 5), "{err}");
        assert!(err.message.contains("unknown key `urll`"), "{err}");
        // Building it would fail (no url, an unreadable CA file); checking its keys does not.
        let unbuildable = format!("{disabled}    tls_config: {{ca_file: /nonexistent/ca.pem}}\n");
        let engine = build(&unbuildable).expect("a disabled collector is not built");
        assert_eq!(engine.disabled.len(), 1);
        assert!(engine.collectors.is_empty());
    }
}
