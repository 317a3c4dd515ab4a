//! Findings as configuration text: the collectors `discover` prints (with a comment per
//! collector saying what was found and why) and `serve --discover` runs.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Finding, Round};
use crate::config::load::DEFAULT_CONFIG;
use crate::config::presets;

/// One finding as a collector: its name, the comment explaining it, and its YAML lines (without
/// the list indentation). `active` is false for what is only suggested (credentials to fill in,
/// an app's own `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The collector name.
    pub name: String,
    /// The preset (`prometheus` for an app's own `/metrics`).
    pub preset: String,
    /// What was found and from which evidence.
    pub comment: String,
    /// `key: value` lines of the collector.
    pub lines: Vec<String>,
    /// Whether it is used as it is (otherwise printed commented out).
    pub active: bool,
    /// The port it reads.
    pub port: u16,
}

/// The collectors for a round's findings. Two instances of one preset get the port in their
/// name and a `port` label, or their series would collide.
pub fn collectors(findings: &[Finding]) -> Vec<Discovered> {
    let mut per_preset: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for finding in findings {
        *per_preset.entry(finding.preset).or_default() += 1;
    }
    findings
        .iter()
        .map(|finding| {
            let several = per_preset[&finding.preset] > 1;
            let address = finding.address;
            let port = address.port();
            let where_ = format!("{address}");
            match finding.preset {
                Some(preset) => {
                    let name = if several {
                        format!("{preset}_{port}")
                    } else {
                        preset.to_string()
                    };
                    let mut lines = vec![format!("name: {name}"), format!("preset: {preset}")];
                    let mapping = presets::find(preset).and_then(|p| p.mapping().ok());
                    let text = |key: &str| {
                        mapping
                            .as_ref()
                            .and_then(|m| m.get(key))
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    };
                    if finding.needs_credentials {
                        let dsn = text("dsn").unwrap_or_default();
                        let scheme = dsn.split_once("://").map_or(preset, |(scheme, _)| scheme);
                        lines.push(format!("dsn: {scheme}://USER:PASSWORD@{where_}/"));
                    } else if let Some(url) = text("url") {
                        lines.push(format!("url: {}", quoted(&with_authority(&url, &where_))));
                    } else if text("address").is_some() {
                        lines.push(format!("address: {}", quoted(&where_)));
                    }
                    if several {
                        lines.push(format!("labels: {{port: \"{port}\"}}"));
                    }
                    let mut comment = format!("{preset} on {where_}: {}", finding.evidence());
                    if finding.needs_credentials {
                        comment.push_str("; it needs credentials: fill in the DSN, then uncomment");
                    }
                    Discovered {
                        name,
                        preset: preset.to_string(),
                        comment,
                        lines,
                        active: !finding.needs_credentials,
                        port,
                    }
                }
                None => {
                    let name = format!("metrics_{port}");
                    Discovered {
                        lines: vec![
                            format!("name: {name}"),
                            "kind: prometheus".to_string(),
                            format!("url: {}", quoted(&format!("http://{where_}/metrics"))),
                        ],
                        name,
                        preset: "prometheus".to_string(),
                        comment: format!(
                            "the app's own metrics on {where_}: {}; Prometheus may already scrape them, uncomment to pass them through",
                            finding.evidence()
                        ),
                        active: false,
                        port,
                    }
                }
            }
        })
        .collect()
}

/// `http://127.0.0.1:8080/stub_status` with another `host:port`, keeping scheme, path and query.
fn with_authority(url: &str, authority: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("http://{authority}");
    };
    let path = rest.find('/').map_or("", |slash| &rest[slash..]);
    format!("{scheme}://{authority}{path}")
}

/// A YAML scalar: plain when that is unambiguous, else double-quoted.
fn quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/._?=&;%-[]".contains(c))
        && !text.starts_with(['[', ']', '?', '-', ':', '%', '&']);
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

/// Appends the collectors as items of a `collectors:` list indented by two spaces.
pub fn write_items(out: &mut String, collectors: &[Discovered]) {
    for collector in collectors {
        let prefix = if collector.active { "" } else { "# " };
        let _ = writeln!(out, "\n  # {}", collector.comment);
        for (index, line) in collector.lines.iter().enumerate() {
            let bullet = if index == 0 { "- " } else { "  " };
            let _ = writeln!(out, "  {prefix}{bullet}{line}");
        }
    }
}

/// The whole config `discover` prints: the embedded default (its process collector), then one
/// collector per finding.
pub fn config(round: &Round) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `sidecar-exporter discover`: {} listening ports looked at, {} probes sent, {:.2} s{}.",
        round.sockets,
        round.probes,
        round.duration.as_secs_f64(),
        if round.cut_short {
            " (the round's time ran out before every candidate was probed)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "# The rules are the presets' detect: sections (`sidecar-exporter presets NAME`)."
    );
    out.push_str(DEFAULT_CONFIG);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let found = collectors(&round.findings);
    if found.is_empty() {
        out.push_str("\n  # Discovery found no app beside this one.\n");
    }
    write_items(&mut out, &found);
    out
}

/// The active collectors only, as a config file of their own (for `serve --discover`).
pub fn active_config(collectors: &[Discovered]) -> String {
    let active: Vec<Discovered> = collectors.iter().filter(|c| c.active).cloned().collect();
    let mut out = String::from("collectors:");
    if active.is_empty() {
        out.push_str(" []\n");
    } else {
        out.push('\n');
        write_items(&mut out, &active);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Why;
    use std::time::{Duration, SystemTime};

    fn finding(preset: Option<&'static str>, port: u16, why: Why) -> Finding {
        Finding {
            preset,
            address: format!("127.0.0.1:{port}").parse().unwrap(),
            owner: Some((123, "nginx".into())),
            why,
            probe: "GET /stub_status".into(),
            needs_credentials: false,
        }
    }

    #[test]
    fn a_ready_config_with_distinct_instances_and_suggestions_commented_out() {
        let mut postgres = finding(Some("redis"), 5432, Why::UsualPort);
        postgres.needs_credentials = true;
        let round = Round {
            findings: vec![
                finding(Some("nginx"), 8080, Why::ProcessName),
                finding(Some("nginx"), 8081, Why::ProcessName),
                finding(Some("haproxy"), 9000, Why::ProcessName),
                finding(Some("memcached"), 11211, Why::UsualPort),
                finding(None, 9100, Why::OwnMetrics),
                postgres,
            ],
            sockets: 7,
            probes: 12,
            duration: Duration::from_millis(40),
            finished: SystemTime::now(),
            cut_short: false,
        };
        let text = config(&round);
        assert!(text.contains("\n  # nginx on 127.0.0.1:8080: pid 123 \"nginx\", GET /stub_status matched\n  - name: nginx_8080\n    preset: nginx\n    url: http://127.0.0.1:8080/stub_status\n    labels: {port: \"8080\"}\n"), "{text}");
        assert!(text.contains("    url: http://127.0.0.1:9000/stats;csv\n"));
        assert!(text.contains(
            "  - name: memcached\n    preset: memcached\n    address: 127.0.0.1:11211\n"
        ));
        assert!(text.contains("  # - name: metrics_9100\n  #   kind: prometheus\n  #   url: http://127.0.0.1:9100/metrics\n"));
        assert!(text.contains("  #   dsn: redis://USER:PASSWORD@127.0.0.1:5432/\n"));
        let loaded = crate::config::load_bytes(
            "discovered.yaml",
            text.as_bytes(),
            std::path::Path::new("/nonexistent"),
            &|_| None,
        )
        .unwrap();
        let names: Vec<&str> = loaded
            .collectors
            .iter()
            .map(|c| c.config.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "processes",
                "nginx_8080",
                "nginx_8081",
                "haproxy",
                "memcached"
            ]
        );
        let active = active_config(&collectors(&round.findings));
        let loaded = crate::config::load_bytes(
            "discovered.yaml",
            active.as_bytes(),
            std::path::Path::new("/nonexistent"),
            &|_| None,
        )
        .unwrap();
        assert_eq!(loaded.collectors.len(), 4);
    }

    #[test]
    fn urls_keep_their_path_and_take_the_found_address() {
        assert_eq!(
            with_authority("http://127.0.0.1/server-status?auto", "[::1]:81"),
            "http://[::1]:81/server-status?auto"
        );
        assert_eq!(quoted("[::1]:81"), "\"[::1]:81\"");
        assert_eq!(quoted("127.0.0.1:81"), "127.0.0.1:81");
    }
}
