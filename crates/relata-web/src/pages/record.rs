//! The record page: a header with the key fields, the details with inline editing, related
//! lists (an account's contacts, opportunities, tasks, notes…), and the record's timeline of
//! field changes and activities. A record in the recycle bin shows with a restore button.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use relata_core::fields;
use relata_core::records::ListRequest;
use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{FieldError, Record, Value};

use super::cells::{Cell, Names, cell};
use super::inputs::{self, Input};
use super::timeline::Event;
use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::Viewer;
use crate::state::WebState;

/// Rows of each related list on the page; "view all" opens the filtered list.
const RELATED_ROWS: usize = 5;
const RELATED_COUNT_CAP: u64 = 1_000;

pub struct Item {
    pub name: String,
    pub label: String,
    pub cell: Cell,
    /// The inline editor, when the viewer may change this field.
    pub input: Option<Input>,
}

pub struct Section {
    pub title: String,
    pub items: Vec<Item>,
}

pub struct RelatedList {
    pub object: String,
    pub title: String,
    pub count_text: String,
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<Cell>)>,
    pub all_href: String,
    pub new_href: Option<String>,
    /// Under a list of priced lines (a deal's products, a quote's lines): (label, amount).
    pub totals: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    chrome: Chrome,
    object: String,
    object_label: String,
    id: String,
    version: i64,
    title: String,
    binned: bool,
    header: Vec<Item>,
    sections: Vec<Section>,
    related: Vec<RelatedList>,
    /// The newest items of the 360° timeline, and whether there are more.
    events: Vec<Event>,
    timeline_more: bool,
    /// Merges into this record that can still be undone: (what happened, undo action).
    merges: Vec<(String, String)>,
    attachments: Vec<super::attachments::Line>,
    /// The "send an email" panel, when there are templates for the object.
    email: Option<super::email::Composer>,
    tags: Vec<super::groups::Chip>,
    /// The colours a new tag may take: (value, label).
    tag_colours: Vec<(String, String)>,
    can_edit: bool,
    /// A lead the viewer may convert: the page offers "Convert".
    can_convert: bool,
    /// A converted lead: when, and links to what it became.
    converted: Option<super::lead_conversion::ConvertedNote>,
    /// The object has a matching rule: the page offers a duplicate check.
    has_match_rule: bool,
    /// The object has a lookup to itself: the page offers the hierarchy.
    has_hierarchy: bool,
    /// An automation administrator: the page links to the record's workflow runs.
    can_see_automation: bool,
    /// "Data quality 70%", and the key fields missing.
    quality: (u8, String, String),
    can_delete: bool,
    /// A lead's or account's "return to pool" form and pool history.
    pool: Option<super::pools::RecordPanel>,
    /// An opportunity's stages with the time spent at each.
    stages: Option<Vec<super::stage_history::StageLine>>,
    /// A record that goes through approval (a quote): its status, requests and actions.
    approval: Option<super::approvals::RecordPanel>,
    /// A won deal or an accepted quote: where "Create contract" posts.
    contract_action: Option<String>,
    /// The field whose inline editor failed and stays open.
    open_field: String,
    errors: Vec<String>,
}

#[derive(serde::Deserialize)]
pub struct RecordQuery {
    saved: Option<String>,
    /// A signed one-time notice (`crate::notice`), e.g. after returning the record to its pool.
    outcome: Option<String>,
    sig: Option<String>,
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<RecordQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let notice = match q.saved.as_deref() {
        Some("created") => Some(tr.t("record.created").to_owned()),
        Some("restored") => Some(tr.t("record.restored").to_owned()),
        Some("merged") => Some(tr.t("record.merged").to_owned()),
        Some("unmerged") => Some(tr.t("record.unmerged").to_owned()),
        Some("attached") => Some(tr.t("attachments.attached").to_owned()),
        Some("emailed") => Some(tr.t("email.queued").to_owned()),
        Some("converted") => Some(tr.t("record.converted").to_owned()),
        Some(_) => Some(tr.t("record.saved").to_owned()),
        None => match (q.outcome, q.sig) {
            (Some(outcome), Some(sig)) => crate::notice::read(
                &viewer.csrf,
                &[("outcome".to_owned(), outcome), ("sig".to_owned(), sig)],
            ),
            _ => None,
        },
    };
    render(&state, &viewer, &name, &id, None, notice).await
}

/// A failed inline edit: the same page with the field's editor open and its error shown.
pub struct Failed<'a> {
    pub field: &'a str,
    pub form: &'a FormData,
    pub errors: &'a [FieldError],
}

/// The record's page again with `message` said and the answer's status set to `status`: a
/// form on the page (send an email, attach a file) that was refused.
pub async fn render_refused(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    id: &str,
    message: String,
    status: axum::http::StatusCode,
) -> Result<Response, WebError> {
    let mut page = render(state, viewer, name, id, None, Some(message)).await?;
    *page.status_mut() = status;
    Ok(page)
}

/// The record's page again with `message` shown as an error and the answer's status set to
/// `status`: an action on the page (submit for approval, revise) that was refused.
pub async fn render_error(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    id: &str,
    message: String,
    status: axum::http::StatusCode,
) -> Result<Response, WebError> {
    let mut page = render_page(state, viewer, name, id, None, None, vec![message]).await?;
    *page.status_mut() = status;
    Ok(page)
}

pub async fn render(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    id: &str,
    failed: Option<Failed<'_>>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    render_page(state, viewer, name, id, failed, notice, Vec::new()).await
}

async fn render_page(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    id: &str,
    failed: Option<Failed<'_>>,
    notice: Option<String>,
    alerts: Vec<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(state, viewer, name)?;
    let id = Uuid::parse_str(id).map_err(|_| WebError::NotFound(tr))?;
    let (record, binned) = state
        .core
        .get_record_or_binned(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    // a record shared read-only offers no editor, one shared for edit no delete
    let rights = state
        .core
        .record_rights(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    if failed.is_none() {
        // the visit is remembered off the request path: the page does not wait for a write
        let (core, actor, name) = (
            state.core.clone(),
            viewer.actor.clone(),
            object.name().to_owned(),
        );
        tokio::spawn(async move {
            if let Err(e) = core.note_recent(&actor, &name, id).await {
                tracing::debug!(error = ?e, "noting a recent item failed");
            }
        });
    }

    let shown: Vec<&FieldDef> = object
        .live_fields()
        .filter(|f| f.name() != "id")
        .filter(|f| fields::readable(&viewer.actor, &object, f.name()))
        .collect();
    let names = Names::resolve(state, viewer, &[&record], &shown).await;
    let currency = state.core.parse_context().default_currency;
    let mut editors = if binned || !rights.edit {
        Vec::new()
    } else {
        inputs::from_record(viewer, &object, Some(&record), &names, &currency)
    };
    if let Some(f) = &failed {
        let posted = inputs::from_form(viewer, &object, f.form, f.errors, &currency);
        if let (Some(slot), Some(fresh)) = (
            editors.iter_mut().find(|i| i.name == f.field),
            posted.into_iter().find(|i| i.name == f.field),
        ) {
            *slot = fresh;
        }
    }
    let item = |f: &FieldDef| Item {
        name: f.name().to_owned(),
        label: tr.field_label(&object, f),
        cell: cell(viewer, &object, f, &record, &names),
        input: editors.iter().find(|i| i.name == f.name()).cloned(),
    };
    let name_field = object.name_field.as_str();
    let header: Vec<Item> = shown
        .iter()
        .filter(|f| !f.system && f.name() != name_field)
        .filter(|f| !matches!(f.field_type, FieldType::LongText | FieldType::MultiPicklist))
        .filter(|f| !record.get(f.name()).is_null())
        .take(4)
        .map(|f| item(f))
        .collect();
    let readable = |f: &FieldDef| shown.iter().any(|s| s.name() == f.name());
    let mut sections: Vec<Section> = super::layout::sections(&object, tr, |_| false)
        .into_iter()
        .map(|(title, fields)| Section {
            title,
            items: fields
                .into_iter()
                .filter(|f| readable(f))
                .map(&item)
                .collect(),
        })
        .collect();
    sections.push(Section {
        title: tr.t("record.system").to_owned(),
        items: shown.iter().filter(|f| f.system).map(|f| item(f)).collect(),
    });
    let title = match record.get(name_field) {
        Value::Text(t) if !t.is_empty() => t.clone(),
        _ => tr.object_label(&object),
    };

    let (
        related,
        (events, timeline_more),
        merges,
        attachments,
        tags,
        email,
        pool,
        stages,
        approval,
    ) = tokio::join!(
        related_lists(state, viewer, &object, &record, id),
        super::timeline::panel(state, viewer, &object, id),
        undoable_merges(state, viewer, &object, id, rights.edit && !binned),
        async {
            if binned {
                Vec::new()
            } else {
                super::attachments::lines(state, viewer, object.name(), id).await
            }
        },
        super::groups::record_chips(state, viewer, object.name(), id),
        async {
            if binned {
                None
            } else {
                super::email::composer(state, viewer, &object, &record).await
            }
        },
        async {
            if binned {
                None
            } else {
                super::pools::record_panel(state, viewer, &object, &record, rights.edit).await
            }
        },
        super::stage_history::panel(state, viewer, &object, &record),
        async {
            if binned {
                None
            } else {
                super::approvals::record_panel(state, viewer, &object, &record, rights.edit).await
            }
        },
    );
    let mut errors = alerts;
    if let Some(f) = &failed {
        errors.extend(inputs::unplaced_errors(&editors, f.errors, tr));
    }
    let page = RecordPage {
        chrome: Chrome::new(state, viewer, title.clone(), object.name()).with_notice(notice),
        object: object.name().to_owned(),
        object_label: tr.object_label(&object),
        id: id.to_string(),
        version: record.version(),
        title,
        binned,
        header,
        sections,
        related,
        events,
        timeline_more,
        merges,
        attachments,
        email,
        tags,
        tag_colours: super::groups::colours()
            .iter()
            .map(|c| {
                (
                    (*c).to_owned(),
                    tr.t(&format!("tags.colour_{c}")).to_owned(),
                )
            })
            .collect(),
        can_edit: !binned && rights.edit,
        can_convert: !binned && super::lead_conversion::may_convert(&object, &record, rights.edit),
        converted: super::lead_conversion::converted_note(viewer, &object, &record, &names),
        has_match_rule: relata_domain::dedupe::MatchRule::of(&object).is_some(),
        quality: {
            let q = state.core.quality_of(&viewer.actor, &object, &record);
            let missing = super::quality::missing_labels(viewer, &object, &q.missing);
            (
                q.score,
                tr.tf("quality.on_record", &[("score", &q.score.to_string())]),
                if missing.is_empty() {
                    String::new()
                } else {
                    tr.tf("quality.lacks", &[("fields", &missing)])
                },
            )
        },
        can_see_automation: viewer
            .actor
            .access
            .has(relata_domain::access::Capability::ManageAutomation),
        has_hierarchy: object.live_fields().any(|f| {
            f.field_type == FieldType::Lookup
                && f.target
                    .as_ref()
                    .is_some_and(|t| t.as_str() == object.name())
        }),
        can_delete: rights.delete,
        pool,
        stages,
        approval,
        contract_action: super::contracts::create_action(viewer, &object, &record, binned),
        open_field: failed.map(|f| f.field.to_owned()).unwrap_or_default(),
        errors,
    };
    Ok(html(page.render()))
}

/// The merges into this record the viewer could undo, for the undo buttons.
async fn undoable_merges(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    id: Uuid,
    may_edit: bool,
) -> Vec<(String, String)> {
    if !may_edit {
        return Vec::new();
    }
    let tr = viewer.tr();
    match state
        .core
        .merges_into(&viewer.actor, object.name(), id)
        .await
    {
        Ok(found) => found
            .into_iter()
            .map(|m| {
                (
                    tr.tf(
                        "merge.merged_into",
                        &[
                            ("count", &m.merged.len().to_string()),
                            ("when", &viewer.fmt.datetime(&m.at)),
                        ],
                    ),
                    format!("/o/{}/{id}/merges/{}/undo", object.name(), m.id),
                )
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = ?e, "listing merges failed");
            Vec::new()
        }
    }
}

/// Every (object, lookup field) that points at `object`, readable by the viewer.
fn children(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
) -> Vec<(Arc<ObjectDef>, String)> {
    let schema = state.core.schema();
    let mut out = Vec::new();
    for child in schema.objects() {
        if !viewer.actor.may(child.name(), Operation::Read) {
            continue;
        }
        for f in child.live_fields() {
            let points_here = f.field_type == FieldType::Lookup
                && f.target
                    .as_ref()
                    .is_some_and(|t| t.as_str() == object.name());
            if points_here && fields::readable(&viewer.actor, child, f.name()) {
                out.push((child.clone(), f.name().to_owned()));
            }
        }
    }
    out
}

/// The related lists: the records of other objects that point at this one.
async fn related_lists(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
    id: Uuid,
) -> Vec<RelatedList> {
    let tr = viewer.tr();
    let mut lists = Vec::new();
    for (child, via) in children(state, viewer, object) {
        // priced lines show as many as a quote or deal has (within reason), with totals
        let lines = super::quotes::line_columns(&child, &via);
        let rows = if lines.is_some() {
            super::quotes::LINE_ROWS
        } else {
            RELATED_ROWS
        };
        // a contract's instalments, payments and invoices show the columns that matter
        let chosen = lines.or_else(|| super::contracts::related_columns(&child, &via));
        let request = ListRequest {
            filter: Some(Filter::Cond {
                field: via.clone(),
                op: Op::Eq,
                value: json!(id.to_string()),
            }),
            sort: super::contracts::related_sort(&child, &via).map(str::to_owned),
            limit: Some(rows),
            count: true,
            count_cap: Some(RELATED_COUNT_CAP),
            ..ListRequest::default()
        };
        let page = match state
            .core
            .list_records(&viewer.actor, child.name(), request)
            .await
        {
            Ok((_, page)) => page,
            Err(e) => {
                tracing::warn!(error = ?e, object = child.name(), "a related list failed");
                continue;
            }
        };
        let columns: Vec<&FieldDef> = match chosen {
            Some(names) => names
                .iter()
                .filter_map(|n| child.field(n))
                .filter(|f| fields::readable(&viewer.actor, &child, f.name()))
                .collect(),
            None => child
                .live_fields()
                .filter(|f| !f.system && f.name() != via)
                .filter(|f| !matches!(f.field_type, FieldType::LongText | FieldType::MultiPicklist))
                .filter(|f| fields::readable(&viewer.actor, &child, f.name()))
                .take(4)
                .collect(),
        };
        let refs: Vec<&Record> = page.records.iter().take(rows).collect();
        let names = Names::resolve(state, viewer, &refs, &columns).await;
        let total = page.total.unwrap_or(0);
        let totals = if lines.is_some() && total > 0 {
            super::quotes::line_totals(state, viewer, object, record, &child, &via).await
        } else {
            Vec::new()
        };
        let many_children = child
            .live_fields()
            .filter(|f| {
                f.field_type == FieldType::Lookup
                    && f.target
                        .as_ref()
                        .is_some_and(|t| t.as_str() == object.name())
            })
            .count()
            > 1;
        let mut title = tr.object_plural(&child);
        if many_children || child.name() == object.name() {
            let via_field = child.field(&via);
            if let Some(f) = via_field {
                title = format!("{title} ({})", tr.field_label(&child, f));
            }
        }
        lists.push(RelatedList {
            object: child.name().to_owned(),
            title,
            count_text: if total as u64 >= RELATED_COUNT_CAP {
                format!("{}+", viewer.fmt.integer(total))
            } else {
                viewer.fmt.integer(total)
            },
            columns: columns.iter().map(|f| tr.field_label(&child, f)).collect(),
            rows: refs
                .iter()
                .map(|r| {
                    (
                        r.id().map(|i| i.to_string()).unwrap_or_default(),
                        columns
                            .iter()
                            .map(|f| cell(viewer, &child, f, r, &names))
                            .collect(),
                    )
                })
                .collect(),
            all_href: format!("/o/{}?f0={via}&o0=eq&v0={id}", child.name()),
            // no "add" through a lookup only the system sets (a quote's previous version),
            // nor to a quote whose lines are fixed
            new_href: (viewer.actor.may(child.name(), Operation::Create)
                && child.field(&via).is_some_and(|f| !f.system)
                && super::quotes::lines_open(object, record, &child))
            .then(|| format!("/o/{}/new?{via}={id}", child.name())),
            totals,
        });
    }
    lists
}
