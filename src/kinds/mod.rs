//! The collector kinds, one module each, named after the kind, and their registry: which keys
//! each kind accepts and how it is built.

pub mod file;
pub mod http_json;
pub mod http_probe;
pub mod http_text;
pub mod pipeline;
pub mod process;
pub mod prometheus;
pub mod tcp_text;

use std::sync::Arc;

use crate::collector::Collector;
use crate::config::{CollectorConfig, LoadedCollector};

const COMMON: &[&str] = &[
    "name",
    "kind",
    "preset",
    "enabled",
    "timeout",
    "labels",
    "up_metric",
    "up_help",
    "description",
    "detect",
];
const FILE: &[&str] = &["path", "max_response_bytes"];
const HTTP: &[&str] = &[
    "url",
    "method",
    "headers",
    "body",
    "basic_auth",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "follow_redirects",
    "valid_status_codes",
    "max_response_bytes",
];
const TCP: &[&str] = &["address", "command", "terminator", "max_response_bytes"];
const PROBE: &[&str] = &[
    "fail_if_body_matches_regexp",
    "fail_if_body_not_matches_regexp",
];
const MAPPED: &[&str] = &["format", "metrics"];
const JSON_EXPORTER: &[&str] = &["json_exporter_module"];
const PASSTHROUGH: &[&str] = &["metric_relabel_configs", "max_series"];
const PROCESS: &[&str] = &[
    "groups",
    "remove_empty_groups",
    "threads",
    "smaps",
    "include_self",
];

/// A collector kind.
pub struct Kind {
    /// Its name in `kind:`.
    pub name: &'static str,
    /// One line for `check` and the docs.
    pub summary: &'static str,
    /// The keys it accepts besides the common ones.
    pub keys: &'static [&'static [&'static str]],
    /// Builds the collector from its config.
    pub build: fn(&CollectorConfig) -> Result<Arc<dyn Collector>, String>,
}

/// Every kind.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "file",
        summary: "read a local file and map it with a format",
        keys: &[FILE, MAPPED],
        build: file::build,
    },
    Kind {
        name: "http_text",
        summary: "fetch a text page over HTTP and map it with a format (kv, regex, csv)",
        keys: &[HTTP, MAPPED],
        build: http_text::build,
    },
    Kind {
        name: "http_json",
        summary: "fetch JSON over HTTP and map it with json_exporter's metric schema",
        keys: &[HTTP, MAPPED, JSON_EXPORTER],
        build: http_json::build,
    },
    Kind {
        name: "tcp_text",
        summary: "send a command over TCP (Redis INFO, memcached stats) and map the reply",
        keys: &[TCP, MAPPED],
        build: tcp_text::build,
    },
    Kind {
        name: "prometheus",
        summary: "pass the app's own /metrics through, with relabel rules and a series cap",
        keys: &[HTTP, PASSTHROUGH],
        build: prometheus::build,
    },
    Kind {
        name: "http_probe",
        summary: "probe an HTTP endpoint like blackbox_exporter's http prober",
        keys: &[HTTP, PROBE],
        build: http_probe::build,
    },
    Kind {
        name: "process",
        summary: "stats of the app's processes from /proc (process-exporter compatible)",
        keys: &[PROCESS],
        build: process::build,
    },
];

/// The kind called `name`.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Checks that the collector only uses keys of its kind, then builds it. The error is a
/// sentence naming the collector (the caller adds file and line).
pub fn build(collector: &LoadedCollector) -> Result<(&'static Kind, Arc<dyn Collector>), String> {
    let config = &collector.config;
    let name = &config.name;
    let kind_name = config.kind.as_deref().ok_or_else(|| {
        format!(
            "collector `{name}`: needs `kind:` or `preset:` (kinds: {})",
            kind_names()
        )
    })?;
    let kind = find(kind_name).ok_or_else(|| {
        format!(
            "collector `{name}`: unknown kind `{kind_name}`, expected one of {}",
            kind_names()
        )
    })?;
    for key in &collector.keys {
        let allowed = COMMON.contains(&key.as_str())
            || kind.keys.iter().any(|group| group.contains(&key.as_str()));
        if !allowed {
            let owners: Vec<&str> = KINDS
                .iter()
                .filter(|k| k.keys.iter().any(|group| group.contains(&key.as_str())))
                .map(|k| k.name)
                .collect();
            return Err(format!(
                "collector `{name}`: key `{key}` does not apply to kind `{kind_name}` (it applies to: {})",
                if owners.is_empty() { "no kind".to_string() } else { owners.join(", ") }
            ));
        }
    }
    let built = (kind.build)(config).map_err(|e| format!("collector `{name}`: {e}"))?;
    Ok((kind, built))
}

fn kind_names() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use crate::config::load_bytes;
    use crate::scrape::{Counters, Engine};

    fn build(text: &str) -> Result<Engine, crate::config::ConfigError> {
        let loaded = load_bytes("c.yaml", text.as_bytes(), Path::new("."), &|_| None)?;
        Engine::build(&loaded, Arc::new(Counters::default()))
    }

    #[test]
    fn invalid_metric_name_points_at_the_collector() {
        let text = "collectors:\n  - name: ok\n    kind: file\n    path: a.json\n    format: json\n  - name: bad\n    kind: file\n    path: a.json\n    format: json\n    metrics:\n      - name: 9bad-name\n        path: '{ .a }'\n";
        let err = build(text).err().expect("refused");
        assert_eq!((err.line, err.column), (6, 5), "{err}");
        assert!(err.message.contains("collector `bad`"), "{err}");
        assert!(err.message.contains("9bad-name"), "{err}");
    }

    #[test]
    fn keys_of_another_kind_are_refused() {
        let err = build("collectors:\n  - name: p\n    kind: process\n    url: http://x\n")
            .err()
            .expect("refused");
        assert!(
            err.message
                .contains("key `url` does not apply to kind `process`"),
            "{err}"
        );
        assert!(err.message.contains("http_text"), "{err}");
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
}
