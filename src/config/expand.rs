//! `${VAR}` and `${VAR:-default}` expansion of the config text (`$$` is a literal `$`).

/// Where expansion failed: 1-based line and column, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Expands environment references in every line of `text` except comment lines, looking
/// variables up with `lookup`. Works on the text, before YAML parsing, so that error positions
/// stay those of the file the user wrote.
pub fn expand_env(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') || !line.contains('$') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let column = line.len() - rest.len() + dollar + 1;
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(close) = body.find('}') else {
                    return Err(ExpandError {
                        line: line_index + 1,
                        column,
                        message: "`${` has no closing `}` (write `$$` for a literal `$`)".into(),
                    });
                };
                let reference = &body[..close];
                let (name, default) = match reference.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (reference, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(ExpandError {
                        line: line_index + 1,
                        column,
                        message: format!(
                            "`${{{reference}}}` is not a variable reference: expected ${{NAME}} or ${{NAME:-default}}"
                        ),
                    });
                }
                match lookup(name).or_else(|| default.map(str::to_string)) {
                    Some(value) => out.push_str(&value),
                    None => {
                        return Err(ExpandError {
                            line: line_index + 1,
                            column,
                            message: format!(
                                "environment variable `{name}` is not set (write ${{{name}:-default}} to give a default)"
                            ),
                        })
                    }
                }
                rest = &body[close + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// Turns (in `tcp_text` commands and discovery probes) `\r`, `\n`, `\t`, `\0`, `\\` and `\xHH` escapes into bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let value = std::str::from_utf8(&hex)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("\\x in {text:?} needs two hex digits"))?;
                out.push(value);
            }
            Some(other) => {
                return Err(format!(
                    "unknown escape \\{} in {text:?} (known: \\r \\n \\t \\0 \\\\ \\xHH)",
                    other as char
                ))
            }
            None => return Err(format!("{text:?} ends with a lone backslash")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"INFO\r\nQUIT\r\n").unwrap(), b"INFO\r\nQUIT\r\n");
        assert_eq!(unescape(r"a\\b\x41\t").unwrap(), b"a\\bA\t");
        assert!(unescape(r"bad\q").is_err());
        assert!(unescape(r"end\").is_err());
        assert!(unescape(r"\x4").is_err());
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "POD_NAME" => Some("web-0".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        let text = "a: ${POD_NAME}\nb: ${MISSING:-fallback}\nc: x${EMPTY}y\n";
        assert_eq!(
            expand_env(text, env).unwrap(),
            "a: web-0\nb: fallback\nc: xy\n"
        );
    }

    #[test]
    fn double_dollar_is_literal_and_lone_dollar_is_kept() {
        assert_eq!(
            expand_env("r: 'a$$b' c$ d$x", env).unwrap(),
            "r: 'a$b' c$ d$x"
        );
    }

    #[test]
    fn comment_lines_are_left_alone() {
        assert_eq!(expand_env("  # ${UNSET}\n", env).unwrap(), "  # ${UNSET}\n");
    }

    #[test]
    fn unset_variable_without_default_names_line_and_column() {
        let err = expand_env("global:\n  x: ${UNSET}\n", env).unwrap_err();
        assert_eq!((err.line, err.column), (2, 6));
        assert!(
            err.message.contains("`UNSET` is not set"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unclosed_reference_is_an_error() {
        let err = expand_env("x: ${POD_NAME", env).unwrap_err();
        assert!(err.message.contains("no closing"));
    }
}
