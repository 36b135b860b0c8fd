//! `relata token create`: prints a new administrator token, and nothing else, on stdout, so
//! scripts can write `TOKEN=$(relata token create)`. The first run creates the bootstrap
//! administrator.

use super::{core_error, open_core};
use crate::config::Config;

pub fn create(config: &Config, name: &str) -> anyhow::Result<()> {
    let core = open_core(config)?;
    let token = core.create_admin_token_blocking(name).map_err(core_error)?;
    println!("{token}");
    tracing::info!(name, "created an administrator token");
    core.store.close();
    Ok(())
}
