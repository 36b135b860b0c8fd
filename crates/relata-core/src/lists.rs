//! Lists of records of one object, for campaigns, call lists and reviews: **static** lists,
//! whose members are added and removed by hand, and **dynamic** lists (segments), a saved
//! filter whose members are whatever matches it now — "accounts in 上海 that have an open
//! opportunity over ¥100,000". Both are read through the one filter language: `in_list <id>`
//! selects a list's members in any list, count, aggregate or export, and a segment's
//! condition is substituted where it is named (so segments may build on other lists).
//!
//! Lists are shared with everyone who may read their object (each still sees only the
//! records visible to them); the owner or an admin changes one.

use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::filter::{Filter, json as filter_json};
use relata_domain::ids::uuid_v7_at;
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::{Conn, Sql, SqlValue, dialect::placeholders};

use crate::records::{Bin, ListRequest};
use crate::tags::{checked_ids, checked_name, require_records};
use crate::{Actor, Core, CoreError};

const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// Segments built on segments are expanded this many levels deep at most (a cycle stops here).
const MAX_EXPANSION: usize = 4;
/// Most conditions and listed values a filter may hold once its segments are expanded (a
/// segment naming segments multiplies; the databases bind at most ~32,000 parameters).
const MAX_EXPANDED_TERMS: usize = 5_000;
/// A list's count stops here; the UI shows "100,000+".
pub const LIST_COUNT_CAP: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Static,
    Dynamic,
}

impl ListKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ListKind::Static => "static",
            ListKind::Dynamic => "dynamic",
        }
    }

    pub fn parse(s: &str) -> Option<ListKind> {
        match s {
            "static" => Some(ListKind::Static),
            "dynamic" | "segment" => Some(ListKind::Dynamic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordList {
    pub id: Uuid,
    pub object: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: ListKind,
    /// A segment's condition, in the JSON form of the filter language.
    pub filter: Option<serde_json::Value>,
    pub owner_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Members the caller may see, up to [`LIST_COUNT_CAP`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl RecordList {
    /// The condition selecting the list's members.
    pub fn members_filter(&self) -> Filter {
        Filter::InList(self.id.to_string())
    }
}

/// What a create or an edit sets; `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct ListChange {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    /// A segment's new condition.
    pub filter: Option<Filter>,
}

const COLUMNS: &str =
    "id, object, name, description, kind, filter, owner_id, created_at, updated_at";

fn list_of(r: &[SqlValue]) -> Option<RecordList> {
    Some(RecordList {
        id: r[0].as_uuid()?,
        object: r[1].as_str()?.to_owned(),
        name: r[2].as_str()?.to_owned(),
        description: r[3].as_str().map(str::to_owned),
        kind: ListKind::parse(r[4].as_str()?)?,
        filter: Some(crate::records::json_of(&r[5])).filter(|j| !j.is_null()),
        owner_id: r[6].as_uuid(),
        created_at: r[7].as_timestamp()?,
        updated_at: r[8].as_timestamp()?,
        count: None,
    })
}

fn load_many(conn: &mut dyn Conn, ids: &[Uuid]) -> Result<Vec<RecordList>, CoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_lists WHERE id"));
    crate::visibility::push_in_list(&mut sql, ids);
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| list_of(r))
        .collect())
}

fn checked_description(d: Option<String>) -> Result<Option<String>, CoreError> {
    let d = d.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if d.as_ref()
        .is_some_and(|s| s.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(FieldError::new(
            "description",
            Code::TooLong,
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        )
        .into());
    }
    Ok(d)
}

/// The list ids a filter names with `in_list` (those that parse as ids).
fn named_lists(filter: &Filter, out: &mut Vec<Uuid>) {
    match filter {
        Filter::And(items) | Filter::Or(items) => items.iter().for_each(|f| named_lists(f, out)),
        Filter::Not(inner) => named_lists(inner, out),
        Filter::Related { filter, .. } => named_lists(filter, out),
        Filter::InList(id) => {
            if let Ok(id) = Uuid::parse_str(id.trim())
                && !out.contains(&id)
            {
                out.push(id);
            }
        }
        Filter::Cond { .. } | Filter::Tagged(_) => {}
    }
}

/// The conditions and listed values of a filter: what it costs the database to bind.
fn terms(filter: &Filter) -> usize {
    match filter {
        Filter::And(items) | Filter::Or(items) => items.iter().map(terms).sum(),
        Filter::Not(inner) => terms(inner),
        Filter::Related { filter, .. } => 1 + terms(filter),
        Filter::Cond { value, .. } => value.as_array().map_or(1, Vec::len).max(1),
        Filter::Tagged(_) | Filter::InList(_) => 1,
    }
}

/// `filter` with each `in_list` of a segment replaced by the segment's condition.
fn substitute(filter: Filter, segments: &[(Uuid, Filter)]) -> Filter {
    match filter {
        Filter::And(items) => {
            Filter::And(items.into_iter().map(|f| substitute(f, segments)).collect())
        }
        Filter::Or(items) => {
            Filter::Or(items.into_iter().map(|f| substitute(f, segments)).collect())
        }
        Filter::Not(inner) => Filter::Not(Box::new(substitute(*inner, segments))),
        Filter::Related {
            object,
            via,
            exists,
            filter,
        } => Filter::Related {
            object,
            via,
            exists,
            filter: Box::new(substitute(*filter, segments)),
        },
        Filter::InList(id) => {
            let parsed = Uuid::parse_str(id.trim()).ok();
            match segments.iter().find(|(s, _)| Some(*s) == parsed) {
                Some((_, condition)) => condition.clone(),
                None => Filter::InList(id),
            }
        }
        other => other,
    }
}

impl Core {
    /// `filter` with the segments it names (`in_list`) replaced by their conditions, so the
    /// database answers them like any other condition. A segment of another object is
    /// refused; an unknown list matches nothing (it may have been deleted since).
    pub async fn expand_lists(&self, object: &str, filter: Filter) -> Result<Filter, CoreError> {
        let mut filter = filter;
        for round in 0..=MAX_EXPANSION {
            let mut ids = Vec::new();
            named_lists(&filter, &mut ids);
            if ids.is_empty() {
                return Ok(filter);
            }
            if round == MAX_EXPANSION {
                break;
            }
            let lists = self.store.read(move |conn| load_many(conn, &ids)).await?;
            let mut segments = Vec::new();
            for list in lists {
                let Some(stored) = list
                    .filter
                    .as_ref()
                    .filter(|_| list.kind == ListKind::Dynamic)
                else {
                    continue;
                };
                // a related-record condition's own object is checked when it is typed
                if list.object != object && !mentions_related(&filter, &list.id) {
                    return Err(FieldError::new(
                        "filter",
                        Code::InvalidFilter,
                        format!(
                            "list {} holds {} records, not {object}",
                            list.id, list.object
                        ),
                    )
                    .into());
                }
                segments.push((list.id, filter_json::parse(stored)?));
            }
            if segments.is_empty() {
                return Ok(filter);
            }
            filter = substitute(filter, &segments);
            if terms(&filter) > MAX_EXPANDED_TERMS {
                return Err(FieldError::new(
                    "filter",
                    Code::TooLarge,
                    format!(
                        "with its segments expanded the filter has more than {MAX_EXPANDED_TERMS} conditions and values"
                    ),
                )
                .into());
            }
        }
        Err(FieldError::new(
            "filter",
            Code::InvalidFilter,
            format!("segments build on each other more than {MAX_EXPANSION} levels deep (or in a circle)"),
        )
        .into())
    }

    /// The lists of `object` (of every object the caller may read when `None`), by name, with
    /// their counts when `counted`.
    pub async fn lists(
        &self,
        actor: &Actor,
        object: Option<&str>,
        counted: bool,
    ) -> Result<Vec<RecordList>, CoreError> {
        if let Some(o) = object {
            actor.require(self.object(o)?.name(), Operation::Read)?;
        }
        let wanted = object.map(str::to_owned);
        let mut lists: Vec<RecordList> = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!("SELECT {COLUMNS} FROM sys_lists WHERE 1=1"));
                if let Some(o) = wanted {
                    sql.push(" AND object = ");
                    sql.param(SqlValue::Text(o));
                }
                sql.push(" ORDER BY object, name, id LIMIT 1000");
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| list_of(r))
                        .collect(),
                )
            })
            .await?;
        lists.retain(|l| actor.may(&l.object, Operation::Read));
        for list in &mut lists {
            self.redact_condition(actor, list).await;
        }
        if counted {
            for list in &mut lists {
                list.count = self.list_count(actor, list).await.ok();
            }
        }
        Ok(lists)
    }

    /// A list the caller may see, with its count.
    pub async fn record_list(&self, actor: &Actor, id: Uuid) -> Result<RecordList, CoreError> {
        let mut list = self
            .store
            .read(move |conn| load_many(conn, &[id]))
            .await?
            .pop()
            .filter(|l| actor.may(&l.object, Operation::Read))
            .ok_or_else(|| CoreError::not_found(format!("list {id}")))?;
        self.redact_condition(actor, &mut list).await;
        list.count = Some(self.list_count(actor, &list).await?);
        Ok(list)
    }

    /// Hides a segment's condition from a caller who could not write it: one naming a field
    /// hidden from them would otherwise show the field and the value it looks for.
    async fn redact_condition(&self, actor: &Actor, list: &mut RecordList) {
        let Some(stored) = &list.filter else {
            return;
        };
        let readable = match (filter_json::parse(stored), self.object(&list.object)) {
            (Ok(f), Ok(def)) => self.type_filter_for(actor, &def, Some(&f)).await.is_ok(),
            _ => false,
        };
        if !readable {
            list.filter = None;
        }
    }

    /// How many members of `list` the caller may see, up to [`LIST_COUNT_CAP`].
    pub async fn list_count(&self, actor: &Actor, list: &RecordList) -> Result<u64, CoreError> {
        let req = ListRequest {
            filter: Some(list.members_filter()),
            sort: None,
            limit: Some(1),
            cursor: None,
            count: true,
            count_cap: Some(LIST_COUNT_CAP),
            bin: Some(Bin::Live),
        };
        let (_, page) = self.list_records(actor, &list.object, req).await?;
        Ok(page.total.unwrap_or(0).max(0) as u64)
    }

    /// Creates a list of `object`; a segment needs a condition, checked as the caller's.
    pub async fn create_list(
        &self,
        actor: &Actor,
        object: &str,
        kind: ListKind,
        change: ListChange,
    ) -> Result<RecordList, CoreError> {
        let def = self.object(object)?;
        actor.require(def.name(), Operation::Read)?;
        let name = checked_name(change.name.as_deref().unwrap_or_default(), MAX_NAME_CHARS)?;
        let description = checked_description(change.description.flatten())?;
        let filter = match (kind, change.filter) {
            (ListKind::Dynamic, Some(f)) => {
                Some(self.checked_condition(actor, def.name(), f).await?)
            }
            (ListKind::Dynamic, None) => {
                return Err(FieldError::new(
                    "filter",
                    Code::Required,
                    "a segment needs a condition",
                )
                .into());
            }
            (ListKind::Static, Some(_)) => {
                return Err(FieldError::new(
                    "filter",
                    Code::InvalidOption,
                    "a static list has members, not a condition; make it dynamic",
                )
                .into());
            }
            (ListKind::Static, None) => None,
        };
        let now = self.clock.now();
        let list = RecordList {
            id: uuid_v7_at(now),
            object: def.name().to_owned(),
            name,
            description,
            kind,
            filter,
            owner_id: Some(actor.user_id.0),
            created_at: now,
            updated_at: now,
            count: None,
        };
        let (l, who) = (list.clone(), actor.into());
        self.store
            .write(move |conn| {
                conn.execute(
                    &format!(
                        "INSERT INTO sys_lists ({COLUMNS}) VALUES ({})",
                        placeholders(conn.dialect(), 1, 9)
                    ),
                    &[
                        SqlValue::Uuid(l.id),
                        SqlValue::Text(l.object.clone()),
                        SqlValue::Text(l.name.clone()),
                        l.description.clone().map_or(SqlValue::Null, SqlValue::Text),
                        SqlValue::Text(l.kind.as_str().to_owned()),
                        l.filter.clone().map_or(SqlValue::Null, SqlValue::Json),
                        l.owner_id.map_or(SqlValue::Null, SqlValue::Uuid),
                        SqlValue::Timestamp(now),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "list.create",
                    None,
                    serde_json::json!({"list_id": l.id.to_string(), "object": l.object, "name": l.name, "kind": l.kind.as_str()}),
                )
            })
            .await?;
        Ok(list)
    }

    /// A condition for a segment of `object`, checked by typing it for the caller (so errors
    /// name the field), in its stored JSON form.
    async fn checked_condition(
        &self,
        actor: &Actor,
        object: &str,
        filter: Filter,
    ) -> Result<serde_json::Value, CoreError> {
        let def = self.object(object)?;
        self.type_filter_for(actor, &def, Some(&filter)).await?;
        Ok(filter_json::to_json(&filter))
    }

    /// A list the caller may change: theirs, or any with the metadata capability.
    async fn changeable_list(&self, actor: &Actor, id: Uuid) -> Result<RecordList, CoreError> {
        let list = self
            .store
            .read(move |conn| load_many(conn, &[id]))
            .await?
            .pop()
            .filter(|l| actor.may(&l.object, Operation::Read))
            .ok_or_else(|| CoreError::not_found(format!("list {id}")))?;
        if list.owner_id != Some(actor.user_id.0) {
            actor.require_capability(Capability::ManageMetadata)?;
        }
        Ok(list)
    }

    /// Renames a list, changes its description or (a segment's) condition.
    pub async fn update_list(
        &self,
        actor: &Actor,
        id: Uuid,
        change: ListChange,
    ) -> Result<RecordList, CoreError> {
        let mut list = self.changeable_list(actor, id).await?;
        if let Some(n) = &change.name {
            list.name = checked_name(n, MAX_NAME_CHARS)?;
        }
        if let Some(d) = change.description {
            list.description = checked_description(d)?;
        }
        if let Some(f) = change.filter {
            if list.kind == ListKind::Static {
                return Err(FieldError::new(
                    "filter",
                    Code::InvalidOption,
                    "a static list has members, not a condition",
                )
                .into());
            }
            list.filter = Some(self.checked_condition(actor, &list.object, f).await?);
        }
        list.updated_at = self.clock.now();
        let (l, who) = (list.clone(), actor.into());
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_lists SET name = ");
                sql.param(SqlValue::Text(l.name.clone()));
                sql.push(", description = ");
                sql.param(l.description.clone().map_or(SqlValue::Null, SqlValue::Text));
                sql.push(", filter = ");
                sql.param(l.filter.clone().map_or(SqlValue::Null, SqlValue::Json));
                sql.push(", updated_at = ");
                sql.param(SqlValue::Timestamp(l.updated_at));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(l.id));
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    l.updated_at,
                    "list.update",
                    None,
                    serde_json::json!({"list_id": l.id.to_string(), "name": l.name, "filter": l.filter}),
                )
            })
            .await?;
        Ok(list)
    }

    /// Deletes a list (its members stay as they are; only the list goes).
    pub async fn delete_list(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let list = self.changeable_list(actor, id).await?;
        let (now, who) = (self.clock.now(), actor.into());
        self.store
            .write(move |conn| {
                for (table, column) in [("sys_list_members", "list_id"), ("sys_lists", "id")] {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push(&format!("DELETE FROM {table} WHERE {column} = "));
                    sql.param(SqlValue::Uuid(list.id));
                    conn.execute(&sql.text, &sql.params)?;
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "list.delete",
                    None,
                    serde_json::json!({"list_id": list.id.to_string(), "object": list.object, "name": list.name}),
                )
            })
            .await
    }

    /// Adds records the caller may see to a static list they may change; members already in
    /// it stay. Answers how many were new.
    pub async fn add_to_list(
        &self,
        actor: &Actor,
        id: Uuid,
        ids: &[Uuid],
    ) -> Result<u64, CoreError> {
        self.change_members(actor, id, ids, true).await
    }

    /// Takes records out of a static list. Answers how many were members.
    pub async fn remove_from_list(
        &self,
        actor: &Actor,
        id: Uuid,
        ids: &[Uuid],
    ) -> Result<u64, CoreError> {
        self.change_members(actor, id, ids, false).await
    }

    async fn change_members(
        &self,
        actor: &Actor,
        id: Uuid,
        ids: &[Uuid],
        add: bool,
    ) -> Result<u64, CoreError> {
        let list = self.changeable_list(actor, id).await?;
        if list.kind == ListKind::Dynamic {
            return Err(CoreError::Conflict {
                code: "dynamic_list",
                message: "a segment's members are what matches its condition; change the condition"
                    .into(),
            });
        }
        let def = self.object(&list.object)?;
        let vis = self.visibility(actor, &def, Operation::Read)?;
        let ids = checked_ids(ids)?;
        let (now, who, me) = (self.clock.now(), actor.into(), actor.user_id.0);
        self.store
            .write(move |conn| {
                // both ways only records the caller sees: a count of removed members must not
                // tell them about others
                require_records(conn, &def, &ids, &vis, None)?;
                let mut changed = 0;
                for rid in &ids {
                    changed += if add {
                        conn.execute(
                            &format!(
                                "INSERT INTO sys_list_members (list_id, record_id, added_by, added_at) VALUES ({}) ON CONFLICT DO NOTHING",
                                placeholders(conn.dialect(), 1, 4)
                            ),
                            &[
                                SqlValue::Uuid(list.id),
                                SqlValue::Uuid(*rid),
                                SqlValue::Uuid(me),
                                SqlValue::Timestamp(now),
                            ],
                        )?
                    } else {
                        let mut sql = Sql::new(conn.dialect());
                        sql.push("DELETE FROM sys_list_members WHERE list_id = ");
                        sql.param(SqlValue::Uuid(list.id));
                        sql.push(" AND record_id = ");
                        sql.param(SqlValue::Uuid(*rid));
                        conn.execute(&sql.text, &sql.params)?
                    };
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    if add { "list.add" } else { "list.remove" },
                    None,
                    serde_json::json!({"list_id": list.id.to_string(), "records": ids.iter().map(Uuid::to_string).collect::<Vec<_>>(), "changed": changed}),
                )?;
                Ok(changed)
            })
            .await
    }
}

/// Whether list `id` is named inside a related-record condition of `filter` (whose object
/// differs from the filter's own).
fn mentions_related(filter: &Filter, id: &Uuid) -> bool {
    match filter {
        Filter::And(items) | Filter::Or(items) => items.iter().any(|f| mentions_related(f, id)),
        Filter::Not(inner) => mentions_related(inner, id),
        Filter::Related { filter, .. } => {
            let mut ids = Vec::new();
            named_lists(filter, &mut ids);
            ids.contains(id)
        }
        _ => false,
    }
}
