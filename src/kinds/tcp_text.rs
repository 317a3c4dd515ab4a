//! The `tcp_text` kind: connect, send a command, read the answer.
//!
//! The answer ends at the first `terminator` (memcached's `stats` answer ends with `END\r\n`), or,
//! without one, when the peer closes the connection. Protocols whose answer carries its own length
//! (Redis' RESP bulk string `$1234\r\n…\r\n`) are handled the same generic way: the command asks
//! the server to close after answering (`INFO\r\nQUIT\r\n`), so the source reads until the close
//! and no protocol-specific framing code is needed. The answer is returned as received (for Redis:
//! the `$1234` header line first and `+OK` from `QUIT` last); line-oriented formats skip those lines.

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::pipeline::MappedConfig;
use super::requests::TcpRequests;
use super::Builder;
use crate::client::body::{LimitedBody, DEFAULT_MAX_RESPONSE_BYTES};
use crate::client::Source;
use crate::collector::{CollectError, Context, Reason};
use crate::config::expand::unescape;
use crate::config::{ConfigError, KeyError, KindKeys};
use serde::Deserialize;

/// The `tcp_text` kind's source keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// `host:port` to connect to.
    pub address: Option<String>,
    /// What to send after connecting (escapes `\r` `\n` understood).
    pub command: Option<String>,
    /// Stop reading once the answer ends with this (default: read until the peer closes).
    pub terminator: Option<String>,
    /// The largest answer accepted, in bytes (default 16 MiB).
    pub max_response_bytes: Option<u64>,
}

/// Sends one command per collection and reads the answer.
#[derive(Debug, Clone)]
pub struct TcpSource {
    address: String,
    command: Vec<u8>,
    terminator: Option<Vec<u8>>,
    max_bytes: u64,
}

impl TcpSource {
    /// Builds the source from a collector's `address`, `command`, `terminator` and
    /// `max_response_bytes`.
    pub fn from_config(cfg: &TcpConfig) -> Result<TcpSource, KeyError> {
        let address = cfg
            .address
            .clone()
            .ok_or("the `address` key is missing (tcp source; host:port)")?;
        let port_ok = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(KeyError::at(
                "address",
                format!(
                    "address {address:?} is not host:port; expected e.g. 127.0.0.1:6379 or [::1]:6379"
                ),
            ));
        }
        let command = unescape(cfg.command.as_deref().unwrap_or(""))
            .map_err(|e| KeyError::at("command", format!("command: {e}")))?;
        let terminator = match cfg.terminator.as_deref() {
            None => None,
            Some(t) => {
                let bytes = unescape(t)
                    .map_err(|e| KeyError::at("terminator", format!("terminator: {e}")))?;
                if bytes.is_empty() {
                    return Err(KeyError::at(
                        "terminator",
                        "terminator is empty; leave it out to read until the peer closes",
                    ));
                }
                Some(bytes)
            }
        };
        Ok(TcpSource {
            address,
            command,
            terminator,
            max_bytes: cfg.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        })
    }

    async fn exchange(&self, ctx: &Context) -> Result<Bytes, CollectError> {
        let mut timer = ctx.request_timer("TCP", &self.address);
        let mut stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .map_err(|e| CollectError::new(Reason::Connect, format!("cannot connect: {e}")))?;
        ctx.count_request();
        timer.phase("connect");
        if !self.command.is_empty() {
            stream.write_all(&self.command).await.map_err(|e| {
                CollectError::new(Reason::Connect, format!("cannot send the command: {e}"))
            })?;
        }
        let mut body = LimitedBody::new(self.max_bytes, None)?;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| {
                CollectError::new(Reason::Connect, format!("reading the answer failed: {e}"))
            })?;
            if n == 0 {
                if let Some(terminator) = &self.terminator {
                    return Err(CollectError::new(
                        Reason::Parse,
                        format!(
                            "the peer closed the connection after {} bytes without sending the terminator {:?}",
                            body.len(),
                            String::from_utf8_lossy(terminator)
                        ),
                    ));
                }
                break;
            }
            body.push(&chunk[..n])?;
            if let Some(terminator) = &self.terminator {
                // Search only where the terminator can newly appear.
                let received = body.as_slice();
                let from = received.len().saturating_sub(n + terminator.len() - 1);
                if let Some(at) = find(&received[from..], terminator) {
                    body.truncate(from + at + terminator.len());
                    break;
                }
            }
        }
        timer.phase("read");
        timer.bytes(body.len());
        Ok(body.finish())
    }
}

#[async_trait::async_trait]
impl Source for TcpSource {
    async fn fetch(&self, ctx: &Context) -> Result<Bytes, CollectError> {
        if ctx.remaining().is_zero() {
            return Err(CollectError::new(
                Reason::Timeout,
                format!("no time left to query {}", self.address),
            ));
        }
        match tokio::time::timeout_at(ctx.deadline, self.exchange(ctx)).await {
            Ok(result) => result.map_err(|e| {
                CollectError::new(e.reason, format!("{}: {}", self.address, e.message))
            }),
            Err(_) => Err(CollectError::new(
                Reason::Timeout,
                format!(
                    "{}: no complete answer before the deadline{}",
                    self.address,
                    if self.terminator.is_some() {
                        " (the terminator never came)"
                    } else {
                        " (the peer did not close the connection; set `terminator`?)"
                    }
                ),
            )),
        }
    }

    fn target(&self) -> String {
        format!("tcp {}", self.address)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads a `tcp_text` collector's keys: `address`, `command`, `terminator`, `max_response_bytes`,
/// `requests`, `format`, `metrics`.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let tcp = keys.take::<TcpConfig>()?;
    let listed = keys.take::<TcpRequests>()?;
    let mapped = keys.take::<MappedConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        super::pipeline::build(super::requests::tcp(&tcp, &listed)?, None, &mapped)
    }))
}

#[cfg(test)]
mod address_tests {
    use super::*;

    #[test]
    fn addresses_need_a_host_and_a_numeric_port() {
        let with = |address: &str| TcpConfig {
            address: Some(address.to_string()),
            ..TcpConfig::default()
        };
        for good in ["127.0.0.1:6379", "[::1]:6379", "localhost:11211"] {
            assert!(TcpSource::from_config(&with(good)).is_ok(), "{good}");
        }
        for bad in [
            "127.0.0.1",
            "[::1]",
            "host:",
            ":6379",
            "host:port",
            "h:70000",
        ] {
            let error = TcpSource::from_config(&with(bad)).unwrap_err();
            assert!(error.message.contains("is not host:port"), "{bad}: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks() {
        let cfg = TcpConfig {
            address: Some("127.0.0.1".into()),
            ..Default::default()
        };
        let error = TcpSource::from_config(&cfg).unwrap_err();
        assert!(error.message.contains("port"), "{error}");
        assert_eq!(
            error.path,
            [crate::config::locate::Step::Key("address".into())]
        );
        let cfg = TcpConfig {
            address: Some("127.0.0.1:11211".into()),
            command: Some(r"stats\r\n".into()),
            terminator: Some(r"END\r\n".into()),
            ..Default::default()
        };
        let source = TcpSource::from_config(&cfg).unwrap();
        assert_eq!(source.command, b"stats\r\n");
        assert_eq!(source.terminator.as_deref(), Some(&b"END\r\n"[..]));
    }

    #[test]
    fn find_locates_needles() {
        assert_eq!(find(b"abcEND\r\n", b"END\r\n"), Some(3));
        assert_eq!(find(b"abc", b"END"), None);
    }
}
