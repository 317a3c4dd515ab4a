//! Compiling rules: every name, path, template and value table of the rule model is checked
//! once, when the config is loaded, so that applying the rules on each collection cannot meet a
//! bad rule. Errors name the rule (`metrics[2] (name)`) and the field.

use std::collections::HashMap;

use super::jsonpath::Expr;
use super::number::{parse_number_text, unquote_extend};
use super::rule::{MetricRule, RuleType, TimeFormat};
use crate::model::{is_valid_label_name, is_valid_metric_name, MetricType};

#[derive(Debug, Clone)]
pub(super) struct CompiledRule {
    /// `metrics[2] (example_value)`, for problems.
    pub(super) location: String,
    /// The rule's `path` as written, for explanations.
    pub(super) path: String,
    /// `type: object`: the objects to read; `type: value`: `None` (the node itself).
    pub(super) selector: Option<Expr>,
    pub(super) values: Vec<CompiledValue>,
    /// This rule's labels, by name.
    pub(super) labels: Vec<CompiledLabel>,
    pub(super) timestamp: Option<Expr>,
    pub(super) allow_missing_key: bool,
    pub(super) value_map: HashMap<String, f64>,
    pub(super) value_map_default: Option<f64>,
    pub(super) count_chars: Option<Vec<char>>,
    pub(super) scale: Option<f64>,
    pub(super) sum: bool,
    pub(super) count: bool,
    /// Values taken from every value of the rule.
    pub(super) subtract: Option<Expr>,
    pub(super) version_number: Option<Vec<usize>>,
    pub(super) missing_value: Option<f64>,
    pub(super) missing_message: Option<String>,
    /// The value of a label whose template finds nothing.
    pub(super) missing_label: Option<String>,
    /// Only objects under keys with this prefix, which `{$key}` leaves out.
    pub(super) key_prefix: Option<String>,
    /// The value is seconds before now; the series holds that moment.
    pub(super) seconds_ago: bool,
    /// The value is a time written as text.
    pub(super) time_format: Option<TimeFormat>,
    /// `units`, longest suffix first.
    pub(super) units: Vec<(String, f64)>,
    pub(super) children: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
pub(super) struct CompiledLabel {
    pub(super) name: String,
    pub(super) value: LabelValue,
    /// The label's index among the enclosing rules' labels and this rule's, sorted by name:
    /// the names are known here, so a series' labels are put in order without sorting them on
    /// every object.
    pub(super) position: usize,
}

#[derive(Debug, Clone)]
pub(super) enum LabelValue {
    /// A template without queries or `{$key}`: the same text on every object (unquoted as an
    /// evaluated template would be).
    Constant(String),
    Expr(Expr),
}

#[derive(Debug, Clone)]
pub(super) struct CompiledValue {
    pub(super) family: String,
    pub(super) help: String,
    pub(super) metric_type: MetricType,
    pub(super) expr: Expr,
    /// The value's path as written, for explanations.
    pub(super) source: String,
    /// `valueconverter` for this value, keys lower-cased.
    pub(super) converter: HashMap<String, f64>,
    /// A name read from each object (`name: 'pg_settings_{ .metric }'`); `family` then holds
    /// the template as written, for messages.
    pub(super) dynamic: Option<DynamicName>,
    /// `skip_non_numeric`.
    pub(super) skip_non_numeric: bool,
}

/// A family name (and HELP) evaluated on each object.
#[derive(Debug, Clone)]
pub(super) struct DynamicName {
    pub(super) name: Expr,
    /// `_<value name>` for an entry of `values`, empty for `value`.
    pub(super) suffix: String,
    pub(super) help: Option<Expr>,
    /// `normalize_name`.
    pub(super) normalize: bool,
}

/// Compiles a whole `metrics:` list. A family made by several rules must have one type in all
/// of them.
pub(super) fn compile_rules(rules: &[MetricRule]) -> Result<Vec<CompiledRule>, String> {
    let mut types: HashMap<String, MetricType> = HashMap::new();
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| compile_rule(rule, format!("metrics[{i}]"), &[], &mut types))
        .collect()
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
    let dynamic_name = compile_expr("name", &rule.name)?;
    let dynamic_name = dynamic_name
        .constant_text()
        .is_none()
        .then_some(dynamic_name);
    let dynamic_help = match (&dynamic_name, &rule.help) {
        (Some(_), Some(help)) => {
            let expr = compile_expr("help", help)?;
            expr.constant_text().is_none().then_some(expr)
        }
        _ => None,
    };
    if dynamic_name.is_some() && rule.rule_type != RuleType::Object {
        return Err(fail(
            "name",
            "a name read from the data needs `type: object` (it is evaluated on each object)"
                .to_string(),
        ));
    }
    let dynamic = |suffix: String| {
        dynamic_name.clone().map(|name| DynamicName {
            name,
            suffix,
            help: dynamic_help.clone(),
            normalize: rule.normalize_name,
        })
    };
    if rule.normalize_name && dynamic_name.is_none() {
        return Err(fail(
            "normalize_name",
            "it applies to a name read from the data, and this name has no path".to_string(),
        ));
    }
    let mut register = |family: &str, field: &str| -> Result<(), String> {
        if dynamic_name.is_some() {
            // Checked on each object once the name is known.
            return Ok(());
        }
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
    // `rule.labels` is sorted by name, and no name repeats one of `inherited_labels`.
    for (own_before, (label, template)) in rule.labels.iter().enumerate() {
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
        let expr = compile_expr(&format!("labels.{label}"), template)?;
        let value = match expr.constant_text() {
            Some(text) => LabelValue::Constant(unquote_extend(&text).unwrap_or(text)),
            None => LabelValue::Expr(expr),
        };
        let inherited_before = inherited_labels.iter().filter(|name| *name < label).count();
        labels.push(CompiledLabel {
            name: label.clone(),
            value,
            position: inherited_before + own_before,
        });
    }

    // Without a label read by a path the key would never be used: most likely it was meant
    // for the enclosing rule or a nested one, which it does not reach.
    if rule.missing_label.is_some()
        && !labels
            .iter()
            .any(|label| matches!(label.value, LabelValue::Expr(_)))
    {
        return Err(fail(
            "missing_label",
            "it applies to this rule's labels read with a path, and the rule has none".to_string(),
        ));
    }

    if rule.key_prefix.is_some() && rule.rule_type != RuleType::Object {
        return Err(fail(
            "key_prefix",
            "it selects among the objects of a `type: object` rule; this rule is `type: value`"
                .to_string(),
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
            if rule.value.is_some() {
                return Err(fail(
                    "value",
                    "`value` only applies to `type: object` (use `path`)".to_string(),
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
                source: rule.path.clone(),
                converter: converter_for(&[rule.path.as_str(), rule.name.as_str()])?,
                dynamic: None,
                skip_non_numeric: rule.skip_non_numeric,
            });
            None
        }
        RuleType::Object => {
            if rule.path.is_empty() {
                return Err(fail("path", "a path is required".to_string()));
            }
            if rule.values.is_empty() && rule.value.is_none() && rule.metrics.is_empty() {
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
                    source: template.clone(),
                    converter: converter_for(&[template.as_str(), value_name.as_str()])?,
                    dynamic: dynamic(format!("_{value_name}")),
                    skip_non_numeric: rule.skip_non_numeric,
                });
            }
            if let Some(template) = &rule.value {
                register(&rule.name, "name")?;
                values.push(CompiledValue {
                    family: rule.name.clone(),
                    help: help.clone(),
                    metric_type,
                    expr: compile_expr("value", template)?,
                    source: template.clone(),
                    converter: converter_for(&[template.as_str(), "value"])?,
                    dynamic: dynamic(String::new()),
                    skip_non_numeric: rule.skip_non_numeric,
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
    if rule.count {
        let readers = [
            (rule.sum, "sum"),
            (rule.count_chars.is_some(), "count_chars"),
            (rule.version_number.is_some(), "version_number"),
        ];
        if let Some((_, other)) = readers.iter().find(|(set, _)| *set) {
            return Err(fail(
                "count",
                format!("`count` and `{other}` both say what the value is; use one"),
            ));
        }
        for value in &values {
            value.expr.check_selector().map_err(|_| {
                fail(
                    "count",
                    format!(
                        "`{}`: with `count: true` the path must be a single query such as \
                         `{{ .items[*] }}`",
                        value.family
                    ),
                )
            })?;
        }
    }
    let subtract = match &rule.subtract {
        None => None,
        Some(source) => {
            let expr = compile_expr("subtract", source)?;
            expr.check_selector().map_err(|_| {
                fail(
                    "subtract",
                    "it must be a single query such as `{ ['a','b'] }` or `$.items[*].size`"
                        .to_string(),
                )
            })?;
            if values.is_empty() {
                return Err(fail(
                    "subtract",
                    "it is taken from this rule's values, and the rule has none".to_string(),
                ));
            }
            Some(expr)
        }
    };
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
        path: rule.path.clone(),
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
        count: rule.count,
        subtract,
        version_number: rule.version_number.clone(),
        missing_value: rule.missing_value,
        missing_message: rule.missing_message.clone(),
        missing_label: rule.missing_label.clone(),
        key_prefix: rule.key_prefix.clone(),
        seconds_ago: rule.seconds_ago,
        time_format: rule.time_format,
        units,
        children,
    })
}

#[cfg(test)]
mod tests {
    use crate::mapping::test_support::compile_err;

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
    fn extension_fields_are_checked() {
        let e = compile_err("- name: b\n  path: '{.a}'\n  value_map_default: .nan\n");
        assert!(e.contains("value_map_default"), "{e}");
        let e = compile_err("- name: c\n  path: 'a {.x}'\n  count: true\n");
        assert!(e.contains("metrics[0] (c): count"), "{e}");
        let e = compile_err("- {name: c, path: '{.x[*]}', count: true, sum: true}\n");
        assert!(e.contains("`count` and `sum`"), "{e}");
        let e = compile_err("- name: s\n  path: 'a {.x} {.y}'\n  sum: true\n");
        assert!(e.contains("metrics[0] (s): sum"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', version_number: []}\n");
        assert!(e.contains("version_number"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', version_number: [2], count_chars: x}\n");
        assert!(e.contains("version_number"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', missing_value: .nan}\n");
        assert!(e.contains("missing_value"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', units: {'': 2}}\n");
        assert!(e.contains("units"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', subtract: 'a {.b}'}\n");
        assert!(e.contains("metrics[0] (v): subtract"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', subtract: '{.b'}\n");
        assert!(e.contains("subtract"), "{e}");
        let e = compile_err(
            "- {name: v, type: object, path: '{.a}', subtract: '{.b}', metrics: [{name: w, path: '{.c}'}]}\n",
        );
        assert!(e.contains("subtract"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', key_prefix: x_}\n");
        assert!(e.contains("key_prefix"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', missing_label: x}\n");
        assert!(e.contains("metrics[0] (v): missing_label"), "{e}");
        let e = compile_err("- {name: v, path: '{.a}', labels: {k: constant}, missing_label: x}\n");
        assert!(e.contains("missing_label"), "{e}");
    }
}
