//! The collector abstraction: what the scrape engine runs, and how a collector reports failure.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::time::Instant;

use crate::explain::{Recorder, RequestTimer};
use crate::model::MetricFamily;

/// Why a collection (or part of it) failed. The values are the `reason` label of
/// `sidecar_exporter_collector_errors_total`, a small fixed set so that alerts can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The target could not be reached (refused, DNS, reset before an answer).
    Connect,
    /// The deadline passed before the target answered.
    Timeout,
    /// The target answered with a status code outside `valid_status_codes`.
    HttpStatus,
    /// The answer could not be parsed in the configured format.
    Parse,
    /// A mapping rule found nothing usable for one series (missing key, non-numeric value).
    Mapping,
    /// Two series with the same name and labels; the later one was dropped.
    DuplicateSeries,
    /// A size or count limit was hit (response size, `max_series`).
    Limit,
    /// The operating system refused access (another user's `/proc/PID/io`, say).
    Permission,
    /// The target refused the credentials (a database's wrong password or unknown user).
    Auth,
    /// The target refused a query (a database's syntax error, missing table or privilege).
    Query,
}

impl Reason {
    /// Every reason, in label order.
    pub const ALL: [Reason; 10] = [
        Reason::Connect,
        Reason::Timeout,
        Reason::HttpStatus,
        Reason::Parse,
        Reason::Mapping,
        Reason::DuplicateSeries,
        Reason::Limit,
        Reason::Permission,
        Reason::Auth,
        Reason::Query,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Connect => "connect",
            Reason::Timeout => "timeout",
            Reason::HttpStatus => "http_status",
            Reason::Parse => "parse",
            Reason::Mapping => "mapping",
            Reason::DuplicateSeries => "duplicate_series",
            Reason::Limit => "limit",
            Reason::Permission => "permission",
            Reason::Auth => "auth",
            Reason::Query => "query",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with its reason and a sentence for the status page and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectError {
    /// The reason, for the error counter.
    pub reason: Reason,
    /// A plain-words description, without secrets.
    pub message: String,
    /// The description without anything taken from the app's answer, when `message` has some
    /// (a value that is not a number, a line that does not parse): what pages show unless
    /// `--web.debug-answers` is on.
    pub page_message: Option<String>,
}

impl CollectError {
    /// A new error.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        CollectError {
            reason,
            message: message.into(),
            page_message: None,
        }
    }

    /// The same error, with `page_message` as its description for pages that must not show
    /// the app's data.
    pub fn with_page_message(mut self, page_message: impl Into<String>) -> Self {
        self.page_message = Some(page_message.into());
        self
    }

    /// The description a page may show without `--web.debug-answers`.
    pub fn page_message(&self) -> &str {
        self.page_message.as_deref().unwrap_or(&self.message)
    }
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for CollectError {}

/// What a successful collection returns: its families, and the problems that cost some series
/// but not the whole collection (each is counted, the collector stays up).
#[derive(Debug, Default, Clone)]
pub struct Collection {
    /// The collected families (without constant labels; the engine adds them).
    pub families: Vec<MetricFamily>,
    /// Partial failures: a missing key for one series, a permission refused for one process.
    pub problems: Vec<CollectError>,
}

impl From<Vec<MetricFamily>> for Collection {
    fn from(families: Vec<MetricFamily>) -> Self {
        Collection {
            families,
            problems: Vec::new(),
        }
    }
}

/// What the engine hands a collector for one collection.
#[derive(Debug, Clone)]
pub struct Context {
    /// The collector must answer before this instant; the engine abandons it then.
    pub deadline: Instant,
    /// Incremented by a source for each request it sends to the app
    /// (`sidecar_exporter_target_requests_total`).
    pub target_requests: Arc<AtomicU64>,
    /// Where the collection records what it does, when it is to be explained.
    pub explain: Option<Arc<Recorder>>,
}

impl Context {
    /// A context with the given deadline and a fresh request counter.
    pub fn with_deadline(deadline: Instant) -> Self {
        Context {
            deadline,
            target_requests: Arc::new(AtomicU64::new(0)),
            explain: None,
        }
    }

    /// The recorder of an explained collection.
    pub fn explain(&self) -> Option<&Recorder> {
        self.explain.as_deref()
    }

    /// Starts timing one request to the app for the explanation (a no-op when the collection
    /// is not explained); the source marks its phases, status and size on the timer.
    pub fn request_timer(&self, method: &str, target: &str) -> RequestTimer<'_> {
        RequestTimer::start(self.explain(), method, target)
    }

    /// Records one request sent to the app.
    pub fn count_request(&self) {
        self.target_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A configured collector: one source, format and mapping (or a kind that does all three, such as
/// `process`). Built once per config load; `collect` runs once per collection.
#[async_trait::async_trait]
pub trait Collector: Send + Sync {
    /// Collects once. An `Err` makes the collector `up 0` for this collection.
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError>;

    /// What it reads, for the status page and `check` (an URL, an address, "processes matching
    /// …"); never contains secrets.
    fn target(&self) -> String;

    /// Notes for `check` and the status page that are not errors (e.g. "only the sidecar's own
    /// processes are visible").
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}
