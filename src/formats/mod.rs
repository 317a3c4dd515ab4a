//! Formats: how the bytes a source fetched become records. Every format is a pure function from
//! bytes to a JSON value, so that one mapping engine (json_exporter's schema) serves all of them.
//!
//! | `format:` | output |
//! |---|---|
//! | `json` | the document itself |
//! | `kv` | `{ "key": "value", … }` (or `{ "Section": { "key": "value" } }` with `sections: true`) |
//! | `regex` | `{ "capture": "text", … }`, or `[ {…}, … ]` with `multiple: true` |
//! | `csv` | `[ { "column": "text", … }, … ]`, one object per row |
//!
//! Text formats keep every value as a JSON string, exactly as the source wrote it; the mapping
//! turns numeric strings into numbers. The Prometheus text format is not one of these: it is
//! parsed straight into metric families by [`prom_text::parse_exposition`].

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::collector::{CollectError, Reason};

pub mod csv;
pub mod json;
pub mod kv;
pub mod prom_text;
pub mod regex;

pub use self::csv::CsvConfig;
pub use self::kv::{KvConfig, SplitValues};
pub use self::regex::RegexConfig;

/// `format:` of a collector: how the answer's bytes become records for `metrics:`.
///
/// Either a plain name (`format: json`, `format: kv`, `format: csv`) for the defaults, or a map
/// with `type:` and that format's options (`format: {type: kv, separator: " ", line_prefix:
/// "STAT "}`). `regex` always needs the map form, for its `pattern`.
#[derive(Debug, Clone, Default)]
pub enum FormatConfig {
    /// `type: json`: the answer is a JSON document, used as is.
    #[default]
    Json,
    /// `type: kv`: `key: value` lines.
    Kv(KvConfig),
    /// `type: regex`: a regular expression with named captures.
    Regex(RegexConfig),
    /// `type: csv`: comma-separated values with a header row.
    Csv(CsvConfig),
}

impl FormatConfig {
    /// The format's name as written in `type:`.
    pub fn name(&self) -> &'static str {
        match self {
            FormatConfig::Json => "json",
            FormatConfig::Kv(_) => "kv",
            FormatConfig::Regex(_) => "regex",
            FormatConfig::Csv(_) => "csv",
        }
    }
}

/// Parses `body` according to `config`. Every failure is a [`Reason::Parse`] error with a
/// sentence that says what is wrong and where.
pub fn parse(config: &FormatConfig, body: &[u8]) -> Result<serde_json::Value, CollectError> {
    match config {
        FormatConfig::Json => json::parse(body),
        FormatConfig::Kv(kv) => kv::parse(kv, body),
        FormatConfig::Regex(re) => regex::parse(re, body),
        FormatConfig::Csv(csv) => csv::parse(csv, body),
    }
}

/// A [`Reason::Parse`] error.
pub(crate) fn parse_error(message: impl Into<String>) -> CollectError {
    CollectError::new(Reason::Parse, message)
}

/// The body as text, or an error naming the first byte that is not UTF-8.
pub(crate) fn utf8(body: &[u8]) -> Result<&str, CollectError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let offset = e.valid_up_to();
        let line = body[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        parse_error(format!(
            "the answer is not UTF-8 text: invalid byte 0x{:02x} at offset {offset} (line {line})",
            body.get(offset).copied().unwrap_or(0)
        ))
    })?;
    // A byte-order mark is not part of the content.
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The map form: `type:` selects the variant, the other keys are that format's options.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum TaggedFormat {
    Json(JsonOptions),
    Kv(KvConfig),
    Regex(RegexConfig),
    Csv(CsvConfig),
}

/// `type: json` takes no options; this makes any other key an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOptions {}

impl From<TaggedFormat> for FormatConfig {
    fn from(tagged: TaggedFormat) -> Self {
        match tagged {
            TaggedFormat::Json(JsonOptions {}) => FormatConfig::Json,
            TaggedFormat::Kv(c) => FormatConfig::Kv(c),
            TaggedFormat::Regex(c) => FormatConfig::Regex(c),
            TaggedFormat::Csv(c) => FormatConfig::Csv(c),
        }
    }
}

const FORMAT_NAMES: &[&str] = &["json", "kv", "regex", "csv"];

impl<'de> Deserialize<'de> for FormatConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FormatVisitor;

        impl<'de> Visitor<'de> for FormatVisitor {
            type Value = FormatConfig;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a format name (json, kv, csv) or a map with `type:` and its options")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<FormatConfig, E> {
                match name {
                    "json" => Ok(FormatConfig::Json),
                    "kv" => Ok(FormatConfig::Kv(KvConfig::default())),
                    "csv" => Ok(FormatConfig::Csv(CsvConfig::default())),
                    "regex" => Err(E::custom(
                        "the regex format needs a pattern: write `format: {type: regex, pattern: '…'}`",
                    )),
                    other => Err(E::unknown_variant(other, FORMAT_NAMES)),
                }
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FormatConfig, M::Error> {
                TaggedFormat::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FormatConfig::from)
            }
        }

        deserializer.deserialize_any(FormatVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_yaml(yaml: &str) -> Result<FormatConfig, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn short_and_long_forms() {
        assert!(matches!(from_yaml("json").unwrap(), FormatConfig::Json));
        assert!(matches!(
            from_yaml("{type: json}").unwrap(),
            FormatConfig::Json
        ));
        let FormatConfig::Kv(kv) = from_yaml("kv").unwrap() else {
            panic!("not kv")
        };
        assert_eq!(kv.separator, ":");
        let FormatConfig::Kv(kv) =
            from_yaml("type: kv\nseparator: ' '\nline_prefix: 'STAT '\n").unwrap()
        else {
            panic!("not kv")
        };
        assert_eq!(kv.separator, " ");
        assert_eq!(kv.line_prefix.as_deref(), Some("STAT "));
        assert!(matches!(from_yaml("csv").unwrap(), FormatConfig::Csv(_)));
        assert!(matches!(
            from_yaml("{type: regex, pattern: 'a(?P<x>b)'}").unwrap(),
            FormatConfig::Regex(_)
        ));
    }

    #[test]
    fn config_errors_say_what_is_valid() {
        let e = from_yaml("xml").unwrap_err();
        assert!(
            e.contains("unknown variant `xml`") && e.contains("kv"),
            "{e}"
        );
        let e = from_yaml("regex").unwrap_err();
        assert!(e.contains("needs a pattern"), "{e}");
        let e = from_yaml("{type: kv, separatr: ' '}").unwrap_err();
        assert!(e.contains("unknown field `separatr`"), "{e}");
        let e = from_yaml("{type: json, pattern: x}").unwrap_err();
        assert!(e.contains("unknown field `pattern`"), "{e}");
        let e = from_yaml("{type: regex, pattern: '(unclosed'}").unwrap_err();
        assert!(e.contains("pattern"), "{e}");
        let e = from_yaml("{type: regex, pattern: 'no captures'}").unwrap_err();
        assert!(e.contains("named capture"), "{e}");
        let e = from_yaml("{type: kv, separator: ''}").unwrap_err();
        assert!(e.contains("separator"), "{e}");
    }

    #[test]
    fn non_utf8_is_named() {
        let e = utf8(b"ok\nbad \xff here").unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert!(
            e.message.contains("0xff at offset 7 (line 2)"),
            "{}",
            e.message
        );
        assert_eq!(utf8("\u{feff}a".as_bytes()).unwrap(), "a");
    }

    /// A small deterministic generator (xorshift64*) so the test needs no extra crate.
    struct Prng(u64);

    impl Prng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Random bytes, biased towards the characters the parsers care about.
        fn bytes(&mut self, max_len: usize) -> Vec<u8> {
            const INTERESTING: &[u8] = b"{}[]\":,=#\n\r \t\\0123456789.eE+-_aAzZ{le=\"\"}NaNInf";
            let len = (self.next() % max_len as u64) as usize;
            (0..len)
                .map(|_| {
                    let r = self.next();
                    if r.is_multiple_of(4) {
                        (r >> 8) as u8
                    } else {
                        INTERESTING[(r >> 8) as usize % INTERESTING.len()]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let configs: Vec<FormatConfig> = [
            "json",
            "kv",
            "{type: kv, sections: true, comment_prefix: '#', split_values: {pairs: ',', kv: '='}}",
            "{type: kv, separator: ' ', line_prefix: 'STAT ', terminator_line: END, skip_invalid_lines: true}",
            "{type: regex, pattern: '(?P<a>\\d+)\\s*(?P<b>[a-z]*)'}",
            "{type: regex, pattern: '(?P<a>\\d+)(?P<b>:)?', multiple: true}",
            "csv",
            "{type: csv, header_prefix: '# '}",
        ]
        .iter()
        .map(|y| from_yaml(y).unwrap())
        .collect();
        let mut prng = Prng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let body = prng.bytes(300);
            for config in &configs {
                let _ = parse(config, &body);
            }
            let _ = prom_text::parse_exposition(&body);
        }
        // Mutations of real pages reach deeper into the parsers than noise does.
        let seeds: [&[u8]; 4] = [
            include_bytes!("../../tests/fixtures/prom/python_client_openmetrics.txt"),
            include_bytes!("../../tests/fixtures/raw/redis_info.txt"),
            include_bytes!("../../tests/fixtures/raw/haproxy_stats.csv"),
            include_bytes!("../../tests/fixtures/raw/php_fpm_status_full.json"),
        ];
        for _ in 0..400 {
            let seed = seeds[(prng.next() % seeds.len() as u64) as usize];
            let mut body = seed.to_vec();
            for _ in 0..(prng.next() % 8 + 1) {
                let at = (prng.next() % body.len() as u64) as usize;
                match prng.next() % 3 {
                    0 => body[at] = prng.next() as u8,
                    1 => body.truncate(at),
                    _ => body.splice(at..at, prng.bytes(12)).for_each(drop),
                }
                if body.is_empty() {
                    break;
                }
            }
            for config in &configs {
                let _ = parse(config, &body);
            }
            let _ = prom_text::parse_exposition(&body);
        }
    }
}
