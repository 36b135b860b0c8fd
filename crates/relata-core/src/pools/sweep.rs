//! The reclaim sweep (a recurring job): what a rep has not followed up within a pool's
//! rule returns to the pool, and its owner is warned the rule's days before.
//!
//! Which records are due is one query per pool and rule, on a reader; each due record then
//! returns through the one write path (history, change event), [`BATCH`] per transaction
//! and checked again there, so a sweep of a million accounts never holds the writer long.
//! A warning is bookkeeping: a notification, a line of history and the date it was
//! sent, so it goes once per owner and follow-up.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use relata_domain::UserId;
use relata_domain::meta::ObjectDef;
use relata_domain::pool::{self, ReclaimRule, action};
use relata_store::dialect::placeholder;
use relata_store::{Conn, SqlValue};

use super::moves::{log, release};
use super::{Pool, load};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::read::{self, Bin};
use crate::records::with_companions;
use crate::visibility::Visibility;

/// Records returned per transaction: a batch holds the writer about a quarter of a second.
/// Fewer, larger commits rewrite each touched index page less often: over 1,000,000
/// accounts 2,000 swept in 24 s where 500 and 1,000 took 28 s.
pub const BATCH: usize = 2_000;
/// Owners warned per transaction (a warning is three small writes).
const WARN_BATCH: usize = 2_000;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub warned: usize,
    pub reclaimed: usize,
}

/// The condition, over an object's table, of owned records a pool's rule governs that have
/// gone without a follow-up (or won deal) since `cutoff` given by `days_back`.
struct Due {
    sql: String,
    params: Vec<SqlValue>,
}

impl Due {
    fn new(conn: &dyn Conn, pool: &Pool, object: &ObjectDef, rule: &ReclaimRule) -> Due {
        let mut due = Due {
            sql: String::new(),
            params: Vec::new(),
        };
        due.sql
            .push_str("owner_id IS NOT NULL AND deleted_at IS NULL");
        if object.name() == relata_domain::lead::OBJECT {
            due.sql.push_str(&format!(
                " AND ({s} IS NULL OR {s} <> '{c}')",
                s = relata_domain::lead::STATUS,
                c = relata_domain::lead::CONVERTED
            ));
        }
        let p = due.param(conn, SqlValue::Uuid(pool.id));
        if pool.is_default {
            due.sql.push_str(&format!(
                " AND ({} = {p} OR {} IS NULL)",
                pool::POOL_ID,
                pool::POOL_ID
            ));
        } else {
            due.sql.push_str(&format!(" AND {} = {p}", pool::POOL_ID));
        }
        let level = pool::level_field(object.name());
        match &rule.level {
            Some(l) => {
                let p = due.param(conn, SqlValue::Text(l.clone()));
                due.sql.push_str(&format!(" AND {level} = {p}"));
            }
            None => {
                let named = pool.rules.named_levels();
                if !named.is_empty() {
                    let list: Vec<String> = named
                        .into_iter()
                        .map(|l| due.param(conn, SqlValue::Text(l)))
                        .collect();
                    due.sql.push_str(&format!(
                        " AND ({level} IS NULL OR {level} NOT IN ({}))",
                        list.join(", ")
                    ));
                }
            }
        }
        due
    }

    fn param(&mut self, conn: &dyn Conn, value: SqlValue) -> String {
        self.params.push(value);
        placeholder(conn.dialect(), self.params.len())
    }

    /// ` AND (` at least the rule's days without a follow-up or won deal, by any of its
    /// measures `)`, the days shortened by `ahead` (the warning).
    fn quiet_since(&mut self, conn: &dyn Conn, rule: &ReclaimRule, now: DateTime<Utc>, ahead: u32) {
        let mut parts = Vec::new();
        for (days, column) in [
            (rule.no_follow_up_days, pool::LAST_ACTIVITY_AT),
            (rule.no_won_deal_days, pool::LAST_WON_AT),
        ] {
            let Some(days) = days else { continue };
            let cutoff = now - Duration::days(i64::from(days) - i64::from(ahead));
            let p = self.param(conn, SqlValue::Timestamp(cutoff));
            parts.push(format!(
                "(COALESCE({o}, created_at) <= {p} AND ({column} IS NULL OR {column} <= {p}))",
                o = pool::OWNED_SINCE
            ));
        }
        if parts.is_empty() {
            self.sql.push_str(" AND 1=0");
        } else {
            self.sql.push_str(&format!(" AND ({})", parts.join(" OR ")));
        }
    }
}

/// The ids of the due records, found in one query: the sweep then works through them a
/// batch at a time, each batch checking its records again as it writes them. (Searching
/// again for every batch, with or without a resume point, grew with the square of the due
/// records: 212–331 s for 100,000 of 1,000,000 accounts.)
fn due_ids(conn: &mut dyn Conn, table: &str, due: &Due) -> Result<Vec<Uuid>, CoreError> {
    let rows = conn.query(
        &format!("SELECT id FROM {table} WHERE {}", due.sql),
        &due.params,
    )?;
    let mut ids: Vec<Uuid> = rows.iter().filter_map(|r| r[0].as_uuid()).collect();
    ids.sort_unstable(); // each batch then walks the table's pages in key order
    Ok(ids)
}

/// Those of `ids` still due, with their owners, as this transaction sees them. The records
/// are found by their keys and the condition is evaluated on each as a column: in the
/// `WHERE` clause beside the keys, the planner walked the pool index through every due
/// record for each batch instead (20 of the 44 s of a sweep over 1,000,000 accounts).
fn still_due(
    conn: &mut dyn Conn,
    table: &str,
    due: &Due,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, CoreError> {
    let mut params = due.params.clone();
    let mut list = Vec::with_capacity(ids.len());
    for id in ids {
        params.push(SqlValue::Uuid(*id));
        list.push(placeholder(conn.dialect(), params.len()));
    }
    let rows = conn.query(
        &format!(
            "SELECT id, owner_id, CASE WHEN {} THEN 1 ELSE 0 END FROM {table} WHERE id IN ({})",
            due.sql,
            list.join(", ")
        ),
        &params,
    )?;
    Ok(rows
        .iter()
        .filter(|r| r[2].as_i64() == Some(1))
        .filter_map(|r| Some((r[0].as_uuid()?, r[1].as_uuid()?)))
        .collect())
}

impl Core {
    /// Warns and reclaims across every pool, as of the clock's now.
    pub async fn sweep_pools(&self) -> Result<SweepReport, CoreError> {
        let pools = self.store.read(|conn| load(conn, None)).await?;
        // one instant for the whole sweep: every batch judges by the same cutoffs
        let now = self.clock.now();
        let mut report = SweepReport::default();
        for pool in pools {
            let object = self.object(&pool.object)?;
            let writer = Actor::system(UserId(pool.created_by));
            for rule in &pool.rules.reclaim {
                report.reclaimed += self.reclaim(&pool, &object, rule, &writer, now).await?;
                if let Some(ahead) = rule.warn_days_before {
                    report.warned += self.warn(&pool, &object, rule, ahead, now).await?;
                }
            }
        }
        if report.warned + report.reclaimed > 0 {
            tracing::info!(
                warned = report.warned,
                reclaimed = report.reclaimed,
                "pools swept"
            );
        }
        Ok(report)
    }

    /// Finds the records `due` selects on a reader, then hands them to `each` `size` at a
    /// time, each batch in its own write transaction and checked again there. Answers how
    /// many `each` handled.
    async fn in_batches<D, E>(
        &self,
        table: &str,
        size: usize,
        due: D,
        each: E,
    ) -> Result<usize, CoreError>
    where
        D: Fn(&dyn Conn) -> Due + Clone + Send + 'static,
        E: Fn(&mut dyn Conn, &[(Uuid, Uuid)]) -> Result<(), CoreError> + Clone + Send + 'static,
    {
        let ids = {
            let (due, table) = (due.clone(), table.to_owned());
            self.store
                .read(move |conn| {
                    let due = due(&*conn);
                    due_ids(conn, &table, &due)
                })
                .await?
        };
        let mut total = 0;
        for batch in ids.chunks(size) {
            let (due, each, table, batch) =
                (due.clone(), each.clone(), table.to_owned(), batch.to_vec());
            total += self
                .store
                .write(move |conn| {
                    let due = due(&*conn);
                    let found = still_due(conn, &table, &due, &batch)?;
                    each(conn, &found)?;
                    Ok::<_, CoreError>(found.len())
                })
                .await?;
        }
        Ok(total)
    }

    async fn reclaim(
        &self,
        pool: &Pool,
        object: &std::sync::Arc<ObjectDef>,
        rule: &ReclaimRule,
        writer: &Actor,
        now: DateTime<Utc>,
    ) -> Result<usize, CoreError> {
        let due = {
            let (pool, object, rule) = (pool.clone(), object.clone(), rule.clone());
            move |conn: &dyn Conn| {
                let mut due = Due::new(conn, &pool, &object, &rule);
                due.quiet_since(conn, &rule, now, 0);
                due
            }
        };
        let (pool, object, writer) = (pool.clone(), object.clone(), writer.clone());
        let table = relata_store::ddl::table_name(&object).to_owned();
        self.in_batches(&table, BATCH, due, move |conn, found| {
            with_companions(conn, |conn, side| {
                for (id, owner) in found {
                    let Some(record) =
                        read::get_for_update(conn, &object, *id, &Visibility::All, Bin::Live)?
                    else {
                        continue;
                    };
                    release(conn, side, &object, &writer, now, record, pool.id)?;
                    log(
                        conn,
                        pool.id,
                        object.name(),
                        *id,
                        action::RECLAIMED,
                        Some(*owner),
                        None,
                        None,
                        now,
                    )?;
                    crate::notifications::append(
                        conn,
                        *owner,
                        "pool_reclaimed",
                        Some(object.name()),
                        Some(*id),
                        None,
                        serde_json::json!({"pool": pool.id, "pool_name": pool.name}),
                        now,
                    )?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn warn(
        &self,
        pool: &Pool,
        object: &std::sync::Arc<ObjectDef>,
        rule: &ReclaimRule,
        ahead: u32,
        now: DateTime<Utc>,
    ) -> Result<usize, CoreError> {
        let due = {
            let (pool, object, rule) = (pool.clone(), object.clone(), rule.clone());
            move |conn: &dyn Conn| {
                let mut due = Due::new(conn, &pool, &object, &rule);
                due.quiet_since(conn, &rule, now, ahead);
                // once per owner and follow-up: a new owner or a follow-up since re-arms it
                due.sql.push_str(&format!(
                    " AND ({w} IS NULL OR ({a} IS NOT NULL AND {w} < {a}))",
                    w = pool::WARNED_AT,
                    a = pool::LAST_ACTIVITY_AT,
                ));
                due
            }
        };
        let (pool, object) = (pool.clone(), object.clone());
        let table = relata_store::ddl::table_name(&object).to_owned();
        self.in_batches(&table.clone(), WARN_BATCH, due, move |conn, found| {
            let d = conn.dialect();
            let sql = format!(
                "UPDATE {table} SET {} = {} WHERE id = {}",
                pool::WARNED_AT,
                placeholder(d, 1),
                placeholder(d, 2)
            );
            for (id, owner) in found {
                conn.execute(&sql, &[SqlValue::Timestamp(now), SqlValue::Uuid(*id)])?;
                log(conn, pool.id, object.name(), *id, action::WARNED, Some(*owner), None, None, now)?;
                crate::notifications::append(
                    conn,
                    *owner,
                    "pool_warning",
                    Some(object.name()),
                    Some(*id),
                    None,
                    serde_json::json!({"pool": pool.id, "pool_name": pool.name, "days_left": ahead}),
                    now,
                )?;
            }
            Ok(())
        })
        .await
    }
}
