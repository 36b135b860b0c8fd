//! The `relata` binary: parses the command line, loads the layered configuration, sets up
//! logging and runs one command (each in its own module under `commands/`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod commands;
mod config;
mod logging;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::{Config, Sources};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A closed pipe (`relata export … | head`) is the reader's choice, not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Config(args) = &cli.command
        && args.default
    {
        print!("{}", Config::default().to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = Config::load(sources(&cli))?;
    logging::init(&loaded.config)?;
    if let Some(file) = &loaded.file {
        tracing::debug!(file = %file.display(), "read configuration file");
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    commands::run(cli.command, &loaded.config)
}

/// The layers above the defaults: the config file named by a flag, the environment, flags.
fn sources(cli: &Cli) -> Sources {
    use toml::Value;
    let mut flags: Vec<(&'static str, Value)> = Vec::new();
    if let Some(url) = &cli.database_url {
        flags.push(("database_url", Value::String(url.clone())));
    }
    if let Some(log) = &cli.log {
        flags.push(("log", Value::String(log.clone())));
    }
    if let Some(format) = cli.log_format {
        let name = match format {
            config::LogFormat::Text => "text",
            config::LogFormat::Json => "json",
        };
        flags.push(("log_format", Value::String(name.into())));
    }
    if let Command::Serve(args) = &cli.command
        && let Some(listen) = &args.listen
    {
        flags.push(("listen", Value::String(listen.clone())));
    }
    Sources {
        file: cli.config.clone(),
        // Variables that are not valid Unicode cannot be settings; skip them rather than panic.
        env: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        flags,
    }
}
