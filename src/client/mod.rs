//! What the kinds share to reach the app: the [`Source`] trait (one answer per collection) and
//! the HTTP client pieces (auth, secrets re-read from files, TLS, unix sockets, body limits,
//! kept-alive connections) used by `http_text`, `http_json`, `prometheus` and `http_probe`.

pub mod auth;
pub mod body;
pub mod http;
pub mod plain;
pub mod tls;

use bytes::Bytes;

use crate::collector::{CollectError, Context};

/// Something that fetches one answer from the app per collection.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// Fetches the answer, counting each request in `ctx` and giving up at `ctx.deadline`.
    async fn fetch(&self, ctx: &Context) -> Result<Bytes, CollectError>;
    /// What it reads, for the status page (no secrets).
    fn target(&self) -> String;
    /// Whether it may be asked at the same time as the collection's other requests. True when
    /// it keeps a connection of its own open between scrapes (HTTP): asking at once then opens
    /// no connection that the app would not see anyway.
    fn asks_alongside_others(&self) -> bool {
        false
    }
}
