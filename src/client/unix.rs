//! HTTP/1.1 over a unix socket (`unix:/run/app.sock:/status`): hyper's client over a
//! `tokio::net::UnixStream`. reqwest cannot dial unix sockets, and hyper (already underneath
//! reqwest) gives a correct HTTP/1.1 implementation — chunked bodies, keep-alive — for a few
//! lines of glue, where a hand-written client would have to re-implement both.

use std::path::PathBuf;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, HOST};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;

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

// --- authentication ---

/// HTTP/1.1 over a unix socket, keeping one connection open between scrapes.
pub(crate) struct UnixClient {
    socket: PathBuf,
    path: String,
    connection: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl UnixClient {
    pub(crate) fn new(socket: PathBuf, path: String) -> Self {
        UnixClient {
            socket,
            path,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CollectError> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| {
                CollectError::new(
                    Reason::Connect,
                    format!("cannot connect to {}: {e}", self.socket.display()),
                )
            })?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| CollectError::new(Reason::Connect, error_chain(&e)))?;
        tokio::spawn(async move {
            // Ends when the server closes or the sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }

    pub(crate) async fn fetch(
        &self,
        ctx: &Context,
        method: &http::Method,
        headers: HeaderMap,
        body: Option<Bytes>,
        valid: &Option<Vec<u16>>,
        max_bytes: u64,
    ) -> Result<HttpResponse, CollectError> {
        // Held for the whole exchange: one request at a time on the one connection.
        let mut slot = self.connection.lock().await;
        let reused = slot.take();
        let build = || -> Result<http::Request<Full<Bytes>>, CollectError> {
            let mut request = http::Request::builder()
                .method(method.clone())
                .uri(self.path.as_str())
                .body(Full::new(body.clone().unwrap_or_default()))
                .map_err(|e| CollectError::new(Reason::Connect, e.to_string()))?;
            *request.headers_mut() = headers.clone();
            request
                .headers_mut()
                .entry(HOST)
                .or_insert(HeaderValue::from_static("localhost"));
            Ok(request)
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
        let target = redact_unix_url(&self.socket, &self.path);
        let mut timer = ctx.request_timer(method.as_str(), &target);
        let response = match sender.send_request(build()?).await {
            Ok(response) => response,
            // A kept-alive connection the server closed meanwhile: retry once on a new one.
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
        check_status(status, valid)?;
        let content_length = response_headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut collected = LimitedBody::new(max_bytes, content_length)?;
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
