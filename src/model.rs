//! The metric family and sample types that every collector produces and every encoder reads.

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
    fn label_names() {
        assert!(is_valid_label_name("state"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name("1a"));
    }
}
