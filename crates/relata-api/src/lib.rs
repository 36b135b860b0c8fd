//! Relata's REST API (axum). Handlers are thin: parse the request, call one service in
//! relata-core, shape the response. Errors become RFC 7807 problem+json in one place
//! (`problem.rs`).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use relata_core::Core;

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The whole HTTP application: `/api/v1/…`, `/healthz`, `/metrics`, docs.
pub fn router(core: Arc<Core>, opts: ApiOptions) -> Router {
    let _ = (core, opts);
    Router::new().route("/healthz", get(|| async { "ok" }))
}
