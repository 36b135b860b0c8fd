//! Tests of the relata binary and its commands: serve, config, backup, copy, export and import, tokens.
//!
//! One test binary for the whole crate: each module was its own binary before, and each
//! linked the whole server again (~140 MB of debug build apiece). nextest still runs every
//! test in a process of its own, so tests share no state through the process.

mod backup;
mod common;
mod config;
mod db_copy;
mod export_import;
mod serve;
mod token;
mod two_servers;
mod worker_crash;
