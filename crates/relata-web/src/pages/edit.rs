//! Creating, editing, deleting and restoring records through forms generated from
//! metadata. A submit that fails shows the form again with what was typed and each error
//! next to its field; nothing is written unless the whole record is valid.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::records::write::parse_input;
use relata_domain::access::Operation;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode};

use super::cells::Names;
use super::inputs::{self, Input};
use super::record::{self, Failed};
use super::{Chrome, html, readable_object, see_other};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    chrome: Chrome,
    object: String,
    heading: String,
    action: String,
    inputs: Vec<Input>,
    /// The inputs by layout section: (heading, indexes into `inputs`).
    sections: Vec<(String, Vec<usize>)>,
    version: Option<i64>,
    errors: Vec<String>,
    cancel_href: String,
    is_new: bool,
}

impl FormPage {
    fn inputs_have_errors(&self) -> bool {
        self.inputs.iter().any(|i| i.error.is_some())
    }
}

fn form_page(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    record_id: Option<Uuid>,
    inputs: Vec<Input>,
    version: Option<i64>,
    errors: Vec<String>,
) -> FormPage {
    let tr = viewer.tr();
    let (heading, action, cancel_href) = match record_id {
        None => (
            tr.tf("form.new_title", &[("object", &tr.object_label(object))]),
            format!("/o/{}", object.name()),
            format!("/o/{}", object.name()),
        ),
        Some(id) => (
            tr.tf("form.edit_title", &[("object", &tr.object_label(object))]),
            format!("/o/{}/{id}/edit", object.name()),
            format!("/o/{}/{id}", object.name()),
        ),
    };
    // owner first, on its own; then the layout's sections; a required field left off the
    // layout still appears, so the record can be saved
    let position = |name: &str| inputs.iter().position(|i| i.name == name);
    let mut sections: Vec<(String, Vec<usize>)> = Vec::new();
    if let Some(owner) = position("owner_id") {
        sections.push((tr.t("layout.ownership").to_owned(), vec![owner]));
    }
    let has_errors = |name: &str| inputs.iter().any(|i| i.name == name && i.error.is_some());
    for (title, fields) in
        super::layout::sections(object, tr, |f| f.required || has_errors(f.name()))
    {
        let members: Vec<usize> = fields.iter().filter_map(|f| position(f.name())).collect();
        if !members.is_empty() {
            sections.push((title, members));
        }
    }
    FormPage {
        chrome: Chrome::new(state, viewer, heading.clone(), object.name()),
        object: object.name().to_owned(),
        heading,
        action,
        sections,
        inputs,
        version,
        errors,
        cancel_href,
        is_new: record_id.is_none(),
    }
}

fn unprocessable(page: FormPage) -> Response {
    super::html_unless(page.render(), true)
}

fn require(viewer: &Viewer, object: &ObjectDef, op: Operation) -> Result<(), WebError> {
    if viewer.actor.may(object.name(), op) {
        Ok(())
    } else {
        Err(WebError::Forbidden(
            viewer.tr(),
            viewer.tr().t("error.may_not_change").to_owned(),
        ))
    }
}

pub async fn new_page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let object = readable_object(&state, &viewer, &name)?;
    require(&viewer, &object, Operation::Create)?;
    let currency = state.core.parse_context().default_currency;
    let mut inputs = inputs::from_record(&viewer, &object, None, &Names::default(), &currency);
    // values handed over in the URL, e.g. the account of a contact created from its page
    for input in &mut inputs {
        let Some(v) = q.get(&input.name).filter(|v| !v.is_empty()) else {
            continue;
        };
        input.value = v.clone();
        if let (Some(target), Ok(id)) = (
            Some(input.target.as_str()).filter(|t| !t.is_empty()),
            Uuid::parse_str(v),
        ) {
            let labels = state
                .core
                .record_labels(&viewer.actor, target, vec![id])
                .await
                .unwrap_or_default();
            input.shown = labels.get(&id).cloned().unwrap_or_default();
        }
    }
    let page = form_page(&state, &viewer, &object, None, inputs, None, Vec::new());
    Ok(html(page.render()))
}

/// The form's JSON, or the errors to show: names that match no record, and whatever the
/// service's validation says of the rest (checked without writing).
async fn checked_input(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    form: &FormData,
    creating: bool,
) -> Result<Json, Vec<FieldError>> {
    let (input, mut errors) = inputs::to_json(state, viewer, object, form).await;
    if errors.is_empty() {
        return Ok(input);
    }
    if let Err(more) = parse_input(object, &input, &state.core.parse_context(), creating, false) {
        errors.extend(
            more.into_iter()
                .filter(|e| e.code != FieldErrorCode::Required || creating),
        );
    }
    Err(errors)
}

pub async fn create(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    require(&viewer, &object, Operation::Create)?;
    let currency = state.core.parse_context().default_currency;
    let errors = match checked_input(&state, &viewer, &object, &form, true).await {
        Ok(input) => match state
            .core
            .create_record(&viewer.actor, object.name(), input)
            .await
        {
            Ok(record) => {
                let id = record.id().unwrap_or_default();
                // a new record that looks like existing ones: show them before anything else
                let similar = match state
                    .core
                    .duplicates_of_record(&viewer.actor, object.name(), id)
                    .await
                {
                    Ok((_, found)) => !found.is_empty(),
                    Err(e) => {
                        tracing::warn!(error = %e, "duplicate check after a create failed");
                        false
                    }
                };
                return Ok(if similar {
                    see_other(&format!("/o/{}/{id}/duplicates?new=1", object.name()))
                } else if form.first("_then") == Some("new") {
                    see_other(&format!("/o/{}/new", object.name()))
                } else {
                    see_other(&format!("/o/{}/{id}?saved=created", object.name()))
                });
            }
            Err(CoreError::Validation(errors)) => errors,
            Err(e) => return Err(WebError::core(e, tr)),
        },
        Err(errors) => errors,
    };
    let inputs = inputs::from_form(&viewer, &object, &form, &errors, &currency);
    let unplaced = inputs::unplaced_errors(&inputs, &errors, tr);
    Ok(unprocessable(form_page(
        &state, &viewer, &object, None, inputs, None, unplaced,
    )))
}

pub async fn edit_page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    require(&viewer, &object, Operation::Edit)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let record = state
        .core
        .get_record(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let fields: Vec<_> = object.live_fields().collect();
    let names = Names::resolve(&state, &viewer, &[&record], &fields).await;
    let currency = state.core.parse_context().default_currency;
    let inputs = inputs::from_record(&viewer, &object, Some(&record), &names, &currency);
    let page = form_page(
        &state,
        &viewer,
        &object,
        Some(id),
        inputs,
        Some(record.version()),
        Vec::new(),
    );
    Ok(html(page.render()))
}

fn version_of(form: &FormData) -> Option<i64> {
    form.first("_version").and_then(|v| v.parse().ok())
}

/// An update of a record by a form; `Err` carries the errors to show.
async fn apply(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    id: Uuid,
    form: &FormData,
) -> Result<Result<(), Vec<FieldError>>, WebError> {
    let tr = viewer.tr();
    let input = match checked_input(state, viewer, object, form, false).await {
        Ok(input) => input,
        Err(errors) => return Ok(Err(errors)),
    };
    match state
        .core
        .update_record(&viewer.actor, object.name(), id, input, version_of(form))
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(CoreError::Validation(errors)) => Ok(Err(errors)),
        Err(CoreError::StaleVersion { .. }) => Ok(Err(vec![FieldError::new(
            "record",
            FieldErrorCode::InvalidOption,
            tr.t("form.stale").to_owned(),
        )])),
        Err(e) => Err(WebError::core(e, tr)),
    }
}

pub async fn update(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    require(&viewer, &object, Operation::Edit)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    match apply(&state, &viewer, &object, id, &form).await? {
        Ok(()) => Ok(see_other(&format!("/o/{}/{id}?saved=1", object.name()))),
        Err(errors) => {
            let currency = state.core.parse_context().default_currency;
            let inputs = inputs::from_form(&viewer, &object, &form, &errors, &currency);
            let unplaced = inputs::unplaced_errors(&inputs, &errors, tr);
            Ok(unprocessable(form_page(
                &state,
                &viewer,
                &object,
                Some(id),
                inputs,
                version_of(&form),
                unplaced,
            )))
        }
    }
}

/// One field changed in place on the record page.
pub async fn inline(
    State(state): State<WebState>,
    Path((name, id, field)): Path<(String, String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    require(&viewer, &object, Operation::Edit)?;
    let record_id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    // only the named field is read from the form
    let mut only = FormData::default();
    for key in [
        field.clone(),
        format!("{field}{}", inputs::CURRENCY),
        format!("{field}{}", inputs::LABEL),
        format!("{field}{}", inputs::PRESENT),
        "_version".to_owned(),
    ] {
        for v in form.all(&key) {
            only.push(&key, v);
        }
    }
    match apply(&state, &viewer, &object, record_id, &only).await? {
        // back to the page the change was made on (the board), else to the record
        Ok(()) => Ok(see_other(&match form.first("_back") {
            Some(_) => super::local_path(form.first("_back")),
            None => format!("/o/{}/{record_id}?saved=1#v-{field}", object.name()),
        })),
        // a move that asks for more (a pipeline stage's required fields): the record's
        // whole form, the new value in place and each missing field marked, so the one
        // save makes the move
        Err(errors) if errors.iter().any(|e| e.field != field) => {
            let record = state
                .core
                .get_record(&viewer.actor, object.name(), record_id)
                .await
                .map_err(|e| WebError::core(e, tr))?;
            let fields: Vec<_> = object.live_fields().collect();
            let names = Names::resolve(&state, &viewer, &[&record], &fields).await;
            let currency = state.core.parse_context().default_currency;
            let mut inputs =
                inputs::from_record(&viewer, &object, Some(&record), &names, &currency);
            for input in &mut inputs {
                if input.name == field
                    && let Some(v) = only.first(&field)
                {
                    input.value = v.to_owned();
                }
                input.error = errors
                    .iter()
                    .find(|e| e.field == input.name)
                    .map(|e| inputs::field_error_text(tr, e));
            }
            let unplaced = inputs::unplaced_errors(&inputs, &errors, tr);
            Ok(unprocessable(form_page(
                &state,
                &viewer,
                &object,
                Some(record_id),
                inputs,
                version_of(&only),
                unplaced,
            )))
        }
        Err(errors) => {
            let failed = Failed {
                field: &field,
                form: &only,
                errors: &errors,
            };
            let mut response =
                record::render(&state, &viewer, &name, &id, Some(failed), None).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}

pub async fn delete(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .delete_record(&viewer.actor, object.name(), id, version_of(&form))
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!("/o/{}", object.name())))
}

pub async fn restore(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    state
        .core
        .restore_record(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    Ok(see_other(&format!(
        "/o/{}/{id}?saved=restored",
        object.name()
    )))
}
