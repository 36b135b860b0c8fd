//! The kanban of one pipeline: a column per stage with its count and total (one grouped
//! query over every deal the viewer may see), and the first page of each column — each
//! column pages on its own, so a stage with 100,000 deals costs one page, not 100,000 rows.

use std::sync::Arc;

use futures_util::future::try_join_all;
use rust_decimal::Decimal;
use serde_json::json;

use relata_domain::Value;
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::ObjectDef;
use relata_domain::opportunity::pipeline::{self, PIPELINE, Pipeline};
use relata_domain::opportunity::{OBJECT, STAGE};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::ListRequest;
use crate::records::read::ListPage;

pub const MAX_PER_COLUMN: usize = 100;
/// The field a column totals.
pub const AMOUNT: &str = "amount";

/// One stage's column.
pub struct Column {
    pub stage: String,
    pub label: String,
    pub probability: u32,
    pub count: i64,
    /// The column's amounts, one total per currency.
    pub sums: Vec<(String, Decimal)>,
    pub page: ListPage,
}

pub struct Board {
    pub object: Arc<ObjectDef>,
    pub pipeline: Pipeline,
    pub columns: Vec<Column>,
}

/// What a board shows.
#[derive(Debug, Clone, Default)]
pub struct BoardRequest {
    /// Narrows every column (the filter language), e.g. "my deals closing this quarter".
    pub filter: Option<Filter>,
    pub per_column: Option<usize>,
    /// Also the two closed stages (by default only the open ones).
    pub closed: bool,
    /// `field` or `-field`, within each column (default: newest first).
    pub sort: Option<String>,
}

fn eq(field: &str, value: &str) -> Filter {
    Filter::Cond {
        field: field.to_owned(),
        op: Op::Eq,
        value: json!(value),
    }
}

fn and(filter: Option<Filter>, more: Vec<Filter>) -> Filter {
    Filter::And(filter.into_iter().chain(more).collect())
}

impl Core {
    /// The board of `pipeline` as `actor` may see it.
    pub async fn board(
        &self,
        actor: &Actor,
        pipeline: &str,
        req: BoardRequest,
    ) -> Result<Board, CoreError> {
        let pipeline = self.pipeline(pipeline)?;
        let object = self.object(OBJECT)?;
        let stages: Vec<&pipeline::Stage> = pipeline
            .stages
            .iter()
            .filter(|s| req.closed || !pipeline::is_closed(&s.value))
            .collect();
        // only the columns shown are counted: years of closed deals cost an open board nothing
        let shown: Vec<&str> = stages.iter().map(|s| s.value.as_str()).collect();
        let in_pipeline = and(
            req.filter.clone(),
            vec![
                eq(PIPELINE, &pipeline.name),
                Filter::Cond {
                    field: STAGE.to_owned(),
                    op: Op::In,
                    value: json!(shown),
                },
            ],
        );
        let totals = self.aggregate(
            actor,
            OBJECT,
            STAGE,
            amount(actor, &object),
            Some(in_pipeline),
        );
        let pages = try_join_all(
            stages
                .iter()
                .map(|s| self.board_column(actor, &pipeline.name, &s.value, &req, None)),
        );
        let ((_, groups), pages) = futures_util::try_join!(totals, pages)?;
        let columns = stages
            .into_iter()
            .zip(pages)
            .map(|(s, page)| {
                let bucket = groups
                    .buckets
                    .iter()
                    .find(|b| b.key == Value::Text(s.value.clone()));
                Column {
                    stage: s.value.clone(),
                    label: pipeline::stage_label(&object, &s.value),
                    probability: s.probability,
                    count: bucket.map_or(0, |b| b.count),
                    sums: bucket.map(|b| b.sums.clone()).unwrap_or_default(),
                    page,
                }
            })
            .collect();
        Ok(Board {
            object,
            pipeline,
            columns,
        })
    }

    /// One page of one column: the deals of `pipeline` at `stage` matching the board's
    /// filter, after `cursor`.
    pub async fn board_column(
        &self,
        actor: &Actor,
        pipeline: &str,
        stage: &str,
        req: &BoardRequest,
        cursor: Option<String>,
    ) -> Result<ListPage, CoreError> {
        let known = self.pipeline(pipeline)?;
        if known.stage(stage).is_none() {
            return Err(CoreError::NotFound {
                what: format!("stage '{stage}' of pipeline '{pipeline}'"),
            });
        }
        let request = ListRequest {
            filter: Some(and(
                req.filter.clone(),
                vec![eq(PIPELINE, pipeline), eq(STAGE, stage)],
            )),
            sort: req.sort.clone(),
            limit: Some(req.per_column.unwrap_or(20).clamp(1, MAX_PER_COLUMN)),
            cursor,
            ..ListRequest::default()
        };
        let (_, page) = self.list_records(actor, OBJECT, request).await?;
        Ok(page)
    }
}

/// The amount field, when the object still has it and the viewer may read it.
fn amount(actor: &Actor, object: &ObjectDef) -> Option<&'static str> {
    let live = object.field(AMOUNT).is_some_and(|f| !f.archived);
    (live && crate::fields::readable(actor, object, AMOUNT)).then_some(AMOUNT)
}
