//! The generic collector: a source fetches bytes, a format turns them into records, a mapping
//! turns the records into families. Every declarative kind (`http_text`, `http_json`,
//! `tcp_text`, `file`) is one of these.

use crate::collector::{CollectError, Collection, Collector, Context};
use crate::formats::{self, FormatConfig};
use crate::mapping::Mapping;
use crate::sources::Source;

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
        let records = formats::parse(&self.format, &body)?;
        Ok(self.mapping.apply(&records))
    }

    fn target(&self) -> String {
        self.source.target()
    }
}
