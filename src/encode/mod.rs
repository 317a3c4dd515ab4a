//! Encoders: text format 0.0.4 and OpenMetrics 1.0, and content negotiation.

use crate::model::MetricFamily;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Picks the format from an `Accept` header (stub: always text).
pub fn negotiate(_accept: Option<&str>) -> Format {
    Format::Text
}

/// Writes `families` in `format` to `out` (stub).
pub fn encode(_families: &[MetricFamily], _format: Format, _out: &mut Vec<u8>) {}
