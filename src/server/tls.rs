//! The TLS side of a connection: the handshake with the current web config's certificate (taken
//! from [`WebConfigHandle::reload_if_changed`] for every connection, which is what makes
//! certificate rotation work without a reload signal), and a readable answer to plain HTTP on a
//! TLS port. The accept loop and HTTP are [`super::listen`]'s, shared with plain HTTP.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::web_config::WebConfigHandle;

/// How long a client may take to send its first bytes and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What came of a TLS handshake.
pub(super) enum Handshake {
    /// An encrypted stream, ready for HTTP.
    Done(Box<TlsStream<TcpStream>>),
    /// The client closed at once, or spoke plain HTTP (it was told so).
    NotTls,
}

/// The TLS handshake with the web config's current certificate, within [`HANDSHAKE_TIMEOUT`].
pub(super) async fn accept_tls(
    stream: TcpStream,
    web: &WebConfigHandle,
) -> Result<Handshake, Box<dyn std::error::Error + Send + Sync>> {
    // A few `stat` calls, next to a handshake's public-key operations: checking here rather
    // than waiting for the background check serves a rotated certificate to the very next
    // client.
    let Some(tls) = web.reload_if_changed().tls.clone() else {
        // Cannot happen: a web config that turns TLS off is refused while running.
        return Ok(Handshake::NotTls);
    };
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await??;
    if peeked == 0 {
        return Ok(Handshake::NotTls);
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        refuse_plain_http(stream, first[0]).await?;
        return Ok(Handshake::NotTls);
    }
    let tls_stream =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsAcceptor::from(tls).accept(stream)).await??;
    Ok(Handshake::Done(Box::new(tls_stream)))
}

/// Answers a plain-HTTP request on a TLS port with a 400 that says so, as Go's servers do,
/// instead of a handshake error nobody can read.
async fn refuse_plain_http(
    mut stream: TcpStream,
    first: u8,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if first.is_ascii_uppercase() {
        // Read the request first: closing a socket with unread data sends a reset, which could
        // reach the client before the answer.
        let mut request = [0u8; 4096];
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::io::AsyncReadExt::read(&mut stream, &mut request),
        )
        .await;
        let body = "Client sent an HTTP request to an HTTPS server.\n";
        let response = format!(
            "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.write_all(response.as_bytes())).await??;
        let _ = stream.shutdown().await;
    }
    Ok(())
}
