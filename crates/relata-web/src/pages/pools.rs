//! Pools (公海) for reps: the pools they may claim from, a pool's unowned records with
//! "claim" (members) and "assign" (the pool's managers), and on a lead's or account's page
//! the "return to pool" form and the record's pool history. Every move goes through the
//! same core services as the API, which check membership and limits again; this module only
//! shows what they answered, one line per refused record.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use relata_core::fields;
use relata_core::pools::{MoveOutcome, Pool};
use relata_core::records::ListRequest;
use relata_domain::access::Capability;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::{FieldDef, ObjectDef};
use relata_domain::pool::{self, action};
use relata_domain::{Record, Value};

use super::cells::{Cell, Names, cell};
use super::{Chrome, html, see_other};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// Rows of a pool's page; "next" pages on.
const PAGE_ROWS: usize = 50;
/// The pool list counts up to this many records per pool ("1,000+").
const COUNT_CAP: u64 = 1_000;
/// Users offered in the "assign to" select.
const ASSIGNEES: usize = 100;

/// A pool in the list.
pub struct PoolRow {
    pub id: String,
    pub name: String,
    pub object: String,
    pub held: String,
}

/// One record of a pool's page.
pub struct PoolRecord {
    pub id: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "pools.html")]
struct PoolsPage {
    chrome: Chrome,
    pools: Vec<PoolRow>,
    can_manage: bool,
}

#[derive(Template)]
#[template(path = "pool.html")]
struct PoolPage {
    chrome: Chrome,
    id: String,
    name: String,
    object: String,
    object_label: String,
    columns: Vec<String>,
    rows: Vec<PoolRecord>,
    held: String,
    can_claim: bool,
    /// The users a manager may hand records to: (id, "name <email>").
    assignees: Vec<(String, String)>,
    next_href: Option<String>,
    first_href: Option<String>,
}

/// The filter of a pool's unowned records.
fn held_by(pool_id: Uuid) -> Filter {
    Filter::And(vec![
        Filter::Cond {
            field: pool::POOL_ID.into(),
            op: Op::Eq,
            value: json!(pool_id.to_string()),
        },
        Filter::Cond {
            field: "owner_id".into(),
            op: Op::IsNull,
            value: json!(true),
        },
    ])
}

fn count_text(viewer: &Viewer, total: Option<i64>) -> String {
    let total = total.unwrap_or(0);
    if total as u64 >= COUNT_CAP {
        format!("{}+", viewer.fmt.integer(total))
    } else {
        viewer.fmt.integer(total)
    }
}

fn object_label(state: &WebState, tr: Tr, name: &str) -> String {
    state
        .core
        .schema()
        .object(name)
        .map_or_else(|| name.to_owned(), |o| tr.object_label(o))
}

/// Whether the viewer hands the pool's records out (its `can_assign` members and
/// administrators of metadata).
fn manages(viewer: &Viewer, pool: &Pool) -> bool {
    viewer.actor.access.has(Capability::ManageMetadata) || pool.admits(&viewer.actor, true)
}

/// `GET /pools`: the pools the viewer may claim from.
pub async fn list(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let pools = state
        .core
        .pools(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let mut rows = Vec::with_capacity(pools.len());
    for p in &pools {
        let request = ListRequest {
            filter: Some(held_by(p.id)),
            limit: Some(1),
            count: true,
            count_cap: Some(COUNT_CAP),
            ..ListRequest::default()
        };
        let held = match state
            .core
            .list_records(&viewer.actor, &p.object, request)
            .await
        {
            Ok((_, page)) => count_text(&viewer, page.total),
            Err(e) => {
                tracing::warn!(error = ?e, pool = %p.id, "counting a pool's records failed");
                String::new()
            }
        };
        rows.push(PoolRow {
            id: p.id.to_string(),
            name: p.name.clone(),
            object: object_label(&state, tr, &p.object),
            held,
        });
    }
    let page = PoolsPage {
        chrome: Chrome::new(&state, &viewer, tr.t("pools.title").to_owned(), "pools")
            .with_notice(notice_of(&viewer, raw.as_deref())),
        pools: rows,
        can_manage: viewer.actor.access.has(Capability::ManageMetadata),
    };
    Ok(html(page.render()))
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn notice_of(viewer: &Viewer, raw: Option<&str>) -> Option<String> {
    crate::notice::read(&viewer.csrf, &query_pairs(raw))
}

/// The columns of a pool's table: the name, then a few fields that tell records apart.
fn columns<'a>(viewer: &Viewer, object: &'a ObjectDef) -> Vec<&'a FieldDef> {
    let wanted: &[&str] = if object.name() == "account" {
        &["level", "industry", "city"]
    } else {
        &["company", "rating", "city"]
    };
    std::iter::once(object.name_field.as_str())
        .chain(wanted.iter().copied())
        .filter_map(|n| object.field(n))
        .filter(|f| fields::readable(&viewer.actor, object, f.name()))
        .collect()
}

/// `GET /pools/{id}`: the pool's unowned records, to claim or hand out.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<Uuid>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let pool = state
        .core
        .pool(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let object = super::readable_object(&state, &viewer, &pool.object)?;
    let pairs = query_pairs(raw.as_deref());
    let cursor = pairs
        .iter()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.clone())
        .filter(|c| !c.is_empty());
    let request = ListRequest {
        filter: Some(held_by(pool.id)),
        sort: Some(object.name_field.to_string()),
        limit: Some(PAGE_ROWS),
        cursor: cursor.clone(),
        count: true,
        count_cap: Some(COUNT_CAP),
        ..ListRequest::default()
    };
    let (_, listed) = state
        .core
        .list_records(&viewer.actor, object.name(), request)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let shown = columns(&viewer, &object);
    let refs: Vec<&Record> = listed.records.iter().collect();
    let names = Names::resolve(&state, &viewer, &refs, &shown).await;
    let rows = refs
        .iter()
        .map(|r| PoolRecord {
            id: r.id().map(|i| i.to_string()).unwrap_or_default(),
            cells: shown
                .iter()
                .map(|f| cell(&viewer, &object, f, r, &names))
                .collect(),
        })
        .collect();
    let manager = manages(&viewer, &pool);
    let assignees = if manager {
        state
            .core
            .user_directory(&viewer.actor, "", ASSIGNEES)
            .await
            .map_err(|e| WebError::core(e, tr))?
            .into_iter()
            .map(|u| (u.id.to_string(), format!("{} <{}>", u.name, u.email)))
            .collect()
    } else {
        Vec::new()
    };
    let base = format!("/pools/{id}");
    let page = PoolPage {
        chrome: Chrome::new(&state, &viewer, pool.name.clone(), "pools")
            .with_notice(crate::notice::read(&viewer.csrf, &pairs)),
        id: id.to_string(),
        name: pool.name.clone(),
        object: object.name().to_owned(),
        object_label: tr.object_plural(&object),
        columns: shown.iter().map(|f| tr.field_label(&object, f)).collect(),
        rows,
        held: tr.tf(
            "pools.holds",
            &[("count", &count_text(&viewer, listed.total))],
        ),
        can_claim: manager || pool.admits(&viewer.actor, false),
        assignees,
        next_href: listed.next_cursor.map(|c| {
            format!(
                "{base}?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("cursor", &c)
                    .finish()
            )
        }),
        first_href: cursor.is_some().then(|| base.clone()),
    };
    Ok(html(page.render()))
}

/// The checked records of a posted form.
fn checked_ids(form: &crate::form::FormData) -> Vec<Uuid> {
    form.all("ids")
        .into_iter()
        .filter_map(|v| Uuid::parse_str(v.trim()).ok())
        .collect()
}

/// Why a record was refused, in the viewer's language where the code is known.
fn refusal_text(tr: Tr, outcome: &MoveOutcome, assigning: bool) -> String {
    let key = match (outcome.code, assigning) {
        (Some("owned_limit"), false) => "pools.refused_owned_limit",
        (Some("owned_limit"), true) => "pools.refused_owned_limit_user",
        (Some("daily_claim_limit"), _) => "pools.refused_daily_claim_limit",
        (Some("cooldown"), _) => "pools.refused_cooldown",
        (Some("not_in_pool"), _) => "pools.refused_not_in_pool",
        (Some("already_in_pool"), _) => "pools.refused_already_in_pool",
        (Some("no_pool"), _) => "pools.refused_no_pool",
        (Some("not_found"), _) => "pools.refused_not_found",
        _ => return outcome.message.clone().unwrap_or_default(),
    };
    tr.t(key).to_owned()
}

/// "Claimed 2 of 3. 美的集团: …" — the notice after a move.
async fn summary(
    state: &WebState,
    viewer: &Viewer,
    object: &str,
    outcomes: &[MoveOutcome],
    key: &str,
    assigning: bool,
) -> String {
    let tr = viewer.tr();
    let done = outcomes.iter().filter(|o| o.done).count();
    let mut text = tr.tf(
        key,
        &[
            ("done", &done.to_string()),
            ("total", &outcomes.len().to_string()),
        ],
    );
    let refused: Vec<&MoveOutcome> = outcomes.iter().filter(|o| !o.done).collect();
    if refused.is_empty() {
        return text;
    }
    let labels: HashMap<Uuid, String> = state
        .core
        .record_labels(
            &viewer.actor,
            object,
            refused.iter().map(|o| o.id).collect(),
        )
        .await
        .unwrap_or_default();
    for o in refused {
        let name = labels
            .get(&o.id)
            .cloned()
            .unwrap_or_else(|| tr.t("value.untitled").to_owned());
        text.push(' ');
        text.push_str(&tr.tf(
            "pools.refusal",
            &[("name", &name), ("reason", &refusal_text(tr, o, assigning))],
        ));
    }
    text
}

async fn moved(
    state: &WebState,
    viewer: &Viewer,
    back: &str,
    object: &str,
    result: Result<Vec<MoveOutcome>, relata_core::CoreError>,
    key: &str,
    assigning: bool,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let message = match result {
        Ok(outcomes) => summary(state, viewer, object, &outcomes, key, assigning).await,
        Err(relata_core::CoreError::BadRequest { .. }) => tr.t("pools.none_checked").to_owned(),
        Err(e) => return Err(WebError::core(e, tr)),
    };
    Ok(see_other(&crate::notice::redirect_with(
        &viewer.csrf,
        back,
        &message,
    )))
}

/// `POST /pools/{id}/claim`: the checked records become the viewer's.
pub async fn claim(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let pool = state
        .core
        .pool(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let result = state
        .core
        .claim_from_pool(&viewer.actor, id, checked_ids(&form))
        .await;
    let back = format!("/pools/{id}");
    moved(
        &state,
        &viewer,
        &back,
        &pool.object,
        result,
        "pools.claimed",
        false,
    )
    .await
}

/// `POST /pools/{id}/assign`: a manager hands the checked records to a user.
pub async fn assign(
    State(state): State<WebState>,
    Path(id): Path<Uuid>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let pool = state
        .core
        .pool(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let back = format!("/pools/{id}");
    let Some(to) = form.text("user_id").and_then(|u| Uuid::parse_str(&u).ok()) else {
        return Ok(see_other(&crate::notice::redirect_with(
            &viewer.csrf,
            &back,
            tr.t("pools.choose_user"),
        )));
    };
    let result = state
        .core
        .assign_from_pool(&viewer.actor, id, checked_ids(&form), to)
        .await;
    moved(
        &state,
        &viewer,
        &back,
        &pool.object,
        result,
        "pools.assigned",
        true,
    )
    .await
}

/// `POST /o/{object}/{id}/return`: the owner gives the record back to its pool, saying why.
pub async fn return_record(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, Uuid)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = super::readable_object(&state, &viewer, &name)?;
    if !pool::OBJECTS.contains(&object.name()) {
        return Err(WebError::NotFound(tr));
    }
    let back = format!("/o/{}/{id}", object.name());
    let reason = form.text("reason").unwrap_or_default();
    let result = state
        .core
        .return_to_pool(&viewer.actor, object.name(), vec![id], &reason)
        .await;
    let message = match result {
        Ok(outcomes) => match outcomes.first() {
            Some(o) if o.done => tr.t("pools.returned").to_owned(),
            Some(o) => refusal_text(tr, o, false),
            None => String::new(),
        },
        Err(relata_core::CoreError::Validation(_)) => tr.t("pools.reason_required").to_owned(),
        Err(e) => return Err(WebError::core(e, tr)),
    };
    Ok(see_other(&crate::notice::redirect_with(
        &viewer.csrf,
        &back,
        &message,
    )))
}

/// One line of a record's pool history.
pub struct HistoryLine {
    pub action: String,
    pub pool: String,
    pub user: String,
    pub by: String,
    pub reason: String,
    pub at: String,
}

/// What a lead's or account's page shows about pools.
pub struct RecordPanel {
    /// The record is owned and the viewer may edit it: the "return to pool" form.
    pub can_return: bool,
    pub history: Vec<HistoryLine>,
}

fn action_label(tr: Tr, a: &str) -> String {
    let key = match a {
        action::ADDED => "pools.action_added",
        action::CLAIMED => "pools.action_claimed",
        action::RETURNED => "pools.action_returned",
        action::ASSIGNED => "pools.action_assigned",
        action::RECLAIMED => "pools.action_reclaimed",
        action::WARNED => "pools.action_warned",
        other => return other.to_owned(),
    };
    tr.t(key).to_owned()
}

/// The pool panel of a record page, for leads and accounts outside the recycle bin.
pub async fn record_panel(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
    may_edit: bool,
) -> Option<RecordPanel> {
    if !pool::OBJECTS.contains(&object.name()) {
        return None;
    }
    let id = record.id()?;
    let owned = matches!(record.get("owner_id"), Value::Ref(_));
    let events = match state
        .core
        .pool_history(&viewer.actor, object.name(), id)
        .await
    {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(error = ?e, "reading a record's pool history failed");
            Vec::new()
        }
    };
    let tr = viewer.tr();
    let mut people: Vec<Uuid> = events
        .iter()
        .flat_map(|e| [e.user_id, e.actor_id])
        .flatten()
        .collect();
    people.sort();
    people.dedup();
    let names = state.core.user_names(people).await.unwrap_or_default();
    let visible = state.core.pools(&viewer.actor).await.unwrap_or_default();
    // a record goes back to the pool it came from, else to the object's default pool: with
    // neither in sight the form would only be refused, so it is not offered
    let has_home = matches!(record.get(pool::POOL_ID), Value::Ref(_))
        || visible
            .iter()
            .any(|p| p.is_default && p.object == object.name());
    let pools: HashMap<Uuid, String> = visible.into_iter().map(|p| (p.id, p.name)).collect();
    let name_of = |u: Option<Uuid>| {
        u.map(|u| {
            names
                .get(&u)
                .map_or_else(|| tr.t("value.unknown_user").to_owned(), |b| b.name.clone())
        })
        .unwrap_or_default()
    };
    let history = events
        .iter()
        .rev()
        .map(|e| HistoryLine {
            action: action_label(tr, &e.action),
            pool: pools.get(&e.pool_id).cloned().unwrap_or_default(),
            user: name_of(e.user_id),
            by: if e.actor_id.is_some() && e.actor_id != e.user_id {
                name_of(e.actor_id)
            } else {
                String::new()
            },
            reason: e.reason.clone().unwrap_or_default(),
            at: viewer.fmt.datetime(&e.at),
        })
        .collect();
    Some(RecordPanel {
        can_return: owned && may_edit && has_home,
        history,
    })
}
