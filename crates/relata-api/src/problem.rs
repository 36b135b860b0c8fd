//! The one place where errors become HTTP responses: RFC 7807 `application/problem+json`
//! with a stable snake_case `code`, a human title in the caller's language, every field error
//! listed, and the request id. Internal causes are logged here and never sent.
//!
//! What the client sees, by class:
//! - validation (422): `errors` lists every field with its own code and message;
//! - bad request (400): malformed JSON, a bad cursor, a bad `If-Match`;
//! - unauthenticated (401, with `WWW-Authenticate: Bearer`), forbidden (403);
//! - too many requests (429, with `Retry-After`);
//! - not found (404): also for records the caller may not see, so existence does not leak;
//! - conflict (409), precondition failed (412: stale `If-Match`);
//! - payload too large (413), unsupported media type (415);
//! - unavailable (503) and internal (500): a generic message; the cause goes to the log.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value as Json, json};

use relata_core::{CoreError, ErrorClass};
use relata_domain::FieldError;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub extra: Option<Box<(String, Json)>>,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extra: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn field(error: FieldError) -> Self {
        CoreError::Validation(vec![error]).into()
    }

    /// The same problem under another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_extra(mut self, key: &str, value: Json) -> Self {
        self.extra = Some(Box::new((key.to_owned(), value)));
        self
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let code = e.code();
        let (status, detail) = match e.class() {
            ErrorClass::Validation => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "the request has invalid fields; see errors".to_owned(),
            ),
            ErrorClass::NotFound => (StatusCode::NOT_FOUND, e.to_string()),
            ErrorClass::Conflict => (StatusCode::CONFLICT, e.to_string()),
            ErrorClass::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, e.to_string()),
            ErrorClass::BadRequest => (StatusCode::BAD_REQUEST, e.to_string()),
            ErrorClass::Forbidden => (StatusCode::FORBIDDEN, e.to_string()),
            ErrorClass::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            ErrorClass::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "a valid bearer token or session is required".to_owned(),
            ),
            ErrorClass::Unavailable => {
                tracing::warn!(error = %e, cause = ?e, "service unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the service is temporarily unavailable; retry shortly".to_owned(),
                )
            }
            ErrorClass::Internal => {
                tracing::error!(error = ?e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred; it has been logged".to_owned(),
                )
            }
        };
        let retry_after = match &e {
            CoreError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let errors = match e {
            CoreError::Validation(errors) => errors,
            _ => Vec::new(),
        };
        Self {
            status,
            code,
            detail,
            errors,
            extra: None,
            retry_after,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::field(e)
    }
}

#[derive(Serialize)]
struct FieldProblem<'a> {
    field: &'a str,
    code: &'static str,
    message: &'a str,
}

/// Title of a problem in English and Simplified Chinese.
fn title(status: StatusCode, zh: bool) -> &'static str {
    match (status.as_u16(), zh) {
        (400, false) => "Bad request",
        (400, true) => "请求有误",
        (401, false) => "Authentication required",
        (401, true) => "需要身份验证",
        (403, false) => "Forbidden",
        (403, true) => "没有权限",
        (404, false) => "Not found",
        (404, true) => "未找到",
        (405, false) => "Method not allowed",
        (405, true) => "不支持该方法",
        (409, false) => "Conflict",
        (409, true) => "冲突",
        (412, false) => "Precondition failed",
        (412, true) => "记录已被修改",
        (413, false) => "Payload too large",
        (413, true) => "请求体过大",
        (415, false) => "Unsupported media type",
        (415, true) => "不支持的内容类型",
        (422, false) => "Validation failed",
        (422, true) => "数据校验失败",
        (429, false) => "Too many requests",
        (429, true) => "请求过于频繁",
        (503, false) => "Service unavailable",
        (503, true) => "服务暂不可用",
        (_, false) => "Internal error",
        (_, true) => "内部错误",
    }
}

tokio::task_local! {
    /// Whether the current request prefers Chinese (from Accept-Language), and its id.
    pub static REQUEST_LOCALE: (bool, String);
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (zh, request_id) = REQUEST_LOCALE
            .try_with(|l| l.clone())
            .unwrap_or((false, String::new()));
        let errors: Vec<FieldProblem<'_>> = self
            .errors
            .iter()
            .map(|e| FieldProblem {
                field: &e.field,
                code: e.code.as_str(),
                message: &e.message,
            })
            .collect();
        let mut body = json!({
            "type": format!("https://relata.dev/problems/{}", self.code),
            "title": title(self.status, zh),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if !errors.is_empty() {
            body["errors"] = json!(errors);
        }
        if !request_id.is_empty() {
            body["request_id"] = json!(request_id);
        }
        if let Some(extra) = self.extra {
            let (k, v) = *extra;
            body[k] = v;
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        (self.status, headers, body.to_string()).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// An RFC 7807 problem: the body of every error response of the API.
// For the OpenAPI document only: it describes what `ApiError::into_response` writes.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemSchema {
    /// `https://relata.dev/problems/<code>`
    #[schema(rename = "type")]
    kind: String,
    /// A human title in the caller's language (Accept-Language: English or Simplified Chinese).
    title: String,
    status: u16,
    /// Stable snake_case code; match on this, never on text.
    code: String,
    detail: String,
    /// Every field error, for validation problems.
    errors: Option<Vec<FieldProblemSchema>>,
    /// The id of the request, as in the `x-request-id` header and the server's log.
    request_id: Option<String>,
}

/// One field error of a problem.
#[derive(ToSchema)]
#[schema(as = FieldProblem)]
#[allow(dead_code)] // for the OpenAPI document only, like `ProblemSchema`
pub struct FieldProblemSchema {
    field: String,
    code: String,
    message: String,
}

/// Documents errors the way they are sent: every 4xx/5xx response of every operation is
/// `application/problem+json` with the `Problem` schema (unless the handler documents another
/// body), and every `/api` operation can answer
/// 401 (the authentication middleware wraps them all). Run on the finished document, so
/// handlers only name their statuses.
pub fn document(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ProblemSchema::name().into_owned(), ProblemSchema::schema());
    components.schemas.insert(
        FieldProblemSchema::name().into_owned(),
        FieldProblemSchema::schema(),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/api/");
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            document_operation(op, authenticated);
        }
    }
}

fn document_operation(op: &mut Operation, authenticated: bool) {
    let responses = &mut op.responses.responses;
    if authenticated && !responses.contains_key("401") {
        responses.insert(
            "401".to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("a valid bearer token is required")
                    .build(),
            ),
        );
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let Some(code) = status
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| s.is_client_error() || s.is_server_error())
        else {
            continue;
        };
        if response.description.is_empty() {
            response.description = title(code, false).to_owned();
        }
        if !response.content.is_empty() {
            continue; // a handler that documents its own error body (the health check)
        }
        response.content.insert(
            "application/problem+json".to_owned(),
            Content::new(Some(Ref::from_schema_name(ProblemSchema::name()))),
        );
    }
}
