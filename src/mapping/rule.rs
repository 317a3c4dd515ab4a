//! The rule model: one entry of a collector's `metrics:` list, as written in YAML. The `///`
//! comments of these types are the user reference of every field.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::model::MetricType;

/// One entry of `metrics:`, json_exporter's schema plus a few extensions.
///
/// ```yaml metrics
/// metrics:
///   - name: example_global_value
///     path: '{ .counter }'
///     help: Example of a top-level global value scrape in the json
///     labels:
///       environment: beta                 # static label
///       location: 'planet-{ .location }'  # dynamic label
///   - name: example_value
///     type: object
///     path: '{ .values[?(@.state == "ACTIVE")] }'
///     labels:
///       id: '{ .id }'          # evaluated on each selected object
///     values:
///       active: 1              # static value  -> example_value_active
///       count: '{ .count }'    # dynamic value -> example_value_count
/// ```
///
/// Paths are kubectl-style JSONPath templates (what json_exporter uses): `'{ .a.b }'`,
/// `'{ .items[0] }'`, `'{ .items[-1:] }'`, `'{ [*] }'`, `'{ .map.* }'`, `'{ ..name }'`,
/// `'{ .items[?(@.state == "UP")] }'` (`==`, `!=`, `<`, `<=`, `>`, `>=`, or `[?(@.x)]` for "has
/// x"), `'{ ['key.with.dots'] }'` or `'{ .key\.with\.dots }'`, with literal text around the
/// braces (`'planet-{.location}'`). An expression that starts with `$` is RFC 9535 JSONPath
/// instead (`$.a.b`, `$.items[?@.state=='UP']`). Text without braces is static; static text
/// that starts with a dollar is written `'{"$"}5'`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRule {
    /// The metric name. For `type: object` it is the prefix: each entry of `values` gives a
    /// metric `<name>_<value name>`.
    ///
    /// Extension, `type: object` only: the name may be a template evaluated on each object, so
    /// that the name comes from the data (one family per row of PostgreSQL's `pg_settings`,
    /// one per `SHOW GLOBAL STATUS` variable). A name that is not a valid metric name once
    /// evaluated costs that object's series (a mapping problem). Such families are typed by
    /// `valuetype` like any other; a family that another rule makes with another type keeps
    /// the first type, and the later series are reported.
    /// ```yaml metrics
    /// - name: 'pg_settings_{ .metric }'
    ///   help: '{ .help }'           # the HELP may come from the data too
    ///   type: object
    ///   path: '{ [*] }'
    ///   valuetype: gauge
    ///   value: '{ .value }'         # pg_settings_shared_buffers_bytes, …
    /// ```
    pub name: String,
    /// The help text (default: the name). Extension, `type: object` only: a template
    /// evaluated on each object; the first object's text is the family's HELP.
    #[serde(default)]
    pub help: Option<String>,
    /// Where the value is (`type: value`), or which objects to make series from
    /// (`type: object`: one series per selected object, for each entry of `values`).
    /// With `type: object` the path is a single query, such as `'{ .items[*] }'` or
    /// `'$.items[*]'`.
    #[serde(default)]
    pub path: String,
    /// `value` (default): `path` selects one value. `object`: `path` selects objects, and
    /// `labels`, `values` and `epochTimestamp` are evaluated on each of them.
    #[serde(default, rename = "type")]
    pub rule_type: RuleType,
    /// `gauge`, `counter` or `untyped` (default).
    #[serde(default)]
    pub valuetype: ValueType,
    /// Labels: static text (`beta`) or templates (`'{ .id }'`, `'planet-{ .location }'`),
    /// evaluated on the document (`type: value`) or on each object (`type: object`).
    /// `'{$key}'` is the key (member name or array index) the object was found under: with
    /// `path: '{ .queues.* }'` and `labels: {queue: '{$key}'}`, each queue's name becomes its
    /// label. A label whose template finds nothing is empty and reported as a mapping problem
    /// (not reported with `allow_missing_key: true`), unless `missing_label` gives its value.
    #[serde(default, deserialize_with = "scalar_map")]
    pub labels: BTreeMap<String, String>,
    /// `type: object` only: value name → static number or template, each giving the metric
    /// `<name>_<value name>`.
    #[serde(default, deserialize_with = "scalar_map")]
    pub values: BTreeMap<String, String>,
    /// Extension, `type: object` only: a static number or template giving the metric `<name>`
    /// itself, without a `_<value name>` suffix (one series per selected object, named by the
    /// rule). May be combined with `values`.
    #[serde(default)]
    pub value: Option<String>,
    /// Extension, with a name read from the data: lower-case it and turn every character other
    /// than `[a-z0-9_]` into `_` (mysqld_exporter's rule for variable and column names), so
    /// that `Seconds_Behind_Master` becomes `seconds_behind_master`.
    #[serde(default)]
    pub normalize_name: bool,
    /// Extension: a value that is not a number (text that no converter or map turns into one,
    /// a null, NaN) is left out silently instead of being reported, as exporters do that
    /// export only the numeric fields of a status table. Unpivoting a row into one series
    /// per column (mysqld_exporter's `SHOW SLAVE STATUS`):
    /// ```yaml metrics
    /// - name: replica
    ///   type: object
    ///   path: '{ [*] }'
    ///   labels: {master_host: '{ .Master_Host }'}
    ///   metrics:
    ///     - name: 'mysql_slave_status_{$key}'    # one family per column
    ///       normalize_name: true
    ///       type: object
    ///       path: '{ .* }'
    ///       value: '{ @ }'
    ///       skip_non_numeric: true
    ///       valueconverter: {'{ @ }': {'yes': 1, 'no': 0}}
    /// ```
    #[serde(default)]
    pub skip_non_numeric: bool,
    /// When the value (or the objects, or the timestamp) is not in the document, skip that
    /// series silently instead of reporting a mapping problem.
    #[serde(default)]
    pub allow_missing_key: bool,
    /// A template giving the sample timestamp in milliseconds since the epoch (an integer, or
    /// a string holding one). Also accepted as `epochtimestamp`.
    #[serde(default, rename = "epochTimestamp", alias = "epochtimestamp")]
    pub epoch_timestamp: Option<String>,
    /// Strings to numbers, per value: the key is the value's template as written in `values`
    /// (json_exporter's way, e.g. `'{.state}'`), or the value's name, or for `type: value` the
    /// `path`. Matching ignores case. A string not listed is parsed as usual.
    /// ```yaml fragment
    /// valueconverter:
    ///   '{.state}':
    ///     ACTIVE: 1
    ///     INACTIVE: 0
    /// ```
    #[serde(default, deserialize_with = "converter_map")]
    pub valueconverter: BTreeMap<String, BTreeMap<String, String>>,
    /// Extension: strings to numbers for every value of this rule, matched exactly (case
    /// counts), e.g. `value_map: {UP: 1, DOWN: 0, true: 1}`. Applied after `valueconverter`;
    /// a string not listed is parsed as usual (and is a mapping problem if not a number).
    #[serde(default, deserialize_with = "number_map")]
    pub value_map: BTreeMap<String, f64>,
    /// Extension: the number for any non-empty value that neither `valueconverter` nor
    /// `value_map` lists, numbers included, instead of reading it as a number. For status
    /// enums whose unknown states count as "down": HAProxy's `status` column with
    /// `value_map: {UP: 1, OPEN: 1}` and `value_map_default: 0` gives 0 for `DOWN`, `MAINT`,
    /// `DOWN 1/2`, …. An empty value stays "no value" (see `allow_missing_key`).
    #[serde(default)]
    pub value_map_default: Option<f64>,
    /// Extension: the value is the number of characters of the selected string that are any
    /// of these characters. Apache's scoreboard `"_SRW__K."` with `count_chars: "_"` gives 3
    /// idle workers.
    #[serde(default)]
    pub count_chars: Option<String>,
    /// Extension: multiply every value by this factor, for unit conversion (`0.001`: ms → s,
    /// `1024`: KiB → bytes).
    #[serde(default)]
    pub scale: Option<f64>,
    /// Extension: the path may select several values, and the value is their sum:
    /// `path: "{ ['CPUUser','CPUChildrenUser'] }"` adds two keys (the ones present; none
    /// present is a missing value). Each path must then be a single query.
    #[serde(default)]
    pub sum: bool,
    /// Extension: the value is the number of values the path selects, for the length of a
    /// list: `path: '{ .workers[?(@.id > 0)] }'` with `count: true` gives the number of
    /// workers whose id is above 0 (uwsgi_exporter's `uwsgi_workers`). An empty list, or a
    /// filter that keeps nothing, counts 0; a path through a member the document lacks is a
    /// missing value. The path must be a single query.
    #[serde(default)]
    pub count: bool,
    /// Extension: a single query (evaluated where the values are) whose values, added up, are
    /// taken from every value of this rule before `scale`, for a counter the app only gives as
    /// a difference. memcached counts `cas` commands again in `cmd_set`, and
    /// memcached_exporter's `set` hits leave them out:
    /// ```yaml metrics
    /// - name: memcached_commands
    ///   type: object
    ///   path: '{ $ }'
    ///   labels: {command: set, status: hit}
    ///   values: {total: '{ .cmd_set }'}
    ///   subtract: "{ ['cas_misses','cas_hits','cas_badval'] }"
    /// ```
    /// The keys it finds are subtracted; when it finds none, the value is missing (see
    /// `allow_missing_key`), as a difference with an unknown part is unknown.
    #[serde(default)]
    pub subtract: Option<String>,
    /// Extension: the value is the first dotted version `A.B.C…` in the selected text as one
    /// number, the parts after the first zero-padded to these many digits behind the point:
    /// `version_number: [2, 3]` turns `Apache/2.4.71 (Debian)` into 2.04071 (apache_exporter's
    /// `apache_version`), so versions compare as numbers.
    #[serde(default)]
    pub version_number: Option<Vec<usize>>,
    /// Extension: the number used (as is, not scaled) when the path finds nothing, so that the
    /// series is always there, as exporters that keep a gauge at 0 until it is first set.
    #[serde(default)]
    pub missing_value: Option<f64>,
    /// Extension: numbers written with a unit suffix, each suffix with its factor:
    /// `units: {K: 1, M: 1024}` reads `4K` as 4 and `1.5M` as 1536 (space before the suffix
    /// allowed, case counts). A number without a listed suffix is read as usual.
    #[serde(default, deserialize_with = "number_map")]
    pub units: BTreeMap<String, f64>,
    /// Extension: the problem reported when the path finds nothing, instead of the generic
    /// "`x` is not found": a sentence that tells the user what to change (`"ExtendedStatus is
    /// off: …"`). Ignored with `allow_missing_key` or `missing_value`.
    #[serde(default)]
    pub missing_message: Option<String>,
    /// Extension: the value a label takes when its template finds nothing, instead of an empty
    /// value and a mapping problem. It applies to every label of this rule that has a path
    /// (the whole value: `'v-{ .x }'` becomes the text itself, not `v-` and the text), so that
    /// a field an older version of the app does not print still gives a stable series, as
    /// exporters that default such labels do. apache_exporter's `apache_info` on an Apache 2.2
    /// page, which has no `ServerVersion` or `ServerMPM`:
    /// ```yaml metrics
    /// - name: apache_info
    ///   path: '1'
    ///   labels: {version: '{ .ServerVersion }', mpm: '{ .ServerMPM }'}
    ///   missing_label: UNKNOWN    # apache_info{mpm="UNKNOWN",version="UNKNOWN"} 1
    /// ```
    #[serde(default)]
    pub missing_label: Option<String>,
    /// Extension, `type: object` only: use only the objects found under a key that starts with
    /// this text, and let `{$key}` be the key without it. Redis' `INFO ALL` writes
    /// `cmdstat_get:calls=2,usec=15,…` among its other fields:
    /// ```yaml metrics
    /// - name: redis_commands
    ///   type: object
    ///   path: '{ .* }'
    ///   key_prefix: cmdstat_
    ///   labels: {cmd: '{$key}'}     # get
    ///   values: {total: '{ .calls }'}  # redis_commands_total
    /// ```
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Extension: the value is a number of seconds before now (an uptime), and the series holds
    /// that moment in seconds since the epoch (a start time), as exporters that compute
    /// `*_start_time_seconds` from an uptime do.
    #[serde(default)]
    pub seconds_ago: bool,
    /// Extension: the value is a date-time written as text (RFC 3339: `2026-11-30T17:38:35.451Z`
    /// or with an offset such as `+02:00`), read as a number since the epoch, truncated as the
    /// Go exporters do: `rfc3339` in whole seconds (BIND's `boot-time` as bind_exporter's
    /// `bind_boot_time_seconds`), `rfc3339_ms` in whole milliseconds (NATS' `start` as
    /// prometheus-nats-exporter's `gnatsd_varz_start`). Other text is a mapping problem.
    #[serde(default)]
    pub time_format: Option<TimeFormat>,
    /// Extension for nested arrays, `type: object` only: rules applied to each selected object
    /// (their paths are relative to it), which inherit this rule's labels. One level per array:
    /// ```yaml metrics
    /// - name: databases
    ///   type: object
    ///   path: '{ .databases[*] }'
    ///   labels: {database: '{ .name }'}
    ///   metrics:
    ///     - name: table_rows
    ///       type: object
    ///       path: '{ .tables[*] }'
    ///       labels: {table: '{ .name }'}
    ///       values: {total: '{ .rows }'}   # table_rows_total{database,table}
    /// ```
    #[serde(default)]
    pub metrics: Vec<MetricRule>,
    /// json_exporter's expression engine: only `jsonpath` (the default) is supported.
    #[serde(default)]
    pub engine: Option<String>,
}

/// `time_format:` of a metric rule: how a time written as text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeFormat {
    /// Whole seconds since the epoch.
    Rfc3339,
    /// Whole milliseconds since the epoch.
    #[serde(rename = "rfc3339_ms")]
    Rfc3339Ms,
}

/// `type:` of a metric rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    /// `path` selects one value.
    #[default]
    Value,
    /// `path` selects objects; `values` are read from each.
    Object,
}

/// `valuetype:` of a metric rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// A value that goes up and down.
    Gauge,
    /// A monotonically increasing value.
    Counter,
    /// No type information.
    #[default]
    Untyped,
}

impl ValueType {
    pub(super) fn metric_type(self) -> MetricType {
        match self {
            ValueType::Gauge => MetricType::Gauge,
            ValueType::Counter => MetricType::Counter,
            ValueType::Untyped => MetricType::Untyped,
        }
    }
}

/// YAML scalars (strings, numbers, booleans) as text, the way json_exporter reads them
/// (`active: 1`, `predator: true`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(transparent)]
struct ScalarKey(#[serde(deserialize_with = "scalar_string")] String);

fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Scalar::deserialize(d).map(Scalar::into_string)
}

fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<ScalarKey, Scalar>::deserialize(d)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k.0, v.into_string()))
        .collect())
}

fn number_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let map = BTreeMap::<ScalarKey, f64>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k.0, v)).collect())
}

fn converter_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, D::Error> {
    let map = BTreeMap::<ScalarKey, BTreeMap<ScalarKey, Scalar>>::deserialize(d)?;
    Ok(map
        .into_iter()
        .map(|(k, inner)| {
            (
                k.0,
                inner
                    .into_iter()
                    .map(|(k, v)| (k.0, v.into_string()))
                    .collect(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::test_support::rules;

    #[test]
    fn scalars_are_read_as_text() {
        let r = rules(
            "- name: a\n  type: object\n  path: '{$}'\n  labels: {p: true, n: 3}\n  values: {one: 1, half: 0.5}\n",
        );
        assert_eq!(r[0].labels["p"], "true");
        assert_eq!(r[0].labels["n"], "3");
        assert_eq!(r[0].values["one"], "1");
        assert_eq!(r[0].values["half"], "0.5");
    }

    #[test]
    fn unknown_fields_and_bad_enums_are_refused() {
        assert!(serde_yaml::from_str::<Vec<MetricRule>>("- name: a\n  pathh: x\n").is_err());
        assert!(
            serde_yaml::from_str::<Vec<MetricRule>>("- name: a\n  path: x\n  type: list\n")
                .is_err()
        );
        assert!(serde_yaml::from_str::<Vec<MetricRule>>(
            "- name: a\n  path: x\n  valuetype: summary\n"
        )
        .is_err());
        let r = rules("- name: a\n  path: x\n  epochtimestamp: '{.t}'\n");
        assert_eq!(r[0].epoch_timestamp.as_deref(), Some("{.t}"));
    }
}
