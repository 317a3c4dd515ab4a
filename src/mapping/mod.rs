//! Mapping: json_exporter-compatible rules that turn records (a JSON value) into metric families.

use serde::Deserialize;

use crate::collector::Collection;

/// One entry of `metrics:` (json_exporter's schema). (Stub: the mapping engine fills this in.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRule {
    /// Metric name.
    pub name: String,
    /// Help text.
    pub help: Option<String>,
    /// JSONPath of the value.
    pub path: String,
}

/// Compiled rules, ready to apply on every collection.
#[derive(Debug, Clone)]
pub struct Mapping {
    rules: Vec<MetricRule>,
}

impl Mapping {
    /// Checks and compiles the rules (names, paths, templates).
    pub fn compile(rules: &[MetricRule]) -> Result<Mapping, String> {
        Ok(Mapping {
            rules: rules.to_vec(),
        })
    }

    /// Applies the rules to one document.
    pub fn apply(&self, _data: &serde_json::Value) -> Collection {
        let _ = &self.rules;
        Collection::default()
    }
}
