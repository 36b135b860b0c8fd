//! The hosted page of a web form (`/f/{key}`, issue 9): what a stranger fills in, on its own
//! or in an `<iframe>` on the company's website. No session and no cookie: the form's own
//! signed token carries the time it was served, and the honeypot and UTM parameters ride in
//! hidden fields. Unlike every other page it may be framed by any site, and its form may
//! lead on to the redirect the administrator chose.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use relata_core::error::CoreError;
use relata_core::web_forms::{HONEYPOT, PublicField, PublicForm, Submission};
use relata_domain::FieldError;
use relata_domain::web_form::UTM_FIELDS;

use super::{html, see_other};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::{Lang, Tr};
use crate::session::anonymous_lang;
use crate::state::WebState;

#[derive(Template)]
#[template(path = "web_form.html")]
struct FormPage<'a> {
    tr: Tr,
    key: &'a str,
    form: &'a PublicForm,
    values: &'a BTreeMap<String, String>,
    errors: &'a [FieldError],
    utm: Vec<(&'static str, String)>,
    honeypot: &'static str,
    /// The page the visitor came from (the page framing the form, when embedded).
    referrer: String,
    /// Shown instead of the form: the thank-you, or why nothing more can be sent.
    message: Option<String>,
    asset_version: &'static str,
}

impl FormPage<'_> {
    fn value(&self, field: &str) -> &str {
        self.values.get(field).map_or("", String::as_str)
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn input_type(&self, field: &PublicField) -> &'static str {
        match field.field_type.as_str() {
            "email" => "email",
            "phone" => "tel",
            "url" => "url",
            "date" => "date",
            "datetime" => "datetime-local",
            _ => "text",
        }
    }
}

fn lang_of(query: &BTreeMap<String, String>, req: &Request) -> Lang {
    query
        .get("lang")
        .map_or_else(|| anonymous_lang(req.headers()), |l| Lang::from_tag(l))
}

/// The headers of a page other sites may frame, whose form may redirect anywhere http(s).
fn frameable(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::FRAMEABLE_POLICY),
    );
    response
}

fn not_found(tr: Tr) -> WebError {
    WebError::NotFound(tr)
}

pub async fn page(
    State(state): State<WebState>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    req: Request,
) -> Result<Response, WebError> {
    let tr = Tr::new(lang_of(&query, &req));
    let form = state
        .core
        .public_form(&key, tr.is_zh())
        .await
        .map_err(|_| not_found(tr))?;
    // the campaign parameters of the page the form was opened from (or of the page framing
    // it, which passes its own along in the iframe's address)
    let utm = UTM_FIELDS
        .iter()
        .filter_map(|k| query.get(*k).map(|v| (*k, v.clone())))
        .collect();
    let referrer = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(2_000)
        .collect();
    let page = FormPage {
        tr,
        key: &key,
        form: &form,
        values: &BTreeMap::new(),
        errors: &[],
        utm,
        honeypot: HONEYPOT,
        referrer,
        message: None,
        asset_version: crate::assets::version(),
    };
    Ok(frameable(html(page.render())))
}

pub async fn submit(
    State(state): State<WebState>,
    Path(key): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    req: Request,
) -> Result<Response, WebError> {
    let tr = Tr::new(lang_of(&query, &req));
    let addr = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let data = FormData::read(&parts.headers, body, tr).await?;
    // the page the form was opened from, which the page kept (the POST's own referrer is
    // the form itself)
    let referrer = data
        .first("_referrer")
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let mut values = BTreeMap::new();
    let mut utm = BTreeMap::new();
    for (k, v) in data.pairs() {
        if UTM_FIELDS.contains(&k.as_str()) {
            utm.insert(k.clone(), v.clone());
        } else if !k.starts_with('_') && k != HONEYPOT {
            values.insert(k.clone(), v.clone());
        }
    }
    let submission_referrer = referrer.clone().unwrap_or_default();
    let submission = Submission {
        values: values.clone(),
        token: data.first("_token").map(str::to_owned),
        honeypot: data.first(HONEYPOT).map(str::to_owned),
        client_addr: addr,
        utm: utm.clone(),
        referrer,
    };
    let outcome = state.core.submit_web_form(&key, submission).await;
    let (errors, message, status) = match outcome {
        Ok(done) => {
            if let Some(url) = done.redirect_url {
                return Ok(frameable(see_other(&url)));
            }
            let thanks = done
                .thank_you
                .unwrap_or_else(|| tr.t("web_form.thanks").to_owned());
            (Vec::new(), Some(thanks), StatusCode::OK)
        }
        Err(CoreError::Validation(errors)) => (errors, None, StatusCode::UNPROCESSABLE_ENTITY),
        Err(CoreError::TooManyRequests { .. }) => (
            Vec::new(),
            Some(tr.t("web_form.too_many").to_owned()),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(CoreError::NotFound { .. }) => return Err(not_found(tr)),
        Err(e) => return Err(WebError::core(e, tr)),
    };
    // the form again (a fresh token: the visitor's time runs from now), with their answers
    let form = state
        .core
        .public_form(&key, tr.is_zh())
        .await
        .map_err(|_| not_found(tr))?;
    let page = FormPage {
        tr,
        key: &key,
        form: &form,
        values: &values,
        errors: &errors,
        utm: UTM_FIELDS
            .iter()
            .filter_map(|k| utm.get(*k).map(|v| (*k, v.clone())))
            .collect(),
        honeypot: HONEYPOT,
        referrer: submission_referrer,
        message,
        asset_version: crate::assets::version(),
    };
    let mut response = frameable(html(page.render()));
    *response.status_mut() = status;
    Ok(response.into_response())
}
