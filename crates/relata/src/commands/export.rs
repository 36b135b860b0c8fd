//! `relata export --object O [--out FILE]`: every live record of one object as JSON Lines, one
//! record per line in the API's flat JSON form, oldest first. Pages through the list with its
//! keyset cursor, so memory stays flat however many records there are.
//!
//! Each page is its own read: records changed during a long export appear as they were when
//! their page was read. For one consistent snapshot of everything, use `relata backup`.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context;
use relata_core::records::ListRequest;
use relata_core::{Actor, Source};
use relata_domain::UserId;

use super::{core_error, open_core, runtime};
use crate::cli::ExportArgs;
use crate::config::Config;

/// Records per page.
const PAGE: usize = 1000;

pub fn run(config: &Config, args: &ExportArgs) -> anyhow::Result<()> {
    let core = open_core(config)?;
    core.object(&args.object).map_err(core_error)?;
    // Reads need no user row: an administrator actor sees every record, and this one never
    // writes (so export works on a database without users, or a read-only one).
    let actor = Actor::superuser(UserId(uuid::Uuid::nil()), Source::System);
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let page_size = PAGE.min(config.max_page_size);
    let rt = runtime()?;
    let mut cursor = None;
    let mut count = 0u64;
    loop {
        let request = ListRequest {
            sort: Some("id".into()),
            limit: Some(page_size),
            cursor: cursor.take(),
            ..Default::default()
        };
        let (object, page) = rt
            .block_on(core.list_records(&actor, &args.object, request))
            .map_err(core_error)?;
        for record in &page.records {
            serde_json::to_writer(&mut out, &record.to_json(&object, None))?;
            out.write_all(b"\n")?;
        }
        count += page.records.len() as u64;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush().context("cannot write the export")?;
    tracing::info!(object = %args.object, records = count, "exported");
    core.store.close();
    Ok(())
}
