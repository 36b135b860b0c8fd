//! Shared state of the HTTP layer.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use relata_core::{Actor, Core};
use tokio::time::Instant;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub metrics: Arc<Metrics>,
    pub tokens: Arc<TokenCache>,
    /// Milliseconds since `started` when the metadata version was last compared.
    pub schema_checked_ms: Arc<AtomicU64>,
    pub max_body_bytes: usize,
    pub started: Instant,
}

/// Recently verified tokens (by hash), so a request does not pay a database read to
/// authenticate. Entries live a few seconds: revocation in another process takes effect
/// within that time.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Actor, Instant)>>,
}

pub const TOKEN_CACHE_SECS: u64 = 5;
const TOKEN_CACHE_MAX: usize = 10_000;

impl TokenCache {
    pub fn get(&self, hash: &str) -> Option<Actor> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed().as_secs() < TOKEN_CACHE_SECS)
            .map(|(actor, _)| actor.clone())
    }

    pub fn put(&self, hash: String, actor: Actor) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.retain(|_, (_, at)| at.elapsed().as_secs() < TOKEN_CACHE_SECS);
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (actor, Instant::now()));
    }
}
