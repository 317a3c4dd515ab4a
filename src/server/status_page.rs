//! The status page: one server-rendered HTML table, readable without JavaScript.

use std::fmt::Write;
use std::time::SystemTime;

use super::AppState;
use crate::scrape::self_metrics::VERSION;

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn ago(time: SystemTime) -> String {
    match SystemTime::now().duration_since(time) {
        Ok(elapsed) if elapsed.as_secs() < 1 => "just now".into(),
        Ok(elapsed) => format!("{}s ago", elapsed.as_secs()),
        Err(_) => "just now".into(),
    }
}

/// Renders the page. It shows collector names, kinds, targets (never credentials: sources
/// strip them from their targets), states and errors.
pub fn render(state: &AppState) -> String {
    let mut html = String::with_capacity(8 * 1024);
    let config_name = state
        .config_path
        .as_ref()
        .map_or("the embedded default configuration".to_string(), |p| {
            p.display().to_string()
        });
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sidecar-exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}.up{{color:#070}}.down{{color:#b00;font-weight:bold}}.muted{{color:#777}}</style>
</head><body>
<h1>sidecar-exporter</h1>
<p>Version {version}. Configuration: {config}. Metrics: <a href="{path}">{path}</a>.</p>
"#,
        version = escape(VERSION),
        config = escape(&config_name),
        path = escape(&state.telemetry_path),
    );
    if let Some(error) = state.last_reload_error() {
        let _ = writeln!(
            html,
            "<p class=\"down\" id=\"reload-error\">The last configuration reload was refused; the previous configuration keeps running. Reason: {}</p>",
            escape(&error)
        );
    }
    let Some(engine) = state.engine() else {
        html.push_str(
            "<p class=\"down\">No valid configuration is loaded yet.</p></body></html>\n",
        );
        return html;
    };
    html.push_str("<table id=\"collectors\">\n<tr><th>Collector</th><th>Kind</th><th>Target</th><th>State</th><th>Last duration</th><th>Series</th><th>Last error</th></tr>\n");
    for entry in &engine.collectors {
        let last = entry.last();
        let (state_cell, duration, series) = match &last {
            None => (
                "<span class=\"muted\">not collected yet</span>".to_string(),
                "–".to_string(),
                "–".to_string(),
            ),
            Some(outcome) if outcome.up() => (
                "<span class=\"up\">up</span>".to_string(),
                format!("{:.3}s", outcome.duration.as_secs_f64()),
                outcome.series().to_string(),
            ),
            Some(outcome) => (
                "<span class=\"down\">down</span>".to_string(),
                format!("{:.3}s", outcome.duration.as_secs_f64()),
                outcome.series().to_string(),
            ),
        };
        let mut error_cell = match (&last, entry.last_error()) {
            (Some(outcome), _) if outcome.error.is_some() => {
                let error = outcome
                    .error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                format!(
                    "{} <span class=\"muted\">({})</span>",
                    escape(&error),
                    ago(outcome.finished_wall)
                )
            }
            (_, Some((when, message))) => {
                format!(
                    "{} <span class=\"muted\">({})</span>",
                    escape(&message),
                    ago(when)
                )
            }
            _ => "<span class=\"muted\">none</span>".to_string(),
        };
        for note in &entry.notes {
            let _ = write!(error_cell, "<br><em>{}</em>", escape(note));
        }
        let _ = writeln!(
            html,
            "<tr data-collector=\"{name}\"><td>{name}</td><td>{kind}</td><td>{target}</td><td>{state_cell}</td><td>{duration}</td><td>{series}</td><td>{error_cell}</td></tr>",
            name = escape(&entry.name),
            kind = escape(entry.kind),
            target = escape(&entry.target),
        );
    }
    for disabled in &engine.disabled {
        let _ = writeln!(
            html,
            "<tr data-collector=\"{name}\"><td>{name}</td><td>{kind}</td><td></td><td><span class=\"muted\">disabled</span></td><td>–</td><td>–</td><td></td></tr>",
            name = escape(&disabled.name),
            kind = escape(&disabled.kind),
        );
    }
    html.push_str("</table>\n<p class=\"muted\">States are those of the last collection; a scrape of the metrics endpoint runs a new one.</p>\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
