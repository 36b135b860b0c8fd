//! What the web UI keeps per user: saved list views (private, or shared with everyone who
//! may read the object — each viewer still sees only their own records through them) and
//! the records a user opened last. Neither holds record data: a view is a list URL's query,
//! a recent item a record id whose name is read, with visibility, when shown.

use serde::Serialize;
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::{FieldError, FieldErrorCode as Code};
use relata_store::{Sql, SqlValue, dialect::placeholders};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// How many recent items a user keeps.
const RECENT_KEPT: i64 = 50;
const MAX_QUERY: usize = 4_000;
/// Parameters of a list URL that belong to one visit, never to a saved view: the page's
/// position, the view it came from, and a one-time message with its signature.
const TRANSIENT_PARAMS: [&str; 4] = ["cursor", "view", "outcome", "sig"];

/// A list URL's query without its transient parameters.
fn view_query(query: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
                .filter(|(k, _)| !TRANSIENT_PARAMS.contains(&k.as_ref())),
        )
        .finish()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SavedView {
    pub id: Uuid,
    pub object: String,
    pub name: String,
    pub owner_id: Uuid,
    pub shared: bool,
    pub query: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecentItem {
    pub object: String,
    pub record_id: Uuid,
    pub viewed_at: chrono::DateTime<chrono::Utc>,
}

fn view_of(r: &[SqlValue]) -> Option<SavedView> {
    Some(SavedView {
        id: r[0].as_uuid()?,
        object: r[1].as_str()?.to_owned(),
        name: r[2].as_str()?.to_owned(),
        owner_id: r[3].as_uuid()?,
        shared: r[4].as_bool().unwrap_or(false),
        query: r[5].as_str().unwrap_or_default().to_owned(),
    })
}

impl Core {
    /// The viewer's own views of `object` and those others shared, by name.
    pub async fn saved_views(
        &self,
        actor: &Actor,
        object: &str,
    ) -> Result<Vec<SavedView>, CoreError> {
        let object = self.object(object)?;
        actor.require(object.name(), Operation::Read)?;
        let (name, me) = (object.name().to_owned(), actor.user_id.0);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, object, name, owner_id, shared, query FROM sys_saved_views WHERE object = ");
                sql.param(SqlValue::Text(name));
                sql.push(" AND (owner_id = ");
                sql.param(SqlValue::Uuid(me));
                sql.push(" OR shared = ");
                sql.param(SqlValue::Bool(true));
                sql.push(") ORDER BY name, id LIMIT 200");
                Ok::<_, CoreError>(conn.query(&sql.text, &sql.params)?.iter().filter_map(|r| view_of(r)).collect())
            })
            .await
    }

    /// Saves a list view of `object` under `name`; a view of the same name and owner is
    /// replaced.
    pub async fn save_view(
        &self,
        actor: &Actor,
        object: &str,
        name: &str,
        query: &str,
        shared: bool,
    ) -> Result<SavedView, CoreError> {
        let object = self.object(object)?;
        actor.require(object.name(), Operation::Read)?;
        let name = name.trim().to_owned();
        let mut errors = Vec::new();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "name",
                Code::InvalidName,
                "must be 1-100 characters",
            ));
        }
        if query.len() > MAX_QUERY {
            errors.push(FieldError::new(
                "query",
                Code::TooLong,
                format!("at most {MAX_QUERY} bytes"),
            ));
        }
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let view = SavedView {
            id: relata_domain::ids::uuid_v7_at(self.clock.now()),
            object: object.name().to_owned(),
            name,
            owner_id: actor.user_id.0,
            shared,
            query: view_query(query),
        };
        let (v, now) = (view.clone(), self.clock.now());
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_saved_views WHERE object = ");
                sql.param(SqlValue::Text(v.object.clone()));
                sql.push(" AND owner_id = ");
                sql.param(SqlValue::Uuid(v.owner_id));
                sql.push(" AND name = ");
                sql.param(SqlValue::Text(v.name.clone()));
                conn.execute(&sql.text, &sql.params)?;
                conn.execute(
                    &format!(
                        "INSERT INTO sys_saved_views (id, object, name, owner_id, shared, query, created_at) VALUES ({})",
                        placeholders(conn.dialect(), 1, 7)
                    ),
                    &[
                        SqlValue::Uuid(v.id),
                        SqlValue::Text(v.object),
                        SqlValue::Text(v.name),
                        SqlValue::Uuid(v.owner_id),
                        SqlValue::Bool(v.shared),
                        SqlValue::Text(v.query),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(view)
    }

    /// Deletes a saved view: its owner may, and an administrator of metadata.
    pub async fn delete_view(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let me = actor.user_id.0;
        let admin = actor.access.has(Capability::ManageMetadata) && actor.scopes.is_none();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_saved_views WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                if !admin {
                    sql.push(" AND owner_id = ");
                    sql.param(SqlValue::Uuid(me));
                }
                if conn.execute(&sql.text, &sql.params)? == 0 {
                    return Err(CoreError::not_found(format!("view {id}")));
                }
                Ok(())
            })
            .await
    }

    /// Notes that the actor opened a record (the newest of their recent items).
    pub async fn note_recent(
        &self,
        actor: &Actor,
        object: &str,
        record: Uuid,
    ) -> Result<(), CoreError> {
        let (me, now, object) = (actor.user_id.0, self.clock.now(), object.to_owned());
        self.store
            .write(move |conn| {
                let d = conn.dialect();
                conn.execute(
                    &format!(
                        "INSERT INTO sys_recent_items (user_id, object, record_id, viewed_at) VALUES ({}) \
                         ON CONFLICT (user_id, record_id) DO UPDATE SET viewed_at = excluded.viewed_at",
                        placeholders(d, 1, 4)
                    ),
                    &[
                        SqlValue::Uuid(me),
                        SqlValue::Text(object),
                        SqlValue::Uuid(record),
                        SqlValue::Timestamp(now),
                    ],
                )?;
                let mut sql = Sql::new(d);
                sql.push("DELETE FROM sys_recent_items WHERE user_id = ");
                sql.param(SqlValue::Uuid(me));
                sql.push(" AND record_id NOT IN (SELECT record_id FROM sys_recent_items WHERE user_id = ");
                sql.param(SqlValue::Uuid(me));
                sql.push(&format!(" ORDER BY viewed_at DESC LIMIT {RECENT_KEPT})"));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// The actor's recently opened records, newest first (names are read by the caller, with
    /// visibility).
    pub async fn recent_items(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> Result<Vec<RecentItem>, CoreError> {
        let me = actor.user_id.0;
        let limit = limit.clamp(1, RECENT_KEPT as usize);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(
                    "SELECT object, record_id, viewed_at FROM sys_recent_items WHERE user_id = ",
                );
                sql.param(SqlValue::Uuid(me));
                sql.push(&format!(" ORDER BY viewed_at DESC LIMIT {limit}"));
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| {
                            Some(RecentItem {
                                object: r[0].as_str()?.to_owned(),
                                record_id: r[1].as_uuid()?,
                                viewed_at: r[2].as_timestamp()?,
                            })
                        })
                        .collect(),
                )
            })
            .await
    }
}
