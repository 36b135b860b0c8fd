//! Undoing an import, from its ledger, last row first: a record the import created goes to
//! the recycle bin, a record it updated gets back the values the import replaced. A record
//! someone changed after the import wrote it is left alone (their change would be lost) and
//! its row is marked `kept`. Each batch commits with the ledger rows it settled, so an undo
//! interrupted by a crash resumes where it stopped.

use std::collections::HashMap;

use uuid::Uuid;

use relata_domain::access::Operation;
use relata_store::dialect::placeholders;
use relata_store::{Conn, SqlValue};

use super::job::{ImportJob, ImportStatus, json_of};
use super::run::BATCH;
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::companions::Companions;
use crate::records::{read, write};

impl Core {
    pub(crate) async fn undo_rows(
        &self,
        job: &ImportJob,
        actor: &Actor,
        batches: Option<usize>,
        progress: &(dyn Fn(&ImportJob) + Sync),
    ) -> Result<(), CoreError> {
        let object = self.object(&job.object)?;
        let vis = self.visibility(actor, &object, Operation::Delete)?;
        let ctx = self.parse_context();
        // versions this undo gave records, so the earlier rows of a record written twice
        // by the import still match
        let mut produced: HashMap<Uuid, i64> = HashMap::new();
        let mut done = 0usize;
        loop {
            if batches.is_some_and(|n| done >= n) {
                return Ok(());
            }
            let (object, vis, ctx, actor, id) = (
                object.clone(),
                vis.clone(),
                ctx.clone(),
                actor.clone(),
                job.id,
            );
            let now = self.clock.now();
            let mut versions = std::mem::take(&mut produced);
            let (more, versions) = self
                .store
                .write_large(move |conn| {
                    let d = conn.dialect();
                    let status = conn
                        .query_one(&format!("SELECT status FROM sys_import_jobs WHERE id = {}", placeholders(d, 1, 1)), &[SqlValue::Uuid(id)])?
                        .and_then(|r| r[0].as_str().map(str::to_owned));
                    if status.as_deref() != Some(ImportStatus::Undoing.as_str()) {
                        return Ok((false, versions));
                    }
                    let rows = conn.query(
                        &format!(
                            "SELECT row_number, outcome, record_id, version, previous FROM sys_import_rows WHERE job_id = {} AND outcome IN ('created', 'updated') ORDER BY row_number DESC LIMIT {BATCH}",
                            placeholders(d, 1, 1)
                        ),
                        &[SqlValue::Uuid(id)],
                    )?;
                    if rows.is_empty() {
                        return Ok((false, versions));
                    }
                    let mut side = Companions::new();
                    let mut settled: Vec<(i64, &'static str)> = Vec::with_capacity(rows.len());
                    for r in rows {
                        let number = r[0].as_i64().unwrap_or(0);
                        let created = r[1].as_str() == Some("created");
                        let (Some(record_id), Some(version)) = (r[2].as_uuid(), r[3].as_i64()) else {
                            settled.push((number, "kept"));
                            continue;
                        };
                        let current = read::get_for_update(conn, &object, record_id, &vis, read::Bin::Live)?;
                        let Some(current) = current else {
                            // already in the recycle bin or gone: nothing left to undo
                            settled.push((number, if created { "undone" } else { "kept" }));
                            continue;
                        };
                        let untouched = current.version() == version || versions.get(&record_id) == Some(&current.version());
                        if !untouched {
                            settled.push((number, "kept"));
                            continue;
                        }
                        let after = if created {
                            write::set_deleted(conn, &mut side, &object, &actor, now, &current, true)?
                        } else {
                            let previous = json_of(&r[4]);
                            let values = write::parse_input(&object, &previous, &ctx, false, false).map_err(CoreError::Validation)?;
                            write::update(conn, &mut side, &object, &actor, now, current, values)?
                        };
                        versions.insert(record_id, after.version());
                        settled.push((number, "undone"));
                    }
                    side.flush(conn)?;
                    settle(conn, id, &settled, now)?;
                    Ok::<_, CoreError>((true, versions))
                })
                .await?;
            produced = versions;
            done += 1;
            if !more {
                break;
            }
            if let Some(j) = self
                .store
                .read(move |conn| super::job::load_job(conn, id))
                .await?
            {
                progress(&j);
            }
        }
        self.finish(job.id, ImportStatus::Undoing, ImportStatus::Undone)
            .await?;
        let id = job.id;
        if let Some(j) = self
            .store
            .read(move |conn| super::job::load_job(conn, id))
            .await?
        {
            progress(&j);
        }
        Ok(())
    }
}

/// Marks ledger rows undone or kept, and beats the job's heart.
fn settle(
    conn: &mut dyn Conn,
    job: Uuid,
    rows: &[(i64, &'static str)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    let d = conn.dialect();
    let sql = format!(
        "UPDATE sys_import_rows SET outcome = {} WHERE job_id = {} AND row_number = {}",
        placeholders(d, 1, 1),
        placeholders(d, 2, 1),
        placeholders(d, 3, 1)
    );
    for (number, outcome) in rows {
        conn.execute(
            &sql,
            &[
                SqlValue::Text((*outcome).into()),
                SqlValue::Uuid(job),
                SqlValue::Int(*number),
            ],
        )?;
    }
    conn.execute(
        &format!(
            "UPDATE sys_import_jobs SET heartbeat_at = {} WHERE id = {}",
            placeholders(d, 1, 1),
            placeholders(d, 2, 1)
        ),
        &[SqlValue::Timestamp(now), SqlValue::Uuid(job)],
    )?;
    Ok(())
}
