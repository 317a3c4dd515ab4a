//! `Accept` parsing with q-values (gzip from `Accept-Encoding` is tower-http's
//! `CompressionLayer`, in `src/server/mod.rs`).

use crate::model::Format;

/// One entry of an `Accept` header: `type/subtype;param=value;q=0.5`.
#[derive(Debug, PartialEq)]
struct Entry<'a> {
    /// `type/subtype`, as written (compare case-insensitively).
    value: &'a str,
    /// Parameters other than `q`, names as written.
    params: Vec<(&'a str, &'a str)>,
    /// The weight; 1 when absent, 0 when unparseable (as Go's goautoneg does).
    q: f64,
}

impl Entry<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Splits a header into its acceptable entries (q > 0), highest weight first; entries of equal
/// weight keep their order in the header.
fn acceptable_entries(header: &str) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let value = pieces.next()?.trim();
            if value.is_empty() {
                return None;
            }
            let mut entry = Entry {
                value,
                params: Vec::new(),
                q: 1.0,
            };
            for piece in pieces {
                let (name, param_value) = piece.split_once('=').unwrap_or((piece, ""));
                let (name, param_value) = (name.trim(), param_value.trim().trim_matches('"'));
                if name.eq_ignore_ascii_case("q") {
                    entry.q = param_value
                        .parse::<f64>()
                        .ok()
                        .filter(|q| q.is_finite())
                        .unwrap_or(0.0);
                } else {
                    entry.params.push((name, param_value));
                }
            }
            Some(entry)
        })
        .filter(|entry| entry.q > 0.0)
        .collect();
    // Stable: ties keep header order.
    entries.sort_by(|a, b| b.q.total_cmp(&a.q));
    entries
}

/// Picks the exposition format from an `Accept` header the way Prometheus' client_golang
/// (`expfmt.NegotiateIncludingOpenMetrics`) does: entries are tried from the highest q-value
/// down; `application/openmetrics-text` with version `1.0.0`, `0.0.1` or none selects
/// OpenMetrics, `text/plain` with version `0.0.4` or none selects text; an entry with `q=0` is
/// not acceptable. Anything else — no header, wildcards only, protobuf, garbage — falls back to
/// text 0.0.4, which every Prometheus understands.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(header) = accept else {
        return Format::Text;
    };
    for entry in acceptable_entries(header) {
        let version = entry.param("version").unwrap_or("");
        if let Some(format) = Format::from_media_type(entry.value) {
            if format.answers_version(version) {
                return format;
            }
        }
    }
    Format::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS_2: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn what_prometheus_sends() {
        assert_eq!(negotiate(Some(PROMETHEUS_2)), Format::OpenMetrics);
        // Prometheus with `scrape_protocols: [PrometheusText0.0.4]`.
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4;q=0.9,*/*;q=0.1")),
            Format::Text
        );
        // Prometheus 3 default, protobuf first (not offered here) then OpenMetrics.
        assert_eq!(
            negotiate(Some("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1")),
            Format::OpenMetrics
        );
    }

    #[test]
    fn fallbacks() {
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("")), Format::Text);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            negotiate(Some("text/html,application/xhtml+xml")),
            Format::Text
        );
        assert_eq!(negotiate(Some(";;,,;q=,=")), Format::Text);
        assert_eq!(
            negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Format::Text
        );
        assert_eq!(negotiate(Some("\u{0}\u{ff}garbage/∞")), Format::Text);
    }

    #[test]
    fn q_values_decide() {
        assert_eq!(
            negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some(
                "Application/OpenMetrics-Text; Version=1.0.0; charset=utf-8"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("text/plain;q=0.5,application/openmetrics-text;q=0.6")),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0.5,text/plain;q=0.6")),
            Format::Text
        );
        // Equal weight: the first one listed.
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0.5,text/plain;q=0.5")),
            Format::OpenMetrics
        );
        // q=0 means "not acceptable", even as the only entry.
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0,text/plain;q=0.1")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=abc")),
            Format::Text
        );
        // A text version we cannot write is skipped, not taken as text.
        assert_eq!(
            negotiate(Some(
                "text/plain;version=9.9.9,application/openmetrics-text;q=0.1"
            )),
            Format::OpenMetrics
        );
    }
}
