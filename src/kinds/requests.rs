//! Collections of several requests: the `requests:` key of `http_text`, `http_json` and
//! `tcp_text`.
//!
//! Some apps spread their status over several pages or commands (BIND's statistics channel, the
//! Squid cache manager, Redis' `INFO`, `CONFIG GET` and `SLOWLOG`). The collector names the app
//! once (`url:` as the base, or `address:`) and lists the requests, each with a `name`, what to
//! ask (`path` over HTTP, `command` over TCP) and optionally its own `format`. The requests go
//! out one after the other, in the order listed, one connection each. The mapping then sees one
//! document, `{ "<name>": <that request's records>, … }`, so that one rule may use the answers
//! of several requests and paths read `'{ .server.opcodes }'`.
//!
//! ```yaml fragment
//! kind: http_json
//! url: http://127.0.0.1:8053/json/v1
//! requests:
//!   - {name: server, path: server}
//!   - {name: traffic, path: traffic, optional: true}
//! metrics:
//!   - {name: bind_boot_time_seconds, path: '{ .server.boot-time }'}
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;

use super::pipeline::Request;
use super::tcp_text::{TcpConfig, TcpSource};
use crate::client::http::{HttpRequestConfig, HttpSource};
use crate::client::Source;
use crate::config::locate::Step;
use crate::config::KeyError;
use crate::formats::FormatConfig;

/// The `requests:` key of the HTTP kinds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequests {
    /// Several pages per collection, each fetched from the collector's `url` with its `path`
    /// added; every other HTTP key (`method`, `headers`, auth, `tls_config`, …) applies to each.
    pub requests: Option<Vec<HttpRequestItem>>,
}

/// One page of a multi-request HTTP collection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestItem {
    /// The key its records get in the document the mapping reads.
    pub name: String,
    /// Added to the collector's `url` (`url: http://127.0.0.1:8053/json/v1` with `path: server`
    /// fetches `…/json/v1/server`); may carry a query (`status?json&full`).
    pub path: String,
    /// How this answer is read, when not as the collector's `format:`.
    pub format: Option<FormatConfig>,
    /// When this request fails, only its series are missing (counted as a problem with the
    /// reason; the collector stays up) instead of the whole collection failing.
    #[serde(default)]
    pub optional: bool,
}

/// The `requests:` key of `tcp_text`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRequests {
    /// Several commands per collection, each on its own connection to the collector's
    /// `address`.
    pub requests: Option<Vec<TcpRequestItem>>,
}

/// One command of a multi-request TCP collection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRequestItem {
    /// The key its records get in the document the mapping reads.
    pub name: String,
    /// What to send after connecting (escapes `\r` `\n` understood).
    pub command: String,
    /// Stop reading once the answer ends with this (default: read until the peer closes).
    pub terminator: Option<String>,
    /// How this answer is read, when not as the collector's `format:`.
    pub format: Option<FormatConfig>,
    /// When this request fails, only its series are missing (see the HTTP form).
    #[serde(default)]
    pub optional: bool,
}

/// The requests of an HTTP collector: its `url` alone, or one per entry of `requests:`.
pub fn http(base: &HttpRequestConfig, listed: &HttpRequests) -> Result<Vec<Request>, KeyError> {
    let Some(items) = &listed.requests else {
        return Ok(Request::only(HttpSource::from_config(base)?));
    };
    check_names(items.iter().map(|item| item.name.as_str()))?;
    let base_url = base
        .url
        .as_deref()
        .ok_or("the `url` key is missing (the base the request paths are added to)")?;
    let mut requests = Vec::with_capacity(items.len());
    for item in items {
        let config = HttpRequestConfig {
            url: Some(join_path(base_url, &item.path)),
            ..base.clone()
        };
        // A fault of the shared keys (a bad `url`, an unreadable CA file) is the same for every
        // request: report it where it is written, once.
        let source = HttpSource::from_config(&config)?;
        requests.push(named(&item.name, source, &item.format, item.optional));
    }
    Ok(requests)
}

/// The requests of a `tcp_text` collector: its `command` alone, or one per entry of
/// `requests:`.
pub fn tcp(base: &TcpConfig, listed: &TcpRequests) -> Result<Vec<Request>, KeyError> {
    let Some(items) = &listed.requests else {
        return Ok(Request::only(TcpSource::from_config(base)?));
    };
    for (key, set) in [
        ("command", base.command.is_some()),
        ("terminator", base.terminator.is_some()),
    ] {
        if set {
            return Err(KeyError::at(
                key,
                format!("`{key}` goes in each entry of `requests:` when the collector has them"),
            ));
        }
    }
    check_names(items.iter().map(|item| item.name.as_str()))?;
    let mut requests = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let config = TcpConfig {
            command: Some(item.command.clone()),
            terminator: item.terminator.clone(),
            ..base.clone()
        };
        let source = TcpSource::from_config(&config).map_err(|e| {
            if matches!(e.path.first(), Some(Step::Key(key)) if key == "address") {
                e
            } else {
                e.in_item(index).below("requests")
            }
        })?;
        requests.push(named(&item.name, source, &item.format, item.optional));
    }
    Ok(requests)
}

/// One listed request.
fn named(
    name: &str,
    source: impl Source + 'static,
    format: &Option<FormatConfig>,
    optional: bool,
) -> Request {
    Request {
        name: Some(name.to_string()),
        source: Box::new(source),
        format: format.clone(),
        optional,
    }
}

/// Names must be unique and not empty: each is a key of the combined document.
fn check_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), KeyError> {
    let mut seen = BTreeSet::new();
    for (index, name) in names.enumerate() {
        if name.is_empty() {
            return Err(KeyError::at("name", "a request's `name` cannot be empty")
                .in_item(index)
                .below("requests"));
        }
        if !seen.insert(name) {
            return Err(KeyError::at(
                "name",
                format!("two requests are named {name:?}; each name is a key of the document the metrics read"),
            )
            .in_item(index)
            .below("requests"));
        }
    }
    if seen.is_empty() {
        return Err(KeyError::at(
            "requests",
            "`requests:` is empty; list at least one, or leave the key out",
        ));
    }
    Ok(())
}

/// `base` with `path` added below it: one `/` between them, and the base's own query (if any)
/// replaced by the path's. A unix-socket url (`unix:/run/app.sock` or
/// `unix:/run/app.sock:/status`) gets the path after its socket.
pub fn join_path(base: &str, path: &str) -> String {
    let base = base.split_once('?').map_or(base, |(before, _)| before);
    let path = path.trim_start_matches('/');
    if let Some(rest) = base.strip_prefix("unix:") {
        if !rest.contains(":/") {
            return format!("{base}:/{path}");
        }
    }
    format!("{}/{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_below_the_base() {
        let cases = [
            (
                "http://127.0.0.1:8053/",
                "json/v1/server",
                "http://127.0.0.1:8053/json/v1/server",
            ),
            (
                "http://127.0.0.1:8053",
                "/json/v1/server",
                "http://127.0.0.1:8053/json/v1/server",
            ),
            ("http://h:1/json/v1", "server", "http://h:1/json/v1/server"),
            (
                "http://h:1/status?json",
                "status?json&full",
                "http://h:1/status/status?json&full",
            ),
            (
                "http://h:1/",
                "squid-internal-mgr/info",
                "http://h:1/squid-internal-mgr/info",
            ),
            ("unix:/run/app.sock", "status", "unix:/run/app.sock:/status"),
            (
                "unix:/run/app.sock:/api/",
                "queues",
                "unix:/run/app.sock:/api/queues",
            ),
        ];
        for (base, path, joined) in cases {
            assert_eq!(join_path(base, path), joined, "{base} + {path}");
        }
    }

    #[test]
    fn names_are_unique_and_present() {
        assert!(check_names(["a", "b"].into_iter()).is_ok());
        let twice = check_names(["a", "b", "a"].into_iter()).unwrap_err();
        assert!(
            twice.message.contains("two requests are named \"a\""),
            "{twice}"
        );
        assert_eq!(twice.path.len(), 3, "{:?}", twice.path);
        assert!(check_names([""].into_iter()).is_err());
        assert!(check_names(std::iter::empty()).is_err());
    }

    #[test]
    fn tcp_requests_refuse_a_shared_command() {
        let base = TcpConfig {
            address: Some("127.0.0.1:6379".into()),
            command: Some("INFO\\r\\n".into()),
            ..TcpConfig::default()
        };
        let listed = TcpRequests {
            requests: Some(vec![TcpRequestItem {
                name: "info".into(),
                command: "INFO\\r\\n".into(),
                terminator: None,
                format: None,
                optional: false,
            }]),
        };
        let error = tcp(&base, &listed).err().expect("refused");
        assert!(
            error.message.contains("each entry of `requests:`"),
            "{error}"
        );
    }
}
