//! Bulk actions on the records ticked in a list: change the owner, set one field, or move
//! them to the recycle bin. Each record goes through the one write path with the viewer's
//! permissions; the list then says how many changed and why any did not.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use relata_domain::access::Operation;

use super::inputs::{self, field_error_text};
use super::{local_path, readable_object, see_other};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::Posted;
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
    if ids.is_empty() {
        return Ok(see_other(&with_outcome(&back, tr.t("list.none_selected"))));
    }
    let action = form.first("action").unwrap_or_default();
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
                None => {
                    return Ok(see_other(&with_outcome(&back, tr.t("list.bulk_no_field"))));
                }
            }
            let (input, errors) = inputs::to_json(&state, &viewer, &object, &one).await;
            if let Some(e) = errors.first() {
                return Ok(see_other(&with_outcome(&back, &field_error_text(tr, e))));
            }
            let empty = input.as_object().is_none_or(Map::is_empty);
            if empty {
                return Ok(see_other(&with_outcome(&back, tr.t("list.bulk_no_field"))));
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
    let mut done = 0usize;
    let mut first_problem: Option<String> = None;
    for id in &ids {
        let outcome = match &change {
            None => state
                .core
                .delete_record(&viewer.actor, object.name(), *id, None)
                .await
                .map(|_| ()),
            Some(input) => state
                .core
                .update_record(&viewer.actor, object.name(), *id, input.clone(), None)
                .await
                .map(|_| ()),
        };
        match outcome {
            Ok(()) => done += 1,
            Err(relata_core::CoreError::Validation(errors)) => {
                first_problem.get_or_insert_with(|| {
                    errors
                        .first()
                        .map(|e| field_error_text(tr, e))
                        .unwrap_or_default()
                });
            }
            Err(e) => {
                first_problem.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let mut message = tr.tf(
        "list.bulk_done",
        &[
            ("done", &done.to_string()),
            ("total", &ids.len().to_string()),
        ],
    );
    if let Some(p) = first_problem {
        message = format!("{message} {p}");
    }
    Ok(see_other(&with_outcome(&back, &message)))
}

/// The list URL with a message to show once.
fn with_outcome(back: &str, message: &str) -> String {
    let sep = if back.contains('?') { '&' } else { '?' };
    let encoded: String = form_urlencoded::byte_serialize(message.as_bytes()).collect();
    format!("{back}{sep}outcome={encoded}")
}
