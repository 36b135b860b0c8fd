//! Bulk actions on the records ticked in a list: change the owner, set one field, or move
//! them to the recycle bin. Each record goes through the one write path with the viewer's
//! permissions; the list then says how many changed and why any did not.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::records::transfer::TransferInput;
use relata_domain::access::Operation;

use super::inputs::{self, field_error_text};
use super::{local_path, readable_object, see_other};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::notice;
use crate::session::{Posted, Viewer};
use crate::state::WebState;

/// A list page shows at most this many rows to tick.
const MAX_IDS: usize = 200;

pub async fn bulk(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let ids: Vec<Uuid> = form
        .all("ids")
        .into_iter()
        .filter_map(|s| Uuid::parse_str(s).ok())
        .take(MAX_IDS)
        .collect();
    let back = local_path(form.first("back"));
    let back_with = |message: &str| see_other(&notice::redirect_with(&viewer.csrf, &back, message));
    if ids.is_empty() {
        return Ok(back_with(tr.t("list.none_selected")));
    }
    let action = form.first("action").unwrap_or_default();
    if let Some(format) = action.strip_prefix("export_") {
        return super::export::picked(&state, &viewer, &object, format, ids).await;
    }
    // tags and lists take all the ticked records or none
    let grouped = match (action, action.strip_prefix("list_")) {
        ("tag", _) => {
            let name = form.first("value").unwrap_or_default();
            Some(
                state
                    .core
                    .tag_records(&viewer.actor, object.name(), &ids, name, None)
                    .await
                    .map(|_| ids.len() as u64),
            )
        }
        (_, Some(list)) => match Uuid::parse_str(list) {
            Ok(list) => Some(state.core.add_to_list(&viewer.actor, list, &ids).await),
            Err(_) => return Ok(back_with(tr.t("list.bulk_unknown"))),
        },
        _ => None,
    };
    if let Some(outcome) = grouped {
        let message = match outcome {
            Ok(n) => tr.tf("list.bulk_grouped", &[("n", &n.to_string())]),
            Err(CoreError::Validation(errors)) => errors
                .first()
                .map(|e| field_error_text(tr, e))
                .unwrap_or_default(),
            Err(CoreError::Forbidden { message } | CoreError::Conflict { message, .. }) => message,
            Err(e) => return Err(WebError::core(e, tr)),
        };
        return Ok(back_with(&message));
    }
    // the single-field change, as the record form would send it
    let change: Option<Json> = match action {
        "delete" => None,
        "owner" | "field" => {
            let field = if action == "owner" {
                "owner_id"
            } else {
                form.first("field").unwrap_or_default()
            };
            let mut one = FormData::default();
            let value = form.first("value").unwrap_or_default();
            match object.field(field).map(|f| f.field_type) {
                Some(t) if t.is_reference() => {
                    one.push(&format!("{field}{}", inputs::LABEL), value);
                }
                Some(relata_domain::meta::FieldType::MultiPicklist) => {
                    one.push(&format!("{field}{}", inputs::PRESENT), "1");
                    for v in value
                        .split([',', '，'])
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                    {
                        one.push(field, v);
                    }
                }
                Some(_) => one.push(field, value),
                None => return Ok(back_with(tr.t("list.bulk_no_field"))),
            }
            let (input, errors) = inputs::to_json(&state, &viewer, &object, &one).await;
            if let Some(e) = errors.first() {
                return Ok(back_with(&field_error_text(tr, e)));
            }
            let empty = input.as_object().is_none_or(Map::is_empty);
            if empty {
                return Ok(back_with(tr.t("list.bulk_no_field")));
            }
            Some(input)
        }
        _ => {
            return Err(WebError::BadRequest(
                tr,
                tr.t("list.bulk_unknown").to_owned(),
            ));
        }
    };
    if change.is_none() && !viewer.actor.may(object.name(), Operation::Delete) {
        return Err(WebError::Forbidden(
            tr,
            tr.t("error.may_not_change").to_owned(),
        ));
    }
    let new_owner = change
        .as_ref()
        .filter(|_| action == "owner")
        .and_then(|c| c.get("owner_id"))
        .and_then(Json::as_str)
        .and_then(|u| Uuid::parse_str(u).ok());
    let (done, problem) = match new_owner {
        // one transfer, so the new owner hears of it once, not once per record
        Some(to_owner) => give_to(&state, &viewer, object.name(), ids.clone(), to_owner).await,
        None => one_by_one(&state, &viewer, object.name(), &ids, change.as_ref()).await,
    };
    let mut message = tr.tf(
        "list.bulk_done",
        &[
            ("done", &done.to_string()),
            ("total", &ids.len().to_string()),
        ],
    );
    if let Some(p) = problem {
        message = format!("{message} {p}");
    }
    Ok(back_with(&message))
}

/// Gives the records to `to_owner` in one transfer: how many are theirs now, and why the
/// others are not.
async fn give_to(
    state: &WebState,
    viewer: &Viewer,
    object: &str,
    ids: Vec<Uuid>,
    to_owner: Uuid,
) -> (usize, Option<String>) {
    let tr = viewer.tr();
    let total = ids.len();
    let input = TransferInput {
        ids,
        from_owner: None,
        to_owner,
        include_related: false,
    };
    match state
        .core
        .transfer_ownership(&viewer.actor, object, input)
        .await
    {
        Ok(result) if result.not_found.is_empty() => (total, None),
        Ok(result) => (
            total - result.not_found.len(),
            Some(tr.t("list.bulk_not_yours").to_owned()),
        ),
        Err(e) => (0, Some(problem_text(tr, e))),
    }
}

/// Applies the change (or the move to the recycle bin) to each record through the one write
/// path: how many changed, and the first reason one did not.
async fn one_by_one(
    state: &WebState,
    viewer: &Viewer,
    object: &str,
    ids: &[Uuid],
    change: Option<&Json>,
) -> (usize, Option<String>) {
    let mut done = 0usize;
    let mut first_problem: Option<String> = None;
    for id in ids {
        let outcome = match change {
            None => state
                .core
                .delete_record(&viewer.actor, object, *id, None)
                .await
                .map(|_| ()),
            Some(input) => state
                .core
                .update_record(&viewer.actor, object, *id, input.clone(), None)
                .await
                .map(|_| ()),
        };
        match outcome {
            Ok(()) => done += 1,
            Err(e) => {
                first_problem.get_or_insert_with(|| problem_text(viewer.tr(), e));
            }
        }
    }
    (done, first_problem)
}

fn problem_text(tr: Tr, e: CoreError) -> String {
    match e {
        CoreError::Validation(errors) => errors
            .first()
            .map(|e| field_error_text(tr, e))
            .unwrap_or_default(),
        e => e.to_string(),
    }
}
