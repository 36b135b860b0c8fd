//! One module per resource. Each handler parses, calls one service, and shapes the answer.

pub mod admin;
pub mod assignment;
pub mod attachments;
pub mod auth;
pub mod changes;
pub mod duplicate_jobs;
pub mod duplicates;
pub mod email;
pub mod export;
pub mod hierarchy;
pub mod imports;
pub mod jobs;
pub mod lists;
pub mod me;
pub mod merge;
pub mod meta;
pub mod quality;
pub mod records;
pub mod search;
pub mod system;
pub mod tags;
pub mod timeline;
pub mod views;
pub mod web_forms;
pub mod webhooks;
pub mod workflows;
