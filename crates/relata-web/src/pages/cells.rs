//! Values as lists and record pages show them: text in the user's language, with a link
//! where one helps (the record itself, a looked-up record, mailto:, tel:, a web address).
//! Looked-up records are named only when the viewer may see them.

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use relata_domain::meta::{FieldDef, FieldType, ObjectDef};
use relata_domain::{Record, Value};

use crate::session::Viewer;
use crate::state::WebState;

/// Names of the records and users a page refers to.
#[derive(Debug, Default)]
pub struct Names {
    records: HashMap<Uuid, String>,
    users: HashMap<Uuid, String>,
}

impl Names {
    /// Looks up, in one read per target object and one for users, every record and user
    /// `fields` of `records` refer to.
    pub async fn resolve(
        state: &WebState,
        viewer: &Viewer,
        records: &[&Record],
        fields: &[&FieldDef],
    ) -> Names {
        let mut by_target: HashMap<&str, BTreeSet<Uuid>> = HashMap::new();
        let mut users = BTreeSet::new();
        for field in fields {
            for record in records {
                let Value::Ref(id) = record.get(field.name()) else {
                    continue;
                };
                match (field.field_type, &field.target) {
                    (FieldType::UserLookup, _) => {
                        users.insert(*id);
                    }
                    (FieldType::Lookup, Some(target)) => {
                        by_target.entry(target.as_str()).or_default().insert(*id);
                    }
                    _ => {}
                }
            }
        }
        let mut names = Names::default();
        for (target, ids) in by_target {
            match state
                .core
                .record_labels(&viewer.actor, target, ids.into_iter().collect())
                .await
            {
                Ok(labels) => names.records.extend(labels),
                Err(e) => tracing::warn!(error = ?e, target, "naming looked-up records failed"),
            }
        }
        if !users.is_empty() {
            match state.core.user_names(users.into_iter().collect()).await {
                Ok(found) => names
                    .users
                    .extend(found.into_iter().map(|(id, u)| (id, u.name))),
                Err(e) => tracing::warn!(error = ?e, "naming users failed"),
            }
        }
        names
    }

    /// The name of what `field` refers to, if the viewer may see it.
    pub fn of(&self, field: &FieldDef, id: Uuid) -> Option<String> {
        match field.field_type {
            FieldType::UserLookup => self.users.get(&id).cloned(),
            _ => self.records.get(&id).cloned(),
        }
    }
}

/// One shown value.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    /// Numbers and money align right.
    pub numeric: bool,
}

/// Only web addresses are links; anything else (`javascript:`…) is shown as text.
fn web_link(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then(|| s.to_owned())
}

/// A value of `record` as shown to the viewer.
pub fn cell(
    viewer: &Viewer,
    object: &ObjectDef,
    field: &FieldDef,
    record: &Record,
    names: &Names,
) -> Cell {
    let value = record.get(field.name());
    let text = viewer.fmt.value(object, field, value);
    let numeric = matches!(
        field.field_type,
        FieldType::Integer | FieldType::Decimal | FieldType::Percent | FieldType::Currency
    ) && field.name() != "version";
    match (value, field.field_type) {
        (Value::Ref(id), FieldType::Lookup) => match names.of(field, *id) {
            Some(name) => Cell {
                text: name,
                href: field
                    .target
                    .as_ref()
                    .map(|t| format!("/o/{}/{id}", t.as_str())),
                numeric,
            },
            None => Cell {
                text: viewer.tr().t("value.hidden").to_owned(),
                ..Cell::default()
            },
        },
        (Value::Ref(id), _) => Cell {
            text: names
                .of(field, *id)
                .unwrap_or_else(|| viewer.tr().t("value.unknown_user").to_owned()),
            ..Cell::default()
        },
        (Value::Text(s), FieldType::Email) => Cell {
            href: Some(format!("mailto:{s}")),
            text,
            numeric,
        },
        (Value::Text(s), FieldType::Phone) => Cell {
            href: Some(format!("tel:{}", s.replace(' ', ""))),
            text,
            numeric,
        },
        (Value::Text(s), FieldType::Url) => Cell {
            href: web_link(s),
            text,
            numeric,
        },
        _ => Cell {
            href: (field.name() == object.name_field.as_str())
                .then(|| record.id().map(|id| format!("/o/{}/{id}", object.name())))
                .flatten(),
            text,
            numeric,
        },
    }
}
