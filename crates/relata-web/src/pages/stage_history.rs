//! An opportunity's stage history on its page: each stage it was at, since when, and how
//! many days it spent there (`Core::stage_history`).

use relata_domain::ObjectDef;
use relata_domain::Record;
use relata_domain::opportunity::{OBJECT, STAGE};

use crate::session::Viewer;
use crate::state::WebState;

/// One stage of a deal's life, as shown.
pub struct StageLine {
    pub stage: String,
    pub entered: String,
    /// Empty while the deal is still at it.
    pub left: String,
    pub days: String,
}

/// The panel of an opportunity's page; `None` for other objects or when there is nothing to
/// show (the stage hidden from the viewer).
pub async fn panel(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
) -> Option<Vec<StageLine>> {
    if object.name() != OBJECT {
        return None;
    }
    let id = record.id()?;
    let periods = match state.core.stage_history(&viewer.actor, id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = ?e, "reading a deal's stage history failed");
            return None;
        }
    };
    let stage = object.field(STAGE)?;
    let tr = viewer.tr();
    let lines: Vec<StageLine> = periods
        .into_iter()
        .map(|p| StageLine {
            stage: tr.pick_label(object, stage, &p.stage),
            entered: viewer.fmt.datetime(&p.entered_at),
            left: p
                .left_at
                .map(|t| viewer.fmt.datetime(&t))
                .unwrap_or_default(),
            days: viewer.fmt.number(&p.days),
        })
        .collect();
    (!lines.is_empty()).then_some(lines)
}
