//! One module per command. Commands open the database themselves (through [`open_core`]) so
//! that `config` and `db-copy` need no default database, and run blocking store calls on the
//! main thread: only `serve` and the async record-service calls run inside a Tokio runtime.

mod backup;
mod db_copy;
mod demo;
mod export;
mod import;
mod import_file;
mod migrate;
mod serve;
mod token;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use relata_core::{Actor, Core, CoreError, Source};
use relata_domain::{SystemClock, UserId};

use crate::cli::{Command, TokenCommand};
use crate::config::{Config, redact_url};

pub fn run(command: Command, config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(config, &args)?,
        Command::Migrate => migrate::run(config)?,
        Command::Token {
            command: TokenCommand::Create { name },
        } => token::create(config, &name)?,
        Command::Demo(args) => demo::run(config, &args)?,
        Command::Export(args) => export::run(config, &args)?,
        Command::Import(args) => return import::run(config, &args),
        Command::Backup(args) => backup::run(config, &args)?,
        Command::DbCopy(args) => db_copy::run(config, &args)?,
        Command::Config(_) => print!("{}", config.redacted().to_toml()),
        Command::Worker => worker::run(config)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The service error with its detail: on the command line the operator is the audience, so
/// internal causes are shown rather than hidden as they are from API clients.
pub fn core_error(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Internal(m) => anyhow::anyhow!("internal error: {m}"),
        CoreError::Unavailable(m) => anyhow::anyhow!("database unavailable: {m}"),
        CoreError::Validation(errors) => {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            anyhow::anyhow!("validation failed: {}", list.join("; "))
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// Opens (and migrates) the configured database and loads its metadata.
pub fn open_core(config: &Config) -> anyhow::Result<Arc<Core>> {
    let core = Core::open(
        &config.store_options(),
        Arc::new(SystemClock),
        config.settings(),
    )
    .map_err(core_error)
    .with_context(|| {
        format!(
            "cannot open the database {}",
            redact_url(&config.database_url)
        )
    })?;
    if !config.smtp_url.trim().is_empty() {
        let mailer = relata_core::mail::SmtpMailer::new(config.smtp_url.trim(), &config.mail_from)
            .map_err(|e| anyhow::anyhow!("the mail settings are wrong: {e}"))?;
        core.set_mailer(Arc::new(mailer));
    }
    Ok(core)
}

/// The bootstrap administrator acting through `source` (created on first use).
pub fn admin_actor(core: &Core, source: Source) -> anyhow::Result<Actor> {
    let user_id: UserId = core.ensure_admin_blocking().map_err(core_error)?;
    Ok(Actor::superuser(user_id, source))
}

/// A small runtime for commands that call the async record service.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
