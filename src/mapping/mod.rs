//! Mapping: json_exporter-compatible rules that turn records (a JSON value) into metric families.
//!
//! Every format (JSON, key/value text, regex captures, CSV rows) is first turned into a
//! `serde_json::Value`, so this one engine serves all of them. A json_exporter module's
//! `metrics:` list can be pasted in unchanged; the extensions (`{$key}`, `value_map`,
//! `count_chars`, `scale`, `sum`, `version_number`, `units`, `missing_value`,
//! `missing_message`, `missing_label`, nested `metrics:`, names and HELP read from the data with
//! `value`, `normalize_name` and `skip_non_numeric`) are documented on [`MetricRule`].
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

#[cfg(test)]
mod name_from_data_tests {
    use super::test_support::{apply, compile_err, series};
    use serde_json::json;

    const SETTINGS: &str = r#"
- name: 'pg_settings_{ .metric }'
  help: '{ .help }'
  type: object
  path: '{ [*] }'
  valuetype: gauge
  value: '{ .value }'
- name: 'row_{ .metric }'
  type: object
  path: '{ [*] }'
  values: {count: 1}
"#;

    #[test]
    fn a_name_and_help_read_from_each_object() {
        let c = apply(
            SETTINGS,
            json!([
                {"metric": "fsync", "value": "1", "help": "Forces synchronization."},
                {"metric": "work_mem_bytes", "value": "4194304", "help": "Sets memory."},
                {"metric": "bad-name", "value": "1", "help": "x"}
            ]),
        );
        assert_eq!(
            series(&c),
            [
                "pg_settings_fsync{} 1",
                "pg_settings_work_mem_bytes{} 4194304",
                "row_fsync_count{} 1",
                "row_work_mem_bytes_count{} 1",
            ]
        );
        assert_eq!(c.families[0].help, "Forces synchronization.");
        assert_eq!(c.families[2].help, "row_{ .metric }");
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems[0]
            .message
            .contains("`pg_settings_bad-name` is not a valid metric name"));
    }

    #[test]
    fn a_read_name_joins_a_family_of_the_same_name_and_type() {
        let c = apply(
            "- {name: a_x, path: '{[0].v}', valuetype: gauge}\n- {name: 'a_{.n}', type: object, path: '{[*]}', value: '{.v}', valuetype: gauge}\n- {name: 'a_{.n}', type: object, path: '{[*]}', value: '{.v}', valuetype: counter}\n",
            json!([{"n": "x", "v": 1}, {"n": "y", "v": 2}]),
        );
        assert_eq!(series(&c), ["a_x{} 1", "a_y{} 2"]);
        // The counter rule's series: `a_x` and `a_y` are gauges (dropped, reported), and
        // the gauge rule's `a_x` repeats the first rule's series.
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
    }

    #[test]
    fn a_row_unpivoted_into_one_family_per_column() {
        let c = apply(
            r#"
- name: replica
  type: object
  path: '{ [*] }'
  labels: {master_host: '{ .Master_Host }'}
  metrics:
    - name: 'mysql_slave_status_{$key}'
      normalize_name: true
      type: object
      path: '{ .* }'
      value: '{ @ }'
      skip_non_numeric: true
      valueconverter: {'{ @ }': {'yes': 1, 'no': 0}}
"#,
            json!([{"Master_Host": "db-1", "Seconds_Behind_Master": "3", "Slave_IO_Running": "Yes",
                    "Slave_SQL_Running": "No", "Last_Error": "", "Relay-Log.Pos": "4", "Until_Log_File": null}]),
        );
        assert_eq!(
            series(&c),
            [
                r#"mysql_slave_status_relay_log_pos{master_host="db-1"} 4"#,
                r#"mysql_slave_status_seconds_behind_master{master_host="db-1"} 3"#,
                r#"mysql_slave_status_slave_io_running{master_host="db-1"} 1"#,
                r#"mysql_slave_status_slave_sql_running{master_host="db-1"} 0"#,
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let e = compile_err(
            "- {name: a, type: object, path: '{[*]}', value: '1', normalize_name: true}\n",
        );
        assert!(e.contains("metrics[0] (a): normalize_name"), "{e}");
    }

    #[test]
    fn a_read_name_needs_type_object() {
        let e = compile_err("- {name: 'a_{.n}', path: '{.v}'}\n");
        assert!(
            e.contains("metrics[0] (a_{.n}): name: a name read from the data needs `type: object`"),
            "{e}"
        );
        let e = compile_err("- {name: a, path: '{.v}', value: '{.v}'}\n");
        assert!(e.contains("`value` only applies to `type: object`"), "{e}");
    }
}
