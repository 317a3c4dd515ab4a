//! Applying compiled rules to one document: paths, labels and values are evaluated, what was
//! found becomes numbers, and the series go into families, with problems reported per series.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::compile::{CompiledRule, CompiledValue, DynamicName, LabelValue};
use super::jsonpath::{render, Evaluated, Expr, Hit};
use super::number::{count_chars, parse_number_text, unquote_extend, version_number};
use crate::collector::{CollectError, Collection, Reason};
use crate::model::{labels_text, Labels, MetricFamily, Sample};

/// At most this many problems of one kind are listed per rule and collection; the rest are
/// summed up in one more problem, so a 100 000-element array with a bad path cannot flood the
/// log and the status page.
const PROBLEMS_LISTED_PER_RULE: usize = 5;

/// Applies the rules to one document.
pub(super) fn apply_rules(rules: &[CompiledRule], data: &Value) -> Collection {
    let mut out = Output::default();
    for rule in rules {
        apply_rule(rule, Hit::root(data), &[], &mut out);
    }
    out.finish()
}

/// Families being built, with the rule that made each series, and the problems so far.
#[derive(Default)]
struct Output<'r> {
    families: Vec<MetricFamily>,
    /// For each family, the rule that made each of its samples: a repeated series is reported
    /// at the rule that made it.
    made_by: Vec<Vec<&'r CompiledRule>>,
    /// Family name → its index in `families`.
    by_name: HashMap<&'r str, usize>,
    /// Family names read from the data (`name: 'x_{ .key }'`) → their index in `families`.
    by_dynamic_name: HashMap<String, usize>,
    problems: Problems<'r>,
}

/// Problems, listed up to [`PROBLEMS_LISTED_PER_RULE`] per rule and reason.
#[derive(Default)]
struct Problems<'r> {
    listed: Vec<CollectError>,
    /// Problems per (rule location, reason), listed or not.
    counts: BTreeMap<(&'r str, Reason), usize>,
}

impl<'r> Problems<'r> {
    /// Counts a problem of `rule`; true when it is still to be listed.
    fn count(&mut self, rule: &'r CompiledRule, reason: Reason) -> bool {
        let count = self.counts.entry((&rule.location, reason)).or_insert(0);
        *count += 1;
        *count <= PROBLEMS_LISTED_PER_RULE
    }

    fn add(&mut self, rule: &'r CompiledRule, reason: Reason, message: String) {
        if self.count(rule, reason) {
            self.listed.push(CollectError::new(
                reason,
                format!("{}: {message}", rule.location),
            ));
        }
    }

    /// A mapping problem given in the rule's own words (`missing_message`), without the rule's
    /// location: the sentence is meant for the user of a preset.
    fn add_in_words(&mut self, rule: &'r CompiledRule, message: String) {
        if self.count(rule, Reason::Mapping) {
            self.listed
                .push(CollectError::new(Reason::Mapping, message));
        }
    }

    /// The listed problems, then one summing up the unlisted ones of each rule and reason.
    fn finish(mut self) -> Vec<CollectError> {
        for ((location, reason), count) in &self.counts {
            if *count > PROBLEMS_LISTED_PER_RULE {
                self.listed.push(CollectError::new(
                    *reason,
                    format!(
                        "{location}: {} more series had {reason} problems like the above",
                        count - PROBLEMS_LISTED_PER_RULE
                    ),
                ));
            }
        }
        self.listed
    }
}

impl<'r> Output<'r> {
    fn push(
        &mut self,
        rule: &'r CompiledRule,
        value: &'r CompiledValue,
        labels: &Labels,
        number: f64,
        timestamp_ms: Option<i64>,
    ) {
        let index = *self
            .by_name
            .entry(value.family.as_str())
            .or_insert_with(|| {
                self.families.push(MetricFamily::new(
                    value.family.clone(),
                    value.help.clone(),
                    value.metric_type,
                ));
                self.made_by.push(Vec::new());
                self.families.len() - 1
            });
        let mut sample = Sample::new(labels.clone(), number);
        sample.timestamp_ms = timestamp_ms;
        self.families[index].samples.push(sample);
        self.made_by[index].push(rule);
    }

    /// A series of a family whose name was read from the data: added to the family of that
    /// name, whichever rule made it, unless that family has another type.
    fn push_named(
        &mut self,
        rule: &'r CompiledRule,
        (name, help, metric_type): (String, String, crate::model::MetricType),
        labels: &Labels,
        number: f64,
        timestamp_ms: Option<i64>,
    ) {
        let known = self
            .by_name
            .get(name.as_str())
            .or_else(|| self.by_dynamic_name.get(&name))
            .copied();
        let index = match known {
            Some(index) if self.families[index].metric_type != metric_type => {
                let message = format!(
                    "`{name}` is also made as {}, not {}; the series was dropped",
                    self.families[index].metric_type.text_name(),
                    metric_type.text_name()
                );
                self.problems.add(rule, Reason::Mapping, message);
                return;
            }
            Some(index) => index,
            None => {
                self.families
                    .push(MetricFamily::new(name.clone(), help, metric_type));
                self.made_by.push(Vec::new());
                self.by_dynamic_name.insert(name, self.families.len() - 1);
                self.families.len() - 1
            }
        };
        let mut sample = Sample::new(labels.clone(), number);
        sample.timestamp_ms = timestamp_ms;
        self.families[index].samples.push(sample);
        self.made_by[index].push(rule);
    }

    fn finish(mut self) -> Collection {
        for (family, made_by) in self.families.iter_mut().zip(&self.made_by) {
            for (index, sample) in family.drop_repeated_series() {
                let message = format!(
                    "`{}` already has a series with labels {{{}}}; the later one was dropped",
                    family.name,
                    labels_text(&sample.labels)
                );
                self.problems
                    .add(made_by[index], Reason::DuplicateSeries, message);
            }
        }
        Collection {
            families: self.families,
            problems: self.problems.finish(),
        }
    }
}

fn apply_rule<'r>(
    rule: &'r CompiledRule,
    node: Hit<'_>,
    inherited: &[(String, String)],
    out: &mut Output<'r>,
) {
    let objects = match &rule.selector {
        None => vec![node],
        Some(selector) => {
            let (objects, absent) = selector.select(node);
            if objects.is_empty() {
                if let Some(absent) = absent {
                    if !rule.allow_missing_key {
                        out.problems
                            .add(rule, Reason::Mapping, format!("path {absent}"));
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
                    Ok(Some(number)) if value.skip_non_numeric && number.is_nan() => {}
                    Err(ValueError::Bad(_)) if value.skip_non_numeric => {}
                    Ok(Some(number)) => match &value.dynamic {
                        None => out.push(rule, value, &labels, number, timestamp_ms),
                        Some(dynamic) => {
                            if let Some(family) = dynamic_family(rule, value, dynamic, object, out)
                            {
                                out.push_named(rule, family, &labels, number, timestamp_ms);
                            }
                        }
                    },
                    Ok(None) => {}
                    Err(ValueError::Missing(_)) if rule.missing_message.is_some() => {
                        let message = rule.missing_message.clone().unwrap_or_default();
                        out.problems.add_in_words(rule, message);
                    }
                    Err(ValueError::Missing(message) | ValueError::Bad(message)) => {
                        out.problems.add(
                            rule,
                            Reason::Mapping,
                            format!("`{}`{}: {message}", value.family, describe(object)),
                        )
                    }
                }
            }
        }
        for child in &rule.children {
            apply_rule(child, object, &labels, out);
        }
    }
}

/// The name, HELP and type of a family whose name is read from `object`; `None` (and a
/// problem) when the name is missing or not a valid metric name.
fn dynamic_family<'r>(
    rule: &'r CompiledRule,
    value: &CompiledValue,
    dynamic: &DynamicName,
    object: Hit<'_>,
    out: &mut Output<'r>,
) -> Option<(String, String, crate::model::MetricType)> {
    let text = |expr: &Expr| match expr.evaluate(object) {
        Evaluated::Missing(what) => Err(what),
        Evaluated::Json(v) => Ok(compat_text(expr, render(v).into_owned())),
        Evaluated::Text(text) => Ok(compat_text(expr, text)),
    };
    let name = match text(&dynamic.name) {
        Ok(name) if dynamic.normalize => format!("{}{}", normalized(&name), dynamic.suffix),
        Ok(name) => format!("{name}{}", dynamic.suffix),
        Err(what) => {
            if !rule.allow_missing_key {
                let message = format!("name `{}`{}: {what}", value.family, describe(object));
                out.problems.add(rule, Reason::Mapping, message);
            }
            return None;
        }
    };
    if !crate::model::is_valid_metric_name(&name) {
        let message = format!(
            "name `{}`{}: `{name}` is not a valid metric name",
            value.family,
            describe(object)
        );
        out.problems.add(rule, Reason::Mapping, message);
        return None;
    }
    let help = match dynamic.help.as_ref().map(text) {
        Some(Ok(help)) => help,
        _ => value.help.clone(),
    };
    Some((name, help, value.metric_type))
}

/// `normalize_name`: lower case, and `_` for every character outside `[a-z0-9_]`.
fn normalized(name: &str) -> String {
    name.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect()
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
fn evaluate_labels<'r>(
    rule: &'r CompiledRule,
    object: Hit<'_>,
    inherited: &[(String, String)],
    out: &mut Output<'r>,
) -> Labels {
    let mut labels: Labels = Vec::with_capacity(inherited.len() + rule.labels.len());
    labels.extend_from_slice(inherited);
    for label in &rule.labels {
        let value = match &label.value {
            LabelValue::Constant(text) => text.clone(),
            LabelValue::Expr(expr) => match expr.evaluate(object) {
                Evaluated::Missing(what) => match &rule.missing_label {
                    // Stated in the rule: an expected absence, not a problem.
                    Some(text) => text.clone(),
                    None => {
                        if !rule.allow_missing_key {
                            out.problems.add(
                                rule,
                                Reason::Mapping,
                                format!(
                                    "label `{}`{}: {what}; left empty",
                                    label.name,
                                    describe(object)
                                ),
                            );
                        }
                        String::new()
                    }
                },
                Evaluated::Json(v) => compat_text(expr, render(v).into_owned()),
                Evaluated::Text(text) => compat_text(expr, text),
            },
        };
        // Positions were worked out from the names `inherited` holds, so they never pass its
        // end; `min` only keeps a broken invariant from panicking.
        let position = label.position.min(labels.len());
        labels.insert(position, (label.name.clone(), value));
    }
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

fn evaluate_timestamp<'r>(
    rule: &'r CompiledRule,
    expr: &Expr,
    object: Hit<'_>,
    out: &mut Output<'r>,
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
            out.problems.add(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::test_support::{apply, series};
    use serde_json::json;

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
    fn static_and_evaluated_labels_interleave_in_name_order() {
        let c = apply(
            r#"
- name: outer
  type: object
  path: '{.items[*]}'
  labels: {d: '{.d}', b: static}
  metrics:
    - name: inner
      type: object
      path: '{.children.*}'
      labels: {e: '{$key}', a: '"quoted"', c: 'c-{.c}'}
      values: {v: '{.v}'}
"#,
            json!({"items": [{"d": "D", "children": {"k": {"c": 1, "v": 2}}}]}),
        );
        assert_eq!(
            series(&c),
            [r#"inner_v{a="quoted",b="static",c="c-1",d="D",e="k"} 2"#]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
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
        assert_eq!(
            c.problems[0].message,
            r#"metrics[0] (v): `v_x` already has a series with labels {id="a"}; the later one was dropped"#
        );
    }

    #[test]
    fn a_duplicate_is_reported_at_the_rule_that_made_it_and_capped() {
        let items: Vec<Value> = (0..20).map(|_| json!({"id": "a", "x": 1})).collect();
        let c = apply(
            "- {name: up, path: '{.up}', labels: {state: ok}}\n- {name: up, path: '{.up}', labels: {state: ok}}\n- name: v\n  type: object\n  path: '{.items[*]}'\n  labels: {id: '{.id}'}\n  values: {x: '{.x}'}\n",
            json!({"up": 1, "items": items}),
        );
        assert_eq!(series(&c), [r#"up{state="ok"} 1"#, r#"v_x{id="a"} 1"#]);
        assert!(c
            .problems
            .iter()
            .all(|p| p.reason == Reason::DuplicateSeries));
        assert!(c.problems[0].message.starts_with("metrics[1] (up): `up`"));
        assert_eq!(c.problems.len(), 1 + PROBLEMS_LISTED_PER_RULE + 1);
        assert!(c.problems[1].message.starts_with("metrics[2] (v): `v_x`"));
        assert_eq!(
            c.problems[6].message,
            "metrics[2] (v): 14 more series had duplicate_series problems like the above"
        );
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
    }

    #[test]
    fn version_numbers_as_values() {
        let c = apply(
            "- {name: v, path: '{.ServerVersion}', version_number: [2, 3]}\n- {name: bad, path: '{.x}', version_number: [2]}\n",
            json!({"ServerVersion": "Apache/2.4.71 (Debian)", "x": "unknown"}),
        );
        assert_eq!(series(&c), ["v{} 2.04071"]);
        assert!(c.problems[0].message.contains("no dotted version"));
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
    }

    #[test]
    fn missing_label_fills_labels_whose_path_finds_nothing() {
        let c = apply(
            r#"
- name: info
  path: '1'
  labels: {version: '{ .ServerVersion }', mpm: '{ .ServerMPM }', site: main}
  missing_label: UNKNOWN
- name: info_present
  path: '1'
  labels: {version: '{ .Present }', tagged: 'v-{ .Nope }'}
  missing_label: UNKNOWN
- name: item
  type: object
  path: '{ .items[*] }'
  labels: {id: '{ .id }', zone: '{ .zone }'}
  values: {size: '{ .size }'}
  missing_label: none
- name: without
  path: '1'
  labels: {version: '{ .ServerVersion }'}
"#,
            json!({"Present": "2.2.34", "items": [{"id": "a", "size": 1}, {"id": "b", "zone": "", "size": 2}]}),
        );
        assert_eq!(
            series(&c),
            [
                r#"info{mpm="UNKNOWN",site="main",version="UNKNOWN"} 1"#,
                r#"info_present{tagged="UNKNOWN",version="2.2.34"} 1"#,
                r#"item_size{id="a",zone="none"} 1"#,
                // Found but empty is a value, not a missing one.
                r#"item_size{id="b",zone=""} 2"#,
                r#"without{version=""} 1"#,
            ]
        );
        // Only the rule without `missing_label` reports its empty label.
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert_eq!(c.problems[0].reason, Reason::Mapping);
        assert!(
            c.problems[0]
                .message
                .starts_with("metrics[3] (without): label `version`"),
            "{}",
            c.problems[0].message
        );
    }

    #[test]
    fn unit_suffixes() {
        let c = apply(
            "- {name: a, path: '{.a}', units: {K: 1, k: 1, M: 1024, MB: 1000}}\n- {name: b, path: '{.b}', units: {K: 1, M: 1024, MB: 1000}}\n- {name: c, path: '{.c}', units: {K: 1, M: 1024, MB: 1000}}\n- {name: d, path: '{.d}', units: {K: 1}}\n- {name: e, path: '{.e}', units: {K: 1}}\n",
            json!({"a": "4K", "b": "1.5 M", "c": "2MB", "d": "7", "e": "xK"}),
        );
        assert_eq!(series(&c), ["a{} 4", "b{} 1536", "c{} 2000", "d{} 7"]);
        assert!(c.problems[0].message.contains("\"xK\" is not a number"));
    }
}
