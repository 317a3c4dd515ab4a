//! `http_server_config.headers`: the response headers a web config may set, checked against
//! exporter-toolkit's list of names and values while the file is read.

use std::fmt;

use axum::http::{HeaderName, HeaderValue};
use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::checked_str;

/// The response headers of `http_server_config.headers`, validated.
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders(pub Vec<(HeaderName, HeaderValue)>);

/// The headers exporter-toolkit lets a web config set, with their allowed values (empty: any).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

impl<'de> Deserialize<'de> for ResponseHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = ResponseHeaders;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values")
            }
            fn visit_unit<E>(self) -> Result<ResponseHeaders, E> {
                Ok(ResponseHeaders::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResponseHeaders, A::Error> {
                let mut headers = Vec::new();
                while let Some(AllowedHeader(name, allowed)) = map.next_key()? {
                    if let Some(value) = map.next_value_seed(AllowedValue(name, allowed))? {
                        headers.push(value);
                    }
                }
                Ok(ResponseHeaders(headers))
            }
        }
        deserializer.deserialize_any(HeadersVisitor)
    }
}

/// A header name from [`ALLOWED_HEADERS`], with its allowed values.
struct AllowedHeader(&'static str, &'static [&'static str]);

impl<'de> Deserialize<'de> for AllowedHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a header name", |name| {
            ALLOWED_HEADERS
                .iter()
                .find(|(allowed, _)| *allowed == name)
                .map(|(allowed, values)| AllowedHeader(allowed, values))
                .ok_or_else(|| {
                    let names: Vec<String> = ALLOWED_HEADERS
                        .iter()
                        .map(|(n, _)| format!("`{n}`"))
                        .collect();
                    format!(
                        "HTTP header `{name}` can not be configured, expected one of {}",
                        names.join(", ")
                    )
                })
        })
    }
}

/// The value of header `.0`, checked against its allowed values `.1`; blank: no header.
struct AllowedValue(&'static str, &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for AllowedValue {
    type Value = Option<(HeaderName, HeaderValue)>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let AllowedValue(name, allowed) = self;
        checked_str(deserializer, "a header value", |value| {
            if value.is_empty() {
                return Ok(None);
            }
            if !allowed.is_empty() && !allowed.contains(&value) {
                return Err(format!(
                    "invalid value `{value}` for {name}, expected one of {}",
                    allowed.join(", ")
                ));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of {name} is not a valid header value"))?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            Ok(Some((name, value)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::config::ConfigError;

    fn parse_err(text: &str) -> ConfigError {
        parse("web.yml", text).unwrap_err()
    }

    #[test]
    fn headers_are_limited_like_exporter_toolkit() {
        let error = parse_err(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Foo: bar\n",
        );
        assert!(error.message.contains("can not be configured"), "{error}");
        assert_eq!((error.line, error.column), (4, 5), "{error}");
        let error = parse_err(
            "http_server_config:\n  headers:\n    X-XSS-Protection: '0'\n    X-Frame-Options: allow\n",
        );
        assert!(error.message.contains("deny, sameorigin"), "{error}");
        assert_eq!((error.line, error.column), (4, 22), "{error}");
    }
}
