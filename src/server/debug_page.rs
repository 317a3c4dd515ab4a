//! `GET /debug/collectors/NAME`: one collection of one collector, explained (HTML, or JSON with
//! `?format=json`). It shows the last explained collection, or with `?fresh=1` a new one, never
//! more often than scrapes could collect (see [`CollectorEntry::explain`]). The app's answer and
//! the values taken from it appear only with `--web.debug-answers`.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::status_page::{ago, escape, metrics_link};
use super::AppState;
use crate::explain::{Explanation, Visibility};
use crate::scrape::CollectorEntry;

/// The handler.
pub async fn collector(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let asked = |key: &str, value: &str| query.iter().any(|(k, v)| k == key && v == value);
    let json = asked("format", "json");
    let fresh = asked("fresh", "1") || asked("fresh", "true");
    let Some(engine) = state.engine() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid configuration loaded yet\n",
        )
            .into_response();
    };
    let Some(entry) = engine.collectors.iter().find(|e| e.name == name).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            format!("no enabled collector named {name:?}\n"),
        )
            .into_response();
    };
    let Some(recorded) = entry.explain(fresh, engine.min_interval).await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "no collection has been explained yet; try again in a second\n",
        )
            .into_response();
    };
    let visibility = Visibility {
        show_answers: state.debug_answers,
        redact: entry.redact.clone(),
    };
    let explanation = recorded.view(&visibility);
    if json {
        let body = serde_json::to_string_pretty(&explanation).unwrap_or_default();
        return ([(header::CONTENT_TYPE, "application/json")], body + "\n").into_response();
    }
    Html(render(&entry, &explanation, &state.telemetry_path)).into_response()
}

/// The HTML page.
fn render(entry: &CollectorEntry, e: &Explanation, telemetry_path: &str) -> String {
    let mut html = String::with_capacity(16 * 1024);
    let name = escape(&e.collector);
    let kind = match &e.preset {
        Some(preset) => format!("{} (preset {})", escape(&e.kind), escape(preset)),
        None => escape(&e.kind),
    };
    let finished = UNIX_EPOCH + Duration::from_secs_f64(e.finished_unix.max(0.0));
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{name} · sidecar-exporter</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:75em}}table{{border-collapse:collapse;margin-bottom:1em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}.up{{color:#070}}.down{{color:#b00;font-weight:bold}}.none{{color:#b00}}.muted{{color:#777}}pre{{background:#f6f6f6;padding:8px;overflow-x:auto;max-height:30em}}code{{background:#f6f6f6}}</style>
</head><body>
<p><a href="/">← status page</a></p>
<h1>Collector {name}</h1>
<p id="summary">Kind {kind}. Target <code>{target}</code>.<br>
"#,
        target = escape(&e.target),
    );
    let state = if e.up {
        "<span class=\"up\">up</span>"
    } else {
        "<span class=\"down\">down</span>"
    };
    let _ = writeln!(
        html,
        "Last explained collection: {state}, {:.3}s, finished {}. <a href=\"?fresh=1\">Collect again</a> · <a href=\"?format=json\">JSON</a></p>",
        e.duration_seconds,
        ago(finished),
    );
    if let Some(error) = &e.error {
        let _ = writeln!(
            html,
            "<p class=\"down\" id=\"error\">Failed ({}): {}</p>",
            escape(&error.reason),
            escape(&error.message)
        );
    }
    if !e.answers_shown {
        html.push_str("<p class=\"muted\" id=\"answers-hidden\">The app's answer and the values taken from it are not shown: start the exporter with <code>--web.debug-answers</code> to see them here, or run <code>sidecar-exporter once --collector NAME --explain</code> by hand. Keys, counts and reasons are shown.</p>\n");
    }

    if !e.rules.is_empty() {
        html.push_str("<h2>Rules</h2>\n<table id=\"rules\"><tr><th>Rule</th><th>Path</th><th>Series</th><th>Why not more</th></tr>\n");
        for rule in &e.rules {
            let mut why = String::new();
            if rule.series == 0 && rule.misses.is_empty() {
                why.push_str("not applied: the enclosing rule selected no objects");
            }
            for miss in &rule.misses {
                let _ = write!(
                    why,
                    "<div><b>{}</b>: {}",
                    escape(&miss.reason),
                    escape(&miss.what)
                );
                for found in &miss.found {
                    let _ = write!(
                        why,
                        "<br><span class=\"muted\">found</span> <code>{}</code> = <code>{}</code>",
                        escape(&found.key),
                        escape(&found.value)
                    );
                }
                why.push_str("</div>");
            }
            if rule.unlisted_misses > 0 {
                let _ = write!(
                    why,
                    "<div>and {} more like these</div>",
                    rule.unlisted_misses
                );
            }
            let series = if rule.series == 0 {
                "<span class=\"none\">none</span>".to_string()
            } else {
                rule.series.to_string()
            };
            let _ = writeln!(
                html,
                "<tr data-rule=\"{rule}\"><td>{rule}</td><td><code>{path}</code></td><td>{series}</td><td>{why}</td></tr>",
                rule = escape(&rule.rule),
                path = escape(&rule.path),
            );
        }
        html.push_str("</table>\n");
    }

    html.push_str("<h2>Requests</h2>\n");
    if e.requests.is_empty() {
        html.push_str("<p class=\"muted\">None.</p>\n");
    } else {
        html.push_str("<table id=\"requests\"><tr><th>Method</th><th>Target</th><th>Status</th><th>Bytes</th><th>Phases</th></tr>\n");
        for request in &e.requests {
            let phases: Vec<String> = request
                .phases
                .iter()
                .map(|p| format!("{} {:.3}s", escape(&p.name), p.seconds))
                .collect();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&request.method),
                escape(&request.target),
                request.status.map_or("–".to_string(), |s| s.to_string()),
                request.bytes.map_or("–".to_string(), |b| b.to_string()),
                if phases.is_empty() {
                    "no phase finished".to_string()
                } else {
                    phases.join(", ")
                }
            );
        }
        html.push_str("</table>\n");
    }

    if let Some(answer) = &e.answer {
        let _ = writeln!(
            html,
            "<h2>Answer</h2>\n<p>{} bytes{}.</p>\n<pre id=\"answer\">{}</pre>",
            answer.bytes,
            if answer.truncated {
                format!(", the first {} shown", answer.excerpt.len())
            } else {
                String::new()
            },
            escape(&answer.excerpt)
        );
    }

    if let Some(records) = &e.records {
        let _ = writeln!(
            html,
            "<h2>Records</h2>\n<p>The format made {}.{}</p>",
            escape(&records.shape),
            if records.keys.is_empty() {
                String::new()
            } else {
                format!(" Keys: <code>{}</code>.", escape(&records.keys.join(", ")))
            }
        );
        for record in &records.first {
            let pretty = serde_json::to_string_pretty(record).unwrap_or_default();
            let _ = writeln!(html, "<pre class=\"record\">{}</pre>", escape(&pretty));
        }
    }

    for section in &e.sections {
        let _ = writeln!(html, "<h2>{}</h2>", escape(&section.title));
        if section.lines.is_empty() {
            html.push_str("<p class=\"muted\">None.</p>\n");
        } else {
            html.push_str("<ul>");
            for line in &section.lines {
                let _ = write!(html, "<li>{}</li>", escape(line));
            }
            html.push_str("</ul>\n");
        }
    }

    let series: usize = e.families.iter().map(|f| f.series).sum();
    let _ = writeln!(
        html,
        "<h2>Families</h2>\n<p>{} families, {series} series. <a href=\"{}\">These families in {}</a></p>",
        e.families.len(),
        escape(&metrics_link(telemetry_path, e.families.iter().map(|f| f.name.as_str()))),
        escape(telemetry_path),
    );
    if !e.families.is_empty() {
        html.push_str(
            "<table id=\"families\"><tr><th>Family</th><th>Type</th><th>Series</th></tr>\n",
        );
        for family in &e.families {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&family.name),
                escape(&family.metric_type),
                family.series
            );
        }
        html.push_str("</table>\n");
    }

    if !e.problems.is_empty() {
        html.push_str("<h2>Problems</h2>\n<ul id=\"problems\">");
        for problem in &e.problems {
            let _ = write!(
                html,
                "<li><b>{}</b>: {}</li>",
                escape(&problem.reason),
                escape(&problem.message)
            );
        }
        html.push_str("</ul>\n");
    }
    for note in &entry.notes {
        let _ = writeln!(html, "<p><em>{}</em></p>", escape(note));
    }
    html.push_str("</body></html>\n");
    html
}
