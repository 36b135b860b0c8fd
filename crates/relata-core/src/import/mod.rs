//! Importing CSV and XLSX files into any object: the file is read as rows of text
//! ([`source`]), each column is mapped to a field ([`mapping`]) and each cell read as that
//! field's value ([`transform`]); the rows then go through the record service in batches as a
//! background job whose every row leaves a ledger entry, so a job can be resumed after a crash,
//! reported on row by row, and undone.

pub mod job;
pub mod mapping;
pub mod report;
pub mod run;
pub mod source;
pub mod transform;
mod undo;

pub use job::{
    ImportJob, ImportMode, ImportOptions, ImportPreview, ImportRequest, ImportStatus, OnDuplicate,
};
pub use report::ImportRow;
