//! The `http` source: one HTTP(S) request per collection, over TCP or a unix socket.
//!
//! Plain `http://` URLs and unix sockets (`unix:/run/app.sock:/status`) go through
//! [`super::plain`], one kept-alive connection. TLS, redirects and compressed answers go through
//! one `reqwest` client built at config load, which keeps its connections alive too.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, AUTHORIZATION, USER_AGENT,
};
use serde::Deserialize;

use super::auth::{auth_from_config, Auth, BasicAuth, Secret};
use super::body::{LimitedBody, DEFAULT_MAX_RESPONSE_BYTES};
use super::plain::{redact_unix_url, split_unix_url, PlainClient, PlainRequest};
use super::tls::{apply_server_name, apply_tls, load_tls, TlsConfig};
use crate::client::Source;
use crate::collector::{CollectError, Context, Reason};
use crate::config::KeyError;

/// The keys of the kinds that read the app over HTTP (`http_text`, `http_json`, `prometheus`,
/// `http_probe`): where and how to ask.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestConfig {
    /// The URL to read (`http://`, `https://`, or `unix:/path/to.sock:/status`).
    pub url: Option<String>,
    /// Request method (default `GET`).
    pub method: Option<String>,
    /// Extra request headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// Request body (for `POST`).
    pub body: Option<String>,
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent as `Authorization: Bearer …`.
    pub bearer_token: Option<String>,
    /// A file holding the bearer token (re-read when it changes).
    pub bearer_token_file: Option<String>,
    /// TLS options.
    pub tls_config: Option<TlsConfig>,
    /// Follow redirects (default `false`; `http_probe`: default `true`, at most 10, as
    /// blackbox_exporter).
    pub follow_redirects: Option<bool>,
    /// Status codes that count as success (default: 2xx).
    pub valid_status_codes: Option<Vec<u16>>,
    /// The largest answer accepted, in bytes (default 16 MiB).
    pub max_response_bytes: Option<u64>,
}

/// An answer with its status and headers, for kinds that look at them (the `prometheus` kind
/// reads `Content-Type`).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code (always one of `valid_status_codes` when returned by
    /// [`HttpSource::fetch_response`]).
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body, at most `max_response_bytes` long.
    pub body: Bytes,
}

/// Reads one URL per collection.
pub struct HttpSource {
    transport: Transport,
    method: http::Method,
    /// Configured headers plus nothing secret; auth is added per request.
    headers: HeaderMap,
    body: Option<Bytes>,
    auth: Option<Auth>,
    valid_status_codes: Option<Vec<u16>>,
    max_bytes: u64,
    /// The URL without userinfo and secret query values.
    display: String,
}

enum Transport {
    /// `http://` without redirects, and unix sockets.
    Plain(PlainClient),
    /// TLS, redirects, or a compressed answer asked for in `headers`.
    Reqwest {
        client: reqwest::Client,
        url: reqwest::Url,
    },
}

impl HttpRequestConfig {
    /// `method`, checked (default `GET`; any case).
    pub fn method(&self) -> Result<http::Method, KeyError> {
        let Some(method) = self.method.as_deref() else {
            return Ok(http::Method::GET);
        };
        http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            KeyError::at(
                "method",
                format!("method {method:?} is not a valid HTTP method"),
            )
        })
    }
}

impl HttpSource {
    /// Builds the source from a collector's `url`, `method`, `headers`, `body`, `basic_auth`,
    /// `bearer_token`, `bearer_token_file`, `tls_config`, `follow_redirects`,
    /// `valid_status_codes` and `max_response_bytes`.
    pub fn from_config(cfg: &HttpRequestConfig) -> Result<HttpSource, KeyError> {
        let url = cfg
            .url
            .as_deref()
            .ok_or("the `url` key is missing (http source)")?;
        let method = cfg.method()?;
        let mut headers = headers_from_config(cfg)?;
        headers
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(concat!(
                "sidecar-exporter/",
                env!("CARGO_PKG_VERSION")
            )));
        let mut auth = auth_from_config(cfg)?;
        let max_bytes = cfg.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        let (transport, display) = if let Some(rest) = url.strip_prefix("unix:") {
            let (socket, path) = split_unix_url(rest).map_err(|e| KeyError::at("url", e))?;
            if cfg.tls_config.is_some() {
                return Err(KeyError::at(
                    "tls_config",
                    "tls_config does not apply to a unix-socket url",
                ));
            }
            let display = redact_unix_url(&socket, &path);
            (Transport::Plain(PlainClient::unix(socket, path)), display)
        } else {
            let mut parsed = reqwest::Url::parse(url)
                .map_err(|e| KeyError::at("url", format!("url {url:?} is not valid: {e}")))?;
            if parsed.scheme() != "http" && parsed.scheme() != "https" {
                return Err(KeyError::at(
                    "url",
                    format!(
                        "url {url:?}: the scheme must be http, https or unix, not {:?}",
                        parsed.scheme()
                    ),
                ));
            }
            let display = redact_url(&parsed);
            if auth.is_none() && !headers.contains_key(AUTHORIZATION) {
                auth = auth_from_userinfo(&parsed);
            }
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let follow_redirects = cfg.follow_redirects.unwrap_or(false);
            let transport = if parsed.scheme() == "http"
                && cfg.tls_config.is_none()
                && !follow_redirects
                && !headers.contains_key(ACCEPT_ENCODING)
            {
                Transport::Plain(PlainClient::tcp(&parsed).map_err(|e| KeyError::at("url", e))?)
            } else {
                let mut builder = reqwest::Client::builder().redirect(if follow_redirects {
                    reqwest::redirect::Policy::limited(10)
                } else {
                    reqwest::redirect::Policy::none()
                });
                if let Some(tls) = &cfg.tls_config {
                    builder = apply_tls(builder, &load_tls(tls)?);
                    if let Some(server_name) = &tls.server_name {
                        builder =
                            apply_server_name(builder, &mut parsed, server_name, &mut headers)
                                .map_err(|e| KeyError::at("server_name", e).below("tls_config"))?;
                    }
                }
                let client = builder
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
                Transport::Reqwest {
                    client,
                    url: parsed,
                }
            };
            (transport, display)
        };
        Ok(HttpSource {
            transport,
            method,
            headers,
            body: cfg.body.clone().map(Bytes::from),
            auth,
            valid_status_codes: cfg.valid_status_codes.clone(),
            max_bytes,
            display,
        })
    }

    /// Fetches once and returns status, headers and body. A status outside
    /// `valid_status_codes` is an `http_status` error.
    pub async fn fetch_response(&self, ctx: &Context) -> Result<HttpResponse, CollectError> {
        if ctx.remaining().is_zero() {
            return Err(CollectError::new(
                Reason::Timeout,
                format!("no time left to request {}", self.display),
            ));
        }
        let mut headers = self.headers.clone();
        if let Some(auth) = &self.auth {
            headers.insert(AUTHORIZATION, auth.header_value()?);
        }
        let exchange = async {
            match &self.transport {
                Transport::Plain(plain) => {
                    let request = PlainRequest {
                        method: &self.method,
                        headers,
                        body: self.body.clone(),
                        valid_status_codes: &self.valid_status_codes,
                        max_bytes: self.max_bytes,
                        shown: &self.display,
                    };
                    plain.fetch(ctx, request).await
                }
                Transport::Reqwest { client, url } => {
                    self.fetch_reqwest(ctx, client, url, headers).await
                }
            }
        };
        match tokio::time::timeout_at(ctx.deadline, exchange).await {
            Ok(result) => result.map_err(|e| CollectError::new(e.reason, self.describe(&e))),
            Err(_) => Err(CollectError::new(
                Reason::Timeout,
                format!(
                    "{} did not answer completely before the deadline",
                    self.display
                ),
            )),
        }
    }

    fn describe(&self, e: &CollectError) -> String {
        format!("{}: {}", self.display, e.message)
    }

    async fn fetch_reqwest(
        &self,
        ctx: &Context,
        client: &reqwest::Client,
        url: &reqwest::Url,
        headers: HeaderMap,
    ) -> Result<HttpResponse, CollectError> {
        let mut request = client
            .request(self.method.clone(), url.clone())
            .headers(headers)
            .timeout(ctx.remaining());
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        ctx.count_request();
        let mut timer = ctx.request_timer(self.method.as_str(), &self.display);
        let mut response = request.send().await.map_err(classify_reqwest)?;
        let status = response.status().as_u16();
        timer.phase("headers");
        timer.status(status);
        check_status(status, &self.valid_status_codes)?;
        let mut body = LimitedBody::new(self.max_bytes, response.content_length())?;
        while let Some(chunk) = response.chunk().await.map_err(classify_reqwest)? {
            body.push(&chunk)?;
        }
        timer.phase("body");
        timer.bytes(body.len());
        Ok(HttpResponse {
            status,
            headers: response.headers().clone(),
            body: body.finish(),
        })
    }
}

#[async_trait::async_trait]
impl Source for HttpSource {
    async fn fetch(&self, ctx: &Context) -> Result<Bytes, CollectError> {
        Ok(self.fetch_response(ctx).await?.body)
    }

    fn target(&self) -> String {
        self.display.clone()
    }

    fn asks_alongside_others(&self) -> bool {
        true
    }
}

/// The configured `headers`, checked (an `Authorization` header is marked sensitive).
pub(crate) fn headers_from_config(cfg: &HttpRequestConfig) -> Result<HeaderMap, KeyError> {
    let mut headers = HeaderMap::new();
    for (name, value) in cfg.headers.iter().flatten() {
        let at_header = |message: String| KeyError::at(name, message).below("headers");
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| at_header(format!("header name {name:?} is not valid")))?;
        let mut header_value = HeaderValue::from_str(value)
            .map_err(|_| at_header(format!("the value of header {name:?} is not valid")))?;
        if header_name == AUTHORIZATION {
            header_value.set_sensitive(true);
            if cfg.basic_auth.is_some()
                || cfg.bearer_token.is_some()
                || cfg.bearer_token_file.is_some()
            {
                return Err(at_header(
                    "an `Authorization` header and basic_auth/bearer_token exclude each other"
                        .to_string(),
                ));
            }
        }
        headers.insert(header_name, header_value);
    }
    Ok(headers)
}

/// Basic credentials from the URL's userinfo (`http://user:pass@host/`), as browsers and
/// reqwest take them.
fn auth_from_userinfo(url: &reqwest::Url) -> Option<Auth> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some(Auth::Basic {
        username: decode(url.username()),
        password: Secret::Inline(decode(url.password().unwrap_or(""))),
    })
}

/// True when `status` is accepted: in `valid` when given, else 2xx.
pub(crate) fn status_is_valid(status: u16, valid: &Option<Vec<u16>>) -> bool {
    match valid {
        Some(codes) if !codes.is_empty() => codes.contains(&status),
        _ => (200..300).contains(&status),
    }
}

pub(crate) fn check_status(status: u16, valid: &Option<Vec<u16>>) -> Result<(), CollectError> {
    if status_is_valid(status, valid) {
        return Ok(());
    }
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let expected = match valid {
        Some(codes) if !codes.is_empty() => format!(
            "one of {}",
            codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "2xx".to_string(),
    };
    Err(CollectError::new(
        Reason::HttpStatus,
        format!("answered HTTP {status} {reason}, expected {expected} (valid_status_codes)",)
            .replace("  ", " "),
    ))
}

/// Turns a reqwest error into a reason and a sentence (without the URL, which may hold secrets;
/// the caller prefixes the redacted one).
pub(crate) fn classify_reqwest(e: reqwest::Error) -> CollectError {
    let reason = if e.is_timeout() {
        Reason::Timeout
    } else if e.is_connect() {
        Reason::Connect
    } else if find_hyper_error(&e).is_some_and(|h| h.is_parse() || h.is_parse_status()) {
        Reason::Parse
    } else {
        Reason::Connect
    };
    let connect_failed = e.is_connect();
    let e = e.without_url();
    let message = match reason {
        Reason::Parse => format!("the answer is not valid HTTP: {}", error_chain(&e)),
        Reason::Timeout => format!("no complete answer in time: {}", error_chain(&e)),
        // The innermost cause says it in plain words ("Connection refused (os error 111)").
        _ if connect_failed => format!("cannot connect: {}", root_cause(&e)),
        _ => error_chain(&e),
    };
    CollectError::new(reason, message)
}

/// The innermost error of a chain.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &(dyn std::error::Error + 'static) = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn find_hyper_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a hyper::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            return Some(h);
        }
        current = err.source();
    }
    None
}

/// `error: cause: cause`, each distinct message once.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}

/// The URL for display: no userinfo, and the values of query parameters that look like secrets
/// replaced by `<secret>` (a query without such parameters is shown as written: `?auto`).
pub(crate) fn redact_url(url: &reqwest::Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    let is_secret = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["token", "pass", "secret", "key", "auth", "sig"]
            .iter()
            .any(|word| key.contains(word))
    };
    if url.query_pairs().any(|(k, _)| is_secret(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let value = if is_secret(&k) {
                    "<secret>".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), value)
            })
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    clean.to_string()
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_and_plain_queries_kept() {
        let url = reqwest::Url::parse("http://u:p@127.0.0.1/s?auto").unwrap();
        assert_eq!(redact_url(&url), "http://127.0.0.1/s?auto");
        let url = reqwest::Url::parse("http://127.0.0.1/s?token=abc&x=1").unwrap();
        assert_eq!(
            redact_url(&url),
            "http://127.0.0.1/s?token=%3Csecret%3E&x=1"
        );
        let shown = redact_unix_url(std::path::Path::new("/run/a.sock"), "/status?api_key=abc");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(
            shown.starts_with("unix:/run/a.sock:/status?api_key="),
            "{shown}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::locate::Step;

    #[test]
    fn redaction_removes_userinfo_and_secret_query_values() {
        let url = reqwest::Url::parse("http://bob:hunter2@127.0.0.1:8080/s?access_token=abc&x=1")
            .unwrap();
        let shown = redact_url(&url);
        assert_eq!(
            shown,
            "http://127.0.0.1:8080/s?access_token=%3Csecret%3E&x=1"
        );
        assert!(!shown.contains("hunter2") && !shown.contains("bob"));
    }

    #[test]
    fn status_defaults_to_2xx() {
        assert!(status_is_valid(204, &None));
        assert!(!status_is_valid(301, &None));
        assert!(status_is_valid(404, &Some(vec![404])));
        assert!(!status_is_valid(200, &Some(vec![404])));
        let err = check_status(500, &None).unwrap_err();
        assert_eq!(err.reason, Reason::HttpStatus);
        assert!(err.message.contains("500"), "{}", err.message);
    }

    #[test]
    fn config_errors_are_sentences() {
        let cfg = HttpRequestConfig {
            url: Some("ftp://x/".into()),
            ..Default::default()
        };
        let err = HttpSource::from_config(&cfg).err().unwrap();
        assert!(err.message.contains("scheme"), "{err}");
        assert_eq!(err.path, [Step::Key("url".into())]);
        let cfg = HttpRequestConfig {
            url: Some("http://127.0.0.1/".into()),
            method: Some("GE T".into()),
            ..Default::default()
        };
        assert!(HttpSource::from_config(&cfg).is_err());
        let cfg = HttpRequestConfig {
            url: Some("http://127.0.0.1/".into()),
            bearer_token_file: Some("/nonexistent/token".into()),
            ..Default::default()
        };
        let err = HttpSource::from_config(&cfg).err().unwrap();
        assert!(err.message.contains("bearer_token_file"), "{err}");
        assert_eq!(err.path, [Step::Key("bearer_token_file".into())]);
        let cfg = HttpRequestConfig {
            url: Some("https://127.0.0.1/".into()),
            tls_config: Some(TlsConfig {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = HttpSource::from_config(&cfg).err().unwrap();
        let path = ["tls_config", "ca_file"].map(|k| Step::Key(k.into()));
        assert_eq!(err.path, path, "{err}");
    }
}
