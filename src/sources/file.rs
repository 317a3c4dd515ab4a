//! The `file` source: reads a local file on every collection.

use bytes::Bytes;

use super::Source;
use crate::collector::{CollectError, Context, Reason};

/// Reads one file.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: String,
    max_bytes: u64,
}

impl FileSource {
    /// A source reading `path`, refusing files larger than `max_bytes`.
    pub fn new(path: String, max_bytes: u64) -> Self {
        FileSource { path, max_bytes }
    }
}

#[async_trait::async_trait]
impl Source for FileSource {
    async fn fetch(&self, ctx: &Context) -> Result<Bytes, CollectError> {
        ctx.count_request();
        let metadata = tokio::fs::metadata(&self.path).await.map_err(|e| {
            CollectError::new(Reason::Connect, format!("cannot read {}: {e}", self.path))
        })?;
        if metadata.len() > self.max_bytes {
            return Err(CollectError::new(
                Reason::Limit,
                format!(
                    "{} is {} bytes, more than the limit of {} bytes (max_response_bytes)",
                    self.path,
                    metadata.len(),
                    self.max_bytes
                ),
            ));
        }
        let content = tokio::fs::read(&self.path).await.map_err(|e| {
            CollectError::new(Reason::Connect, format!("cannot read {}: {e}", self.path))
        })?;
        Ok(Bytes::from(content))
    }

    fn target(&self) -> String {
        format!("file {}", self.path)
    }
}
