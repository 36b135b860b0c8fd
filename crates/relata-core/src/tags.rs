//! Tags: short labels with a colour, per object ("VIP", "重点客户", "2026 展会"), that anyone who
//! may edit a record puts on it and anyone who may see it filters by (`tagged VIP`). A tag is
//! created by its first use; renaming, recolouring and deleting it is for its creator or an
//! admin. Counts are of the records the caller may see.

use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::ids::uuid_v7_at;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::ddl::table_name;
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use crate::records::read;
use crate::visibility::{Visibility, push_in_list};
use crate::{Actor, Core, CoreError};

/// The colours a tag may have; the UI draws each from its own palette.
pub const TAG_COLOURS: [&str; 9] = [
    "grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink",
];
/// Most records one request tags or untags.
pub const MAX_TAGGED_AT_ONCE: usize = 1_000;
const MAX_NAME_CHARS: usize = 50;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tag {
    pub id: Uuid,
    pub object: String,
    pub name: String,
    pub colour: String,
    pub created_by: Option<Uuid>,
    /// Live records carrying it that the caller may see (in lists of tags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

const COLUMNS: &str = "tg.id, tg.object, tg.name, tg.colour, tg.created_by";

fn tag_of(r: &[SqlValue]) -> Option<Tag> {
    Some(Tag {
        id: r[0].as_uuid()?,
        object: r[1].as_str()?.to_owned(),
        name: r[2].as_str()?.to_owned(),
        colour: r[3].as_str()?.to_owned(),
        created_by: r[4].as_uuid(),
        count: None,
    })
}

/// A tag's or a list's name, trimmed: 1 to `max` characters, no control characters.
pub(crate) fn checked_name(name: &str, max: usize) -> Result<String, CoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            Code::InvalidName,
            format!("must be 1-{max} characters"),
        )
        .into());
    }
    Ok(name.to_owned())
}

fn checked_colour(colour: &str) -> Result<String, CoreError> {
    if TAG_COLOURS.contains(&colour) {
        Ok(colour.to_owned())
    } else {
        Err(FieldError::new(
            "colour",
            Code::InvalidOption,
            format!("must be one of {}", TAG_COLOURS.join(", ")),
        )
        .into())
    }
}

fn load(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Tag>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_tags tg WHERE tg.id = "));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .as_deref()
        .and_then(tag_of))
}

fn by_name(conn: &mut dyn Conn, object: &str, name: &str) -> Result<Option<Tag>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {COLUMNS} FROM sys_tags tg WHERE tg.object = "
    ));
    sql.param(SqlValue::Text(object.to_owned()));
    sql.push(" AND tg.name = ");
    sql.param(SqlValue::Text(name.to_owned()));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .as_deref()
        .and_then(tag_of))
}

/// Every one of `ids` is a live record the caller may see (else not found, naming it) and,
/// with `edit`, may edit (else forbidden): a request acts on all of them or on none.
pub(crate) fn require_records(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    ids: &[Uuid],
    read_vis: &Visibility,
    edit_vis: Option<&Visibility>,
) -> Result<(), CoreError> {
    let seen = read::get_many(conn, object, ids, read_vis)?;
    if let Some(missing) = ids.iter().find(|id| !seen.contains_key(id)) {
        return Err(CoreError::not_found(format!("{} {missing}", object.name())));
    }
    if let Some(vis) = edit_vis {
        let editable = read::get_many(conn, object, ids, vis)?;
        if let Some(locked) = ids.iter().find(|id| !editable.contains_key(id)) {
            return Err(CoreError::Forbidden {
                message: format!("you may not edit {} {locked}", object.name()),
            });
        }
    }
    Ok(())
}

/// The ids of a request, without repeats, within the per-request bound.
pub(crate) fn checked_ids(ids: &[Uuid]) -> Result<Vec<Uuid>, CoreError> {
    let mut out: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    if out.is_empty() || out.len() > MAX_TAGGED_AT_ONCE {
        return Err(FieldError::new(
            "ids",
            Code::TooLarge,
            format!("give 1-{MAX_TAGGED_AT_ONCE} record ids"),
        )
        .into());
    }
    Ok(out)
}

impl Core {
    /// The tags of `object`, by name, each with the number of visible live records carrying it.
    pub async fn tags(&self, actor: &Actor, object: &str) -> Result<Vec<Tag>, CoreError> {
        let def = self.object(object)?;
        let vis = self.visibility(actor, &def, Operation::Read)?;
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {COLUMNS}, (SELECT COUNT(*) FROM sys_record_tags rt JOIN {} t ON t.id = rt.record_id \
                     WHERE rt.tag_id = tg.id AND t.deleted_at IS NULL",
                    table_name(&def)
                ));
                vis.push(&mut sql, "t.");
                sql.push(") FROM sys_tags tg WHERE tg.object = ");
                sql.param(SqlValue::Text(def.name().to_owned()));
                sql.push(" ORDER BY tg.name LIMIT 1000");
                Ok(conn
                    .query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| {
                        let mut t = tag_of(r)?;
                        t.count = r.get(5).and_then(SqlValue::as_i64);
                        Some(t)
                    })
                    .collect())
            })
            .await
    }

    /// The tags on a record the caller may see, by name.
    pub async fn record_tags(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<Vec<Tag>, CoreError> {
        let def = self.object(object)?;
        let vis = self.visibility(actor, &def, Operation::Read)?;
        self.store
            .read(move |conn| {
                require_records(conn, &def, &[id], &vis, None)?;
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {COLUMNS} FROM sys_tags tg JOIN sys_record_tags rt ON rt.tag_id = tg.id \
                     WHERE rt.record_id = "
                ));
                sql.param(SqlValue::Uuid(id));
                sql.push(" AND tg.object = ");
                sql.param(SqlValue::Text(def.name().to_owned()));
                sql.push(" ORDER BY tg.name");
                Ok(conn
                    .query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| tag_of(r))
                    .collect())
            })
            .await
    }

    /// Puts the tag `name` of `object` on each of `ids` (records the caller may edit),
    /// creating the tag — in `colour`, grey if none — when the object has none of that name.
    /// Records already carrying it are left as they are.
    pub async fn tag_records(
        &self,
        actor: &Actor,
        object: &str,
        ids: &[Uuid],
        name: &str,
        colour: Option<&str>,
    ) -> Result<Tag, CoreError> {
        let def = self.object(object)?;
        let read_vis = self.visibility(actor, &def, Operation::Read)?;
        let edit_vis = self.visibility(actor, &def, Operation::Edit)?;
        let ids = checked_ids(ids)?;
        let name = checked_name(name, MAX_NAME_CHARS)?;
        let colour = checked_colour(colour.unwrap_or("grey"))?;
        let (now, who, me) = (self.clock.now(), actor.into(), actor.user_id.0);
        self.store
            .write(move |conn| {
                require_records(conn, &def, &ids, &read_vis, Some(&edit_vis))?;
                let tag = match by_name(conn, def.name(), &name)? {
                    Some(t) => t,
                    None => {
                        let t = Tag {
                            id: uuid_v7_at(now),
                            object: def.name().to_owned(),
                            name: name.clone(),
                            colour,
                            created_by: Some(me),
                            count: None,
                        };
                        conn.execute(
                            &format!(
                                "INSERT INTO sys_tags (id, object, name, colour, created_by, created_at) VALUES ({})",
                                placeholders(conn.dialect(), 1, 6)
                            ),
                            &[
                                SqlValue::Uuid(t.id),
                                SqlValue::Text(t.object.clone()),
                                SqlValue::Text(t.name.clone()),
                                SqlValue::Text(t.colour.clone()),
                                SqlValue::Uuid(me),
                                SqlValue::Timestamp(now),
                            ],
                        )?;
                        t
                    }
                };
                let insert = format!(
                    "INSERT INTO sys_record_tags (tag_id, record_id, tagged_by, tagged_at) VALUES ({}) ON CONFLICT DO NOTHING",
                    placeholders(conn.dialect(), 1, 4)
                );
                for id in &ids {
                    conn.execute(
                        &insert,
                        &[
                            SqlValue::Uuid(tag.id),
                            SqlValue::Uuid(*id),
                            SqlValue::Uuid(me),
                            SqlValue::Timestamp(now),
                        ],
                    )?;
                }
                audit_tagging(conn, &who, now, "tag.add", &def, &tag, &ids)?;
                Ok(tag)
            })
            .await
    }

    /// Takes the tag `tag_id` off each of `ids` (records the caller may edit).
    pub async fn untag_records(
        &self,
        actor: &Actor,
        tag_id: Uuid,
        ids: &[Uuid],
    ) -> Result<(), CoreError> {
        let tag = self.tag(tag_id).await?;
        let def = self.object(&tag.object)?;
        let read_vis = self.visibility(actor, &def, Operation::Read)?;
        let edit_vis = self.visibility(actor, &def, Operation::Edit)?;
        let ids = checked_ids(ids)?;
        let (now, who) = (self.clock.now(), actor.into());
        self.store
            .write(move |conn| {
                require_records(conn, &def, &ids, &read_vis, Some(&edit_vis))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_record_tags WHERE tag_id = ");
                sql.param(SqlValue::Uuid(tag.id));
                sql.push(" AND record_id");
                push_in_list(&mut sql, &ids);
                conn.execute(&sql.text, &sql.params)?;
                audit_tagging(conn, &who, now, "tag.remove", &def, &tag, &ids)
            })
            .await
    }

    async fn tag(&self, id: Uuid) -> Result<Tag, CoreError> {
        self.store
            .read(move |conn| load(conn, id))
            .await?
            .ok_or_else(|| CoreError::not_found(format!("tag {id}")))
    }

    /// A tag the caller may change: theirs, or any with the metadata capability; they must
    /// also be able to read its object.
    async fn changeable_tag(&self, actor: &Actor, id: Uuid) -> Result<Tag, CoreError> {
        let tag = self.tag(id).await?;
        if !actor.may(&tag.object, Operation::Read) {
            return Err(CoreError::not_found(format!("tag {id}")));
        }
        if tag.created_by != Some(actor.user_id.0) {
            actor.require_capability(Capability::ManageMetadata)?;
        }
        Ok(tag)
    }

    /// Renames or recolours a tag.
    pub async fn update_tag(
        &self,
        actor: &Actor,
        id: Uuid,
        name: Option<&str>,
        colour: Option<&str>,
    ) -> Result<Tag, CoreError> {
        let mut tag = self.changeable_tag(actor, id).await?;
        if let Some(n) = name {
            tag.name = checked_name(n, MAX_NAME_CHARS)?;
        }
        if let Some(c) = colour {
            tag.colour = checked_colour(c)?;
        }
        let (t, now, who) = (tag.clone(), self.clock.now(), actor.into());
        self.store
            .write(move |conn| {
                if by_name(conn, &t.object, &t.name)?.is_some_and(|other| other.id != t.id) {
                    return Err(CoreError::from(FieldError::new(
                        "name",
                        Code::AlreadyExists,
                        format!("'{}' already has a tag '{}'", t.object, t.name),
                    )));
                }
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_tags SET name = ");
                sql.param(SqlValue::Text(t.name.clone()));
                sql.push(", colour = ");
                sql.param(SqlValue::Text(t.colour.clone()));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(t.id));
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "tag.update",
                    None,
                    serde_json::json!({"tag_id": t.id.to_string(), "object": t.object, "name": t.name, "colour": t.colour}),
                )
            })
            .await?;
        Ok(tag)
    }

    /// Deletes a tag and takes it off every record.
    pub async fn delete_tag(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let tag = self.changeable_tag(actor, id).await?;
        let (now, who) = (self.clock.now(), actor.into());
        self.store
            .write(move |conn| {
                for table in ["sys_record_tags", "sys_tags"] {
                    let column = if table == "sys_tags" { "id" } else { "tag_id" };
                    let mut sql = Sql::new(conn.dialect());
                    sql.push(&format!("DELETE FROM {table} WHERE {column} = "));
                    sql.param(SqlValue::Uuid(tag.id));
                    conn.execute(&sql.text, &sql.params)?;
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "tag.delete",
                    None,
                    serde_json::json!({"tag_id": tag.id.to_string(), "object": tag.object, "name": tag.name}),
                )
            })
            .await
    }
}

fn audit_tagging(
    conn: &mut dyn Conn,
    who: &crate::audit::Who,
    now: chrono::DateTime<chrono::Utc>,
    action: &str,
    object: &ObjectDef,
    tag: &Tag,
    ids: &[Uuid],
) -> Result<(), CoreError> {
    for id in ids {
        crate::audit::append(
            conn,
            who,
            now,
            action,
            Some((object.name(), *id)),
            serde_json::json!({"tag_id": tag.id.to_string(), "tag": tag.name}),
        )?;
    }
    Ok(())
}
