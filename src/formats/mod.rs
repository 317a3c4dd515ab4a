//! Formats: how the bytes a source fetched become records. Every format is a pure function from
//! bytes to a JSON value, so that one mapping engine (json_exporter's schema) serves all of them.

use serde::Deserialize;

use crate::collector::{CollectError, Reason};

/// `format:` of a collector. (Stub: the format engine fills this in.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatConfig {
    /// Which format: `json`, `kv`, `regex`, `csv`.
    #[serde(rename = "type")]
    pub format_type: String,
}

/// Parses `body` according to `config`.
pub fn parse(config: &FormatConfig, body: &[u8]) -> Result<serde_json::Value, CollectError> {
    match config.format_type.as_str() {
        "json" => serde_json::from_slice(body).map_err(|e| {
            CollectError::new(Reason::Parse, format!("the answer is not valid JSON: {e}"))
        }),
        other => Err(CollectError::new(
            Reason::Parse,
            format!("unknown format {other:?}"),
        )),
    }
}
