//! Exact expected exposition text for each type, in both formats.

use super::*;
use crate::model::{labels, MetricType, Sample};

fn sample(suffix: &'static str, pairs: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        suffix,
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
        timestamp_ms: None,
    }
}

fn family(name: &str, help: &str, metric_type: MetricType, samples: Vec<Sample>) -> MetricFamily {
    MetricFamily {
        samples,
        ..MetricFamily::new(name, help, metric_type)
    }
}

fn text(families: &[MetricFamily]) -> String {
    let mut out = Vec::new();
    encode(families, Format::Text, &mut out);
    String::from_utf8(out).unwrap()
}

fn openmetrics(families: &[MetricFamily]) -> String {
    let mut out = Vec::new();
    encode(families, Format::OpenMetrics, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn counter() {
    let created = sample("_created", &[("code", "200")], 1_700_000_000.5);
    let requests = family(
        "http_requests_total",
        "Requests served.",
        MetricType::Counter,
        vec![
            sample("", &[("code", "200")], 1027.0),
            created,
            sample("", &[("code", "500")], 3.0),
        ],
    );
    assert_eq!(
        text(std::slice::from_ref(&requests)),
        "# HELP http_requests_total Requests served.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{code=\"200\"} 1027\n\
         http_requests_total{code=\"500\"} 3\n"
    );
    assert_eq!(
        openmetrics(&[requests]),
        "# HELP http_requests Requests served.\n\
         # TYPE http_requests counter\n\
         http_requests_total{code=\"200\"} 1027\n\
         http_requests_created{code=\"200\"} 1700000000.5\n\
         http_requests_total{code=\"500\"} 3\n\
         # EOF\n"
    );
}

#[test]
fn counter_without_total_suffix_keeps_its_name() {
    let odd = family(
        "apache_cpuload_ticks",
        "",
        MetricType::Counter,
        vec![sample("", &[], 5.0), sample("_created", &[], 1.0)],
    );
    assert_eq!(
        text(std::slice::from_ref(&odd)),
        "# TYPE apache_cpuload_ticks counter\napache_cpuload_ticks 5\n"
    );
    assert_eq!(
        openmetrics(&[odd]),
        "# TYPE apache_cpuload_ticks unknown\napache_cpuload_ticks 5\n# EOF\n"
    );
}

#[test]
fn gauge_with_special_values_and_timestamps() {
    let mut stamped = sample("", &[("kind", "stamped")], 0.25);
    stamped.timestamp_ms = Some(1_700_000_000_123);
    let mut whole_second = sample("", &[("kind", "whole")], -7.0);
    whole_second.timestamp_ms = Some(1_700_000_000_000);
    let temperature = family(
        "room_temperature_celsius",
        "Temperature.",
        MetricType::Gauge,
        vec![
            sample("", &[("kind", "nan")], f64::NAN),
            sample("", &[("kind", "hot")], f64::INFINITY),
            sample("", &[("kind", "cold")], f64::NEG_INFINITY),
            sample("", &[("kind", "tiny")], 1.5e-7),
            stamped,
            whole_second,
        ],
    );
    assert_eq!(
        text(std::slice::from_ref(&temperature)),
        "# HELP room_temperature_celsius Temperature.\n\
         # TYPE room_temperature_celsius gauge\n\
         room_temperature_celsius{kind=\"nan\"} NaN\n\
         room_temperature_celsius{kind=\"hot\"} +Inf\n\
         room_temperature_celsius{kind=\"cold\"} -Inf\n\
         room_temperature_celsius{kind=\"tiny\"} 1.5e-7\n\
         room_temperature_celsius{kind=\"stamped\"} 0.25 1700000000123\n\
         room_temperature_celsius{kind=\"whole\"} -7 1700000000000\n"
    );
    let mut with_unit = temperature;
    with_unit.unit = "celsius".into();
    assert_eq!(
        openmetrics(&[with_unit]),
        "# HELP room_temperature_celsius Temperature.\n\
         # TYPE room_temperature_celsius gauge\n\
         # UNIT room_temperature_celsius celsius\n\
         room_temperature_celsius{kind=\"nan\"} NaN\n\
         room_temperature_celsius{kind=\"hot\"} +Inf\n\
         room_temperature_celsius{kind=\"cold\"} -Inf\n\
         room_temperature_celsius{kind=\"tiny\"} 1.5e-7\n\
         room_temperature_celsius{kind=\"stamped\"} 0.25 1700000000.123\n\
         room_temperature_celsius{kind=\"whole\"} -7 1700000000\n\
         # EOF\n"
    );
}

#[test]
fn unit_that_is_not_a_name_suffix_is_left_out() {
    let mut queue = family(
        "queue_length",
        "",
        MetricType::Gauge,
        vec![sample("", &[], 1.0)],
    );
    queue.unit = "seconds".into();
    assert_eq!(
        openmetrics(&[queue]),
        "# TYPE queue_length gauge\nqueue_length 1\n# EOF\n"
    );
    // A counter's unit goes before `_total`.
    let mut busy = family(
        "cpu_seconds_total",
        "",
        MetricType::Counter,
        vec![sample("", &[], 1.5)],
    );
    busy.unit = "seconds".into();
    assert_eq!(
        openmetrics(&[busy]),
        "# TYPE cpu_seconds counter\n# UNIT cpu_seconds seconds\ncpu_seconds_total 1.5\n# EOF\n"
    );
}

fn latency_histogram(metric_type: MetricType) -> MetricFamily {
    let mut histogram = family(
        "request_duration_seconds",
        "Request latency.",
        metric_type,
        vec![
            sample("_bucket", &[("path", "/"), ("le", "0.1")], 3.0),
            sample("_bucket", &[("path", "/"), ("le", "1")], 8.0),
            sample("_bucket", &[("path", "/"), ("le", "+Inf")], 9.0),
            sample("_sum", &[("path", "/")], 4.75),
            sample("_count", &[("path", "/")], 9.0),
        ],
    );
    histogram.unit = "seconds".into();
    histogram
}

#[test]
fn histogram() {
    let mut histogram = latency_histogram(MetricType::Histogram);
    histogram
        .samples
        .push(sample("_created", &[("path", "/")], 1_700_000_000.0));
    assert_eq!(
        text(std::slice::from_ref(&histogram)),
        "# HELP request_duration_seconds Request latency.\n\
         # TYPE request_duration_seconds histogram\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.1\"} 3\n\
         request_duration_seconds_bucket{path=\"/\",le=\"1\"} 8\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 9\n\
         request_duration_seconds_sum{path=\"/\"} 4.75\n\
         request_duration_seconds_count{path=\"/\"} 9\n"
    );
    assert_eq!(
        openmetrics(&[histogram]),
        "# HELP request_duration_seconds Request latency.\n\
         # TYPE request_duration_seconds histogram\n\
         # UNIT request_duration_seconds seconds\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.1\"} 3\n\
         request_duration_seconds_bucket{path=\"/\",le=\"1\"} 8\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 9\n\
         request_duration_seconds_sum{path=\"/\"} 4.75\n\
         request_duration_seconds_count{path=\"/\"} 9\n\
         request_duration_seconds_created{path=\"/\"} 1700000000\n\
         # EOF\n"
    );
}

#[test]
fn gauge_histogram() {
    let histogram = latency_histogram(MetricType::Gaugehistogram);
    assert_eq!(
        text(std::slice::from_ref(&histogram)),
        "# HELP request_duration_seconds Request latency.\n\
         # TYPE request_duration_seconds histogram\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.1\"} 3\n\
         request_duration_seconds_bucket{path=\"/\",le=\"1\"} 8\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 9\n\
         request_duration_seconds_sum{path=\"/\"} 4.75\n\
         request_duration_seconds_count{path=\"/\"} 9\n"
    );
    assert_eq!(
        openmetrics(&[histogram]),
        "# HELP request_duration_seconds Request latency.\n\
         # TYPE request_duration_seconds gaugehistogram\n\
         # UNIT request_duration_seconds seconds\n\
         request_duration_seconds_bucket{path=\"/\",le=\"0.1\"} 3\n\
         request_duration_seconds_bucket{path=\"/\",le=\"1\"} 8\n\
         request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 9\n\
         request_duration_seconds_gsum{path=\"/\"} 4.75\n\
         request_duration_seconds_gcount{path=\"/\"} 9\n\
         # EOF\n"
    );
}

#[test]
fn summary() {
    let summary = family(
        "rpc_duration_seconds",
        "RPC latency.",
        MetricType::Summary,
        vec![
            sample("", &[("quantile", "0.5")], 0.012),
            sample("", &[("quantile", "0.99")], 0.4),
            sample("_sum", &[], 17.5),
            sample("_count", &[], 1200.0),
        ],
    );
    assert_eq!(
        text(std::slice::from_ref(&summary)),
        "# HELP rpc_duration_seconds RPC latency.\n\
         # TYPE rpc_duration_seconds summary\n\
         rpc_duration_seconds{quantile=\"0.5\"} 0.012\n\
         rpc_duration_seconds{quantile=\"0.99\"} 0.4\n\
         rpc_duration_seconds_sum 17.5\n\
         rpc_duration_seconds_count 1200\n"
    );
    assert_eq!(
        openmetrics(&[summary]),
        "# HELP rpc_duration_seconds RPC latency.\n\
         # TYPE rpc_duration_seconds summary\n\
         rpc_duration_seconds{quantile=\"0.5\"} 0.012\n\
         rpc_duration_seconds{quantile=\"0.99\"} 0.4\n\
         rpc_duration_seconds_sum 17.5\n\
         rpc_duration_seconds_count 1200\n\
         # EOF\n"
    );
}

#[test]
fn info() {
    let build = family(
        "apache_info",
        "Apache version.",
        MetricType::Info,
        vec![sample("", &[("version", "2.4.62"), ("mpm", "event")], 1.0)],
    );
    assert_eq!(
        text(std::slice::from_ref(&build)),
        "# HELP apache_info Apache version.\n\
         # TYPE apache_info gauge\n\
         apache_info{version=\"2.4.62\",mpm=\"event\"} 1\n"
    );
    assert_eq!(
        openmetrics(&[build]),
        "# HELP apache Apache version.\n\
         # TYPE apache info\n\
         apache_info{version=\"2.4.62\",mpm=\"event\"} 1\n\
         # EOF\n"
    );
    // Without `_info` the name would change in OpenMetrics: written as the gauge it is in 0.0.4.
    let version = family(
        "app_version",
        "",
        MetricType::Info,
        vec![sample("", &[("v", "1")], 1.0)],
    );
    assert_eq!(
        openmetrics(&[version]),
        "# TYPE app_version gauge\napp_version{v=\"1\"} 1\n# EOF\n"
    );
}

#[test]
fn stateset() {
    let state = family(
        "app_state",
        "",
        MetricType::Stateset,
        vec![
            sample("", &[("app_state", "ok")], 1.0),
            sample("", &[("app_state", "failed")], 0.0),
        ],
    );
    assert_eq!(
        text(std::slice::from_ref(&state)),
        "# TYPE app_state gauge\napp_state{app_state=\"ok\"} 1\napp_state{app_state=\"failed\"} 0\n"
    );
    assert_eq!(
        openmetrics(&[state]),
        "# TYPE app_state stateset\napp_state{app_state=\"ok\"} 1\napp_state{app_state=\"failed\"} 0\n# EOF\n"
    );
}

#[test]
fn untyped() {
    let legacy = family(
        "legacy_value",
        "Something.",
        MetricType::Untyped,
        vec![sample("", &[], 12.5), sample("_sum", &[], 1.0)],
    );
    assert_eq!(
        text(std::slice::from_ref(&legacy)),
        "# HELP legacy_value Something.\n\
         # TYPE legacy_value untyped\n\
         legacy_value 12.5\n\
         legacy_value_sum 1\n"
    );
    // `unknown` has no suffixed samples in OpenMetrics: that one is left out.
    assert_eq!(
        openmetrics(&[legacy]),
        "# HELP legacy_value Something.\n\
         # TYPE legacy_value unknown\n\
         legacy_value 12.5\n\
         # EOF\n"
    );
}

#[test]
fn escaping_in_help_and_label_values() {
    let tricky = family(
        "tricky",
        "Back\\slash, \"quotes\"\nand a newline.",
        MetricType::Gauge,
        vec![sample(
            "",
            &[
                ("path", "C:\\dir\\"),
                ("quote", "say \"hi\""),
                ("lines", "a\nb"),
            ],
            1.0,
        )],
    );
    assert_eq!(
        text(std::slice::from_ref(&tricky)),
        "# HELP tricky Back\\\\slash, \"quotes\"\\nand a newline.\n\
         # TYPE tricky gauge\n\
         tricky{path=\"C:\\\\dir\\\\\",quote=\"say \\\"hi\\\"\",lines=\"a\\nb\"} 1\n"
    );
    assert_eq!(
        openmetrics(&[tricky]),
        "# HELP tricky Back\\\\slash, \\\"quotes\\\"\\nand a newline.\n\
         # TYPE tricky gauge\n\
         tricky{path=\"C:\\\\dir\\\\\",quote=\"say \\\"hi\\\"\",lines=\"a\\nb\"} 1\n\
         # EOF\n"
    );
}

#[test]
fn families_without_samples_write_nothing() {
    let empty = MetricFamily::new("nothing_total", "Never written.", MetricType::Counter);
    let up = MetricFamily::new("nginx_up", "", MetricType::Gauge).with_sample(labels([]), 1.0);
    assert_eq!(
        text(&[empty.clone(), up.clone()]),
        "# TYPE nginx_up gauge\nnginx_up 1\n"
    );
    assert_eq!(
        openmetrics(&[empty.clone(), up]),
        "# TYPE nginx_up gauge\nnginx_up 1\n# EOF\n"
    );
    assert_eq!(text(std::slice::from_ref(&empty)), "");
    assert_eq!(openmetrics(&[empty]), "# EOF\n");
    assert_eq!(openmetrics(&[]), "# EOF\n");
}

#[test]
fn appends_to_what_is_in_the_buffer() {
    let up = MetricFamily::new("up", "", MetricType::Gauge).with_sample(labels([]), 1.0);
    let mut out = b"# already here\n".to_vec();
    encode(&[up], Format::Text, &mut out);
    assert_eq!(out, b"# already here\n# TYPE up gauge\nup 1\n");
}
