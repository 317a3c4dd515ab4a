//! Bounded answers: a body that stops growing at the collector's `max_response_bytes`, for the
//! HTTP, TCP and file sources alike.

use bytes::{Bytes, BytesMut};

use crate::collector::{CollectError, Reason};

/// Default of `max_response_bytes`: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Collects a streamed body and refuses to grow past the limit, so memory stays bounded
/// whatever the server sends.
pub(crate) struct LimitedBody {
    buffer: BytesMut,
    limit: u64,
}

impl LimitedBody {
    /// Starts a body; refuses at once when the announced `Content-Length` is past the limit.
    pub(crate) fn new(limit: u64, content_length: Option<u64>) -> Result<Self, CollectError> {
        if let Some(length) = content_length {
            if length > limit {
                return Err(CollectError::new(
                    Reason::Limit,
                    format!(
                        "the answer is {length} bytes long (Content-Length), more than max_response_bytes ({limit} bytes)"
                    ),
                ));
            }
        }
        let capacity = content_length.unwrap_or(8 * 1024).min(limit) as usize;
        Ok(LimitedBody {
            buffer: BytesMut::with_capacity(capacity),
            limit,
        })
    }

    /// Appends a chunk, or fails once the body is longer than the limit.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), CollectError> {
        if self.buffer.len() as u64 + chunk.len() as u64 > self.limit {
            return Err(CollectError::new(
                Reason::Limit,
                format!(
                    "the answer is longer than max_response_bytes ({} bytes); stopped reading there",
                    self.limit
                ),
            ));
        }
        self.buffer.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes collected so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buffer
    }

    /// How many bytes were collected so far.
    pub(crate) fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Keeps only the first `len` bytes.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.buffer.truncate(len);
    }

    /// The collected bytes.
    pub(crate) fn finish(self) -> Bytes {
        self.buffer.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_body_stops_past_the_limit() {
        let mut body = LimitedBody::new(10, None).unwrap();
        body.push(b"12345").unwrap();
        body.push(b"67890").unwrap();
        let err = body.push(b"x").unwrap_err();
        assert_eq!(err.reason, Reason::Limit);
        assert_eq!(
            LimitedBody::new(10, Some(11)).err().map(|e| e.reason),
            Some(Reason::Limit)
        );
    }
}
