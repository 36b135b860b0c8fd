//! What the conversion page shows chosen and typed, and the way back: the posted form as the
//! `Conversion` that `Core::convert_lead` takes. On a first view the choices are the preview's
//! proposal; after a refusal they are exactly what the user posted, so nothing is lost.

use std::sync::Arc;

use serde_json::{Map, Value as Json};
use uuid::Uuid;

use relata_core::leads::{Choice, Conversion, Preview};
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode as Code};

use crate::error::WebError;
use crate::form::FormData;
use crate::pages::inputs::{self, CURRENCY};
use crate::session::Viewer;
use crate::state::WebState;

/// The value of the radio that makes a new record, and of the account's "no account".
pub const NEW: &str = "new";
pub const NONE: &str = "none";
/// The checkbox that adds an opportunity.
pub const WITH_OPPORTUNITY: &str = "opportunity";

/// The objects a conversion touches.
pub struct Objects {
    pub lead: Arc<ObjectDef>,
    pub account: Arc<ObjectDef>,
    pub contact: Arc<ObjectDef>,
    pub opportunity: Arc<ObjectDef>,
}

impl Objects {
    pub fn load(state: &WebState, viewer: &Viewer) -> Result<Objects, WebError> {
        let get = |name: &str| {
            state
                .core
                .object(name)
                .map_err(|e| WebError::core(e, viewer.tr()))
        };
        Ok(Objects {
            lead: get(relata_domain::lead::OBJECT)?,
            account: get("account")?,
            contact: get("contact")?,
            opportunity: get("opportunity")?,
        })
    }
}

/// The fields the page asks of `object`: the name of a new account or contact; the name,
/// amount, stage and close date of an opportunity. The rest comes from the conversion map.
pub fn asked(object: &ObjectDef) -> Vec<&str> {
    let mut fields = vec![object.name_field.as_str()];
    if object.name() == "opportunity" {
        fields.extend(["amount", "stage", "close_date"]);
    }
    fields.retain(|f| object.field(f).is_some());
    fields
}

#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// The account radio: a match's id, [`NEW`] or [`NONE`].
    pub account: String,
    /// The contact radio: a match's id or [`NEW`].
    pub contact: String,
    pub with_opportunity: bool,
    /// Each part's inputs, named without the part's prefix (`name`, `amount:currency`).
    pub account_values: FormData,
    pub contact_values: FormData,
    pub opportunity_values: FormData,
}

impl Choices {
    /// What the preview proposes: the best match, else a new record — for the account only
    /// when the lead names a company (else no account, as the core's `auto` does).
    pub fn proposed(preview: &Preview, objects: &Objects) -> Choices {
        let best = |matches: &[relata_core::duplicates::PossibleDuplicate]| {
            matches
                .first()
                .and_then(|d| d.record.id())
                .map(|id| id.to_string())
        };
        let account_named = preview
            .account
            .new_values
            .get(objects.account.name_field.as_str())
            .and_then(Json::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        let mut opportunity_values = as_form(&preview.opportunity, &asked(&objects.opportunity));
        if !opportunity_values.has("stage")
            && let Some(first) = objects
                .opportunity
                .field("stage")
                .and_then(|f| f.values.iter().find(|v| v.active))
        {
            opportunity_values.push("stage", &first.value);
        }
        Choices {
            account: best(&preview.account.matches)
                .unwrap_or_else(|| (if account_named { NEW } else { NONE }).to_owned()),
            contact: best(&preview.contact.matches).unwrap_or_else(|| NEW.to_owned()),
            with_opportunity: false,
            account_values: as_form(&preview.account.new_values, &asked(&objects.account)),
            contact_values: as_form(&preview.contact.new_values, &asked(&objects.contact)),
            opportunity_values,
        }
    }

    /// What the user posted.
    pub fn posted(form: &FormData, objects: &Objects) -> Choices {
        let radio = |name: &str| form.first(name).unwrap_or_default().trim().to_owned();
        Choices {
            account: radio("account"),
            contact: radio("contact"),
            with_opportunity: form.has(WITH_OPPORTUNITY),
            account_values: part(form, &objects.account),
            contact_values: part(form, &objects.contact),
            opportunity_values: part(form, &objects.opportunity),
        }
    }

    /// The conversion the user asked for, or the problems found before asking the core
    /// (a radio left unchosen, a value that is not a number).
    pub async fn conversion(
        &self,
        state: &WebState,
        viewer: &Viewer,
        objects: &Objects,
    ) -> Result<Conversion, Vec<FieldError>> {
        let mut problems = Vec::new();
        let account = choice(
            state,
            viewer,
            &objects.account,
            &self.account,
            &self.account_values,
            &mut problems,
        )
        .await;
        let contact = choice(
            state,
            viewer,
            &objects.contact,
            &self.contact,
            &self.contact_values,
            &mut problems,
        )
        .await;
        let opportunity = if self.with_opportunity {
            Some(
                values_of(
                    state,
                    viewer,
                    &objects.opportunity,
                    &self.opportunity_values,
                    &mut problems,
                )
                .await,
            )
        } else {
            None
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Conversion {
            account,
            contact,
            opportunity,
            owner_id: None,
        })
    }
}

async fn choice(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    chosen: &str,
    values: &FormData,
    problems: &mut Vec<FieldError>,
) -> Choice {
    match chosen {
        NEW => Choice::Create {
            values: values_of(state, viewer, object, values, problems).await,
        },
        // the core refuses "none" for the contact, and says so on the contact
        NONE => Choice::None,
        id => match Uuid::parse_str(id) {
            Ok(id) => Choice::Existing { id },
            Err(_) => {
                problems.push(FieldError::new(
                    format!("{}.id", object.name()),
                    Code::Required,
                    viewer.tr().t("convert.choose"),
                ));
                Choice::Auto
            }
        },
    }
}

/// A part's inputs as the service's JSON values, read as the record forms read them
/// (grouped numbers, money with its currency); the problems named `object.field`.
async fn values_of(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    values: &FormData,
    problems: &mut Vec<FieldError>,
) -> Map<String, Json> {
    let (json, errors) = inputs::to_json(state, viewer, object, values).await;
    problems.extend(errors.into_iter().map(|mut e| {
        e.field = format!("{}.{}", object.name(), e.field);
        e
    }));
    match json {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// The posted inputs of `object`'s part of the page (`account.name` is `name`), only those
/// of the fields the page asks, so a crafted post cannot reach others through the page.
fn part(form: &FormData, object: &ObjectDef) -> FormData {
    let fields = asked(object);
    let mut out = FormData::default();
    for (key, value) in form.pairs() {
        let Some(rest) = key
            .strip_prefix(object.name())
            .and_then(|r| r.strip_prefix('.'))
        else {
            continue;
        };
        let field = rest.strip_suffix(CURRENCY).unwrap_or(rest);
        if fields.contains(&field) {
            out.push(rest, value);
        }
    }
    out
}

/// Proposed JSON values as the text of form inputs.
fn as_form(values: &Map<String, Json>, fields: &[&str]) -> FormData {
    let mut form = FormData::default();
    for field in fields {
        match values.get(*field) {
            Some(Json::String(s)) => form.push(field, s),
            Some(Json::Number(n)) => form.push(field, &n.to_string()),
            Some(Json::Object(money)) => {
                if let Some(amount) = money.get("amount").and_then(Json::as_str) {
                    form.push(field, amount);
                }
                if let Some(currency) = money.get("currency").and_then(Json::as_str) {
                    form.push(&format!("{field}{CURRENCY}"), currency);
                }
            }
            _ => {}
        }
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_keeps_only_its_asked_fields_without_the_prefix() {
        let opportunity = relata_domain::standard::standard_objects()
            .into_iter()
            .find(|o| o.name() == "opportunity")
            .expect("opportunity");
        let form = FormData::parse(
            b"opportunity=on&opportunity.name=%E5%8D%8E%E4%B8%BA&opportunity.amount=1%2C000\
              &opportunity.amount%3Acurrency=USD&opportunity.owner_id=x&account.name=y",
        );
        let got = part(&form, &opportunity);
        assert_eq!(got.first("name"), Some("华为"));
        assert_eq!(got.first("amount"), Some("1,000"));
        assert_eq!(got.first("amount:currency"), Some("USD"));
        assert_eq!(got.first("owner_id"), None, "not a field the page asks");
        assert_eq!(got.pairs().len(), 3);
    }

    #[test]
    fn proposed_values_become_input_text() {
        let values: Map<String, Json> = serde_json::from_value(serde_json::json!({
            "name": "华为", "amount": {"amount": "250000", "currency": "CNY"}, "close_date": null
        }))
        .expect("map");
        let form = as_form(&values, &["name", "amount", "close_date"]);
        assert_eq!(form.first("name"), Some("华为"));
        assert_eq!(form.first("amount"), Some("250000"));
        assert_eq!(form.first("amount:currency"), Some("CNY"));
        assert!(!form.has("close_date"));
    }
}
