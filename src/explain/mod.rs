//! Explaining one collection: what was asked of the app, what it answered, what the format made
//! of it, and what every metric rule produced or why it produced nothing.
//!
//! A collection that is to be explained carries a [`Recorder`] in its
//! [`Context`](crate::collector::Context). Sources push one [`RequestTrace`] per request, the
//! pipeline pushes the answer and the records, the mapping one [`RuleTrace`] per rule, and kinds
//! without a mapping (`process`, `prometheus`, `http_probe`) push [`Section`]s of plain lines.
//! Without a recorder nothing is recorded and nothing is allocated.
//!
//! Everything is recorded as found; what a reader may see is decided when it is shown
//! ([`Explanation::view`]): the app's data (the answer, values found in it, label values) only
//! where answers may be shown, and never the values under secret-looking or `redact:` keys.

pub mod redact;
pub mod text;

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use crate::collector::CollectError;
use crate::model::MetricFamily;
use crate::scrape::lock;

pub use redact::Visibility;

/// The most bytes of the app's answer kept for showing.
pub const ANSWER_EXCERPT_BYTES: usize = 4096;
/// The most records (array elements) kept for showing.
const RECORDS_SHOWN: usize = 3;
/// The most members of one object kept for showing.
const MEMBERS_SHOWN: usize = 40;
/// The most characters of one string kept for showing.
const STRING_CHARS_SHOWN: usize = 120;
/// The deepest nesting kept for showing.
const DEPTH_SHOWN: usize = 6;
/// The most misses listed per rule; the rest are counted.
pub const MISSES_LISTED: usize = 5;

/// One collection, explained.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Explanation {
    /// The collector's name.
    pub collector: String,
    /// Its kind.
    pub kind: String,
    /// The preset it was made from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// What it reads (no secrets).
    pub target: String,
    /// When the collection finished, seconds since the epoch.
    pub finished_unix: f64,
    /// How long it took, in seconds.
    pub duration_seconds: f64,
    /// Whether it succeeded.
    pub up: bool,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Each request made to the app, in order.
    pub requests: Vec<RequestTrace>,
    /// The app's answer (app data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// What the format made of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<Records>,
    /// What each metric rule produced, in config order (nested rules after their parent).
    pub rules: Vec<RuleTrace>,
    /// What kinds without rules did (process groups, relabelling, a probe's checks).
    pub sections: Vec<Section>,
    /// The families emitted, with their series counts.
    pub families: Vec<FamilyCount>,
    /// Problems that cost series but not the collection.
    pub problems: Vec<Problem>,
    /// Whether the app's data is shown in this view (false: values are replaced by their type).
    pub answers_shown: bool,
    /// Values found under secret-looking or `redact:` keys anywhere in the records, to be
    /// scrubbed from free text (the answer excerpt, problem sentences).
    #[serde(skip)]
    secret_values: Vec<String>,
}

/// One request to the app.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestTrace {
    /// `GET`, `POST`, `TCP`, `READ`, …
    pub method: String,
    /// What was asked (no secrets).
    pub target: String,
    /// The status code, when an HTTP answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The bytes of the answer, when it was read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Time per phase, in order.
    pub phases: Vec<Phase>,
}

/// A named part of a request and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// `connect`, `headers`, `body`, `send`, `read`, …
    pub name: String,
    /// Seconds.
    pub seconds: f64,
}

/// An excerpt of the app's answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Answer {
    /// The size of the whole answer.
    pub bytes: usize,
    /// Its first [`ANSWER_EXCERPT_BYTES`] bytes as text.
    pub excerpt: String,
    /// True when the excerpt is not the whole answer.
    pub truncated: bool,
}

/// What the format produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Records {
    /// `an object with 12 keys`, `an array of 40 records`.
    pub shape: String,
    /// The keys of the first record (or of the document).
    pub keys: Vec<String>,
    /// The first records, bounded in size (scalars are app data).
    pub first: Vec<Value>,
}

/// What one metric rule produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleTrace {
    /// `metrics[2] (name)`.
    pub rule: String,
    /// The rule's `path` as written.
    pub path: String,
    /// Series it made that were kept.
    pub series: usize,
    /// Why series were not made (the first [`MISSES_LISTED`]).
    pub misses: Vec<Miss>,
    /// Misses beyond the listed ones.
    pub unlisted_misses: usize,
}

/// Why one series (or one rule's objects) gave nothing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Miss {
    /// The `reason` label (`mapping`, `duplicate_series`, `limit`).
    pub reason: String,
    /// What went wrong, without anything taken from the answer except keys.
    pub what: String,
    /// The app's values involved, each under the key it was found at (app data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<Found>,
}

/// A value from the app's answer, with the key it was found under (for redaction).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Found {
    /// The key, label name or path the value was found at.
    pub key: String,
    /// The value as text.
    pub value: String,
}

/// A titled list of plain lines (no app data in them).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Section {
    /// What the lines are about.
    pub title: String,
    /// The lines.
    pub lines: Vec<String>,
}

/// A family and its series count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FamilyCount {
    /// The family name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub metric_type: String,
    /// Its series.
    pub series: usize,
}

/// A problem or an error, as a page may show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Problem {
    /// The `reason` label.
    pub reason: String,
    /// The sentence (without the app's data unless answers are shown).
    pub message: String,
}

impl Problem {
    fn full(error: &CollectError) -> Problem {
        Problem {
            reason: error.reason.to_string(),
            message: error.message.clone(),
        }
    }
}

/// Collects the traces of one collection; shared by the tasks of the collection.
#[derive(Debug, Default)]
pub struct Recorder {
    explanation: Mutex<Explanation>,
    /// The collector's `redact:` keys.
    redact: Vec<String>,
}

impl Recorder {
    /// An empty recorder for a collector whose `redact:` keys are `redact`.
    pub fn new(redact: Vec<String>) -> Recorder {
        Recorder {
            explanation: Mutex::default(),
            redact,
        }
    }

    /// Starts a request; its index is for [`Recorder::update_request`].
    pub fn begin_request(&self, method: &str, target: &str) -> usize {
        let mut explanation = lock(&self.explanation);
        explanation.requests.push(RequestTrace {
            method: method.to_string(),
            target: target.to_string(),
            ..RequestTrace::default()
        });
        explanation.requests.len() - 1
    }

    /// Adds a request measured by its source (a probe times its own phases).
    pub fn request(&self, request: RequestTrace) {
        lock(&self.explanation).requests.push(request);
    }

    fn update_request(&self, index: usize, update: impl FnOnce(&mut RequestTrace)) {
        if let Some(request) = lock(&self.explanation).requests.get_mut(index) {
            update(request);
        }
    }

    /// Keeps an excerpt of the app's answer.
    pub fn answer(&self, body: &[u8]) {
        let cut = body.len().min(ANSWER_EXCERPT_BYTES);
        let excerpt = String::from_utf8_lossy(&body[..cut]).into_owned();
        lock(&self.explanation).answer = Some(Answer {
            bytes: body.len(),
            excerpt,
            truncated: cut < body.len(),
        });
    }

    /// Keeps the shape, the keys and the first few of the records a format produced.
    pub fn records(&self, records: &Value) {
        let (shape, keys, first) = match records {
            Value::Array(items) => (
                format!("an array of {} records", items.len()),
                items.first().map(object_keys).unwrap_or_default(),
                items.iter().take(RECORDS_SHOWN).map(bounded).collect(),
            ),
            Value::Object(map) => (
                format!("an object with {} keys", map.len()),
                object_keys(records),
                vec![bounded(records)],
            ),
            other => (
                format!("a single {}", type_name(other)),
                Vec::new(),
                vec![bounded(other)],
            ),
        };
        let mut secrets = Vec::new();
        redact::secret_values(records, &self.redact, &mut secrets);
        let mut explanation = lock(&self.explanation);
        explanation.records = Some(Records { shape, keys, first });
        explanation.secret_values.extend(secrets);
    }

    /// Keeps what each metric rule produced.
    pub fn rules(&self, rules: Vec<RuleTrace>) {
        lock(&self.explanation).rules.extend(rules);
    }

    /// Adds a titled list of plain lines.
    pub fn section(&self, title: impl Into<String>, lines: Vec<String>) {
        lock(&self.explanation).sections.push(Section {
            title: title.into(),
            lines,
        });
    }

    /// Fills in what the engine knows once the collection ended, and returns the explanation.
    pub fn finish(&self, finished: &Finished<'_>) -> Recorded {
        let mut explanation = lock(&self.explanation).clone();
        explanation.collector = finished.collector.to_string();
        explanation.kind = finished.kind.to_string();
        explanation.preset = finished.preset.map(str::to_string);
        explanation.target = finished.target.to_string();
        explanation.finished_unix = finished
            .finished_wall
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        explanation.duration_seconds = finished.duration.as_secs_f64();
        explanation.up = finished.error.is_none();
        explanation.error = finished.error.map(Problem::full);
        explanation.problems = finished.problems.iter().map(Problem::full).collect();
        explanation.families = finished
            .families
            .iter()
            .map(|family| FamilyCount {
                name: family.name.clone(),
                metric_type: family.metric_type.text_name().to_string(),
                series: family.samples.len(),
            })
            .collect();
        explanation.answers_shown = true;
        Recorded {
            full: explanation,
            page_error: finished.error.map(page_problem),
            page_problems: finished.problems.iter().map(page_problem).collect(),
        }
    }
}

/// An explanation with the answer-free sentences of its error and problems.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Everything, as recorded.
    pub full: Explanation,
    page_error: Option<Problem>,
    page_problems: Vec<Problem>,
}

impl Recorded {
    /// What `visibility` lets a reader see.
    pub fn view(&self, visibility: &Visibility) -> Explanation {
        let mut shown = self.full.clone();
        if !visibility.show_answers {
            shown.error = self.page_error.clone();
            shown.problems = self.page_problems.clone();
        }
        redact::apply(&mut shown, visibility);
        shown
    }
}

fn page_problem(error: &CollectError) -> Problem {
    Problem {
        reason: error.reason.to_string(),
        message: error.page_message().to_string(),
    }
}

/// What the engine knows of a finished collection.
pub struct Finished<'a> {
    /// The collector's name.
    pub collector: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// Its preset.
    pub preset: Option<&'a str>,
    /// What it reads.
    pub target: &'a str,
    /// When it finished.
    pub finished_wall: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed.
    pub error: Option<&'a CollectError>,
    /// Its partial problems.
    pub problems: &'a [CollectError],
    /// What it emitted.
    pub families: &'a [MetricFamily],
}

/// Times one request's phases into a [`Recorder`]; does nothing without one.
pub struct RequestTimer<'a> {
    recorder: Option<&'a Recorder>,
    index: usize,
    mark: tokio::time::Instant,
}

impl<'a> RequestTimer<'a> {
    /// Starts timing a request (nothing is recorded when `recorder` is `None`).
    pub fn start(recorder: Option<&'a Recorder>, method: &str, target: &str) -> Self {
        let index = recorder.map_or(0, |r| r.begin_request(method, target));
        RequestTimer {
            recorder,
            index,
            mark: tokio::time::Instant::now(),
        }
    }

    /// Ends the phase `name` now; the next one starts.
    pub fn phase(&mut self, name: &str) {
        let Some(recorder) = self.recorder else {
            return;
        };
        let now = tokio::time::Instant::now();
        let seconds = (now - self.mark).as_secs_f64();
        self.mark = now;
        recorder.update_request(self.index, |r| {
            r.phases.push(Phase {
                name: name.to_string(),
                seconds,
            })
        });
    }

    /// The answer's status code.
    pub fn status(&self, status: u16) {
        if let Some(recorder) = self.recorder {
            recorder.update_request(self.index, |r| r.status = Some(status));
        }
    }

    /// The answer's size.
    pub fn bytes(&self, bytes: usize) {
        if let Some(recorder) = self.recorder {
            recorder.update_request(self.index, |r| r.bytes = Some(bytes as u64));
        }
    }
}

fn object_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// `an object`, `a string`, … for sentences.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A copy of `value` small enough to show: the first members, elements and characters, with a
/// note of what was left out.
fn bounded(value: &Value) -> Value {
    bounded_at(value, 0)
}

fn bounded_at(value: &Value, depth: usize) -> Value {
    match value {
        Value::String(text) if text.chars().count() > STRING_CHARS_SHOWN => {
            let kept: String = text.chars().take(STRING_CHARS_SHOWN).collect();
            Value::String(format!("{kept}…"))
        }
        Value::Array(_) | Value::Object(_) if depth >= DEPTH_SHOWN => {
            Value::String(format!("<{} left out>", type_name(value)))
        }
        Value::Array(items) => {
            let mut kept: Vec<Value> = items
                .iter()
                .take(RECORDS_SHOWN)
                .map(|item| bounded_at(item, depth + 1))
                .collect();
            if items.len() > RECORDS_SHOWN {
                kept.push(Value::String(format!(
                    "<{} more left out>",
                    items.len() - RECORDS_SHOWN
                )));
            }
            Value::Array(kept)
        }
        Value::Object(map) => {
            let mut kept: serde_json::Map<String, Value> = map
                .iter()
                .take(MEMBERS_SHOWN)
                .map(|(k, v)| (k.clone(), bounded_at(v, depth + 1)))
                .collect();
            if map.len() > MEMBERS_SHOWN {
                kept.insert(
                    "…".to_string(),
                    Value::String(format!(
                        "<{} more keys left out>",
                        map.len() - MEMBERS_SHOWN
                    )),
                );
            }
            Value::Object(kept)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_bounded() {
        let recorder = Recorder::default();
        let items: Vec<Value> = (0..10)
            .map(|i| json!({"id": i, "s": "x".repeat(500)}))
            .collect();
        recorder.records(&Value::Array(items));
        let records = lock(&recorder.explanation).records.clone().unwrap();
        assert_eq!(records.shape, "an array of 10 records");
        assert_eq!(records.keys, ["id", "s"]);
        assert_eq!(records.first.len(), RECORDS_SHOWN);
        let s = records.first[0]["s"].as_str().unwrap();
        assert_eq!(s.chars().count(), STRING_CHARS_SHOWN + 1);
    }

    #[test]
    fn the_answer_excerpt_is_bounded() {
        let recorder = Recorder::default();
        recorder.answer(&vec![b'a'; ANSWER_EXCERPT_BYTES * 2]);
        let answer = lock(&recorder.explanation).answer.clone().unwrap();
        assert_eq!(answer.excerpt.len(), ANSWER_EXCERPT_BYTES);
        assert!(answer.truncated);
        assert_eq!(answer.bytes, ANSWER_EXCERPT_BYTES * 2);
    }

    #[test]
    fn a_timer_without_recorder_records_nothing() {
        let mut timer = RequestTimer::start(None, "GET", "x");
        timer.phase("headers");
        timer.status(200);
    }
}
