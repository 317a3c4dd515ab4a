//! `format: json`: the answer is a JSON document, handed to the mapping unchanged.

use crate::collector::CollectError;

use super::{parse_error, utf8};

/// How deep a document may nest: serde_json's recursion limit of 128 allows 127 nested arrays
/// or objects. Deeper documents are refused with a clear error rather than risking the stack.
pub const MAX_DEPTH: usize = 127;

/// Parses a JSON document. The body must be UTF-8 (a byte-order mark is ignored) and nest at most
/// [`MAX_DEPTH`] levels.
pub fn parse(body: &[u8]) -> Result<serde_json::Value, CollectError> {
    let text = utf8(body)?;
    if text.trim().is_empty() {
        return Err(parse_error("the answer is empty, expected a JSON document"));
    }
    serde_json::from_str(text).map_err(|e| {
        if e.to_string().starts_with("recursion limit exceeded") {
            parse_error(format!(
                "the JSON document nests deeper than {MAX_DEPTH} levels (line {}, column {})",
                e.line(),
                e.column()
            ))
        } else {
            parse_error(format!("the answer is not valid JSON: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Reason;
    use serde_json::json;

    #[test]
    fn php_fpm_status() {
        let body = include_bytes!("../../tests/fixtures/raw/php_fpm_status.json");
        let value = parse(body).unwrap();
        assert_eq!(value["pool"], json!("www"));
        assert_eq!(value["process manager"], json!("dynamic"));
        assert!(value["accepted conn"].is_u64());
        assert!(value["listen queue len"].is_u64());
    }

    #[test]
    fn php_fpm_full_status_has_processes() {
        let body = include_bytes!("../../tests/fixtures/raw/php_fpm_status_full.json");
        let value = parse(body).unwrap();
        let processes = value["processes"].as_array().unwrap();
        assert!(!processes.is_empty());
        assert!(processes[0]["pid"].is_u64());
        assert!(processes[0]["state"].is_string());
    }

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn depth_limit() {
        assert!(parse(nested(50).as_bytes()).is_ok());
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        let e = parse(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert!(
            e.message.contains("deeper than 127 levels"),
            "{}",
            e.message
        );
        // Far deeper than the stack would allow if it were not refused.
        assert!(parse(nested(1_000_000).as_bytes()).is_err());
    }

    #[test]
    fn bad_input() {
        let e = parse(b"").unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
        let e = parse(b"{\"a\": 1").unwrap_err();
        assert!(
            e.message.starts_with("the answer is not valid JSON: EOF"),
            "{}",
            e.message
        );
        let e = parse(b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(e.message.contains("line 1 column 1"), "{}", e.message);
        let e = parse(b"{\"a\": \"\xff\"}").unwrap_err();
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        assert_eq!(e.reason, Reason::Parse);
        assert!(parse(b"{\"a\": 1} trailing").is_err());
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(
            parse("\u{feff}{\"a\":1}".as_bytes()).unwrap(),
            json!({"a": 1})
        );
    }
}
