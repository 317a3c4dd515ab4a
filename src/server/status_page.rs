//! The status page: one server-rendered HTML table, readable without JavaScript.

use std::fmt::Write;
use std::time::SystemTime;

use super::AppState;
use crate::scrape::self_metrics::VERSION;
use crate::scrape::Outcome;

/// Escapes text for HTML element content and attribute values.
pub(super) fn escape(text: &str) -> String {
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

/// `12s ago`, `just now`.
pub(super) fn ago(time: SystemTime) -> String {
    match SystemTime::now().duration_since(time) {
        Ok(elapsed) if elapsed.as_secs() < 1 => "just now".into(),
        Ok(elapsed) => format!("{}s ago", elapsed.as_secs()),
        Err(_) => "just now".into(),
    }
}

/// `/metrics?name[]=a&name[]=b`: the exposition of these families only.
pub(super) fn metrics_link<'a>(
    telemetry_path: &str,
    names: impl Iterator<Item = &'a str>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for name in names {
        query.append_pair("name[]", name);
    }
    format!("{telemetry_path}?{}", query.finish())
}

/// The value of the first sample of the family `name`.
fn first_value(outcome: &Outcome, name: &str) -> Option<f64> {
    outcome
        .families
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.samples.first())
        .map(|s| s.value)
}

/// `probe succeeded: HTTP 200 in 0.004s` from a probe's families.
fn probe_outcome(outcome: &Outcome) -> Option<String> {
    let success = first_value(outcome, "probe_success")?;
    let status = first_value(outcome, "probe_http_status_code").unwrap_or(0.0);
    let duration = first_value(outcome, "probe_duration_seconds").unwrap_or(0.0);
    let status = if status > 0.0 {
        format!("HTTP {status}")
    } else {
        "no HTTP answer".to_string()
    };
    Some(if success == 1.0 {
        format!("<span class=\"up\">probe succeeded</span>: {status} in {duration:.3}s")
    } else {
        format!("<span class=\"down\">probe failed</span>: {status} in {duration:.3}s")
    })
}

/// Renders the page; with `refresh`, it reloads itself every that many seconds. It shows
/// collector names, kinds, targets (never credentials: sources strip them from their targets),
/// states and errors in words without the app's data.
pub fn render(state: &AppState, refresh: Option<u32>) -> String {
    let mut html = String::with_capacity(8 * 1024);
    let config_name = state
        .config_path
        .as_ref()
        .map_or("the embedded default configuration".to_string(), |p| {
            p.display().to_string()
        });
    let refresh_meta = refresh.map_or(String::new(), |seconds| {
        format!("<meta http-equiv=\"refresh\" content=\"{seconds}\">")
    });
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sidecar-exporter</title>{refresh_meta}
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}.up{{color:#070}}.down{{color:#b00;font-weight:bold}}.muted{{color:#777}}</style>
</head><body>
<h1>sidecar-exporter</h1>
<p>Version {version}. Configuration: {config}. Metrics: <a href="{path}">{path}</a>.</p>
"#,
        version = escape(VERSION),
        config = escape(&config_name),
        path = escape(&state.telemetry_path),
    );
    let record = state.reload_record();
    let mut reload = String::new();
    if let Some(checksum) = &record.checksum {
        let _ = write!(reload, "Config sha256 <code>{}</code>", escape(checksum));
    } else {
        reload.push_str("Embedded configuration");
    }
    if let Some(loaded) = record.loaded_at {
        let _ = write!(reload, ", loaded {}", ago(loaded));
    }
    if let Some(attempt) = record.last_attempt {
        let _ = write!(
            reload,
            ". Last reload {}: {}",
            ago(attempt),
            if record.last_successful {
                "<span class=\"up\">succeeded</span>"
            } else {
                "<span class=\"down\">refused</span>"
            }
        );
    }
    let refresh_link = match refresh {
        Some(_) => "<a href=\"?\">stop refreshing</a>".to_string(),
        None => "<a href=\"?refresh=5\">refresh every 5 s</a>".to_string(),
    };
    let _ = writeln!(html, "<p id=\"reload\">{reload}. {refresh_link}</p>");
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
    let errors = state.counters.errors();
    html.push_str("<table id=\"collectors\">\n<tr><th>Collector</th><th>Kind</th><th>Target</th><th>State</th><th>Last success</th><th>Last duration</th><th>Series</th><th>Errors by reason</th><th>Last error</th></tr>\n");
    for entry in &engine.collectors {
        let last = entry.last();
        let (mut state_cell, duration, series) = match &last {
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
        if let Some(probe) = last.as_deref().and_then(probe_outcome) {
            let _ = write!(state_cell, "<br><span class=\"probe\">{probe}</span>");
        }
        let last_success = entry
            .last_success()
            .map_or("<span class=\"muted\">never</span>".to_string(), ago);
        let by_reason: Vec<String> = errors
            .iter()
            .filter(|((name, _, _), count)| *name == entry.name && **count > 0)
            .map(|((_, _, reason), count)| format!("{reason}: {count}"))
            .collect();
        let by_reason = if by_reason.is_empty() {
            "<span class=\"muted\">none</span>".to_string()
        } else {
            by_reason.join("<br>")
        };
        let mut error_cell = match (&last, entry.last_error()) {
            (Some(outcome), _) if outcome.error.is_some() => {
                let error = outcome
                    .error
                    .as_ref()
                    .map(|e| format!("{}: {}", e.reason, e.page_message()))
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
        let debug_link = format!("/debug/collectors/{}", entry.name);
        let mut links = format!(
            "<br><small><a class=\"debug\" href=\"{}\">debug</a>",
            escape(&debug_link)
        );
        if let Some(outcome) = &last {
            if !outcome.families.is_empty() {
                let link = metrics_link(
                    &state.telemetry_path,
                    outcome.families.iter().map(|f| f.name.as_str()),
                );
                let _ = write!(
                    links,
                    " · <a class=\"metrics\" href=\"{}\">metrics</a>",
                    escape(&link)
                );
            }
        }
        links.push_str("</small>");
        let kind = match &entry.preset {
            Some(preset) => format!(
                "{} <span class=\"preset\">(preset {})</span>",
                escape(entry.kind),
                escape(preset)
            ),
            None => escape(entry.kind),
        };
        let _ = writeln!(
            html,
            "<tr data-collector=\"{name}\"><td>{name}{links}</td><td>{kind}</td><td>{target}</td><td>{state_cell}</td><td>{last_success}</td><td>{duration}</td><td>{series}</td><td>{by_reason}</td><td>{error_cell}</td></tr>",
            name = escape(&entry.name),
            target = escape(&entry.target),
        );
    }
    for disabled in &engine.disabled {
        let _ = writeln!(
            html,
            "<tr data-collector=\"{name}\"><td>{name}</td><td>{kind}</td><td></td><td><span class=\"muted\">disabled</span></td><td>–</td><td>–</td><td>–</td><td>–</td><td></td></tr>",
            name = escape(&disabled.name),
            kind = escape(&disabled.kind),
        );
    }
    html.push_str("</table>\n<p class=\"muted\">States are those of the last collection; a scrape of the metrics endpoint runs a new one. Each collector's debug page explains its last collection: the requests, what every metric rule made or why it made nothing.</p>\n");
    discovery_section(&mut html, &state.discovery());
    html.push_str("</body></html>\n");
    html
}

/// What `serve --discover` found, from which evidence, and what it left out.
fn discovery_section(html: &mut String, discovery: &super::state::DiscoveryRecord) {
    if !discovery.enabled {
        return;
    }
    html.push_str("<h2 id=\"discovery\">Discovery</h2>\n");
    match discovery.last_round {
        None => html.push_str("<p>The first discovery round is running.</p>\n"),
        Some((when, sockets, probes)) => {
            let _ = writeln!(
                html,
                "<p>Last round {}: {sockets} listening ports looked at, {probes} probes sent.</p>",
                ago(when)
            );
        }
    }
    html.push_str("<ul>\n");
    for found in &discovery.found {
        let running = discovery.used.iter().any(|(name, _)| name == &found.name);
        let status = if running {
            "running"
        } else if found.active {
            "left out"
        } else {
            "suggested only"
        };
        let _ = writeln!(
            html,
            "<li data-discovered=\"{name}\"><b>{name}</b> ({status}): {comment}</li>",
            name = escape(&found.name),
            comment = escape(&found.comment),
        );
    }
    for reason in &discovery.left_out {
        let _ = writeln!(
            html,
            "<li class=\"muted\">Left out: {}</li>",
            escape(reason)
        );
    }
    if discovery.found.is_empty() && discovery.last_round.is_some() {
        html.push_str("<li class=\"muted\">No app found beside this one.</li>\n");
    }
    html.push_str("</ul>\n");
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
