//! Accepting connections: one loop for plain HTTP and TLS, with the limits that keep whatever
//! reaches the port (a client that sends half a request, a body never sent, thousands of idle
//! keep-alive connections) from starving Prometheus' scrape.
//!
//! - A request must be complete within `header_read_timeout` of its first byte (a client that
//!   sends half a request).
//! - A connection with no request in progress and nothing arriving is closed after
//!   `idle_timeout` (a keep-alive connection between scrapes, a body that never came).
//!
//! Both are watched here rather than with hyper's `header_read_timeout`, whose clock also runs
//! while a keep-alive connection waits for its next request: it would close Prometheus'
//! connection between scrapes.
//! - At most `max_connections` are open, over all listeners. When a new one arrives at the cap,
//!   the oldest connection with no request in progress is closed to make room; when every one
//!   is answering a request, the new one is refused at once with a 503 instead of waiting.
//! - The cap leaves [`RESERVED_FDS`] descriptors below the process' limit for the collectors'
//!   own connections and files; should `accept` still run out of descriptors, the oldest idle
//!   connection is closed and the loop goes on.
//!
//! A hand-written loop rather than `axum::serve`: axum's loop has none of these limits, and the
//! TLS listener needs its own loop anyway (the certificate is taken per connection, which is
//! what makes rotation work without a reload).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

use super::tls::{accept_tls, Handshake};
use super::web_config::WebConfigHandle;
use crate::scrape::lock;

/// Descriptors kept free below the process' limit for what is not a client connection: the
/// collectors' connections to the app, `/proc` and config files, the listeners, the log.
pub const RESERVED_FDS: u64 = 64;

/// The server's limits (`--web.header-read-timeout`, `--web.idle-timeout`,
/// `--web.max-connections`).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
    /// The most connections open at once, over all listeners.
    pub max_connections: usize,
}

impl ServerLimits {
    /// `max_connections` lowered to what a descriptor limit of `fd_limit` leaves once
    /// [`RESERVED_FDS`] are kept aside (at least 1).
    pub fn within_fd_limit(mut self, fd_limit: u64) -> Self {
        let room = usize::try_from(fd_limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
        self.max_connections = self.max_connections.min(room).max(1);
        self
    }
}

/// The open connections of every listener, oldest first.
pub struct Connections {
    limits: ServerLimits,
    started: Instant,
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
}

/// One open connection, as the limits see it.
struct Connection {
    id: u64,
    /// Requests being answered on it; 0 means idle: between requests, or still sending one.
    active: AtomicUsize,
    /// When it last became idle, in milliseconds since [`Connections::started`].
    idle_since_ms: AtomicU64,
    /// When the first byte of a request not yet complete arrived (same clock, plus one so
    /// that 0 can mean "none").
    reading_since_ms: AtomicU64,
    /// Told to close: its task drops the connection.
    close: Notify,
}

impl Connections {
    /// An empty set enforcing `limits`.
    pub fn new(limits: ServerLimits) -> Arc<Self> {
        Arc::new(Connections {
            limits,
            started: Instant::now(),
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
        })
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        lock(&self.open).len()
    }

    /// True when none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers a new connection, closing the oldest idle one when at the cap; `None` when
    /// at the cap with every connection busy.
    fn admit(&self) -> Option<Arc<Connection>> {
        let mut open = lock(&self.open);
        if open.len() >= self.limits.max_connections && !Self::close_oldest_idle(&mut open) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            active: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.now_ms()),
            reading_since_ms: AtomicU64::new(0),
            close: Notify::new(),
        });
        open.insert(id, connection.clone());
        Some(connection)
    }

    /// Closes the oldest connection with no request in progress; false when there is none.
    fn close_oldest_idle(open: &mut BTreeMap<u64, Arc<Connection>>) -> bool {
        let oldest_idle = open
            .values()
            .find(|c| c.active.load(Ordering::Acquire) == 0)
            .map(|c| c.id);
        match oldest_idle.and_then(|id| open.remove(&id)) {
            Some(connection) => {
                connection.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Closes every connection idle for longer than the idle timeout, or sending a request
    /// for longer than the header timeout.
    fn close_idle(&self) {
        let now = self.now_ms();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (idle_limit, header_limit) = (
            millis(self.limits.idle_timeout),
            millis(self.limits.header_read_timeout),
        );
        lock(&self.open).retain(|_, connection| {
            let reading_since = connection.reading_since_ms.load(Ordering::Acquire);
            let expired = if reading_since > 0 {
                now.saturating_sub(reading_since - 1) >= header_limit
            } else {
                connection.active.load(Ordering::Acquire) == 0
                    && now.saturating_sub(connection.idle_since_ms.load(Ordering::Acquire))
                        >= idle_limit
            };
            if expired {
                connection.close.notify_one();
            }
            !expired
        });
    }

    /// Notes that bytes arrived on `connection`: with no request in progress, a new one is
    /// being sent and its header clock starts.
    fn bytes_arrived(&self, connection: &Connection) {
        if connection.active.load(Ordering::Acquire) == 0 {
            let _ = connection.reading_since_ms.compare_exchange(
                0,
                self.now_ms() + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    fn forget(&self, id: u64) {
        lock(&self.open).remove(&id);
    }

    /// Marks a request in progress on `connection` until the guard is dropped.
    fn busy(self: &Arc<Self>, connection: &Arc<Connection>) -> Busy {
        connection.active.fetch_add(1, Ordering::AcqRel);
        connection.reading_since_ms.store(0, Ordering::Release);
        Busy {
            connections: self.clone(),
            connection: connection.clone(),
        }
    }

    /// Closes connections past the idle or header timeout until `stop` turns true.
    pub async fn close_idle_until(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let shortest = self
            .limits
            .idle_timeout
            .min(self.limits.header_read_timeout);
        let period = (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.close_idle(),
                _ = stopped(&mut stop) => return,
            }
        }
    }
}

struct Busy {
    connections: Arc<Connections>,
    connection: Arc<Connection>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.connection
            .idle_since_ms
            .store(self.connections.now_ms(), Ordering::Release);
        self.connection.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `stop` turns true, then
/// lets the requests in flight finish (the caller bounds how long it waits).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<WebConfigHandle>>,
    connections: Arc<Connections>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let mut last_accept_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        // Reap finished connection tasks so that the set does not grow.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, most likely: make room by closing the oldest idle
                // connection, and say so at most every ten seconds rather than per attempt.
                if last_accept_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(%error, open = connections.len(), "cannot accept a connection; closing the oldest idle one");
                    last_accept_warning = Some(Instant::now());
                }
                Connections::close_oldest_idle(&mut lock(&connections.open));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(connection) = connections.admit() else {
            tasks.spawn(refuse(stream, tls.is_some()));
            continue;
        };
        let router = router.clone();
        let tls = tls.clone();
        let connections = connections.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let id = connection.id;
            if let Err(error) =
                serve_connection(stream, router, tls, &connections, connection, stop).await
            {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            connections.forget(id);
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    tls: Option<Arc<WebConfigHandle>>,
    connections: &Arc<Connections>,
    connection: Arc<Connection>,
    stop: watch::Receiver<bool>,
) -> Result<(), BoxError> {
    let Some(tls) = tls else {
        return serve_http(stream, router, connections, connection, stop).await;
    };
    let handshake = tokio::select! {
        handshake = accept_tls(stream, &tls) => handshake?,
        _ = connection.close.notified() => return Ok(()),
    };
    match handshake {
        Handshake::Done(tls_stream) => {
            serve_http(*tls_stream, router, connections, connection, stop).await
        }
        Handshake::NotTls => Ok(()),
    }
}

/// HTTP/1.1 on one connection until it closes, is told to close, or the server stops.
async fn serve_http<I>(
    io: I,
    router: Router,
    connections: &Arc<Connections>,
    connection: Arc<Connection>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let connections = connections.clone();
        let connection = connection.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = connections.busy(&connection);
            let mut router = router.clone();
            async move {
                let response = router.call(request.map(axum::body::Body::new)).await;
                drop(busy);
                response
            }
        })
    };
    let io = Watched {
        inner: io,
        connections: connections.clone(),
        connection: connection.clone(),
    };
    let http =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
    tokio::pin!(http);
    tokio::select! {
        result = http.as_mut() => result?,
        _ = connection.close.notified() => {}
        _ = stopped(&mut stop) => {
            // Finish the request in flight, then close instead of keeping the connection alive.
            http.as_mut().graceful_shutdown();
            tokio::select! {
                result = http.as_mut() => result?,
                _ = connection.close.notified() => {}
            }
        }
    }
    Ok(())
}

/// A connection's stream that tells [`Connections`] when bytes arrive, for the header timeout.
struct Watched<I> {
    inner: I,
    connections: Arc<Connections>,
    connection: Arc<Connection>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.connections.bytes_arrived(&self.connection);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Turns a connection away at once when every open one is busy: a 503 that says why on plain
/// HTTP, a close on TLS (answering would need a handshake).
async fn refuse(mut stream: TcpStream, tls: bool) {
    if !tls {
        // Read what the client sent first: closing a socket with unread data sends a reset,
        // which could reach the client before the answer.
        let mut request = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut request)).await;
        let body = "too many connections; try again\n";
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            stream.write_all(response.as_bytes()),
        )
        .await;
    }
    let _ = stream.shutdown().await;
}

/// Returns when `stop` turns true (or its sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; it is dropped here, before any other await.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_millis(100),
            max_connections,
        }
    }

    #[test]
    fn the_cap_leaves_room_below_the_descriptor_limit() {
        assert_eq!(limits(512).within_fd_limit(128).max_connections, 64);
        assert_eq!(limits(512).within_fd_limit(1_048_576).max_connections, 512);
        assert_eq!(limits(512).within_fd_limit(10).max_connections, 1);
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let connections = Connections::new(limits(2));
        let first = connections.admit().expect("room");
        let second = connections.admit().expect("room");
        let busy = connections.busy(&first);
        // The cap is reached: the oldest idle one (the second; the first is busy) is closed.
        let third = connections.admit().expect("room made");
        assert_eq!(connections.len(), 2);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), second.close.notified())
                .await
                .is_ok(),
            "the idle connection is told to close"
        );
        // Every open connection busy: the next one is refused.
        let _busy_too = connections.busy(&third);
        assert!(connections.admit().is_none());
        drop(busy);
        assert!(connections.admit().is_some(), "the first is idle again");
    }

    #[tokio::test]
    async fn idle_connections_are_closed_after_the_idle_timeout() {
        let connections = Connections::new(limits(10));
        let idle = connections.admit().expect("room");
        let working = connections.admit().expect("room");
        let _busy = connections.busy(&working);
        tokio::time::sleep(Duration::from_millis(150)).await;
        connections.close_idle();
        assert_eq!(connections.len(), 1, "only the busy one stays");
        assert!(
            tokio::time::timeout(Duration::from_secs(1), idle.close.notified())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_request_being_sent_has_the_header_timeout_an_idle_one_the_idle_timeout() {
        let connections = Connections::new(ServerLimits {
            header_read_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10,
        });
        let waiting = connections.admit().expect("room");
        let sending = connections.admit().expect("room");
        connections.bytes_arrived(&sending);
        tokio::time::sleep(Duration::from_millis(150)).await;
        connections.close_idle();
        assert_eq!(connections.len(), 1, "the one sending too slowly is closed");
        assert!(lock(&connections.open).contains_key(&waiting.id));
        // Once its headers are complete the clock stops, and starts again with the next request.
        let done = connections.admit().expect("room");
        connections.bytes_arrived(&done);
        drop(connections.busy(&done));
        tokio::time::sleep(Duration::from_millis(150)).await;
        connections.close_idle();
        assert_eq!(connections.len(), 2);
    }
}
