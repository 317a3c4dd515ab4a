//! Serving the router over TLS: accept, handshake with the current web config's certificate,
//! then HTTP/1.1 with hyper.
//!
//! A hand-written accept loop rather than `axum-server`: the TLS config is taken from
//! [`WebConfigHandle::reload_if_changed`] for every connection, which is what makes certificate
//! rotation work without a reload signal, and the loop is about as long as the glue
//! `axum-server` would need for that. It needs no crates beyond the hyper, hyper-util and
//! rustls that the HTTP client already brings.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::web_config::WebConfigHandle;

/// How long a client may take to send its first bytes and finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Serves `router` over TLS on `listener` until `stop` turns true, then lets the requests in
/// flight finish (the caller bounds how long it waits).
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    web: Arc<WebConfigHandle>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        // Reap finished connections so that the set does not grow.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // A few `stat` calls, next to a handshake's public-key operations: checking here
        // rather than waiting for the background check serves a rotated certificate to the
        // very next client.
        let Some(tls) = web.reload_if_changed().tls.clone() else {
            // Cannot happen: a web config that turns TLS off is refused while running.
            continue;
        };
        let router = router.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            if let Err(error) = serve_connection(stream, tls, router, stop).await {
                tracing::debug!(%peer, %error, "TLS connection ended with an error");
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await??;
    if peeked == 0 {
        return Ok(());
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        return refuse_plain_http(stream, first[0]).await;
    }
    let tls_stream =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsAcceptor::from(tls).accept(stream)).await??;
    let service = TowerToHyperService::new(router);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(tls_stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result?,
        _ = stopped(&mut stop) => {
            // Finish the request in flight, then close instead of keeping the connection alive.
            connection.as_mut().graceful_shutdown();
            connection.await?;
        }
    }
    Ok(())
}

/// Returns when `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; it is dropped here, before any other await.
    let _ = stop.wait_for(|stopped| *stopped).await;
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
