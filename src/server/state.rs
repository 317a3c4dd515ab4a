//! What the server shares between requests: the running engine, swapped whole on reload.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{self, ConfigError, LoadedConfig};
use crate::discover::render::{self, Discovered};
use crate::scrape::self_metrics::ReloadState;
use crate::scrape::{lock, Counters, Engine};

/// The server's shared state.
pub struct AppState {
    /// The config file, `None` for the embedded default.
    pub config_path: Option<PathBuf>,
    /// Where the metrics are served (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// Counters that outlive reloads.
    pub counters: Arc<Counters>,
    engine: RwLock<Option<Arc<Engine>>>,
    reload: Mutex<ReloadState>,
    last_reload_error: Mutex<Option<String>>,
    fingerprint: Mutex<u64>,
    /// Turns for `/metrics` requests (`--web.max-requests`).
    pub scrape_permits: tokio::sync::Semaphore,
    /// `--web.debug-answers`: the debug pages show the app's answers and values.
    pub debug_answers: bool,
    reload_record: Mutex<ReloadRecord>,
    discovery: Mutex<DiscoveryRecord>,
}

/// What `serve --discover` found, for the engine and the status page.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryRecord {
    /// Discovery is on.
    pub enabled: bool,
    /// When the last round ended, how many listening ports it looked at and probes it sent.
    pub last_round: Option<(SystemTime, usize, usize)>,
    /// The last round's findings as collectors (suggestions included, `active: false`).
    pub found: Vec<Discovered>,
    /// Found collectors running: (name, preset).
    pub used: Vec<(String, String)>,
    /// Found collectors left out, and why (a configured collector reads the same port, …).
    pub left_out: Vec<String>,
    /// `global.discover.exclude_ports` of the configuration in force.
    pub exclude_ports: Vec<u16>,
}

/// Which found collectors joined a configuration, and which were left out and why.
struct Fit {
    used: Vec<(String, String)>,
    left_out: Vec<String>,
}

impl DiscoveryRecord {
    /// The discovered collectors running, by preset; `None` when discovery is off.
    pub fn in_use_by_preset(&self) -> Option<std::collections::BTreeMap<String, usize>> {
        if !self.enabled {
            return None;
        }
        let mut counts = std::collections::BTreeMap::new();
        for (_, preset) in &self.used {
            *counts.entry(preset.clone()).or_insert(0) += 1;
        }
        Some(counts)
    }
}

/// What the status page says of reloads.
#[derive(Debug, Clone, Default)]
pub struct ReloadRecord {
    /// When the configuration was last loaded or a load was refused.
    pub last_attempt: Option<SystemTime>,
    /// Whether that attempt succeeded.
    pub last_successful: bool,
    /// The SHA-256 of the config file in force (`None` for the embedded default).
    pub checksum: Option<String>,
    /// When the configuration in force was loaded.
    pub loaded_at: Option<SystemTime>,
}

/// Default of `--web.max-requests`.
pub const DEFAULT_MAX_REQUESTS: usize = 40;

impl AppState {
    /// A state with no config loaded yet (not ready).
    pub fn new(config_path: Option<PathBuf>, telemetry_path: String) -> Self {
        AppState {
            config_path,
            telemetry_path,
            counters: Arc::new(Counters::default()),
            engine: RwLock::new(None),
            reload: Mutex::new(ReloadState::default()),
            last_reload_error: Mutex::new(None),
            fingerprint: Mutex::new(0),
            scrape_permits: tokio::sync::Semaphore::new(DEFAULT_MAX_REQUESTS),
            debug_answers: false,
            reload_record: Mutex::new(ReloadRecord::default()),
            discovery: Mutex::new(DiscoveryRecord::default()),
        }
    }

    /// The discovered collectors running, by preset; `None` when discovery is off (for the
    /// self-metrics: counted under the lock rather than copying the whole record per scrape).
    pub fn discovered_by_preset(&self) -> Option<std::collections::BTreeMap<String, usize>> {
        lock(&self.discovery).in_use_by_preset()
    }

    /// What discovery found and used.
    pub fn discovery(&self) -> DiscoveryRecord {
        lock(&self.discovery).clone()
    }

    /// Takes a discovery round's findings: when the collectors they give differ from the
    /// running ones, the engine is rebuilt keeping every unchanged collector with its state.
    pub fn discovered(&self, found: Vec<Discovered>, sockets: usize, probes: usize) {
        let changed = {
            let mut discovery = lock(&self.discovery);
            discovery.enabled = true;
            discovery.last_round = Some((SystemTime::now(), sockets, probes));
            let changed = discovery.found != found;
            discovery.found = found;
            changed
        };
        if changed {
            let _ = self.load_and_swap(true);
        }
    }

    /// The same state, its debug pages showing the app's answers (`--web.debug-answers`).
    pub fn with_debug_answers(mut self, debug_answers: bool) -> Self {
        self.debug_answers = debug_answers;
        self
    }

    /// The same state, discovering (`serve --discover`).
    pub fn with_discovery(self, enabled: bool) -> Self {
        lock(&self.discovery).enabled = enabled;
        self
    }

    /// What the status page says of reloads.
    pub fn reload_record(&self) -> ReloadRecord {
        lock(&self.reload_record).clone()
    }

    /// The same state, answering at most `max_requests` `/metrics` requests at once.
    pub fn with_max_requests(mut self, max_requests: usize) -> Self {
        self.scrape_permits = tokio::sync::Semaphore::new(max_requests.max(1));
        self
    }

    /// The running engine, `None` before the first successful load.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The reload state for the self-metrics.
    pub fn reload_state(&self) -> ReloadState {
        *lock(&self.reload)
    }

    /// Why the last reload failed, if it did.
    pub fn last_reload_error(&self) -> Option<String> {
        lock(&self.last_reload_error).clone()
    }

    /// Loads and builds the config and swaps it in. A config that fails is refused: the running
    /// one stays and the failure is recorded.
    pub fn reload(&self) -> Result<usize, ConfigError> {
        self.load_and_swap(false)
    }

    /// Loads the config, adds the discovered collectors and swaps the engine in; `keep`: keep
    /// the running engine's unchanged collectors (a discovery change, not a reload).
    fn load_and_swap(&self, keep: bool) -> Result<usize, ConfigError> {
        *lock(&self.fingerprint) = fingerprint(self.config_path.as_deref());
        let checksum = self.config_path.as_deref().map(config_checksum);
        let previous = if keep { self.engine() } else { None };
        let result = config::load(self.config_path.as_deref()).and_then(|loaded| {
            let (loaded, fit) = self.with_discovered(loaded);
            let engine =
                Engine::build_keeping(&loaded, self.counters.clone(), previous.as_deref())?;
            Ok((engine, fit, loaded.global.discover.exclude_ports))
        });
        {
            let now = SystemTime::now();
            let mut record = lock(&self.reload_record);
            record.last_attempt = Some(now);
            record.last_successful = result.is_ok();
            if result.is_ok() {
                record.checksum = checksum;
                record.loaded_at = Some(now);
            }
        }
        let mut reload = lock(&self.reload);
        match result {
            Ok((engine, fit, exclude_ports)) => {
                // What discovery reports is what runs: recorded only once the engine is in.
                let mut discovery = lock(&self.discovery);
                discovery.used = fit.used;
                discovery.left_out = fit.left_out;
                discovery.exclude_ports = exclude_ports;
                drop(discovery);
                let count = engine.collectors.len();
                *self.engine.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(engine));
                reload.last_successful = true;
                reload.last_success_timestamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                *lock(&self.last_reload_error) = None;
                tracing::info!(collectors = count, "configuration loaded");
                Ok(count)
            }
            Err(error) => {
                reload.last_successful = false;
                *lock(&self.last_reload_error) = Some(error.to_string());
                if self.engine().is_some() {
                    tracing::error!(
                        "configuration refused, the previous one keeps running: {error}"
                    );
                }
                Err(error)
            }
        }
    }

    /// `loaded` with the discovered collectors added, each that fits: one whose port a
    /// configured collector already reads is left out (the configured one wins), and so is
    /// one that clashes with the config (a name, the same series).
    fn with_discovered(&self, loaded: LoadedConfig) -> (LoadedConfig, Fit) {
        let found = lock(&self.discovery).found.clone();
        let mut config = loaded;
        let mut left_out = Vec::new();
        let mut used = Vec::new();
        for collector in found.iter().filter(|c| c.active) {
            if let Some(other) = reads_port(&config, collector.port) {
                left_out.push(format!(
                    "{}: the configured collector `{other}` reads port {}",
                    collector.name, collector.port
                ));
                continue;
            }
            let text = render::active_config(std::slice::from_ref(collector));
            let merged =
                config::load_bytes("<discovered>", text.as_bytes(), Path::new("."), &|_| None)
                    .and_then(|extra| config::with_collectors_of(config.clone(), extra));
            match merged {
                Ok(merged) => {
                    config = merged;
                    used.push((collector.name.clone(), collector.preset.clone()));
                }
                Err(error) => left_out.push(format!("{}: {}", collector.name, error.message)),
            }
        }
        for reason in &left_out {
            tracing::info!(reason = %reason, "discovered collector left out");
        }
        (config, Fit { used, left_out })
    }

    /// Reloads when the config file or an included file changed since the last load attempt.
    /// Content is compared, not modification times, so a Kubernetes ConfigMap's symlink swap
    /// counts as a change and a touch does not.
    pub fn reload_if_changed(&self) {
        if self.config_path.is_none() {
            return;
        }
        let now = fingerprint(self.config_path.as_deref());
        if now != *lock(&self.fingerprint) {
            tracing::info!("configuration files changed, reloading");
            let _ = self.reload();
        }
    }
}

/// The SHA-256 of the config file as `sha256sum` prints it (empty file when unreadable).
fn config_checksum(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash of the config file's bytes and of every file its `include:` patterns match now.
fn fingerprint(path: Option<&Path>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let Some(path) = path else { return 0 };
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.hash(&mut hasher);
    let includes = serde_yaml::from_slice::<serde_yaml::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("include").and_then(|i| i.as_sequence()).cloned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    for pattern in includes.iter().filter_map(|p| p.as_str()) {
        let full = dir.join(pattern).to_string_lossy().to_string();
        let mut matched: Vec<PathBuf> = glob::glob(&full)
            .map(|paths| paths.filter_map(Result::ok).collect())
            .unwrap_or_default();
        matched.sort();
        for file in matched {
            file.hash(&mut hasher);
            std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// The configured collector that reads `port` on this host (`url:` or `address:` on a loopback
/// or unspecified host), if any.
fn reads_port(config: &LoadedConfig, port: u16) -> Option<String> {
    config.collectors.iter().find_map(|collector| {
        let target = ["url", "address"]
            .iter()
            .find_map(|key| collector.options.get(*key).and_then(|v| v.as_str()))?;
        let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, found_port) = authority.rsplit_once(':')?;
        let local = matches!(
            host,
            "127.0.0.1" | "localhost" | "[::1]" | "0.0.0.0" | "[::]" | ""
        );
        (local && found_port.parse() == Ok(port)).then(|| collector.config.name.clone())
    })
}
