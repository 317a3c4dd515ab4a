//! The Grafana dashboards and the Prometheus alert rules in dashboards/: promtool checks and unit
//! tests of the rules, structure checks of every dashboard, every PromQL expression parsed by
//! promtool.

mod common;
mod promql;

use std::path::Path;
use std::process::Command;

use common::require_tool;
use promql::{all_exprs, all_panels, dashboard_files, dashboards_dir};

fn promtool(args: &[&str], dir: &Path) -> String {
    let tool = require_tool("promtool", "prometheus");
    let output = Command::new(&tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running promtool {args:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_pass_promtool_check() {
    let out = promtool(&["check", "rules", "alerts.yaml"], &dashboards_dir());
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    let out = promtool(&["test", "rules", "alerts_test.yaml"], &dashboards_dir());
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_has_a_unit_test() {
    let tests = std::fs::read_to_string(dashboards_dir().join("alerts_test.yaml")).unwrap();
    for rule in promql::rule_exprs(&dashboards_dir().join("alerts.yaml")) {
        let name = rule.origin.rsplit(' ').next().unwrap();
        assert!(
            tests.contains(&format!("alertname: {name}")),
            "no promtool test for {name}"
        );
    }
}

#[test]
fn all_dashboards_are_there() {
    let names: Vec<String> = dashboard_files()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for wanted in [
        "sidecar-exporter",
        "process",
        "nginx",
        "apache",
        "redis",
        "haproxy",
        "php-fpm",
        "postgres",
        "mysql",
        "http-probe",
        "generic-json",
        "lighttpd",
        "beanstalkd",
        "uwsgi",
        "nats",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "dashboards/{wanted}.json missing (found {names:?})"
        );
    }
}

#[test]
fn dashboards_have_the_variables_and_no_datasource_uid() {
    for path in dashboard_files() {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let board: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let variables = board["templating"]["list"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no templating"));
        let variable = |name: &str| {
            variables
                .iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("{file}: no ${name} variable"))
        };
        assert_eq!(variable("datasource")["type"], "datasource", "{file}");
        assert_eq!(variable("datasource")["query"], "prometheus", "{file}");
        for name in ["job", "instance"] {
            assert_eq!(variable(name)["type"], "query", "{file}: {name}");
            assert_eq!(
                variable(name)["datasource"]["uid"],
                "${datasource}",
                "{file}: {name}"
            );
        }
        // Every datasource reference is the variable, never a UID of someone's Grafana.
        let mut stack = vec![&board];
        while let Some(value) = stack.pop() {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(ds) = map.get("datasource") {
                        if let Some(uid) = ds.get("uid") {
                            assert_eq!(
                                uid, "${datasource}",
                                "{file}: datasource uid literal {uid}"
                            );
                        }
                        assert!(
                            !ds.is_string() || ds.as_str().unwrap().starts_with('$'),
                            "{file}: datasource {ds}"
                        );
                    }
                    stack.extend(map.values());
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        // Every panel has at least one target, each with a filtered expression.
        let panels = all_panels(&board);
        assert!(!panels.is_empty(), "{file}: no panels");
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("?");
            let targets = panel["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("{file}: panel {title} has no targets"));
            assert!(!targets.is_empty(), "{file}: panel {title} has no targets");
            for target in targets {
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(
                    !expr.trim().is_empty(),
                    "{file}: panel {title} has a target without expr"
                );
                assert!(
                    expr.contains(r#"job=~"$job""#) && expr.contains(r#"instance=~"$instance""#),
                    "{file}: panel {title}: {expr}"
                );
            }
        }
    }
}

#[test]
fn dashboards_are_generated_from_generate_py() {
    let output = Command::new("python3")
        .args(["dashboards/generate.py", "--check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 is needed to check the dashboards (apt-get install python3)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every expression, variables substituted, is valid PromQL: promtool parses it as a rule.
#[test]
fn every_expression_parses() {
    let exprs = all_exprs();
    assert!(exprs.len() > 60, "only {} expressions found", exprs.len());
    let mut rules = String::from("groups:\n  - name: every-dashboard-expression\n    rules:\n");
    for (index, e) in exprs.iter().enumerate() {
        assert!(
            !e.expr.contains('$'),
            "{}: variable left after substitution: {}",
            e.origin,
            e.expr
        );
        let quoted = serde_json::to_string(&e.expr).unwrap();
        rules.push_str(&format!(
            "      - record: expr_{index}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exprs.yaml"), rules).unwrap();
    promtool(&["check", "rules", "exprs.yaml"], dir.path());
}
