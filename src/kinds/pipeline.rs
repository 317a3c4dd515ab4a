//! The generic collector: a source fetches bytes, a format turns them into records, a mapping
//! turns the records into families. Every declarative kind (`http_text`, `http_json`,
//! `tcp_text`, `file`) is one of these.
//!
//! A collection may make several requests (`requests:`, see [`super::requests`]): then the
//! mapping sees one document with each request's records under its name.

use std::sync::Arc;

use crate::client::Source;
use crate::collector::{CollectError, Collection, Collector, Context};
use crate::config::{ConfigError, KeyError, KindKeys};
use crate::formats::{self, FormatConfig};
use crate::mapping::{Mapping, MetricRule};
use serde::Deserialize;

/// The keys of the declarative kinds that say how the answer becomes series.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedConfig {
    /// How the answer's bytes become records (`json`, `kv`, `regex`, `csv`, …; see the README's
    /// format section).
    pub format: Option<FormatConfig>,
    /// The metrics to make from the records (json_exporter's schema, see [`MetricRule`]).
    pub metrics: Option<Vec<MetricRule>>,
}

/// One request of a collection: where it goes and how its answer is read.
pub struct Request {
    /// The key its records get in the combined document; `None` for the one request of a
    /// collector without `requests:`, whose records are the document itself.
    pub name: Option<String>,
    /// Fetches the answer.
    pub source: Box<dyn Source>,
    /// How the answer becomes records; `None` takes the collector's `format:`.
    pub format: Option<FormatConfig>,
    /// A failure of this request costs only its series (a problem, the collector stays up)
    /// instead of the whole collection.
    pub optional: bool,
}

impl Request {
    /// The single request of a collector without `requests:`.
    pub fn only(source: impl Source + 'static) -> Vec<Request> {
        vec![Request {
            name: None,
            source: Box::new(source),
            format: None,
            optional: false,
        }]
    }
}

/// Requests + format + mapping.
pub struct Pipeline {
    /// Each with its format resolved.
    requests: Vec<(Request, FormatConfig)>,
    mapping: Mapping,
}

impl Pipeline {
    async fn records(
        request: &Request,
        format: &FormatConfig,
        ctx: &Context,
    ) -> Result<serde_json::Value, CollectError> {
        let body = request.source.fetch(ctx).await?;
        // An explanation holds one answer excerpt: the single request's. The requests of a
        // multi-request collection are each listed with their status and size, and the
        // combined records are shown.
        let recorder = ctx.explain().filter(|_| request.name.is_none());
        if let Some(recorder) = recorder {
            recorder.answer(&body);
        }
        let records = formats::parse(format, &body)?;
        if let Some(recorder) = recorder {
            recorder.records(&records);
        }
        Ok(records)
    }
}

#[async_trait::async_trait]
impl Collector for Pipeline {
    async fn collect(&self, ctx: &Context) -> Result<Collection, CollectError> {
        if let [(request, format)] = &self.requests[..] {
            if request.name.is_none() {
                let records = Self::records(request, format, ctx).await?;
                return Ok(self.mapping.apply_explained(&records, ctx.explain()));
            }
        }
        // Over HTTP every request keeps its own connection, so they go out at once. Otherwise
        // one at a time, in the order listed: the app sees one connection from the sidecar, as
        // from the exporter it replaces (Redis counts the sidecar's other connections in
        // `connected_clients` otherwise), and a local answer takes well under a millisecond.
        let answers = if self
            .requests
            .iter()
            .all(|(r, _)| r.source.asks_alongside_others())
        {
            futures::future::join_all(
                self.requests
                    .iter()
                    .map(|(request, format)| Self::records(request, format, ctx)),
            )
            .await
        } else {
            let mut answers = Vec::with_capacity(self.requests.len());
            for (request, format) in &self.requests {
                let answer = Self::records(request, format, ctx).await;
                // A failed required request fails the collection: the rest need not be asked.
                let failed_required = answer.is_err() && !request.optional;
                answers.push(answer);
                if failed_required {
                    break;
                }
            }
            answers
        };
        let mut document = serde_json::Map::new();
        let mut problems = Vec::new();
        for ((request, _), answer) in self.requests.iter().zip(answers) {
            let name = request.name.clone().unwrap_or_default();
            match answer {
                Ok(records) => {
                    document.insert(name, records);
                }
                Err(e) => {
                    let page = format!("request {name:?}: {}", e.page_message());
                    let e = CollectError::new(e.reason, format!("request {name:?}: {}", e.message))
                        .with_page_message(page);
                    if !request.optional {
                        return Err(e);
                    }
                    problems.push(e);
                }
            }
        }
        let document = serde_json::Value::Object(document);
        if let Some(recorder) = ctx.explain() {
            recorder.records(&document);
        }
        let mut collection = self.mapping.apply_explained(&document, ctx.explain());
        problems.append(&mut collection.problems);
        collection.problems = problems;
        Ok(collection)
    }

    fn target(&self) -> String {
        let mut targets = self.requests.iter().map(|(r, _)| r.source.target());
        let first = targets.next().unwrap_or_default();
        match self.requests.len() {
            0 | 1 => first,
            n => format!("{first} (+{} more requests)", n - 1),
        }
    }
}

/// The collector of a declarative kind: its `requests`, each read with its own format, else
/// the configured `format:`, else `default_format` when the kind has one; then the `metrics:`
/// mapping.
pub fn build(
    requests: Vec<Request>,
    default_format: Option<FormatConfig>,
    config: &MappedConfig,
) -> Result<Arc<dyn Collector>, KeyError> {
    let collector_format = config.format.clone().or(default_format);
    let mut resolved = Vec::with_capacity(requests.len());
    for (index, request) in requests.into_iter().enumerate() {
        let format = match (&request.format, &collector_format) {
            (Some(own), _) => own.clone(),
            (None, Some(shared)) => shared.clone(),
            (None, None) if request.name.is_some() => {
                return Err(KeyError::at(
                    "format",
                    "needs `format:` (how to read the answer), here or on the collector",
                )
                .in_item(index)
                .below("requests"))
            }
            (None, None) => return Err("needs `format:` (how to read the answer)".into()),
        };
        resolved.push((request, format));
    }
    let mapping = Mapping::compile(config.metrics.as_deref().unwrap_or_default())
        .map_err(|e| KeyError::at("metrics", e))?;
    Ok(Arc::new(Pipeline {
        requests: resolved,
        mapping,
    }))
}

/// Reads a declarative kind's keys: the source's part `S`, then `format` and `metrics`; no other
/// key is accepted.
pub fn read_keys<S: serde::de::DeserializeOwned>(
    keys: &mut KindKeys<'_>,
) -> Result<(S, MappedConfig), ConfigError> {
    let source = keys.take::<S>()?;
    let mapped = keys.take::<MappedConfig>()?;
    keys.finish()?;
    Ok((source, mapped))
}
