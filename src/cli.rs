//! Command-line definitions. Flag names follow the Prometheus exporter conventions; every flag
//! also reads `SIDECAR_EXPORTER_<FLAG>` (the flag wins).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// One small Prometheus exporter that runs beside an application.
#[derive(Debug, Parser)]
#[command(name = "sidecar-exporter", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// YAML configuration file; without it the embedded default configuration is used.
    #[arg(
        long = "config.file",
        env = "SIDECAR_EXPORTER_CONFIG_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub config_file: Option<PathBuf>,

    /// Address to listen on (repeatable; IPv6 as [::1]:9820).
    #[arg(
        long = "web.listen-address",
        env = "SIDECAR_EXPORTER_WEB_LISTEN_ADDRESS",
        global = true,
        default_value = "0.0.0.0:9820",
        value_delimiter = ',',
        value_name = "ADDR"
    )]
    pub listen_addresses: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        env = "SIDECAR_EXPORTER_WEB_TELEMETRY_PATH",
        global = true,
        default_value = "/metrics",
        value_name = "PATH"
    )]
    pub telemetry_path: String,

    /// TLS and basic-auth settings, in exporter-toolkit's web-config.yml format.
    #[arg(
        long = "web.config.file",
        env = "SIDECAR_EXPORTER_WEB_CONFIG_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub web_config_file: Option<PathBuf>,

    /// How long a client may take to send a request's headers before its connection is closed.
    #[arg(
        long = "web.header-read-timeout",
        env = "SIDECAR_EXPORTER_WEB_HEADER_READ_TIMEOUT",
        global = true,
        default_value = "10s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub header_read_timeout: Duration,

    /// How long a connection may stay open with no request in progress (keep-alive between
    /// scrapes, or a request that never completes). Longer than the scrape interval, so that
    /// Prometheus keeps its connection.
    #[arg(
        long = "web.idle-timeout",
        env = "SIDECAR_EXPORTER_WEB_IDLE_TIMEOUT",
        global = true,
        default_value = "90s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub idle_timeout: Duration,

    /// The most client connections open at once (lowered to fit the descriptor limit). At the
    /// cap, the oldest idle connection is closed for a new one; with all of them busy, a new
    /// one gets a 503 at once.
    #[arg(
        long = "web.max-connections",
        env = "SIDECAR_EXPORTER_WEB_MAX_CONNECTIONS",
        global = true,
        default_value = "1024",
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "N"
    )]
    pub max_connections: u32,

    /// The most `/metrics` answers encoded at once (concurrent scrapes share one collection);
    /// more wait for a turn until their scrape deadline, then get a 503.
    #[arg(
        long = "web.max-requests",
        env = "SIDECAR_EXPORTER_WEB_MAX_REQUESTS",
        global = true,
        default_value = "40",
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "N"
    )]
    pub max_requests: u32,

    /// Find the apps beside the sidecar and collect from them (the presets' `detect:` rules, on
    /// loopback), at start and whenever the listening sockets change; configured collectors win
    /// over discovered ones for the same target.
    #[arg(long = "discover", env = "SIDECAR_EXPORTER_DISCOVER", global = true)]
    pub discover: bool,

    /// With `--discover`: the shortest time between two discovery rounds.
    #[arg(
        long = "discover.interval",
        env = "SIDECAR_EXPORTER_DISCOVER_INTERVAL",
        global = true,
        default_value = "30s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub discover_interval: Duration,

    /// Show the app's answers and the values taken from them on the debug pages
    /// (`/debug/collectors/NAME`); off, the pages show keys, counts and reasons only. Values
    /// under secret-looking and `redact:` keys stay hidden either way.
    #[arg(
        long = "web.debug-answers",
        env = "SIDECAR_EXPORTER_WEB_DEBUG_ANSWERS",
        global = true
    )]
    pub debug_answers: bool,

    /// Only log messages with the given severity or above.
    #[arg(
        long = "log.level",
        env = "SIDECAR_EXPORTER_LOG_LEVEL",
        global = true,
        default_value = "info"
    )]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(
        long = "log.format",
        env = "SIDECAR_EXPORTER_LOG_FORMAT",
        global = true,
        default_value = "logfmt"
    )]
    pub log_format: LogFormat,
}

/// A Prometheus-style duration (`500ms`, `10s`, `2m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::ConfigDuration::parse(text).map(|d| d.0)
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the exporter (the default).
    Serve,
    /// Validate the configuration: one line per collector, or `file:line:col: message`.
    Check,
    /// Collect once and print the exposition to stdout; exit 1 if any collector failed.
    Once {
        /// Only this collector.
        #[arg(long, value_name = "NAME")]
        collector: Option<String>,
        /// Print, instead of the exposition, what the collection did: each request, the app's
        /// answer (an excerpt; secret-looking and `redact:` keys hidden), the records, what
        /// every metric rule produced or why it produced nothing, the families.
        #[arg(long)]
        explain: bool,
    },
    /// Look for the apps beside this one (listening sockets, their processes, the presets'
    /// read-only probes over loopback) and print a ready configuration.
    Discover,
    /// List the built-in presets, or print one.
    Presets {
        /// The preset to print.
        name: Option<String>,
    },
}

/// `--log.level` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Normal operation.
    Info,
    /// Problems.
    Warn,
    /// Failures only.
    Error,
}

/// `--log.format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// `key=value` lines.
    Logfmt,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn repeatable_listen_address_and_default_subcommand() {
        let cli = Cli::try_parse_from([
            "sidecar-exporter",
            "--web.listen-address",
            "127.0.0.1:1",
            "--web.listen-address",
            "[::1]:2",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.listen_addresses, vec!["127.0.0.1:1", "[::1]:2"]);
    }

    #[test]
    fn config_file_after_subcommand() {
        let cli =
            Cli::try_parse_from(["sidecar-exporter", "check", "--config.file", "x.yaml"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Check)));
        assert_eq!(cli.config_file.unwrap(), PathBuf::from("x.yaml"));
    }
}
