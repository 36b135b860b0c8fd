//! Email: templates (administrators of automation), sending a mail about a record (anyone
//! who can see the record), the mail of a record, the caller's sender identities, the
//! suppression list; and the public addresses in every mail — the open pixel, the click
//! redirect and the unsubscribe page.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use relata_core::Actor;
use relata_core::email::{IdentityInput, SendRequest, TemplateInput};

use crate::idempotency::{MAX_KEY_LEN, invalid_key};
use crate::json::ApiJson;
use crate::params::path_id;
use crate::problem::ApiResult;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Welcome", "object": "contact", "subject": "Welcome, {{ record.name }}", "body_text": "Dear {{ record.name }},\n\n…\n\n{{ sender.name }}", "body_html": "<p>Dear {{ record.name }} of {{ record.account_id.name }},</p>"}))]
pub struct TemplateBody {
    pub name: String,
    /// The object whose fields it merges (`record.<field>`, through lookups:
    /// `record.account_id.name`); none: no record fields.
    #[serde(default)]
    pub object: Option<String>,
    pub subject: String,
    #[serde(default)]
    pub body_text: String,
    #[serde(default)]
    pub body_html: Option<String>,
    /// Attachments (of records) sent with every mail from it.
    #[serde(default)]
    pub attachment_ids: Vec<Uuid>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl From<TemplateBody> for TemplateInput {
    fn from(b: TemplateBody) -> Self {
        TemplateInput {
            name: b.name,
            object: b.object,
            subject: b.subject,
            body_text: b.body_text,
            body_html: b.body_html,
            attachment_ids: b.attachment_ids,
            active: b.active,
        }
    }
}

/// Email templates by name.
#[utoipa::path(get, path = "/api/v1/email_templates", tag = "email",
    params(("object" = Option<String>, Query, description = "only those for this object's records (and those for none)")),
    responses((status = 200, description = "`{data: [template]}`")))]
pub async fn list_templates(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Response> {
    let list = state
        .core
        .email_templates(&actor, q.get("object").cloned())
        .await?;
    Ok(axum::Json(json!({ "data": list })).into_response())
}

/// Create a template; its syntax and every merge field are checked now.
#[utoipa::path(post, path = "/api/v1/email_templates", tag = "email", request_body = TemplateBody,
    responses((status = 201, description = "the template"), (status = 403),
        (status = 422, description = "`subject`, `body_text` or `body_html` with the syntax error or unknown merge field")))]
pub async fn create_template(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> ApiResult<Response> {
    let t = state
        .core
        .create_email_template(&actor, body.into())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(t)).into_response())
}

/// One template.
#[utoipa::path(get, path = "/api/v1/email_templates/{id}", tag = "email", params(("id" = String, Path)),
    responses((status = 200, description = "the template"), (status = 404)))]
pub async fn get_template(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let t = state
        .core
        .email_template(&actor, path_id("email template", &id)?)
        .await?;
    Ok(axum::Json(t).into_response())
}

/// Change a template (mail already sent keeps its text).
#[utoipa::path(put, path = "/api/v1/email_templates/{id}", tag = "email", params(("id" = String, Path)),
    request_body = TemplateBody,
    responses((status = 200, description = "the template"), (status = 403), (status = 404), (status = 422)))]
pub async fn update_template(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> ApiResult<Response> {
    let t = state
        .core
        .update_email_template(&actor, path_id("email template", &id)?, body.into())
        .await?;
    Ok(axum::Json(t).into_response())
}

/// Delete a template.
#[utoipa::path(delete, path = "/api/v1/email_templates/{id}", tag = "email", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_template(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_email_template(&actor, path_id("email template", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"object": "contact", "record_id": "0190a0b0-0000-7000-8000-000000000001", "template_id": "0190a0b0-0000-7000-8000-000000000002"}))]
pub struct SendBody {
    pub object: String,
    pub record_id: Uuid,
    /// A template; or `subject` and a body written here (checked the same way).
    #[serde(default)]
    pub template_id: Option<Uuid>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body_text: Option<String>,
    #[serde(default)]
    pub body_html: Option<String>,
    /// The address; none: the record's email field.
    #[serde(default)]
    pub to: Option<String>,
    /// One of your sender identities; none: your default one.
    #[serde(default)]
    pub identity_id: Option<Uuid>,
    #[serde(default)]
    pub attachment_ids: Vec<Uuid>,
    /// Count opens and clicks (HTML mail).
    #[serde(default = "yes")]
    pub track: bool,
    /// The mail this one answers (it keeps that mail's thread).
    #[serde(default)]
    pub reply_to_email: Option<Uuid>,
}

impl From<SendBody> for SendRequest {
    fn from(b: SendBody) -> Self {
        SendRequest {
            object: b.object,
            record_id: b.record_id,
            template_id: b.template_id,
            subject: b.subject,
            body_text: b.body_text,
            body_html: b.body_html,
            to: b.to,
            identity_id: b.identity_id,
            attachment_ids: b.attachment_ids,
            track: b.track,
            reply_to_email: b.reply_to_email,
        }
    }
}

/// Send a mail about a record. It is queued and sent in the background (retried while the
/// mail server is down); the answer is the mail as queued. With an `Idempotency-Key` header,
/// the same key from the same user makes one mail however often the request is repeated
/// (the answer is that mail again).
#[utoipa::path(post, path = "/api/v1/emails", tag = "email", request_body = SendBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "one mail per key and user")),
    responses((status = 202, description = "the mail, queued"), (status = 400, description = "`mail_not_configured`"),
        (status = 404, description = "no such record you may see"),
        (status = 409, description = "`email_suppressed`: the receiver opted out or is on the suppression list"),
        (status = 422, description = "`to`, `template_id` or a template part named with the problem")))]
pub async fn send_email(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Response> {
    // one mail per key and user (the record middleware keys per credential; a mail is the
    // user's whichever of their tokens asked)
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= MAX_KEY_LEN => {
            Some(format!("api:{}:{k}", actor.user_id.0))
        }
        Some(_) => return Err(invalid_key()),
    };
    let mail = state
        .core
        .send_email(&actor, &body.into(), key.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(mail)).into_response())
}

/// What a mail would look like, rendered for its record, without sending it.
#[utoipa::path(post, path = "/api/v1/emails/preview", tag = "email", request_body = SendBody,
    responses((status = 200, description = "from, to, subject, body_text, body_html"), (status = 404), (status = 409), (status = 422)))]
pub async fn preview_email(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<Response> {
    let mail = state.core.preview_email(&actor, &body.into()).await?;
    Ok(axum::Json(mail).into_response())
}

/// One mail (with its status, opens and clicks), when you may see its record.
#[utoipa::path(get, path = "/api/v1/emails/{id}", tag = "email", params(("id" = String, Path)),
    responses((status = 200, description = "the mail"), (status = 404)))]
pub async fn get_email(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mail = state.core.email(&actor, path_id("email", &id)?).await?;
    Ok(axum::Json(mail).into_response())
}

/// The mail about a record, newest first (for an account, also its contacts' mail).
#[utoipa::path(get, path = "/api/v1/records/{object}/{id}/emails", tag = "email",
    params(("object" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "`{data: [email]}`"), (status = 404)))]
pub async fn record_emails(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((object, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let list = state
        .core
        .emails_of(&actor, &object, path_id("record", &id)?)
        .await?;
    Ok(axum::Json(json!({ "data": list })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Li Lei (Acme)", "address": "li.lei@acme.cn", "signature": "Li Lei\nAcme Sales", "is_default": true}))]
pub struct IdentityBody {
    /// Whose identity (administrators who manage users); none: yours.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    pub name: String,
    /// Your own sign-in address; another needs an administrator who manages users.
    pub address: String,
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

/// Your sender identities (an administrator who manages users: `?user_id=`).
#[utoipa::path(get, path = "/api/v1/me/email_identities", tag = "email",
    params(("user_id" = Option<String>, Query)),
    responses((status = 200, description = "`{data: [identity]}`"), (status = 403)))]
pub async fn list_identities(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Response> {
    let user = match q.get("user_id") {
        Some(u) => Some(path_id("user", u)?),
        None => None,
    };
    let list = state.core.sender_identities(&actor, user).await?;
    Ok(axum::Json(json!({ "data": list })).into_response())
}

/// Add a sender identity.
#[utoipa::path(post, path = "/api/v1/me/email_identities", tag = "email", request_body = IdentityBody,
    responses((status = 201, description = "the identity"), (status = 403), (status = 422)))]
pub async fn create_identity(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(b): ApiJson<IdentityBody>,
) -> ApiResult<Response> {
    let input = IdentityInput {
        user_id: b.user_id,
        name: b.name,
        address: b.address,
        reply_to: b.reply_to,
        signature: b.signature,
        is_default: b.is_default,
    };
    let identity = state.core.create_sender_identity(&actor, input).await?;
    Ok((StatusCode::CREATED, axum::Json(identity)).into_response())
}

/// Remove a sender identity.
#[utoipa::path(delete, path = "/api/v1/me/email_identities/{id}", tag = "email", params(("id" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete_identity(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_sender_identity(&actor, path_id("sender identity", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionBody {
    pub address: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// The suppression list: addresses no mail goes to (unsubscribed, bounced, added by hand).
#[utoipa::path(get, path = "/api/v1/email_suppressions", tag = "email",
    responses((status = 200, description = "`{data: [suppression]}`"), (status = 403)))]
pub async fn list_suppressions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let list = state.core.email_suppressions(&actor).await?;
    Ok(axum::Json(json!({ "data": list })).into_response())
}

/// Add an address to the suppression list.
#[utoipa::path(post, path = "/api/v1/email_suppressions", tag = "email", request_body = SuppressionBody,
    responses((status = 204), (status = 403), (status = 422)))]
pub async fn add_suppression(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(b): ApiJson<SuppressionBody>,
) -> ApiResult<Response> {
    state
        .core
        .add_email_suppression(&actor, &b.address, b.note)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Take an address off the suppression list.
#[utoipa::path(delete, path = "/api/v1/email_suppressions/{address}", tag = "email", params(("address" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn remove_suppression(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(address): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .remove_email_suppression(&actor, &address)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, 0x44, 0x00, 0x3b,
];

/// The open pixel of a mail: counts an open, answers an invisible image.
#[utoipa::path(get, path = "/m/{token}/o.gif", tag = "email", security(()), params(("token" = String, Path)),
    responses((status = 200, description = "image/gif"), (status = 404, description = "no mail has this token")))]
pub async fn open_pixel(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    if !state.core.email_opened(token).await? {
        return Err(relata_core::CoreError::not_found("this mail").into());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        PIXEL,
    )
        .into_response())
}

/// A tracked link of a mail: counts the click and redirects to the link's address.
#[utoipa::path(get, path = "/m/{token}/c/{n}", tag = "email", security(()),
    params(("token" = String, Path), ("n" = usize, Path)),
    responses((status = 302, description = "to the link"), (status = 404)))]
pub async fn click(
    State(state): State<AppState>,
    Path((token, n)): Path<(String, usize)>,
) -> ApiResult<Response> {
    match state.core.email_clicked(token, n).await? {
        // 302, as link trackers answer: every client follows it with a GET
        Some(url) => Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, "no-store".into()),
            ],
        )
            .into_response()),
        None => Err(relata_core::CoreError::not_found("this link").into()),
    }
}

/// The unsubscribe page of a mail (English and Chinese), with a button that unsubscribes.
#[utoipa::path(get, path = "/m/{token}/unsubscribe", tag = "email", security(()), params(("token" = String, Path)),
    responses((status = 200, description = "text/html"), (status = 404)))]
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let info = state.core.unsubscribe_info(token).await?;
    Ok(Html(unsubscribe_html(&info.address, info.unsubscribed)).into_response())
}

/// Unsubscribe (the page's button, or a mail program's one-click `List-Unsubscribe-Post`).
#[utoipa::path(post, path = "/m/{token}/unsubscribe", tag = "email", security(()), params(("token" = String, Path)),
    responses((status = 200, description = "text/html: unsubscribed"), (status = 404)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let info = state.core.unsubscribe(token).await?;
    Ok(Html(unsubscribe_html(&info.address, info.unsubscribed)).into_response())
}

fn unsubscribe_html(address: &str, done: bool) -> String {
    let address = address
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = if done {
        format!(
            "<h1>You are unsubscribed</h1><p>{address} will get no more mail from us.</p><h1 lang=\"zh-CN\">已退订</h1><p lang=\"zh-CN\">{address} 将不再收到我们的邮件。</p>"
        )
    } else {
        format!(
            "<h1>Unsubscribe</h1><p>Stop all mail from us to {address}?</p><h1 lang=\"zh-CN\">退订</h1><p lang=\"zh-CN\">不再向 {address} 发送任何邮件？</p><form method=\"post\"><button type=\"submit\">Unsubscribe / 退订</button></form>"
        )
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Unsubscribe / 退订</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}}button{{font-size:1rem;padding:.5rem 1.2rem}}</style></head><body>{body}</body></html>"
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "My inbox", "url": "imap://li.lei@127.0.0.1:1143", "password": "app-password", "folder": "INBOX"}))]
pub struct MailboxBody {
    /// Whose mailbox (administrators of automation); none: yours.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    pub name: String,
    /// `imaps://USER@HOST[:993]` (TLS) or `imap://USER@HOST[:143]` (plain: the same machine
    /// or a trusted network); the user name percent-encoded (`li.lei%40acme.cn`).
    pub url: String,
    /// Kept to sign in, never shown again.
    pub password: String,
    #[serde(default)]
    pub folder: Option<String>,
}

/// Your mailboxes synced over IMAP (an administrator of automation: every one), with each
/// one's last sync and error.
#[utoipa::path(get, path = "/api/v1/mailboxes", tag = "email",
    responses((status = 200, description = "`{data: [mailbox]}`")))]
pub async fn list_mailboxes(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Response> {
    let list = state.core.mailboxes(&actor).await?;
    Ok(axum::Json(json!({ "data": list })).into_response())
}

/// Connect a mailbox: every five minutes its new mail is read; replies join their thread,
/// mail from or to a contact or lead goes on its timeline, delivery reports mark bounces.
#[utoipa::path(post, path = "/api/v1/mailboxes", tag = "email", request_body = MailboxBody,
    responses((status = 201, description = "the mailbox"), (status = 403), (status = 422)))]
pub async fn create_mailbox(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(b): ApiJson<MailboxBody>,
) -> ApiResult<Response> {
    let input = relata_core::email::MailboxInput {
        user_id: b.user_id,
        name: b.name,
        url: b.url,
        password: b.password,
        folder: b.folder,
    };
    let mailbox = state.core.create_mailbox(&actor, input).await?;
    Ok((StatusCode::CREATED, axum::Json(mailbox)).into_response())
}

/// Disconnect a mailbox (the mail taken in stays on its records).
#[utoipa::path(delete, path = "/api/v1/mailboxes/{id}", tag = "email", params(("id" = String, Path)),
    responses((status = 204), (status = 404)))]
pub async fn delete_mailbox(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state
        .core
        .delete_mailbox(&actor, path_id("mailbox", &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Sync a mailbox now.
#[utoipa::path(post, path = "/api/v1/mailboxes/{id}/sync", tag = "email", params(("id" = String, Path)),
    responses((status = 200, description = "fetched, attached, bounces, known, unmatched"), (status = 404),
        (status = 503, description = "the server could not be reached or refused the sign-in (also kept as the mailbox's `last_error`)")))]
pub async fn sync_mailbox(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let report = state
        .core
        .sync_mailbox_now(&actor, path_id("mailbox", &id)?)
        .await?;
    Ok(axum::Json(report).into_response())
}
