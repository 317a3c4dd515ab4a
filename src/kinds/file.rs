//! The `file` kind: reads a local file on every collection and maps it with a format.

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::Builder;
use crate::client::body::{LimitedBody, DEFAULT_MAX_RESPONSE_BYTES};
use crate::client::Source;
use crate::collector::{CollectError, Context, Reason};
use crate::config::{ConfigError, KeyError, KindKeys};
use serde::Deserialize;

/// The `file` kind's source keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file to read.
    pub path: Option<String>,
    /// The largest content accepted, in bytes (default 16 MiB).
    pub max_response_bytes: Option<u64>,
}

/// Reads one file.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: String,
    max_bytes: u64,
}

impl FileSource {
    /// Builds the source from a collector's `path` and `max_response_bytes`.
    pub fn from_config(cfg: &FileConfig) -> Result<FileSource, KeyError> {
        let path = cfg.path.clone().ok_or("needs `path:` (the file to read)")?;
        let max_bytes = cfg.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        Ok(FileSource { path, max_bytes })
    }
}

#[async_trait::async_trait]
impl Source for FileSource {
    async fn fetch(&self, ctx: &Context) -> Result<Bytes, CollectError> {
        ctx.count_request();
        let mut timer = ctx.request_timer("READ", &self.path);
        let cannot_read = |e: std::io::Error| {
            CollectError::new(Reason::Connect, format!("cannot read {}: {e}", self.path))
        };
        let mut file = tokio::fs::File::open(&self.path)
            .await
            .map_err(cannot_read)?;
        // Read in chunks against the limit rather than trusting the file's size: files under
        // /proc and /sys report 0, and a file may grow while it is read.
        let mut body = LimitedBody::new(self.max_bytes, None)?;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = file.read(&mut chunk).await.map_err(cannot_read)?;
            if n == 0 {
                timer.phase("read");
                timer.bytes(body.len());
                return Ok(body.finish());
            }
            body.push(&chunk[..n])?;
        }
    }

    fn target(&self) -> String {
        format!("file {}", self.path)
    }
}

/// Reads a `file` collector's keys: `path`, `max_response_bytes`, `format`, `metrics`.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let (file, mapped) = super::pipeline::read_keys::<FileConfig>(keys)?;
    Ok(Box::new(move || {
        super::pipeline::build(
            super::pipeline::Request::only(FileSource::from_config(&file)?),
            None,
            &mapped,
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_past_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let cfg = FileConfig {
            path: Some(path.display().to_string()),
            max_response_bytes: Some(10),
        };
        let source = FileSource::from_config(&cfg).unwrap();
        let ctx =
            Context::with_deadline(tokio::time::Instant::now() + std::time::Duration::from_secs(5));
        let error = source.fetch(&ctx).await.unwrap_err();
        assert_eq!(error.reason, Reason::Limit);
        let cfg = FileConfig {
            max_response_bytes: Some(100),
            ..cfg
        };
        let body = FileSource::from_config(&cfg)
            .unwrap()
            .fetch(&ctx)
            .await
            .unwrap();
        assert_eq!(body.len(), 100);
    }

    #[tokio::test]
    async fn proc_files_are_read_despite_their_zero_size() {
        let cfg = FileConfig {
            path: Some("/proc/self/status".into()),
            ..FileConfig::default()
        };
        let ctx =
            Context::with_deadline(tokio::time::Instant::now() + std::time::Duration::from_secs(5));
        let body = FileSource::from_config(&cfg)
            .unwrap()
            .fetch(&ctx)
            .await
            .unwrap();
        assert!(body.starts_with(b"Name:"));
    }
}
