//! The `prometheus` kind: passes an app's own `/metrics` through, as exporter_exporter or
//! federation would, after optional `metric_relabel_configs` and a `max_series` cap.
//!
//! The page is fetched with an `Accept` header preferring OpenMetrics, then text 0.0.4 (the
//! header Prometheus itself sends), parsed in the dialect the answer's `Content-Type` names
//! ([`crate::formats::prom_text`]), relabelled, capped, and handed to the engine, which merges it
//! with the other collectors' families (a series another collector already produced is dropped
//! and counted as `duplicate_series`).
//!
//! ```yaml
//! - name: app
//!   kind: prometheus
//!   url: http://127.0.0.1:8080/metrics
//!   max_series: 5000
//!   metric_relabel_configs:
//!     - source_labels: [__name__]
//!       regex: 'go_.*'
//!       action: drop
//!     - source_labels: [handler]
//!       target_label: path
//!     - regex: handler
//!       action: labeldrop
//! ```

use std::collections::HashMap;

use http::header::CONTENT_TYPE;
use regex::Regex;
use serde::Deserialize;

use crate::collector::{CollectError, Collection, Collector, Context, Reason};
use crate::config::CollectorConfig;
use crate::formats::prom_text::{parse_exposition_as, Dialect};
use crate::model::{is_valid_label_name, is_valid_metric_name, Labels, MetricFamily, MetricType};
use crate::sources::http::HttpSource;

/// Default of `max_series`.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// The `Accept` header sent unless the collector sets its own: OpenMetrics first, then text
/// 0.0.4, as Prometheus asks.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.9,\
                          text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

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

/// Keeps whole families, in the app's order, while their series fit in `max_series`; a family
/// that does not fit is dropped whole (a histogram cut in half would be misleading), later
/// smaller ones still count. Returns the problem (reason `limit`) when anything was dropped.
pub fn limit_series(
    families: Vec<MetricFamily>,
    max_series: usize,
) -> (Vec<MetricFamily>, Option<CollectError>) {
    let total: usize = families.iter().map(|f| f.samples.len()).sum();
    if total <= max_series {
        return (families, None);
    }
    let mut kept = Vec::with_capacity(families.len());
    let mut used = 0;
    let mut dropped_series = 0;
    let mut dropped_names = Vec::new();
    for family in families {
        if used + family.samples.len() <= max_series {
            used += family.samples.len();
            kept.push(family);
        } else {
            dropped_series += family.samples.len();
            dropped_names.push(family.name);
        }
    }
    let shown: Vec<&str> = dropped_names.iter().take(5).map(String::as_str).collect();
    let more = dropped_names.len().saturating_sub(shown.len());
    let problem = CollectError::new(
        Reason::Limit,
        format!(
            "the app exposed {total} series, more than max_series {max_series}: dropped \
             {dropped_series} series of {} families ({}{}); raise max_series or drop families \
             with metric_relabel_configs",
            dropped_names.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
    );
    (kept, Some(problem))
}

/// Parses an exposition answered with `content_type` (OpenMetrics or text 0.0.4; an unknown or
/// missing type is recognised from the body), relabels it and caps it at `max_series`. The
/// whole of the `prometheus` kind except the fetch, as a pure function.
pub fn process_exposition(
    body: &[u8],
    content_type: &str,
    relabeler: &Relabeler,
    max_series: usize,
) -> Result<Collection, CollectError> {
    let families = parse_exposition_as(body, Dialect::from_content_type(content_type))?;
    let mut problems = Vec::new();
    let families = relabeler.apply(families, &mut problems);
    let (families, limited) = limit_series(families, max_series);
    problems.extend(limited);
    Ok(Collection { families, problems })
}

/// The `prometheus` kind's collector.
pub struct PrometheusCollector {
    source: HttpSource,
    relabeler: Relabeler,
    max_series: usize,
}

impl PrometheusCollector {
    /// Builds it from the `http` source keys plus `metric_relabel_configs` and `max_series`.
    /// An `Accept` header is added unless `headers:` sets one.
    pub fn from_config(config: &CollectorConfig) -> Result<PrometheusCollector, String> {
        let mut config = config.clone();
        let headers = config.headers.get_or_insert_with(Default::default);
        if !headers.keys().any(|k| k.eq_ignore_ascii_case("accept")) {
            headers.insert("Accept".to_string(), ACCEPT.to_string());
        }
        let source = HttpSource::from_config(&config)?;
        let relabeler =
            Relabeler::compile(config.metric_relabel_configs.as_deref().unwrap_or_default())?;
        let max_series = config.max_series.unwrap_or(DEFAULT_MAX_SERIES);
        if max_series == 0 {
            return Err("max_series must be at least 1".to_string());
        }
        Ok(PrometheusCollector {
            source,
            relabeler,
            max_series,
        })
    }
}

#[async_trait::async_trait]
impl Collector for PrometheusCollector {
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError> {
        let response = self.source.fetch_response(ctx).await?;
        let content_type = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        process_exposition(
            &response.body,
            content_type,
            &self.relabeler,
            self.max_series,
        )
        .map_err(|e| {
            CollectError::new(
                e.reason,
                format!(
                    "{}: {}",
                    crate::sources::Source::target(&self.source),
                    e.message
                ),
            )
        })
    }

    fn target(&self) -> String {
        crate::sources::Source::target(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{encode, Format};
    use crate::model::labels;

    fn rules(yaml: &str) -> Relabeler {
        let configs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).unwrap();
        Relabeler::compile(&configs).unwrap()
    }

    fn run(yaml: &str, text: &str) -> (Vec<MetricFamily>, Vec<CollectError>) {
        let collection =
            process_exposition(text.as_bytes(), "text/plain", &rules(yaml), 10_000).unwrap();
        (collection.families, collection.problems)
    }

    fn text_of(families: &[MetricFamily]) -> String {
        let mut out = Vec::new();
        encode(families, Format::Text, &mut out);
        String::from_utf8(out).unwrap()
    }

    const PAGE: &str = "\
# HELP go_goroutines Goroutines.
# TYPE go_goroutines gauge
go_goroutines 8
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{handler=\"/a\",code=\"200\"} 3
http_requests_total{handler=\"/b\",code=\"500\"} 1
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"1\"} 1
latency_seconds_bucket{le=\"+Inf\"} 2
latency_seconds_sum 3.5
latency_seconds_count 2
";

    #[test]
    fn without_rules_everything_passes() {
        let (families, problems) = run("[]", PAGE);
        assert!(problems.is_empty());
        assert_eq!(text_of(&families), PAGE);
    }

    #[test]
    fn keep_and_drop_by_name() {
        let (families, _) = run(
            "[{source_labels: [__name__], regex: 'go_.*', action: drop}]",
            PAGE,
        );
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["http_requests_total", "latency_seconds"]);
        // Keeping a histogram takes its suffixed names, as in Prometheus.
        let (families, _) = run(
            "[{source_labels: [__name__], regex: 'latency_seconds_(bucket|sum|count)', action: keep}]",
            PAGE,
        );
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].samples.len(), 4);
        // Several source labels joined with the separator.
        let (families, _) = run(
            "[{source_labels: [__name__, code], regex: 'http_requests_total;5..', action: drop}]",
            PAGE,
        );
        let requests = families
            .iter()
            .find(|f| f.name == "http_requests_total")
            .unwrap();
        assert_eq!(requests.samples.len(), 1);
        assert_eq!(requests.samples[0].value, 3.0);
    }

    #[test]
    fn replace_labelmap_labeldrop_labelkeep() {
        let (families, _) = run(
            "
- source_labels: [handler]
  regex: '/(.*)'
  target_label: path
  replacement: 'p_$1'
- regex: handler
  action: labeldrop
- target_label: team
  replacement: web
",
            PAGE,
        );
        let requests = &families[1];
        assert_eq!(
            requests.samples[0].labels,
            labels([("code", "200"), ("path", "p_a"), ("team", "web")])
        );
        assert_eq!(families[0].samples[0].labels, labels([("team", "web")]));
        let (families, _) = run(
            "[{regex: 'hand(.*)', action: labelmap, replacement: 'h_$1'}, {regex: 'h_.*', action: labelkeep}]",
            PAGE,
        );
        assert_eq!(families[1].samples[0].labels, labels([("h_ler", "/a")]));
        // `__tmp` labels disappear after the rules; an empty replacement removes the label.
        let (families, _) = run(
            "[{source_labels: [code], target_label: __tmp}, {source_labels: [__tmp], target_label: code, regex: '2.*', replacement: ''}]",
            PAGE,
        );
        assert_eq!(families[1].samples[0].labels, labels([("handler", "/a")]));
        assert_eq!(
            families[1].samples[1].labels,
            labels([("handler", "/b"), ("code", "500")])
        );
    }

    #[test]
    fn renaming_moves_series_to_a_family_of_the_new_name() {
        let (families, problems) = run(
            "
- source_labels: [__name__]
  regex: 'latency_seconds_(.*)'
  target_label: __name__
  replacement: 'app_latency_seconds_$1'
- source_labels: [__name__]
  regex: 'go_goroutines'
  target_label: __name__
  replacement: 'app goroutines'
",
            PAGE,
        );
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["http_requests_total", "app_latency_seconds"]);
        assert_eq!(families[1].metric_type, MetricType::Histogram);
        assert_eq!(families[1].samples.len(), 4);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, Reason::Mapping);
        assert!(
            problems[0]
                .message
                .contains("\"app goroutines\" is not valid"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn bad_rules_are_config_errors() {
        let compile = |yaml: &str| {
            let configs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).unwrap();
            Relabeler::compile(&configs).err().unwrap()
        };
        assert!(compile("[{regex: '('}]").contains("metric_relabel_configs[0]: regex"));
        assert!(compile("[{source_labels: [a]}]").contains("needs `target_label`"));
        assert!(compile("[{regex: a, action: drop}]").contains("needs `source_labels`"));
        assert!(compile("[{target_label: 'a-b'}]").contains("not a valid label name"));
        assert!(
            compile("[{regex: a, action: labeldrop, source_labels: [x]}]").contains("take neither")
        );
        assert!(serde_yaml::from_str::<Vec<RelabelConfig>>("[{action: hashmod}]").is_err());
    }

    #[test]
    fn max_series_keeps_whole_families() {
        let collection = process_exposition(PAGE.as_bytes(), "", &Relabeler::default(), 4).unwrap();
        let names: Vec<&str> = collection
            .families
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        // go_goroutines (1) + http_requests_total (2) fit; the histogram (4) does not.
        assert_eq!(names, ["go_goroutines", "http_requests_total"]);
        assert_eq!(collection.problems.len(), 1);
        assert_eq!(collection.problems[0].reason, Reason::Limit);
        assert!(collection.problems[0].message.contains(
            "7 series, more than max_series 4: dropped 4 series of 1 families (latency_seconds)"
        ));
    }

    #[test]
    fn garbage_is_a_parse_error() {
        let e = process_exposition(b"<html>nope</html>", "text/html", &Relabeler::default(), 10)
            .unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
    }

    #[test]
    fn nan_inf_and_escaping_round_trip_in_both_formats() {
        let page = "# HELP odd Help with \\\\ and \\n.\n# TYPE odd gauge\n\
                    odd{v=\"a\\\"b\\\\c\\nd\"} NaN\nodd{v=\"up\"} +Inf\nodd{v=\"down\"} -Inf\n";
        let collection =
            process_exposition(page.as_bytes(), "text/plain", &Relabeler::default(), 10).unwrap();
        let text = text_of(&collection.families);
        assert_eq!(text, page);
        let mut om = Vec::new();
        encode(&collection.families, Format::OpenMetrics, &mut om);
        let om = String::from_utf8(om).unwrap();
        assert!(om.contains("odd{v=\"a\\\"b\\\\c\\nd\"} NaN\n"), "{om}");
        assert!(om.ends_with("# EOF\n"));
        let back = process_exposition(
            om.as_bytes(),
            "application/openmetrics-text; version=1.0.0",
            &Relabeler::default(),
            10,
        )
        .unwrap();
        assert_eq!(
            back.families[0].samples[0].labels,
            labels([("v", "a\"b\\c\nd")])
        );
        assert!(back.families[0].samples[0].value.is_nan());
        assert_eq!(back.families[0].samples[1].value, f64::INFINITY);
        assert_eq!(back.families[0].samples[2].value, f64::NEG_INFINITY);
        assert_eq!(back.families[0].help, "Help with \\ and \n.");
    }

    #[test]
    fn openmetrics_counters_keep_names_through_relabelling() {
        let page =
            "# TYPE req counter\nreq_total{a=\"1\"} 2\nreq_created{a=\"1\"} 1700000000\n# EOF\n";
        let collection = process_exposition(
            page.as_bytes(),
            "application/openmetrics-text",
            &rules("[{source_labels: [__name__], regex: 'req_created', action: drop}]"),
            10,
        )
        .unwrap();
        assert_eq!(collection.families[0].name, "req_total");
        assert_eq!(collection.families[0].samples.len(), 1);
        assert_eq!(collection.families[0].samples[0].suffix, "");
    }
}
