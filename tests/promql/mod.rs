//! Every PromQL expression of the dashboards (`dashboards/*.json`) and alert rules
//! (`dashboards/alerts.yaml`), with Grafana's template variables replaced so that Prometheus can
//! evaluate them as they are. Shared by the dashboard checks and the end-to-end test that runs
//! each expression against a live Prometheus (`mod promql;` in a test file).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One expression and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct PromExpr {
    /// `nginx.json: panel "Requests" target A`, `alerts.yaml: SidecarExporterCollectorDown`.
    pub origin: String,
    /// The expression as written in the file.
    pub raw: String,
    /// The expression with `$job`, `$instance`, `$__rate_interval`, … replaced.
    pub expr: String,
}

/// The folder with the dashboards and alert rules.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// The dashboard files, sorted.
pub fn dashboard_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .expect("reading dashboards/")
        .map(|e| e.expect("dashboards/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Replaces Grafana's variables by values Prometheus accepts: `job` and `instance` match
/// everything (the dashboards' "All" value), interval variables become `1m`.
pub fn substitute(expr: &str) -> String {
    let mut out = expr.to_string();
    for (variable, value) in [
        ("${__rate_interval}", "1m"),
        ("$__rate_interval", "1m"),
        ("${__interval}", "1m"),
        ("$__interval", "1m"),
        ("${__range}", "1h"),
        ("$__range", "1h"),
        ("${job}", ".+"),
        ("$job", ".+"),
        ("${instance}", ".+"),
        ("$instance", ".+"),
    ] {
        out = out.replace(variable, value);
    }
    out
}

/// Every panel target's expression of one dashboard file.
pub fn dashboard_exprs(path: &Path) -> Vec<PromExpr> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let board: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for panel in all_panels(&board) {
        let title = panel["title"].as_str().unwrap_or("?");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let raw = target["expr"].as_str().unwrap_or_default().to_string();
            out.push(PromExpr {
                origin: format!(
                    "{file}: panel {title:?} target {}",
                    target["refId"].as_str().unwrap_or("?")
                ),
                expr: substitute(&raw),
                raw,
            });
        }
    }
    out
}

/// The panels of a dashboard, those inside rows included.
pub fn all_panels(board: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for panel in board["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Every rule's expression of a Prometheus rule file.
pub fn rule_exprs(path: &Path) -> Vec<PromExpr> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let rules: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            let name = rule["alert"]
                .as_str()
                .or(rule["record"].as_str())
                .unwrap_or("?");
            let raw = rule["expr"].as_str().unwrap_or_default().to_string();
            out.push(PromExpr {
                origin: format!("{file}: {name}"),
                expr: substitute(&raw),
                raw,
            });
        }
    }
    out
}

/// All expressions: every dashboard's, then the alert rules'.
pub fn all_exprs() -> Vec<PromExpr> {
    let mut out: Vec<PromExpr> = dashboard_files()
        .iter()
        .flat_map(|p| dashboard_exprs(p))
        .collect();
    out.extend(rule_exprs(&dashboards_dir().join("alerts.yaml")));
    out
}
