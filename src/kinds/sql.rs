//! The `sql` kind: run queries on PostgreSQL, MySQL or MariaDB and map their rows with the
//! `http_json` rules.
//!
//! Each query's rows become one JSON document, an array of objects (one per row, the columns as
//! keys, every value as the database prints it, or null), mapped with [`Mapping`]: a
//! `type: object` rule with `path: '{ [*] }'` makes one series per row.
//!
//! One connection is kept and reused across collections, and opened again after a failure or
//! when `password_file` changes. A collection asks all its due queries at once: PostgreSQL
//! takes them as one pipeline (one round trip's wait in all, and each answer mapped while the
//! server runs the next), MySQL one after the other. The session is read-only, and every
//! statement carries a server-side timeout below the collector's deadline, so that a slow query
//! is stopped by the database itself rather than left running behind an abandoned scrape. A
//! query that fails costs its own series (a problem with reason `timeout` or `query`); the
//! collector is down (`connect`, `auth`, `timeout`) only when no connection can be made.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesOrdered, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::Builder;
use crate::client::auth::FileSecret;
use crate::client::tls::TlsConfig;
use crate::collector::{CollectError, Collection, Collector, Context, Reason};
use crate::config::{ConfigDuration, ConfigError, KeyError, KindKeys};
use crate::mapping::{Mapping, MetricRule};

mod mysql;
mod postgres;

/// The `sql` kind's keys.
///
/// ```yaml needs-files
/// collectors:
///   - name: orders_db
///     kind: sql
///     dsn: postgresql://monitor@127.0.0.1:5432/orders?sslmode=disable
///     password_file: /run/secrets/orders-db-password
///     queries:
///       - name: backlog
///         query: select status, count(*) as n from orders group by status
///         timeout: 2s
///         min_interval: 1m
///         metrics:
///           - name: orders
///             type: object
///             path: '{ [*] }'
///             labels: {status: '{ .status }'}
///             values: {total: '{ .n }'}     # orders_total{status="…"}
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// The database to connect to: `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB?sslmode=…`
    /// (or libpq's `host=… user=…` form; a unix socket is `host=/run/postgresql` or
    /// `postgresql://USER@%2Frun%2Fpostgresql/DB`). Prefer `password_file` or `${ENV}` to a
    /// password written here; it is never shown on the status page or in logs either way.
    /// `sslmode=prefer` (the default) and `require` verify the server's certificate against the
    /// Mozilla roots over rustls (and `tls_config.ca_file`); use `sslmode=disable` for a server
    /// on localhost or a socket.
    /// MySQL and MariaDB: `mysql://USER[:PASSWORD]@HOST[:PORT]/[DB]`, a socket with
    /// `?socket=/run/mysqld/mysqld.sock`, TLS with `?require_ssl=true`.
    pub dsn: Option<String>,
    /// A file holding the password (a mounted Kubernetes Secret). It wins over a password in the
    /// DSN, and is read again when it changes: the connection is then opened anew with it.
    pub password_file: Option<String>,
    /// The queries, each with its own mapping, all asked on the one connection (PostgreSQL
    /// pipelines them; MySQL and MariaDB run them in turn).
    pub queries: Option<Vec<QueryConfig>>,
    /// TLS towards the database: `ca_file` (PEM CAs trusted besides the Mozilla roots, for a
    /// server certificate signed by a private CA) and `insecure_skip_verify` (encrypt without
    /// checking the certificate, what libpq's `sslmode=require` does). PostgreSQL uses TLS as
    /// `sslmode` says; MySQL and MariaDB use it whenever `tls_config` is given (or with
    /// `?require_ssl=true`). `cert_file`, `key_file` and `server_name` are not supported here.
    pub tls_config: Option<TlsConfig>,
}

/// One entry of `queries:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// A name for errors and the status page (default: `queries[N]`).
    pub name: Option<String>,
    /// The SQL. It runs in a read-only session; every column comes as text (or null) and is
    /// read by the mapping's paths by its name, so give computed columns a name (`AS n`).
    pub query: String,
    /// Upper bound for this query (default: what is left of the collector's `timeout`). It is
    /// set as the database's statement timeout, so the server stops the query; the query's
    /// series are then missing and a `timeout` error is counted, the other queries still run.
    pub timeout: Option<ConfigDuration>,
    /// Reuse this query's series for this long before running it again (for expensive queries,
    /// such as table sizes). Default: run on every collection.
    pub min_interval: Option<ConfigDuration>,
    /// The metrics made from the rows: the `http_json` rules, applied to the array of rows.
    #[serde(default)]
    pub metrics: Vec<MetricRule>,
}

/// Reads the `sql` kind's keys.
pub fn read(keys: &mut KindKeys<'_>) -> Result<Builder, ConfigError> {
    let config = keys.take::<SqlConfig>()?;
    keys.finish()?;
    Ok(Box::new(move || {
        let dsn = config
            .dsn
            .as_deref()
            .ok_or("the `dsn` key is missing (e.g. postgresql://user@127.0.0.1:5432/db)")?;
        let tls = check_tls(config.tls_config.as_ref())?;
        let driver = Driver::from_dsn(dsn, tls).map_err(|e| KeyError::at("dsn", e))?;
        let queries = compile_queries(config.queries.as_deref().unwrap_or_default())?;
        let password = config
            .password_file
            .as_deref()
            .map(|file| {
                FileSecret::new(file, "password_file").map_err(|e| KeyError::at("password_file", e))
            })
            .transpose()?;
        Ok(Arc::new(SqlCollector {
            target: driver.target(),
            driver,
            password,
            queries,
            state: Mutex::new(State::default()),
        }) as Arc<dyn Collector>)
    }))
}

/// What the drivers need of `tls_config`: the CA file's certificates (read now, so that a bad
/// file is a config error) and whether to verify.
#[derive(Default)]
struct SqlTls {
    /// `tls_config` was given.
    given: bool,
    ca_file: Option<std::path::PathBuf>,
    ca_certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    insecure_skip_verify: bool,
}

fn check_tls(tls: Option<&TlsConfig>) -> Result<SqlTls, KeyError> {
    let Some(tls) = tls else {
        return Ok(SqlTls::default());
    };
    let at = |key: &str, message: String| KeyError::at(key, message).below("tls_config");
    for (key, set) in [
        ("cert_file", tls.cert_file.is_some()),
        ("key_file", tls.key_file.is_some()),
        ("server_name", tls.server_name.is_some()),
    ] {
        if set {
            return Err(at(
                key,
                format!("`{key}` is not supported by the sql kind (only ca_file and insecure_skip_verify)"),
            ));
        }
    }
    let mut ca_certs = Vec::new();
    if let Some(file) = &tls.ca_file {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| at("ca_file", format!("cannot read ca_file {file}: {e}")))?;
        if certs.is_empty() {
            return Err(at(
                "ca_file",
                format!("ca_file {file} holds no PEM certificate"),
            ));
        }
        ca_certs = certs;
    }
    Ok(SqlTls {
        given: true,
        ca_file: tls.ca_file.as_ref().map(std::path::PathBuf::from),
        ca_certs,
        insecure_skip_verify: tls.insecure_skip_verify,
    })
}

/// Compiles each query's mapping; errors point at `queries[N]`.
fn compile_queries(queries: &[QueryConfig]) -> Result<Vec<CompiledQuery>, KeyError> {
    if queries.is_empty() {
        return Err(KeyError::at(
            "queries",
            "`queries` is empty or missing: give at least one `query` with its `metrics`",
        ));
    }
    queries
        .iter()
        .enumerate()
        .map(|(index, query)| {
            let at = |key: &str, message: String| {
                KeyError::at(key, message).in_item(index).below("queries")
            };
            if query.query.trim().is_empty() {
                return Err(at("query", "the query is empty".to_string()));
            }
            let mapping = Mapping::compile(&query.metrics).map_err(|e| at("metrics", e))?;
            Ok(CompiledQuery {
                label: query
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("queries[{index}]")),
                sql: query.query.clone(),
                timeout: query.timeout.map(|t| t.0).filter(|t| !t.is_zero()),
                min_interval: query.min_interval.map(|t| t.0).unwrap_or_default(),
                mapping,
            })
        })
        .collect()
}

/// One query, ready to run.
struct CompiledQuery {
    /// `name` or `queries[N]`, for messages.
    label: String,
    sql: String,
    timeout: Option<Duration>,
    min_interval: Duration,
    mapping: Mapping,
}

/// What a database connection does for the collector.
#[async_trait::async_trait]
trait Connection: Send + Sync {
    /// Runs `sql` with a server-side statement timeout of what `limit` leaves when the query is
    /// sent; the rows as JSON objects. Several queries may be asked at once: PostgreSQL sends
    /// them together on the connection and answers them in order, MySQL runs them in turn.
    async fn query(&self, sql: &str, limit: Limit) -> Result<Vec<Value>, QueryError>;
    /// Whether the server closed the connection (known without a round trip).
    fn is_closed(&self) -> bool;
}

/// A query's failure; `broken` when the connection cannot be used any more.
struct QueryError {
    reason: Reason,
    message: String,
    broken: bool,
}

/// How long a query may take, worked out when it is sent: what is left before the collection's
/// deadline, less [`margin`], and at most the query's own `timeout`.
#[derive(Debug, Clone, Copy)]
struct Limit {
    deadline: Instant,
    own: Option<Duration>,
}

impl Limit {
    /// The statement timeout for a query sent now; an error when no time is left.
    fn now(&self) -> Result<Duration, QueryError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let mut timeout = remaining.saturating_sub(margin(remaining));
        if let Some(own) = self.own {
            timeout = timeout.min(own);
        }
        if timeout.is_zero() {
            return Err(QueryError {
                reason: Reason::Timeout,
                message: "not run, no time left".to_string(),
                broken: false,
            });
        }
        Ok(timeout)
    }
}

/// Which database the DSN names, with its parsed settings.
enum Driver {
    Postgres(Box<postgres::Postgres>),
    Mysql(mysql::Mysql),
}

impl Driver {
    fn from_dsn(dsn: &str, tls: SqlTls) -> Result<Driver, String> {
        let lower = dsn.trim_start().to_ascii_lowercase();
        if lower.starts_with("postgres://")
            || lower.starts_with("postgresql://")
            || (!lower.contains("://") && lower.contains('='))
        {
            return postgres::Postgres::from_dsn(dsn, &tls).map(|p| Driver::Postgres(Box::new(p)));
        }
        if lower.starts_with("mysql://") {
            return mysql::Mysql::from_dsn(dsn, &tls).map(Driver::Mysql);
        }
        let scheme = lower.split("://").next().unwrap_or_default();
        Err(format!(
            "dsn: `{scheme}://` is not a supported database; expected postgresql://… \
             (or libpq's `host=… user=…` form) or mysql://…"
        ))
    }

    /// The DSN without its password.
    fn target(&self) -> String {
        match self {
            Driver::Postgres(p) => p.target(),
            Driver::Mysql(m) => m.target(),
        }
    }

    async fn connect(
        &self,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Box<dyn Connection>, CollectError> {
        match self {
            Driver::Postgres(p) => p.connect(password, timeout).await,
            Driver::Mysql(m) => m.connect(password, timeout).await,
        }
    }
}

/// The connection, the password it was opened with, and each query's last result.
#[derive(Default)]
struct State {
    connection: Option<Box<dyn Connection>>,
    /// The `password_file` content the connection was opened with.
    password: Option<String>,
    /// Per query: when it last ran successfully, and what it gave (for `min_interval`).
    cached: Vec<Option<(Instant, Collection)>>,
}

/// The `sql` collector.
pub struct SqlCollector {
    target: String,
    driver: Driver,
    password: Option<FileSecret>,
    queries: Vec<CompiledQuery>,
    state: Mutex<State>,
}

/// Time kept free before the collector's deadline: a statement timeout this much shorter lets
/// the database's own error come back before the scrape gives up.
fn margin(remaining: Duration) -> Duration {
    (remaining / 10).clamp(Duration::from_millis(20), Duration::from_millis(250))
}

/// When a collection stops waiting for the answers still due: half a margin before the deadline.
/// A statement timeout ends a margin before it, so the database's own error comes first; queries
/// asked together each got their timeout when sent, and those queued behind a slow one could
/// otherwise run past the deadline and cost the answers already mapped.
fn cutoff(deadline: Instant) -> Instant {
    let remaining = deadline.saturating_duration_since(Instant::now());
    deadline
        .checked_sub(margin(remaining) / 2)
        .unwrap_or(deadline)
}

impl SqlCollector {
    /// Sends query `index` on `connection`; its rows, or why there are none.
    async fn ask(
        &self,
        ctx: &Context,
        connection: &dyn Connection,
        index: usize,
    ) -> (usize, Result<Vec<Value>, QueryError>) {
        let query = &self.queries[index];
        let limit = Limit {
            deadline: ctx.deadline,
            own: query.timeout,
        };
        // Checked here too, so that a query with no time left is not counted as sent.
        if let Err(no_time) = limit.now() {
            return (index, Err(no_time));
        }
        ctx.count_request();
        let mut timer = ctx.request_timer("QUERY", &query.label);
        let result = connection.query(&query.sql, limit).await;
        timer.phase("query");
        (index, result)
    }

    async fn connect(
        &self,
        ctx: &Context,
        password: Option<&str>,
    ) -> Result<Box<dyn Connection>, CollectError> {
        ctx.count_request();
        let remaining = ctx.remaining();
        self.driver
            .connect(password, remaining.saturating_sub(margin(remaining)))
            .await
    }
}

#[async_trait::async_trait]
impl Collector for SqlCollector {
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError> {
        let mut state = self.state.lock().await;
        let state = &mut *state;
        if state.cached.len() != self.queries.len() {
            state.cached = (0..self.queries.len()).map(|_| None).collect();
        }
        let password = self.password.as_ref().map(FileSecret::get).transpose()?;
        let stale = state
            .connection
            .as_ref()
            .is_some_and(|c| c.is_closed() || state.password != password);
        if stale {
            state.connection = None;
        }
        // Whether the connection was opened by this collection: a kept one may have died
        // since the last (the server restarted), which the first query finds out.
        let mut fresh = false;
        if state.connection.is_none() {
            state.connection = Some(self.connect(ctx, password.as_deref()).await?);
            state.password = password.clone();
            fresh = true;
        }

        // Each query's series and problems, gathered in the queries' order.
        let mut parts: Vec<Collection> = (0..self.queries.len())
            .map(|_| Collection::default())
            .collect();
        let mut due = VecDeque::new();
        for (index, query) in self.queries.iter().enumerate() {
            match &state.cached[index] {
                Some((at, kept)) if at.elapsed() < query.min_interval => {
                    parts[index].families = kept.families.clone();
                }
                _ => due.push_back(index),
            }
        }
        // The due queries are asked at once, and each answer is mapped as it comes, while the
        // database works on the next ones.
        let cutoff = cutoff(ctx.deadline);
        let State {
            connection, cached, ..
        } = state;
        while !due.is_empty() {
            let Some(open) = connection.as_deref() else {
                for index in due.drain(..) {
                    parts[index].problems.push(CollectError::new(
                        Reason::Connect,
                        format!(
                            "query `{}`: not run, the connection was lost",
                            self.queries[index].label
                        ),
                    ));
                }
                break;
            };
            let mut asked: FuturesOrdered<_> = due
                .iter()
                .map(|&index| self.ask(ctx, open, index))
                .collect();
            // A kept connection that broke is opened again and asked again from that query on.
            let mut ask_again = false;
            let mut lost = false;
            loop {
                let (index, result) = match tokio::time::timeout_at(cutoff, asked.next()).await {
                    Ok(Some(answer)) => answer,
                    Ok(None) => break,
                    Err(_) => {
                        // The answers still due cannot come back in time: they cost their own
                        // series, and the ones already mapped are kept. Their statements may
                        // still be running, so the connection is not used again.
                        for index in due.drain(..) {
                            cached[index] = None;
                            parts[index].problems.push(CollectError::new(
                                Reason::Timeout,
                                format!(
                                    "query `{}`: no answer before the collection's deadline",
                                    self.queries[index].label
                                ),
                            ));
                        }
                        lost = true;
                        break;
                    }
                };
                due.pop_front();
                let query = &self.queries[index];
                let rows = match result {
                    Ok(rows) => rows,
                    Err(error) if error.broken && !fresh => {
                        due.push_front(index);
                        ask_again = true;
                        break;
                    }
                    Err(error) => {
                        cached[index] = None;
                        parts[index].problems.push(CollectError::new(
                            error.reason,
                            format!("query `{}`: {}", query.label, error.message),
                        ));
                        if error.broken {
                            lost = true;
                            break;
                        }
                        continue;
                    }
                };
                if let Some(recorder) = ctx.explain() {
                    recorder.section(format!("query `{}`", query.label), query_summary(&rows));
                }
                let collection = query
                    .mapping
                    .apply_explained(&Value::Array(rows), ctx.explain());
                if !query.min_interval.is_zero() {
                    cached[index] = Some((Instant::now(), collection.clone()));
                }
                parts[index] = collection;
            }
            drop(asked);
            if lost {
                *connection = None;
            }
            if ask_again {
                *connection = None;
                *connection = Some(self.connect(ctx, password.as_deref()).await?);
                fresh = true;
            }
        }
        let mut out = Collection::default();
        for part in parts {
            out.families.extend(part.families);
            out.problems.extend(part.problems);
        }
        Ok(out)
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}

/// The error of a connection not made within `timeout`.
fn connect_timeout(target: &str, timeout: Duration) -> CollectError {
    CollectError::new(
        Reason::Timeout,
        format!(
            "no connection to {target} within {:.3}s",
            timeout.as_secs_f64()
        ),
    )
}

/// What an explanation says of a query's rows: how many, and their columns (no values: those
/// are the rules' to show, redacted as configured).
fn query_summary(rows: &[Value]) -> Vec<String> {
    let columns = rows
        .first()
        .and_then(Value::as_object)
        .map(|row| row.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    vec![format!("{} rows; columns: {columns}", rows.len())]
}

/// One row as a JSON object: the column names as keys, each value as text or null.
fn row_object<N: Into<String>>(columns: impl Iterator<Item = (N, Option<String>)>) -> Value {
    let mut object = Map::new();
    for (name, value) in columns {
        object.insert(name.into(), value.map(Value::String).unwrap_or(Value::Null));
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use crate::config::load_bytes;
    use crate::scrape::{Counters, Engine};

    fn build(text: &str) -> Result<Engine, crate::config::ConfigError> {
        let loaded = load_bytes("c.yaml", text.as_bytes(), Path::new("."), &|_| None)?;
        Engine::build(&loaded, Arc::new(Counters::default()))
    }

    const QUERY: &str = "    queries:\n      - query: SELECT 1 AS one\n        metrics: [{name: one, type: object, path: '{ [*] }', value: '{ .one }'}]\n";

    #[test]
    fn the_target_never_shows_the_password() {
        for dsn in [
            "postgresql://monitor:s3cret@127.0.0.1:5433/app?sslmode=disable",
            "host=127.0.0.1 port=5433 user=monitor password=s3cret dbname=app",
            "mysql://monitor:s3cret@127.0.0.1:3307/app",
        ] {
            let engine = build(&format!(
                "collectors:\n  - name: db\n    kind: sql\n    dsn: '{dsn}'\n{QUERY}"
            ))
            .unwrap();
            let target = &engine.collectors[0].target;
            assert!(!target.contains("s3cret"), "{target}");
            assert!(target.contains("monitor@127.0.0.1:"), "{target}");
            assert!(target.contains("/app"), "{target}");
        }
    }

    #[test]
    fn config_errors_point_at_the_key() {
        let err = build(&format!(
            "collectors:\n  - name: db\n    kind: sql\n    dsn: oracle://x@y/\n{QUERY}"
        ))
        .err()
        .unwrap();
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(
            err.message
                .contains("`oracle://` is not a supported database"),
            "{err}"
        );

        let err = build("collectors:\n  - name: db\n    kind: sql\n    dsn: 'postgresql://u:s3cret@h:notaport/db'\n    queries: [{query: SELECT 1, metrics: []}]\n")
            .err()
            .unwrap();
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(!err.message.contains("s3cret"), "{err}");

        let err = build("collectors:\n  - name: db\n    kind: sql\n    dsn: postgresql://u@h/db\n    queries:\n      - query: SELECT 1\n        metrics:\n          - {name: 9bad, type: object, path: '{ [*] }', value: '1'}\n")
            .err()
            .unwrap();
        assert_eq!(err.line, 7, "{err}");
        assert!(err.message.contains("metrics[0] (9bad): name"), "{err}");

        let err = build("collectors:\n  - name: db\n    kind: sql\n    dsn: postgresql://u@h/db\n")
            .err()
            .unwrap();
        assert!(
            err.message.contains("`queries` is empty or missing"),
            "{err}"
        );

        let err = build(&format!(
            "collectors:\n  - name: db\n    kind: sql\n    dsn: postgresql://u@h/db\n    password_file: /nonexistent/pw\n{QUERY}"
        ))
        .err()
        .unwrap();
        assert_eq!((err.line, err.column), (5, 5), "{err}");
        assert!(
            err.message
                .contains("cannot read password_file /nonexistent/pw"),
            "{err}"
        );

        let err = build(&format!(
            "collectors:\n  - name: db\n    kind: sql\n    dsn: postgresql://u@h/db\n    tls_config:\n      cert_file: /x.pem\n{QUERY}"
        ))
        .err()
        .unwrap();
        assert_eq!((err.line, err.column), (6, 7), "{err}");
        assert!(
            err.message
                .contains("`cert_file` is not supported by the sql kind"),
            "{err}"
        );
        let err = build(&format!(
            "collectors:\n  - name: db\n    kind: sql\n    dsn: mysql://u@h/\n    tls_config: {{ca_file: /nonexistent/ca.pem}}\n{QUERY}"
        ))
        .err()
        .unwrap();
        assert!(
            err.message
                .contains("cannot read ca_file /nonexistent/ca.pem"),
            "{err}"
        );
    }
}
