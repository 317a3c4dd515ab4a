//! An explanation as plain text for a person (`once --explain`).

use std::fmt::Write;

use super::Explanation;

/// Renders `explanation` (already fitted to its reader with [`super::Recorded::view`]).
pub fn render(explanation: &Explanation) -> String {
    let mut out = String::new();
    let e = explanation;
    let kind = match &e.preset {
        Some(preset) => format!("{}, preset {preset}", e.kind),
        None => e.kind.clone(),
    };
    let _ = writeln!(out, "collector {} ({kind}): {}", e.collector, e.target);
    let state = if e.up { "up" } else { "DOWN" };
    let _ = writeln!(out, "state: {state} after {:.3}s", e.duration_seconds);
    if let Some(error) = &e.error {
        let _ = writeln!(out, "error ({}): {}", error.reason, error.message);
    }

    out.push_str("\nrequests:\n");
    if e.requests.is_empty() {
        out.push_str("  none\n");
    }
    for request in &e.requests {
        let mut answer = Vec::new();
        if let Some(status) = request.status {
            answer.push(format!("HTTP {status}"));
        }
        if let Some(bytes) = request.bytes {
            answer.push(format!("{bytes} bytes"));
        }
        if answer.is_empty() {
            answer.push("no complete answer".to_string());
        }
        let phases: Vec<String> = request
            .phases
            .iter()
            .map(|p| format!("{} {:.3}s", p.name, p.seconds))
            .collect();
        let _ = writeln!(
            out,
            "  {} {} -> {}; {}",
            request.method,
            request.target,
            answer.join(", "),
            if phases.is_empty() {
                "no phase finished".to_string()
            } else {
                phases.join(", ")
            }
        );
    }

    if let Some(answer) = &e.answer {
        let _ = writeln!(
            out,
            "\nanswer ({} bytes{}):",
            answer.bytes,
            if answer.truncated {
                format!(", the first {} shown", answer.excerpt.len())
            } else {
                String::new()
            }
        );
        for line in answer.excerpt.lines() {
            let _ = writeln!(out, "  | {line}");
        }
    } else if !e.answers_shown {
        out.push_str(
            "\nanswer: not shown (the app's data is shown only with --web.debug-answers)\n",
        );
    }

    if let Some(records) = &e.records {
        let _ = writeln!(out, "\nrecords: {}", records.shape);
        if !records.keys.is_empty() {
            let _ = writeln!(out, "  keys: {}", records.keys.join(", "));
        }
        for (index, record) in records.first.iter().enumerate() {
            let pretty = serde_json::to_string_pretty(record).unwrap_or_default();
            let _ = writeln!(out, "  record {index}:");
            for line in pretty.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }

    if !e.rules.is_empty() {
        out.push_str("\nrules:\n");
    }
    for rule in &e.rules {
        let produced = match rule.series {
            0 => "NO SERIES".to_string(),
            1 => "1 series".to_string(),
            n => format!("{n} series"),
        };
        let _ = writeln!(out, "  {} path `{}`: {produced}", rule.rule, rule.path);
        if rule.series == 0 && rule.misses.is_empty() {
            out.push_str("    - not applied: the enclosing rule selected no objects\n");
        }
        for miss in &rule.misses {
            let _ = writeln!(out, "    - {}: {}", miss.reason, miss.what);
            for found in &miss.found {
                let _ = writeln!(out, "      found {} = {:?}", found.key, found.value);
            }
        }
        if rule.unlisted_misses > 0 {
            let _ = writeln!(out, "    - and {} more like these", rule.unlisted_misses);
        }
    }

    for section in &e.sections {
        let _ = writeln!(out, "\n{}:", section.title);
        if section.lines.is_empty() {
            out.push_str("  none\n");
        }
        for line in &section.lines {
            let _ = writeln!(out, "  {line}");
        }
    }

    let series: usize = e.families.iter().map(|f| f.series).sum();
    let _ = writeln!(out, "\nfamilies: {} with {series} series", e.families.len());
    for family in &e.families {
        let _ = writeln!(
            out,
            "  {} ({}): {} series",
            family.name, family.metric_type, family.series
        );
    }

    if !e.problems.is_empty() {
        let _ = writeln!(out, "\nproblems ({}):", e.problems.len());
        for problem in &e.problems {
            let _ = writeln!(out, "  {}: {}", problem.reason, problem.message);
        }
    }
    out
}
