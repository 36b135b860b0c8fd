//! Kanban: the records of an object in one column per value of a picklist (opportunities by
//! stage), with each column's count and total, a page of cards per column (each column pages
//! on its own), and moving a card — by drag and drop, or by the small form on each card that
//! works without JavaScript and from the keyboard.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::json;

use relata_core::fields;
use relata_core::records::ListRequest;
use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::opportunity::{self, pipeline::Pipeline};
use relata_domain::{Record, Value};

use super::cells::{Cell, Names, cell};
use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

const CARDS_PER_COLUMN: usize = 20;

pub struct Card {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub lines: Vec<Cell>,
}

pub struct Column {
    pub value: String,
    pub label: String,
    pub count_text: String,
    pub total_text: String,
    pub cards: Vec<Card>,
    pub more_href: Option<String>,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    chrome: Chrome,
    object: String,
    heading: String,
    field: String,
    fields: Vec<(String, String)>,
    columns: Vec<Column>,
    /// Opportunities by stage: the pipelines to choose from, and the one shown.
    pipelines: Vec<(String, String)>,
    pipeline: String,
    can_edit: bool,
    here: String,
}

/// Picklist fields the viewer may read and group by.
fn board_fields<'a>(viewer: &Viewer, object: &'a ObjectDef) -> Vec<&'a FieldDef> {
    object
        .live_fields()
        .filter(|f| f.field_type == FieldType::Picklist)
        .filter(|f| fields::readable(&viewer.actor, object, f.name()))
        .collect()
}

/// The amount a column totals: the first currency field, else the first number.
fn total_field<'a>(viewer: &Viewer, object: &'a ObjectDef) -> Option<&'a FieldDef> {
    let readable = |f: &&FieldDef| !f.system && fields::readable(&viewer.actor, object, f.name());
    object
        .live_fields()
        .filter(readable)
        .find(|f| f.field_type == FieldType::Currency)
        .or_else(|| {
            object
                .live_fields()
                .filter(readable)
                .find(|f| matches!(f.field_type, FieldType::Decimal | FieldType::Integer))
        })
}

/// The pipeline whose stages the board's columns are, when it shows opportunities by stage:
/// the one asked for, else the first active one.
fn pipeline_of(object: &ObjectDef, field: &FieldDef, asked: Option<&str>) -> Option<Pipeline> {
    let by_stage = object.name() == opportunity::OBJECT
        && field.name() == opportunity::STAGE
        && object.field(opportunity::pipeline::PIPELINE).is_some();
    if !by_stage {
        return None;
    }
    let all = opportunity::pipeline::pipelines(object);
    asked
        .and_then(|name| all.iter().find(|p| p.name == name))
        .or_else(|| all.iter().find(|p| p.active))
        .cloned()
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let candidates = board_fields(&viewer, &object);
    let Some(field) = param("by")
        .and_then(|b| candidates.iter().copied().find(|f| f.name() == b))
        .or_else(|| candidates.iter().copied().find(|f| f.name() == "stage"))
        .or_else(|| candidates.first().copied())
    else {
        return Err(WebError::BadRequest(
            tr,
            tr.t("board.no_picklist").to_owned(),
        ));
    };
    // opportunities by stage: one pipeline's stages, in its order
    let pipeline = pipeline_of(&object, field, param("pipeline").as_deref());
    let scope = pipeline.as_ref().map(|p| Filter::Cond {
        field: opportunity::pipeline::PIPELINE.to_owned(),
        op: Op::Eq,
        value: json!(p.name),
    });
    let values: Vec<&str> = match &pipeline {
        Some(p) => p.stages.iter().map(|s| s.value.as_str()).collect(),
        None => field
            .values
            .iter()
            .filter(|v| v.active)
            .map(|v| v.value.as_str())
            .collect(),
    };
    let total = total_field(&viewer, &object);
    let currency = state.core.parse_context().default_currency;
    let (_, groups) = state
        .core
        .aggregate(
            &viewer.actor,
            object.name(),
            field.name(),
            total.map(|f| f.name()),
            scope.clone(),
        )
        .await
        .map_err(|e| WebError::core(e, tr))?;

    let card_fields: Vec<&FieldDef> = object
        .live_fields()
        .filter(|f| !f.system && f.name() != field.name())
        .filter(|f| f.name() != object.name_field.as_str())
        .filter(|f| !matches!(f.field_type, FieldType::LongText | FieldType::MultiPicklist))
        .filter(|f| fields::readable(&viewer.actor, &object, f.name()))
        .take(3)
        .collect();
    let mut base = format!("/o/{}/board?by={}", object.name(), field.name());
    if let Some(p) = &pipeline {
        base.push_str(&format!("&pipeline={}", super::url_component(&p.name)));
    }
    let mut columns = Vec::new();
    for value in values {
        let cursor = param(&format!("after_{value}"));
        let column = Filter::Cond {
            field: field.name().to_owned(),
            op: Op::Eq,
            value: json!(value),
        };
        let request = ListRequest {
            filter: Some(match &scope {
                Some(scope) => Filter::And(vec![scope.clone(), column]),
                None => column,
            }),
            limit: Some(CARDS_PER_COLUMN),
            cursor: cursor.clone(),
            ..ListRequest::default()
        };
        let (_, page) = state
            .core
            .list_records(&viewer.actor, object.name(), request)
            .await
            .map_err(|e| WebError::core(e, tr))?;
        let refs: Vec<&Record> = page.records.iter().collect();
        let names = Names::resolve(&state, &viewer, &refs, &card_fields).await;
        let bucket = groups
            .buckets
            .iter()
            .find(|b| b.key == Value::Text(value.to_owned()));
        let count = bucket.map_or(0, |b| b.count);
        let total_text = match (total, bucket) {
            (Some(f), Some(b)) if f.field_type == FieldType::Currency => {
                viewer.fmt.money_total(&b.sums, &currency)
            }
            (Some(_), Some(b)) => {
                let sum: rust_decimal::Decimal = b.sums.iter().map(|(_, d)| *d).sum();
                viewer.fmt.number(&sum)
            }
            _ => String::new(),
        };
        columns.push(Column {
            value: value.to_owned(),
            label: tr.pick_label(&object, field, value),
            count_text: viewer.fmt.integer(count),
            total_text,
            cards: page
                .records
                .iter()
                .map(|r| Card {
                    id: r.id().map(|i| i.to_string()).unwrap_or_default(),
                    version: r.version(),
                    title: match r.get(object.name_field.as_str()) {
                        Value::Text(t) => t.clone(),
                        _ => String::new(),
                    },
                    lines: card_fields
                        .iter()
                        .map(|f| cell(&viewer, &object, f, r, &names))
                        .filter(|c| !c.text.is_empty())
                        .collect(),
                })
                .collect(),
            more_href: page.next_cursor.map(|c| {
                format!(
                    "{base}&after_{}={}",
                    super::url_component(value),
                    super::url_component(&c)
                )
            }),
        });
    }
    let heading = tr.tf(
        "board.title",
        &[
            ("object", &tr.object_plural(&object)),
            ("field", &tr.field_label(&object, field)),
        ],
    );
    let page = BoardPage {
        chrome: Chrome::new(&state, &viewer, heading.clone(), object.name()),
        object: object.name().to_owned(),
        heading,
        field: field.name().to_owned(),
        fields: candidates
            .iter()
            .map(|f| (f.name().to_owned(), tr.field_label(&object, f)))
            .collect(),
        columns,
        pipelines: match (&pipeline, object.field(opportunity::pipeline::PIPELINE)) {
            (Some(_), Some(by)) => opportunity::pipeline::pipelines(&object)
                .iter()
                .map(|p| (p.name.clone(), tr.pick_label(&object, by, &p.name)))
                .collect(),
            _ => Vec::new(),
        },
        pipeline: pipeline.map(|p| p.name).unwrap_or_default(),
        can_edit: viewer.actor.may(object.name(), Operation::Edit)
            && fields::editable(&viewer.actor, &object, field.name()),
        here: viewer.here.clone(),
    };
    Ok(html(page.render()))
}
