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
    /// How `discover` and `serve --discover` look for the app.
    #[serde(default)]
    pub discover: DiscoverConfig,
}

/// `global.discover:` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverConfig {
    /// Ports discovery never probes (a port where even a read-only request is unwelcome).
    #[serde(default)]
    pub exclude_ports: Vec<u16>,
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
            discover: DiscoverConfig::default(),
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
    /// How a preset's app is recognised by discovery (presets only; see [`Detect`]).
    pub detect: Option<Detect>,
}

/// A preset's `detect:` section: the evidence that points at its app and the one read-only
/// probe that confirms it. Discovery reads nothing else, so a new preset brings its own
/// detection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// The app's usual ports: a listening socket on one of them is a candidate.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Process names (`/proc/PID/comm`, at most 15 characters): a socket owned by such a process
    /// is a candidate, whatever its port.
    #[serde(default)]
    pub process_names: Vec<String>,
    /// Regular expressions matched against the owner's command line (arguments joined by
    /// spaces), for apps whose process name says little (`java`).
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// The request that confirms a candidate; without it the preset is never discovered.
    pub probe: Option<DetectProbe>,
    /// The preset cannot work without credentials (a database): discovery prints it commented
    /// out, with a placeholder to fill in.
    #[serde(default)]
    pub needs_credentials: bool,
}

/// The read-only request that confirms a candidate: `request` for HTTP, `send` for TCP.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DetectProbe {
    /// HTTP: `GET /path`; `expect` is matched against the body of a 2xx answer.
    pub request: Option<String>,
    /// TCP: the bytes sent (may be empty, for apps that speak first); `expect` is matched
    /// against the first bytes read.
    pub send: Option<String>,
    /// The regular expression the answer must match.
    pub expect: String,
}

/// A probe, checked: what it sends and the compiled pattern of its answer.
#[derive(Debug, Clone)]
pub enum ProbeSpec {
    /// `GET <path>` over HTTP/1.1.
    Http {
        /// The path and query.
        path: String,
        /// What the body must match.
        expect: regex::Regex,
    },
    /// Bytes over plain TCP.
    Tcp {
        /// What is sent (`\r`, `\n`, `\xHH` escapes undone, as in `tcp_text`'s `command`).
        send: Vec<u8>,
        /// What the first bytes read must match.
        expect: regex::Regex,
    },
}

impl DetectProbe {
    /// The probe checked: exactly one of `request`/`send`, a `GET /…` request, a valid regex.
    pub fn spec(&self) -> Result<ProbeSpec, String> {
        let expect = regex::Regex::new(&self.expect)
            .map_err(|e| format!("probe.expect is not a valid regular expression: {e}"))?;
        match (&self.request, &self.send) {
            (Some(request), None) => {
                let path = request
                    .strip_prefix("GET ")
                    .map(str::trim)
                    .filter(|path| path.starts_with('/') && !path.contains(char::is_whitespace))
                    .ok_or_else(|| {
                        format!("probe.request {request:?} must be `GET /path` (only read-only GET requests are sent)")
                    })?;
                Ok(ProbeSpec::Http {
                    path: path.to_string(),
                    expect,
                })
            }
            (None, Some(send)) => Ok(ProbeSpec::Tcp {
                send: super::expand::unescape(send).map_err(|e| format!("probe.send: {e}"))?,
                expect,
            }),
            _ => Err("probe needs exactly one of `request` (HTTP) and `send` (TCP)".to_string()),
        }
    }
}

impl Detect {
    /// The `cmdline` patterns, compiled.
    pub fn cmdline_patterns(&self) -> Result<Vec<regex::Regex>, String> {
        self.cmdline
            .iter()
            .map(|p| {
                regex::Regex::new(p)
                    .map_err(|e| format!("cmdline {p:?} is not a valid regular expression: {e}"))
            })
            .collect()
    }
}
