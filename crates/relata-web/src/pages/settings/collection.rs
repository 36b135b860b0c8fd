//! Payment collection (回款) and document numbering in settings (`/settings/collection`), for
//! administrators of metadata: whether a payment over what a contract still owes is refused
//! or recorded as overpaid, the currency paid totals roll up in, and the numbering rules of
//! contracts and quotes. The service checks every value; its errors show at their fields.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use relata_core::org_settings::CollectionSettings;
use relata_domain::access::Capability;
use relata_domain::collection::Overpayment;

use super::{Tab, chrome, error_for, general_errors, told};
use crate::error::WebError;
use crate::form::FormData;
use crate::pages::{Chrome, html_unless};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

const PATH: &str = "/settings/collection";
const FIELDS: &[&str] = &[
    "overpayment",
    "currency",
    "contract_numbering",
    "quote_numbering",
];
const NUMBERING: &[&str] = &["contract_numbering", "quote_numbering"];

/// The form: the settings as stored or as typed, and what was wrong with them.
pub struct SettingsForm {
    pub values: CollectionSettings,
    pub errors: Vec<(String, String)>,
}

impl SettingsForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(&self.errors, FIELDS)
    }

    fn from_post(form: &FormData) -> SettingsForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        SettingsForm {
            values: CollectionSettings {
                overpayment: field("overpayment"),
                // a code typed in lower case is still the code
                currency: field("currency").to_ascii_uppercase(),
                contract_numbering: field("contract_numbering"),
                quote_numbering: field("quote_numbering"),
            },
            errors: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/collection.html")]
struct CollectionPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    form: SettingsForm,
    /// The overpayment choices: (value, label).
    policies: Vec<(String, String)>,
}

/// `GET /settings/collection`.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    super::require(&viewer, Capability::ManageMetadata)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let notice = crate::notice::read(&viewer.csrf, &pairs);
    let values = state
        .core
        .collection_settings(&viewer.actor)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let form = SettingsForm {
        values,
        errors: Vec::new(),
    };
    render(&state, &viewer, form, notice)
}

fn render(
    state: &WebState,
    viewer: &Viewer,
    form: SettingsForm,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("collection_settings.title").to_owned(),
        PATH,
        Capability::ManageMetadata,
    )?;
    let failed = !form.errors.is_empty();
    let page = CollectionPage {
        chrome: chrome.with_notice(notice),
        tabs,
        form,
        policies: [Overpayment::Refuse, Overpayment::Record]
            .iter()
            .map(|p| {
                (
                    p.as_str().to_owned(),
                    tr.t(&format!("collection_settings.overpayment_{}", p.as_str()))
                        .to_owned(),
                )
            })
            .collect(),
    };
    Ok(html_unless(page.render(), failed))
}

/// `POST /settings/collection`: saves all four settings, or shows the form again with each
/// problem at its field.
pub async fn save(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let typed = SettingsForm::from_post(&form);
    match state
        .core
        .save_collection_settings(&viewer.actor, typed.values.clone())
        .await
    {
        Ok(_) => Ok(told(&viewer, PATH, "collection_settings.saved")),
        Err(e) => {
            let numbering = numbering_errors(&viewer, &e);
            let mut errors = super::form_errors(&viewer, e)?;
            // a numbering rule's error says what the rule may hold, in the viewer's language
            for (field, message) in &mut errors {
                if let Some((_, text)) = numbering.iter().find(|(f, _)| f == field) {
                    *message = text.clone();
                }
            }
            render(&state, &viewer, SettingsForm { errors, ..typed }, None)
        }
    }
}

/// The messages of refused numbering rules: the service's reason in English; in Chinese
/// the rule's syntax restated, since the reason is in English.
fn numbering_errors(viewer: &Viewer, e: &relata_core::CoreError) -> Vec<(String, String)> {
    let tr = viewer.tr();
    let relata_core::CoreError::Validation(list) = e else {
        return Vec::new();
    };
    list.iter()
        .filter(|e| NUMBERING.contains(&e.field.as_str()))
        .map(|e| {
            let lead = tr.t("collection_settings.numbering_invalid");
            let text = if tr.is_zh() {
                lead.to_owned()
            } else {
                format!("{lead} {}", e.message)
            };
            (e.field.clone(), text)
        })
        .collect()
}
