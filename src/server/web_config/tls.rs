//! `tls_server_config`: its keys, and the rustls server config built from them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{checked_str, refuse, FileStamp};
use crate::config::ConfigError;

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

/// A string that is never shown in logs or debug output.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
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

fn refuse_client_allowed_sans<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    refuse(
        deserializer,
        "client_allowed_sans is not supported by sidecar-exporter; sign the allowed clients' \
         certificates with a dedicated CA and name it in client_ca_file instead",
    )
}

/// Reads the certificate, key and CA (inline, or from files relative to `dir`, whose stamps
/// go to `stamps`) and builds the server config; `None` when no TLS key is set.
pub(super) fn build_tls(
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

#[cfg(test)]
mod tests {
    use super::super::{load, parse};
    use super::*;

    fn parse_err(text: &str) -> ConfigError {
        parse("web.yml", text).unwrap_err()
    }

    #[test]
    fn refused_settings_say_why() {
        let error = parse_err("tls_server_config:\n  cert_file: a\n  client_allowed_sans: [a]\n");
        assert_eq!(error.line, 3, "{error}");
        assert!(error
            .message
            .contains("client_allowed_sans is not supported"));
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
}
