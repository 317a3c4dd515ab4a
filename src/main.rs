use std::process::ExitCode;

use clap::Parser;
use sidecar_exporter::cli::Cli;
use sidecar_exporter::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_logging(cli.log_level, cli.log_format);
    commands::run(cli)
}
