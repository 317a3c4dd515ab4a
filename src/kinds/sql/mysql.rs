//! MySQL and MariaDB over `mysql_async` (pure Rust, TLS over rustls). Queries use the text
//! protocol, so every value comes as the text the server prints, as with PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{row_object, Connection, Limit, QueryError, SqlTls};
use crate::collector::{CollectError, Reason};

/// Server error codes that mean the credentials were refused: access denied (1045), to the
/// database (1044), without a password (1698).
const AUTH_ERRORS: [u16; 3] = [1045, 1044, 1698];

/// The statement timeout hit: MariaDB's `max_statement_time` (1969), MySQL's
/// `max_execution_time` (3024).
const TIMEOUT_ERRORS: [u16; 2] = [1969, 3024];

/// A parsed MySQL DSN.
pub(super) struct Mysql {
    opts: Opts,
}

impl Mysql {
    pub(super) fn from_dsn(dsn: &str, tls: &SqlTls) -> Result<Mysql, String> {
        // mysql_async's own message may quote the URL, password included.
        let opts = Opts::from_url(dsn).map_err(|e| {
            let text = e.to_string();
            let text = match Opts::from_url(dsn)
                .ok()
                .and_then(|o| o.pass().map(str::to_string))
            {
                Some(p) if !p.is_empty() => text.replace(&p, "***"),
                _ => text,
            };
            format!(
                "not a MySQL URL ({text}); expected e.g. mysql://user@127.0.0.1:3306/ or \
                 mysql://user@localhost/?socket=/run/mysqld/mysqld.sock"
            )
        })?;
        // Without this, a connection to localhost is reopened over the socket path the server
        // reports, which a sidecar in another container cannot reach.
        let mut builder = OptsBuilder::from_opts(opts).prefer_socket(false);
        if tls.given {
            let mut ssl = mysql_async::SslOpts::default()
                .with_danger_accept_invalid_certs(tls.insecure_skip_verify);
            if let Some(file) = &tls.ca_file {
                ssl = ssl.with_root_certs(vec![file.clone().into()]);
            }
            builder = builder.ssl_opts(Some(ssl));
        }
        let opts = Opts::from(builder);
        Ok(Mysql { opts })
    }

    /// `mysql://user@host:port/db`, without the password.
    pub(super) fn target(&self) -> String {
        let user = self.opts.user().unwrap_or_default();
        let db = self.opts.db_name().unwrap_or_default();
        match self.opts.socket() {
            Some(socket) => format!("mysql://{user}@{socket}/{db}"),
            None => format!(
                "mysql://{user}@{}:{}/{db}",
                self.opts.ip_or_hostname(),
                self.opts.tcp_port()
            ),
        }
    }

    pub(super) async fn connect(
        &self,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Box<dyn Connection>, CollectError> {
        let mut builder = OptsBuilder::from_opts(self.opts.clone());
        if let Some(password) = password {
            builder = builder.pass(Some(password));
        }
        let target = self.target();
        let mut conn = match tokio::time::timeout(timeout, Conn::new(builder)).await {
            Err(_) => return Err(super::connect_timeout(&target, timeout)),
            Ok(Err(e)) => return Err(connect_error(&e, &target)),
            Ok(Ok(conn)) => conn,
        };
        conn.query_drop("SET SESSION TRANSACTION READ ONLY")
            .await
            .map_err(|e| connect_error(&e, &target))?;
        let mariadb = conn.server_version() >= (10, 0, 0)
            || conn
                .query_first::<String, _>("SELECT VERSION()")
                .await
                .map_err(|e| connect_error(&e, &target))?
                .is_some_and(|v| v.contains("MariaDB"));
        Ok(Box::new(MysqlConnection {
            session: Mutex::new(Session {
                conn,
                mariadb,
                timeout_set: None,
            }),
            closed: AtomicBool::new(false),
        }))
    }
}

fn connect_error(e: &mysql_async::Error, target: &str) -> CollectError {
    let reason = match e {
        mysql_async::Error::Server(server) if AUTH_ERRORS.contains(&server.code) => Reason::Auth,
        _ => Reason::Connect,
    };
    CollectError::new(reason, format!("cannot connect to {target}: {e}"))
}

/// The protocol answers one statement at a time: queries asked at once wait for the session in
/// the order they were asked.
struct MysqlConnection {
    session: Mutex<Session>,
    closed: AtomicBool,
}

struct Session {
    conn: Conn,
    /// MariaDB limits a statement with `SET STATEMENT max_statement_time = … FOR` (seconds,
    /// any statement), MySQL with the session's `max_execution_time` (milliseconds, SELECT
    /// only).
    mariadb: bool,
    /// MySQL: the statement timeout the session has now, so that it is set only when it changes.
    timeout_set: Option<Duration>,
}

impl Session {
    async fn run(&mut self, sql: &str, timeout: Duration) -> Result<Vec<Row>, mysql_async::Error> {
        if self.mariadb {
            // The timeout goes with the statement: one round trip, whatever the deadline left.
            let sql = format!(
                "SET STATEMENT max_statement_time = {:.3} FOR {sql}",
                timeout.as_secs_f64().max(0.001)
            );
            return self.conn.query::<Row, _>(sql).await;
        }
        // Millisecond steps, so that the deadline's jitter does not reset it on every query.
        let timeout = Duration::from_millis(timeout.as_millis().max(1) as u64);
        if self.timeout_set != Some(timeout) {
            let set = format!("SET SESSION max_execution_time = {}", timeout.as_millis());
            self.conn.query_drop(set).await?;
            self.timeout_set = Some(timeout);
        }
        self.conn.query::<Row, _>(sql).await
    }
}

#[async_trait::async_trait]
impl Connection for MysqlConnection {
    async fn query(&self, sql: &str, limit: Limit) -> Result<Vec<Value>, QueryError> {
        let mut session = self.session.lock().await;
        // Worked out once the session is free: the time spent waiting for it is gone.
        let timeout = limit.now()?;
        // The server stops the query at the statement timeout; waiting a little longer on this
        // side only catches a server that does not answer at all.
        let grace = timeout + Duration::from_millis(200);
        let rows = match tokio::time::timeout(grace, session.run(sql, timeout)).await {
            Err(_) => {
                self.closed.store(true, Ordering::Relaxed);
                return Err(QueryError {
                    reason: Reason::Timeout,
                    message: format!("no answer within {:.3}s", timeout.as_secs_f64()),
                    broken: true,
                });
            }
            Ok(Err(e)) => {
                let error = query_error(&e, timeout);
                if error.broken {
                    self.closed.store(true, Ordering::Relaxed);
                }
                return Err(error);
            }
            Ok(Ok(rows)) => rows,
        };
        Ok(rows
            .iter()
            .map(|row| {
                let columns = row.columns_ref();
                row_object(columns.iter().enumerate().map(|(i, column)| {
                    let name = column.name_str();
                    (name, row.as_ref(i).and_then(text))
                }))
            })
            .collect())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// A value as the server printed it (the text protocol gives bytes; the other variants come
/// from the binary protocol, which these queries do not use, and are printed the same way).
fn text(value: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value as V;
    match value {
        V::NULL => None,
        V::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        V::Int(i) => Some(i.to_string()),
        V::UInt(u) => Some(u.to_string()),
        V::Float(f) => Some(f.to_string()),
        V::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn query_error(e: &mysql_async::Error, timeout: Duration) -> QueryError {
    match e {
        mysql_async::Error::Server(server) if TIMEOUT_ERRORS.contains(&server.code) => QueryError {
            reason: Reason::Timeout,
            message: format!(
                "stopped by the statement timeout of {:.3}s",
                timeout.as_secs_f64()
            ),
            broken: false,
        },
        mysql_async::Error::Server(server) => QueryError {
            reason: Reason::Query,
            message: format!(
                "ERROR {} ({}): {}",
                server.code, server.state, server.message
            ),
            broken: false,
        },
        other => QueryError {
            reason: Reason::Connect,
            message: other.to_string(),
            broken: true,
        },
    }
}
