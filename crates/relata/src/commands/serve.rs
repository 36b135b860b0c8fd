//! `relata serve`: opens the database, optionally seeds the demo data set, and serves the HTTP
//! API until SIGTERM or Ctrl-C. Shutdown is graceful: stop accepting connections, let
//! in-flight requests finish (up to `shutdown_grace_secs`), then close the store so queued
//! writes commit before the process exits.
//!
//! Start-up does no full-table work (migrations check a version table, metadata is one small
//! table), so a server on a database of millions of records is serving within a second. The
//! one exception, a search index to rebuild, runs in the background.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;

use relata_core::Core;
use relata_core::Source;
use relata_core::records::ListRequest;

use super::{admin_actor, core_error, demo, open_core};
use crate::cli::ServeArgs;
use crate::config::Config;

pub fn run(config: &Config, args: &ServeArgs) -> anyhow::Result<()> {
    let core = open_core(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("relata-worker")
        .build()
        .context("cannot start the async runtime")?;
    let demo_token = if args.demo {
        // a new database: the (empty) index is marked current before the demo data goes in
        runtime
            .block_on(core.rebuild_search_index_if_stale())
            .map_err(core_error)?;
        seed_demo(&core, &runtime, args)?
    } else {
        None
    };
    let result = runtime.block_on(serve(core.clone(), config, demo_token));
    core.store.close();
    tracing::info!("stopped");
    result
}

/// Loads the demo data set when the database has no account yet; returns a fresh admin
/// token when it did, so the one "run it" command leaves a newcomer with a working system.
fn seed_demo(
    core: &Arc<Core>,
    runtime: &tokio::runtime::Runtime,
    args: &ServeArgs,
) -> anyhow::Result<Option<DemoAccess>> {
    let actor = admin_actor(core, Source::System)?;
    let probe = ListRequest {
        limit: Some(1),
        ..Default::default()
    };
    let (_, page) = runtime
        .block_on(core.list_records(&actor, "account", probe))
        .map_err(core_error)?;
    if !page.records.is_empty() {
        tracing::info!(
            "the database already has accounts: not loading the demo data (`relata token create` prints a token)"
        );
        return Ok(None);
    }
    demo::load(core, runtime, args.demo_scale, demo::DEFAULT_SEED)?;
    let token = core
        .create_admin_token_blocking("demo")
        .map_err(core_error)?;
    // A password for the web UI, random for this installation (there is no default one),
    // shown once like the token.
    let admin = core.ensure_admin_blocking().map_err(core_error)?;
    let password = relata_core::auth::random_secret("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect::<String>();
    runtime
        .block_on(core.update_user(&actor, admin.0, serde_json::json!({ "password": password })))
        .map_err(core_error)?;
    Ok(Some(DemoAccess { token, password }))
}

/// How a newcomer gets into a fresh demo installation.
struct DemoAccess {
    token: String,
    password: String,
}

async fn serve(core: Arc<Core>, config: &Config, demo: Option<DemoAccess>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    #[allow(clippy::needless_update)] // ApiOptions belongs to relata-api and grows over time
    let opts = relata_api::ApiOptions {
        max_body_bytes: config.max_body_bytes,
        ..Default::default()
    };
    // An index built with other term rules (or never, as after `db-copy` or an upgrade that
    // changed its format) is rebuilt while the server already answers; searches meanwhile
    // miss what is not reindexed yet.
    let rebuilding = core.clone();
    tokio::spawn(async move {
        if let Err(e) = rebuilding.rebuild_search_index_if_stale().await {
            tracing::error!(error = %e, "rebuilding the search index failed; it is retried at the next start");
        }
    });
    // The audit log's retention: entries older than the setting go, at start and daily.
    // (Every server sharing a database sweeps; the deletes are idempotent.)
    let sweeping = core.clone();
    tokio::spawn(async move {
        let mut daily = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
        loop {
            daily.tick().await;
            let days = sweeping.settings.audit_retention_days;
            match sweeping.sweep_audit_log(days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    removed = n,
                    days,
                    "audit log entries past retention removed"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "sweeping the audit log failed; retried tomorrow")
                }
            }
        }
    });
    // Imports run in the background, one job at a time per server; a job whose server
    // died is taken over by another (or by this one after a restart).
    core.spawn_import_worker();
    core.spawn_duplicate_worker();
    // Background jobs (and recurring schedules) run here unless left to `relata worker`.
    super::worker::start(&core, config).await;
    let app = relata_api::router_with(core.clone(), opts, relata_web::router(core));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let mut server = tokio::spawn(server.into_future());
    let shutdown = shutdown_signal()?;

    if let Some(DemoAccess { token, password }) = demo {
        println!("demo data loaded; sign in at http://{addr}/login");
        println!(
            "  as {} with the password {password} (shown once; change it under My profile)",
            relata_core::auth::BOOTSTRAP_EMAIL
        );
        println!("admin API token (shown once): {token}");
        println!(
            "try: curl -H 'Authorization: Bearer {token}' 'http://{addr}/api/v1/records/account?limit=5'"
        );
    }
    tracing::info!(%addr, "listening on {addr}");

    let signal = tokio::select! {
        ended = &mut server => {
            // The server only ends by itself on an accept error.
            return ended.context("the server task failed")?.context("the server failed");
        }
        signal = shutdown => signal,
    };
    tracing::info!(
        signal,
        "shutting down: no new connections, finishing in-flight requests"
    );
    let _ = stop.send(());
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    match tokio::time::timeout(grace, &mut server).await {
        Ok(ended) => ended
            .context("the server task failed")?
            .context("the server failed"),
        Err(_) => {
            tracing::warn!(
                grace_secs = config.shutdown_grace_secs,
                "requests still running after the grace period; stopping anyway"
            );
            server.abort();
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, naming which.
///
/// The handlers are registered when this is called, not when the future is first polled:
/// `serve` calls it before announcing the address, so a signal sent the moment "listening"
/// appears is never left to the default action (which would kill the process uncleanly).
pub(super) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => "interrupt",
                _ = terminate.recv() => "terminate",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        })
    }
}
