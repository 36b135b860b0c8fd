//! The 360° timeline of a record: one chronological stream of everything about an account,
//! a contact or any other record — its creation, its field changes, and the records that
//! point at it (tasks, notes, opportunities, contacts, custom objects; later modules add
//! emails, tickets, payments and campaign responses through [`TimelineSource`]).
//!
//! Every source reads its items newest first from an index, with the caller's visibility in
//! the query; a page merges the sources' first `limit + 1` items before the cursor, so the
//! first page of an account with 10,000 items costs a few short index range scans, not a
//! sort of everything.

mod sources;

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::Conn;

use crate::records::{Bin, read};
use crate::{Actor, Core, CoreError};

pub use sources::{Creation, FieldChanges, RelatedRecords};

/// The kind of a field change item.
pub const FIELD_CHANGE: &str = "field_change";
/// The kind of the item for the record's own creation.
pub const CREATED: &str = "created";

/// One thing that happened to or around a record.
#[derive(Debug, Clone)]
pub struct TimelineItem {
    pub at: DateTime<Utc>,
    /// Unique across the timeline (a record id or a history entry id); with `at` it orders
    /// items that happened in the same microsecond and positions the cursor.
    pub id: Uuid,
    /// `created`, `field_change`, or the API name of the related object (`task`, `note`…).
    pub kind: String,
    /// The record the item opens: the related record, or the subject itself.
    pub object: String,
    pub record_id: Uuid,
    /// The related record's name, or the changed field's API name.
    pub title: String,
    pub actor: Option<Uuid>,
    /// Per kind: `{field, old_value, new_value}` for a change; the related record's visible
    /// fields for a related record; empty for the creation.
    pub detail: Json,
}

/// Where a page ended: items strictly older than this come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Position {
    fn of(item: &TimelineItem) -> Self {
        Position {
            at: item.at,
            id: item.id,
        }
    }

    /// A source's page in SQL: ` AND` rows older than `before` (when there is one), newest
    /// first, at most `limit`, by the source's time column `at` and its `id`.
    pub fn push_page(
        sql: &mut relata_store::Sql,
        at: &str,
        before: Option<Position>,
        limit: usize,
    ) {
        if let Some(b) = before {
            let a1 = sql.bind(relata_store::SqlValue::Timestamp(b.at));
            let a2 = sql.bind(relata_store::SqlValue::Timestamp(b.at));
            let id = sql.bind(relata_store::SqlValue::Uuid(b.id));
            sql.push(&format!(
                " AND ({at} < {a1} OR ({at} = {a2} AND id < {id}))"
            ));
        }
        sql.push(&format!(" ORDER BY {at} DESC, id DESC LIMIT {limit}"));
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(
            json!([
                relata_domain::value::format_datetime(&self.at),
                self.id.to_string()
            ])
            .to_string(),
        )
    }

    pub fn decode(text: &str) -> Result<Self, CoreError> {
        let bad = || {
            CoreError::bad_request(
                "invalid_cursor",
                "the cursor is not valid for this timeline; start again without it",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let json: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let arr = json.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
        let at = arr[0]
            .as_str()
            .and_then(relata_domain::value::parse_datetime)
            .ok_or_else(bad)?;
        let id = arr[1]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(bad)?;
        Ok(Position { at, id })
    }
}

/// A timeline request as the API received it.
#[derive(Debug, Clone, Default)]
pub struct TimelineRequest {
    /// Only these kinds; all when empty.
    pub kinds: Vec<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Debug)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub next_cursor: Option<String>,
    /// Every kind this timeline can hold for the caller, for a type filter.
    pub kinds: Vec<String>,
}

/// A contributor to timelines. A module registers one with [`Core::register_timeline_source`]
/// at start; for each request it plans what to read, outside the transaction (permissions,
/// metadata), and the plans then run together in one read.
pub trait TimelineSource: Send + Sync {
    /// The queries for a timeline of a record of `subject`, as `actor`: one per kind of item
    /// (or per lookup), none when nothing applies or the actor may read none of it.
    fn plan(
        &self,
        core: &Core,
        actor: &Actor,
        subject: &Arc<ObjectDef>,
    ) -> Result<Vec<Box<dyn TimelineQuery>>, CoreError>;
}

/// One planned read of a source.
pub trait TimelineQuery: Send {
    fn kind(&self) -> &str;
    /// At most `limit` items about `subject`, strictly older than `before`, newest first.
    fn read(
        &self,
        conn: &mut dyn Conn,
        subject: Uuid,
        before: Option<Position>,
        limit: usize,
    ) -> Result<Vec<TimelineItem>, CoreError>;
}

/// The registered sources.
pub(crate) struct Registry {
    sources: std::sync::RwLock<Vec<Arc<dyn TimelineSource>>>,
}

impl Registry {
    /// The standard sources: creation, field changes, and every object with a lookup to the
    /// subject among the standard activity and sales objects and all custom objects.
    pub(crate) fn standard() -> Self {
        let sources: Vec<Arc<dyn TimelineSource>> = vec![
            Arc::new(Creation),
            Arc::new(FieldChanges),
            Arc::new(RelatedRecords::standard(&[
                "task",
                "call",
                "meeting",
                "note",
                "opportunity",
                "contact",
            ])),
            Arc::new(RelatedRecords::custom_objects()),
        ];
        Registry {
            sources: std::sync::RwLock::new(sources),
        }
    }

    fn all(&self) -> Vec<Arc<dyn TimelineSource>> {
        self.sources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Most items one page may carry.
pub const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 50;

impl Core {
    /// Adds a source to every timeline (a module's emails, tickets, payments…).
    pub fn register_timeline_source(&self, source: Arc<dyn TimelineSource>) {
        self.timeline
            .sources
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(source);
    }

    /// A page of the timeline of a record the actor may see, newest first.
    pub async fn timeline(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
        req: TimelineRequest,
    ) -> Result<TimelinePage, CoreError> {
        let subject = self.object(object)?;
        let vis = self.visibility(actor, &subject, Operation::Read)?;
        let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(FieldError::new(
                "limit",
                FieldErrorCode::TooLarge,
                format!("must be between 1 and {MAX_LIMIT}"),
            )
            .into());
        }
        let before = req.cursor.as_deref().map(Position::decode).transpose()?;
        let mut queries = Vec::new();
        for source in self.timeline.all() {
            queries.extend(source.plan(self, actor, &subject)?);
        }
        let kinds: Vec<String> = queries
            .iter()
            .map(|q| q.kind().to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let wanted = wanted_kinds(&req.kinds, &kinds)?;
        queries.retain(|q| wanted.is_empty() || wanted.contains(q.kind()));
        let items = self
            .store
            .read(move |conn| {
                read::get(conn, &subject, id, &vis, Bin::Any)?
                    .ok_or_else(|| CoreError::not_found(format!("{} {id}", subject.name())))?;
                let mut items = Vec::new();
                for query in &queries {
                    items.extend(query.read(conn, id, before, limit + 1)?);
                }
                Ok::<_, CoreError>(items)
            })
            .await?;
        let (items, next) = newest(items, limit);
        Ok(TimelinePage {
            items,
            next_cursor: next.map(|p| p.encode()),
            kinds,
        })
    }
}

/// The kinds asked for, each checked against those the timeline can hold.
fn wanted_kinds(asked: &[String], known: &[String]) -> Result<BTreeSet<String>, CoreError> {
    let mut wanted = BTreeSet::new();
    for kind in asked.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if !known.iter().any(|k| k == kind) {
            return Err(FieldError::new(
                "kinds",
                FieldErrorCode::InvalidOption,
                format!(
                    "'{kind}' is not a kind of item on this timeline (known: {})",
                    known.join(", ")
                ),
            )
            .into());
        }
        wanted.insert(kind.to_owned());
    }
    Ok(wanted)
}

/// The newest `limit` items of what the sources returned, each once, and where the next
/// page starts when there is more. Each source returned at most `limit + 1` items, so any
/// item beyond the first `limit` of the merge proves there is more.
fn newest(mut items: Vec<TimelineItem>, limit: usize) -> (Vec<TimelineItem>, Option<Position>) {
    items.sort_by_key(|i| std::cmp::Reverse(Position::of(i)));
    // A record linked through two lookups (a task about an account and its contact on the
    // contact's own timeline never is; a custom object with two lookups to one target is) is
    // one item.
    items.dedup_by_key(|i| Position::of(i));
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(Position::of)
    } else {
        None
    };
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(secs: i64, id: u128) -> TimelineItem {
        TimelineItem {
            at: DateTime::from_timestamp(secs, 0).unwrap_or_default(),
            id: Uuid::from_u128(id),
            kind: "task".into(),
            object: "task".into(),
            record_id: Uuid::from_u128(id),
            title: String::new(),
            actor: None,
            detail: Json::Null,
        }
    }

    #[test]
    fn a_page_merges_sources_newest_first_and_knows_when_there_is_more() {
        let items = vec![
            item(10, 1),
            item(30, 2),
            item(20, 3),
            item(30, 4),
            item(5, 5),
        ];
        let (page, next) = newest(items, 3);
        let ids: Vec<u128> = page.iter().map(|i| i.id.as_u128()).collect();
        assert_eq!(
            ids,
            vec![4, 2, 3],
            "newest first, same time by id descending"
        );
        assert_eq!(next, Some(Position::of(&item(20, 3))));

        let (page, next) = newest(vec![item(1, 1), item(2, 2)], 2);
        assert_eq!(page.len(), 2);
        assert_eq!(next, None, "exactly a page: no next page");
    }

    #[test]
    fn the_same_item_from_two_lookups_is_shown_once() {
        let (page, _) = newest(vec![item(1, 7), item(1, 7), item(2, 8)], 10);
        assert_eq!(page.len(), 2);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let p = Position::of(&item(1_700_000_000, 42));
        assert_eq!(Position::decode(&p.encode()).ok(), Some(p));
        assert!(Position::decode("not a cursor").is_err());
        assert!(Position::decode(&URL_SAFE_NO_PAD.encode("[1,2]")).is_err());
    }

    #[test]
    fn unknown_kinds_are_refused_naming_the_field() {
        let known = vec!["note".to_owned(), "task".to_owned()];
        assert!(wanted_kinds(&["task".into(), " ".into()], &known).is_ok());
        let Err(CoreError::Validation(errors)) = wanted_kinds(&["email".into()], &known) else {
            panic!("an unknown kind must be a validation error");
        };
        assert_eq!(errors[0].field, "kinds");
    }
}
