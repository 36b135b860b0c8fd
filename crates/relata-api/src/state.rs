//! Shared state of the HTTP layer.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use relata_core::{Actor, Core, CoreError};
use tokio::time::Instant;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub metrics: Arc<Metrics>,
    pub tokens: Arc<TokenCache>,
    pub rate: Arc<RateLimiter>,
    /// Milliseconds since `started` when the metadata version was last compared.
    pub schema_checked_ms: Arc<AtomicU64>,
    pub max_body_bytes: usize,
    pub started: Instant,
}

/// Recently verified tokens (by hash), so a request does not pay a database read to
/// authenticate. An entry lives a few seconds and only while the access version it was
/// verified under is current: a revocation, deactivation or permission change here takes
/// effect at once, one in another process within that time.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Actor, Instant, i64)>>,
}

pub const TOKEN_CACHE_SECS: u64 = 5;
const TOKEN_CACHE_MAX: usize = 10_000;

impl TokenCache {
    pub fn get(&self, hash: &str, access_version: i64) -> Option<Actor> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, at, v)| at.elapsed().as_secs() < TOKEN_CACHE_SECS && *v == access_version)
            .map(|(actor, _, _)| actor.clone())
    }

    pub fn put(&self, hash: String, actor: Actor, access_version: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.retain(|_, (_, at, _)| at.elapsed().as_secs() < TOKEN_CACHE_SECS);
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(hash, (actor, Instant::now(), access_version));
    }
}

/// Requests per credential per minute, as fixed one-minute windows (cheap, and precise
/// enough for a limit that protects the server rather than meters use).
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts a request of `credential`; 429 with the seconds left in the window when it is
    /// over `per_minute` (0: no limit).
    pub fn check(&self, credential: &str, per_minute: u32) -> Result<(), CoreError> {
        if per_minute == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| start.elapsed().as_secs() < 60);
        }
        let entry = windows
            .entry(credential.to_owned())
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed().as_secs() >= 60 {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
        if entry.1 > per_minute {
            let left = 60u64.saturating_sub(entry.0.elapsed().as_secs()).max(1);
            return Err(CoreError::TooManyRequests {
                code: "rate_limited",
                message: format!("more than {per_minute} requests a minute with this credential"),
                retry_after_secs: left,
            });
        }
        Ok(())
    }
}
