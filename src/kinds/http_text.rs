//! The `http_text` kind: fetch a text page over HTTP (nginx `stub_status`, Apache `?auto`,
//! HAProxy's CSV) and map it with a format (`kv`, `regex`, `csv`).

use super::Builder;
use crate::client::http::{HttpRequestConfig, HttpSource};
use crate::config::{ConfigError, KindKeys};

/// Reads an `http_text` collector's keys: the HTTP request keys, `format`, `metrics`.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let (request, mapped) = super::pipeline::read_keys::<HttpRequestConfig>(keys)?;
    Ok(Box::new(move || {
        super::pipeline::build(HttpSource::from_config(&request)?, None, &mapped)
    }))
}
