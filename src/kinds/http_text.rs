//! The `http_text` kind: fetch a text page over HTTP (nginx `stub_status`, Apache `?auto`,
//! HAProxy's CSV) and map it with a format (`kv`, `regex`, `csv`).

use super::pipeline::MappedConfig;
use super::requests::HttpRequests;
use super::Builder;
use crate::client::http::HttpRequestConfig;
use crate::config::{ConfigError, KindKeys};

/// Reads an `http_text` collector's keys: the HTTP request keys, `requests`, `format`,
/// `metrics`.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let request = keys.take::<HttpRequestConfig>()?;
    let listed = keys.take::<HttpRequests>()?;
    let mapped = keys.take::<MappedConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        super::pipeline::build(super::requests::http(&request, &listed)?, None, &mapped)
    }))
}
