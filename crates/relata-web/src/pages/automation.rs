//! A record's automation page, for administrators who manage automation: each workflow
//! rule on the record's object, whether its condition holds for the record now, and what
//! its latest runs on the record did — "why did this fire, or not".

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_domain::access::Capability;

use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

pub struct RuleLine {
    pub id: String,
    pub name: String,
    pub trigger: String,
    pub state: String,
    pub holds: String,
    pub runs: Vec<RunLine>,
}

pub struct RunLine {
    pub started_at: String,
    pub trigger: String,
    pub status: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "automation.html")]
struct AutomationPage {
    chrome: Chrome,
    object: String,
    id: String,
    title: String,
    rules: Vec<RuleLine>,
}

/// `GET /o/{object}/{id}/automation`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    super::settings::require(&viewer, Capability::ManageAutomation)?;
    let object = readable_object(&state, &viewer, &name)?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let record = state
        .core
        .get_record(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let rules = state
        .core
        .record_workflows(&viewer.actor, object.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let title = match super::duplicates::title_of(&object, &record) {
        t if t.is_empty() => tr.t("value.untitled").to_owned(),
        t => t,
    };
    let page = AutomationPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.tf("automation.title", &[("name", &title)]),
            object.name(),
        ),
        object: object.name().to_owned(),
        id: id.to_string(),
        title,
        rules: rules
            .iter()
            .map(|r| RuleLine {
                id: r.rule_id.to_string(),
                name: r.name.clone(),
                trigger: r.trigger.clone(),
                state: tr
                    .t(if r.enabled {
                        "workflows.on"
                    } else {
                        "workflows.off"
                    })
                    .to_owned(),
                holds: tr
                    .t(if r.condition_holds {
                        "automation.holds"
                    } else {
                        "automation.does_not_hold"
                    })
                    .to_owned(),
                runs: r
                    .runs
                    .iter()
                    .map(|run| RunLine {
                        started_at: viewer.fmt.datetime(&run.started_at),
                        trigger: run.trigger.clone(),
                        status: tr.t(&format!("workflows.status_{}", run.status)).to_owned(),
                        detail: run.error.clone().unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
    };
    Ok(html(page.render()))
}
