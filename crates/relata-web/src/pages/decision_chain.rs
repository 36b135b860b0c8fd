//! The decision chain page of an account or an opportunity: its people as an organisation
//! chart, each with title and decision role, from `Core::decision_chain`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_domain::Value;

use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

pub struct Node {
    pub href: String,
    pub name: String,
    pub title: String,
    pub role: Option<(String, String)>,
    pub depth: usize,
}

#[derive(Template)]
#[template(path = "decision_chain.html")]
struct ChainPage {
    chrome: Chrome,
    object: String,
    id: String,
    title: String,
    nodes: Vec<Node>,
    truncated: bool,
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    if name != "account" && name != "opportunity" {
        return Err(WebError::NotFound(tr));
    }
    let subject = readable_object(&state, &viewer, &name)?;
    let contact = readable_object(&state, &viewer, "contact")?;
    let id = Uuid::parse_str(&id).map_err(|_| WebError::NotFound(tr))?;
    let record = state
        .core
        .get_record(&viewer.actor, subject.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let chain = state
        .core
        .decision_chain(&viewer.actor, subject.name(), id)
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let role_field = contact.field("decision_role");
    let nodes = chain
        .people
        .iter()
        .map(|p| Node {
            href: format!("/o/contact/{}", p.id),
            name: if p.name.is_empty() {
                tr.t("value.untitled").to_owned()
            } else {
                p.name.clone()
            },
            title: [p.title.clone(), p.department.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            role: match (&p.role, role_field) {
                (Some(r), Some(f)) => Some((
                    r.clone(),
                    viewer.fmt.value(&contact, f, &Value::Text(r.clone())),
                )),
                _ => None,
            },
            depth: p.depth,
        })
        .collect();
    let title = match record.get(subject.name_field.as_str()) {
        Value::Text(t) if !t.is_empty() => t.clone(),
        _ => tr.object_label(&subject),
    };
    let page = ChainPage {
        chrome: Chrome::new(
            &state,
            &viewer,
            tr.tf("decision_chain.title", &[("name", &title)]),
            subject.name(),
        ),
        object: subject.name().to_owned(),
        id: id.to_string(),
        title,
        nodes,
        truncated: chain.truncated,
    };
    Ok(html(page.render()))
}
