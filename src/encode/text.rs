//! Prometheus text format 0.0.4.

use super::escape::{write_help_and_type, write_labels, write_timestamp_ms, write_value};
use crate::model::{MetricFamily, MetricType};

/// Appends one family in text format 0.0.4. Nothing is written for a family without samples.
///
/// What 0.0.4 cannot say is folded the way Prometheus' Go client folds it: info and stateset
/// become gauges, a gauge histogram a histogram (`_gsum`/`_gcount` written as `_sum`/`_count`),
/// and `_created` samples are left out (0.0.4 has no place for them; a parser would take them
/// for a separate untyped family).
pub(super) fn write_family(out: &mut Vec<u8>, family: &MetricFamily) {
    if family.samples.is_empty() {
        return;
    }
    let name = family.name.as_bytes();
    write_help_and_type(
        out,
        name,
        &family.help,
        family.metric_type.text_name(),
        false,
    );

    for sample in &family.samples {
        let suffix = match (family.metric_type, sample.suffix) {
            (_, "") => "",
            (_, "_created") => continue,
            (MetricType::Gaugehistogram, "_gsum") => "_sum",
            (MetricType::Gaugehistogram, "_gcount") => "_count",
            (_, suffix) => suffix,
        };
        out.extend_from_slice(name);
        out.extend_from_slice(suffix.as_bytes());
        write_labels(out, &sample.labels);
        out.push(b' ');
        write_value(out, sample.value);
        if let Some(timestamp_ms) = sample.timestamp_ms {
            out.push(b' ');
            write_timestamp_ms(out, timestamp_ms);
        }
        out.push(b'\n');
    }
}
