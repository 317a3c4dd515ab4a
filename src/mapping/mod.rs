//! Mapping: json_exporter-compatible rules that turn records (a JSON value) into metric families.
//!
//! Every format (JSON, key/value text, regex captures, CSV rows) is first turned into a
//! `serde_json::Value`, so this one engine serves all of them. A json_exporter module's
//! `metrics:` list can be pasted in unchanged; the extensions (`{$key}`, `value_map`,
//! `count_chars`, `scale`, `sum`, `version_number`, `units`, `missing_value`,
//! `missing_message`, nested `metrics:`) are documented on [`MetricRule`].
//!
//! Failures are per series: a missing key or a value that is not a number costs that one series
//! (a [`Reason::Mapping`] problem), two series with the same labels cost the later one
//! ([`Reason::DuplicateSeries`]); the rest of the collection is kept.

mod jsonpath;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::collector::{CollectError, Collection, Reason};
use crate::model::{is_valid_label_name, is_valid_metric_name, Labels, MetricFamily, MetricType};

use jsonpath::{render, Evaluated, Expr, Hit};

/// One entry of `metrics:`, json_exporter's schema plus a few extensions.
///
/// ```yaml
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
    pub name: String,
    /// The help text (default: the name).
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
    /// (not reported with `allow_missing_key: true`).
    #[serde(default, deserialize_with = "scalar_map")]
    pub labels: BTreeMap<String, String>,
    /// `type: object` only: value name → static number or template, each giving the metric
    /// `<name>_<value name>`.
    #[serde(default, deserialize_with = "scalar_map")]
    pub values: BTreeMap<String, String>,
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
    /// ```yaml
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
    /// Extension for nested arrays, `type: object` only: rules applied to each selected object
    /// (their paths are relative to it), which inherit this rule's labels. One level per array:
    /// ```yaml
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
    fn metric_type(self) -> MetricType {
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

/// Compiled rules, ready to apply on every collection.
#[derive(Debug, Clone)]
pub struct Mapping {
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    /// `metrics[2] (example_value)`, for problems.
    location: String,
    /// `type: object`: the objects to read; `type: value`: `None` (the node itself).
    selector: Option<Expr>,
    values: Vec<CompiledValue>,
    labels: Vec<(String, Expr)>,
    timestamp: Option<Expr>,
    allow_missing_key: bool,
    value_map: HashMap<String, f64>,
    value_map_default: Option<f64>,
    count_chars: Option<Vec<char>>,
    scale: Option<f64>,
    sum: bool,
    version_number: Option<Vec<usize>>,
    missing_value: Option<f64>,
    missing_message: Option<String>,
    /// `units`, longest suffix first.
    units: Vec<(String, f64)>,
    children: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledValue {
    family: String,
    help: String,
    metric_type: MetricType,
    expr: Expr,
    /// `valueconverter` for this value, keys lower-cased.
    converter: HashMap<String, f64>,
}

/// At most this many problems of one kind are listed per rule and collection; the rest are
/// summed up in one more problem, so a 100 000-element array with a bad path cannot flood the
/// log and the status page.
const PROBLEMS_LISTED_PER_RULE: usize = 5;

impl Mapping {
    /// Checks and compiles the rules: metric and label names, paths, templates, value maps.
    /// The error names the rule (`metrics[2] (name)`) and the field.
    pub fn compile(rules: &[MetricRule]) -> Result<Mapping, String> {
        let mut types: HashMap<String, MetricType> = HashMap::new();
        let compiled = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| compile_rule(rule, format!("metrics[{i}]"), &[], &mut types))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mapping { rules: compiled })
    }

    /// Applies the rules to one document. Never fails as a whole: what cannot be mapped is
    /// reported per series in `problems`.
    pub fn apply(&self, data: &Value) -> Collection {
        let mut out = Output::default();
        for rule in &self.rules {
            apply_rule(rule, Hit::root(data), &[], &mut out);
        }
        out.finish()
    }
}

fn compile_rule(
    rule: &MetricRule,
    at: String,
    inherited_labels: &[String],
    types: &mut HashMap<String, MetricType>,
) -> Result<CompiledRule, String> {
    let location = format!("{at} ({})", rule.name);
    let fail = |field: &str, message: String| format!("{location}: {field}: {message}");

    if let Some(engine) = rule.engine.as_deref() {
        if engine != "jsonpath" {
            return Err(fail(
                "engine",
                format!("`{engine}` is not supported; only `jsonpath` is"),
            ));
        }
    }
    let compile_expr = |field: &str, source: &str| Expr::parse(source).map_err(|e| fail(field, e));

    let help = rule.help.clone().unwrap_or_else(|| rule.name.clone());
    let metric_type = rule.valuetype.metric_type();
    let mut register = |family: &str, field: &str| -> Result<(), String> {
        if !is_valid_metric_name(family) {
            return Err(fail(
                field,
                format!("`{family}` is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
            ));
        }
        match types.insert(family.to_string(), metric_type) {
            Some(previous) if previous != metric_type => Err(fail(
                "valuetype",
                format!(
                    "`{family}` is also made by another rule as {}, not {}",
                    previous.text_name(),
                    metric_type.text_name()
                ),
            )),
            _ => Ok(()),
        }
    };

    let mut labels = Vec::new();
    for (label, template) in &rule.labels {
        if !is_valid_label_name(label) {
            return Err(fail(
                "labels",
                format!("`{label}` is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            ));
        }
        if inherited_labels.contains(label) {
            return Err(fail(
                "labels",
                format!("`{label}` is already set by the enclosing rule"),
            ));
        }
        labels.push((
            label.clone(),
            compile_expr(&format!("labels.{label}"), template)?,
        ));
    }

    let converter_for = |keys: &[&str]| -> Result<HashMap<String, f64>, String> {
        let mut converter = HashMap::new();
        for (key, table) in &rule.valueconverter {
            if !keys.contains(&key.as_str()) {
                continue;
            }
            for (from, to) in table {
                let number = parse_number_text(to).ok_or_else(|| {
                    fail(
                        &format!("valueconverter.{key}.{from}"),
                        format!("`{to}` is not a number"),
                    )
                })?;
                converter.insert(from.to_lowercase(), number);
            }
        }
        Ok(converter)
    };

    let mut values = Vec::new();
    let selector = match rule.rule_type {
        RuleType::Value => {
            if !rule.values.is_empty() {
                return Err(fail(
                    "values",
                    "`values` only apply to `type: object`".to_string(),
                ));
            }
            if !rule.metrics.is_empty() {
                return Err(fail(
                    "metrics",
                    "nested `metrics` only apply to `type: object`".to_string(),
                ));
            }
            if rule.path.is_empty() {
                return Err(fail("path", "a path is required".to_string()));
            }
            register(&rule.name, "name")?;
            values.push(CompiledValue {
                family: rule.name.clone(),
                help: help.clone(),
                metric_type,
                expr: compile_expr("path", &rule.path)?,
                converter: converter_for(&[rule.path.as_str(), rule.name.as_str()])?,
            });
            None
        }
        RuleType::Object => {
            if rule.path.is_empty() {
                return Err(fail("path", "a path is required".to_string()));
            }
            if rule.values.is_empty() && rule.metrics.is_empty() {
                return Err(fail(
                    "values",
                    "a `type: object` rule needs `values` (or nested `metrics`)".to_string(),
                ));
            }
            let selector = compile_expr("path", &rule.path)?;
            selector.check_selector().map_err(|e| fail("path", e))?;
            for (value_name, template) in &rule.values {
                let family = format!("{}_{}", rule.name, value_name);
                register(&family, &format!("values.{value_name}"))?;
                values.push(CompiledValue {
                    family,
                    help: help.clone(),
                    metric_type,
                    expr: compile_expr(&format!("values.{value_name}"), template)?,
                    converter: converter_for(&[template.as_str(), value_name.as_str()])?,
                });
            }
            Some(selector)
        }
    };

    let timestamp = rule
        .epoch_timestamp
        .as_deref()
        .map(|source| compile_expr("epochTimestamp", source))
        .transpose()?;

    let count_chars = match rule.count_chars.as_deref() {
        Some("") => {
            return Err(fail(
                "count_chars",
                "give the characters to count, e.g. \"_\"".to_string(),
            ))
        }
        Some(chars) => Some(chars.chars().collect()),
        None => None,
    };
    if let Some(default) = rule.value_map_default {
        if !default.is_finite() {
            return Err(fail(
                "value_map_default",
                format!("`{default}` is not a finite number"),
            ));
        }
    }
    if rule.count_chars.is_some() && rule.version_number.is_some() {
        return Err(fail(
            "version_number",
            "`count_chars` and `version_number` both read the text; use one".to_string(),
        ));
    }
    if let Some(widths) = &rule.version_number {
        if widths.is_empty() || widths.iter().any(|w| *w == 0 || *w > 9) {
            return Err(fail(
                "version_number",
                "give the digits of each part after the first, 1 to 9 each, e.g. [2, 3]"
                    .to_string(),
            ));
        }
    }
    if rule.sum {
        for value in &values {
            value.expr.check_selector().map_err(|_| {
                fail(
                    "sum",
                    format!(
                        "`{}`: with `sum: true` the path must be a single query such as \
                         `{{ ['a','b'] }}` or `$.items[*].size`",
                        value.family
                    ),
                )
            })?;
        }
    }
    let mut units: Vec<(String, f64)> = Vec::new();
    for (suffix, factor) in &rule.units {
        if suffix.is_empty() || !factor.is_finite() {
            return Err(fail(
                "units",
                format!("`{suffix}: {factor}` needs a suffix and a finite factor"),
            ));
        }
        units.push((suffix.clone(), *factor));
    }
    units.sort_by_key(|(suffix, _)| std::cmp::Reverse(suffix.len()));
    if let Some(missing) = rule.missing_value {
        if !missing.is_finite() {
            return Err(fail(
                "missing_value",
                format!("`{missing}` is not a finite number"),
            ));
        }
    }
    if let Some(scale) = rule.scale {
        if !scale.is_finite() {
            return Err(fail("scale", format!("`{scale}` is not a finite number")));
        }
    }

    let mut all_labels: Vec<String> = inherited_labels.to_vec();
    all_labels.extend(rule.labels.keys().cloned());
    let children = rule
        .metrics
        .iter()
        .enumerate()
        .map(|(i, child)| compile_rule(child, format!("{at}.metrics[{i}]"), &all_labels, types))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(CompiledRule {
        location,
        selector,
        values,
        labels,
        timestamp,
        allow_missing_key: rule.allow_missing_key,
        value_map: rule
            .value_map
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        value_map_default: rule.value_map_default,
        count_chars,
        scale: rule.scale,
        sum: rule.sum,
        version_number: rule.version_number.clone(),
        missing_value: rule.missing_value,
        missing_message: rule.missing_message.clone(),
        units,
        children,
    })
}

/// Families being built, with duplicate detection and capped problem lists.
#[derive(Default)]
struct Output {
    families: Vec<MetricFamily>,
    /// Family name → its index in `families`, and the label-set hashes it holds, each with the
    /// indices of its samples (compared in full on a hash match, so collisions cannot drop a
    /// series; hashing instead of keeping a copy of every label set saves the allocations).
    by_name: HashMap<String, (usize, HashMap<u64, Vec<usize>>)>,
    problems: Vec<CollectError>,
    /// Problems per (rule location, reason), listed or not.
    problem_counts: BTreeMap<(String, Reason), usize>,
}

impl Output {
    fn problem(&mut self, rule: &CompiledRule, reason: Reason, message: String) {
        let count = self
            .problem_counts
            .entry((rule.location.clone(), reason))
            .or_insert(0);
        *count += 1;
        if *count <= PROBLEMS_LISTED_PER_RULE {
            self.problems.push(CollectError::new(
                reason,
                format!("{}: {message}", rule.location),
            ));
        }
    }

    /// A mapping problem given in the rule's own words (`missing_message`), without the rule's
    /// location: the sentence is meant for the user of a preset.
    fn problem_in_words(&mut self, rule: &CompiledRule, message: String) {
        let count = self
            .problem_counts
            .entry((rule.location.clone(), Reason::Mapping))
            .or_insert(0);
        *count += 1;
        if *count <= PROBLEMS_LISTED_PER_RULE {
            self.problems
                .push(CollectError::new(Reason::Mapping, message));
        }
    }

    fn push(
        &mut self,
        rule: &CompiledRule,
        value: &CompiledValue,
        labels: &Labels,
        number: f64,
        timestamp_ms: Option<i64>,
    ) {
        let (index, seen) = match self.by_name.get_mut(&value.family) {
            Some(entry) => entry,
            None => {
                self.families.push(MetricFamily::new(
                    value.family.clone(),
                    value.help.clone(),
                    value.metric_type,
                ));
                self.by_name
                    .entry(value.family.clone())
                    .or_insert((self.families.len() - 1, HashMap::new()))
            }
        };
        let family = &mut self.families[*index];
        let same_hash = seen.entry(label_hash(labels)).or_default();
        if same_hash
            .iter()
            .any(|&sample| family.samples[sample].labels == *labels)
        {
            let message = format!(
                "`{}` already has a series with labels {{{}}}; the later one was dropped",
                value.family,
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            self.problem(rule, Reason::DuplicateSeries, message);
            return;
        }
        same_hash.push(family.samples.len());
        let mut sample = crate::model::Sample::new(labels.clone(), number);
        sample.timestamp_ms = timestamp_ms;
        family.samples.push(sample);
    }

    fn finish(mut self) -> Collection {
        for ((location, reason), count) in &self.problem_counts {
            if *count > PROBLEMS_LISTED_PER_RULE {
                self.problems.push(CollectError::new(
                    *reason,
                    format!(
                        "{location}: {} more series had {reason} problems like the above",
                        count - PROBLEMS_LISTED_PER_RULE
                    ),
                ));
            }
        }
        Collection {
            families: self.families,
            problems: self.problems,
        }
    }
}

fn label_hash(labels: &Labels) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    hasher.finish()
}

fn apply_rule(
    rule: &CompiledRule,
    node: Hit<'_>,
    inherited: &[(String, String)],
    out: &mut Output,
) {
    let objects = match &rule.selector {
        None => vec![node],
        Some(selector) => {
            let (objects, absent) = selector.select(node);
            if objects.is_empty() {
                if let Some(absent) = absent {
                    if !rule.allow_missing_key {
                        out.problem(rule, Reason::Mapping, format!("path {absent}"));
                    }
                }
            }
            objects
        }
    };
    for object in objects {
        let labels = evaluate_labels(rule, object, inherited, out);
        if !rule.values.is_empty() {
            let timestamp_ms = rule
                .timestamp
                .as_ref()
                .and_then(|expr| evaluate_timestamp(rule, expr, object, out));
            for value in &rule.values {
                match evaluate_value(rule, value, object) {
                    Ok(Some(number)) => out.push(rule, value, &labels, number, timestamp_ms),
                    Ok(None) => {}
                    Err(ValueError::Missing(_)) if rule.missing_message.is_some() => {
                        let message = rule.missing_message.clone().unwrap_or_default();
                        out.problem_in_words(rule, message);
                    }
                    Err(ValueError::Missing(message) | ValueError::Bad(message)) => out.problem(
                        rule,
                        Reason::Mapping,
                        format!("`{}`{}: {message}", value.family, describe(object)),
                    ),
                }
            }
        }
        for child in &rule.children {
            apply_rule(child, object, &labels, out);
        }
    }
}

/// ` (object `key`)` for problems about one object of many.
fn describe(object: Hit<'_>) -> String {
    match object.key {
        Some(key) => format!(" (object `{key}`)"),
        None => String::new(),
    }
}

/// The labels of one series: inherited ones plus this rule's, sorted by name (as
/// client_golang writes them).
fn evaluate_labels(
    rule: &CompiledRule,
    object: Hit<'_>,
    inherited: &[(String, String)],
    out: &mut Output,
) -> Labels {
    let mut labels: Labels = inherited.to_vec();
    for (name, expr) in &rule.labels {
        let value = match expr.evaluate(object) {
            Evaluated::Missing(what) => {
                if !rule.allow_missing_key {
                    out.problem(
                        rule,
                        Reason::Mapping,
                        format!("label `{name}`{}: {what}; left empty", describe(object)),
                    );
                }
                String::new()
            }
            Evaluated::Json(v) => compat_text(expr, render(v).into_owned()),
            Evaluated::Text(text) => compat_text(expr, text),
        };
        labels.push((name.clone(), value));
    }
    labels.sort();
    labels
}

/// json_exporter strips one pair of enclosing quotes from what a kubectl template produced;
/// RFC 9535 results are kept verbatim.
fn compat_text(expr: &Expr, text: String) -> String {
    match expr {
        Expr::Template(_) => unquote_extend(&text).unwrap_or(text),
        Expr::Rfc9535(_) => text,
    }
}

fn evaluate_timestamp(
    rule: &CompiledRule,
    expr: &Expr,
    object: Hit<'_>,
    out: &mut Output,
) -> Option<i64> {
    let parsed = match expr.evaluate(object) {
        Evaluated::Missing(what) => {
            if rule.allow_missing_key {
                return None;
            }
            Err(what)
        }
        Evaluated::Json(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("{n} is not an integer number of milliseconds")),
        Evaluated::Json(Value::String(s)) => parse_epoch_ms(s),
        Evaluated::Text(s) => parse_epoch_ms(&s),
        Evaluated::Json(other) => Err(format!("{other} is not a number of milliseconds")),
    };
    match parsed {
        Ok(ms) => Some(ms),
        Err(message) => {
            out.problem(
                rule,
                Reason::Mapping,
                format!("epochTimestamp{}: {message}", describe(object)),
            );
            None
        }
    }
}

fn parse_epoch_ms(text: &str) -> Result<i64, String> {
    let text = text.strip_suffix("u64").unwrap_or(text);
    text.parse()
        .map_err(|_| format!("`{text}` is not an integer number of milliseconds"))
}

/// Why a value gave no number.
enum ValueError {
    /// The path found nothing.
    Missing(String),
    /// What it found is not a number.
    Bad(String),
}

/// The number for one value of one object: `Ok(None)` when it is missing and that is allowed.
fn evaluate_value(
    rule: &CompiledRule,
    value: &CompiledValue,
    object: Hit<'_>,
) -> Result<Option<f64>, ValueError> {
    let missing = |what: String| {
        if let Some(number) = rule.missing_value {
            Ok(Some(number))
        } else if rule.allow_missing_key {
            Ok(None)
        } else {
            Err(ValueError::Missing(what))
        }
    };
    if rule.sum {
        let (hits, absent) = value.expr.select(object);
        if hits.is_empty() {
            return missing(absent.unwrap_or_else(|| "the path matched nothing".to_string()));
        }
        let mut total = 0.0;
        for hit in hits {
            match one_number(rule, value, Evaluated::Json(hit.value)) {
                Ok(Some(number)) => total += number,
                Ok(None) => {}
                Err(message) => return Err(ValueError::Bad(message)),
            }
        }
        return Ok(Some(scaled(rule, total)));
    }
    match value.expr.evaluate(object) {
        Evaluated::Missing(what) => missing(what),
        evaluated => one_number(rule, value, evaluated)
            .map(|number| number.map(|n| scaled(rule, n)))
            .map_err(ValueError::Bad),
    }
}

fn scaled(rule: &CompiledRule, number: f64) -> f64 {
    match rule.scale {
        Some(scale) => number * scale,
        None => number,
    }
}

/// One found value as a number (before `scale`).
fn one_number(
    rule: &CompiledRule,
    value: &CompiledValue,
    evaluated: Evaluated<'_>,
) -> Result<Option<f64>, String> {
    let number = match evaluated {
        Evaluated::Missing(what) => return Err(what),
        Evaluated::Json(json) => {
            if let Some(chars) = &rule.count_chars {
                count_chars(&render(json), chars)
            } else if let Some(widths) = &rule.version_number {
                let text = render(json);
                version_number(&text, widths)
                    .ok_or_else(|| format!("no dotted version number in {text:?}"))?
            } else if let Some(number) = mapped(rule, value, || render(json)) {
                number
            } else {
                match json {
                    Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    // json_exporter turns null into NaN.
                    Value::Null => f64::NAN,
                    Value::String(s) => match text_number(rule, s)? {
                        Some(number) => number,
                        None => return Ok(None),
                    },
                    Value::Array(_) => return Err("found an array, not a number".to_string()),
                    Value::Object(_) => return Err("found an object, not a number".to_string()),
                }
            }
        }
        Evaluated::Text(text) => {
            if let Some(chars) = &rule.count_chars {
                count_chars(&text, chars)
            } else if let Some(widths) = &rule.version_number {
                version_number(&text, widths)
                    .ok_or_else(|| format!("no dotted version number in {text:?}"))?
            } else if let Some(number) = mapped(rule, value, || text.as_str().into()) {
                number
            } else {
                match text_number(rule, &text)? {
                    Some(number) => number,
                    None => return Ok(None),
                }
            }
        }
    };
    Ok(Some(number))
}

/// The first dotted version in `text` (`2.4.71`) as one number, each part after the first
/// zero-padded to its width behind the point (`[2, 3]` → `2.04071`); a part longer than its
/// width is kept whole, and missing parts count as zeros.
fn version_number(text: &str, widths: &[usize]) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if bytes[start].is_ascii_digit() && (start == 0 || !bytes[start - 1].is_ascii_digit()) {
            let end = text[start..]
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .map_or(text.len(), |e| start + e);
            let parts: Vec<&str> = text[start..end]
                .split('.')
                .take_while(|p| !p.is_empty())
                .collect();
            if parts.len() >= 2 {
                let mut number = format!("{}.", parts[0]);
                for (i, width) in widths.iter().enumerate() {
                    let part = parts.get(i + 1).copied().unwrap_or("");
                    number.push_str(&"0".repeat(width.saturating_sub(part.len())));
                    number.push_str(part);
                }
                return number.parse().ok();
            }
            start = end;
        } else {
            start += 1;
        }
    }
    None
}

/// `valueconverter` (case-insensitive), then `value_map` (exact), then `value_map_default`
/// for a non-empty text.
fn mapped<'a>(
    rule: &CompiledRule,
    value: &CompiledValue,
    text: impl FnOnce() -> std::borrow::Cow<'a, str>,
) -> Option<f64> {
    if value.converter.is_empty() && rule.value_map.is_empty() && rule.value_map_default.is_none() {
        return None;
    }
    let text = text();
    if !value.converter.is_empty() {
        if let Some(number) = value.converter.get(&text.to_lowercase()) {
            return Some(*number);
        }
    }
    if let Some(number) = rule.value_map.get(text.as_ref()) {
        return Some(*number);
    }
    rule.value_map_default.filter(|_| !text.is_empty())
}

fn count_chars(text: &str, chars: &[char]) -> f64 {
    text.chars().filter(|c| chars.contains(c)).count() as f64
}

/// A string as a number, as json_exporter reads it: `Ok(None)` for an empty string when
/// `allow_missing_key` is set.
fn text_number(rule: &CompiledRule, text: &str) -> Result<Option<f64>, String> {
    if text.is_empty() && rule.allow_missing_key {
        return Ok(None);
    }
    let unquoted = unquote_extend(text);
    let text = unquoted.as_deref().unwrap_or(text);
    if let Some(number) = parse_number_text(text) {
        return Ok(Some(number));
    }
    rule.units
        .iter()
        .find_map(|(suffix, factor)| {
            let number = text.strip_suffix(suffix.as_str())?.trim_end();
            number.parse::<f64>().ok().map(|n| n * factor)
        })
        .map(Some)
        .ok_or_else(|| format!("{text:?} is not a number"))
}

/// Go's `strconv.ParseFloat`, then `strconv.ParseBool`, then `<nil>` as NaN (json_exporter's
/// `SanitizeValue`).
fn parse_number_text(text: &str) -> Option<f64> {
    if let Ok(number) = text.parse::<f64>() {
        return Some(number);
    }
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(1.0),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(0.0),
        "<nil>" => Some(f64::NAN),
        _ => None,
    }
}

/// kubectl's `UnquoteExtend`: text wholly enclosed in `"…"` or `'…'` loses the quotes (and
/// its escapes are resolved); anything else is `None` (kept as it is).
fn unquote_extend(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') && !inner.contains(quote) {
        return Some(inner.to_string());
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                _ => return None,
            }),
            c if c == quote || c == '\n' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(yaml: &str) -> Vec<MetricRule> {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn apply(yaml: &str, data: Value) -> Collection {
        Mapping::compile(&rules(yaml)).unwrap().apply(&data)
    }

    fn compile_err(yaml: &str) -> String {
        Mapping::compile(&rules(yaml)).unwrap_err()
    }

    fn series(c: &Collection) -> Vec<String> {
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

    #[test]
    fn mapping_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<Mapping>();
    }

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

    #[test]
    fn compile_errors_name_rule_and_field() {
        let e = compile_err("- name: 9bad\n  path: '{.a}'\n");
        assert!(e.contains("metrics[0] (9bad): name"), "{e}");
        let e = compile_err("- name: ok\n  path: '{.a}'\n- name: b\n  path: '{.a'\n");
        assert!(e.contains("metrics[1] (b): path"), "{e}");
        let e = compile_err("- name: b\n  path: '{.a}'\n  labels: {__x: y}\n");
        assert!(e.contains("labels"), "{e}");
        let e = compile_err("- name: b\n  path: '{.a}'\n  labels: {x: '{.y'}\n");
        assert!(e.contains("labels.x"), "{e}");
        let e = compile_err("- name: b\n  type: object\n  path: '{.a}'\n  values: {c: '{.'}\n");
        assert!(e.contains("values.c"), "{e}");
        let e = compile_err("- name: b\n  type: object\n  path: '{.a}'\n  values: {'-': '1'}\n");
        assert!(e.contains("b_-"), "{e}");
        let e = compile_err("- name: b\n  type: object\n  path: 'x{.a}'\n  values: {c: 1}\n");
        assert!(e.contains("exactly one query"), "{e}");
        let e = compile_err("- name: b\n  type: object\n  path: '{.a}'\n");
        assert!(e.contains("needs `values`"), "{e}");
        let e = compile_err("- name: b\n  path: '{.a}'\n  values: {c: 1}\n");
        assert!(e.contains("only apply to `type: object`"), "{e}");
        let e = compile_err("- name: b\n  path: '.a'\n  engine: cel\n");
        assert!(e.contains("engine"), "{e}");
        let e = compile_err("- name: b\n  path: '{.a}'\n  count_chars: ''\n");
        assert!(e.contains("count_chars"), "{e}");
        let e = compile_err("- name: b\n  path: '$.a['\n");
        assert!(e.contains("RFC 9535"), "{e}");
        let e = compile_err(
            "- name: b\n  path: '{.a}'\n  valuetype: gauge\n- name: b\n  path: '{.c}'\n  valuetype: counter\n",
        );
        assert!(e.contains("metrics[1] (b): valuetype"), "{e}");
        let e = compile_err(
            "- name: b\n  type: object\n  path: '{.a}'\n  valueconverter: {'{.s}': {UP: x}}\n  values: {s: '{.s}'}\n",
        );
        assert!(e.contains("valueconverter"), "{e}");
        let e = compile_err(
            "- name: p\n  type: object\n  path: '{.a[*]}'\n  labels: {x: '{.n}'}\n  metrics:\n  - name: c\n    type: object\n    path: '{.b[*]}'\n    labels: {x: '{.n}'}\n    values: {v: 1}\n",
        );
        assert!(e.contains("metrics[0].metrics[0] (c): labels"), "{e}");
    }

    #[test]
    fn value_conversions() {
        let c = apply(
            "- {name: n, path: '{.n}'}\n- {name: s, path: '{.s}'}\n- {name: b, path: '{.b}'}\n- {name: z, path: '{.z}'}\n- {name: t, path: '{.t}'}\n- {name: bad, path: '{.bad}'}\n- {name: q, path: '{.q}'}\n",
            json!({"n": 1.5, "s": "42", "b": false, "z": null, "t": "TRUE", "bad": "1000 MB", "q": "\"7\""}),
        );
        let s = series(&c);
        assert_eq!(&s[..3], ["n{} 1.5", "s{} 42", "b{} 0"]);
        assert_eq!(s[3], "z{} NaN");
        assert_eq!(s[4], "t{} 1");
        assert_eq!(s[5], "q{} 7");
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.problems[0].reason, Reason::Mapping);
        assert!(c.problems[0].message.contains("metrics[5] (bad)"));
        assert!(c.problems[0]
            .message
            .contains("\"1000 MB\" is not a number"));
    }

    #[test]
    fn extensions() {
        let c = apply(
            r#"
- name: queue_messages
  type: object
  path: '{ .queues.* }'
  labels: {queue: '{$key}'}
  values: {ready: '{.ready}'}
- name: queue_up
  type: object
  path: '$.queues.*'
  labels: {queue: 'q-{$key}'}
  values: {state: '$.state'}
  value_map: {UP: 1, DOWN: 0}
- name: apache_scoreboard
  path: '{.Scoreboard}'
  count_chars: "_"
  labels: {state: idle}
- name: apache_scoreboard
  path: '{.Scoreboard}'
  count_chars: "SRW"
  labels: {state: busy}
- name: latency_seconds
  path: '{.latency_ms}'
  scale: 0.001
"#,
            json!({
                "queues": {"alpha": {"ready": 3, "state": "UP"}, "beta": {"ready": 0, "state": "DOWN"}},
                "Scoreboard": "__RW_K.",
                "latency_ms": 250
            }),
        );
        assert_eq!(
            series(&c),
            [
                r#"queue_messages_ready{queue="alpha"} 3"#,
                r#"queue_messages_ready{queue="beta"} 0"#,
                r#"queue_up_state{queue="q-alpha"} 1"#,
                r#"queue_up_state{queue="q-beta"} 0"#,
                r#"apache_scoreboard{state="idle"} 3"#,
                r#"apache_scoreboard{state="busy"} 2"#,
                r#"latency_seconds{} 0.25"#,
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.families.len(), 4, "one family for both scoreboard rules");
    }

    #[test]
    fn value_map_default_covers_unlisted_values_but_not_empty_ones() {
        let c = apply(
            "- name: up\n  type: object\n  path: '{[*]}'\n  labels: {s: '{.s}'}\n  values: {v: '{.s}'}\n  value_map: {UP: 1}\n  value_map_default: 0\n  allow_missing_key: true\n",
            json!([{"s": "UP"}, {"s": "DOWN 1/2"}, {"s": "7"}, {"s": ""}]),
        );
        assert_eq!(
            series(&c),
            [
                r#"up_v{s="UP"} 1"#,
                r#"up_v{s="DOWN 1/2"} 0"#,
                r#"up_v{s="7"} 0"#
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let e = compile_err("- name: b\n  path: '{.a}'\n  value_map_default: .nan\n");
        assert!(e.contains("value_map_default"), "{e}");
    }

    #[test]
    fn nested_arrays_get_a_label_per_level() {
        let c = apply(
            r#"
- name: databases
  type: object
  path: '{ .databases[*] }'
  labels: {database: '{ .name }'}
  metrics:
    - name: table
      type: object
      path: '{ .tables[*] }'
      labels: {table: '{ .name }'}
      values: {rows: '{ .rows }'}
      metrics:
        - name: column_nulls
          type: object
          path: '{ .columns.* }'
          labels: {column: '{$key}'}
          values: {total: '{ .nulls }'}
"#,
            json!({"databases": [
                {"name": "shop", "tables": [
                    {"name": "orders", "rows": 10, "columns": {"id": {"nulls": 0}}},
                    {"name": "users", "rows": 5, "columns": {}}
                ]},
                {"name": "logs", "tables": [{"name": "events", "rows": 99}]}
            ]}),
        );
        assert_eq!(
            series(&c),
            [
                r#"table_rows{database="shop",table="orders"} 10"#,
                r#"table_rows{database="shop",table="users"} 5"#,
                r#"table_rows{database="logs",table="events"} 99"#,
                r#"column_nulls_total{column="id",database="shop",table="orders"} 0"#,
            ]
        );
        // `events` has no `columns`: reported once, the rest is kept.
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(c.problems[0].message.contains("columns"));
    }

    #[test]
    fn missing_keys_cost_one_series() {
        let c = apply(
            "- name: v\n  type: object\n  path: '{.items[*]}'\n  labels: {id: '{.id}'}\n  values: {x: '{.x}'}\n",
            json!({"items": [{"id": "a", "x": 1}, {"id": "b"}, {"x": 3}]}),
        );
        assert_eq!(series(&c), [r#"v_x{id="a"} 1"#, r#"v_x{id=""} 3"#]);
        assert_eq!(c.problems.len(), 2);
        assert!(c.problems.iter().all(|p| p.reason == Reason::Mapping));
        assert!(
            c.problems[0].message.contains("`x` is not found"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn filters_matching_nothing_are_not_problems() {
        let c = apply(
            "- name: v\n  type: object\n  path: '{.items[?(@.state == \"X\")]}'\n  values: {x: '{.x}'}\n",
            json!({"items": [{"state": "A", "x": 1}]}),
        );
        assert!(c.families.is_empty());
        assert!(c.problems.is_empty());
    }

    #[test]
    fn duplicates_are_dropped_and_counted() {
        let c = apply(
            "- name: v\n  type: object\n  path: '{[*]}'\n  labels: {id: '{.id}'}\n  values: {x: '{.x}'}\n",
            json!([{"id": "a", "x": 1}, {"id": "a", "x": 2}, {"id": "b", "x": 3}]),
        );
        assert_eq!(series(&c), [r#"v_x{id="a"} 1"#, r#"v_x{id="b"} 3"#]);
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.problems[0].reason, Reason::DuplicateSeries);
    }

    #[test]
    fn problems_are_capped_per_rule() {
        let items: Vec<Value> = (0..100).map(|i| json!({"id": i})).collect();
        let c = apply(
            "- name: v\n  type: object\n  path: '{[*]}'\n  labels: {id: '{.id}'}\n  values: {x: '{.x}'}\n",
            Value::Array(items),
        );
        assert_eq!(c.problems.len(), PROBLEMS_LISTED_PER_RULE + 1);
        assert!(c.problems[PROBLEMS_LISTED_PER_RULE]
            .message
            .contains("95 more series"));
    }

    #[test]
    fn timestamps() {
        let c = apply(
            "- name: a\n  path: '{.v}'\n  epochTimestamp: '{.ts}'\n- name: b\n  path: '{.v}'\n  epochTimestamp: '{.tss}'\n- name: c\n  path: '{.v}'\n  epochTimestamp: '{.nope}'\n- name: d\n  path: '{.v}'\n  epochTimestamp: '{.nope}'\n  allow_missing_key: true\n",
            json!({"v": 1, "ts": 1657568506000_i64, "tss": "1657568506001"}),
        );
        let ts: Vec<Option<i64>> = c
            .families
            .iter()
            .map(|f| f.samples[0].timestamp_ms)
            .collect();
        assert_eq!(ts, [Some(1657568506000), Some(1657568506001), None, None]);
        assert_eq!(c.problems.len(), 1, "only c reports its missing timestamp");
    }

    #[test]
    fn unquote_extend_matches_kubectl() {
        assert_eq!(unquote_extend("\"abc\"").as_deref(), Some("abc"));
        assert_eq!(unquote_extend("'abc'").as_deref(), Some("abc"));
        assert_eq!(unquote_extend("\"a\\nb\"").as_deref(), Some("a\nb"));
        assert_eq!(unquote_extend("\"a\"b\""), None);
        assert_eq!(unquote_extend("a\"b"), None);
        assert_eq!(unquote_extend("\""), None);
    }

    #[test]
    fn sum_adds_what_the_path_selects() {
        let c = apply(
            r#"
- name: cpu_ms
  path: "{ ['CPUUser','CPUChildrenUser'] }"
  sum: true
  scale: 1000
- name: partial
  path: "{ ['CPUUser','nope'] }"
  sum: true
- name: sizes
  path: '$.items[*].size'
  sum: true
- name: none
  path: "{ ['x','y'] }"
  sum: true
- name: none_allowed
  path: "{ ['x','y'] }"
  sum: true
  allow_missing_key: true
"#,
            json!({"CPUUser": ".02", "CPUChildrenUser": "0.5", "items": [{"size": 2}, {"size": "3"}]}),
        );
        assert_eq!(series(&c), ["cpu_ms{} 520", "partial{} 0.02", "sizes{} 5"]);
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(c.problems[0].message.contains("metrics[3] (none)"));
        let e = compile_err("- name: s\n  path: 'a {.x} {.y}'\n  sum: true\n");
        assert!(e.contains("metrics[0] (s): sum"), "{e}");
    }

    #[test]
    fn version_numbers() {
        assert_eq!(
            version_number("Apache/2.4.71 (Debian)", &[2, 3]),
            Some(2.04071)
        );
        assert_eq!(
            version_number("Apache/2.4.71 (Debian) OpenSSL/3.0.22", &[2, 3]),
            Some(2.04071)
        );
        assert_eq!(version_number("v1.22", &[2, 3]), Some(1.22));
        assert_eq!(version_number("10.123.4567", &[2, 3]), Some(10.1234567));
        assert_eq!(version_number("build 7, 3.2.", &[2]), Some(3.02));
        assert_eq!(version_number("no version 7", &[2]), None);
        let c = apply(
            "- {name: v, path: '{.ServerVersion}', version_number: [2, 3]}\n- {name: bad, path: '{.x}', version_number: [2]}\n",
            json!({"ServerVersion": "Apache/2.4.71 (Debian)", "x": "unknown"}),
        );
        assert_eq!(series(&c), ["v{} 2.04071"]);
        assert!(c.problems[0].message.contains("no dotted version"));
        let e = compile_err("- {name: v, path: '{.a}', version_number: []}\n");
        assert!(e.contains("version_number"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', version_number: [2], count_chars: x}\n");
        assert!(e.contains("version_number"), "{e}");
    }

    #[test]
    fn missing_value_and_missing_message() {
        let c = apply(
            r#"
- {name: load, path: '{.CPULoad}', missing_value: 0, scale: 100}
- {name: load_present, path: '{.Present}', missing_value: 0, scale: 100}
- name: accesses
  path: "{ ['Total Accesses'] }"
  missing_message: 'ExtendedStatus is off: set `ExtendedStatus On`'
- {name: quiet, path: '{.Other}', allow_missing_key: true, missing_message: unused}
"#,
            json!({"Present": "0.5"}),
        );
        assert_eq!(series(&c), ["load{} 0", "load_present{} 50"]);
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert_eq!(c.problems[0].reason, Reason::Mapping);
        assert_eq!(
            c.problems[0].message,
            "ExtendedStatus is off: set `ExtendedStatus On`"
        );
        let e = compile_err("- {name: v, path: '{.a}', missing_value: .nan}\n");
        assert!(e.contains("missing_value"), "{e}");
    }

    #[test]
    fn unit_suffixes() {
        let c = apply(
            "- {name: a, path: '{.a}', units: {K: 1, k: 1, M: 1024, MB: 1000}}\n- {name: b, path: '{.b}', units: {K: 1, M: 1024, MB: 1000}}\n- {name: c, path: '{.c}', units: {K: 1, M: 1024, MB: 1000}}\n- {name: d, path: '{.d}', units: {K: 1}}\n- {name: e, path: '{.e}', units: {K: 1}}\n",
            json!({"a": "4K", "b": "1.5 M", "c": "2MB", "d": "7", "e": "xK"}),
        );
        assert_eq!(series(&c), ["a{} 4", "b{} 1536", "c{} 2000", "d{} 7"]);
        assert!(c.problems[0].message.contains("\"xK\" is not a number"));
        let e = compile_err("- {name: v, path: '{.a}', units: {'': 2}}\n");
        assert!(e.contains("units"), "{e}");
    }
}
