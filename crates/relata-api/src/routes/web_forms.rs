//! Web-to-lead forms: building them (the "manage automation" capability) and the public
//! endpoints a website's own page uses (the hosted page is the web UI's `/f/{key}`).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;

use relata_core::Actor;
use relata_core::web_forms::{Submission, WebFormInput};

use crate::json::ApiJson;
use crate::middleware::client_addr;
use crate::params::path_id;
use crate::problem::ApiResult;
use crate::state::AppState;

/// Requests per minute one client address may make to the public form endpoints (the
/// per-form hourly cap of each form is on top).
pub const PUBLIC_PER_MINUTE: u32 = 60;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Contact us",
    "object": "lead",
    "enabled": true,
    "definition": {
        "fields": [{"field": "name", "required": true}, {"field": "company"}, {"field": "email", "required": true}, {"field": "phone"}],
        "redirect_url": "https://example.com/thanks",
        "source": "web",
        "assignment_rule_id": "…",
        "auto_response_template_id": "…",
        "min_fill_seconds": 3,
        "max_per_address_per_hour": 20
    }
}))]
pub struct WebFormBody {
    pub name: String,
    pub object: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `{fields: [{field, label?, required?}], title?, redirect_url?, thank_you?, source?, assignment_rule_id?, auto_response_template_id?, min_fill_seconds?, max_per_address_per_hour?}`
    #[schema(value_type = Object)]
    pub definition: Json,
}

fn yes() -> bool {
    true
}

impl From<WebFormBody> for WebFormInput {
    fn from(b: WebFormBody) -> Self {
        WebFormInput {
            name: b.name,
            object: b.object,
            enabled: b.enabled,
            definition: b.definition,
        }
    }
}

/// Every web form, with its submission counts.
#[utoipa::path(get, path = "/api/v1/web_forms", tag = "automation",
    responses((status = 200, description = "`{data: [form]}`"), (status = 403)))]
pub async fn list_web_forms(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let forms = state.core.web_forms(&actor).await?;
    Ok(axum::Json(json!({ "data": forms })).into_response())
}

/// Create a web form. Its public URL is `/f/{public_key}`.
#[utoipa::path(post, path = "/api/v1/web_forms", tag = "automation", request_body = WebFormBody,
    responses((status = 201, description = "the form"), (status = 403),
        (status = 422, description = "each problem named: `definition.fields[1].field`, `definition.redirect_url`…")))]
pub async fn create_web_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<WebFormBody>,
) -> ApiResult<Response> {
    let form = state.core.save_web_form(&actor, None, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(form)).into_response())
}

/// One web form.
#[utoipa::path(get, path = "/api/v1/web_forms/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 200, description = "the form"), (status = 403), (status = 404)))]
pub async fn get_web_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let form = state
        .core
        .web_form(&actor, path_id("web form", &id)?)
        .await?;
    Ok(axum::Json(form).into_response())
}

/// Replace a web form's name, switch and definition (its object, URL and owner stay).
#[utoipa::path(put, path = "/api/v1/web_forms/{id}", tag = "automation", params(("id" = String, Path)),
    request_body = WebFormBody,
    responses((status = 200, description = "the form"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_web_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebFormBody>,
) -> ApiResult<Response> {
    let form = state
        .core
        .save_web_form(&actor, Some(path_id("web form", &id)?), body.into())
        .await?;
    Ok(axum::Json(form).into_response())
}

/// Delete a web form and its submission log (the records it made stay).
#[utoipa::path(delete, path = "/api/v1/web_forms/{id}", tag = "automation", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_web_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_web_form(&actor, path_id("web form", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A published form as a website's own page renders it: fields with labels (Chinese with
/// `?lang=zh`), types, picklist options, and the token to send back with the answers.
#[utoipa::path(get, path = "/api/v1/public/forms/{key}", tag = "automation", security(()),
    params(("key" = String, Path), ("lang" = Option<String>, Query)),
    responses((status = 200, description = "`{title, fields, token}`"), (status = 404), (status = 429)))]
pub async fn public_form(
    State(state): State<AppState>,
    Path(key): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    public_guard(&state, &req)?;
    let zh = req.uri().query().is_some_and(|q| q.contains("lang=zh"));
    let form = state.core.public_form(&key, zh).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(form)).into_response())
}

/// The client's address, once it is within the per-minute limit of the public endpoints.
fn public_guard(state: &AppState, req: &Request) -> ApiResult<String> {
    let addr = client_addr(req).unwrap_or_else(|| "unknown".into());
    state
        .rate
        .check(&format!("form:{addr}"), PUBLIC_PER_MINUTE)
        .map_err(crate::problem::ApiError::from)?;
    Ok(addr)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// Answers by field name, as typed.
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, String>,
    /// The token of `GET /api/v1/public/forms/{key}`.
    #[serde(default)]
    pub token: Option<String>,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content` of the page.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub utm: BTreeMap<String, String>,
    #[serde(default)]
    pub referrer: Option<String>,
    /// The honeypot: left empty by people (a hidden input on the page).
    #[serde(default)]
    pub relata_hp: Option<String>,
}

/// Submit a published form. Answers where the visitor goes next (`redirect_url`) or what
/// they are told (`thank_you`). A problem with an answer is a 422 naming the field;
/// nothing is written.
#[utoipa::path(post, path = "/api/v1/public/forms/{key}", tag = "automation", security(()),
    params(("key" = String, Path)), request_body = SubmitBody,
    responses((status = 200, description = "`{redirect_url, thank_you}`"), (status = 404),
        (status = 422, description = "each problem named by its field"), (status = 429)))]
pub async fn submit_form(
    State(state): State<AppState>,
    Path(key): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let addr = public_guard(&state, &req)?;
    let referrer = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: SubmitBody = super::auth::body_of(req).await?;
    let submission = Submission {
        values: body.values,
        token: body.token,
        honeypot: body.relata_hp,
        client_addr: addr,
        utm: body.utm,
        referrer: body.referrer.or(referrer),
    };
    let answer = state.core.submit_web_form(&key, submission).await?;
    Ok(axum::Json(answer).into_response())
}
