//! The `http_text` kind: fetch a text page over HTTP (nginx `stub_status`, Apache `?auto`,
//! HAProxy's CSV) and map it with a format (`kv`, `regex`, `csv`).

use std::sync::Arc;

use crate::client::http::{HttpRequestConfig, HttpSource};
use crate::collector::Collector;
use crate::config::{ConfigError, KindKeys};

/// Builds an `http_text` collector: the HTTP request keys, `format`, `metrics`.
pub fn build(keys: &mut KindKeys<'_>) -> Result<Arc<dyn Collector>, ConfigError> {
    let (request, mapped) = super::pipeline::read_keys::<HttpRequestConfig>(keys)?;
    HttpSource::from_config(&request)
        .and_then(|source| super::pipeline::build(source, None, &mapped))
        .map_err(|e| keys.error(e))
}
