//! The `http` source: one HTTP(S) request per collection, over TCP or a unix socket.
//!
//! TCP targets use one `reqwest` client built at config load, so connections to the app are kept
//! alive between scrapes. Unix-socket targets (`unix:/run/app.sock:/status`) use hyper's HTTP/1.1
//! client over a `tokio::net::UnixStream`: reqwest cannot dial unix sockets, and hyper (already
//! underneath reqwest) gives a correct HTTP/1.1 implementation — chunked bodies, keep-alive —
//! for a few lines of glue, where a hand-written client would have to re-implement both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, HOST};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use serde::Deserialize;

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

/// HTTP basic authentication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password (prefer `password_file`).
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<String>,
}

/// TLS options for an `https://` target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust (in addition to the system's).
    pub ca_file: Option<String>,
    /// PEM client certificate.
    pub cert_file: Option<String>,
    /// PEM client key.
    pub key_file: Option<String>,
    /// Server name to verify instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any certificate (for self-signed localhost targets only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Default of `max_response_bytes`: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

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
    Tcp {
        client: reqwest::Client,
        url: reqwest::Url,
    },
    Unix(UnixClient),
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
        let method = match cfg.method.as_deref() {
            None => http::Method::GET,
            Some(m) => {
                http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    KeyError::at("method", format!("method {m:?} is not a valid HTTP method"))
                })?
            }
        };
        let mut headers = headers_from_config(cfg)?;
        let auth = auth_from_config(cfg)?;
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
            (Transport::Unix(UnixClient::new(socket, path)), display)
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
            let mut builder = reqwest::Client::builder()
                .redirect(if cfg.follow_redirects.unwrap_or(false) {
                    reqwest::redirect::Policy::limited(10)
                } else {
                    reqwest::redirect::Policy::none()
                })
                .user_agent(concat!("sidecar-exporter/", env!("CARGO_PKG_VERSION")));
            if let Some(tls) = &cfg.tls_config {
                builder = apply_tls(builder, &load_tls(tls)?);
                if let Some(server_name) = &tls.server_name {
                    builder = apply_server_name(builder, &mut parsed, server_name, &mut headers)
                        .map_err(|e| KeyError::at("server_name", e).below("tls_config"))?;
                }
            }
            let client = builder
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
            (
                Transport::Tcp {
                    client,
                    url: parsed,
                },
                display,
            )
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
                Transport::Tcp { client, url } => self.fetch_tcp(ctx, client, url, headers).await,
                Transport::Unix(unix) => {
                    unix.fetch(
                        ctx,
                        &self.method,
                        headers,
                        self.body.clone(),
                        &self.valid_status_codes,
                        self.max_bytes,
                    )
                    .await
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

    async fn fetch_tcp(
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
        let mut response = request.send().await.map_err(classify_reqwest)?;
        let status = response.status().as_u16();
        check_status(status, &self.valid_status_codes)?;
        let mut body = LimitedBody::new(self.max_bytes, response.content_length())?;
        while let Some(chunk) = response.chunk().await.map_err(classify_reqwest)? {
            body.push(&chunk)?;
        }
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

/// The certificates and key a `tls_config` names, read once when the config loads.
#[derive(Clone)]
pub(crate) struct TlsMaterial {
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
    insecure_skip_verify: bool,
    /// `server_name`, applied by the caller to the URL it connects to.
    pub(crate) server_name: Option<String>,
}

/// Reads the CA, certificate and key files of `tls`, with errors naming the file.
pub(crate) fn load_tls(tls: &TlsConfig) -> Result<TlsMaterial, KeyError> {
    let at = |key: &str, message: String| KeyError::at(key, message).below("tls_config");
    let mut roots = Vec::new();
    if let Some(ca_file) = &tls.ca_file {
        let pem = std::fs::read(ca_file)
            .map_err(|e| at("ca_file", format!("cannot read ca_file {ca_file}: {e}")))?;
        roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            at(
                "ca_file",
                format!("ca_file {ca_file} holds no valid PEM certificate: {e}"),
            )
        })?;
        if roots.is_empty() {
            return Err(at(
                "ca_file",
                format!("ca_file {ca_file} holds no PEM certificate"),
            ));
        }
    }
    let identity = match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let mut pem = std::fs::read(cert_file).map_err(|e| {
                at(
                    "cert_file",
                    format!("cannot read cert_file {cert_file}: {e}"),
                )
            })?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(key_file)
                    .map_err(|e| at("key_file", format!("cannot read key_file {key_file}: {e}")))?,
            );
            Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                at("cert_file", format!("cert_file {cert_file} and key_file {key_file} are not a usable PEM certificate and key: {e}"))
            })?)
        }
        (None, None) => None,
        _ => {
            return Err(KeyError::at(
                "tls_config",
                "tls_config: cert_file and key_file must be given together",
            ))
        }
    };
    Ok(TlsMaterial {
        roots,
        identity,
        insecure_skip_verify: tls.insecure_skip_verify,
        server_name: tls.server_name.clone(),
    })
}

/// Adds the loaded certificates and key to a client under construction.
pub(crate) fn apply_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsMaterial,
) -> reqwest::ClientBuilder {
    for certificate in &tls.roots {
        builder = builder.add_root_certificate(certificate.clone());
    }
    if let Some(identity) = &tls.identity {
        builder = builder.identity(identity.clone());
    }
    if tls.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
}

/// `server_name`: the request goes to the URL's IP address, but TLS verifies (and sends SNI
/// for) `server_name`. reqwest has no such switch, so the URL's host becomes `server_name`,
/// pinned to the original address, and the `Host` header keeps the original host.
fn apply_server_name(
    builder: reqwest::ClientBuilder,
    url: &mut reqwest::Url,
    server_name: &str,
    headers: &mut HeaderMap,
) -> Result<reqwest::ClientBuilder, String> {
    let host = url.host_str().unwrap_or_default();
    let ip: std::net::IpAddr = match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(ip) => ip,
        Err(_) => {
            return Err(
                "tls_config.server_name needs the url's host to be an IP address (e.g. https://127.0.0.1:8443/)"
                    .to_string(),
            )
        }
    };
    let address = std::net::SocketAddr::new(ip, url.port_or_known_default().unwrap_or(443));
    use_server_name(url, server_name, headers)?;
    Ok(builder.resolve(server_name, address))
}

/// Makes `server_name` the host the client connects to and verifies, keeping the URL's host in
/// the `Host` header (unless the request sets its own). The caller pins `server_name` to the
/// address to connect to (`ClientBuilder::resolve`); the `http` source and the probe share this.
pub(crate) fn use_server_name(
    url: &mut reqwest::Url,
    server_name: &str,
    headers: &mut HeaderMap,
) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    let original_host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    if !headers.contains_key(HOST) {
        let value = HeaderValue::from_str(&original_host)
            .map_err(|_| format!("host {original_host:?} is not a valid Host header"))?;
        headers.insert(HOST, value);
    }
    url.set_host(Some(server_name)).map_err(|e| {
        format!("tls_config.server_name {server_name:?} is not a valid host name: {e}")
    })
}

/// True when `status` is accepted: in `valid` when given, else 2xx.
pub(crate) fn status_is_valid(status: u16, valid: &Option<Vec<u16>>) -> bool {
    match valid {
        Some(codes) if !codes.is_empty() => codes.contains(&status),
        _ => (200..300).contains(&status),
    }
}

fn check_status(status: u16, valid: &Option<Vec<u16>>) -> Result<(), CollectError> {
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

/// A `unix:/path/to.sock:/status?query` URL for display, its query redacted like [`redact_url`].
fn redact_unix_url(socket: &std::path::Path, path: &str) -> String {
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
fn split_unix_url(rest: &str) -> Result<(PathBuf, String), String> {
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

/// Credentials sent in the `Authorization` header.
pub(crate) enum Auth {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Auth {
    /// The header value, reading a password or token file when it changed.
    pub(crate) fn header_value(&self) -> Result<HeaderValue, CollectError> {
        use base64::Engine as _;
        let text = match self {
            Auth::Basic { username, password } => {
                let credentials = format!("{username}:{}", password.get()?);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                )
            }
            Auth::Bearer(token) => format!("Bearer {}", token.get()?),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            CollectError::new(
                Reason::Connect,
                "the credentials contain characters not allowed in an HTTP header",
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// `basic_auth`, `bearer_token` or `bearer_token_file`, checked.
pub(crate) fn auth_from_config(cfg: &HttpRequestConfig) -> Result<Option<Auth>, KeyError> {
    let bearer = match (&cfg.bearer_token, &cfg.bearer_token_file) {
        (Some(_), Some(_)) => {
            return Err(KeyError::at(
                "bearer_token_file",
                "bearer_token and bearer_token_file exclude each other",
            ))
        }
        (Some(token), None) => Some(Secret::Inline(token.clone())),
        (None, Some(file)) => Some(Secret::File(
            FileSecret::new(file, "bearer_token_file")
                .map_err(|e| KeyError::at("bearer_token_file", e))?,
        )),
        (None, None) => None,
    };
    let basic = match &cfg.basic_auth {
        None => None,
        Some(basic) => {
            let password = match (&basic.password, &basic.password_file) {
                (Some(_), Some(_)) => {
                    return Err(KeyError::at(
                        "password_file",
                        "basic_auth: password and password_file exclude each other",
                    )
                    .below("basic_auth"))
                }
                (Some(p), None) => Secret::Inline(p.clone()),
                (None, Some(file)) => Secret::File(
                    FileSecret::new(file, "basic_auth.password_file")
                        .map_err(|e| KeyError::at("password_file", e).below("basic_auth"))?,
                ),
                (None, None) => Secret::Inline(String::new()),
            };
            Some(Auth::Basic {
                username: basic.username.clone(),
                password,
            })
        }
    };
    match (basic, bearer) {
        (Some(_), Some(_)) => Err(KeyError::at(
            "basic_auth",
            "basic_auth and bearer_token(_file) exclude each other",
        )),
        (Some(b), None) => Ok(Some(b)),
        (None, Some(token)) => Ok(Some(Auth::Bearer(token))),
        (None, None) => Ok(None),
    }
}

pub(crate) enum Secret {
    Inline(String),
    File(FileSecret),
}

impl Secret {
    fn get(&self) -> Result<String, CollectError> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(f) => f.get(),
        }
    }
}

/// A secret kept in a file (a Kubernetes service-account token, a mounted password). The file is
/// stat'ed on every request and read again only when its modification time or size changed.
pub(crate) struct FileSecret {
    path: String,
    key: &'static str,
    cached: Mutex<Option<(SystemTime, u64, String)>>,
}

impl FileSecret {
    fn new(path: &str, key: &'static str) -> Result<Self, String> {
        let secret = FileSecret {
            path: path.to_string(),
            key,
            cached: Mutex::new(None),
        };
        secret.get().map_err(|e| e.message)?;
        Ok(secret)
    }

    fn get(&self) -> Result<String, CollectError> {
        let unreadable = |e: std::io::Error| {
            let reason = if e.kind() == std::io::ErrorKind::PermissionDenied {
                Reason::Permission
            } else {
                Reason::Connect
            };
            CollectError::new(
                reason,
                format!("cannot read {} {}: {e}", self.key, self.path),
            )
        };
        let metadata = std::fs::metadata(&self.path).map_err(unreadable)?;
        let modified = metadata.modified().map_err(unreadable)?;
        let mut cached = crate::scrape::lock(&self.cached);
        if let Some((mtime, len, value)) = cached.as_ref() {
            if *mtime == modified && *len == metadata.len() {
                return Ok(value.clone());
            }
        }
        let content = std::fs::read_to_string(&self.path).map_err(unreadable)?;
        let value = content.trim_end_matches(['\r', '\n']).to_string();
        *cached = Some((modified, metadata.len(), value.clone()));
        Ok(value)
    }
}

// --- unix sockets ---

/// HTTP/1.1 over a unix socket, keeping one connection open between scrapes.
struct UnixClient {
    socket: PathBuf,
    path: String,
    connection: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl UnixClient {
    fn new(socket: PathBuf, path: String) -> Self {
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

    async fn fetch(
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

    #[test]
    fn token_file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let secret = FileSecret::new(path.to_str().unwrap(), "bearer_token_file").unwrap();
        assert_eq!(secret.get().unwrap(), "first");
        std::fs::write(&path, "second-token\n").unwrap();
        assert_eq!(secret.get().unwrap(), "second-token");
    }
}
