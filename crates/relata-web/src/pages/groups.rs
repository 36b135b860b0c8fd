//! Tags and lists in the web UI: the tags of an object with their counts (`/tags`), the lists
//! and segments of an object with their counts and a form for a new one (`/lists`), a
//! record's tags on its page. Each links to the object's list filtered by it (`q=tagged …`,
//! `q=in_list …`), so members are shown, paged, exported and acted on as any list.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::lists::{ListChange, ListKind};
use relata_core::tags::{TAG_COLOURS, Tag};
use relata_domain::ObjectDef;
use relata_domain::access::Operation;
use relata_domain::filter::compact;

use super::inputs::field_error_text;
use super::{Chrome, html, readable_object, see_other};
use crate::error::WebError;
use crate::notice;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// A tag as a chip: its name, colour and the list of records carrying it.
pub struct Chip {
    pub id: String,
    pub name: String,
    pub colour: String,
    pub href: String,
    pub count: Option<i64>,
}

/// A name as a quoted word of the compact filter form.
fn quoted(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

fn list_href(object: &str, condition: &str) -> String {
    format!(
        "/o/{object}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("q", condition)
            .finish()
    )
}

fn chip(t: Tag) -> Chip {
    Chip {
        id: t.id.to_string(),
        href: list_href(&t.object, &format!("tagged {}", quoted(&t.name))),
        name: t.name,
        colour: t.colour,
        count: t.count,
    }
}

/// The tags on a record, for its page (none, logged, when they cannot be read).
pub async fn record_chips(state: &WebState, viewer: &Viewer, object: &str, id: Uuid) -> Vec<Chip> {
    match state.core.record_tags(&viewer.actor, object, id).await {
        Ok(tags) => tags.into_iter().map(chip).collect(),
        Err(e) => {
            tracing::warn!(error = ?e, "reading a record's tags failed");
            Vec::new()
        }
    }
}

fn object_param(raw: Option<&str>) -> Option<String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "object")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The object a page is about: the one asked for, accounts by default.
fn chosen_object(
    state: &WebState,
    viewer: &Viewer,
    raw: Option<&str>,
) -> Result<std::sync::Arc<ObjectDef>, WebError> {
    let name = object_param(raw).unwrap_or_else(|| "account".into());
    readable_object(state, viewer, &name)
}

#[derive(Template)]
#[template(path = "tags.html")]
struct TagsPage {
    chrome: Chrome,
    object: String,
    plural: String,
    tags: Vec<Chip>,
}

/// `GET /tags?object=`: the object's tags with the number of records the viewer may see.
pub async fn tags_page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = chosen_object(&state, &viewer, raw.as_deref())?;
    let tags = state
        .core
        .tags(&viewer.actor, object.name())
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let plural = tr.object_plural(&object);
    Ok(html(
        TagsPage {
            chrome: Chrome::new(
                &state,
                &viewer,
                tr.tf("tags.heading", &[("plural", &plural)]),
                object.name(),
            ),
            object: object.name().to_owned(),
            plural,
            tags: tags.into_iter().map(chip).collect(),
        }
        .render(),
    ))
}

/// `POST /o/{object}/{id}/tags`: tags the record (a new name makes a new tag).
pub async fn tag_record(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let back = format!("/o/{}/{id}", object.name());
    let colour = form.first("colour").filter(|c| !c.is_empty());
    match state
        .core
        .tag_records(
            &viewer.actor,
            object.name(),
            &[id],
            form.first("name").unwrap_or_default(),
            colour,
        )
        .await
    {
        Ok(_) => Ok(see_other(&back)),
        Err(CoreError::Validation(errors)) => {
            let why = errors
                .first()
                .map(|e| field_error_text(tr, e))
                .unwrap_or_default();
            Ok(see_other(&notice::redirect_with(&viewer.csrf, &back, &why)))
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}

/// `POST /o/{object}/{id}/tags/{tag}/remove`: takes the tag off the record.
pub async fn untag_record(
    State(state): State<WebState>,
    Path((name, id, tag)): Path<(String, String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let (Ok(id), Ok(tag)) = (Uuid::parse_str(&id), Uuid::parse_str(&tag)) else {
        return Err(WebError::NotFound(tr));
    };
    state
        .core
        .untag_records(&viewer.actor, tag, &[id])
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!("/o/{}/{id}", object.name())))
}

pub struct ListLine {
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub condition: String,
    pub count: String,
    pub href: String,
    pub deletable: bool,
}

#[derive(Template)]
#[template(path = "lists.html")]
struct ListsPage {
    chrome: Chrome,
    object: String,
    plural: String,
    lists: Vec<ListLine>,
    error: Option<String>,
    name: String,
    condition: String,
    dynamic: bool,
}

/// `GET /lists?object=`: the object's lists and segments with their counts.
pub async fn lists_page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let object = chosen_object(&state, &viewer, raw.as_deref())?;
    render_lists(&state, &viewer, &object, None, ("", "", false)).await
}

async fn render_lists(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    error: Option<String>,
    (name, condition, dynamic): (&str, &str, bool),
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let lists = state
        .core
        .lists(&viewer.actor, Some(object.name()), true)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let admin = viewer
        .actor
        .require_capability(relata_domain::access::Capability::ManageMetadata)
        .is_ok();
    let lists = lists
        .into_iter()
        .map(|l| ListLine {
            id: l.id.to_string(),
            href: list_href(&l.object, &format!("in_list {}", l.id)),
            deletable: admin || l.owner_id == Some(viewer.actor.user_id.0),
            kind: tr.t(&format!("lists.kind_{}", l.kind.as_str())).to_owned(),
            condition: l.filter.as_ref().map(|f| f.to_string()).unwrap_or_default(),
            count: match l.count {
                Some(n) if n >= relata_core::lists::LIST_COUNT_CAP => format!("{n}+"),
                Some(n) => n.to_string(),
                None => "—".into(),
            },
            description: l.description.unwrap_or_default(),
            name: l.name,
        })
        .collect();
    let plural = tr.object_plural(object);
    Ok(html(
        ListsPage {
            chrome: Chrome::new(
                state,
                viewer,
                tr.tf("lists.heading", &[("plural", &plural)]),
                object.name(),
            ),
            object: object.name().to_owned(),
            plural,
            lists,
            error,
            name: name.to_owned(),
            condition: condition.to_owned(),
            dynamic,
        }
        .render(),
    ))
}

/// `POST /lists`: a new static list or segment, then its members.
pub async fn create_list(
    State(state): State<WebState>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, form.first("object").unwrap_or_default())?;
    let name = form.first("name").unwrap_or_default();
    let condition = form.first("condition").unwrap_or_default().trim();
    let kind = if form.first("kind") == Some("dynamic") {
        ListKind::Dynamic
    } else {
        ListKind::Static
    };
    let filter = match (kind, condition.is_empty()) {
        (ListKind::Dynamic, false) => match compact::parse(condition) {
            Ok(f) => Some(f),
            Err(e) => {
                let why = field_error_text(tr, &e);
                return render_lists(&state, &viewer, &object, Some(why), (name, condition, true))
                    .await;
            }
        },
        _ => None,
    };
    let change = ListChange {
        name: Some(name.to_owned()),
        description: Some(form.first("description").map(str::to_owned)),
        filter,
    };
    match state
        .core
        .create_list(&viewer.actor, object.name(), kind, change)
        .await
    {
        Ok(list) => Ok(see_other(&list_href(
            object.name(),
            &format!("in_list {}", list.id),
        ))),
        Err(CoreError::Validation(errors)) => {
            let why = errors
                .iter()
                .map(|e| field_error_text(tr, e))
                .collect::<Vec<_>>()
                .join("; ");
            let dynamic = kind == ListKind::Dynamic;
            render_lists(
                &state,
                &viewer,
                &object,
                Some(why),
                (name, condition, dynamic),
            )
            .await
        }
        Err(e) => Err(WebError::core(e, tr)),
    }
}

/// `POST /lists/{id}/delete`: deletes the list (its records stay).
pub async fn delete_list(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let list = state
        .core
        .record_list(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    state
        .core
        .delete_list(&viewer.actor, id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!("/lists?object={}", list.object)))
}

/// The colours a new tag may take, for the record page's form.
pub fn colours() -> &'static [&'static str] {
    &TAG_COLOURS
}

/// Whether the viewer may tag records of `object` at all.
pub fn may_tag(viewer: &Viewer, object: &str) -> bool {
    viewer.actor.may(object, Operation::Edit)
}
