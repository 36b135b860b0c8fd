//! Shared state of the web UI.

use std::sync::Arc;

use relata_core::Core;

#[derive(Clone)]
pub struct WebState {
    pub core: Arc<Core>,
}
