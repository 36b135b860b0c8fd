//! `/api/v1/records/{object}/{id}/hierarchy`: a record with its ancestors and descendants
//! (an account group), and figures rolled up over each subtree.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};

use relata_core::Actor;
use relata_core::hierarchy::{Figure, Node};

use crate::params::path_id;
use crate::problem::ApiResult;
use crate::state::AppState;

fn figures(keys: &[&str], figures: &[Figure]) -> Json {
    let map: Map<String, Json> = keys
        .iter()
        .zip(figures)
        .map(|(k, f)| {
            (
                (*k).to_owned(),
                json!({
                    "count": f.count,
                    "sums": f.sums.iter().map(|(c, a)| json!({"currency": c, "amount": a.to_string()})).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    Json::Object(map)
}

fn node_json(keys: &[&str], n: &Node) -> Json {
    json!({
        "id": n.id.to_string(),
        "name": n.name,
        "parent_id": n.parent.map(|p| p.to_string()),
        "depth": n.depth,
        "own": figures(keys, &n.own),
        "total": figures(keys, &n.total),
    })
}

/// The hierarchy around a record of an object with a lookup to itself (an account's parent
/// company and subsidiaries): from the highest ancestor the caller may see down to 10 levels
/// and 200 records, depth first. For accounts each node carries its own and its subtree's
/// `contacts`, `open_opportunities` and `won_opportunities` (count and amount per currency),
/// counting only records the caller may see. A figure the caller may not see at all (no read
/// access to its object, or its amount hidden) is left out of `rollups` and of every node.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/hierarchy", tag = "records",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{subject, truncated, rollups, nodes: [{id, name, parent_id, depth, own, total}]}`"),
        (status = 404, description = "no such record, not visible, or the object has no parent field")))]
pub async fn hierarchy(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let tree = state.core.hierarchy(&actor, &object, id).await?;
    Ok(axum::Json(json!({
        "subject": tree.subject.to_string(),
        "truncated": tree.truncated,
        "rollups": tree.rollups,
        "nodes": tree.nodes.iter().map(|n| node_json(&tree.rollups, n)).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// The decision chain of an account or an opportunity: the people the caller may see as an
/// organisation chart (who reports to whom), each with title, department and decision role
/// (decision maker, economic buyer, technical evaluator, influencer, champion, gatekeeper,
/// user, blocker), depth first. An account's people are its contacts and those linked to it
/// through `account_contact` (whose title and role there win); an opportunity's are its
/// contact roles (`opportunity_contact`) and its primary contact. `link_id` is the linking
/// record, if any.
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/decision_chain", tag = "records",
    params(("object" = String, Path, description = "account or opportunity"), ("id" = String, Path)),
    responses((status = 200, description = "`{people: [{id, name, title, department, decision_role, reports_to_id, depth, link_id}], truncated}`"),
        (status = 404, description = "not an account or opportunity, no such record, or not visible")))]
pub async fn decision_chain(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(&object, &id)?;
    let chain = state.core.decision_chain(&actor, &object, id).await?;
    Ok(axum::Json(json!({
        "people": chain.people.iter().map(|p| json!({
            "id": p.id.to_string(),
            "name": p.name,
            "title": p.title,
            "department": p.department,
            "decision_role": p.role,
            "reports_to_id": p.reports_to.map(|r| r.to_string()),
            "depth": p.depth,
            "link_id": p.link.map(|l| l.to_string()),
        })).collect::<Vec<_>>(),
        "truncated": chain.truncated,
    }))
    .into_response())
}
