//! Escaping and number formatting shared by both exposition formats.

use crate::model::Labels;

/// Appends the `# HELP` (when there is help text) and `# TYPE` lines of a family;
/// `escape_quotes` as for [`write_escaped`] (OpenMetrics escapes quotes in HELP, 0.0.4 does not).
pub(super) fn write_help_and_type(
    out: &mut Vec<u8>,
    name: &[u8],
    help: &str,
    type_word: &str,
    escape_quotes: bool,
) {
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name);
        out.push(b' ');
        write_escaped(out, help, escape_quotes);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(name);
    out.push(b' ');
    out.extend_from_slice(type_word.as_bytes());
    out.push(b'\n');
}

/// Appends `text` with `\` → `\\` and newline → `\n`, and also `"` → `\"` when `escape_quotes`
/// is set (label values in both formats, HELP text in OpenMetrics; text 0.0.4 HELP leaves
/// quotes alone).
pub(super) fn write_escaped(out: &mut Vec<u8>, text: &str, escape_quotes: bool) {
    let bytes = text.as_bytes();
    let mut unwritten_from = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let replacement: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if escape_quotes => b"\\\"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[unwritten_from..i]);
        out.extend_from_slice(replacement);
        unwritten_from = i + 1;
    }
    out.extend_from_slice(&bytes[unwritten_from..]);
}

/// Appends `{name="value",…}`, or nothing for an empty label set. Label names are written as
/// they are: the config loader and the mappings validate them.
pub(super) fn write_labels(out: &mut Vec<u8>, labels: &Labels) {
    if labels.is_empty() {
        return;
    }
    out.push(b'{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        write_escaped(out, value, true);
        out.push(b'"');
    }
    out.push(b'}');
}

/// Integral values below this magnitude are written as plain integers (`42`, not `42.0` or
/// `4.2e1`); 1e15 is well inside the range where every integer is exact in an f64.
const PLAIN_INTEGER_LIMIT: f64 = 1e15;

/// Appends a sample value: `+Inf`, `-Inf` and `NaN` spelled as Prometheus' Go client spells
/// them (the only spellings every parser accepts), integers without a fraction, everything else
/// in the shortest form that parses back to the same f64 (`0.1`, `1.5e-7`, `1e20`).
pub(super) fn write_value(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if value.fract() == 0.0 && value.abs() < PLAIN_INTEGER_LIMIT {
        // Exact: the value is integral and far inside i64's range.
        let mut buffer = itoa::Buffer::new();
        out.extend_from_slice(buffer.format(value as i64).as_bytes());
    } else {
        let mut buffer = ryu::Buffer::new();
        out.extend_from_slice(buffer.format_finite(value).as_bytes());
    }
}

/// Appends a timestamp in milliseconds, as text 0.0.4 writes it.
pub(super) fn write_timestamp_ms(out: &mut Vec<u8>, timestamp_ms: i64) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(timestamp_ms).as_bytes());
}

/// Appends a millisecond timestamp as seconds, as OpenMetrics writes it: `1700000000.123`, or
/// `1700000000` for whole seconds. Integer arithmetic, so no digit is lost to float rounding.
pub(super) fn write_timestamp_seconds(out: &mut Vec<u8>, timestamp_ms: i64) {
    if timestamp_ms < 0 {
        out.push(b'-');
    }
    let magnitude = timestamp_ms.unsigned_abs();
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(magnitude / 1000).as_bytes());
    let millis = magnitude % 1000;
    if millis != 0 {
        out.push(b'.');
        out.push(b'0' + (millis / 100) as u8);
        out.push(b'0' + (millis / 10 % 10) as u8);
        out.push(b'0' + (millis % 10) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::labels;

    fn escaped(text: &str, escape_quotes: bool) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, text, escape_quotes);
        String::from_utf8(out).unwrap()
    }

    fn value(v: f64) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn seconds(ms: i64) -> String {
        let mut out = Vec::new();
        write_timestamp_seconds(&mut out, ms);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escaping() {
        assert_eq!(escaped("plain", true), "plain");
        assert_eq!(escaped(r#"a\b"c"#, true), r#"a\\b\"c"#);
        assert_eq!(escaped(r#"a\b"c"#, false), r#"a\\b"c"#);
        assert_eq!(escaped("two\nlines\n", false), "two\\nlines\\n");
        assert_eq!(escaped("ünï\tcode", true), "ünï\tcode");
        assert_eq!(escaped("", true), "");
    }

    #[test]
    fn label_sets() {
        let mut out = Vec::new();
        write_labels(&mut out, &Vec::new());
        assert!(out.is_empty());
        write_labels(&mut out, &labels([("a", "1"), ("b", "x\"y")]));
        assert_eq!(String::from_utf8(out).unwrap(), r#"{a="1",b="x\"y"}"#);
    }

    #[test]
    fn values() {
        assert_eq!(value(0.0), "0");
        assert_eq!(value(-0.0), "0");
        assert_eq!(value(42.0), "42");
        assert_eq!(value(-3.0), "-3");
        assert_eq!(value(0.1), "0.1");
        assert_eq!(value(1.5e-7), "1.5e-7");
        assert_eq!(value(123456789012.5), "123456789012.5");
        assert_eq!(value(1e20), "1e20");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        for v in [
            0.1,
            1.0 / 3.0,
            1e300,
            -2.5e-300,
            999999999999999.9,
            1e15,
            f64::MAX,
        ] {
            assert_eq!(value(v).parse::<f64>().unwrap(), v, "{v} round-trips");
        }
    }

    #[test]
    fn timestamps() {
        let mut out = Vec::new();
        write_timestamp_ms(&mut out, 1_700_000_000_123);
        assert_eq!(out, b"1700000000123");
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(seconds(1_700_000_000_000), "1700000000");
        assert_eq!(seconds(1_700_000_000_005), "1700000000.005");
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(-1_500), "-1.500");
        assert_eq!(seconds(i64::MIN), "-9223372036854775.808");
    }
}
