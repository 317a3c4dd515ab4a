//! Command-line definitions. Flag names follow the Prometheus exporter conventions; every flag
//! also reads `SIDECAR_EXPORTER_<FLAG>` (the flag wins).

use std::path::PathBuf;

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

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the exporter (the default).
    Serve,
    /// Validate the configuration: one line per collector, or `file:line:col: message`.
    Check,
    /// Collect once and print the exposition to stdout; exit 1 if any collector failed.
    Once,
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
