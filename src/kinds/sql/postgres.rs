//! PostgreSQL over `tokio-postgres`, TLS over rustls. Queries go through the simple query
//! protocol: one round trip, and every value comes as the text PostgreSQL prints, which the
//! mapping reads like any other format's text.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{row_object, Connection, Limit, QueryError, SqlTls};
use crate::collector::{CollectError, Reason};

/// A parsed PostgreSQL DSN.
pub(super) struct Postgres {
    config: Config,
    tls: MakeRustlsConnect,
}

impl Postgres {
    pub(super) fn from_dsn(dsn: &str, tls: &SqlTls) -> Result<Postgres, String> {
        // tokio-postgres' own message would quote the DSN, password included.
        let config = Config::from_str(dsn).map_err(|e| {
            format!(
                "not a PostgreSQL connection string ({}); expected e.g. \
                 postgresql://user@127.0.0.1:5432/db?sslmode=disable",
                without_secrets(&e.to_string(), dsn)
            )
        })?;
        if config.get_hosts().is_empty() {
            return Err("the DSN names no host (e.g. postgresql://user@127.0.0.1:5432/db, or host=/run/postgresql for a socket)".to_string());
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in &tls.ca_certs {
            roots
                .add(cert.clone())
                .map_err(|e| format!("tls_config.ca_file: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
        let client = if tls.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(Postgres {
            config,
            tls: MakeRustlsConnect::new(client),
        })
    }

    /// `postgresql://user@host:port/db`, without the password.
    pub(super) fn target(&self) -> String {
        let user = self.config.get_user().unwrap_or_default();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = self
                    .config
                    .get_ports()
                    .get(i)
                    .or(self.config.get_ports().first())
                    .copied()
                    .unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(path) => format!("{}:{port}", path.display()),
                }
            })
            .collect();
        let db = self.config.get_dbname().unwrap_or(user);
        format!("postgresql://{user}@{}/{db}", hosts.join(","))
    }

    pub(super) async fn connect(
        &self,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Box<dyn Connection>, CollectError> {
        let mut config = self.config.clone();
        if let Some(password) = password {
            config.password(password);
        }
        config.connect_timeout(timeout);
        if config.get_application_name().is_none() {
            config.application_name("sidecar-exporter");
        }
        let target = self.target();
        let connected = tokio::time::timeout(timeout, config.connect(self.tls.clone())).await;
        let (client, connection) = match connected {
            Err(_) => return Err(super::connect_timeout(&target, timeout)),
            Ok(Err(e)) => return Err(connect_error(&e, &target)),
            Ok(Ok(pair)) => pair,
        };
        // The connection task ends when the client is dropped or the server goes away.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // Set with SET, not as startup options, so that pg_settings' `reset_val` still shows
        // the server's own value of these two (the postgres preset reports that one).
        client
            .batch_execute("SET default_transaction_read_only = on")
            .await
            .map_err(|e| connect_error(&e, &target))?;
        Ok(Box::new(PgConnection { client }))
    }
}

/// The error's text with the DSN's password removed, should the text quote it.
fn without_secrets(text: &str, dsn: &str) -> String {
    let password = Config::from_str(dsn)
        .ok()
        .and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .or_else(|| {
            let rest = dsn.split_once("://")?.1;
            let userinfo = rest.split_once('@')?.0;
            Some(userinfo.split_once(':')?.1.to_string())
        });
    match password {
        Some(p) if !p.is_empty() => text.replace(&p, "***"),
        _ => text.to_string(),
    }
}

fn connect_error(e: &tokio_postgres::Error, target: &str) -> CollectError {
    let reason = match e.code() {
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            Reason::Auth
        }
        _ => Reason::Connect,
    };
    CollectError::new(
        reason,
        format!("cannot connect to {target}: {}", describe(e)),
    )
}

/// The server's own message when there is one (`password authentication failed for user
/// "monitor"`), else the client's (`error connecting to server: Connection refused`).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                let inner_text = inner.to_string();
                if !text.contains(&inner_text) {
                    text = format!("{text}: {inner_text}");
                }
                source = inner.source();
            }
            text
        }
    }
}

struct PgConnection {
    client: Client,
}

#[async_trait::async_trait]
impl Connection for PgConnection {
    async fn query(&self, sql: &str, limit: Limit) -> Result<Vec<Value>, QueryError> {
        let timeout = limit.now()?;
        let millis = timeout.as_millis().max(1);
        // One round trip: the statement timeout for this query, then the query itself.
        let text = format!("SET statement_timeout = {millis};\n{sql}");
        // The server stops the query at the statement timeout; waiting a little longer on this
        // side only catches a server that does not answer at all.
        let grace = timeout + Duration::from_millis(200);
        let messages = match tokio::time::timeout(grace, self.client.simple_query(&text)).await {
            Err(_) => {
                return Err(QueryError {
                    reason: Reason::Timeout,
                    message: format!("no answer within {:.3}s", timeout.as_secs_f64()),
                    broken: true,
                })
            }
            Ok(Err(e)) => {
                let mut error = query_error(&e, timeout);
                error.broken |= self.client.is_closed();
                return Err(error);
            }
            Ok(Ok(messages)) => messages,
        };
        let rows = messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => {
                    Some(row_object(row.columns().iter().enumerate().map(
                        |(i, column)| (column.name(), row.get(i).map(str::to_string)),
                    )))
                }
                _ => None,
            })
            .collect();
        Ok(rows)
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

fn query_error(e: &tokio_postgres::Error, timeout: Duration) -> QueryError {
    if e.code() == Some(&SqlState::QUERY_CANCELED) {
        return QueryError {
            reason: Reason::Timeout,
            message: format!(
                "stopped by the statement timeout of {:.3}s",
                timeout.as_secs_f64()
            ),
            broken: false,
        };
    }
    match e.as_db_error() {
        Some(_) => QueryError {
            reason: Reason::Query,
            message: describe(e),
            broken: false,
        },
        None => QueryError {
            reason: Reason::Connect,
            message: describe(e),
            broken: true,
        },
    }
}

/// `insecure_skip_verify`: any certificate is accepted (the connection is encrypted, the server
/// not authenticated, as libpq's `sslmode=require`); the handshake's signatures are still
/// checked, so the session keys belong to whoever holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
