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
    /// The collectors: each a mapping of the common keys ([`CollectorConfig`]) and its kind's.
    #[serde(default)]
    pub collectors: Vec<serde_yaml::Mapping>,
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
    pub collectors: Vec<serde_yaml::Mapping>,
}

/// The keys every collector has, whatever its kind. The kind's own keys (`url`, `groups`,
/// `metrics`, …) are documented on the kind's config structs under `src/kinds/`; the loader
/// hands them to the kind ([`super::KindKeys`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
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
    /// Keys whose values are never shown by the debug page or `once --explain`, besides the
    /// secret-looking ones (`password`, `token`, `secret`, `key`, …): key names in the app's
    /// answer (`redact: [customer_email]`), label names, or path segments.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Help text for the preset catalogue (presets only).
    pub description: Option<String>,
    /// How a preset's app is recognised (reserved for auto-configuration; not used yet).
    pub detect: Option<serde_yaml::Value>,
}
