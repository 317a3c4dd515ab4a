//! Merging families: constant labels, families of the same name, duplicate series.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::collector::{CollectError, Reason};
use crate::model::{labels_text, Labels, MetricFamily};

/// Finishes one collector's families: adds the constant labels (a label the sample already has
/// wins), merges families of the same name, and drops duplicate series, each drop reported in
/// `problems`.
pub(crate) fn finish_collection(
    families: Vec<MetricFamily>,
    const_labels: &Labels,
    problems: &mut Vec<CollectError>,
) -> Vec<MetricFamily> {
    let mut merged: Vec<MetricFamily> = Vec::with_capacity(families.len());
    let mut index_by_name: HashMap<String, usize> = HashMap::with_capacity(families.len());
    for mut family in families {
        if !const_labels.is_empty() {
            for sample in &mut family.samples {
                for (key, value) in const_labels {
                    if !sample.labels.iter().any(|(k, _)| k == key) {
                        sample.labels.push((key.clone(), value.clone()));
                    }
                }
            }
        }
        match index_by_name.get(&family.name) {
            Some(&index) => {
                let target = &mut merged[index];
                if target.metric_type != family.metric_type {
                    problems.push(CollectError::new(
                        Reason::DuplicateSeries,
                        format!(
                            "family {} is produced twice with different types ({} and {}); the second was dropped",
                            family.name,
                            target.metric_type.text_name(),
                            family.metric_type.text_name()
                        ),
                    ));
                    continue;
                }
                target.samples.append(&mut family.samples);
            }
            None => {
                index_by_name.insert(family.name.clone(), merged.len());
                merged.push(family);
            }
        }
    }
    for family in &mut merged {
        drop_duplicates(family, problems);
    }
    merged
}

fn drop_duplicates(family: &mut MetricFamily, problems: &mut Vec<CollectError>) {
    for (_, sample) in family.drop_repeated_series() {
        problems.push(CollectError::new(
            Reason::DuplicateSeries,
            format!(
                "duplicate series {}{}{{{}}}; the later one was dropped",
                family.name,
                sample.suffix,
                labels_text(&sample.labels)
            ),
        ));
    }
}

/// Merges the families of several collectors, in order. A family name that two collectors
/// produce is merged when the types agree; series already present, and families whose type
/// disagrees, are dropped and returned as `(collector index, problem)`. Each collector's
/// families are expected to hold distinct series already (as its finished collection does):
/// a repeated series is reported against the collector whose family was being merged.
///
/// A family only one collector produces is borrowed, not copied: a scrape encodes the
/// collectors' families straight from their outcomes. Only families that two collectors
/// produce are copied, to merge them.
pub fn merge_families<'a>(
    per_collector: impl IntoIterator<Item = &'a [MetricFamily]>,
) -> (Vec<Cow<'a, MetricFamily>>, Vec<(usize, CollectError)>) {
    let mut merged: Vec<Cow<'a, MetricFamily>> = Vec::new();
    let mut owner: HashMap<&'a str, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (collector, families) in per_collector.into_iter().enumerate() {
        for family in families {
            match owner.get(family.name.as_str()) {
                None => {
                    owner.insert(family.name.as_str(), merged.len());
                    merged.push(Cow::Borrowed(family));
                }
                Some(&index) => {
                    let target = &merged[index];
                    if target.metric_type != family.metric_type {
                        problems.push((
                            collector,
                            CollectError::new(
                                Reason::DuplicateSeries,
                                format!(
                                    "family {} is also produced by another collector with type {}; dropped",
                                    family.name,
                                    target.metric_type.text_name()
                                ),
                            ),
                        ));
                        continue;
                    }
                    let target = merged[index].to_mut();
                    target.samples.extend(family.samples.iter().cloned());
                    for _ in target.drop_repeated_series() {
                        problems.push((
                            collector,
                            CollectError::new(
                                Reason::DuplicateSeries,
                                format!(
                                    "series of {} collides with another collector's; give the collectors distinguishing `labels:`",
                                    family.name
                                ),
                            ),
                        ));
                    }
                }
            }
        }
    }
    (merged, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{labels, MetricType};

    fn gauge(name: &str, samples: &[(&str, f64)]) -> MetricFamily {
        let mut family = MetricFamily::new(name, "help", MetricType::Gauge);
        for (value_label, value) in samples {
            family.push(labels([("k", value_label)]), *value);
        }
        family
    }

    #[test]
    fn adds_constant_labels_without_overriding() {
        let mut problems = Vec::new();
        let mut family = gauge("a", &[("x", 1.0)]);
        family.samples[0].labels.push(("pod".into(), "own".into()));
        let out = finish_collection(
            vec![family],
            &labels([("pod", "p1"), ("env", "prod")]),
            &mut problems,
        );
        assert_eq!(
            out[0].samples[0].labels,
            labels([("k", "x"), ("pod", "own"), ("env", "prod")])
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn merges_same_name_and_drops_duplicates() {
        let mut problems = Vec::new();
        let out = finish_collection(
            vec![
                gauge("a", &[("x", 1.0)]),
                gauge("a", &[("y", 2.0), ("x", 3.0)]),
            ],
            &Vec::new(),
            &mut problems,
        );
        assert_eq!(out.len(), 1);
        let values: Vec<f64> = out[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, 2.0]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, Reason::DuplicateSeries);
    }

    #[test]
    fn constant_labels_can_make_a_series_repeat() {
        let mut problems = Vec::new();
        let mut family = gauge("a", &[("x", 1.0), ("x", 2.0)]);
        family.samples[0]
            .labels
            .insert(0, ("pod".into(), "p1".into()));
        let out = finish_collection(vec![family], &labels([("pod", "p1")]), &mut problems);
        assert_eq!(out[0].samples.len(), 1);
        assert_eq!(out[0].samples[0].value, 1.0);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            r#"duplicate series a{k="x",pod="p1"}; the later one was dropped"#
        );
    }

    #[test]
    fn across_collectors_collisions_are_reported_against_the_later() {
        let first = vec![gauge("a", &[("x", 1.0)])];
        let second = vec![gauge("a", &[("x", 5.0), ("z", 2.0)])];
        let (merged, problems) = merge_families([first.as_slice(), second.as_slice()]);
        assert_eq!(merged[0].samples.len(), 2);
        assert_eq!(merged[0].samples[0].value, 1.0);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, 1);
        assert_eq!(
            problems[0].1.message,
            "series of a collides with another collector's; give the collectors distinguishing `labels:`"
        );
        assert!(matches!(merged[0], Cow::Owned(_)));

        let (merged, problems) = merge_families([first.as_slice()]);
        assert!(matches!(merged[0], Cow::Borrowed(_)));
        assert!(problems.is_empty());
    }
}
