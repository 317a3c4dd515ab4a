//! The YAML configuration model. The `///` comments here are the user documentation of each key.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::ConfigDuration;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings that apply to every collector.
    #[serde(default)]
    pub global: GlobalConfig,
    /// More collector files (glob patterns, relative to this file), each holding a
    /// `collectors:` list.
    #[serde(default)]
    pub include: Vec<String>,
    /// The collectors.
    #[serde(default)]
    pub collectors: Vec<CollectorConfig>,
}

/// `global:` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// Upper bound for one collection of one collector. A scrape's
    /// `X-Prometheus-Scrape-Timeout-Seconds` header lowers it.
    #[serde(default = "default_scrape_timeout")]
    pub scrape_timeout: ConfigDuration,
    /// Results younger than this are served again instead of collecting anew (0 = collect on
    /// every scrape).
    #[serde(default)]
    pub min_interval: ConfigDuration,
    /// Constant labels added to every series of every collector.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_scrape_timeout() -> ConfigDuration {
    ConfigDuration(std::time::Duration::from_secs(5))
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_timeout: default_scrape_timeout(),
            min_interval: ConfigDuration::default(),
            labels: BTreeMap::new(),
        }
    }
}

/// A file named by `include:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludedFile {
    /// The collectors this file adds.
    #[serde(default)]
    pub collectors: Vec<CollectorConfig>,
}

/// One collector. The keys that apply depend on `kind` (or on the kind of the `preset`);
/// a key that does not apply to the kind is an error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    // --- every kind ---
    /// Unique name, `[a-zA-Z_][a-zA-Z0-9_-]*`; the `collector` label of the self-metrics.
    #[serde(default)]
    pub name: String,
    /// The kind: `process`, `http_text`, `http_json`, `tcp_text`, `file`, `prometheus`,
    /// `http_probe`. Not needed with `preset`.
    pub kind: Option<String>,
    /// A built-in preset (`sidecar-exporter presets` lists them); the keys given here override
    /// the preset's.
    pub preset: Option<String>,
    /// `false` keeps the collector in the file but does not run it.
    pub enabled: Option<bool>,
    /// Upper bound for this collector's collection (default: `global.scrape_timeout`).
    pub timeout: Option<ConfigDuration>,
    /// Constant labels added to every series of this collector.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Also emit a gauge of this name, 1 when the collection succeeded and 0 when it failed, as
    /// the exporters the presets replace do (`nginx_up`, `apache_up`, `redis_up`, …).
    pub up_metric: Option<String>,
    /// The HELP text of `up_metric` (default: a sentence naming the collector); presets give the
    /// replaced exporter's text.
    pub up_help: Option<String>,
    /// Help text for the preset catalogue (presets only).
    pub description: Option<String>,
    /// How a preset's app is recognised (reserved for auto-configuration; not used yet).
    pub detect: Option<serde_yaml::Value>,

    // --- sources ---
    /// `http` source: the URL to read (`http://`, `https://`, or `unix:/path/to.sock:/status`).
    pub url: Option<String>,
    /// `http` source: request method (default `GET`).
    pub method: Option<String>,
    /// `http` source: extra request headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// `http` source: request body (for `POST`).
    pub body: Option<String>,
    /// `http` source: basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// `http` source: a bearer token sent as `Authorization: Bearer …`.
    pub bearer_token: Option<String>,
    /// `http` source: a file holding the bearer token (re-read when it changes).
    pub bearer_token_file: Option<String>,
    /// `http` source: TLS options.
    pub tls_config: Option<TlsConfig>,
    /// `http` source: follow redirects (default `false`). `http_probe`: default `true` (at most
    /// 10), as blackbox_exporter.
    pub follow_redirects: Option<bool>,
    /// `http` source and `http_probe`: status codes that count as success (default: 2xx).
    pub valid_status_codes: Option<Vec<u16>>,
    /// `http` and `tcp` sources: the largest answer accepted, in bytes (default 16 MiB).
    pub max_response_bytes: Option<u64>,
    /// `http_probe`: the probe fails (`probe_success 0`, `probe_failed_due_to_regex 1`) when the
    /// body matches any of these regular expressions.
    pub fail_if_body_matches_regexp: Option<Vec<String>>,
    /// `http_probe`: the probe fails (`probe_success 0`, `probe_failed_due_to_regex 1`) unless the
    /// body matches every one of these regular expressions.
    pub fail_if_body_not_matches_regexp: Option<Vec<String>>,
    /// `tcp` source: `host:port` to connect to.
    pub address: Option<String>,
    /// `tcp` source: what to send after connecting (escapes `\r` `\n` understood).
    pub command: Option<String>,
    /// `tcp` source: stop reading once the answer ends with this (default: read until the peer
    /// closes).
    pub terminator: Option<String>,
    /// `file` source: the file to read.
    pub path: Option<String>,

    // --- format and mapping ---
    /// How the answer's bytes become records.
    pub format: Option<crate::formats::FormatConfig>,
    /// The metrics to make from the records (json_exporter's schema).
    pub metrics: Option<Vec<crate::mapping::MetricRule>>,

    // --- http_json kind ---
    /// `http_json`: take `metrics`, `headers`, `valid_status_codes` and
    /// `http_client_config.basic_auth` / `bearer_token` / `bearer_token_file` from a
    /// json_exporter config file, written `FILE#MODULE` (e.g.
    /// `/etc/json_exporter/config.yml#default`), so that a json_exporter setup moves over
    /// without copying. A relative FILE is relative to the working directory. Keys set on the
    /// collector win over the module's; `metrics` cannot be given in both places.
    pub json_exporter_module: Option<String>,

    // --- prometheus kind ---
    /// `prometheus`: Prometheus-style relabelling of the app's series before they are served
    /// (actions `replace`, `keep`, `drop`, `labelmap`, `labeldrop`, `labelkeep`; the name is
    /// `__name__`). Drop the Go runtime families and rename a label:
    /// ```yaml
    /// metric_relabel_configs:
    ///   - {source_labels: [__name__], regex: 'go_.*', action: drop}
    ///   - {source_labels: [handler], target_label: path}
    ///   - {regex: handler, action: labeldrop}
    /// ```
    pub metric_relabel_configs: Option<Vec<crate::relabel::RelabelConfig>>,
    /// `prometheus`: the most series passed through (default 10000). Whole families are kept in
    /// the app's order while they fit; the rest are dropped and counted as errors with reason
    /// `limit`.
    pub max_series: Option<usize>,

    // --- process kind ---
    /// `process`: the process groups, first match wins.
    pub groups: Option<Vec<crate::kinds::process::GroupConfig>>,
    /// `process`: drop a group with no processes instead of reporting `num_procs 0`.
    pub remove_empty_groups: Option<bool>,
    /// `process`: per-thread metrics with a `threadname` label.
    pub threads: Option<bool>,
    /// `process`: read `/proc/PID/smaps_rollup` for proportional memory.
    pub smaps: Option<bool>,
    /// `process`: also match the exporter's own process.
    pub include_self: Option<bool>,
}

/// HTTP basic authentication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password (prefer `password_file`).
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<String>,
}

/// TLS options for an `https://` target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust (in addition to the system's).
    pub ca_file: Option<String>,
    /// PEM client certificate.
    pub cert_file: Option<String>,
    /// PEM client key.
    pub key_file: Option<String>,
    /// Server name to verify instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any certificate (for self-signed localhost targets only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}
