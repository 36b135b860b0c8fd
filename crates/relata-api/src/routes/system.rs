//! Health, metrics, the OpenAPI document and its browsable page.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value as Json;

use crate::problem::ApiError;
use crate::state::AppState;

/// The answer of the health check.
#[derive(utoipa::ToSchema)]
#[schema(as = Health)]
#[allow(dead_code)] // for the OpenAPI document only: describes the JSON `healthz` writes
pub struct HealthSchema {
    /// `ok`, or `unavailable` when the database does not answer.
    status: String,
}

/// Liveness and database reachability (no token needed).
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, body = HealthSchema, description = "serving, and the database answers"),
              (status = 503, body = HealthSchema, description = "the database does not answer")))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let db = state
        .core
        .store
        .read(|conn| {
            conn.query_one("SELECT 1", &[])
                .map_err(relata_core::CoreError::from)
        })
        .await;
    match db {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (open, idle) = state.core.store.pool_state();
    let body = state.metrics.render(open, idle);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// 404 for unknown paths, as problem+json.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "there is no such endpoint; see /docs",
    )
}

/// 405 for known paths with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /docs",
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A browsable page rendered on the server from the OpenAPI document (no CDN, no script).
pub fn docs_page(doc: &Json) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Relata API</title><style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1f2933}\
         h1{margin-bottom:0}code,pre{background:#f3f4f6;border-radius:4px;padding:.1rem .3rem}.op{border:1px solid #e5e7eb;border-radius:6px;margin:.75rem 0;padding:.5rem .75rem}\
         .m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}.get{color:#047857}.post{color:#1d4ed8}.patch{color:#b45309}.delete{color:#b91c1c}\
         table{border-collapse:collapse;font-size:.9rem}td{padding:.15rem .5rem;border-top:1px solid #f3f4f6;vertical-align:top}</style></head><body>",
    );
    let info = &doc["info"];
    html.push_str(&format!(
        "<h1>{}</h1><p>Version {} · OpenAPI {} · <a href=\"/api/v1/openapi.json\">openapi.json</a> (needs a bearer token)</p><p>{}</p>",
        escape(info["title"].as_str().unwrap_or("Relata API")),
        escape(info["version"].as_str().unwrap_or("")),
        escape(doc["openapi"].as_str().unwrap_or("")),
        escape(info["description"].as_str().unwrap_or(""))
    ));
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            let Some(ops) = ops.as_object() else { continue };
            for (method, op) in ops {
                html.push_str(&format!(
                    "<div class=\"op\"><span class=\"m {m}\">{m}</span> <code>{}</code><p>{}</p>",
                    escape(path),
                    escape(
                        op["summary"]
                            .as_str()
                            .or(op["description"].as_str())
                            .unwrap_or("")
                    ),
                    m = escape(method)
                ));
                if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                    html.push_str("<table>");
                    for p in params {
                        html.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                            escape(p["name"].as_str().unwrap_or("")),
                            escape(p["in"].as_str().unwrap_or("")),
                            escape(p["description"].as_str().unwrap_or(""))
                        ));
                    }
                    html.push_str("</table>");
                }
                html.push_str("</div>");
            }
        }
    }
    html.push_str("</body></html>");
    html
}

pub async fn docs(State(doc): State<std::sync::Arc<String>>) -> Html<String> {
    Html((*doc).clone())
}
