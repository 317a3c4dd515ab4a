//! `metric_relabel_configs`: Prometheus' relabelling of series, applied by the `prometheus` kind
//! to the app's own families before they are served.

use std::collections::HashMap;

use regex::Regex;
use serde::Deserialize;

use crate::collector::{CollectError, Reason};
use crate::model::{is_valid_label_name, is_valid_metric_name, Labels, MetricFamily, MetricType};

/// One `metric_relabel_configs` entry: the subset of Prometheus' relabel configuration that
/// applies to series (`replace`, `keep`, `drop`, `labelmap`, `labeldrop`, `labelkeep`), with
/// Prometheus' defaults and meaning. A sample's name is the label `__name__` (a histogram's
/// buckets are `NAME_bucket`, as Prometheus sees them); labels starting with `__` other than
/// `__name__` can hold temporary values and are removed after the last rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values, joined with `separator`, are matched against `regex`
    /// (`replace`, `keep`, `drop`). A missing label counts as the empty string.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Joins the `source_labels` values (default `;`).
    #[serde(default = "default_separator")]
    pub separator: String,
    /// A regular expression, anchored at both ends as in Prometheus (default `(.*)`). For
    /// `labelmap`, `labeldrop` and `labelkeep` it is matched against label names.
    #[serde(default = "default_regex")]
    pub regex: String,
    /// `replace`: the label to write (`$1`-style references allowed). Writing `__name__`
    /// renames the series.
    pub target_label: Option<String>,
    /// `replace` and `labelmap`: the value (or label name) written, with `$1`, `${1}` or
    /// `${name}` references to the regex's groups (default `$1`). An empty result removes
    /// `target_label`.
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// `replace` (default), `keep` (drop series that do not match), `drop` (drop series that
    /// match), `labelmap` (copy labels whose name matches to the name `replacement` gives),
    /// `labeldrop` / `labelkeep` (remove the labels whose name matches / does not match;
    /// `__name__` is never removed).
    #[serde(default)]
    pub action: RelabelAction,
}

fn default_separator() -> String {
    ";".to_string()
}

fn default_regex() -> String {
    "(.*)".to_string()
}

fn default_replacement() -> String {
    "$1".to_string()
}

/// What a relabel rule does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    /// Writes `replacement` into `target_label` when the source values match.
    #[default]
    Replace,
    /// Keeps only series whose source values match.
    Keep,
    /// Drops series whose source values match.
    Drop,
    /// Copies each label whose name matches to the name `replacement` gives.
    Labelmap,
    /// Removes labels whose name matches.
    Labeldrop,
    /// Removes labels whose name does not match.
    Labelkeep,
}

struct Rule {
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    target_label: String,
    replacement: String,
    action: RelabelAction,
}

/// Compiled `metric_relabel_configs`.
#[derive(Default)]
pub struct Relabeler {
    rules: Vec<Rule>,
}

const NAME_LABEL: &str = "__name__";

impl Relabeler {
    /// Compiles the rules; the error names the rule (by index) and what is wrong with it.
    pub fn compile(configs: &[RelabelConfig]) -> Result<Relabeler, String> {
        let mut rules = Vec::with_capacity(configs.len());
        for (index, config) in configs.iter().enumerate() {
            let at = format!("metric_relabel_configs[{index}]");
            let regex = Regex::new(&format!("^(?:{})$", config.regex))
                .map_err(|e| format!("{at}: regex {:?} is not valid: {e}", config.regex))?;
            let target_label = config.target_label.clone().unwrap_or_default();
            match config.action {
                RelabelAction::Replace => {
                    if target_label.is_empty() {
                        return Err(format!("{at}: action `replace` needs `target_label`"));
                    }
                    let literal = !target_label.contains('$');
                    if literal
                        && target_label != NAME_LABEL
                        && !target_label.starts_with("__")
                        && !is_valid_label_name(&target_label)
                    {
                        return Err(format!(
                            "{at}: target_label {target_label:?} is not a valid label name"
                        ));
                    }
                }
                RelabelAction::Keep | RelabelAction::Drop => {
                    if config.source_labels.is_empty() {
                        return Err(format!(
                            "{at}: action `{}` needs `source_labels` (use [__name__] to match \
                             metric names)",
                            if config.action == RelabelAction::Keep {
                                "keep"
                            } else {
                                "drop"
                            }
                        ));
                    }
                }
                RelabelAction::Labelmap | RelabelAction::Labeldrop | RelabelAction::Labelkeep => {
                    if !config.source_labels.is_empty() || !target_label.is_empty() {
                        return Err(format!(
                            "{at}: labelmap, labeldrop and labelkeep match label names with \
                             `regex` and take neither `source_labels` nor `target_label`"
                        ));
                    }
                }
            }
            rules.push(Rule {
                source_labels: config.source_labels.clone(),
                separator: config.separator.clone(),
                regex,
                target_label,
                replacement: config.replacement.clone(),
                action: config.action,
            });
        }
        Ok(Relabeler { rules })
    }

    /// True when there are no rules (the families pass unchanged).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules to every sample. Renamed samples move to a family of their new name
    /// (same type and help); series whose result is not a valid name or label set are dropped
    /// and reported once per collection as a `mapping` problem.
    pub fn apply(
        &self,
        families: Vec<MetricFamily>,
        problems: &mut Vec<CollectError>,
    ) -> Vec<MetricFamily> {
        if self.rules.is_empty() {
            return families;
        }
        let mut out: Vec<MetricFamily> = Vec::with_capacity(families.len());
        let mut renamed: Vec<MetricFamily> = Vec::new();
        let mut renamed_index: HashMap<String, usize> = HashMap::new();
        let mut invalid = 0usize;
        let mut first_invalid = String::new();
        for family in families {
            let MetricFamily {
                name,
                help,
                metric_type,
                unit,
                samples,
            } = family;
            let mut kept = MetricFamily {
                name,
                help,
                metric_type,
                unit,
                samples: Vec::with_capacity(samples.len()),
            };
            for mut sample in samples {
                let old_name = sample_name(&kept, sample.suffix);
                let mut labels = std::mem::take(&mut sample.labels);
                labels.push((NAME_LABEL.to_string(), old_name.clone()));
                if !self.relabel(&mut labels) {
                    continue; // kept out by keep/drop
                }
                let Some(position) = labels.iter().position(|(k, _)| k == NAME_LABEL) else {
                    invalid += 1;
                    if first_invalid.is_empty() {
                        first_invalid = format!("{old_name}: the rules removed __name__");
                    }
                    continue;
                };
                let (_, new_name) = labels.remove(position);
                labels.retain(|(k, _)| !k.starts_with("__"));
                if let Some((bad, _)) = labels.iter().find(|(k, _)| !is_valid_label_name(k)) {
                    invalid += 1;
                    if first_invalid.is_empty() {
                        first_invalid = format!("{old_name}: label name {bad:?} is not valid");
                    }
                    continue;
                }
                sample.labels = labels;
                if new_name == old_name {
                    kept.samples.push(sample);
                    continue;
                }
                if !is_valid_metric_name(&new_name) {
                    invalid += 1;
                    if first_invalid.is_empty() {
                        first_invalid = format!("{old_name}: new name {new_name:?} is not valid");
                    }
                    continue;
                }
                let (family_name, metric_type) = renamed_family(&kept, sample.suffix, &new_name);
                if family_name == new_name && !sample.suffix.is_empty() {
                    sample.suffix = ""; // the new name does not end in the suffix: untyped
                }
                let index = *renamed_index.entry(family_name.clone()).or_insert_with(|| {
                    let mut family = MetricFamily::new(family_name, kept.help.clone(), metric_type);
                    family.unit = kept.unit.clone();
                    renamed.push(family);
                    renamed.len() - 1
                });
                renamed[index].samples.push(sample);
            }
            if !kept.samples.is_empty() {
                out.push(kept);
            }
        }
        if invalid > 0 {
            problems.push(CollectError::new(
                Reason::Mapping,
                format!(
                    "metric_relabel_configs made {invalid} series invalid, which were dropped \
                     (first: {first_invalid})"
                ),
            ));
        }
        out.extend(renamed);
        out
    }

    /// Runs every rule over one label set (holding `__name__`); false when the series is
    /// dropped.
    fn relabel(&self, labels: &mut Labels) -> bool {
        for rule in &self.rules {
            match rule.action {
                RelabelAction::Keep => {
                    if !rule.regex.is_match(&source_value(rule, labels)) {
                        return false;
                    }
                }
                RelabelAction::Drop => {
                    if rule.regex.is_match(&source_value(rule, labels)) {
                        return false;
                    }
                }
                RelabelAction::Replace => {
                    let value = source_value(rule, labels);
                    let Some(captures) = rule.regex.captures(&value) else {
                        continue;
                    };
                    let mut target = String::new();
                    captures.expand(&rule.target_label, &mut target);
                    let mut replaced = String::new();
                    captures.expand(&rule.replacement, &mut replaced);
                    if target.is_empty() {
                        continue;
                    }
                    labels.retain(|(k, _)| *k != target);
                    if !replaced.is_empty() {
                        labels.push((target, replaced));
                    }
                }
                RelabelAction::Labelmap => {
                    let mut added = Vec::new();
                    for (name, value) in labels.iter() {
                        if name == NAME_LABEL {
                            continue;
                        }
                        if let Some(captures) = rule.regex.captures(name) {
                            let mut new_name = String::new();
                            captures.expand(&rule.replacement, &mut new_name);
                            if !new_name.is_empty() {
                                added.push((new_name, value.clone()));
                            }
                        }
                    }
                    for (name, value) in added {
                        labels.retain(|(k, _)| *k != name);
                        labels.push((name, value));
                    }
                }
                RelabelAction::Labeldrop => {
                    labels.retain(|(k, _)| k == NAME_LABEL || !rule.regex.is_match(k));
                }
                RelabelAction::Labelkeep => {
                    labels.retain(|(k, _)| k == NAME_LABEL || rule.regex.is_match(k));
                }
            }
        }
        true
    }
}

fn source_value(rule: &Rule, labels: &Labels) -> String {
    let mut value = String::new();
    for (i, source) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            value.push_str(&rule.separator);
        }
        if let Some((_, v)) = labels.iter().find(|(k, _)| k == source) {
            value.push_str(v);
        }
    }
    value
}

/// The name a sample is scraped under, as Prometheus sees it: family name plus suffix, except
/// an OpenMetrics counter's `_created`, which goes on the name without `_total`.
fn sample_name(family: &MetricFamily, suffix: &str) -> String {
    if suffix == "_created" && family.metric_type == MetricType::Counter {
        if let Some(base) = family.name.strip_suffix("_total") {
            return format!("{base}_created");
        }
    }
    format!("{}{}", family.name, suffix)
}

/// The family a sample renamed to `new_name` belongs to: the new name without the sample's
/// suffix, keeping the type; or, when the new name does not end in the suffix, a family of its
/// own name, untyped.
fn renamed_family(family: &MetricFamily, suffix: &str, new_name: &str) -> (String, MetricType) {
    if suffix.is_empty() {
        return (new_name.to_string(), family.metric_type);
    }
    match new_name.strip_suffix(suffix) {
        Some(base) if !base.is_empty() => {
            let base = if suffix == "_created" && family.metric_type == MetricType::Counter {
                format!("{base}_total")
            } else {
                base.to_string()
            };
            (base, family.metric_type)
        }
        _ => (new_name.to_string(), MetricType::Untyped),
    }
}
