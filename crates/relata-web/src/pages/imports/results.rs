//! What a finished import did: the count of rows each way (after an undo, how many were
//! undone and kept), and the first rows with problems — each error with the field's label,
//! the value the file had there, and what was wrong, in the viewer's language.

use relata_core::import::mapping::Target;
use relata_core::import::{ImportJob, ImportRow, ImportStatus};
use relata_domain::meta::FieldType;
use relata_domain::{FieldError, FieldErrorCode, ObjectDef};

use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::inputs::field_error_text;
use crate::session::Viewer;
use crate::state::WebState;

/// Problem rows shown on the page; the error report has all of them.
pub const SHOWN_PROBLEMS: usize = 100;

pub struct RowError {
    pub field: String,
    /// The cell of the file the error is about, when one column holds the field.
    pub value: String,
    pub message: String,
}

pub struct ProblemRow {
    pub row: i64,
    pub outcome: &'static str,
    /// The record a skipped row was a possible duplicate of.
    pub record_href: Option<String>,
    pub errors: Vec<RowError>,
}

pub struct Results {
    /// (label, count) of every way a row can end that some row did.
    pub counts: Vec<(&'static str, String)>,
    pub problems: Vec<ProblemRow>,
    /// More problem rows than shown.
    pub more: bool,
    pub has_report: bool,
    /// Why a failed job stopped, as the service said it.
    pub failure: Option<String>,
}

pub async fn of(
    state: &WebState,
    viewer: &Viewer,
    job: &ImportJob,
    object: &ObjectDef,
) -> Result<Results, WebError> {
    let tr = viewer.tr();
    let fmt = &viewer.fmt;
    let outcomes = state
        .core
        .import_outcomes(&viewer.actor, job.id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let t = &job.tally;
    let mut counts = vec![
        (tr.t("import.count_created"), t.created),
        (tr.t("import.count_updated"), t.updated),
        (tr.t("import.count_unchanged"), t.unchanged),
        (tr.t("import.count_skipped"), t.skipped),
        (tr.t("import.count_failed"), t.failed),
    ];
    if job.status == ImportStatus::Undone
        || outcomes.contains_key("undone")
        || outcomes.contains_key("kept")
    {
        let n = |k: &str| outcomes.get(k).copied().unwrap_or(0);
        counts.push((tr.t("import.count_undone"), n("undone")));
        counts.push((tr.t("import.count_kept"), n("kept")));
    }
    let rows = state
        .core
        .import_ledger(
            &viewer.actor,
            job.id,
            Some("problems".into()),
            0,
            SHOWN_PROBLEMS + 1,
        )
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let more = rows.len() > SHOWN_PROBLEMS;
    let problems = rows
        .iter()
        .take(SHOWN_PROBLEMS)
        .map(|r| problem_row(tr, job, object, r))
        .collect();
    Ok(Results {
        counts: counts
            .into_iter()
            .map(|(label, n)| (label, fmt.integer(n)))
            .collect(),
        problems,
        more,
        has_report: t.failed + t.skipped > 0,
        failure: job
            .error
            .clone()
            .filter(|_| job.status == ImportStatus::Failed),
    })
}

fn problem_row(tr: Tr, job: &ImportJob, object: &ObjectDef, r: &ImportRow) -> ProblemRow {
    let columns = job
        .options
        .as_ref()
        .map(|o| o.mapping.columns.as_slice())
        .unwrap_or_default();
    let cells = r.cells.as_deref().unwrap_or_default();
    // the column holding a field's value (not its currency)
    let cell_of = |field: &str| {
        columns
            .iter()
            .position(|t| matches!(t, Some(Target::Value { field: f } | Target::Name { field: f }) if f == field))
            .and_then(|i| cells.get(i))
            .cloned()
            .unwrap_or_default()
    };
    ProblemRow {
        row: r.row,
        outcome: if r.outcome == "skipped" {
            tr.t("import.count_skipped")
        } else {
            tr.t("import.count_failed")
        },
        record_href: r
            .record_id
            .filter(|_| r.outcome == "skipped")
            .map(|id| format!("/o/{}/{id}", object.name())),
        errors: r
            .errors
            .iter()
            .map(|e| RowError {
                field: match object.field(&e.field) {
                    Some(f) => tr.field_label(object, f),
                    None if e.field == "row" => tr.t("import.whole_row").to_owned(),
                    None => e.field.clone(),
                },
                value: cell_of(&e.field),
                message: row_error_text(tr, object, e),
            })
            .collect(),
    }
}

/// A row's error in the viewer's language. In English the service's message says it best (it
/// quotes the value); in Chinese the words come from the catalog, by the error's code and,
/// for a cell that could not be read, by the field's type — the value is shown beside it.
fn row_error_text(tr: Tr, object: &ObjectDef, e: &FieldError) -> String {
    if e.code == FieldErrorCode::Duplicate && e.field == "row" {
        return tr.t("import.possible_duplicate").to_owned();
    }
    if !tr.is_zh() {
        return e.message.clone();
    }
    if e.code != FieldErrorCode::WrongType {
        return field_error_text(tr, e);
    }
    let text = match object.field(&e.field).map(|f| f.field_type) {
        Some(FieldType::Date) => tr.t("field_error.invalid_date"),
        Some(FieldType::Datetime) => tr.t("field_error.invalid_datetime"),
        Some(
            FieldType::Integer | FieldType::Decimal | FieldType::Percent | FieldType::Currency,
        ) => tr.t("import.cell_number"),
        Some(FieldType::Boolean) => tr.t("import.cell_boolean"),
        Some(FieldType::Picklist | FieldType::MultiPicklist) => {
            tr.t("field_error.unknown_picklist_value")
        }
        Some(FieldType::Lookup | FieldType::UserLookup | FieldType::Id) => {
            tr.t("field_error.lookup_not_found")
        }
        _ => tr.t("import.cell_unreadable"),
    };
    text.to_owned()
}
