//! What a reader of an explanation may see: the app's data only where answers may be shown, and
//! never a value under a key that looks like a secret or that the collector's `redact:` names.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::{type_name, Explanation};

/// What replaces a secret value.
pub const REDACTED: &str = "<redacted>";
/// Secret values shorter than this are not searched for in free text (the answer excerpt,
/// problem sentences): replacing every `1` or `on` would make the text unreadable. Such values
/// are still redacted where their key is known (records, values found by rules).
const SHORTEST_VALUE_SCRUBBED: usize = 4;

/// Who reads, and what the collector wants hidden.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    /// Show the app's answer and the values taken from it (`--web.debug-answers`, or `once`).
    pub show_answers: bool,
    /// The collector's `redact:` keys, besides the secret-looking ones.
    pub redact: Vec<String>,
}

/// Words that make a key secret wherever they stand in it (`db_password`, `clientSecret`).
const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "authorization",
    "authentication",
    "requirepass",
    "masterauth",
    "apikey",
    "accesskey",
    "privatekey",
    "cookie",
];
/// Words that make a key secret only as a whole word (`api_key` but not `keyspace_hits`).
const SECRET_WORDS: &[&str] = &["key", "pass", "pwd", "auth", "dsn", "salt", "private"];

/// True when values under `key` must not be shown. `key` may be a path (`{.auth.token}`), a
/// label name or a plain key; it is secret when one of its segments is in `redact` or one of
/// its words looks like a secret.
pub fn is_secret_key(key: &str, redact: &[String]) -> bool {
    let segments = key
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .filter(|s| !s.is_empty());
    for segment in segments {
        if redact.iter().any(|r| r.eq_ignore_ascii_case(segment)) {
            return true;
        }
        let lower = segment.to_lowercase();
        let joined: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
        if SECRET_PARTS.iter().any(|part| joined.contains(part)) {
            return true;
        }
        if words(segment).any(|word| SECRET_WORDS.contains(&word.as_str())) {
            return true;
        }
    }
    false
}

/// The lower-cased words of `api_key`, `api-key` and `apiKey`.
fn words(segment: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in segment.chars() {
        if c == '_' || c == '-' {
            out.push(std::mem::take(&mut current));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            out.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    out.push(current);
    out.into_iter().filter(|w| !w.is_empty())
}

/// Values under secret keys anywhere in `value`, at most `budget` nodes visited.
pub fn secret_values(value: &Value, redact: &[String], out: &mut Vec<String>) {
    let mut budget = 100_000usize;
    collect_secrets(value, false, redact, out, &mut budget);
}

fn collect_secrets(
    value: &Value,
    under_secret: bool,
    redact: &[String],
    out: &mut Vec<String>,
    budget: &mut usize,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                let secret = under_secret || is_secret_key(key, redact);
                collect_secrets(member, secret, redact, out, budget);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_secrets(item, under_secret, redact, out, budget);
            }
        }
        Value::String(text) if under_secret => out.push(text.clone()),
        Value::Number(n) if under_secret => out.push(n.to_string()),
        _ => {}
    }
}

/// `key: value`, `key=value`, `"key": "value"` in free text.
fn key_value_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(
            r#"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)(?P<close>["']?)(?P<sep>[ \t]*[:=][ \t]*)(?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,;&}\]]+)"#,
        )
        .unwrap_or_else(|e| unreachable!("the pattern is a constant: {e}"))
    })
}

/// Free text with the values of secret-looking `key: value` pairs and every known secret value
/// replaced by [`REDACTED`].
pub fn scrub_text(text: &str, redact: &[String], known_secrets: &[String]) -> String {
    let scrubbed = key_value_pattern().replace_all(text, |captures: &regex::Captures<'_>| {
        let whole = &captures[0];
        if !is_secret_key(&captures["key"], redact) {
            return whole.to_string();
        }
        let value = &captures["value"];
        let replacement = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => format!("{quote}{REDACTED}{quote}"),
            _ => REDACTED.to_string(),
        };
        format!(
            "{}{}{}{replacement}",
            &captures["key"], &captures["close"], &captures["sep"]
        )
    });
    let mut text = scrubbed.into_owned();
    let mut secrets: Vec<&String> = known_secrets
        .iter()
        .filter(|s| s.chars().count() >= SHORTEST_VALUE_SCRUBBED)
        .collect();
    // Longest first, so that a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), REDACTED);
        }
    }
    text
}

/// Replaces scalars under secret keys by [`REDACTED`], and with `hide_values` every other
/// scalar by its type (`<number>`), keeping keys and the "left out" notes.
fn sanitize_value(value: &mut Value, under_secret: bool, hide_values: bool, redact: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                let secret = under_secret || is_secret_key(key, redact);
                sanitize_value(member, secret, hide_values, redact);
            }
        }
        Value::Array(items) => {
            for item in items {
                sanitize_value(item, under_secret, hide_values, redact);
            }
        }
        Value::Null => {}
        Value::String(text) if is_left_out_note(text) => {}
        scalar => {
            if under_secret {
                *scalar = Value::String(REDACTED.to_string());
            } else if hide_values {
                *scalar = Value::String(format!("<{}>", type_name(scalar)));
            }
        }
    }
}

/// The notes [`super::Recorder::records`] puts where it left something out.
fn is_left_out_note(text: &str) -> bool {
    text.starts_with('<') && text.ends_with("left out>")
}

/// Makes `explanation` fit for a reader with `visibility`.
pub(super) fn apply(explanation: &mut Explanation, visibility: &Visibility) {
    let redact = &visibility.redact;
    let hide = !visibility.show_answers;
    explanation.answers_shown = visibility.show_answers;
    let mut known = std::mem::take(&mut explanation.secret_values);
    for rule in &explanation.rules {
        for miss in &rule.misses {
            for found in &miss.found {
                if is_secret_key(&found.key, redact) {
                    known.push(found.value.clone());
                }
            }
        }
    }
    if hide {
        explanation.answer = None;
    } else if let Some(answer) = &mut explanation.answer {
        answer.excerpt = scrub_text(&answer.excerpt, redact, &known);
    }
    if let Some(records) = &mut explanation.records {
        for record in &mut records.first {
            sanitize_value(record, false, hide, redact);
        }
    }
    for rule in &mut explanation.rules {
        for miss in &mut rule.misses {
            if hide {
                miss.found.clear();
            }
            for found in &mut miss.found {
                if is_secret_key(&found.key, redact) {
                    found.value = REDACTED.to_string();
                }
            }
        }
    }
    if !hide {
        for problem in explanation
            .problems
            .iter_mut()
            .chain(&mut explanation.error)
        {
            problem.message = scrub_text(&problem.message, redact, &known);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_looking_keys() {
        let none: &[String] = &[];
        for key in [
            "password",
            "db_password",
            "clientSecret",
            "api_key",
            "apiKey",
            "X-Auth-Token",
            "{.auth.token}",
            "credentials",
            "requirepass",
            "passwd",
            "auth",
        ] {
            assert!(is_secret_key(key, none), "{key}");
        }
        for key in [
            "keyspace_hits",
            "expired_keys",
            "connections",
            "{.stats.total}",
            "author_count",
            "passes",
        ] {
            assert!(!is_secret_key(key, none), "{key}");
        }
        let redact = vec!["customer".to_string()];
        assert!(is_secret_key("{.orders[0].customer}", &redact));
        assert!(is_secret_key("Customer", &redact));
        assert!(!is_secret_key("customers_total", &redact));
    }

    #[test]
    fn free_text_is_scrubbed() {
        let text = "{\"password\": \"hunter2\", \"count\": 3}\npassword=abc&user=bob\napi_key: 'k1'\nname,pin\nalice,9876\n";
        let scrubbed = scrub_text(text, &[], &["9876".to_string(), "12".to_string()]);
        assert_eq!(
            scrubbed,
            "{\"password\": \"<redacted>\", \"count\": 3}\npassword=<redacted>&user=bob\napi_key: '<redacted>'\nname,pin\nalice,<redacted>\n"
        );
    }

    #[test]
    fn values_are_hidden_or_redacted() {
        let mut record = json!({"count": 3, "name": "x", "token": "t0", "nested": {"secret": 1}, "n": null, "more": "<2 more left out>"});
        sanitize_value(&mut record, false, true, &[]);
        assert_eq!(
            record,
            json!({"count": "<number>", "name": "<string>", "token": "<redacted>", "nested": {"secret": "<redacted>"}, "n": null, "more": "<2 more left out>"})
        );
        let mut record = json!({"count": 3, "token": "t0"});
        sanitize_value(&mut record, false, false, &[]);
        assert_eq!(record, json!({"count": 3, "token": "<redacted>"}));
    }
}
