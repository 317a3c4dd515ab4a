//! TLS towards the app: the CA, certificate and key files of `tls_config`, read once when the
//! config loads, and `server_name` pinning (verify one name while connecting to an address),
//! shared by the `http` source and the probe.

use http::header::{HeaderMap, HeaderValue, HOST};
use serde::Deserialize;

use crate::config::KeyError;

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
pub(crate) fn apply_server_name(
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
