//! The metric family and sample types that every collector produces and every encoder reads,
//! and the exposition formats they are read from and written in.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

/// A label set: `(name, value)` pairs in the order they are written.
pub type Labels = Vec<(String, String)>;

/// The type of a metric family, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// A monotonically increasing value.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
    /// Quantiles, sum and count.
    Summary,
    /// No type information (OpenMetrics `unknown`).
    Untyped,
    /// An info metric (value 1, labels carry the information).
    Info,
    /// An OpenMetrics state set.
    Stateset,
    /// An OpenMetrics gauge histogram.
    Gaugehistogram,
}

impl MetricType {
    /// The word used on a text 0.0.4 `# TYPE` line.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge | MetricType::Stateset | MetricType::Info => "gauge",
            MetricType::Histogram | MetricType::Gaugehistogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }

    /// The word used on an OpenMetrics `# TYPE` line.
    pub fn openmetrics_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Gaugehistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "unknown",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
        }
    }
}

/// One sample line of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name to form the sample name: `""`, `"_bucket"`, `"_sum"`,
    /// `"_count"`, `"_created"`, … (counters keep `_total` in the family name, see
    /// [`MetricFamily::name`]).
    pub suffix: &'static str,
    /// The sample's labels, without the collector's constant labels (the engine adds those).
    pub labels: Labels,
    /// The sample value.
    pub value: f64,
    /// Optional timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// A plain sample with no suffix and no timestamp.
    pub fn new(labels: Labels, value: f64) -> Self {
        Sample {
            suffix: "",
            labels,
            value,
            timestamp_ms: None,
        }
    }
}

/// A metric family: a name, its help and type, and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name as written in text format 0.0.4 (a counter keeps its `_total`:
    /// `nginx_http_requests_total`; the OpenMetrics encoder strips it from the `# TYPE` line).
    pub name: String,
    /// The help text (unescaped).
    pub help: String,
    /// The type.
    pub metric_type: MetricType,
    /// The OpenMetrics unit, empty when none.
    pub unit: String,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// A family with no samples yet.
    pub fn new(name: impl Into<String>, help: impl Into<String>, metric_type: MetricType) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            metric_type,
            unit: String::new(),
            samples: Vec::new(),
        }
    }

    /// Adds a plain sample and returns the family, for building families in one expression.
    pub fn with_sample(mut self, labels: Labels, value: f64) -> Self {
        self.samples.push(Sample::new(labels, value));
        self
    }

    /// Adds a plain sample.
    pub fn push(&mut self, labels: Labels, value: f64) {
        self.samples.push(Sample::new(labels, value));
    }

    /// Drops every sample whose series (suffix and label set, in any order) an earlier sample
    /// of the family already has, and returns the dropped ones with their former indices, in
    /// order, for the caller to report in its own words. Both exposition formats forbid a
    /// series twice in one page, and the first one is the one a scraper would keep.
    pub fn drop_repeated_series(&mut self) -> Vec<(usize, Sample)> {
        let repeated = repeated_series(&self.samples);
        if repeated.is_empty() {
            return Vec::new();
        }
        let mut dropped = Vec::with_capacity(repeated.len());
        let mut kept = Vec::with_capacity(self.samples.len() - repeated.len());
        let mut next_repeated = repeated.into_iter().peekable();
        for (index, sample) in std::mem::take(&mut self.samples).into_iter().enumerate() {
            if next_repeated.next_if_eq(&index).is_some() {
                dropped.push((index, sample));
            } else {
                kept.push(sample);
            }
        }
        self.samples = kept;
        dropped
    }
}

/// The indices, ascending, of the samples whose series an earlier sample already has.
fn repeated_series(samples: &[Sample]) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    if samples.len() < 2 {
        return Vec::new();
    }
    // Keyed per call: label values come from the app, and must not be able to line up hash
    // collisions that turn the check quadratic.
    let keys = RandomState::new();
    // Kept samples with the same hash are chained through `next_same_hash` rather than kept in
    // a list per hash, so that the check allocates nothing per series.
    let mut first_with_hash: HashMap<u64, usize> = HashMap::with_capacity(samples.len());
    let mut next_same_hash = vec![NONE; samples.len()];
    let mut repeated = Vec::new();
    for (index, sample) in samples.iter().enumerate() {
        let hash = series_hash(&keys, sample);
        let mut candidate = first_with_hash.get(&hash).copied().unwrap_or(NONE);
        while candidate != NONE && !same_series(&samples[candidate], sample) {
            candidate = next_same_hash[candidate];
        }
        if candidate != NONE {
            repeated.push(index);
        } else if let Some(previous) = first_with_hash.insert(hash, index) {
            next_same_hash[index] = previous;
        }
    }
    repeated
}

/// A hash of a sample's suffix and label set that does not depend on the labels' order: the
/// constant labels are appended after a collector's own, and an app may write its labels in
/// any order.
fn series_hash(keys: &RandomState, sample: &Sample) -> u64 {
    let labels = sample
        .labels
        .iter()
        .fold(0u64, |sum, pair| sum.wrapping_add(keys.hash_one(pair)));
    keys.hash_one((sample.suffix, labels))
}

fn same_series(a: &Sample, b: &Sample) -> bool {
    fn sorted(labels: &Labels) -> Vec<(&str, &str)> {
        let mut pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs
    }
    a.suffix == b.suffix
        && a.labels.len() == b.labels.len()
        && (a.labels == b.labels || sorted(&a.labels) == sorted(&b.labels))
}

/// A Prometheus text exposition format: the one a scraped page is written in (the `prometheus`
/// kind's parser reads it from the answer's `Content-Type`), and the one a scrape is answered
/// with (negotiated from its `Accept`). Every media type and version string of these formats is
/// here, so that the parser, the negotiation and the encoder cannot disagree about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 (`application/openmetrics-text`): ends with `# EOF`, timestamps in
    /// seconds.
    OpenMetrics,
}

impl Format {
    /// The format a media type names (`type/subtype`, any case, without parameters); `None`
    /// when it names neither.
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Some(Format::OpenMetrics)
        } else if media_type.eq_ignore_ascii_case("text/plain") {
            Some(Format::Text)
        } else {
            None
        }
    }

    /// The format a `Content-Type` header names, whatever its parameters; `None` when it names
    /// neither (a parser then recognises the format from the body).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        Format::from_media_type(media_type)
    }

    /// True when a client asking for this format with the `version` parameter `version` (`""`
    /// when it gave none) can be answered with what [`Format::content_type`] names. OpenMetrics
    /// `0.0.1` is what Prometheus 2 asks for besides `1.0.0`; both read the same text.
    pub fn answers_version(self, version: &str) -> bool {
        match self {
            Format::Text => matches!(version, "" | "0.0.4"),
            Format::OpenMetrics => matches!(version, "" | "1.0.0" | "0.0.1"),
        }
    }

    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Labels as `a="x",b="y"`, for messages about a series (not the exposition: no escaping
/// rules beyond Rust's debug quoting).
pub fn labels_text(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Builds a [`Labels`] from string pairs.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// True when `name` is a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// True when `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        assert!(is_valid_metric_name("nginx_up"));
        assert!(is_valid_metric_name("a:b_c9"));
        assert!(!is_valid_metric_name("9abc"));
        assert!(!is_valid_metric_name("a-b"));
        assert!(!is_valid_metric_name(""));
    }

    #[test]
    fn formats_from_content_types() {
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4"),
            Some(Format::Text)
        );
        assert_eq!(
            Format::from_content_type(" Text/Plain "),
            Some(Format::Text)
        );
        assert_eq!(Format::from_content_type("application/json"), None);
        assert_eq!(Format::from_content_type(""), None);
    }

    #[test]
    fn answered_content_types_name_their_format() {
        for format in [Format::Text, Format::OpenMetrics] {
            assert_eq!(
                Format::from_content_type(format.content_type()),
                Some(format)
            );
        }
        assert_eq!(
            Format::Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
    }

    #[test]
    fn repeated_series_are_dropped_after_the_first() {
        let mut family = MetricFamily::new("a", "", MetricType::Gauge)
            .with_sample(labels([("x", "1"), ("y", "2")]), 1.0)
            .with_sample(labels([("x", "2")]), 2.0)
            .with_sample(labels([("y", "2"), ("x", "1")]), 3.0)
            .with_sample(labels([("x", "2")]), 4.0)
            .with_sample(labels([("x", "3")]), 5.0)
            .with_sample(labels([("x", "2")]), 6.0);
        let mut sum = Sample::new(labels([("x", "2")]), 7.0);
        sum.suffix = "_sum";
        family.samples.push(sum);
        let dropped: Vec<(usize, f64)> = family
            .drop_repeated_series()
            .into_iter()
            .map(|(index, sample)| (index, sample.value))
            .collect();
        assert_eq!(dropped, [(2, 3.0), (3, 4.0), (5, 6.0)]);
        let kept: Vec<f64> = family.samples.iter().map(|s| s.value).collect();
        assert_eq!(kept, [1.0, 2.0, 5.0, 7.0]);
        assert!(family.drop_repeated_series().is_empty());
    }

    #[test]
    fn label_sets_differing_in_one_repeated_name_are_different_series() {
        let mut family = MetricFamily::new("a", "", MetricType::Gauge)
            .with_sample(labels([("x", "1"), ("x", "1"), ("y", "2")]), 1.0)
            .with_sample(labels([("x", "1"), ("y", "2"), ("y", "2")]), 2.0)
            .with_sample(labels([]), 3.0)
            .with_sample(labels([]), 4.0);
        let dropped: Vec<usize> = family
            .drop_repeated_series()
            .into_iter()
            .map(|(index, _)| index)
            .collect();
        assert_eq!(dropped, [3]);
    }

    #[test]
    fn label_names() {
        assert!(is_valid_label_name("state"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("1a"));
    }
}
