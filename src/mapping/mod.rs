//! Mapping: json_exporter-compatible rules that turn records (a JSON value) into metric families.
//!
//! Every format (JSON, key/value text, regex captures, CSV rows) is first turned into a
//! `serde_json::Value`, so this one engine serves all of them. A json_exporter module's
//! `metrics:` list can be pasted in unchanged; the extensions (`{$key}`, `value_map`,
//! `count_chars`, `scale`, `sum`, `version_number`, `units`, `missing_value`,
//! `missing_message`, `missing_label`, nested `metrics:`) are documented on [`MetricRule`].
//!
//! Failures are per series: a missing key or a value that is not a number costs that one series
//! (a [`Reason::Mapping`](crate::collector::Reason::Mapping) problem), two series with the same
//! labels cost the later one ([`Reason::DuplicateSeries`](crate::collector::Reason::DuplicateSeries));
//! the rest of the collection is kept.
//!
//! The rule model (the YAML a user writes) is in `rule.rs`, its checks in `compile.rs`, the
//! evaluation of rules on records in `apply.rs`; `jsonpath.rs` and `number.rs` read paths and
//! numbers for both.

mod apply;
mod compile;
pub mod jsonpath;
mod number;
mod rule;

use serde_json::Value;

use crate::collector::Collection;
use crate::explain::Recorder;

pub use rule::{MetricRule, RuleType, TimeFormat, ValueType};

/// Compiled rules, ready to apply on every collection.
#[derive(Debug, Clone)]
pub struct Mapping {
    rules: Vec<compile::CompiledRule>,
}

impl Mapping {
    /// Checks and compiles the rules: metric and label names, paths, templates, value maps.
    /// The error names the rule (`metrics[2] (name)`) and the field.
    pub fn compile(rules: &[MetricRule]) -> Result<Mapping, String> {
        Ok(Mapping {
            rules: compile::compile_rules(rules)?,
        })
    }

    /// Applies the rules to one document. Never fails as a whole: what cannot be mapped is
    /// reported per series in `problems`.
    pub fn apply(&self, data: &Value) -> Collection {
        apply::apply_rules(&self.rules, data, false).0
    }

    /// [`Mapping::apply`], also recording in `recorder` (when there is one) what each rule
    /// produced, or why it produced nothing.
    pub fn apply_explained(&self, data: &Value, recorder: Option<&Recorder>) -> Collection {
        let (collection, traces) = apply::apply_rules(&self.rules, data, recorder.is_some());
        if let Some(recorder) = recorder {
            recorder.rules(traces);
        }
        collection
    }
}

#[cfg(test)]
mod test_support {
    use super::{Mapping, MetricRule};
    use crate::collector::Collection;
    use serde_json::Value;

    pub(super) fn rules(yaml: &str) -> Vec<MetricRule> {
        serde_yaml::from_str(yaml).unwrap()
    }

    pub(super) fn apply(yaml: &str, data: Value) -> Collection {
        Mapping::compile(&rules(yaml)).unwrap().apply(&data)
    }

    pub(super) fn compile_err(yaml: &str) -> String {
        Mapping::compile(&rules(yaml)).unwrap_err()
    }

    pub(super) fn series(c: &Collection) -> Vec<String> {
        let mut out = Vec::new();
        for f in &c.families {
            for s in &f.samples {
                let labels: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                out.push(format!("{}{{{}}} {}", f.name, labels.join(","), s.value));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Mapping>();
    }
}
