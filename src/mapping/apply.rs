//! Applying compiled rules to one document: paths, labels and values are evaluated, what was
//! found becomes numbers, and the series go into families, with problems reported per series.
//! When the collection is explained, what each rule produced, or why it produced nothing, is
//! traced as well.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::compile::{CompiledRule, CompiledValue, DynamicName, LabelValue};
use super::jsonpath::{render, Evaluated, Expr, Hit, Key};
use super::number::{count_chars, parse_number_text, rfc3339_ms, unquote_extend, version_number};
use super::rule::TimeFormat;
use crate::collector::{CollectError, Collection, Reason};
use crate::explain::{Found, Miss, RuleTrace, MISSES_LISTED};
use crate::model::{labels_text, Labels, MetricFamily, Sample};

/// At most this many problems of one kind are listed per rule and collection; the rest are
/// summed up in one more problem, so a 100 000-element array with a bad path cannot flood the
/// log and the status page.
const PROBLEMS_LISTED_PER_RULE: usize = 5;

/// Applies the rules to one document; with `trace`, also says what each rule produced.
pub(super) fn apply_rules(
    rules: &[CompiledRule],
    data: &Value,
    trace: bool,
) -> (Collection, Vec<RuleTrace>) {
    let mut out = Output::default();
    if trace {
        let mut traces = Traces::default();
        for rule in rules {
            traces.register(rule);
        }
        out.traces = Some(traces);
    }
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
    /// Present when the collection is explained.
    traces: Option<Traces<'r>>,
}

/// What each rule produced, in config order (a rule's nested rules after it).
#[derive(Default)]
struct Traces<'r> {
    rules: Vec<RuleTrace>,
    /// Rule location → its index in `rules`.
    index: HashMap<&'r str, usize>,
}

impl<'r> Traces<'r> {
    fn register(&mut self, rule: &'r CompiledRule) {
        self.index.insert(&rule.location, self.rules.len());
        self.rules.push(RuleTrace {
            rule: rule.location.clone(),
            path: rule.path.clone(),
            ..RuleTrace::default()
        });
        for child in &rule.children {
            self.register(child);
        }
    }

    fn get(&mut self, rule: &CompiledRule) -> Option<&mut RuleTrace> {
        let index = *self.index.get(rule.location.as_str())?;
        self.rules.get_mut(index)
    }
}

/// What went wrong for one series: the sentence for the log, the one for pages that must not
/// show the app's data, and the app's values involved.
struct Message {
    full: String,
    page: String,
    found: Vec<Found>,
}

impl Message {
    /// A sentence with nothing from the app's answer but keys.
    fn plain(text: String) -> Message {
        Message {
            page: text.clone(),
            full: text,
            found: Vec::new(),
        }
    }

    fn prefixed(self, prefix: &str) -> Message {
        Message {
            full: format!("{prefix}{}", self.full),
            page: format!("{prefix}{}", self.page),
            found: self.found,
        }
    }
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

    fn add(&mut self, rule: &'r CompiledRule, reason: Reason, message: &Message) {
        if self.count(rule, reason) {
            let mut error =
                CollectError::new(reason, format!("{}: {}", rule.location, message.full));
            if message.page != message.full {
                error = error.with_page_message(format!("{}: {}", rule.location, message.page));
            }
            self.listed.push(error);
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
    /// Reports a problem of `rule` and traces it as a miss.
    fn problem(&mut self, rule: &'r CompiledRule, reason: Reason, message: Message) {
        self.problems.add(rule, reason, &message);
        self.miss(rule, reason, message);
    }

    fn miss(&mut self, rule: &CompiledRule, reason: Reason, message: Message) {
        let Some(trace) = self.traces.as_mut().and_then(|t| t.get(rule)) else {
            return;
        };
        if trace.misses.len() < MISSES_LISTED {
            trace.misses.push(Miss {
                reason: reason.to_string(),
                what: message.page,
                found: message.found,
            });
        } else {
            trace.unlisted_misses += 1;
        }
    }

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
        if let Some(trace) = self.traces.as_mut().and_then(|t| t.get(rule)) {
            trace.series += 1;
        }
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
                self.problem(rule, Reason::Mapping, Message::plain(message));
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
        if let Some(trace) = self.traces.as_mut().and_then(|t| t.get(rule)) {
            trace.series += 1;
        }
    }

    fn finish(mut self) -> (Collection, Vec<RuleTrace>) {
        let mut families = std::mem::take(&mut self.families);
        let made_by = std::mem::take(&mut self.made_by);
        for (family, made_by) in families.iter_mut().zip(&made_by) {
            for (index, sample) in family.drop_repeated_series() {
                let rule = made_by[index];
                let message = Message {
                    full: format!(
                        "`{}` already has a series with labels {{{}}}; the later one was dropped",
                        family.name,
                        labels_text(&sample.labels)
                    ),
                    page: format!(
                        "`{}` already has a series with the same labels ({}); the later one was dropped",
                        family.name,
                        label_names(&sample.labels)
                    ),
                    found: sample
                        .labels
                        .iter()
                        .map(|(name, value)| Found {
                            key: name.clone(),
                            value: value.clone(),
                        })
                        .collect(),
                };
                if let Some(trace) = self.traces.as_mut().and_then(|t| t.get(rule)) {
                    trace.series = trace.series.saturating_sub(1);
                }
                self.problem(rule, Reason::DuplicateSeries, message);
            }
        }
        let traces = self.traces.map(|t| t.rules).unwrap_or_default();
        (
            Collection {
                families,
                problems: self.problems.finish(),
            },
            traces,
        )
    }
}

/// `id, zone` or `no labels`.
fn label_names(labels: &Labels) -> String {
    if labels.is_empty() {
        return "no labels".to_string();
    }
    let names: Vec<String> = labels.iter().map(|(name, _)| format!("`{name}`")).collect();
    format!("labels {}", names.join(", "))
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
                match absent {
                    Some(absent) if !rule.allow_missing_key => {
                        out.problem(
                            rule,
                            Reason::Mapping,
                            Message::plain(format!("path {absent}")),
                        );
                    }
                    Some(absent) => {
                        let text = format!("path {absent} (allowed: allow_missing_key)");
                        out.miss(rule, Reason::Mapping, Message::plain(text));
                    }
                    None => {
                        let text = format!(
                            "the path `{}` selected no objects (a filter or wildcard that \
                             matches nothing is not a problem)",
                            rule.path
                        );
                        out.miss(rule, Reason::Mapping, Message::plain(text));
                    }
                }
            }
            objects
        }
    };
    let objects = match &rule.key_prefix {
        None => objects,
        Some(prefix) => objects
            .into_iter()
            .filter_map(|object| match object.key {
                Some(Key::Name(name)) => name.strip_prefix(prefix.as_str()).map(|rest| Hit {
                    key: Some(Key::Name(rest)),
                    value: object.value,
                }),
                _ => None,
            })
            .collect(),
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
                    Ok(None) => {
                        let text = format!(
                            "`{}`{}: skipped (allow_missing_key)",
                            value.family,
                            describe(object)
                        );
                        out.miss(rule, Reason::Mapping, Message::plain(text));
                    }
                    Err(ValueError::Missing(what)) if rule.missing_message.is_some() => {
                        let message = rule.missing_message.clone().unwrap_or_default();
                        out.problems.add_in_words(rule, message.clone());
                        let text =
                            format!("`{}`{}: {what} ({message})", value.family, describe(object));
                        out.miss(rule, Reason::Mapping, Message::plain(text));
                    }
                    Err(ValueError::Missing(what)) => {
                        let message = Message::plain(what).prefixed(&format!(
                            "`{}`{}: ",
                            value.family,
                            describe(object)
                        ));
                        out.problem(rule, Reason::Mapping, message);
                    }
                    Err(ValueError::Bad(bad)) => {
                        let message = bad.into_message(&value.source).prefixed(&format!(
                            "`{}`{}: ",
                            value.family,
                            describe(object)
                        ));
                        out.problem(rule, Reason::Mapping, message);
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
                out.problem(rule, Reason::Mapping, Message::plain(message));
            }
            return None;
        }
    };
    if !crate::model::is_valid_metric_name(&name) {
        let message = Message {
            full: format!(
                "name `{}`{}: `{name}` is not a valid metric name",
                value.family,
                describe(object)
            ),
            page: format!(
                "name `{}`{}: the name read is not a valid metric name",
                value.family,
                describe(object)
            ),
            found: vec![Found {
                key: "name".to_string(),
                value: name,
            }],
        };
        out.problem(rule, Reason::Mapping, message);
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
                        let message = Message::plain(format!(
                            "label `{}`{}: {what}; left empty",
                            label.name,
                            describe(object)
                        ));
                        if rule.allow_missing_key {
                            out.miss(rule, Reason::Mapping, message);
                        } else {
                            out.problem(rule, Reason::Mapping, message);
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
            Err(BadValue::plain(what))
        }
        Evaluated::Json(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            BadValue::found(
                n.to_string(),
                format!("{n} is not an integer number of milliseconds"),
                "a number that is not an integer number of milliseconds",
            )
        }),
        Evaluated::Json(Value::String(s)) => parse_epoch_ms(s),
        Evaluated::Text(s) => parse_epoch_ms(&s),
        Evaluated::Json(other) => Err(BadValue::plain(format!(
            "found {} {}, not a number of milliseconds",
            article(other),
            crate::explain::type_name(other)
        ))),
    };
    match parsed {
        Ok(ms) => Some(ms),
        Err(bad) => {
            let message = bad
                .into_message("epochTimestamp")
                .prefixed(&format!("epochTimestamp{}: ", describe(object)));
            out.problem(rule, Reason::Mapping, message);
            None
        }
    }
}

fn article(value: &Value) -> &'static str {
    match value {
        Value::Array(_) | Value::Object(_) => "an",
        _ => "a",
    }
}

fn parse_epoch_ms(text: &str) -> Result<i64, BadValue> {
    let text = text.strip_suffix("u64").unwrap_or(text);
    text.parse().map_err(|_| {
        BadValue::found(
            text.to_string(),
            format!("`{text}` is not an integer number of milliseconds"),
            "a text that is not an integer number of milliseconds",
        )
    })
}

/// Why a value gave no number.
enum ValueError {
    /// The path found nothing.
    Missing(String),
    /// What it found is not a number.
    Bad(BadValue),
}

/// A found value that is not usable: the sentence with the value, the one without, and the
/// value.
struct BadValue {
    full: String,
    page: String,
    found: Option<String>,
}

impl BadValue {
    /// A sentence that holds nothing from the answer.
    fn plain(text: String) -> BadValue {
        BadValue {
            page: text.clone(),
            full: text,
            found: None,
        }
    }

    /// `full` names the value `found`; `page` says the same without it.
    fn found(found: String, full: String, page: &str) -> BadValue {
        BadValue {
            full,
            page: page.to_string(),
            found: Some(found),
        }
    }

    /// The same, both sentences behind `prefix`.
    fn prefixed(self, prefix: &str) -> BadValue {
        BadValue {
            full: format!("{prefix}{}", self.full),
            page: format!("{prefix}{}", self.page),
            found: self.found,
        }
    }

    /// The message, the value filed under the path it was read at (`key`).
    fn into_message(self, key: &str) -> Message {
        Message {
            full: self.full,
            page: self.page,
            found: self
                .found
                .map(|value| Found {
                    key: key.to_string(),
                    value,
                })
                .into_iter()
                .collect(),
        }
    }
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
    if rule.count {
        let (hits, absent) = value.expr.select(object);
        return match absent {
            Some(what) if hits.is_empty() => missing(what),
            _ => Ok(Some(scaled(rule, hits.len() as f64))),
        };
    }
    let number = if rule.sum {
        let (hits, absent) = value.expr.select(object);
        if hits.is_empty() {
            return missing(absent.unwrap_or_else(|| "the path matched nothing".to_string()));
        }
        let mut total = 0.0;
        for hit in hits {
            match one_number(rule, value, Evaluated::Json(hit.value)) {
                Ok(Some(number)) => total += number,
                Ok(None) => {}
                Err(bad) => return Err(ValueError::Bad(bad)),
            }
        }
        total
    } else {
        match value.expr.evaluate(object) {
            Evaluated::Missing(what) => return missing(what),
            evaluated => match one_number(rule, value, evaluated).map_err(ValueError::Bad)? {
                Some(number) => number,
                None => return Ok(None),
            },
        }
    };
    let number = match &rule.subtract {
        None => number,
        Some(subtract) => {
            let (hits, absent) = subtract.select(object);
            if hits.is_empty() {
                return missing(format!(
                    "subtract: {}",
                    absent.unwrap_or_else(|| "the path matched nothing".to_string())
                ));
            }
            let mut taken = 0.0;
            for hit in hits {
                match one_number(rule, value, Evaluated::Json(hit.value)) {
                    Ok(Some(number)) => taken += number,
                    Ok(None) => {}
                    Err(bad) => return Err(ValueError::Bad(bad.prefixed("subtract: "))),
                }
            }
            number - taken
        }
    };
    Ok(Some(scaled(rule, number)))
}

fn scaled(rule: &CompiledRule, number: f64) -> f64 {
    let number = match rule.scale {
        // `scale: 0.000001` means "divide by a million", as the exporters whose series these
        // replace do: multiplying by the inexact 0.000001 can differ from that in the last bit
        // (170 µs would be 0.00016999999999999999 s, not 0.00017).
        Some(scale) if scale.abs() < 1.0 && (1.0 / (1.0 / scale).round()) == scale => {
            number / (1.0 / scale).round()
        }
        Some(scale) => number * scale,
        None => number,
    };
    if rule.seconds_ago {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64().floor());
        now - number
    } else {
        number
    }
}

/// One found value as a number (before `scale`).
fn one_number(
    rule: &CompiledRule,
    value: &CompiledValue,
    evaluated: Evaluated<'_>,
) -> Result<Option<f64>, BadValue> {
    let no_version = |text: String| {
        BadValue::found(
            text.clone(),
            format!("no dotted version number in {text:?}"),
            "no dotted version number in the text found",
        )
    };
    let number = match evaluated {
        Evaluated::Missing(what) => return Err(BadValue::plain(what)),
        Evaluated::Json(json) if rule.time_format.is_some() => time_number(rule, &render(json))?,
        Evaluated::Text(text) if rule.time_format.is_some() => time_number(rule, &text)?,
        Evaluated::Json(json) => {
            if let Some(chars) = &rule.count_chars {
                count_chars(&render(json), chars)
            } else if let Some(widths) = &rule.version_number {
                let text = render(json);
                version_number(&text, widths).ok_or_else(|| no_version(text.into_owned()))?
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
                    Value::Array(_) => {
                        return Err(BadValue::plain("found an array, not a number".to_string()))
                    }
                    Value::Object(_) => {
                        return Err(BadValue::plain("found an object, not a number".to_string()))
                    }
                }
            }
        }
        Evaluated::Text(text) => {
            if let Some(chars) = &rule.count_chars {
                count_chars(&text, chars)
            } else if let Some(widths) = &rule.version_number {
                version_number(&text, widths).ok_or_else(|| no_version(text.clone()))?
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

/// A time written as text, as a number since the epoch (`time_format`).
fn time_number(rule: &CompiledRule, text: &str) -> Result<f64, BadValue> {
    let millis = rfc3339_ms(text).ok_or_else(|| {
        BadValue::found(
            text.to_string(),
            format!("{text:?} is not an RFC 3339 date-time"),
            "the text found is not an RFC 3339 date-time",
        )
    })?;
    Ok(match rule.time_format {
        // Whole seconds, truncated as Go's `Unix()` does.
        Some(TimeFormat::Rfc3339) => (millis / 1000.0).floor(),
        _ => millis,
    })
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
fn text_number(rule: &CompiledRule, text: &str) -> Result<Option<f64>, BadValue> {
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
        .ok_or_else(|| {
            let page = if rule.units.is_empty() {
                "a text that is not a number".to_string()
            } else {
                "a text that is not a number, with or without one of the `units` suffixes"
                    .to_string()
            };
            BadValue::found(text.to_string(), format!("{text:?} is not a number"), &page)
        })
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
    fn count_gives_the_number_of_selected_values() {
        let c = apply(
            r#"
- name: workers
  path: '{ .workers[?(@.id > 0)] }'
  count: true
- name: apps
  type: object
  path: '{ .workers[*] }'
  labels: {worker: '{ .id }'}
  values: {total: '{ .apps[*] }'}
  count: true
- name: nothing
  path: '{ .gone[*] }'
  count: true
- name: nothing_allowed
  path: '{ .gone[*] }'
  count: true
  allow_missing_key: true
"#,
            json!({"workers": [{"id": 0, "apps": []}, {"id": 1, "apps": [{}, {}]}, {"id": 2, "apps": [{}]}]}),
        );
        assert_eq!(
            series(&c),
            [
                "workers{} 2",
                r#"apps_total{worker="0"} 0"#,
                r#"apps_total{worker="1"} 2"#,
                r#"apps_total{worker="2"} 1"#
            ]
        );
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(c.problems[0].message.contains("metrics[2] (nothing)"));
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
    fn key_prefix_selects_and_strips_keys() {
        let c = apply(
            r#"
- name: commands
  type: object
  path: '{ .* }'
  key_prefix: cmdstat_
  labels: {cmd: '{$key}'}
  values: {total: '{ .calls }'}
"#,
            json!({
                "cmdstat_get": {"calls": "2"},
                "cmdstat_config|get": {"calls": "1"},
                "errorstat_ERR": {"count": "1"},
                "uptime_in_seconds": "5"
            }),
        );
        assert_eq!(
            series(&c),
            [
                r#"commands_total{cmd="config|get"} 1"#,
                r#"commands_total{cmd="get"} 2"#
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
    }

    #[test]
    fn rfc3339_times_as_seconds_or_milliseconds() {
        let c = apply(
            r#"
- {name: boot, path: '{ .boot }', time_format: rfc3339}
- {name: config, path: '{ .config }', time_format: rfc3339_ms}
- {name: bad, path: '{ .bad }', time_format: rfc3339}
"#,
            json!({"boot": "2026-11-30T17:38:35.451Z", "config": "1970-01-01T02:00:10.5+02:00", "bad": "yesterday"}),
        );
        assert_eq!(series(&c), ["boot{} 1796060315", "config{} 10500"]);
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(
            c.problems[0].message.contains("not an RFC 3339 date-time"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn subtract_takes_the_found_values_away() {
        let c = apply(
            r#"
- name: commands
  type: object
  path: '{ .* }'
  labels: {slab: '{$key}'}
  values: {set_total: '{ .cmd_set }'}
  subtract: "{ ['cas_hits','cas_badval'] }"
  allow_missing_key: true
"#,
            json!({
                "1": {"cmd_set": "7", "cas_hits": "1", "cas_badval": "1"},
                "2": {"cmd_set": "2", "cas_hits": "0"},
                "3": {"cmd_set": "5"},
                "4": {"cas_hits": "1"}
            }),
        );
        // A missing minuend or nothing to subtract: no series (and no problem, as allowed).
        assert_eq!(
            series(&c),
            [
                r#"commands_set_total{slab="1"} 5"#,
                r#"commands_set_total{slab="2"} 2"#
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);

        let c = apply(
            "- {name: v, path: '{ .a }', subtract: '{ .b }', scale: 0.5}\n",
            json!({"a": "10", "b": "x"}),
        );
        assert!(c.families.is_empty());
        assert!(
            c.problems[0].message.contains("subtract"),
            "{:?}",
            c.problems
        );
        let c = apply(
            "- {name: v, path: '{ .a }', subtract: '{ .b }', scale: 0.5}\n",
            json!({"a": "10", "b": 4}),
        );
        assert_eq!(series(&c), ["v{} 3"]);
    }

    #[test]
    fn seconds_ago_turns_an_uptime_into_a_start_time() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            .floor();
        let c = apply(
            "- {name: start_time_seconds, path: '{ .uptime }', seconds_ago: true}\n",
            json!({"uptime": "100"}),
        );
        let value = c.families[0].samples[0].value;
        assert!(
            value >= before - 100.0 && value <= before - 99.0,
            "{value} vs {before}"
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
