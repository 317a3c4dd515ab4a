//! The subcommands: `serve`, `check`, `once`, `discover` and `presets`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{Cli, Command, LogFormat, LogLevel};
use crate::config;
use crate::config::presets;
use crate::encode;
use crate::scrape::{merge_families, Counters, Engine};
use crate::server::listen::{self, Connections, ServerLimits};
use crate::server::web_config::{self, WebConfigHandle};
use crate::server::{app, AppState};

/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the config files are checked for changes.
const CONFIG_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Sets up logging to stderr in the chosen format.
pub fn init_logging(level: LogLevel, format: LogFormat) {
    use tracing_subscriber::prelude::*;
    let level = match level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if let Err(error) = result {
        eprintln!("logging could not be set up: {error}");
    }
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        None | Some(Command::Serve) => run_async(serve(cli)),
        Some(Command::Check) => check(&cli),
        Some(Command::Once { collector, explain }) => {
            let (collector, explain) = (collector.clone(), *explain);
            run_async(once(cli, collector, explain))
        }
        Some(Command::Presets { name }) => list_presets(name.as_deref()),
        Some(Command::Discover) => run_async(discover(cli)),
    }
}

/// Runtime workers when `TOKIO_WORKER_THREADS` does not say: one per core, at most this many.
/// A sidecar answers one or two Prometheus servers and collects from one app; on a large host,
/// a worker per core would add threads and memory, not throughput.
const MAX_WORKER_THREADS: usize = 2;

fn run_async(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(workers) = worker_threads(std::env::var_os("TOKIO_WORKER_THREADS").is_some(), cores)
    {
        builder.worker_threads(workers);
    }
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(future),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The number of runtime workers to set, `None` to leave it to `TOKIO_WORKER_THREADS`.
fn worker_threads(set_in_environment: bool, cores: usize) -> Option<usize> {
    (!set_in_environment).then_some(cores.clamp(1, MAX_WORKER_THREADS))
}

fn load_engine(cli: &Cli) -> Result<(config::LoadedConfig, Engine), config::ConfigError> {
    let loaded = config::load(cli.config_file.as_deref())?;
    let engine = Engine::build(&loaded, Arc::new(Counters::default()))?;
    Ok((loaded, engine))
}

fn check(cli: &Cli) -> ExitCode {
    let (loaded, engine) = match load_engine(cli) {
        Ok(built) => built,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let config_name = &loaded.files[0].name;
    println!(
        "{config_name}: ok, {} collectors ({} disabled), {} files",
        engine.collectors.len(),
        engine.disabled.len(),
        loaded.files.len()
    );
    for entry in &engine.collectors {
        println!("  {} ({}): {}", entry.name, entry.kind, entry.target);
        for note in &entry.notes {
            println!("    note: {note}");
        }
    }
    for disabled in &engine.disabled {
        println!("  {} ({}): disabled", disabled.name, disabled.kind);
    }
    if let Some(path) = &cli.web_config_file {
        match web_config::load(path) {
            Ok(web) => {
                println!(
                    "{}: ok, TLS {}, {} basic-auth users",
                    path.display(),
                    if web.tls.is_some() { "on" } else { "off" },
                    web.users.len()
                );
                for warning in &web.warnings {
                    println!("  note: {warning}");
                }
            }
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

async fn once(cli: Cli, collector: Option<String>, explain: bool) -> ExitCode {
    let (_, mut engine) = match load_engine(&cli) {
        Ok(built) => built,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(name) = &collector {
        engine.collectors.retain(|entry| &entry.name == name);
        if engine.collectors.is_empty() {
            let disabled = engine.disabled.iter().any(|d| &d.name == name);
            eprintln!(
                "{}",
                if disabled {
                    format!("collector `{name}` is disabled (enabled: false)")
                } else {
                    format!("no collector named `{name}` in the configuration")
                }
            );
            return ExitCode::FAILURE;
        }
    }
    if explain {
        return explain_once(&engine).await;
    }
    let deadline = tokio::time::Instant::now() + engine.scrape_timeout;
    let outcomes = engine.collect(deadline).await;
    let (families, collisions) = merge_families(
        outcomes
            .iter()
            .map(|(_, outcome)| outcome.families.as_slice()),
    );
    let mut failed = false;
    for (entry, outcome) in &outcomes {
        if let Some(error) = &outcome.error {
            eprintln!("{}: {error}", entry.name);
            failed = true;
        }
        for problem in &outcome.problems {
            eprintln!("{}: {problem}", entry.name);
        }
    }
    for (index, problem) in collisions {
        eprintln!("{}: {problem}", outcomes[index].0.name);
    }
    let mut out = Vec::new();
    encode::encode(&families, encode::Format::Text, &mut out);
    print_then_exit(&out, failed)
}

/// Collects each collector once, explained, and prints the explanations for a person: the
/// app's answer included (this is run by hand by someone who can reach the app anyway), secret
/// values hidden.
async fn explain_once(engine: &Engine) -> ExitCode {
    let mut failed = false;
    let mut out = String::new();
    for (index, entry) in engine.collectors.iter().enumerate() {
        if index > 0 {
            out.push_str("\n---\n\n");
        }
        let Some(recorded) = entry.explain(true, std::time::Duration::ZERO).await else {
            eprintln!("{}: the collection left no explanation", entry.name);
            failed = true;
            continue;
        };
        let visibility = crate::explain::Visibility {
            show_answers: true,
            redact: entry.redact.clone(),
        };
        let explanation = recorded.view(&visibility);
        failed |= !explanation.up;
        out.push_str(&crate::explain::text::render(&explanation));
    }
    print_then_exit(out.as_bytes(), failed)
}

/// Writes `out` to stdout; the exit code says whether a collector `failed` (or stdout did).
fn print_then_exit(out: &[u8], failed: bool) -> ExitCode {
    use std::io::Write;
    if let Err(error) = std::io::stdout().write_all(out) {
        eprintln!("cannot write to stdout: {error}");
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One discovery round, printed as a config. Exit 0 even when nothing is found: an empty result
/// is an answer.
async fn discover(cli: Cli) -> ExitCode {
    let exclude_ports = match config::load(cli.config_file.as_deref()) {
        Ok(loaded) => loaded.global.discover.exclude_ports,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let options = crate::discover::Options {
        exclude_ports,
        ..Default::default()
    };
    let round = crate::discover::run(&options, &crate::discover::rules()).await;
    let text = crate::discover::render::config(&round);
    print_then_exit(text.as_bytes(), false)
}

fn list_presets(name: Option<&str>) -> ExitCode {
    match name {
        None => {
            for preset in presets::PRESETS {
                println!("{:<18} {}", preset.name, preset.description());
            }
            ExitCode::SUCCESS
        }
        Some(name) => match presets::find(name) {
            Some(preset) => {
                print!("{}", preset.yaml);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "unknown preset `{name}`, expected one of {}",
                    presets::names().join(", ")
                );
                ExitCode::FAILURE
            }
        },
    }
}

/// Parses a listen address: `host:port`, `[v6]:port`, or `:port` (all IPv4 interfaces).
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    full.parse().map_err(|_| {
        format!("--web.listen-address {text:?} is not an address: expected host:port, [ipv6]:port or :port")
    })
}

async fn serve(cli: Cli) -> ExitCode {
    let fd_limit = raise_fd_limit();
    let web = match &cli.web_config_file {
        Some(path) => match WebConfigHandle::load(path) {
            Ok(handle) => Some(Arc::new(handle)),
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let tls = web.as_ref().is_some_and(|web| web.tls_enabled());
    let state = Arc::new(
        AppState::new(cli.config_file.clone(), cli.telemetry_path.clone())
            .with_max_requests(usize::try_from(cli.max_requests).unwrap_or(usize::MAX))
            .with_debug_answers(cli.debug_answers)
            .with_discovery(cli.discover),
    );
    if let Err(error) = state.reload() {
        eprintln!("{error}");
        return ExitCode::FAILURE;
    }
    let mut listeners = Vec::new();
    for text in &cli.listen_addresses {
        let address = match parse_listen_address(text) {
            Ok(address) => address,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::from(2);
            }
        };
        match TcpListener::bind(address).await {
            Ok(listener) => {
                // With port 0 the kernel chooses the port: the log names the one bound.
                let bound = listener.local_addr().unwrap_or(address);
                tracing::info!(address = %bound, tls, "listening");
                listeners.push(listener);
            }
            Err(error) => {
                eprintln!("cannot listen on {address}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }

    spawn_reload_triggers(state.clone());
    if cli.discover {
        spawn_discovery(state.clone(), cli.discover_interval);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut router = app(state);
    if let Some(web) = &web {
        router = web_config::protect(router, web.clone());
        web_config::spawn_file_checks(web, web_config::FILE_CHECK_INTERVAL);
    }
    let limits = ServerLimits {
        header_read_timeout: cli.header_read_timeout,
        idle_timeout: cli.idle_timeout,
        max_connections: usize::try_from(cli.max_connections).unwrap_or(usize::MAX),
    }
    .within_fd_limit(fd_limit);
    tracing::info!(
        max_connections = limits.max_connections,
        fd_limit,
        "connection limits"
    );
    let connections = Connections::new(limits);
    tokio::spawn(connections.clone().close_idle_until(stop_rx.clone()));
    let tls = if tls { web.clone() } else { None };
    let mut servers = Vec::new();
    for listener in listeners {
        servers.push(tokio::spawn(listen::serve(
            listener,
            router.clone(),
            tls.clone(),
            connections.clone(),
            stop_rx.clone(),
        )));
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let all = futures::future::join_all(servers);
    if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
        tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; exiting anyway");
    }
    ExitCode::SUCCESS
}

/// Raises the soft limit on open descriptors to the hard one (a systemd unit's soft default is
/// 1,024, far below its hard limit) and returns the soft limit in force, so that the connection
/// cap can leave room for the collectors.
fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    // `None` is "unlimited"; an unlimited hard limit is left alone (the kernel caps it anyway).
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum) {
        if soft < hard {
            limit.current = Some(hard);
            if let Err(error) = setrlimit(Resource::Nofile, limit) {
                tracing::warn!(%error, "cannot raise the open-files limit");
            }
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// How often `serve --discover` looks whether the listening sockets changed (reading
/// `/proc/net/tcp{,6}`, no probe).
const SOCKET_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// `serve --discover`: a round at start, then one whenever the listening sockets changed, at
/// most one per `interval`; each round's findings go to the state, which adds and retires
/// collectors.
fn spawn_discovery(state: Arc<AppState>, interval: Duration) {
    // A round's future borrows its rules and evidence across awaits in a way the compiler
    // cannot prove `Send` for every lifetime, so it runs on a thread of its own with a small
    // runtime of its own (which also leaves it untouched by the server's shutdown).
    let spawned = std::thread::Builder::new()
        .name("discovery".to_string())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(discovery_loop(state, interval)),
                Err(error) => tracing::error!(%error, "cannot start discovery"),
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start discovery");
    }
}

async fn discovery_loop(state: Arc<AppState>, interval: Duration) {
    let rules = crate::discover::rules();
    let proc_root = std::path::PathBuf::from("/proc");
    let mut probed_sockets = None;
    let mut last_round: Option<tokio::time::Instant> = None;
    let mut ticker = tokio::time::interval(SOCKET_CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let root = proc_root.clone();
        let sockets =
            tokio::task::spawn_blocking(move || crate::discover::evidence::listening_set(&root))
                .await
                .unwrap_or_default();
        let due = last_round.is_none_or(|at| at.elapsed() >= interval);
        if !due || probed_sockets.as_ref() == Some(&sockets) {
            continue;
        }
        // The configuration in force (a refused one leaves the last good list, and its error
        // is already reported by the reload), not the file read again.
        let exclude_ports = state.discovery().exclude_ports;
        let options = crate::discover::Options {
            exclude_ports,
            proc_root: proc_root.clone(),
            ..Default::default()
        };
        let round = crate::discover::run(&options, &rules).await;
        tracing::debug!(
            sockets = round.sockets,
            probes = round.probes,
            found = round.findings.len(),
            "discovery round"
        );
        probed_sockets = Some(sockets);
        last_round = Some(tokio::time::Instant::now());
        let found = crate::discover::render::collectors(&round.findings);
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            state.discovered(found, round.sockets, round.probes)
        })
        .await;
    }
}

fn spawn_reload_triggers(state: Arc<AppState>) {
    #[cfg(unix)]
    {
        let state = state.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hangups) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload instead");
                return;
            };
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received, reloading");
                let state = state.clone();
                let _ = tokio::task::spawn_blocking(move || state.reload()).await;
            }
        });
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CONFIG_POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.reload_if_changed()).await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen_address("127.0.0.1:9820").unwrap().port(), 9820);
        assert!(parse_listen_address("[::1]:9820").unwrap().is_ipv6());
        assert_eq!(
            parse_listen_address(":9820").unwrap().to_string(),
            "0.0.0.0:9820"
        );
        assert!(parse_listen_address("localhost").is_err());
    }

    #[test]
    fn one_worker_per_core_up_to_two_unless_the_environment_says() {
        assert_eq!(worker_threads(false, 1), Some(1));
        assert_eq!(worker_threads(false, 2), Some(2));
        assert_eq!(worker_threads(false, 64), Some(2));
        assert_eq!(worker_threads(true, 64), None);
    }
}
