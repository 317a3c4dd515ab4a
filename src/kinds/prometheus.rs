//! The `prometheus` kind: passes an app's own `/metrics` through, as exporter_exporter or
//! federation would, after optional `metric_relabel_configs` and a `max_series` cap.
//!
//! The page is fetched with an `Accept` header preferring OpenMetrics, then text 0.0.4 (the
//! header Prometheus itself sends), parsed in the format the answer's `Content-Type` names
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

use std::sync::Arc;

use http::header::CONTENT_TYPE;

use super::Builder;
use crate::client::http::{HttpRequestConfig, HttpSource};
use crate::collector::{CollectError, Collection, Collector, Context, Reason};
use crate::config::{ConfigError, KeyError, KindKeys};
use crate::explain::Recorder;
use crate::formats::prom_text::parse_exposition_as;
use crate::model::{Format, MetricFamily};
use crate::relabel::{RelabelConfig, Relabeler};

/// Default of `max_series`.
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// The `Accept` header sent unless the collector sets its own: OpenMetrics first, then text
/// 0.0.4, as Prometheus asks.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.9,\
                          text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

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
    process_exposition_explained(body, content_type, relabeler, max_series, None)
}

/// [`process_exposition`], recording in `recorder` (when there is one) the answer and which
/// families relabelling and `max_series` kept and dropped.
pub fn process_exposition_explained(
    body: &[u8],
    content_type: &str,
    relabeler: &Relabeler,
    max_series: usize,
    recorder: Option<&Recorder>,
) -> Result<Collection, CollectError> {
    if let Some(recorder) = recorder {
        recorder.answer(body);
    }
    let families = parse_exposition_as(body, Format::from_content_type(content_type))?;
    let answered = recorder.map(|_| series_counts(&families));
    let mut problems = Vec::new();
    let families = relabeler.apply(families, &mut problems);
    let relabelled = recorder.map(|_| series_counts(&families));
    let (families, limited) = limit_series(families, max_series);
    problems.extend(limited);
    if let (Some(recorder), Some(answered), Some(relabelled)) = (recorder, answered, relabelled) {
        let kept = series_counts(&families);
        let total: usize = answered.iter().map(|(_, n)| n).sum();
        recorder.section(
            "exposition",
            vec![format!(
                "the app answered {} families with {total} series",
                answered.len()
            )],
        );
        recorder.section(
            "metric_relabel_configs kept",
            family_lines(
                relabelled
                    .iter()
                    .filter(|(name, _)| answered.iter().any(|(n, _)| n == name)),
            ),
        );
        recorder.section(
            "metric_relabel_configs dropped (whole families)",
            family_lines(
                answered
                    .iter()
                    .filter(|(name, _)| !relabelled.iter().any(|(n, _)| n == name)),
            ),
        );
        let made = family_lines(
            relabelled
                .iter()
                .filter(|(name, _)| !answered.iter().any(|(n, _)| n == name)),
        );
        if !made.is_empty() {
            recorder.section("metric_relabel_configs made (renamed families)", made);
        }
        recorder.section(
            format!("dropped past max_series {max_series}"),
            family_lines(
                relabelled
                    .iter()
                    .filter(|(name, _)| !kept.iter().any(|(n, _)| n == name)),
            ),
        );
    }
    Ok(Collection { families, problems })
}

/// The families' names with their series counts.
fn series_counts(families: &[MetricFamily]) -> Vec<(String, usize)> {
    families
        .iter()
        .map(|f| (f.name.clone(), f.samples.len()))
        .collect()
}

/// The most families listed in one section of an explanation.
const FAMILIES_LISTED: usize = 50;

/// `name: N series` lines, at most [`FAMILIES_LISTED`] and a line for the rest.
fn family_lines<'a>(families: impl Iterator<Item = &'a (String, usize)>) -> Vec<String> {
    let all: Vec<&(String, usize)> = families.collect();
    let mut lines: Vec<String> = all
        .iter()
        .take(FAMILIES_LISTED)
        .map(|(name, series)| format!("{name}: {series} series"))
        .collect();
    if all.len() > FAMILIES_LISTED {
        lines.push(format!("and {} more families", all.len() - FAMILIES_LISTED));
    }
    lines
}

/// The `prometheus` kind's own keys, besides the HTTP request keys.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Prometheus-style relabelling of the app's series before they are served (actions
    /// `replace`, `keep`, `drop`, `labelmap`, `labeldrop`, `labelkeep`; the name is `__name__`).
    /// Drop the Go runtime families and rename a label:
    /// ```yaml fragment
    /// metric_relabel_configs:
    ///   - {source_labels: [__name__], regex: 'go_.*', action: drop}
    ///   - {source_labels: [handler], target_label: path}
    ///   - {regex: handler, action: labeldrop}
    /// ```
    pub metric_relabel_configs: Option<Vec<RelabelConfig>>,
    /// The most series passed through (default 10000). Whole families are kept in the app's
    /// order while they fit; the rest are dropped and counted as errors with reason `limit`.
    pub max_series: Option<usize>,
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
    pub fn from_config(
        request: &HttpRequestConfig,
        config: &PrometheusConfig,
    ) -> Result<PrometheusCollector, KeyError> {
        let mut request = request.clone();
        let headers = request.headers.get_or_insert_with(Default::default);
        if !headers.keys().any(|k| k.eq_ignore_ascii_case("accept")) {
            headers.insert("Accept".to_string(), ACCEPT.to_string());
        }
        let source = HttpSource::from_config(&request)?;
        let relabeler =
            Relabeler::compile(config.metric_relabel_configs.as_deref().unwrap_or_default())
                .map_err(|e| KeyError::at("metric_relabel_configs", e))?;
        let max_series = config.max_series.unwrap_or(DEFAULT_MAX_SERIES);
        if max_series == 0 {
            return Err(KeyError::at("max_series", "max_series must be at least 1"));
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
        process_exposition_explained(
            &response.body,
            content_type,
            &self.relabeler,
            self.max_series,
            ctx.explain(),
        )
        .map_err(|e| {
            CollectError::new(
                e.reason,
                format!(
                    "{}: {}",
                    crate::client::Source::target(&self.source),
                    e.message
                ),
            )
        })
    }

    fn target(&self) -> String {
        crate::client::Source::target(&self.source)
    }
}

/// Reads a `prometheus` collector's keys: the HTTP request keys, `metric_relabel_configs`,
/// `max_series`.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let request = keys.take::<HttpRequestConfig>()?;
    let own = keys.take::<PrometheusConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        Ok(Arc::new(PrometheusCollector::from_config(&request, &own)?))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{encode, Format};
    use crate::model::labels;
    use crate::model::MetricType;

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
