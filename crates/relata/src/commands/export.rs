//! `relata export --object O [--format jsonl|csv|xlsx|vcf] [--out FILE]`: every live record
//! of one object, oldest first, through the same export as the API's (JSON Lines in the API's
//! flat JSON form by default, one record per line). Pages through the list with its keyset
//! cursor, so memory stays flat however many records there are. Unlike a user's export
//! it writes nothing to the database (no audit entry): it must work on a backup file as it is.
//!
//! Each page is its own read: records changed during a long export appear as they were when
//! their page was read. For one consistent snapshot of everything, use `relata backup`.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context;
use relata_core::export::{ExportFormat, ExportRequest};
use relata_core::{Actor, Source};
use relata_domain::UserId;

use super::{core_error, open_core, runtime};
use crate::cli::ExportArgs;
use crate::config::Config;

pub fn run(config: &Config, args: &ExportArgs) -> anyhow::Result<()> {
    let core = open_core(config)?;
    let format = ExportFormat::parse(&args.format).map_err(core_error)?;
    // Reads need no user row: an administrator actor sees every record (so export works on
    // a database without users).
    let actor = Actor::superuser(UserId(uuid::Uuid::nil()), Source::System);
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let rt = runtime()?;
    let request = ExportRequest {
        sort: Some("id".into()),
        audited: false,
        ..ExportRequest::new(format)
    };
    let mut export = rt
        .block_on(core.export(&actor, &args.object, request))
        .map_err(core_error)?;
    while let Some(bytes) = rt.block_on(export.next_chunk()).map_err(core_error)? {
        out.write_all(&bytes).context("cannot write the export")?;
    }
    out.flush().context("cannot write the export")?;
    core.store.close();
    Ok(())
}
