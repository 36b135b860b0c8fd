//! Export of one object's records as a file, streamed: the records of a view (filter and
//! sort as for lists) or picked ids, in CSV, XLSX, JSON Lines or vCard (contacts).

use std::collections::HashMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};

use relata_core::Actor;
use relata_core::export::{ExportFormat, ExportRequest, Header};
use relata_domain::{FieldError, FieldErrorCode};

use crate::params::{filter_param, query_map};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

fn list_param(raw: Option<&String>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// Export the visible records of an object as a file: `format=csv|xlsx|jsonl|vcf` (vCard
/// for contacts), with `filter` and `sort` as for lists, `ids` to pick records, `fields` to
/// choose columns and `header=labels` for the field labels instead of API names. CSV has a
/// UTF-8 BOM and guards cells that would run as spreadsheet formulas with a leading `'`;
/// money fields get a currency column and lookups a column with the looked-up record's
/// name. Needs the export permission on the object; hidden fields are never written. The
/// body streams in constant memory; each export is audited.
#[utoipa::path(get, path = "/api/v1/records/{object}/export", tag = "records",
    params(("object" = String, Path),
        ("format" = Option<String>, Query, description = "csv (default), xlsx, jsonl or vcf"),
        ("filter" = Option<String>, Query, description = "as for lists"),
        ("sort" = Option<String>, Query, description = "as for lists"),
        ("ids" = Option<String>, Query, description = "comma-separated ids: just these records (at most 5,000)"),
        ("fields" = Option<String>, Query, description = "comma-separated fields, in column order"),
        ("header" = Option<String>, Query, description = "names (default) or labels")),
    responses((status = 200, description = "the file, as an attachment", content_type = "text/csv"),
        (status = 400, description = "more records than an XLSX sheet holds"),
        (status = 403, description = "no export permission on the object"),
        (status = 404, description = "no such object"),
        (status = 422, description = "unknown format, field or filter")))]
pub async fn export(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = query_map(raw.as_deref())?;
    let format = ExportFormat::parse(params.get("format").map_or("csv", String::as_str))?;
    let mut ids = Vec::new();
    for id in list_param(params.get("ids")) {
        ids.push(uuid::Uuid::parse_str(&id).map_err(|_| {
            ApiError::field(FieldError::new(
                "ids",
                FieldErrorCode::WrongType,
                format!("'{id}' is not a record id"),
            ))
        })?);
    }
    let header = match params.get("header").map(String::as_str) {
        None | Some("names") => Header::Names,
        Some("labels") => Header::Labels {
            fields: HashMap::new(),
            currency: "currency".into(),
            name: "name".into(),
        },
        Some(other) => {
            return Err(ApiError::field(FieldError::new(
                "header",
                FieldErrorCode::InvalidOption,
                format!("'{other}' is not names or labels"),
            )));
        }
    };
    let fields = list_param(params.get("fields"));
    let request = ExportRequest {
        filter: filter_param(params.get("filter"))?,
        sort: params.get("sort").cloned(),
        ids,
        fields: (!fields.is_empty()).then_some(fields),
        header,
        ..ExportRequest::new(format)
    };
    let export = state.core.export(&actor, &object, request).await?;
    Ok(file_response(export))
}

/// The export as a streamed attachment.
pub fn file_response(export: relata_core::export::Export) -> Response {
    let headers = export.download_headers();
    (headers, Body::from_stream(export.into_stream())).into_response()
}
