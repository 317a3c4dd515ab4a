//! The generic collector: a source fetches bytes, a format turns them into records, a mapping
//! turns the records into families. Every declarative kind (`http_text`, `http_json`,
//! `tcp_text`, `file`) is one of these.

use std::sync::Arc;

use crate::client::Source;
use crate::collector::{CollectError, Collection, Collector, Context};
use crate::config::{ConfigError, KeyError, KindKeys};
use crate::formats::{self, FormatConfig};
use crate::mapping::{Mapping, MetricRule};
use serde::Deserialize;

/// The keys of the declarative kinds that say how the answer becomes series.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedConfig {
    /// How the answer's bytes become records (`json`, `kv`, `regex`, `csv`, …; see the README's
    /// format section).
    pub format: Option<FormatConfig>,
    /// The metrics to make from the records (json_exporter's schema, see [`MetricRule`]).
    pub metrics: Option<Vec<MetricRule>>,
}

/// Source + format + mapping.
pub struct Pipeline {
    source: Box<dyn Source>,
    format: FormatConfig,
    mapping: Mapping,
}

impl Pipeline {
    /// A pipeline from its three parts.
    pub fn new(source: Box<dyn Source>, format: FormatConfig, mapping: Mapping) -> Self {
        Pipeline {
            source,
            format,
            mapping,
        }
    }
}

#[async_trait::async_trait]
impl Collector for Pipeline {
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError> {
        let body = self.source.fetch(ctx).await?;
        if let Some(recorder) = ctx.explain() {
            recorder.answer(&body);
        }
        let records = formats::parse(&self.format, &body)?;
        if let Some(recorder) = ctx.explain() {
            recorder.records(&records);
        }
        Ok(self.mapping.apply_explained(&records, ctx.explain()))
    }

    fn target(&self) -> String {
        self.source.target()
    }
}

/// The collector of a declarative kind: `source`, the configured `format:` (or `default_format`
/// when the kind has one) and the `metrics:` mapping.
pub fn build(
    source: impl Source + 'static,
    default_format: Option<FormatConfig>,
    config: &MappedConfig,
) -> Result<Arc<dyn Collector>, KeyError> {
    let format = config
        .format
        .clone()
        .or(default_format)
        .ok_or("needs `format:` (how to read the answer)")?;
    let mapping = Mapping::compile(config.metrics.as_deref().unwrap_or_default())
        .map_err(|e| KeyError::at("metrics", e))?;
    Ok(Arc::new(Pipeline::new(Box::new(source), format, mapping)))
}

/// Reads a declarative kind's keys: the source's part `S`, then `format` and `metrics`; no other
/// key is accepted.
pub fn read_keys<S: serde::de::DeserializeOwned>(
    keys: &mut KindKeys<'_>,
) -> Result<(S, MappedConfig), ConfigError> {
    let source = keys.take::<S>()?;
    let mapped = keys.take::<MappedConfig>()?;
    keys.finish()?;
    Ok((source, mapped))
}
