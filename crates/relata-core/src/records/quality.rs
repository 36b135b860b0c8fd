//! Data quality of records: a record's score, and the weakest records of an object — the
//! ones a data steward (or a rep, for their own) should complete first. The ranking runs in
//! the database over the caller's visible records: the score is a sum of `CASE` terms, one
//! per key field, so the weakest come first without reading every record into memory.

use std::sync::Arc;

use relata_domain::access::Operation;
use relata_domain::meta::ObjectDef;
use relata_domain::quality::{KeyField, Quality, key_fields, score};
use relata_domain::{FieldError, FieldErrorCode, Record};
use relata_store::Sql;
use relata_store::ddl::table_name;

use super::{Bin, read};
use crate::{Actor, Core, CoreError, fields};

/// Most records the weakest-records view returns.
pub const MAX_WEAKEST: usize = 200;

/// The key fields of `object` the actor may see: a hidden field neither counts nor shows.
fn visible_keys(actor: &Actor, object: &ObjectDef) -> Vec<KeyField> {
    key_fields(object)
        .into_iter()
        .map(|k| KeyField {
            any_of: k
                .any_of
                .into_iter()
                .filter(|f| fields::readable(actor, object, f))
                .collect(),
            weight: k.weight,
        })
        .filter(|k| !k.any_of.is_empty())
        .collect()
}

impl Core {
    /// The score of a record the actor has read (and that was redacted for them).
    pub fn quality_of(&self, actor: &Actor, object: &ObjectDef, record: &Record) -> Quality {
        score(&visible_keys(actor, object), record)
    }

    /// A visible record's data-quality score.
    pub async fn record_quality(
        &self,
        actor: &Actor,
        object: &str,
        id: uuid::Uuid,
    ) -> Result<Quality, CoreError> {
        let def = self.object(object)?;
        let record = self.get_record(actor, object, id).await?;
        Ok(score(&visible_keys(actor, &def), &record))
    }

    /// The live visible records of `object` with the lowest scores, weakest first (newest
    /// first among equals).
    pub async fn weakest_records(
        &self,
        actor: &Actor,
        object: &str,
        limit: usize,
    ) -> Result<(Arc<ObjectDef>, Vec<(Record, Quality)>), CoreError> {
        let def = self.object(object)?;
        if limit == 0 || limit > MAX_WEAKEST {
            return Err(FieldError::new(
                "limit",
                FieldErrorCode::TooLarge,
                format!("must be between 1 and {MAX_WEAKEST}"),
            )
            .into());
        }
        let vis = self.visibility(actor, &def, Operation::Read)?;
        let keys = visible_keys(actor, &def);
        let obj = def.clone();
        let sql_keys = keys.clone();
        let mut records = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {} FROM {} t WHERE 1=1",
                    read::select_list(&obj, "t."),
                    table_name(&obj)
                ));
                read::push_bin(&mut sql, Bin::Live, "t.");
                vis.push(&mut sql, "t.");
                sql.push(" ORDER BY ");
                // No key fields (a custom object of yes/no boxes, or every key field hidden):
                // every record scores 100 and only age orders them. A bare `(0)` would not do —
                // both databases read a constant integer in ORDER BY as a column position.
                if !sql_keys.is_empty() {
                    let terms: Vec<String> = sql_keys
                        .iter()
                        .map(|k| {
                            let filled: Vec<String> = k
                                .any_of
                                .iter()
                                .map(|f| format!("t.{f} IS NOT NULL"))
                                .collect();
                            format!(
                                "CASE WHEN {} THEN {} ELSE 0 END",
                                filled.join(" OR "),
                                k.weight
                            )
                        })
                        .collect();
                    sql.push(&format!("({}) ASC, ", terms.join(" + ")));
                }
                sql.push(&format!("t.created_at DESC, t.id DESC LIMIT {limit}"));
                conn.query(&sql.text, &sql.params)?
                    .iter()
                    .map(|row| read::decode_row(&obj, row))
                    .collect::<Result<Vec<Record>, CoreError>>()
            })
            .await?;
        for r in &mut records {
            fields::redact(actor, &def, r);
        }
        let scored = records
            .into_iter()
            .map(|r| {
                let q = score(&keys, &r);
                (r, q)
            })
            .collect();
        Ok((def, scored))
    }
}
