//! `format: regex`: a regular expression with named captures, applied to the whole answer
//! (nginx `stub_status`, any page that is easier to match than to split).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::collector::CollectError;

use super::{parse_error, utf8};

/// Options of `format: {type: regex, …}`.
///
/// Each named group (`(?P<active>\d+)`) becomes a key whose value is the matched text, a
/// string; a group that took no part in the match is left out. Syntax: the `regex` crate's
/// (RE2-like: no look-around, no back-references). `.` does not match a newline unless the
/// pattern starts with `(?s)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawRegexConfig")]
pub struct RegexConfig {
    /// The pattern, checked when the configuration is loaded; it needs at least one named group.
    pub pattern: regex::Regex,
    /// `false` (default): the first match gives one object `{"active": "1", …}`.
    /// `true`: every match gives one object, in an array `[{…}, {…}]`.
    /// In both cases an answer the pattern does not match at all is an error.
    pub multiple: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegexConfig {
    pattern: String,
    #[serde(default)]
    multiple: bool,
}

impl TryFrom<RawRegexConfig> for RegexConfig {
    type Error = String;

    fn try_from(raw: RawRegexConfig) -> Result<Self, String> {
        let pattern = regex::Regex::new(&raw.pattern)
            .map_err(|e| format!("`pattern` is not a valid regular expression: {e}"))?;
        if pattern.capture_names().flatten().next().is_none() {
            return Err(format!(
                "`pattern` {:?} has no named capture group: name what to keep, as in `(?P<active>\\d+)`",
                raw.pattern
            ));
        }
        Ok(RegexConfig {
            pattern,
            multiple: raw.multiple,
        })
    }
}

impl RegexConfig {
    /// A config from a pattern (for code and tests; YAML goes through `Deserialize`).
    pub fn new(pattern: &str, multiple: bool) -> Result<Self, String> {
        RegexConfig::try_from(RawRegexConfig {
            pattern: pattern.to_string(),
            multiple,
        })
    }
}

/// Applies the pattern to the whole body (see [`RegexConfig`] for the shape).
pub fn parse(config: &RegexConfig, body: &[u8]) -> Result<Value, CollectError> {
    let text = utf8(body)?;
    let re = &config.pattern;
    let no_match = || {
        parse_error(format!(
            "the answer does not match the pattern {:?}",
            re.as_str()
        ))
    };
    if config.multiple {
        let matches: Vec<Value> = re
            .captures_iter(text)
            .map(|captures| captures_object(re, &captures))
            .collect();
        if matches.is_empty() {
            return Err(no_match());
        }
        Ok(Value::Array(matches))
    } else {
        let captures = re.captures(text).ok_or_else(no_match)?;
        Ok(captures_object(re, &captures))
    }
}

fn captures_object(re: &regex::Regex, captures: &regex::Captures) -> Value {
    let mut object = Map::new();
    for name in re.capture_names().flatten() {
        if let Some(m) = captures.name(name) {
            object.insert(name.to_string(), Value::String(m.as_str().to_string()));
        }
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Reason;
    use serde_json::json;

    const STUB_STATUS: &str = r"(?s)Active connections:\s*(?P<active>\d+).*?(?P<accepts>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+).*?Reading:\s*(?P<reading>\d+)\s+Writing:\s*(?P<writing>\d+)\s+Waiting:\s*(?P<waiting>\d+)";

    #[test]
    fn nginx_stub_status() {
        let config = RegexConfig::new(STUB_STATUS, false).unwrap();
        let body = include_bytes!("../../tests/fixtures/raw/nginx_stub_status.txt");
        let value = parse(&config, body).unwrap();
        assert_eq!(
            value,
            json!({"active": "1", "accepts": "5", "handled": "5", "requests": "4",
                   "reading": "0", "writing": "1", "waiting": "0"})
        );
    }

    #[test]
    fn multiple_matches() {
        let config = RegexConfig::new(
            r"(?m)^(?P<name>\w+) (?P<value>\d+)(?: (?P<unit>\w+))?$",
            true,
        )
        .unwrap();
        let value = parse(&config, b"cpu 12 ms\nmem 300\n-- 4\n").unwrap();
        assert_eq!(
            value,
            json!([{"name": "cpu", "value": "12", "unit": "ms"}, {"name": "mem", "value": "300"}])
        );
    }

    #[test]
    fn no_match_names_the_pattern() {
        let config = RegexConfig::new(STUB_STATUS, false).unwrap();
        let e = parse(&config, b"<html>404 Not Found</html>").unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert!(e
            .message
            .starts_with("the answer does not match the pattern \"(?s)Active"));
        // Truncated stub_status.
        assert!(parse(
            &config,
            b"Active connections: 1 \nserver accepts handled requests\n 5 5"
        )
        .is_err());
        let multi = RegexConfig::new(r"(?P<n>\d+)", true).unwrap();
        assert!(parse(&multi, b"none here").is_err());
        let e = parse(&config, b"Active connections: \xff").unwrap_err();
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }
}
