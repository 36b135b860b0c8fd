//! `relata migrate`: applies pending system migrations and lists every migration with its
//! state. Opening the store already migrates (a server does it at start); this command is for
//! operators who want to migrate before rolling out, and to see where a database stands.

use relata_domain::Clock;
use relata_domain::SystemClock;
use relata_domain::value::{format_datetime, truncate_micros};
use relata_store::migrations::migrate_blocking;
use relata_store::{Store, StoreError};

use crate::config::{Config, redact_url};

pub fn run(config: &Config) -> anyhow::Result<()> {
    let started = SystemClock.now();
    let started = truncate_micros(started).unwrap_or(started);
    // `Store::open` applies what is pending; the second call reports anything it left.
    let store = Store::open(&config.store_options())?;
    let late = migrate_blocking(&store)?;
    let rows = store.read_blocking(|conn| -> Result<_, StoreError> {
        conn.query(
            "SELECT version, name, applied_at FROM sys_migrations ORDER BY version",
            &[],
        )
    })?;
    let mut applied_now = 0;
    for row in &rows {
        let version = row[0].as_i64().unwrap_or_default();
        let name = row[1].as_str().unwrap_or_default();
        let at = row[2].as_timestamp();
        let now = late.contains(&version) || at.is_some_and(|t| t >= started);
        if now {
            applied_now += 1;
        }
        println!(
            "{version:>4}  {name:<24} {} {}",
            if now {
                "applied now    "
            } else {
                "already applied"
            },
            at.map(|t| format_datetime(&t)).unwrap_or_default()
        );
    }
    println!(
        "{} migration(s) applied now; {} is up to date ({} in total)",
        applied_now,
        redact_url(&config.database_url),
        rows.len()
    );
    store.close();
    Ok(())
}
