//! `--web.config.file`: TLS and basic auth for the exporter's own HTTP server, in
//! exporter-toolkit's `web-config.yml` format, so that a file written for node_exporter or
//! any other Prometheus exporter works here unchanged.
//!
//! ```yaml web-config
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
//!   # user: bcrypt hash of the password, from htpasswd -nBC 10 "" | tr -d ':\n'
//!   prometheus: $2y$10$tKaTSIHX/bE.iEkv6pcLdujRiF.vSnHgQca56qzdQ6YpLLQSCvMOW
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
//! key and CA files it names are checked (one `stat` each) before every TLS handshake and, by a
//! background task, once a second; requests themselves never touch the files. When one changed
//! they are read again, so a rotated certificate is served from the next handshake on, and
//! changed users and headers apply within a second. A changed file that fails to load is logged
//! and the previous settings stay. Turning TLS on or off needs a restart: the listeners are set
//! up once.
//!
//! The parts follow exporter-toolkit's: this module is the file's model, parsing and loading;
//! `tls` builds the TLS server config, `users` checks basic auth and holds the middleware,
//! `headers` validates the response headers, and `reload` notices changed files.

mod headers;
mod reload;
mod tls;
mod users;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tokio_rustls::rustls;

use crate::config::load::yaml_error;
use crate::config::ConfigError;

pub use headers::ResponseHeaders;
pub use reload::{spawn_file_checks, WebConfigHandle, FILE_CHECK_INTERVAL};
pub use tls::{ClientAuthType, Secret, TlsServerConfig, TlsVersion};
pub use users::{middleware, protect, BcryptHash};

use reload::FileStamp;
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
    let tls = tls::build_tls(tls_config, dir, &error, &mut stamps)?;
    Ok(WebSettings {
        tls,
        headers: config.http_server_config.headers.0,
        users: config.basic_auth_users,
        warnings,
        stamps,
    })
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

#[cfg(test)]
mod tests {
    use std::path::Path;

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
    fn rate_limit_is_refused_and_says_why() {
        let error = parse_err("rate_limit:\n  interval: 1s\n  burst: 5\n");
        assert!(
            error.message.contains("rate_limit is not supported"),
            "{error}"
        );
    }

    #[test]
    fn key_positions() {
        let text = "a:\n  cert_file: x\n  key_file : y\n";
        assert_eq!(key_position(text, "cert_file"), (2, 3));
        assert_eq!(key_position(text, "key_file"), (3, 3));
        assert_eq!(key_position(text, "client_ca_file"), (0, 0));
    }
}
