//! The scrape planner: runs the collectors concurrently with deadlines, shares one collection in
//! flight between concurrent scrapes, reuses results younger than `global.min_interval`, drops
//! and counts duplicate series, and keeps what the status page and the self-metrics show.

mod merge;
pub mod self_metrics;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::time::Instant;

use crate::collector::{CollectError, Collector, Context, Reason};
use crate::config::{ConfigError, LoadedConfig};
use crate::explain::{Finished, Recorded, Recorder};
use crate::kinds;
use crate::model::{Labels, MetricFamily};

pub use merge::merge_families;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the data here are
/// plain counters and caches that stay consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counters that outlive config reloads, so that a reload does not reset them.
#[derive(Debug, Default)]
pub struct Counters {
    errors: Mutex<BTreeMap<(String, &'static str, Reason), u64>>,
    target_requests: Mutex<BTreeMap<(String, &'static str), Arc<AtomicU64>>>,
    scrapes: Mutex<BTreeMap<u16, u64>>,
}

impl Counters {
    /// Adds one error of `reason` for a collector.
    pub fn count_error(&self, collector: &str, kind: &'static str, reason: Reason) {
        *lock(&self.errors)
            .entry((collector.to_string(), kind, reason))
            .or_default() += 1;
    }

    /// Errors per `(collector, kind, reason)`.
    pub fn errors(&self) -> BTreeMap<(String, &'static str, Reason), u64> {
        lock(&self.errors).clone()
    }

    /// The request counter of a collector, created at zero on first use.
    pub fn target_requests(&self, collector: &str, kind: &'static str) -> Arc<AtomicU64> {
        lock(&self.target_requests)
            .entry((collector.to_string(), kind))
            .or_default()
            .clone()
    }

    /// Counts one answered scrape with its status code.
    pub fn count_scrape(&self, code: u16) {
        *lock(&self.scrapes).entry(code).or_default() += 1;
    }

    /// Scrapes per status code.
    pub fn scrapes(&self) -> BTreeMap<u16, u64> {
        lock(&self.scrapes).clone()
    }
}

/// The result of one collection of one collector.
#[derive(Debug)]
pub struct Outcome {
    /// When it finished.
    pub finished_at: Instant,
    /// When it finished, wall clock, for the status page.
    pub finished_wall: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Its families, with constant labels added and duplicates dropped.
    pub families: Vec<MetricFamily>,
    /// The error that made it fail, if it failed.
    pub error: Option<CollectError>,
    /// Partial problems (it stayed up).
    pub problems: Vec<CollectError>,
}

impl Outcome {
    /// True when the collection succeeded.
    pub fn up(&self) -> bool {
        self.error.is_none()
    }

    /// The number of samples it produced.
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    fn failed(error: CollectError, duration: Duration) -> Outcome {
        Outcome {
            finished_at: Instant::now(),
            finished_wall: SystemTime::now(),
            duration,
            families: Vec::new(),
            error: Some(error),
            problems: Vec::new(),
        }
    }
}

/// A collection in flight, shared by the scrapes that wait for it, with its own deadline.
type Flight = (Shared<BoxFuture<'static, Arc<Outcome>>>, Instant);

/// A built collector with its schedule state.
pub struct CollectorEntry {
    /// Its unique name.
    pub name: String,
    /// Its kind (`process`, `http_text`, …).
    pub kind: &'static str,
    /// What it reads (no secrets).
    pub target: String,
    /// Notes for the status page and `check`.
    pub notes: Vec<String>,
    /// Its own upper bound for a collection.
    pub timeout: Duration,
    /// Collector labels, then global labels.
    pub const_labels: Labels,
    /// `up_metric`: the name of the 1/0 gauge emitted with the collector's families.
    pub up_metric: Option<String>,
    /// The HELP text of the `up_metric` gauge (`up_help`, or a sentence naming the collector);
    /// set whenever `up_metric` is.
    pub up_help: Option<String>,
    /// The preset it was made from.
    pub preset: Option<String>,
    /// Its `redact:` keys.
    pub redact: Vec<String>,
    collector: Arc<dyn Collector>,
    counters: Arc<Counters>,
    requests: Arc<AtomicU64>,
    in_flight: Mutex<Option<Flight>>,
    last: Mutex<Option<Arc<Outcome>>>,
    /// The most recent failure, in words without the app's data.
    last_error: Mutex<Option<(SystemTime, String)>>,
    last_success: Mutex<Option<SystemTime>>,
    explained: Mutex<Option<(Instant, Arc<Recorded>)>>,
    /// What it was built from (its keys, preset applied, and the global labels), so that a
    /// rebuild can keep an unchanged collector with its state.
    built_from: String,
    /// Collections are explained until then: someone looked at the debug page recently.
    explain_until: Mutex<Option<Instant>>,
    /// When a debug page last started a collection of its own.
    page_collection_started: Mutex<Option<Instant>>,
}

/// How long after a look at the debug page the scrapes' collections are explained too.
const EXPLAIN_WINDOW: Duration = Duration::from_secs(300);
/// The shortest time between two collections started by debug pages (or `min_interval` when
/// longer).
pub const FRESH_EXPLAIN_INTERVAL: Duration = Duration::from_secs(1);

impl CollectorEntry {
    /// The most recent finished collection.
    pub fn last(&self) -> Option<Arc<Outcome>> {
        lock(&self.last).clone()
    }

    /// Requests this collector has sent to the app (across reloads).
    pub fn target_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The most recent failure (even if a later collection succeeded), with its time, in words
    /// without the app's data (for the status page).
    pub fn last_error(&self) -> Option<(SystemTime, String)> {
        lock(&self.last_error).clone()
    }

    /// When a collection last succeeded.
    pub fn last_success(&self) -> Option<SystemTime> {
        *lock(&self.last_success)
    }

    /// The most recent explained collection.
    pub fn last_explained(&self) -> Option<Arc<Recorded>> {
        lock(&self.explained).as_ref().map(|(_, e)| e.clone())
    }

    fn wants_explaining(&self) -> bool {
        lock(&self.explain_until).is_some_and(|until| Instant::now() < until)
    }

    /// The explanation of a collection for the debug page: the last explained one, or with
    /// `fresh` a new one. Never more collections than scrapes would make: a collection in
    /// flight is joined, and a page starts one of its own at most once per `min_interval` (at
    /// least [`FRESH_EXPLAIN_INTERVAL`]); asked more often, it answers with the last one.
    pub async fn explain(
        self: &Arc<Self>,
        fresh: bool,
        min_interval: Duration,
    ) -> Option<Arc<Recorded>> {
        let asked = Instant::now();
        *lock(&self.explain_until) = Some(asked + EXPLAIN_WINDOW);
        let spacing = min_interval.max(FRESH_EXPLAIN_INTERVAL);
        let cached = lock(&self.explained).clone();
        if let Some((finished, explained)) = &cached {
            if !fresh || finished.elapsed() < spacing {
                return Some(explained.clone());
            }
        }
        let in_flight = lock(&self.in_flight)
            .as_ref()
            .map(|(flight, _)| flight.clone());
        if let Some(flight) = in_flight {
            flight.await;
            if let Some((finished, explained)) = lock(&self.explained).as_ref() {
                if *finished >= asked || cached.is_none() {
                    return Some(explained.clone());
                }
            }
        }
        {
            let mut started = lock(&self.page_collection_started);
            if started.is_some_and(|at| at.elapsed() < spacing) {
                return self.last_explained();
            }
            *started = Some(Instant::now());
        }
        let (flight, _) = self.flight(Instant::now() + self.timeout, true);
        flight.await;
        self.last_explained()
    }

    /// Runs one collection, bounded by `deadline`, and records its outcome (and, with
    /// `explain`, its explanation).
    async fn run(self: Arc<Self>, deadline: Instant, explain: bool) -> Arc<Outcome> {
        let started = Instant::now();
        let recorder = explain.then(|| Arc::new(Recorder::new(self.redact.clone())));
        let ctx = Context {
            deadline,
            target_requests: self.requests.clone(),
            explain: recorder.clone(),
        };
        let result = tokio::time::timeout_at(deadline, self.collector.collect(&ctx)).await;
        let duration = started.elapsed();
        let mut outcome = match result {
            Ok(Ok(collection)) => {
                let mut problems = collection.problems;
                let families = merge::finish_collection(
                    collection.families,
                    &self.const_labels,
                    &mut problems,
                );
                Outcome {
                    finished_at: Instant::now(),
                    finished_wall: SystemTime::now(),
                    duration,
                    families,
                    error: None,
                    problems,
                }
            }
            Ok(Err(error)) => Outcome::failed(error, duration),
            Err(_) => Outcome::failed(
                CollectError::new(
                    Reason::Timeout,
                    format!("no answer within {:.3}s", duration.as_secs_f64()),
                ),
                duration,
            ),
        };
        if let Some(name) = &self.up_metric {
            let up = if outcome.up() { 1.0 } else { 0.0 };
            let help = self.up_help.clone().unwrap_or_default();
            let family = MetricFamily::new(name.clone(), help, crate::model::MetricType::Gauge)
                .with_sample(self.const_labels.clone(), up);
            outcome.families.insert(0, family);
        }
        self.record(&outcome);
        if let Some(recorder) = recorder {
            let explained = recorder.finish(&Finished {
                collector: &self.name,
                kind: self.kind,
                preset: self.preset.as_deref(),
                target: &self.target,
                finished_wall: outcome.finished_wall,
                duration: outcome.duration,
                error: outcome.error.as_ref(),
                problems: &outcome.problems,
                families: &outcome.families,
            });
            *lock(&self.explained) = Some((outcome.finished_at, Arc::new(explained)));
        }
        let outcome = Arc::new(outcome);
        *lock(&self.last) = Some(outcome.clone());
        *lock(&self.in_flight) = None;
        outcome
    }

    fn record(&self, outcome: &Outcome) {
        self.log_change(outcome);
        if outcome.up() {
            *lock(&self.last_success) = Some(outcome.finished_wall);
        }
        if let Some(error) = &outcome.error {
            self.counters
                .count_error(&self.name, self.kind, error.reason);
            *lock(&self.last_error) =
                Some((outcome.finished_wall, error.page_message().to_string()));
        }
        for problem in &outcome.problems {
            self.counters
                .count_error(&self.name, self.kind, problem.reason);
            tracing::debug!(collector = %self.name, reason = %problem.reason, "{}", problem.message);
        }
        if let Some(problem) = outcome.problems.first() {
            let more = outcome.problems.len() - 1;
            let message = if more > 0 {
                format!("{} (and {more} more)", problem.page_message())
            } else {
                problem.page_message().to_string()
            };
            *lock(&self.last_error) = Some((outcome.finished_wall, message));
        }
    }

    /// Logs what changed: one line when the collector goes down or its reason changes, one when
    /// it comes back; every collection only at debug level (a collector down for hours must
    /// not write a line per scrape).
    fn log_change(&self, outcome: &Outcome) {
        let before = lock(&self.last)
            .as_ref()
            .map(|last| last.error.as_ref().map(|e| e.reason));
        let (name, kind) = (&self.name, self.kind);
        let duration = outcome.duration.as_secs_f64();
        match (&outcome.error, before) {
            (Some(error), Some(Some(reason))) if reason == error.reason => {
                tracing::debug!(collector = %name, kind, reason = %error.reason, duration, "still down: {}", error.message);
            }
            (Some(error), _) => {
                tracing::warn!(collector = %name, kind, reason = %error.reason, "collector down: {}", error.message);
            }
            (None, Some(Some(reason))) => {
                tracing::info!(collector = %name, kind, was = %reason, "collector up again");
            }
            (None, _) => {
                let series: usize = outcome.families.iter().map(|f| f.samples.len()).sum();
                tracing::debug!(collector = %name, kind, duration, families = outcome.families.len(), series, problems = outcome.problems.len(), "collected");
            }
        }
    }

    /// The collection in flight, or a new one bounded by `deadline` and this collector's
    /// timeout (explained when `explain`).
    fn flight(self: &Arc<Self>, deadline: Instant, explain: bool) -> Flight {
        let mut in_flight = lock(&self.in_flight);
        if let Some(flight) = in_flight.as_ref() {
            return flight.clone();
        }
        let deadline = deadline.min(Instant::now() + self.timeout);
        let task = tokio::spawn(self.clone().run(deadline, explain));
        let timeout = self.timeout;
        let flight = async move {
            task.await.unwrap_or_else(|e| {
                Arc::new(Outcome::failed(
                    CollectError::new(Reason::Parse, format!("the collector crashed: {e}")),
                    timeout,
                ))
            })
        }
        .boxed()
        .shared();
        *in_flight = Some((flight.clone(), deadline));
        (flight, deadline)
    }

    /// The outcome for a scrape: a fresh-enough cached one, the one in flight, or a new one.
    async fn outcome_for_scrape(
        self: &Arc<Self>,
        scrape_deadline: Instant,
        min_interval: Duration,
    ) -> Arc<Outcome> {
        if !min_interval.is_zero() {
            if let Some(last) = self.last() {
                if last.finished_at.elapsed() < min_interval {
                    return last;
                }
            }
        }
        let (flight, flight_deadline) = self.flight(scrape_deadline, self.wants_explaining());
        if flight_deadline <= scrape_deadline {
            // The collection ends by its own deadline, and records its own timeout.
            return flight.await;
        }
        match tokio::time::timeout_at(scrape_deadline, flight).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.counters
                    .count_error(&self.name, self.kind, Reason::Timeout);
                Arc::new(Outcome::failed(
                    CollectError::new(
                        Reason::Timeout,
                        "the scrape's deadline passed before the collection finished",
                    ),
                    Duration::ZERO,
                ))
            }
        }
    }
}

/// A collector named in the config but switched off.
#[derive(Debug, Clone)]
pub struct DisabledCollector {
    /// Its name.
    pub name: String,
    /// Its kind, as written.
    pub kind: String,
}

/// The collectors of one loaded config.
pub struct Engine {
    /// The enabled collectors, in config order.
    pub collectors: Vec<Arc<CollectorEntry>>,
    /// Collectors with `enabled: false`.
    pub disabled: Vec<DisabledCollector>,
    /// `global.min_interval`.
    pub min_interval: Duration,
    /// `global.scrape_timeout`.
    pub scrape_timeout: Duration,
}

impl Engine {
    /// Builds every enabled collector of `config`; the first one that cannot be built is the
    /// error, pointing at its definition.
    pub fn build(config: &LoadedConfig, counters: Arc<Counters>) -> Result<Engine, ConfigError> {
        Engine::build_keeping(config, counters, None)
    }

    /// `build`, keeping from `previous` every collector whose keys did not change, with its
    /// state (a process collector's counters of exited processes, the last collection, the
    /// one in flight): what `serve --discover` does when it adds or retires a collector.
    /// A reload builds everything anew instead, so that it re-reads certificates and files.
    pub fn build_keeping(
        config: &LoadedConfig,
        counters: Arc<Counters>,
        previous: Option<&Engine>,
    ) -> Result<Engine, ConfigError> {
        let global_labels: Labels = config
            .global
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut collectors = Vec::new();
        let mut disabled = Vec::new();
        for (index, loaded) in config.collectors.iter().enumerate() {
            let cfg = &loaded.config;
            if cfg.enabled == Some(false) {
                kinds::check(config, index)?;
                disabled.push(DisabledCollector {
                    name: cfg.name.clone(),
                    kind: cfg.kind.clone().unwrap_or_default(),
                });
                continue;
            }
            let built_from = format!(
                "{:?} {:?} {:?} {:?}",
                cfg, loaded.options, global_labels, config.global.scrape_timeout
            );
            if let Some(kept) = previous.and_then(|engine| {
                engine
                    .collectors
                    .iter()
                    .find(|entry| entry.name == cfg.name && entry.built_from == built_from)
            }) {
                collectors.push(kept.clone());
                continue;
            }
            let (kind, collector) = kinds::build(config, index)?;
            let mut const_labels: Labels = cfg
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (key, value) in &global_labels {
                if !cfg.labels.contains_key(key) {
                    const_labels.push((key.clone(), value.clone()));
                }
            }
            collectors.push(Arc::new(CollectorEntry {
                name: cfg.name.clone(),
                kind: kind.name,
                target: collector.target(),
                notes: collector.notes(),
                timeout: cfg.timeout.map_or(config.global.scrape_timeout.0, |t| t.0),
                const_labels,
                up_metric: cfg.up_metric.clone(),
                up_help: cfg.up_metric.as_ref().map(|_| {
                    cfg.up_help.clone().unwrap_or_else(|| {
                        format!(
                            "Whether the last collection of {} succeeded (1) or failed (0).",
                            cfg.name
                        )
                    })
                }),
                preset: cfg.preset.clone(),
                redact: cfg.redact.clone(),
                requests: counters.target_requests(&cfg.name, kind.name),
                counters: counters.clone(),
                collector,
                in_flight: Mutex::new(None),
                last: Mutex::new(None),
                last_error: Mutex::new(None),
                last_success: Mutex::new(None),
                explained: Mutex::new(None),
                explain_until: Mutex::new(None),
                page_collection_started: Mutex::new(None),
                built_from,
            }));
        }
        Ok(Engine {
            collectors,
            disabled,
            min_interval: config.global.min_interval.0,
            scrape_timeout: config.global.scrape_timeout.0,
        })
    }

    /// Collects every collector concurrently, answering by `deadline` with whatever finished.
    pub async fn collect(&self, deadline: Instant) -> Vec<(Arc<CollectorEntry>, Arc<Outcome>)> {
        let runs = self.collectors.iter().map(|entry| {
            let entry = entry.clone();
            async move {
                let outcome = entry.outcome_for_scrape(deadline, self.min_interval).await;
                (entry, outcome)
            }
        });
        futures::future::join_all(runs).await
    }
}

/// The deadline for a scrape: the `X-Prometheus-Scrape-Timeout-Seconds` value less a safety
/// margin (a tenth, at least 100 ms, so that encoding and sending fit), capped by
/// `scrape_timeout`.
pub fn scrape_deadline(
    now: Instant,
    header_seconds: Option<f64>,
    scrape_timeout: Duration,
) -> Instant {
    let budget = match header_seconds {
        Some(seconds) if seconds.is_finite() && seconds > 0.0 => {
            let margin = (seconds * 0.1).max(0.1);
            Duration::from_secs_f64((seconds - margin).max(0.05)).min(scrape_timeout)
        }
        _ => scrape_timeout,
    };
    now + budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_up_gauge_has_its_help_and_the_constant_labels() {
        let config = "global:\n  labels: {env: prod}\ncollectors:\n  - name: own\n    kind: file\n    path: nowhere.json\n    format: json\n    up_metric: own_up\n    up_help: Own words.\n    labels: {app: a}\n    metrics: [{name: x, path: '{.x}'}]\n  - name: plain\n    kind: file\n    path: nowhere.json\n    format: json\n    up_metric: plain_up\n    metrics: [{name: x, path: '{.x}'}]\n  - name: none\n    kind: file\n    path: nowhere.json\n    format: json\n    metrics: [{name: x, path: '{.x}'}]\n";
        let loaded = crate::config::load_bytes(
            "test.yaml",
            config.as_bytes(),
            std::path::Path::new("/nonexistent"),
            &|_| None,
        )
        .unwrap();
        let engine = Engine::build(&loaded, Arc::new(Counters::default())).unwrap();
        let outcomes = engine
            .collect(Instant::now() + Duration::from_secs(5))
            .await;
        let up: Vec<Option<(String, String, Labels)>> = outcomes
            .iter()
            .map(|(_, outcome)| {
                let family = outcome.families.first()?;
                Some((
                    family.name.clone(),
                    family.help.clone(),
                    family.samples[0].labels.clone(),
                ))
            })
            .collect();
        assert_eq!(
            up,
            [
                Some((
                    "own_up".to_string(),
                    "Own words.".to_string(),
                    crate::model::labels([("app", "a"), ("env", "prod")])
                )),
                Some((
                    "plain_up".to_string(),
                    "Whether the last collection of plain succeeded (1) or failed (0).".to_string(),
                    crate::model::labels([("env", "prod")])
                )),
                None,
            ]
        );
    }

    #[test]
    fn deadline_leaves_a_margin_below_the_header() {
        let now = Instant::now();
        let d = scrape_deadline(now, Some(1.0), Duration::from_secs(5));
        assert_eq!(d - now, Duration::from_millis(900));
        let d = scrape_deadline(now, Some(30.0), Duration::from_secs(5));
        assert_eq!(d - now, Duration::from_secs(5));
        let d = scrape_deadline(now, None, Duration::from_secs(5));
        assert_eq!(d - now, Duration::from_secs(5));
        let d = scrape_deadline(now, Some(f64::NAN), Duration::from_secs(2));
        assert_eq!(d - now, Duration::from_secs(2));
    }
}
