//! Relata's domain: the types and rules of the CRM with no I/O, no async runtime and no SQL.
//!
//! Everything here is pure so it can be property-tested and reused by every layer:
//! ids and the injected clock, API names, object and field metadata, typed field values and
//! their validation, the filter language (AST, parsers, in-memory evaluation) and the
//! normalisation rules of search. The dependency boundary is checked in CI:
//! this crate must never depend on rusqlite, postgres, axum or tokio.

pub mod access;
pub mod activity;
pub mod api_name;
pub mod assignment;
pub mod clock;
pub mod cn;
pub mod collection;
pub mod dedupe;
pub mod email;
pub mod error;
pub mod filter;
pub mod formula;
pub mod ids;
pub mod labels_zh;
pub mod lead;
pub mod meta;
pub mod numbering;
pub mod opportunity;
pub mod pool;
pub mod pricing;
pub mod quality;
pub mod record;
pub mod schedule;
pub mod search_terms;
pub mod standard;
pub mod targets;
pub mod value;
pub mod web_form;
pub mod workflow;

pub use api_name::ApiName;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{FieldError, FieldErrorCode};
pub use ids::{RecordId, UserId};
pub use meta::{FieldDef, FieldType, ObjectDef, PicklistValue, Schema, Sharing};
pub use record::Record;
pub use value::Value;
