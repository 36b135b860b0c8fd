//! Integration tests of the server through its HTTP API, pages and ports.
//!
//! One test binary for the whole crate: each module was its own binary before, and each
//! linked the whole server again (~140 MB of debug build apiece). nextest still runs every
//! test in a process of its own, so tests share no state through the process.

mod access_api;
mod access_flows;
mod accounts;
mod activities;
mod assignment;
mod attachments;
mod auth;
mod bad_input;
mod bulk;
mod changes;
mod common;
mod duplicate_jobs;
mod duplicate_rules;
mod duplicates;
mod email;
mod export;
mod filter_property;
mod filter_regressions;
mod idempotency;
mod import;
mod jobs;
mod leads;
mod line_items;
mod mail_imap;
mod mail_smtp;
mod merge;
mod metadata;
mod observability;
mod openapi;
mod opportunities;
mod permission_oracle;
mod pools;
mod quality;
mod quotes;
mod records;
mod reminders;
mod schema_parity;
mod search;
mod search_index;
mod search_property;
mod segments;
mod timeline;
mod ui_state_api;
mod upgrade;
mod visibility;
mod web_actions;
mod web_activities;
mod web_approvals;
mod web_board;
mod web_browser;
mod web_dashboard;
mod web_email;
mod web_forms;
mod web_groups;
mod web_import;
mod web_leads;
mod web_pages;
mod web_pipelines;
mod web_pools;
mod web_settings;
mod webhooks;
mod workflows;
