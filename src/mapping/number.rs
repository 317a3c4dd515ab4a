//! Numbers out of text, read the way json_exporter (Go's `strconv`) and kubectl read them, and
//! the extensions' readings of text (`count_chars`, `version_number`, `rfc3339_ms`).

/// The first dotted version in `text` (`2.4.71`) as one number, each part after the first
/// zero-padded to its width behind the point (`[2, 3]` → `2.04071`); a part longer than its
/// width is kept whole, and missing parts count as zeros.
pub(super) fn version_number(text: &str, widths: &[usize]) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if bytes[start].is_ascii_digit() && (start == 0 || !bytes[start - 1].is_ascii_digit()) {
            let end = text[start..]
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .map_or(text.len(), |e| start + e);
            let parts: Vec<&str> = text[start..end]
                .split('.')
                .take_while(|p| !p.is_empty())
                .collect();
            if parts.len() >= 2 {
                let mut number = format!("{}.", parts[0]);
                for (i, width) in widths.iter().enumerate() {
                    let part = parts.get(i + 1).copied().unwrap_or("");
                    number.push_str(&"0".repeat(width.saturating_sub(part.len())));
                    number.push_str(part);
                }
                return number.parse().ok();
            }
            start = end;
        } else {
            start += 1;
        }
    }
    None
}

pub(super) fn count_chars(text: &str, chars: &[char]) -> f64 {
    text.chars().filter(|c| chars.contains(c)).count() as f64
}

/// Go's `strconv.ParseFloat`, then `strconv.ParseBool`, then `<nil>` as NaN (json_exporter's
/// `SanitizeValue`).
pub(super) fn parse_number_text(text: &str) -> Option<f64> {
    if let Ok(number) = text.parse::<f64>() {
        return Some(number);
    }
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(1.0),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(0.0),
        "<nil>" => Some(f64::NAN),
        _ => None,
    }
}

/// kubectl's `UnquoteExtend`: text wholly enclosed in `"…"` or `'…'` loses the quotes (and
/// its escapes are resolved); anything else is `None` (kept as it is).
pub(super) fn unquote_extend(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    if text.len() < 2 || !text.ends_with(quote) {
        return None;
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') && !inner.contains(quote) {
        return Some(inner.to_string());
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                _ => return None,
            }),
            c if c == quote || c == '\n' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// An RFC 3339 date-time (`2024-05-01T12:00:00.730686274Z`, or with an offset such as
/// `+02:00`) as whole milliseconds since the epoch, truncated as Go's `UnixMilli` does; `None`
/// for other text and for dates before 1970.
pub(super) fn rfc3339_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (local, offset_seconds) = match text.strip_suffix(['Z', 'z']) {
        Some(local) => (local, 0),
        None => {
            let at = text.len().checked_sub(6)?;
            let (local, offset) = (text.get(..at)?, text.get(at..)?.as_bytes());
            let sign = match offset[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if offset[3] != b':' {
                return None;
            }
            let hours: i64 = std::str::from_utf8(&offset[1..3]).ok()?.parse().ok()?;
            let minutes: i64 = std::str::from_utf8(&offset[4..6]).ok()?.parse().ok()?;
            (local, sign * (hours * 3600 + minutes * 60))
        }
    };
    let utc = humantime::parse_rfc3339(&format!("{local}Z")).ok()?;
    let millis = utc.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let millis = i64::try_from(millis).ok()? - offset_seconds * 1000;
    Some(millis as f64)
}

#[cfg(test)]
mod tests {

    #[test]
    fn rfc3339_date_times_as_milliseconds() {
        assert_eq!(
            rfc3339_ms("2026-11-30T17:33:35.730686274Z"),
            Some(1_796_060_015_730.0)
        );
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01Z"), Some(1000.0));
        assert_eq!(rfc3339_ms("1970-01-01T02:00:01+02:00"), Some(1000.0));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.5-00:30"), Some(1_801_500.0));
        for bad in [
            "",
            "now",
            "2026-11-30",
            "2026-11-30T17:33:35",
            "2026-11-30T17:33:35+0200",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }

    use super::*;

    #[test]
    fn unquote_extend_matches_kubectl() {
        assert_eq!(unquote_extend("\"abc\"").as_deref(), Some("abc"));
        assert_eq!(unquote_extend("'abc'").as_deref(), Some("abc"));
        assert_eq!(unquote_extend("\"a\\nb\"").as_deref(), Some("a\nb"));
        assert_eq!(unquote_extend("\"a\"b\""), None);
        assert_eq!(unquote_extend("a\"b"), None);
        assert_eq!(unquote_extend("\""), None);
    }

    #[test]
    fn version_numbers() {
        assert_eq!(
            version_number("Apache/2.4.71 (Debian)", &[2, 3]),
            Some(2.04071)
        );
        assert_eq!(
            version_number("Apache/2.4.71 (Debian) OpenSSL/3.0.22", &[2, 3]),
            Some(2.04071)
        );
        assert_eq!(version_number("v1.22", &[2, 3]), Some(1.22));
        assert_eq!(version_number("10.123.4567", &[2, 3]), Some(10.1234567));
        assert_eq!(version_number("build 7, 3.2.", &[2]), Some(3.02));
        assert_eq!(version_number("no version 7", &[2]), None);
    }
}
