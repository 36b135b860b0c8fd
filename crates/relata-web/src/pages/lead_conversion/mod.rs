//! Converting a lead (线索转化) in the web UI: the conversion page, which shows what
//! `Core::conversion_preview` proposes — the existing accounts and contacts that match the
//! lead, a new one with the name it would get, an opportunity to add, other leads that may be
//! the same person — and posts the user's choices to `Core::convert_lead`, which decides and
//! checks everything again; and, for the lead's own page, its "Convert" button and the notice
//! of what a converted lead became.
//!
//! The page only collects choices. It never matches, copies or links anything itself.

mod choices;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use uuid::Uuid;

use relata_core::CoreError;
use relata_core::duplicates::PossibleDuplicate;
use relata_core::leads::Preview;
use relata_domain::lead;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, Record, Value};

use super::cells::{Names, cell};
use super::duplicates::title_of;
use super::inputs::{self, Input, field_error_text};
use super::{Chrome, html_unless, readable_object, see_other};
use crate::error::WebError;
use crate::form::FormData;
use crate::session::{Posted, Viewer};
use crate::state::WebState;
use choices::{Choices, Objects, asked};

/// An existing record the lead may convert into, or another lead that may be the same
/// person.
pub struct MatchRow {
    pub id: String,
    pub name: String,
    /// "92% match".
    pub score: String,
    pub href: String,
}

/// The account or the contact part of the page: a radio per match, "create a new one" with
/// its name, and for the account "no account".
pub struct Target {
    /// `account` or `contact`: the radio group's name and the prefix of its inputs.
    pub object: String,
    pub heading: String,
    pub matches: Vec<MatchRow>,
    pub no_matches: String,
    /// The chosen radio: a match's id, `new` or `none`.
    pub chosen: String,
    pub new_label: String,
    /// The new record's name, editable.
    pub inputs: Vec<Input>,
    /// "No account" (never offered for the contact).
    pub none_label: Option<String>,
    /// Refusals about this part not shown beside an input (the choice itself, a field the
    /// conversion map filled).
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "lead_conversion.html")]
struct ConversionPage {
    chrome: Chrome,
    id: String,
    lead_name: String,
    targets: Vec<Target>,
    opportunity_heading: String,
    with_opportunity: bool,
    opportunity: Vec<Input>,
    opportunity_errors: Vec<String>,
    duplicates: Vec<MatchRow>,
    /// The conversion was refused: the problems are marked on the page.
    failed: bool,
    /// Refusals that name no part of the page.
    errors: Vec<String>,
}

/// What the core refused, to show on the page again.
#[derive(Default)]
struct Refusal {
    fields: Vec<FieldError>,
    general: Vec<String>,
}

impl Refusal {
    fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    /// The field errors of `object`'s part, named without the part's prefix.
    fn of(&self, object: &str) -> Vec<FieldError> {
        self.fields
            .iter()
            .filter_map(|e| {
                let field = e.field.strip_prefix(object)?.strip_prefix('.')?;
                Some(FieldError {
                    field: field.to_owned(),
                    ..e.clone()
                })
            })
            .collect()
    }
}

fn lead_page(id: Uuid) -> String {
    format!("/o/{}/{id}", lead::OBJECT)
}

fn already_converted(e: &CoreError) -> bool {
    matches!(
        e,
        CoreError::Conflict {
            code: "already_converted",
            ..
        }
    )
}

/// The lead named in the page's path (only leads convert), if the viewer may read leads.
fn lead_id(state: &WebState, viewer: &Viewer, object: &str, id: &str) -> Result<Uuid, WebError> {
    let tr = viewer.tr();
    if object != lead::OBJECT {
        return Err(WebError::NotFound(tr));
    }
    readable_object(state, viewer, object)?;
    Uuid::parse_str(id).map_err(|_| WebError::NotFound(tr))
}

/// `GET /o/lead/{id}/convert`: the preview, the best choices preselected. A lead converted
/// already is shown on its own page, which says what it became.
pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((object, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = lead_id(&state, &viewer, &object, &id)?;
    let objects = Objects::load(&state, &viewer)?;
    let preview = match state.core.conversion_preview(&viewer.actor, id).await {
        Ok(p) => p,
        Err(e) if already_converted(&e) => return Ok(see_other(&lead_page(id))),
        Err(e) => return Err(WebError::core(e, viewer.tr())),
    };
    let choices = Choices::proposed(&preview, &objects);
    render(
        &state,
        &viewer,
        &objects,
        id,
        &preview,
        &choices,
        &Refusal::default(),
    )
}

/// `POST /o/lead/{id}/convert`: converts as chosen and opens the contact; a refusal shows
/// the page again with what was typed and each problem beside what it is about.
pub async fn convert(
    State(state): State<WebState>,
    Path((object, id)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    let tr = viewer.tr();
    let id = lead_id(&state, &viewer, &object, &id)?;
    let objects = Objects::load(&state, &viewer)?;
    let choices = Choices::posted(&form, &objects);
    let mut refusal = Refusal::default();
    match choices.conversion(&state, &viewer, &objects).await {
        Err(problems) => refusal.fields = problems,
        Ok(conversion) => match state.core.convert_lead(&viewer.actor, id, conversion).await {
            Ok(done) => {
                return Ok(see_other(&match done.contact.record.id() {
                    Some(contact) => format!("/o/contact/{contact}?saved=converted"),
                    None => lead_page(id),
                }));
            }
            Err(e) if already_converted(&e) => return Ok(see_other(&lead_page(id))),
            Err(CoreError::Validation(problems)) => refusal.fields = problems,
            Err(CoreError::Conflict { code, message }) => {
                refusal.general.push(if code == "duplicate_blocked" {
                    tr.t("convert.duplicate_blocked").to_owned()
                } else {
                    message
                })
            }
            Err(CoreError::BadRequest { message, .. }) => refusal.general.push(message),
            Err(e) => return Err(WebError::core(e, tr)),
        },
    }
    // the matches are read again: the page shows what a new attempt would choose from
    let preview = match state.core.conversion_preview(&viewer.actor, id).await {
        Ok(p) => p,
        Err(e) if already_converted(&e) => return Ok(see_other(&lead_page(id))),
        Err(e) => return Err(WebError::core(e, tr)),
    };
    render(&state, &viewer, &objects, id, &preview, &choices, &refusal)
}

fn render(
    state: &WebState,
    viewer: &Viewer,
    objects: &Objects,
    id: Uuid,
    preview: &Preview,
    choices: &Choices,
    refusal: &Refusal,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let lead_name = title_of(&objects.lead, &preview.lead);
    let currency = state.core.parse_context().default_currency;
    let account = target(
        viewer,
        &objects.account,
        &preview.account.matches,
        &choices.account,
        &choices.account_values,
        &refusal.of("account"),
        &currency,
    );
    let contact = target(
        viewer,
        &objects.contact,
        &preview.contact.matches,
        &choices.contact,
        &choices.contact_values,
        &refusal.of("contact"),
        &currency,
    );
    let (opportunity, opportunity_errors) = controls(
        viewer,
        &objects.opportunity,
        &choices.opportunity_values,
        &refusal.of("opportunity"),
        &currency,
    );
    let parts = ["account", "contact", "opportunity"];
    let mut errors = refusal.general.clone();
    errors.extend(
        refusal
            .fields
            .iter()
            .filter(|e| !parts.iter().any(|p| e.field.starts_with(&format!("{p}."))))
            .map(|e| format!("{}: {}", e.field, field_error_text(tr, e))),
    );
    let page = ConversionPage {
        chrome: Chrome::new(
            state,
            viewer,
            tr.tf("convert.title", &[("name", &lead_name)]),
            lead::OBJECT,
        ),
        id: id.to_string(),
        lead_name,
        targets: vec![account, contact],
        opportunity_heading: tr.object_label(&objects.opportunity),
        with_opportunity: choices.with_opportunity,
        opportunity,
        opportunity_errors,
        duplicates: rows(viewer, &objects.lead, &preview.duplicate_leads),
        failed: !refusal.is_empty(),
        errors,
    };
    Ok(html_unless(page.render(), !refusal.is_empty()))
}

/// The account's or the contact's part of the page.
fn target(
    viewer: &Viewer,
    object: &ObjectDef,
    matches: &[PossibleDuplicate],
    chosen: &str,
    typed: &FormData,
    errors: &[FieldError],
    currency: &str,
) -> Target {
    let tr = viewer.tr();
    let name = object.name();
    let (inputs, errors) = controls(viewer, object, typed, errors, currency);
    Target {
        object: name.to_owned(),
        heading: tr.object_label(object),
        matches: rows(viewer, object, matches),
        no_matches: tr.t(&format!("convert.no_{name}_matches")).to_owned(),
        chosen: chosen.to_owned(),
        new_label: tr.t(&format!("convert.new_{name}")).to_owned(),
        inputs,
        none_label: (name == "account").then(|| tr.t("convert.no_account").to_owned()),
        errors,
    }
}

/// Inputs for the fields the page asks of `object`, filled from `typed`, named
/// `object.field`, each with its error; and the errors of the part no input shows.
fn controls(
    viewer: &Viewer,
    object: &ObjectDef,
    typed: &FormData,
    errors: &[FieldError],
    currency: &str,
) -> (Vec<Input>, Vec<String>) {
    let tr = viewer.tr();
    let fields = asked(object);
    let mut shown: Vec<Input> = inputs::from_form(viewer, object, typed, errors, currency)
        .into_iter()
        .filter(|i| fields.contains(&i.name.as_str()))
        .collect();
    shown.sort_by_key(|i| fields.iter().position(|f| *f == i.name));
    let unplaced = errors
        .iter()
        .filter(|e| {
            !shown
                .iter()
                .any(|i| e.field == i.name || e.field.starts_with(&format!("{}.", i.name)))
        })
        .map(|e| {
            let text = field_error_text(tr, e);
            match object.field(&e.field) {
                Some(f) => format!("{}: {text}", tr.field_label(object, f)),
                // `id` and `action` are about the choice itself
                None => text,
            }
        })
        .collect();
    for input in &mut shown {
        input.name = format!("{}.{}", object.name(), input.name);
        // a new account's name is only needed when "new" is chosen, and an opportunity's
        // is the company's when left empty: the core says what is missing
        input.required = false;
    }
    (shown, unplaced)
}

fn rows(viewer: &Viewer, object: &ObjectDef, found: &[PossibleDuplicate]) -> Vec<MatchRow> {
    let tr = viewer.tr();
    found
        .iter()
        .filter_map(|d| {
            let id = d.record.id()?;
            let name = title_of(object, &d.record);
            Some(MatchRow {
                id: id.to_string(),
                name: if name.is_empty() {
                    tr.t("value.untitled").to_owned()
                } else {
                    name
                },
                score: tr.tf(
                    "convert.score",
                    &[("score", &format!("{:.0}%", d.score.score * 100.0))],
                ),
                href: format!("/o/{}/{id}", object.name()),
            })
        })
        .collect()
}

/// Whether the lead page offers "Convert": a lead not converted yet, which the viewer may
/// edit (the core asks the same).
pub fn may_convert(object: &ObjectDef, record: &Record, may_edit: bool) -> bool {
    object.name() == lead::OBJECT && may_edit && record.get(lead::CONVERTED_AT).is_null()
}

/// What a converted lead became, for the notice at the top of its page: "Converted on
/// <date> into" and a link to each record it became that the viewer may see.
pub struct ConvertedNote {
    pub text: String,
    /// (href, name)
    pub links: Vec<(String, String)>,
}

pub fn converted_note(
    viewer: &Viewer,
    object: &ObjectDef,
    record: &Record,
    names: &Names,
) -> Option<ConvertedNote> {
    if object.name() != lead::OBJECT {
        return None;
    }
    let Value::Datetime(at) = record.get(lead::CONVERTED_AT) else {
        return None;
    };
    let date = viewer
        .fmt
        .date(&at.with_timezone(&viewer.fmt.tz).date_naive());
    let links = [
        lead::CONVERTED_ACCOUNT,
        lead::CONVERTED_CONTACT,
        lead::CONVERTED_OPPORTUNITY,
    ]
    .iter()
    .filter_map(|f| object.field(f))
    .filter(|f| relata_core::fields::readable(&viewer.actor, object, f.name()))
    .filter_map(|f| {
        let shown = cell(viewer, object, f, record, names);
        shown.href.map(|href| (href, shown.text))
    })
    .collect();
    Some(ConvertedNote {
        text: viewer.tr().tf("convert.converted_on", &[("date", &date)]),
        links,
    })
}
