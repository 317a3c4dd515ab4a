//! `--web.config.file`: TLS and basic auth for the exporter's own HTTP server, in
//! exporter-toolkit's `web-config.yml` format, so that a file written for node_exporter or
//! any other Prometheus exporter works here unchanged.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # relative paths are relative to this file's folder
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12
//! http_server_config:
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hash: htpasswd -nBC 10 "" | tr -d ':\n'
//! ```
//!
//! What is supported and what is not, and why:
//! - Supported: `cert`/`cert_file`, `key`/`key_file`, `client_ca`/`client_ca_file`,
//!   `client_auth_type` (`NoClientCert`, `VerifyClientCertIfGiven`,
//!   `RequireAndVerifyClientCert`), `min_version`/`max_version` (`TLS12`, `TLS13`),
//!   `prefer_server_cipher_suites`, `http_server_config.headers` (the same five headers and
//!   values exporter-toolkit allows), `basic_auth_users` (bcrypt).
//! - Accepted and ignored with a logged warning: `cipher_suites`, `curve_preferences` and
//!   `http2: true`. Ignoring them never weakens anything: rustls only offers AEAD cipher
//!   suites with forward secrecy and the X25519/P-256/P-384 groups, and the server speaks
//!   HTTP/1.1 (advertised by ALPN), which every Prometheus speaks.
//! - Refused with an error: settings whose whole point is to keep someone out, because
//!   accepting and ignoring them would silently let in what the operator meant to block:
//!   `client_allowed_sans`, `rate_limit`, the client auth types that accept unverified
//!   certificates (`RequestClientCert`, `RequireAnyClientCert`), and `TLS10`/`TLS11` (rustls
//!   does not implement them).
//!
//! Like exporter-toolkit, every path is protected by basic auth, `/-/healthy` included.
//!
//! The file is read at start (errors stop the start). Afterwards the file and the certificate,
//! key and CA files it names are checked (one `stat` each) on every new connection and every
//! request; when one changed they are read again, so a rotated certificate is served from the
//! next handshake on. A changed file that fails to load is logged and the previous settings stay.
//! Turning TLS on or off needs a restart: the listeners are set up once.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::load::yaml_error;
use crate::config::ConfigError;

/// The web config file. The keys are exporter-toolkit's; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::manual_non_exhaustive)] // the private field refuses a key; see its comment
pub struct WebConfig {
    /// TLS for every listener. Absent or empty: plain HTTP.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tls_server_config: TlsServerConfig,
    /// HTTP settings: headers added to every response.
    #[serde(default, deserialize_with = "null_as_default")]
    pub http_server_config: HttpServerConfig,
    /// User names and their bcrypt password hashes; every request must then carry HTTP basic
    /// auth of one of them. Empty: no basic auth. Make a hash with
    /// `htpasswd -nBC 10 "" | tr -d ':\n'`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub basic_auth_users: BTreeMap<String, BcryptHash>,
    /// Refused: rate limiting is not implemented, and ignoring it would remove a protection
    /// the operator asked for.
    #[serde(default, deserialize_with = "refuse_rate_limit")]
    #[allow(dead_code)] // never holds anything: present only to refuse the key with a reason
    rate_limit: (),
}

/// `tls_server_config`: the server certificate and, optionally, client certificate checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::manual_non_exhaustive)] // the private field refuses a key; see its comment
pub struct TlsServerConfig {
    /// The server certificate (chain), PEM, inline. Use either this or `cert_file`.
    pub cert: Option<String>,
    /// The server's private key, PEM, inline. Use either this or `key_file`.
    pub key: Option<Secret>,
    /// CA certificates that sign client certificates, PEM, inline.
    pub client_ca: Option<String>,
    /// File with the server certificate (chain), PEM.
    pub cert_file: Option<PathBuf>,
    /// File with the server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// Whether clients must show a certificate signed by `client_ca_file`:
    /// `NoClientCert` (default), `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`.
    pub client_auth_type: Option<ClientAuthType>,
    /// File with the CA certificates that sign client certificates, PEM.
    pub client_ca_file: Option<PathBuf>,
    /// Refused: matching client certificate SANs is not implemented.
    #[serde(default, deserialize_with = "refuse_client_allowed_sans")]
    #[allow(dead_code)] // never holds anything: present only to refuse the key with a reason
    client_allowed_sans: (),
    /// Lowest TLS version accepted: `TLS12` (default) or `TLS13`.
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version accepted: `TLS12` or `TLS13` (default).
    pub max_version: Option<TlsVersion>,
    /// Ignored with a warning: rustls offers only AEAD suites with forward secrecy.
    pub cipher_suites: Option<IgnoredAny>,
    /// Whether the server's cipher suite order wins over the client's (default true).
    pub prefer_server_cipher_suites: Option<bool>,
    /// Ignored with a warning: rustls offers X25519, P-256 and P-384.
    pub curve_preferences: Option<IgnoredAny>,
}

/// `http_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Accepted for compatibility; the server speaks HTTP/1.1 only (`true` logs a warning).
    pub http2: Option<bool>,
    /// Headers added to every response: `Strict-Transport-Security`, `X-Content-Type-Options`
    /// (`nosniff`), `X-Frame-Options` (`deny` or `sameorigin`), `X-XSS-Protection`,
    /// `Content-Security-Policy`. A blank value sets nothing.
    #[serde(default)]
    pub headers: ResponseHeaders,
}

/// A string that is never shown in logs or debug output.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// A bcrypt password hash (`$2a$`, `$2b$`, `$2x$` or `$2y$`), checked when the file is read.
#[derive(Clone, PartialEq, Eq)]
pub struct BcryptHash(String);

impl BcryptHash {
    /// The hash as written in the file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<bcrypt hash>")
    }
}

impl<'de> Deserialize<'de> for BcryptHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a bcrypt hash", |text| {
            text.parse::<bcrypt::HashParts>()
                .map(|_| BcryptHash(text.to_string()))
                .map_err(|_| {
                    "not a bcrypt hash (expected `$2y$10$` followed by 53 characters; \
                     make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                        .to_string()
                })
        })
    }
}

/// Deserializes a string checked by `check`. Checking inside the visitor (rather than after
/// deserializing a `String`) makes serde_yaml point the error at the value itself.
fn checked_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct CheckedStr<F>(F, &'static str);
    impl<'de, T, F: FnOnce(&str) -> Result<T, String>> Visitor<'de> for CheckedStr<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.1)
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
            (self.0)(text).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(CheckedStr(check, expecting))
}

/// `client_auth_type`: which client certificates the server asks for and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthType {
    /// No client certificate is asked for.
    #[default]
    NoClientCert,
    /// A client may connect without a certificate; one it shows must verify.
    VerifyClientCertIfGiven,
    /// Every client must show a certificate signed by the client CA.
    RequireAndVerifyClientCert,
}

impl<'de> Deserialize<'de> for ClientAuthType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a client auth type", |text| match text {
            "" | "NoClientCert" => Ok(ClientAuthType::NoClientCert),
            "VerifyClientCertIfGiven" => Ok(ClientAuthType::VerifyClientCertIfGiven),
            "RequireAndVerifyClientCert" => Ok(ClientAuthType::RequireAndVerifyClientCert),
            "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => Err(format!(
                "client_auth_type `{text}` is not supported: it accepts client certificates \
                 without verifying them, which authenticates nobody; use \
                 RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file"
            )),
            other => Err(format!(
                "unknown client_auth_type `{other}`, expected one of `NoClientCert`, \
                 `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`"
            )),
        })
    }
}

/// `min_version` / `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a TLS version", |text| match text {
            "TLS12" => Ok(TlsVersion::Tls12),
            "TLS13" => Ok(TlsVersion::Tls13),
            "TLS10" | "TLS11" => Err(format!(
                "TLS version `{text}` is not supported (only TLS 1.2 and 1.3 are implemented); \
                 expected `TLS12` or `TLS13`"
            )),
            other => Err(format!(
                "unknown TLS version `{other}`, expected `TLS12` or `TLS13`"
            )),
        })
    }
}

/// The response headers of `http_server_config.headers`, validated.
#[derive(Debug, Clone, Default)]
pub struct ResponseHeaders(pub Vec<(HeaderName, HeaderValue)>);

/// The headers exporter-toolkit lets a web config set, with their allowed values (empty: any).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

impl<'de> Deserialize<'de> for ResponseHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = ResponseHeaders;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values")
            }
            fn visit_unit<E>(self) -> Result<ResponseHeaders, E> {
                Ok(ResponseHeaders::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResponseHeaders, A::Error> {
                let mut headers = Vec::new();
                while let Some(AllowedHeader(name, allowed)) = map.next_key()? {
                    if let Some(value) = map.next_value_seed(AllowedValue(name, allowed))? {
                        headers.push(value);
                    }
                }
                Ok(ResponseHeaders(headers))
            }
        }
        deserializer.deserialize_any(HeadersVisitor)
    }
}

/// A header name from [`ALLOWED_HEADERS`], with its allowed values.
struct AllowedHeader(&'static str, &'static [&'static str]);

impl<'de> Deserialize<'de> for AllowedHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_str(deserializer, "a header name", |name| {
            ALLOWED_HEADERS
                .iter()
                .find(|(allowed, _)| *allowed == name)
                .map(|(allowed, values)| AllowedHeader(allowed, values))
                .ok_or_else(|| {
                    let names: Vec<String> = ALLOWED_HEADERS
                        .iter()
                        .map(|(n, _)| format!("`{n}`"))
                        .collect();
                    format!(
                        "HTTP header `{name}` can not be configured, expected one of {}",
                        names.join(", ")
                    )
                })
        })
    }
}

/// The value of header `.0`, checked against its allowed values `.1`; blank: no header.
struct AllowedValue(&'static str, &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for AllowedValue {
    type Value = Option<(HeaderName, HeaderValue)>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let AllowedValue(name, allowed) = self;
        checked_str(deserializer, "a header value", |value| {
            if value.is_empty() {
                return Ok(None);
            }
            if !allowed.is_empty() && !allowed.contains(&value) {
                return Err(format!(
                    "invalid value `{value}` for {name}, expected one of {}",
                    allowed.join(", ")
                ));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of {name} is not a valid header value"))?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a header name"))?;
            Ok(Some((name, value)))
        })
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn refuse_rate_limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    refuse(
        deserializer,
        "rate_limit is not supported by sidecar-exporter; remove it (or put a rate-limiting \
         proxy in front)",
    )
}

fn refuse_client_allowed_sans<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    refuse(
        deserializer,
        "client_allowed_sans is not supported by sidecar-exporter; sign the allowed clients' \
         certificates with a dedicated CA and name it in client_ca_file instead",
    )
}

/// Fails with `message` whatever the value is, from inside a visitor so that serde_yaml
/// points the error at the value.
fn refuse<'de, D: Deserializer<'de>>(
    deserializer: D,
    message: &'static str,
) -> Result<(), D::Error> {
    struct Refuse(&'static str);
    impl<'de> Visitor<'de> for Refuse {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            Err(A::Error::custom(self.0))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
            Err(A::Error::custom(self.0))
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            Err(E::custom(self.0))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            Err(E::custom(self.0))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            Err(E::custom(self.0))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            Err(E::custom(self.0))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Err(E::custom(self.0))
        }
    }
    deserializer.deserialize_any(Refuse(message))
}

/// Parses the text of a web config file; `name` is what errors call the file.
pub fn parse(name: &str, text: &str) -> Result<WebConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(WebConfig::default());
    }
    serde_yaml::from_str(text).map_err(|e| yaml_error(name, &e))
}

/// What the server applies from a loaded web config.
#[derive(Clone)]
pub struct WebSettings {
    /// The TLS server config, when TLS is on.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// User name → bcrypt hash; empty: no basic auth.
    pub users: BTreeMap<String, BcryptHash>,
    /// Keys that were accepted but are ignored, in words, for the log.
    pub warnings: Vec<String>,
    /// The files read (the web config first), as they were when read.
    stamps: Vec<FileStamp>,
}

impl fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSettings")
            .field("tls", &self.tls.is_some())
            .field("headers", &self.headers)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// A file's modification time and size, to notice when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: Option<u64>,
}

impl FileStamp {
    fn of(path: &Path) -> FileStamp {
        // `metadata` follows symlinks, so a Kubernetes secret's symlink swap counts as a change.
        let metadata = std::fs::metadata(path).ok();
        FileStamp {
            path: path.to_path_buf(),
            modified: metadata.as_ref().and_then(|m| m.modified().ok()),
            len: metadata.as_ref().map(|m| m.len()),
        }
    }

    fn changed(&self) -> bool {
        FileStamp::of(&self.path) != *self
    }
}

/// Reads, parses and checks the web config file at `path`, and the files it names.
pub fn load(path: &Path) -> Result<WebSettings, ConfigError> {
    let name = path.display().to_string();
    let whole_file = |message: String| ConfigError {
        file: name.clone(),
        line: 0,
        column: 0,
        message,
    };
    // Stamps are taken before reading, so that a change during the read is seen next time.
    let config_stamp = FileStamp::of(path);
    let bytes = std::fs::read(path)
        .map_err(|e| whole_file(format!("cannot read the web config file: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| whole_file("the file is not valid UTF-8 (save it as UTF-8)".into()))?;
    let config = parse(&name, text)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut settings = build(config, dir, |key, message| {
        let (line, column) = key_position(text, key);
        ConfigError {
            file: name.clone(),
            line,
            column,
            message,
        }
    })?;
    settings.stamps.insert(0, config_stamp);
    Ok(settings)
}

/// Turns a parsed config into settings: reads the certificate, key and CA files (relative to
/// `dir`) and builds the TLS config. `error(key, message)` makes an error pointing at `key`.
fn build(
    config: WebConfig,
    dir: &Path,
    error: impl Fn(&str, String) -> ConfigError,
) -> Result<WebSettings, ConfigError> {
    let tls_config = &config.tls_server_config;
    let mut warnings = Vec::new();
    if tls_config.cipher_suites.is_some() {
        warnings.push(
            "tls_server_config.cipher_suites is ignored: the TLS library offers only AEAD \
             cipher suites with forward secrecy"
                .to_string(),
        );
    }
    if tls_config.curve_preferences.is_some() {
        warnings.push(
            "tls_server_config.curve_preferences is ignored: the TLS library offers X25519, \
             P-256 and P-384"
                .to_string(),
        );
    }
    if config.http_server_config.http2 == Some(true) {
        warnings.push(
            "http_server_config.http2 is ignored: the server speaks HTTP/1.1 only".to_string(),
        );
    }
    let mut stamps = Vec::new();
    let tls = build_tls(tls_config, dir, &error, &mut stamps)?;
    Ok(WebSettings {
        tls,
        headers: config.http_server_config.headers.0,
        users: config.basic_auth_users,
        warnings,
        stamps,
    })
}

fn build_tls(
    config: &TlsServerConfig,
    dir: &Path,
    error: &impl Fn(&str, String) -> ConfigError,
    stamps: &mut Vec<FileStamp>,
) -> Result<Option<Arc<rustls::ServerConfig>>, ConfigError> {
    let enabled = config.cert.is_some()
        || config.key.is_some()
        || config.client_ca.is_some()
        || config.cert_file.is_some()
        || config.key_file.is_some()
        || config.client_ca_file.is_some()
        || config.client_auth_type.is_some();
    if !enabled {
        return Ok(None);
    }
    let mut read_pem = |key: &str,
                        inline: Option<&str>,
                        file: Option<&PathBuf>|
     -> Result<Option<Vec<u8>>, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => Err(error(
                &format!("{key}_file"),
                format!("set either tls_server_config.{key} or {key}_file, not both"),
            )),
            (Some(text), None) => Ok(Some(text.as_bytes().to_vec())),
            (None, Some(file)) => {
                let path = dir.join(file);
                stamps.push(FileStamp::of(&path));
                std::fs::read(&path).map(Some).map_err(|e| {
                    error(
                        &format!("{key}_file"),
                        format!("cannot read {key}_file {}: {e}", path.display()),
                    )
                })
            }
            (None, None) => Ok(None),
        }
    };
    let cert_pem = read_pem("cert", config.cert.as_deref(), config.cert_file.as_ref())?;
    let key_pem = read_pem(
        "key",
        config.key.as_ref().map(|k| k.0.as_str()),
        config.key_file.as_ref(),
    )?;
    let client_ca_pem = read_pem(
        "client_ca",
        config.client_ca.as_deref(),
        config.client_ca_file.as_ref(),
    )?;
    let Some(cert_pem) = cert_pem else {
        return Err(error(
            "tls_server_config",
            "tls_server_config needs cert_file (or cert)".into(),
        ));
    };
    let Some(key_pem) = key_pem else {
        return Err(error(
            "tls_server_config",
            "tls_server_config needs key_file (or key)".into(),
        ));
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| error("cert_file", format!("cannot read the certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error(
            "cert_file",
            "no certificate (-----BEGIN CERTIFICATE-----) found".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| error("key_file", format!("cannot read the private key PEM: {e}")))?;

    let min = config.min_version.unwrap_or(TlsVersion::Tls12);
    let max = config.max_version.unwrap_or(TlsVersion::Tls13);
    if min > max {
        return Err(error(
            "min_version",
            "min_version is higher than max_version".into(),
        ));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(version, _)| (min..=max).contains(version))
    .map(|(_, supported)| supported)
    .collect();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| error("min_version", format!("TLS versions: {e}")))?;
    let auth_type = config.client_auth_type.unwrap_or_default();
    let builder = match (auth_type, client_ca_pem) {
        (ClientAuthType::NoClientCert, None) => builder.with_no_client_auth(),
        (ClientAuthType::NoClientCert, Some(_)) => {
            return Err(error(
                "client_ca_file",
                "client CAs are configured but client_auth_type is NoClientCert; set \
                 client_auth_type: RequireAndVerifyClientCert"
                    .into(),
            ))
        }
        (_, None) => {
            return Err(error(
                "client_auth_type",
                format!("client_auth_type {auth_type:?} needs client_ca_file (or client_ca)"),
            ))
        }
        (_, Some(ca_pem)) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in CertificateDer::pem_slice_iter(&ca_pem) {
                let ca = ca.map_err(|e| {
                    error(
                        "client_ca_file",
                        format!("cannot read the client CA PEM: {e}"),
                    )
                })?;
                roots.add(ca).map_err(|e| {
                    error(
                        "client_ca_file",
                        format!("unusable client CA certificate: {e}"),
                    )
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = if auth_type == ClientAuthType::VerifyClientCertIfGiven {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| error("client_ca_file", format!("client CAs: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server_config = builder.with_single_cert(certs, key).map_err(|e| {
        error(
            "key_file",
            format!("the certificate and key do not make a usable pair: {e}"),
        )
    })?;
    server_config.ignore_client_order = config.prefer_server_cipher_suites.unwrap_or(true);
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(server_config)))
}

/// Where `key:` is first written in `text` (1-based line and column), or (0, 0).
fn key_position(text: &str, key: &str) -> (usize, usize) {
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with(':') {
                return (index + 1, line.len() - trimmed.len() + 1);
            }
        }
    }
    (0, 0)
}

/// Holds the current web settings and re-reads them when one of their files changed.
pub struct WebConfigHandle {
    path: PathBuf,
    current: RwLock<Arc<WebSettings>>,
    /// Held while re-reading, so that concurrent connections don't all re-read at once.
    reloading: Mutex<()>,
    auth: VerifiedPasswords,
}

impl fmt::Debug for WebConfigHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfigHandle")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WebConfigHandle {
    /// Loads the web config file at `path` (logging the keys it ignores).
    pub fn load(path: &Path) -> Result<WebConfigHandle, ConfigError> {
        let settings = load(path)?;
        for warning in &settings.warnings {
            tracing::warn!(file = %path.display(), "{warning}");
        }
        if !settings.users.is_empty() {
            // Made now, so that the first unknown user's answer is not slower than a known
            // user's (which would tell that the name does not exist).
            std::thread::spawn(unknown_user_hash);
        }
        Ok(WebConfigHandle {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(settings)),
            reloading: Mutex::new(()),
            auth: VerifiedPasswords::new(),
        })
    }

    /// Whether the listeners serve TLS (fixed for the life of the process).
    pub fn tls_enabled(&self) -> bool {
        self.snapshot().tls.is_some()
    }

    fn snapshot(&self) -> Arc<WebSettings> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, settings: WebSettings) -> Arc<WebSettings> {
        let settings = Arc::new(settings);
        match self.current.write() {
            Ok(mut current) => *current = settings.clone(),
            Err(poisoned) => *poisoned.into_inner() = settings.clone(),
        }
        settings
    }

    /// The current settings, re-read first when the web config file or a file it names
    /// changed. A file that fails to load is logged and the previous settings stay.
    pub fn current(&self) -> Arc<WebSettings> {
        let settings = self.snapshot();
        if !settings.stamps.iter().any(FileStamp::changed) {
            return settings;
        }
        // Another task is re-reading: use the settings it is replacing for this once.
        let Ok(_reloading) = self.reloading.try_lock() else {
            return settings;
        };
        let settings = self.snapshot();
        if !settings.stamps.iter().any(FileStamp::changed) {
            return settings;
        }
        let refused = |message: String| {
            tracing::error!(
                file = %self.path.display(),
                "web config not reloaded, the previous one stays: {message}"
            );
            // Remember the new stamps so that the same broken files are not re-read on every
            // request; the next change is tried again.
            let mut kept = (*settings).clone();
            kept.stamps = settings
                .stamps
                .iter()
                .map(|stamp| FileStamp::of(&stamp.path))
                .collect();
            self.store(kept)
        };
        match load(&self.path) {
            Ok(new) if new.tls.is_some() != settings.tls.is_some() => {
                refused("turning TLS on or off needs a restart".into())
            }
            Ok(new) => {
                tracing::info!(file = %self.path.display(), "web config reloaded");
                for warning in &new.warnings {
                    tracing::warn!(file = %self.path.display(), "{warning}");
                }
                self.store(new)
            }
            Err(error) => refused(error.to_string()),
        }
    }

    /// Whether an `Authorization` header names one of `settings.users` with their password.
    pub async fn authorized(
        &self,
        settings: &WebSettings,
        authorization: Option<&HeaderValue>,
    ) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic_auth) else {
            return false;
        };
        let Some(stored) = settings.users.get(&user) else {
            // An unknown user is checked against a hash anyway, so that the answer takes as
            // long as for a known one and does not tell which user names exist.
            self.auth.verify(password, None).await;
            return false;
        };
        let tag = self.auth.tag(&user, stored.as_str(), &password);
        if self.auth.contains(&tag) {
            return true;
        }
        let ok = self
            .auth
            .verify(password, Some(stored.as_str().to_string()))
            .await;
        if ok {
            self.auth.insert(tag);
        }
        ok
    }
}

/// A bcrypt hash (cost 10, like the usual `htpasswd -B`) of a random password, made once when
/// first needed, to check unknown user names against.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        let mut random = [0u8; 32];
        if ring::rand::SecureRandom::fill(&rng, &mut random).is_err() {
            random = [0x5a; 32];
        }
        let (salt, password) = random.split_at(16);
        let salt: [u8; 16] = salt.try_into().unwrap_or([0x5a; 16]);
        bcrypt::hash_with_salt(password, 10, salt)
            .map(|parts| parts.to_string())
            .unwrap_or_default()
    })
}

/// Successful password checks, remembered because bcrypt is slow on purpose (tens of
/// milliseconds a check, every scrape). Entries are HMAC-SHA256 tags of user, stored hash and
/// password under a key made at start and never written anywhere: the plain password is never
/// kept, and a tag is useless without the key. A changed hash changes the tag, so a password
/// change takes effect at once.
struct VerifiedPasswords {
    key: ring::hmac::Key,
    verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt check at a time: a flood of wrong passwords costs one core, not all.
    bcrypt_turn: tokio::sync::Mutex<()>,
}

/// Upper bound of remembered checks; the set is emptied when it is reached.
const MAX_VERIFIED: usize = 1024;

impl VerifiedPasswords {
    fn new() -> VerifiedPasswords {
        let rng = ring::rand::SystemRandom::new();
        let key = match ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng) {
            Ok(key) => key,
            // Without randomness from the OS no key can be made; use the process address
            // layout and time instead of failing, which only matters for the cache.
            Err(_) => {
                let fallback = format!("{:?}{:p}", SystemTime::now(), &rng);
                ring::hmac::Key::new(ring::hmac::HMAC_SHA256, fallback.as_bytes())
            }
        };
        VerifiedPasswords {
            key,
            verified: Mutex::new(HashSet::new()),
            bcrypt_turn: tokio::sync::Mutex::new(()),
        }
    }

    fn tag(&self, user: &str, hash: &str, password: &str) -> [u8; 32] {
        let mut context = ring::hmac::Context::with_key(&self.key);
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        for part in [user, hash] {
            context.update(&(part.len() as u64).to_le_bytes());
            context.update(part.as_bytes());
        }
        context.update(password.as_bytes());
        let mut tag = [0u8; 32];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    fn contains(&self, tag: &[u8; 32]) -> bool {
        match self.verified.lock() {
            Ok(verified) => verified.contains(tag),
            Err(_) => false,
        }
    }

    fn insert(&self, tag: [u8; 32]) {
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
            verified.insert(tag);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.verified.lock().map_or(0, |v| v.len())
    }

    /// Checks `password` against `hash` (`None`: against a hash for unknown users).
    async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let _turn = self.bcrypt_turn.lock().await;
        tokio::task::spawn_blocking(move || {
            let hash = hash.as_deref().unwrap_or_else(|| unknown_user_hash());
            bcrypt::verify(password, hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false)
    }
}

/// The user and password of a `Basic` `Authorization` header.
fn parse_basic_auth(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?;
    let (scheme, credentials) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The axum middleware: basic auth (when users are configured) and the extra headers.
pub async fn middleware(
    State(handle): State<Arc<WebConfigHandle>>,
    request: Request,
    next: Next,
) -> Response {
    let settings = handle.current();
    let allowed = settings.users.is_empty()
        || handle
            .authorized(&settings, request.headers().get(header::AUTHORIZATION))
            .await;
    let mut response = if allowed {
        next.run(request).await
    } else {
        let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        response
    };
    for (name, value) in &settings.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Wraps every route of `router` (the fallback included) in [`middleware`].
pub fn protect(router: Router, handle: Arc<WebConfigHandle>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(handle, middleware))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> ConfigError {
        parse("web.yml", text).unwrap_err()
    }

    #[test]
    fn parses_the_exporter_toolkit_format() {
        let config = parse(
            "web.yml",
            r#"
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
  curve_preferences: [X25519]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Content-Security-Policy: ""
basic_auth_users:
  alice: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG
"#,
        )
        .unwrap();
        let tls = &config.tls_server_config;
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("server.crt")));
        assert_eq!(
            tls.client_auth_type,
            Some(ClientAuthType::RequireAndVerifyClientCert)
        );
        assert_eq!(tls.min_version, Some(TlsVersion::Tls13));
        assert!(tls.cipher_suites.is_some() && tls.curve_preferences.is_some());
        assert_eq!(config.http_server_config.http2, Some(false));
        // The blank header sets nothing.
        assert_eq!(config.http_server_config.headers.0.len(), 1);
        assert_eq!(config.http_server_config.headers.0[0].1, "deny");
        assert!(config.basic_auth_users.contains_key("alice"));
    }

    #[test]
    fn empty_file_and_empty_sections_mean_plain_http_without_auth() {
        assert!(parse("web.yml", "").unwrap().basic_auth_users.is_empty());
        let config = parse(
            "web.yml",
            "tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n",
        )
        .unwrap();
        let settings = build(config, Path::new("."), |_, m| ConfigError {
            file: String::new(),
            line: 0,
            column: 0,
            message: m,
        })
        .unwrap();
        assert!(settings.tls.is_none() && settings.users.is_empty());
    }

    #[test]
    fn unknown_keys_are_errors_with_their_position() {
        let error = parse_err("tls_server_config:\n  cert_file: a\n  key_fil: b\n");
        assert_eq!((error.line, error.column), (3, 3), "{error}");
        assert!(error.message.contains("unknown field `key_fil`"), "{error}");
        assert!(error.message.contains("`key_file`"), "{error}");
        assert!(error.to_string().starts_with("web.yml:3:3: "), "{error}");

        let error = parse_err("basic_auth_user:\n  a: b\n");
        assert_eq!(error.line, 1, "{error}");
        assert!(error.message.contains("`basic_auth_users`"), "{error}");
    }

    #[test]
    fn refused_settings_say_why() {
        let error = parse_err("tls_server_config:\n  cert_file: a\n  client_allowed_sans: [a]\n");
        assert_eq!(error.line, 3, "{error}");
        assert!(error
            .message
            .contains("client_allowed_sans is not supported"));
        let error = parse_err("rate_limit:\n  interval: 1s\n  burst: 5\n");
        assert!(
            error.message.contains("rate_limit is not supported"),
            "{error}"
        );
        let error = parse_err(
            "tls_server_config:\n  cert_file: a\n  client_auth_type: RequireAnyClientCert\n",
        );
        assert_eq!((error.line, error.column), (3, 21), "{error}");
        assert!(error.message.contains("without verifying"), "{error}");
        let error = parse_err("tls_server_config:\n  client_auth_type: Yes\n");
        assert!(error.message.contains("expected one of"), "{error}");
        let error = parse_err("tls_server_config:\n  cert_file: a\n  max_version: TLS11\n");
        assert!(error.message.contains("not supported"), "{error}");
        assert_eq!((error.line, error.column), (3, 16), "{error}");
    }

    #[test]
    fn headers_are_limited_like_exporter_toolkit() {
        let error = parse_err(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Foo: bar\n",
        );
        assert!(error.message.contains("can not be configured"), "{error}");
        assert_eq!((error.line, error.column), (4, 5), "{error}");
        let error = parse_err(
            "http_server_config:\n  headers:\n    X-XSS-Protection: '0'\n    X-Frame-Options: allow\n",
        );
        assert!(error.message.contains("deny, sameorigin"), "{error}");
        assert_eq!((error.line, error.column), (4, 22), "{error}");
    }

    #[test]
    fn passwords_must_be_bcrypt_hashes() {
        let error = parse_err("basic_auth_users:\n  bob: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n  alice: secret\n");
        assert_eq!((error.line, error.column), (3, 10), "{error}");
        assert!(error.message.contains("not a bcrypt hash"), "{error}");
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn tls_needs_cert_and_key_and_a_ca_for_client_auth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "tls_server_config:\n  cert_file: missing.crt\n").unwrap();
        let error = load(&path).unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        assert!(error.message.contains("cannot read cert_file"), "{error}");

        std::fs::write(
            &path,
            "tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n",
        )
        .unwrap();
        let error = load(&path).unwrap_err();
        assert!(error.message.contains("needs cert_file"), "{error}");
    }

    #[test]
    fn key_positions() {
        let text = "a:\n  cert_file: x\n  key_file : y\n";
        assert_eq!(key_position(text, "cert_file"), (2, 3));
        assert_eq!(key_position(text, "key_file"), (3, 3));
        assert_eq!(key_position(text, "client_ca_file"), (0, 0));
    }

    #[test]
    fn basic_auth_header_parsing() {
        let value = HeaderValue::from_static("Basic YWxpY2U6cDpzcw==");
        assert_eq!(
            parse_basic_auth(&value),
            Some(("alice".into(), "p:ss".into()))
        );
        assert_eq!(
            parse_basic_auth(&HeaderValue::from_static("Bearer abc")),
            None
        );
        assert_eq!(
            parse_basic_auth(&HeaderValue::from_static("Basic !!!")),
            None
        );
    }

    fn handle_with_user(
        user: &str,
        password: &str,
    ) -> (tempfile::TempDir, WebConfigHandle, Arc<WebSettings>) {
        let hash = bcrypt::hash_with_salt(password, 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, format!("basic_auth_users:\n  {user}: {hash}\n")).unwrap();
        let handle = WebConfigHandle::load(&path).unwrap();
        let settings = handle.current();
        (dir, handle, settings)
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[tokio::test]
    async fn bcrypt_check_and_cache() {
        let (_dir, handle, settings) = handle_with_user("alice", "right");
        assert!(!handle.authorized(&settings, None).await);
        assert!(
            !handle
                .authorized(&settings, Some(&basic("alice", "wrong")))
                .await
        );
        assert!(
            !handle
                .authorized(&settings, Some(&basic("bob", "right")))
                .await
        );
        // Failures are not remembered.
        assert_eq!(handle.auth.len(), 0);
        assert!(
            handle
                .authorized(&settings, Some(&basic("alice", "right")))
                .await
        );
        assert_eq!(handle.auth.len(), 1);
        let tag = handle
            .auth
            .tag("alice", settings.users["alice"].as_str(), "right");
        assert!(handle.auth.contains(&tag));
        assert!(
            handle
                .authorized(&settings, Some(&basic("alice", "right")))
                .await
        );
        assert_eq!(handle.auth.len(), 1);
        // The cache is keyed on the stored hash too: another hash is a cache miss.
        assert_ne!(handle.auth.tag("alice", "other", "right"), tag);
        // A cached password for one user does not open another user.
        assert_ne!(
            handle
                .auth
                .tag("bob", settings.users["alice"].as_str(), "right"),
            tag
        );
    }

    #[test]
    fn unknown_user_hash_is_a_valid_bcrypt_hash() {
        let parts = unknown_user_hash().parse::<bcrypt::HashParts>().unwrap();
        assert_eq!(parts.get_cost(), 10);
        assert!(!bcrypt::verify("", unknown_user_hash()).unwrap());
    }

    #[test]
    fn changed_files_are_reloaded_and_broken_ones_refused() {
        let (_dir, handle, first) = handle_with_user("alice", "right");
        let path = handle.path.clone();
        std::fs::write(
            &path,
            "basic_auth_users: {}\nhttp_server_config: {headers: {X-Frame-Options: deny}}\n",
        )
        .unwrap();
        let second = handle.current();
        assert!(second.users.is_empty(), "{second:?}");
        assert_eq!(second.headers.len(), 1);
        assert!(!first.users.is_empty());
        std::fs::write(&path, "bogus: 1\n").unwrap();
        let third = handle.current();
        assert_eq!(third.headers.len(), 1, "the previous settings stay");
        // Not re-read again until the next change.
        assert!(!third.stamps.iter().any(FileStamp::changed));
    }
}
