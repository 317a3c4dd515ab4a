//! Encoders: text format 0.0.4 and OpenMetrics 1.0, and content negotiation.
//!
//! The exposition is written by hand into a byte buffer. prometheus-client's encoder only
//! encodes its own registry types (metrics registered ahead of time with a fixed shape), while
//! the families here are built anew on every scrape from whatever the app answered, so there is
//! nothing for it to encode without copying every series into its types first.
//!
//! Label values are written exactly as the collectors give them, `le` and `quantile` included:
//! the series keep the label values of the exporters they replace, in both formats.
//!
//! ```
//! use sidecar_exporter::encode::{encode, Format};
//! use sidecar_exporter::model::{labels, MetricFamily, MetricType};
//!
//! let requests = MetricFamily::new("nginx_http_requests_total", "Total http requests", MetricType::Counter)
//!     .with_sample(labels([("path", "/a\"b")]), 42.0);
//! let mut text = Vec::new();
//! encode(&[requests.clone()], Format::Text, &mut text);
//! assert_eq!(
//!     String::from_utf8(text).unwrap(),
//!     concat!(
//!         "# HELP nginx_http_requests_total Total http requests\n",
//!         "# TYPE nginx_http_requests_total counter\n",
//!         "nginx_http_requests_total{path=\"/a\\\"b\"} 42\n",
//!     )
//! );
//! let mut openmetrics = Vec::new();
//! encode(&[requests], Format::OpenMetrics, &mut openmetrics);
//! assert_eq!(
//!     String::from_utf8(openmetrics).unwrap(),
//!     concat!(
//!         "# HELP nginx_http_requests Total http requests\n",
//!         "# TYPE nginx_http_requests counter\n",
//!         "nginx_http_requests_total{path=\"/a\\\"b\"} 42\n",
//!         "# EOF\n",
//!     )
//! );
//! ```

mod escape;
mod negotiate;
mod openmetrics;
mod text;

// Re-exported so that the encoder's callers name the format next to `encode`; the type lives in
// `model` because the `prometheus` kind's parser reads the same formats.
pub use crate::model::Format;
pub use negotiate::negotiate;

use std::borrow::Borrow;

use crate::model::MetricFamily;

/// Appends `families` to `out` in `format`, in the order given. Families without samples are
/// skipped; OpenMetrics output always ends with `# EOF`, even when nothing else was written.
///
/// The families should have unique names (the scrape engine merges them): both formats require
/// all samples of a family to be written together. They may be owned or borrowed (what
/// `merge_families` returns).
pub fn encode<F: Borrow<MetricFamily>>(families: &[F], format: Format, out: &mut Vec<u8>) {
    match format {
        Format::Text => {
            for family in families {
                text::write_family(out, family.borrow());
            }
        }
        Format::OpenMetrics => {
            for family in families {
                openmetrics::write_family(out, family.borrow());
            }
            out.extend_from_slice(openmetrics::EOF_LINE);
        }
    }
}

#[cfg(test)]
mod tests;
