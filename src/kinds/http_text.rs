//! The `http_text` kind: fetch a text page over HTTP (nginx `stub_status`, Apache `?auto`,
//! HAProxy's CSV) and map it with a format (`kv`, `regex`, `csv`).

use std::sync::Arc;

use crate::client::http::HttpSource;
use crate::collector::Collector;
use crate::config::CollectorConfig;

/// Builds an `http_text` collector.
pub fn build(config: &CollectorConfig) -> Result<Arc<dyn Collector>, String> {
    super::pipeline::build(HttpSource::from_config(config)?, None, config)
}
