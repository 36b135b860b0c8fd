//! Relata's workers: they claim due jobs from the queue (`relata_store::jobs`), run each with
//! the handler of its kind, record how it ended — done, retried later with a growing wait, or
//! dead-lettered after its last try — and fire recurring schedules. `relata serve` runs them
//! beside the HTTP server; `relata worker` runs them alone, so busy installations can put
//! them on machines of their own (on PostgreSQL, any number of processes share one queue).

pub mod handlers;
pub mod runner;

pub use handlers::{Handler, Handlers, JobError};
pub use runner::{Runner, RunnerOptions};
