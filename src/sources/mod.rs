//! Sources: how a collector fetches bytes (or, for `process`, records) from the app.

pub mod file;
pub mod http;
pub mod process;
pub mod tcp;

use bytes::Bytes;

use crate::collector::{CollectError, Context};

/// Something that fetches one answer from the app per collection.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// Fetches the answer, counting each request in `ctx` and giving up at `ctx.deadline`.
    async fn fetch(&self, ctx: &Context) -> Result<Bytes, CollectError>;
    /// What it reads, for the status page (no secrets).
    fn target(&self) -> String;
}
