//! The Prometheus text exposition formats, parsed into metric families: text format 0.0.4 and
//! OpenMetrics 1.0 (the `prometheus` pass-through kind reads an app's own `/metrics` with it).
//!
//! Families follow the conventions of [`crate::model`]:
//! - a family's samples are grouped under it with their suffix (`_bucket`, `_sum`, `_count`,
//!   `_created`, `_gsum`, `_gcount`), quantiles and plain samples with `""`;
//! - a counter's family name keeps `_total`, as in 0.0.4. For OpenMetrics input (`# TYPE foo
//!   counter` with samples `foo_total`) the family is named `foo_total` and its `foo_total`
//!   samples have suffix `""`; its `foo_created` samples have suffix `"_created"` (their full
//!   name is the family name without `_total`, plus `_created`). An `info` family is named the
//!   same way, with its `_info` (`# TYPE build info` → family `build_info`);
//! - samples without a `# TYPE` line form an untyped family per name;
//! - families without any sample are dropped (they produce no series);
//! - timestamps become milliseconds (OpenMetrics writes seconds, 0.0.4 milliseconds);
//! - exemplars are accepted and dropped; `# EOF` ends an OpenMetrics exposition.

use crate::collector::CollectError;
use crate::model::{is_valid_metric_name, Format, Labels, MetricFamily, MetricType, Sample};

use super::kv::shorten;
use super::{parse_error, utf8};

/// Parses an exposition in either format. The format is recognised from the body: OpenMetrics
/// when its last line is `# EOF`, text 0.0.4 otherwise.
pub fn parse_exposition(body: &[u8]) -> Result<Vec<MetricFamily>, CollectError> {
    parse_exposition_as(body, None)
}

/// Parses an exposition in the given format (from the answer's `Content-Type`, see
/// [`Format::from_content_type`]), or recognised from the body when `None`. An OpenMetrics
/// answer without its closing `# EOF` is refused as truncated.
pub fn parse_exposition_as(
    body: &[u8],
    format: Option<Format>,
) -> Result<Vec<MetricFamily>, CollectError> {
    let text = utf8(body)?;
    let ends_with_eof = text
        .trim_end()
        .rsplit('\n')
        .next()
        .is_some_and(|last| last.trim_end_matches('\r') == "# EOF");
    let format = format.unwrap_or(if ends_with_eof {
        Format::OpenMetrics
    } else {
        Format::Text
    });
    if format == Format::OpenMetrics && !ends_with_eof {
        return Err(parse_error(
            "the OpenMetrics answer does not end with `# EOF`: it was cut short",
        ));
    }
    let mut parser = Parser {
        format,
        families: Vec::new(),
        current: None,
    };
    let mut offset = 0;
    for (index, raw_line) in text.split('\n').enumerate() {
        offset += raw_line.len() + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let line_no = index + 1;
        if line == "# EOF" && text.get(offset..).unwrap_or("").trim().is_empty() {
            break; // the end; an `# EOF` anywhere else is an error (see `comment`)
        }
        parser.line(line).map_err(|what| {
            parse_error(format!("line {line_no}: {what}: {:?}", shorten(line)))
                .with_page_message(format!("line {line_no} cannot be parsed"))
        })?;
    }
    parser.finish_current();
    Ok(parser.families)
}

/// A family being filled, with what its metadata lines have set so far.
struct Builder {
    family: MetricFamily,
    /// The name on the `# TYPE`/`# HELP` line (suffixes are matched against it).
    base: String,
    type_set: bool,
    help_set: bool,
    unit_set: bool,
    /// A sample named exactly `base` was seen (a counter then cannot also take `base_total`).
    has_plain: bool,
}

struct Parser {
    format: Format,
    families: Vec<MetricFamily>,
    current: Option<Builder>,
}

enum Metadata {
    Help,
    Type,
    Unit,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim_start();
        if line.is_empty() {
            return Ok(());
        }
        if let Some(comment) = line.strip_prefix('#') {
            return self.comment(comment);
        }
        self.sample(line)
    }

    fn comment(&mut self, comment: &str) -> Result<(), String> {
        let comment = comment.trim_start();
        let (keyword, rest) = split_word(comment);
        let kind = match keyword {
            "HELP" => Metadata::Help,
            "TYPE" => Metadata::Type,
            "UNIT" => Metadata::Unit,
            "EOF" => return Err("`# EOF` before the end of the answer".into()),
            _ => return Ok(()), // a plain comment
        };
        let (name, value) = split_word(rest.trim_start());
        if !is_valid_metric_name(name) {
            return Err(format!("{name:?} is not a valid metric name"));
        }
        let value = value.strip_prefix([' ', '\t']).unwrap_or(value);
        let same_family = self
            .current
            .as_ref()
            .is_some_and(|b| b.base == name && b.family.samples.is_empty());
        if !same_family {
            self.start(name);
        }
        let Some(builder) = self.current.as_mut() else {
            return Ok(());
        };
        match kind {
            Metadata::Help => {
                if builder.help_set {
                    return Err(format!("second HELP line for {name}"));
                }
                builder.family.help = unescape_help(value);
                builder.help_set = true;
            }
            Metadata::Type => {
                if builder.type_set {
                    return Err(format!("second TYPE line for {name}"));
                }
                builder.family.metric_type = parse_type(value.trim())?;
                builder.type_set = true;
            }
            Metadata::Unit => {
                if builder.unit_set {
                    return Err(format!("second UNIT line for {name}"));
                }
                builder.family.unit = value.trim().to_string();
                builder.unit_set = true;
            }
        }
        Ok(())
    }

    fn sample(&mut self, line: &str) -> Result<(), String> {
        let parsed = parse_sample_line(line, self.format)?;
        let suffix = match self.current.as_mut() {
            Some(builder) => builder.accept(parsed.name),
            None => None,
        };
        let suffix = match suffix {
            Some(suffix) => suffix,
            None => {
                self.start(parsed.name);
                ""
            }
        };
        if let Some(builder) = self.current.as_mut() {
            if suffix.is_empty() && parsed.name == builder.base {
                builder.has_plain = true;
            }
            builder.family.samples.push(Sample {
                suffix,
                labels: parsed.labels,
                value: parsed.value,
                timestamp_ms: parsed.timestamp_ms,
            });
        }
        Ok(())
    }

    fn start(&mut self, name: &str) {
        self.finish_current();
        self.current = Some(Builder {
            family: MetricFamily::new(name, "", MetricType::Untyped),
            base: name.to_string(),
            type_set: false,
            help_set: false,
            unit_set: false,
            has_plain: false,
        });
    }

    fn finish_current(&mut self) {
        if let Some(builder) = self.current.take() {
            if !builder.family.samples.is_empty() {
                self.families.push(builder.family);
            }
        }
    }
}

impl Builder {
    /// The suffix under which a sample called `name` belongs to this family, or None when it
    /// starts a new family. May rename the family (`foo` → `foo_total`, see the module docs).
    fn accept(&mut self, name: &str) -> Option<&'static str> {
        let rest = name.strip_prefix(self.base.as_str())?;
        let renamed = self.family.name != self.base;
        match (self.family.metric_type, rest) {
            (MetricType::Counter, "_total") | (MetricType::Info, "_info") => {
                if self.has_plain {
                    return None;
                }
                if !renamed {
                    self.family.name = name.to_string();
                }
                Some("")
            }
            (MetricType::Counter | MetricType::Info, "") if renamed => None,
            (MetricType::Counter, "_created") => Some("_created"),
            (_, "")
                if self.family.metric_type != MetricType::Histogram
                    && self.family.metric_type != MetricType::Gaugehistogram =>
            {
                Some("")
            }
            (MetricType::Histogram | MetricType::Gaugehistogram, "_bucket") => Some("_bucket"),
            (MetricType::Histogram | MetricType::Summary, "_sum") => Some("_sum"),
            (MetricType::Histogram | MetricType::Summary, "_count") => Some("_count"),
            (MetricType::Histogram | MetricType::Summary, "_created") => Some("_created"),
            (MetricType::Gaugehistogram, "_gsum") => Some("_gsum"),
            (MetricType::Gaugehistogram, "_gcount") => Some("_gcount"),
            _ => None,
        }
    }
}

fn parse_type(word: &str) -> Result<MetricType, String> {
    Ok(match word {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" | "unknown" => MetricType::Untyped,
        "info" => MetricType::Info,
        "stateset" => MetricType::Stateset,
        "gaugehistogram" => MetricType::Gaugehistogram,
        other => {
            return Err(format!(
                "unknown metric type {other:?} (expected counter, gauge, histogram, summary, \
                 untyped, unknown, info, stateset or gaugehistogram)"
            ))
        }
    })
}

/// The first whitespace-separated word and the rest (starting at the whitespace).
fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(end) => (&s[..end], &s[end..]),
        None => (s, ""),
    }
}

/// `\\` → `\`, `\n` → newline, `\"` → `"`; other backslashes are kept as written.
fn unescape_help(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

struct ParsedSample<'a> {
    name: &'a str,
    labels: Labels,
    value: f64,
    timestamp_ms: Option<i64>,
}

fn parse_sample_line(line: &str, format: Format) -> Result<ParsedSample<'_>, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_valid_metric_name(name) {
        return Err("a sample line must start with a metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = Labels::new();
    if let Some(after_brace) = rest.trim_start_matches([' ', '\t']).strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(if rest.is_empty() {
            "the sample has no value".into()
        } else {
            "expected a space before the value".into()
        });
    }
    let mut tokens = rest.split([' ', '\t']).filter(|t| !t.is_empty());
    let value_text = tokens.next().ok_or("the sample has no value")?;
    let value = parse_value(value_text).ok_or_else(|| format!("{value_text:?} is not a number"))?;
    let mut timestamp_ms = None;
    if let Some(token) = tokens.next() {
        if !token.starts_with('#') {
            timestamp_ms = Some(parse_timestamp(token, format)?);
            if let Some(extra) = tokens.next() {
                if !extra.starts_with('#') {
                    return Err(format!("unexpected {extra:?} after the timestamp"));
                }
            }
        }
        // `# {trace_id="…"} 1 123`: an exemplar, dropped.
    }
    Ok(ParsedSample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses `name="value",…}` (the `{` already consumed) into `labels`; returns what follows `}`.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Labels) -> Result<&'a str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let name_end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let name = &s[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a label name".into());
        }
        s = s[name_end..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected `=` after label {name}"))?
            .trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of label {name} must be in double quotes"))?;
        let (value, after) = parse_label_value(s)
            .ok_or_else(|| format!("the value of label {name} has no closing quote"))?;
        // Prometheus refuses a whole page with a repeated label name; refuse it here, with
        // the reason, rather than pass it on.
        if labels.iter().any(|(existing, _)| existing == name) {
            return Err(format!("label {name} appears twice"));
        }
        labels.push((name.to_string(), value));
        s = after.trim_start_matches([' ', '\t']);
        if let Some(after_comma) = s.strip_prefix(',') {
            s = after_comma;
        } else if !s.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label {name}"));
        }
    }
}

/// Reads an escaped label value up to its closing quote; returns the value and what follows.
fn parse_label_value(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

/// A sample value: a float, `NaN`, `+Inf`, `-Inf` (as Go's `strconv.ParseFloat` reads them).
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        // Rust also reads words like "infinity"; only digits, signs, dots and exponents here.
        _ if s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE_".contains(&b)) =>
        {
            if s.contains('_') {
                s.replace('_', "").parse().ok()
            } else {
                s.parse().ok()
            }
        }
        _ => None,
    }
}

fn parse_timestamp(token: &str, format: Format) -> Result<i64, String> {
    match format {
        Format::Text => token
            .parse::<i64>()
            .map_err(|_| format!("timestamp {token:?} is not an integer number of milliseconds")),
        Format::OpenMetrics => match parse_value(token) {
            Some(seconds) if seconds.is_finite() && seconds.abs() < 9.2e15 => {
                Ok((seconds * 1000.0).round() as i64)
            }
            _ => Err(format!("timestamp {token:?} is not a number of seconds")),
        },
    }
}

#[cfg(test)]
mod repeated_label_tests {
    use super::*;

    #[test]
    fn a_repeated_label_name_is_a_parse_error() {
        let error = parse_exposition(b"m{a=\"1\",a=\"2\"} 1\n").unwrap_err();
        assert!(
            error.message.contains("label a appears twice"),
            "{}",
            error.message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Reason;
    use crate::model::labels;

    fn family<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    }

    fn parse(text: &str) -> Vec<MetricFamily> {
        parse_exposition(text.as_bytes()).unwrap()
    }

    fn error(text: &str) -> String {
        let e = parse_exposition(text.as_bytes()).unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        e.message
    }

    /// Every `# TYPE` line of a fixture names one family, and samples with no type line are
    /// counted as families of their own.
    fn type_lines(text: &str) -> usize {
        text.lines().filter(|l| l.starts_with("# TYPE ")).count()
    }

    fn sample_lines(text: &str) -> usize {
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count()
    }

    fn total_samples(families: &[MetricFamily]) -> usize {
        families.iter().map(|f| f.samples.len()).sum()
    }

    #[test]
    fn node_exporter_text() {
        let text = include_str!("../../tests/fixtures/prom/node_exporter_text.txt");
        let families = parse(text);
        assert_eq!(families.len(), type_lines(text));
        assert_eq!(total_samples(&families), sample_lines(text));
        let cpu = family(&families, "node_cpu_seconds_total");
        assert_eq!(cpu.metric_type, MetricType::Counter);
        assert_eq!(cpu.help, "Seconds the CPUs spent in each mode.");
        assert!(cpu.samples.iter().all(|s| s.suffix.is_empty()));
        assert!(cpu
            .samples
            .iter()
            .any(|s| s.labels == labels([("cpu", "0"), ("mode", "idle")])));
        let build = family(&families, "node_exporter_build_info");
        assert_eq!(build.metric_type, MetricType::Gauge);
        assert_eq!(build.samples[0].value, 1.0);
        assert!(build.samples[0]
            .labels
            .iter()
            .any(|(k, _)| k == "goversion"));
        // A summary: quantiles, then _sum and _count.
        let gc = family(&families, "go_gc_duration_seconds");
        assert_eq!(gc.metric_type, MetricType::Summary);
        let suffixes: Vec<&str> = gc.samples.iter().map(|s| s.suffix).collect();
        assert_eq!(suffixes, ["", "", "", "", "", "_sum", "_count"]);
        assert_eq!(gc.samples[0].labels, labels([("quantile", "0")]));
    }

    #[test]
    fn prometheus_server_text_histograms() {
        let text = include_str!("../../tests/fixtures/prom/prometheus_text.txt");
        let families = parse(text);
        assert_eq!(families.len(), type_lines(text));
        assert_eq!(total_samples(&families), sample_lines(text));
        let histograms: Vec<&MetricFamily> = families
            .iter()
            .filter(|f| f.metric_type == MetricType::Histogram)
            .collect();
        assert!(histograms.len() >= 5, "{}", histograms.len());
        for h in histograms {
            // Buckets end with +Inf, whose value equals _count, per label set.
            let inf: Vec<&Sample> = h
                .samples
                .iter()
                .filter(|s| {
                    s.suffix == "_bucket"
                        && s.labels
                            .last()
                            .is_some_and(|(k, v)| k == "le" && v == "+Inf")
                })
                .collect();
            let counts: Vec<&Sample> = h.samples.iter().filter(|s| s.suffix == "_count").collect();
            assert_eq!(inf.len(), counts.len(), "{}", h.name);
            for (i, c) in inf.iter().zip(&counts) {
                assert_eq!(i.value, c.value, "{}", h.name);
            }
            assert!(h
                .samples
                .iter()
                .all(|s| ["_bucket", "_sum", "_count"].contains(&s.suffix)));
        }
        let http = family(&families, "prometheus_http_request_duration_seconds");
        assert!(http.samples.iter().any(|s| s.suffix == "_bucket"
            && s.labels == labels([("handler", "/metrics"), ("le", "0.1")])));
    }

    #[test]
    fn pushgateway_text_escaping_nan_and_untyped() {
        let text = include_str!("../../tests/fixtures/prom/pushgateway_text.txt");
        let families = parse(text);
        assert_eq!(families.len(), type_lines(text));
        let untyped = family(&families, "batch_untyped");
        assert_eq!(untyped.metric_type, MetricType::Untyped);
        assert!(untyped.samples[0].value.is_nan());
        assert_eq!(
            untyped.samples[0].labels,
            labels([
                ("instance", "i1"),
                ("job", "batch"),
                ("msg", "say \"hi\"\nbye"),
                ("path", "C:\\dir\\file")
            ])
        );
        let last = family(&families, "batch_last_success_timestamp_seconds");
        assert_eq!(
            last.help,
            "Last time the batch \"job\" succeeded\nin seconds."
        );
        assert_eq!(last.samples[0].value, 1.7e9);
        let hist = family(&families, "batch_duration_seconds");
        assert_eq!(hist.samples.len(), 5);
        assert_eq!(
            hist.samples[2].labels[2],
            ("le".to_string(), "+Inf".to_string())
        );
        assert_eq!(hist.samples[3].suffix, "_sum");
        assert_eq!(hist.samples[3].value, 3.5);
        let records = family(&families, "batch_records_total");
        assert_eq!(records.metric_type, MetricType::Counter);
        assert_eq!(records.samples[0].value, 42.0);
    }

    #[test]
    fn python_client_openmetrics() {
        let text = include_str!("../../tests/fixtures/prom/python_client_openmetrics.txt");
        let families = parse(text);
        assert_eq!(families.len(), type_lines(text));
        // Counter: `# TYPE app_requests counter` → family app_requests_total.
        let requests = family(&families, "app_requests_total");
        assert_eq!(requests.metric_type, MetricType::Counter);
        assert_eq!(requests.help, "Requests handled.");
        let suffixes: Vec<&str> = requests.samples.iter().map(|s| s.suffix).collect();
        assert_eq!(suffixes, ["", "_created", "", "_created"]);
        assert_eq!(requests.samples[0].value, 7.0);
        assert_eq!(
            requests.samples[2].labels,
            labels([("method", "POST"), ("path", "/a \"quoted\"\\path\nnl")])
        );
        assert!(requests.samples[1].value > 1.7e9);
        // Exemplar dropped, value kept.
        let errors = family(&families, "app_errors_total");
        assert_eq!(errors.samples[0].value, 1.0);
        assert_eq!(errors.samples[0].timestamp_ms, None);
        let temp = family(&families, "app_temperature_celsius");
        assert_eq!(temp.unit, "celsius");
        assert_eq!(temp.samples[0].value, -3.5);
        let latency = family(&families, "app_latency_seconds");
        assert_eq!(latency.metric_type, MetricType::Histogram);
        let suffixes: Vec<&str> = latency.samples.iter().map(|s| s.suffix).collect();
        assert_eq!(
            suffixes,
            ["_bucket", "_bucket", "_bucket", "_bucket", "_count", "_sum", "_created"]
        );
        assert_eq!(latency.samples[1].value, 3.0);
        let build = family(&families, "app_build_info");
        assert_eq!(build.metric_type, MetricType::Info);
        assert_eq!(
            build.samples[0].labels,
            labels([("revision", "abc"), ("version", "1.2.3")])
        );
        let state = family(&families, "app_state");
        assert_eq!(state.metric_type, MetricType::Stateset);
        assert_eq!(state.samples.len(), 3);
        assert_eq!(family(&families, "app_big").samples[0].value, f64::INFINITY);
        assert!(family(&families, "app_inflight").samples[0].value.is_nan());
        let summary = family(&families, "app_payload_bytes");
        assert_eq!(
            summary.samples.iter().map(|s| s.suffix).collect::<Vec<_>>(),
            ["_count", "_sum", "_created"]
        );
    }

    #[test]
    fn python_client_text_same_values() {
        // The same registry in 0.0.4: `_created` series are gauges of their own there.
        let text = include_str!("../../tests/fixtures/prom/python_client_text.txt");
        let families = parse(text);
        assert_eq!(families.len(), type_lines(text));
        assert_eq!(family(&families, "app_requests_total").samples.len(), 2);
        assert_eq!(
            family(&families, "app_requests_created").metric_type,
            MetricType::Gauge
        );
    }

    #[test]
    fn timestamps() {
        let families = parse("a 1 1700000000123\n");
        assert_eq!(families[0].samples[0].timestamp_ms, Some(1_700_000_000_123));
        let families = parse("# TYPE a gauge\na 1 1700000000.123\n# EOF\n");
        assert_eq!(families[0].samples[0].timestamp_ms, Some(1_700_000_000_123));
        let families =
            parse("# TYPE a_total counter\na_total 1 1700000000 # {x=\"y\"} 1 1.5\n# EOF");
        assert_eq!(families[0].samples[0].timestamp_ms, Some(1_700_000_000_000));
        assert!(error("a 1 1.5\n").contains("not an integer number of milliseconds"));
    }

    #[test]
    fn untyped_samples_and_comments() {
        let families =
            parse("# just a comment\n\nfoo 1\nfoo{a=\"b\"} 2\nbar 3\n#no space\nfoo 4\n");
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["foo", "bar", "foo"]);
        assert!(families
            .iter()
            .all(|f| f.metric_type == MetricType::Untyped));
        assert_eq!(families[0].samples.len(), 2);
        // HELP without TYPE; a TYPE line with no samples is dropped.
        let families = parse("# HELP x The x.\nx 1\n# TYPE empty gauge\n# TYPE y gauge\ny 2\n");
        assert_eq!(families.len(), 2);
        assert_eq!(families[0].help, "The x.");
        assert_eq!(families[0].metric_type, MetricType::Untyped);
        // A counter sample not matching the family starts a new one.
        let families = parse("# TYPE c_total counter\nc_total 1\nc_other 2\n");
        assert_eq!(families.len(), 2);
        assert_eq!(families[1].name, "c_other");
    }

    #[test]
    fn labels_syntax() {
        let families = parse("m{a=\"1\",b=\"x,y}\",} 1\nm { a = \"2\" } 2\nm{} 3\n");
        let samples = &families[0].samples;
        assert_eq!(samples[0].labels, labels([("a", "1"), ("b", "x,y}")]));
        assert_eq!(samples[1].labels, labels([("a", "2")]));
        assert!(samples[2].labels.is_empty());
        let families = parse("m{a=\"é \\t\"} -1.5e-3\n");
        assert_eq!(families[0].samples[0].labels, labels([("a", "é \\t")]));
        assert_eq!(families[0].samples[0].value, -0.0015);
    }

    #[test]
    fn bad_input() {
        assert_eq!(
            error("m{a=\"1\" 1\n"),
            "line 1: expected `,` or `}` after label a: \"m{a=\\\"1\\\" 1\""
        );
        assert!(error("ok 1\nm{a=\"1} 1\n")
            .starts_with("line 2: the value of label a has no closing quote"));
        assert!(error("m{a=1} 1\n").contains("double quotes"));
        assert!(error("m\n").contains("has no value"));
        assert!(error("m abc\n").contains("\"abc\" is not a number"));
        assert!(error("m infinity\n").contains("is not a number"));
        assert!(error("m 1 2 3\n").contains("after the timestamp"));
        assert!(error("# TYPE m foo\nm 1\n").contains("unknown metric type \"foo\""));
        assert!(error("# TYPE 9m gauge\n").contains("not a valid metric name"));
        assert!(error("# TYPE m gauge\n# TYPE m counter\nm 1\n").contains("second TYPE line"));
        assert!(error("<html>oops</html>\n").contains("must start with a metric name"));
        assert!(error("a 1\n# EOF\nb 2\n").contains("`# EOF` before the end"));
        let e = parse_exposition(b"a 1 \xff\n").unwrap_err();
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        let e =
            parse_exposition_as(b"# TYPE a gauge\na 1\n", Some(Format::OpenMetrics)).unwrap_err();
        assert!(e.message.contains("cut short"), "{}", e.message);
        // Truncated mid-line.
        let text = include_str!("../../tests/fixtures/prom/node_exporter_text.txt");
        let cut = &text[..text.find("node_cpu_seconds_total{").unwrap() + 30];
        assert!(parse_exposition(cut.as_bytes()).is_err());
        assert_eq!(parse(""), []);
    }
}
