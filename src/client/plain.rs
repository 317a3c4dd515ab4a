//! Plain HTTP/1.1 (no TLS, no redirects) over one kept-alive connection: `http://` URLs over
//! TCP and `unix:/run/app.sock:/status` URLs over a unix socket.
//!
//! hyper's client connection does the HTTP (chunked bodies, keep-alive); this file dials, keeps
//! the one connection between scrapes and retries once when the app closed it meanwhile. A
//! sidecar asks one local endpoint once per scrape, so a pool, proxy lookup and TLS set-up are
//! all cost and no use: building a reqwest client sets up rustls and its roots even for an
//! `http://` URL (BENCHMARKS.md, "The client path for plain HTTP"). reqwest stays for what needs
//! it: TLS, redirects and compressed answers.

use std::path::PathBuf;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, HOST};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::body::LimitedBody;
use super::http::{check_status, error_chain, redact_url, HttpResponse};
use crate::collector::{CollectError, Context, Reason};

/// A `unix:/path/to.sock:/status?query` URL for display, its query redacted like [`redact_url`].
pub(crate) fn redact_unix_url(socket: &std::path::Path, path: &str) -> String {
    let shown_path = reqwest::Url::parse(&format!("http://localhost{path}"))
        .map(|url| {
            let redacted = redact_url(&url);
            redacted
                .strip_prefix("http://localhost")
                .unwrap_or(&redacted)
                .to_string()
        })
        .unwrap_or_else(|_| path.to_string());
    format!("unix:{}:{shown_path}", socket.display())
}

/// Splits `/run/app.sock:/status?x` (after `unix:`) into the socket path and the request path.
pub(crate) fn split_unix_url(rest: &str) -> Result<(PathBuf, String), String> {
    let (socket, path) = match rest.find(":/") {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, "/"),
    };
    if socket.is_empty() {
        return Err(format!(
            "url \"unix:{rest}\" names no socket; expected unix:/path/to.sock:/status"
        ));
    }
    path.parse::<http::Uri>()
        .map_err(|e| format!("url \"unix:{rest}\": request path {path:?} is not valid: {e}"))?;
    Ok((PathBuf::from(socket), path.to_string()))
}

/// Where the connection goes.
enum Endpoint {
    /// A host (an IP address or a name, resolved at each connect) and port.
    Tcp(url::Host<String>, u16),
    /// A unix socket's path.
    Unix(PathBuf),
}

/// What one request asks, the same at every collection.
pub(crate) struct PlainRequest<'a> {
    pub(crate) method: &'a http::Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    pub(crate) valid_status_codes: &'a Option<Vec<u16>>,
    pub(crate) max_bytes: u64,
    /// The target as shown (redacted), for the debug page's request timings.
    pub(crate) shown: &'a str,
}

/// Plain HTTP/1.1 to one endpoint, keeping one connection open between scrapes.
pub(crate) struct PlainClient {
    endpoint: Endpoint,
    /// The request target: path and query.
    path: String,
    /// The `Host` header: the URL's host and port for TCP, `localhost` for a unix socket.
    host: HeaderValue,
    connection: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl PlainClient {
    /// A client for a unix socket and a request path (from [`split_unix_url`]).
    pub(crate) fn unix(socket: PathBuf, path: String) -> Self {
        PlainClient::new(
            Endpoint::Unix(socket),
            path,
            HeaderValue::from_static("localhost"),
        )
    }

    /// A client for an `http://` URL (its userinfo, if any, is the caller's to turn into
    /// credentials).
    pub(crate) fn tcp(url: &url::Url) -> Result<Self, String> {
        let host = url
            .host()
            .ok_or_else(|| format!("url {:?} names no host", url.as_str()))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let host_header = HeaderValue::from_str(&host_header)
            .map_err(|_| format!("url {:?}: the host is not valid in a header", url.as_str()))?;
        let mut path = url.path().to_string();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        Ok(PlainClient::new(
            Endpoint::Tcp(host.to_owned(), port),
            path,
            host_header,
        ))
    }

    fn new(endpoint: Endpoint, path: String, host: HeaderValue) -> Self {
        PlainClient {
            endpoint,
            path,
            host,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CollectError> {
        let cannot_connect =
            |e: std::io::Error| CollectError::new(Reason::Connect, format!("cannot connect: {e}"));
        let handshake = match &self.endpoint {
            Endpoint::Tcp(host, port) => {
                let stream = match host {
                    url::Host::Ipv4(ip) => tokio::net::TcpStream::connect((*ip, *port)).await,
                    url::Host::Ipv6(ip) => tokio::net::TcpStream::connect((*ip, *port)).await,
                    url::Host::Domain(name) => {
                        tokio::net::TcpStream::connect((name.as_str(), *port)).await
                    }
                }
                .map_err(cannot_connect)?;
                // A request is one small write; waiting to coalesce it only adds latency.
                stream.set_nodelay(true).map_err(cannot_connect)?;
                Self::handshake(stream).await
            }
            Endpoint::Unix(socket) => {
                let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
                    CollectError::new(
                        Reason::Connect,
                        format!("cannot connect to {}: {e}", socket.display()),
                    )
                })?;
                Self::handshake(stream).await
            }
        };
        handshake.map_err(|e| CollectError::new(Reason::Connect, error_chain(&e)))
    }

    async fn handshake<S>(stream: S) -> Result<SendRequest<Full<Bytes>>, hyper::Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the app closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }

    pub(crate) async fn fetch(
        &self,
        ctx: &Context,
        request: PlainRequest<'_>,
    ) -> Result<HttpResponse, CollectError> {
        // Held for the whole exchange: one request at a time on the one connection.
        let mut slot = self.connection.lock().await;
        let reused = slot.take();
        let build = || -> Result<http::Request<Full<Bytes>>, CollectError> {
            let mut built = http::Request::builder()
                .method(request.method.clone())
                .uri(self.path.as_str())
                .body(Full::new(request.body.clone().unwrap_or_default()))
                .map_err(|e| CollectError::new(Reason::Connect, e.to_string()))?;
            *built.headers_mut() = request.headers.clone();
            built.headers_mut().entry(HOST).or_insert(self.host.clone());
            Ok(built)
        };
        let mut fresh_tried = false;
        let usable = match reused {
            Some(mut sender) => sender.ready().await.ok().map(|_| sender),
            None => None,
        };
        let mut sender = match usable {
            Some(sender) => sender,
            None => {
                fresh_tried = true;
                self.connect().await?
            }
        };
        ctx.count_request();
        let mut timer = ctx.request_timer(request.method.as_str(), request.shown);
        let response = match sender.send_request(build()?).await {
            Ok(response) => response,
            // A kept-alive connection the app closed meanwhile: retry once on a new one.
            Err(e) if !fresh_tried && (e.is_canceled() || e.is_incomplete_message()) => {
                sender = self.connect().await?;
                ctx.count_request();
                sender
                    .send_request(build()?)
                    .await
                    .map_err(classify_hyper)?
            }
            Err(e) => return Err(classify_hyper(e)),
        };
        let status = response.status().as_u16();
        timer.phase("headers");
        timer.status(status);
        let response_headers = response.headers().clone();
        check_status(status, request.valid_status_codes)?;
        if let Some(encoding) = response_headers.get(CONTENT_ENCODING) {
            if !encoding.as_bytes().eq_ignore_ascii_case(b"identity") {
                return Err(CollectError::new(
                    Reason::Parse,
                    format!(
                        "the answer is encoded ({}) though no Accept-Encoding was sent",
                        String::from_utf8_lossy(encoding.as_bytes())
                    ),
                ));
            }
        }
        let content_length = response_headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut collected = LimitedBody::new(request.max_bytes, content_length)?;
        let mut incoming = response.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(classify_hyper)?;
            if let Some(data) = frame.data_ref() {
                collected.push(data)?;
            }
        }
        timer.phase("body");
        timer.bytes(collected.len());
        // The body was read to its end: the connection can serve the next scrape.
        *slot = Some(sender);
        Ok(HttpResponse {
            status,
            headers: response_headers,
            body: collected.finish(),
        })
    }
}

fn classify_hyper(e: hyper::Error) -> CollectError {
    if e.is_parse() || e.is_parse_status() {
        CollectError::new(
            Reason::Parse,
            format!("the answer is not valid HTTP: {}", error_chain(&e)),
        )
    } else {
        CollectError::new(Reason::Connect, error_chain(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_urls_split_into_socket_and_path() {
        assert_eq!(
            split_unix_url("/run/nginx.sock:/status?full").unwrap(),
            (PathBuf::from("/run/nginx.sock"), "/status?full".to_string())
        );
        assert_eq!(
            split_unix_url("/run/app.sock").unwrap(),
            (PathBuf::from("/run/app.sock"), "/".to_string())
        );
        assert!(split_unix_url(":/status").is_err());
    }
}
