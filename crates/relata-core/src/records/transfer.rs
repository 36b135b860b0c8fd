//! Ownership transfer: give records — picked by id, or every record of a previous owner (a
//! rep who left) — to another user, optionally with their related records (an account's
//! contacts and opportunities that the previous owner also held). Each record changes through
//! the one write path, so history, the change feed and the search index follow; records the
//! actor may not edit are reported, not changed. All in one transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{FieldError, FieldErrorCode, Value};
use relata_store::{Conn, Sql, SqlValue};

use super::read::{self, Bin};
use super::{with_companions, write};
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::visibility::Visibility;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// The records to transfer …
    #[serde(default)]
    pub ids: Vec<Uuid>,
    /// … or every live record this user owns.
    #[serde(default)]
    pub from_owner: Option<Uuid>,
    pub to_owner: Uuid,
    /// Also transfer records that look these up and that the previous owner held.
    #[serde(default)]
    pub include_related: bool,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct TransferResult {
    /// Records transferred, by object (the requested object and related ones).
    pub transferred: BTreeMap<String, usize>,
    /// Requested ids that do not exist or that the actor may not edit.
    pub not_found: Vec<String>,
}

/// One object whose records may be transferred with the requested object's: its lookup
/// fields that target that object, and the actor's edit visibility on it.
struct Related {
    object: std::sync::Arc<ObjectDef>,
    fields: Vec<String>,
    vis: Visibility,
}

fn owned_ids(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    owner: Uuid,
    vis: &Visibility,
    limit: usize,
) -> Result<Vec<Uuid>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT id FROM {} WHERE deleted_at IS NULL AND owner_id = ",
        object.name()
    ));
    sql.param(SqlValue::Uuid(owner));
    vis.push(&mut sql, "");
    sql.push(&format!(" ORDER BY id LIMIT {}", limit + 1));
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| r[0].as_uuid())
        .collect())
}

/// Related records: live, editable, looking up one of `parents` through `field`, and owned by
/// the parent's previous owner.
fn related_ids(
    conn: &mut dyn Conn,
    rel: &Related,
    parents: &[(Uuid, Uuid)],
) -> Result<Vec<Uuid>, CoreError> {
    let mut out = Vec::new();
    for field in &rel.fields {
        for chunk in parents.chunks(500) {
            let mut sql = Sql::new(conn.dialect());
            sql.push(&format!(
                "SELECT id FROM {} WHERE deleted_at IS NULL AND (",
                rel.object.name()
            ));
            for (i, (parent, old_owner)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.push(&format!("({field} = "));
                sql.param(SqlValue::Uuid(*parent));
                sql.push(" AND owner_id = ");
                sql.param(SqlValue::Uuid(*old_owner));
                sql.push(")");
            }
            sql.push(")");
            rel.vis.push(&mut sql, "");
            out.extend(
                conn.query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| r[0].as_uuid()),
            );
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

impl Core {
    /// Transfers records of `object` to another owner.
    pub async fn transfer_ownership(
        &self,
        actor: &Actor,
        object: &str,
        input: TransferInput,
    ) -> Result<TransferResult, CoreError> {
        let object = self.object(object)?;
        let vis = self.full_access(actor, &object)?;
        // the owner is a field like any other: one who may not edit it may not transfer
        let owner_editable = |o: &ObjectDef| {
            crate::fields::check_editable(actor, o, &json!({"owner_id": null})).is_empty()
        };
        if !owner_editable(&object) {
            return Err(FieldError::new(
                "owner_id",
                FieldErrorCode::ReadOnly,
                "you may not edit this field",
            )
            .into());
        }
        let limit = self.settings.bulk_limit;
        if input.ids.is_empty() == input.from_owner.is_none() {
            return Err(FieldError::new(
                "ids",
                FieldErrorCode::Required,
                "give either ids or from_owner",
            )
            .into());
        }
        if input.ids.len() > limit {
            return Err(FieldError::new(
                "ids",
                FieldErrorCode::TooLarge,
                format!("at most {limit} records per call"),
            )
            .into());
        }
        let snapshot = self.access_snapshot();
        if !snapshot
            .users
            .get(&input.to_owner)
            .is_some_and(|u| u.active)
        {
            return Err(FieldError::new(
                "to_owner",
                FieldErrorCode::LookupNotFound,
                "no such active user",
            )
            .into());
        }
        let related: Vec<Related> = if input.include_related {
            let schema = self.schema();
            schema
                .objects()
                // other objects only: child accounts do not follow their parent account
                .filter(|o| o.name() != object.name() && actor.may(o.name(), Operation::Edit))
                .filter(|o| owner_editable(o))
                .filter_map(|o| {
                    let fields: Vec<String> = o
                        .live_fields()
                        .filter(|f| {
                            f.field_type == FieldType::Lookup
                                && f.target
                                    .as_ref()
                                    .is_some_and(|t| t.as_str() == object.name())
                        })
                        .map(|f| f.name().to_owned())
                        .collect();
                    if fields.is_empty() {
                        return None;
                    }
                    let vis = self.full_access(actor, o).ok()?;
                    Some(Related {
                        object: o.clone(),
                        fields,
                        vis,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let now = self.clock.now();
        let writer = actor.clone();
        let who = crate::audit::Who::from(actor);
        self.store
            .write_large(move |conn| {
                let ids = match input.from_owner {
                    Some(owner) => {
                        let ids = owned_ids(conn, &object, owner, &vis, limit)?;
                        if ids.len() > limit {
                            return Err(CoreError::BadRequest {
                                code: "too_many_records",
                                message: format!("the user owns more than {limit} {} records: transfer them in several calls", object.name()),
                            });
                        }
                        ids
                    }
                    None => input.ids.clone(),
                };
                let mut result = TransferResult::default();
                let mut moved: Vec<(Uuid, Uuid)> = Vec::new();
                let owner_change = |to: Uuid| BTreeMap::from([("owner_id".to_owned(), Value::Ref(to))]);
                for id in ids {
                    let Some(current) = read::get_for_update(conn, &object, id, &vis, Bin::Live)? else {
                        result.not_found.push(id.to_string());
                        continue;
                    };
                    let old_owner = match current.get("owner_id") {
                        Value::Ref(u) => *u,
                        _ => Uuid::nil(),
                    };
                    if old_owner != input.to_owner {
                        with_companions(conn, |conn, side| write::update(conn, side, &object, &writer, now, current, owner_change(input.to_owner)))?;
                        *result.transferred.entry(object.name().to_owned()).or_default() += 1;
                    }
                    moved.push((id, old_owner));
                }
                for rel in &related {
                    for id in related_ids(conn, rel, &moved)? {
                        let Some(current) = read::get_for_update(conn, &rel.object, id, &rel.vis, Bin::Live)? else {
                            continue;
                        };
                        if current.get("owner_id") == &Value::Ref(input.to_owner) {
                            continue;
                        }
                        with_companions(conn, |conn, side| write::update(conn, side, &rel.object, &writer, now, current, owner_change(input.to_owner)))?;
                        *result.transferred.entry(rel.object.name().to_owned()).or_default() += 1;
                    }
                }
                let total: usize = result.transferred.values().sum();
                if total > 0 && input.to_owner != writer.user_id.0 {
                    crate::notifications::append(
                        conn,
                        input.to_owner,
                        crate::notifications::TRANSFERRED,
                        Some(object.name()),
                        None,
                        Some(writer.user_id.0),
                        json!({"transferred": result.transferred, "total": total}),
                        now,
                    )?;
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "record.transfer",
                    None,
                    json!({"object": object.name(), "to_owner": input.to_owner, "from_owner": input.from_owner, "transferred": result.transferred, "not_found": result.not_found.len()}),
                )?;
                Ok(result)
            })
            .await
    }
}
