//! OpenMetrics 1.0.0 text.

use super::escape::{write_help_and_type, write_labels, write_timestamp_seconds, write_value};
use crate::model::{MetricFamily, MetricType};

/// The line that ends every OpenMetrics exposition.
pub(super) const EOF_LINE: &[u8] = b"# EOF\n";

/// How a family is named and typed in OpenMetrics, which differs from text 0.0.4 for counters
/// and info metrics: their samples carry a suffix (`_total`, `_info`) that the family name on
/// the HELP/TYPE/UNIT lines does not.
struct Presentation<'a> {
    /// The name on the HELP, TYPE and UNIT lines.
    family_name: &'a str,
    /// The type actually written (it can differ from the family's, see [`presentation`]).
    metric_type: MetricType,
}

/// Works out the OpenMetrics name and type of a family whose [`MetricFamily::name`] is its text
/// 0.0.4 name. A counter named `x_total` becomes family `x` with samples `x_total`; a counter
/// without `_total` is written as `unknown` so that its series keep their name (OpenMetrics
/// would otherwise rename them). Likewise an info metric `x_info` becomes family `x`, and one
/// without `_info` is written as the gauge that text 0.0.4 shows.
fn presentation(family: &MetricFamily) -> Presentation<'_> {
    let name = family.name.as_str();
    let stripped = |suffix: &str| name.strip_suffix(suffix).filter(|base| !base.is_empty());
    match family.metric_type {
        MetricType::Counter => match stripped("_total") {
            Some(base) => Presentation {
                family_name: base,
                metric_type: MetricType::Counter,
            },
            None => Presentation {
                family_name: name,
                metric_type: MetricType::Untyped,
            },
        },
        MetricType::Info => match stripped("_info") {
            Some(base) => Presentation {
                family_name: base,
                metric_type: MetricType::Info,
            },
            None => Presentation {
                family_name: name,
                metric_type: MetricType::Gauge,
            },
        },
        other => Presentation {
            family_name: name,
            metric_type: other,
        },
    }
}

/// The OpenMetrics suffix of a sample of type `metric_type` whose model suffix is `suffix`, or
/// `None` when that type has no such sample (such a sample would make the whole exposition
/// invalid, so it is left out).
fn openmetrics_suffix(metric_type: MetricType, suffix: &'static str) -> Option<&'static str> {
    let suffix = match (metric_type, suffix) {
        (MetricType::Counter, "") => "_total",
        (MetricType::Info, "") => "_info",
        (MetricType::Gaugehistogram, "_sum") => "_gsum",
        (MetricType::Gaugehistogram, "_count") => "_gcount",
        (_, suffix) => suffix,
    };
    let allowed: &[&str] = match metric_type {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
        MetricType::Gaugehistogram => &["_bucket", "_gsum", "_gcount"],
        MetricType::Summary => &["", "_sum", "_count", "_created"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::Stateset | MetricType::Untyped => &[""],
    };
    allowed.contains(&suffix).then_some(suffix)
}

/// Appends one family in OpenMetrics 1.0.0 (without the final `# EOF`). Nothing is written for
/// a family without samples. `# UNIT` is written only when the family name ends in `_<unit>`,
/// as OpenMetrics requires; otherwise the unit is left out rather than making the exposition
/// invalid.
pub(super) fn write_family(out: &mut Vec<u8>, family: &MetricFamily) {
    if family.samples.is_empty() {
        return;
    }
    let Presentation {
        family_name,
        metric_type,
    } = presentation(family);
    let family_name_bytes = family_name.as_bytes();

    write_help_and_type(
        out,
        family_name_bytes,
        &family.help,
        metric_type.openmetrics_name(),
        true,
    );
    let unit_fits = family_name
        .strip_suffix(family.unit.as_str())
        .is_some_and(|rest| rest.ends_with('_') && rest.len() > 1);
    if !family.unit.is_empty() && unit_fits {
        out.extend_from_slice(b"# UNIT ");
        out.extend_from_slice(family_name_bytes);
        out.push(b' ');
        out.extend_from_slice(family.unit.as_bytes());
        out.push(b'\n');
    }

    // Worked out once: most samples have no suffix, and this runs for every series.
    let unsuffixed = openmetrics_suffix(metric_type, "");
    for sample in &family.samples {
        let suffix = if sample.suffix.is_empty() {
            unsuffixed
        } else {
            openmetrics_suffix(metric_type, sample.suffix)
        };
        let Some(suffix) = suffix else {
            continue;
        };
        out.extend_from_slice(family_name_bytes);
        out.extend_from_slice(suffix.as_bytes());
        write_labels(out, &sample.labels);
        out.push(b' ');
        write_value(out, sample.value);
        if let Some(timestamp_ms) = sample.timestamp_ms {
            out.push(b' ');
            write_timestamp_seconds(out, timestamp_ms);
        }
        out.push(b'\n');
    }
}
