//! The mapping step of an import: which field each column of the file goes into, and how
//! rows are written (mode, key, duplicates, date order). The form starts from what the
//! service guessed from the headings (or, after a dry run, from the choices it ran with) and
//! turns back into the service's `ImportRequest`.

use relata_core::fields;
use relata_core::import::mapping::writable;
use relata_core::import::transform::DateOrder;
use relata_core::import::{ImportMode, ImportOptions, ImportPreview, ImportRequest, OnDuplicate};
use relata_domain::access::Operation;
use relata_domain::meta::FieldType;
use relata_domain::{FieldError, FieldErrorCode, ObjectDef};

use super::mode_label;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::session::Viewer;

/// Values of a column shown beside it.
const SAMPLES: usize = 3;

/// The importer's choices, as the form holds them.
#[derive(Debug, Clone)]
pub struct Choices {
    /// The target of each column (`email`, `account_id_name`), `""` to skip it.
    pub columns: Vec<String>,
    pub mode: ImportMode,
    pub key: String,
    pub on_duplicate: OnDuplicate,
    pub date_order: DateOrder,
}

impl Choices {
    /// What the form shows first: the job's own choices once it ran (a dry run), else the
    /// guessed mapping and the defaults. A guessed field the viewer may not fill is skipped.
    pub fn of_job(
        options: Option<&ImportOptions>,
        preview: &ImportPreview,
        targets: &[(String, String)],
    ) -> Choices {
        let offered = |t: &str| targets.iter().any(|(v, _)| v == t);
        Choices {
            columns: preview
                .columns
                .iter()
                .map(|c| c.target.clone().filter(|t| offered(t)).unwrap_or_default())
                .collect(),
            mode: options.map(|o| o.mode).unwrap_or_default(),
            key: options
                .and_then(|o| o.key.clone())
                .unwrap_or_else(|| "id".to_owned()),
            on_duplicate: options.map(|o| o.on_duplicate).unwrap_or_default(),
            date_order: options.map(|o| o.date_order).unwrap_or_default(),
        }
    }

    /// The choices a mapping form posted for a file of `columns` columns.
    pub fn from_form(form: &FormData, columns: usize) -> Choices {
        Choices {
            columns: (0..columns)
                .map(|i| {
                    form.first(&format!("col{i}"))
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                })
                .collect(),
            mode: match form.first("mode") {
                Some("update") => ImportMode::Update,
                Some("upsert") => ImportMode::Upsert,
                _ => ImportMode::Create,
            },
            key: form.text("key").unwrap_or_else(|| "id".to_owned()),
            on_duplicate: match form.first("on_duplicate") {
                Some("update") => OnDuplicate::Update,
                Some("create") => OnDuplicate::Create,
                _ => OnDuplicate::Skip,
            },
            date_order: match form.first("date_order") {
                Some("dmy") => DateOrder::Dmy,
                Some("mdy") => DateOrder::Mdy,
                _ => DateOrder::Ymd,
            },
        }
    }

    /// The choices as a request for the file with `headings`; what the form does not offer
    /// (encoding, picklist words, time offset, phone format) stays as the job had it.
    pub fn request(
        &self,
        headings: &[String],
        kept: Option<&ImportOptions>,
        dry_run: bool,
    ) -> ImportRequest {
        ImportRequest {
            columns: column_keys(headings)
                .into_iter()
                .zip(self.columns.iter().cloned())
                .collect(),
            mode: self.mode,
            key: (self.mode != ImportMode::Create).then(|| self.key.clone()),
            on_duplicate: self.on_duplicate,
            date_order: self.date_order,
            encoding: kept.and_then(|o| o.encoding),
            utc_offset_minutes: kept.map(|o| o.utc_offset_minutes),
            normalise_phones: kept.map(|o| o.normalise_phones),
            picklist_map: kept.map(|o| o.picklist_map.clone()).unwrap_or_default(),
            dry_run,
        }
    }

    /// The request that runs a finished dry run again, for real, with every choice it ran with.
    pub fn again(options: &ImportOptions, headings: &[String]) -> ImportRequest {
        let choices = Choices {
            columns: options
                .mapping
                .columns
                .iter()
                .map(|t| t.as_ref().map(|t| t.spec()).unwrap_or_default())
                .collect(),
            mode: options.mode,
            key: options.key.clone().unwrap_or_else(|| "id".to_owned()),
            on_duplicate: options.on_duplicate,
            date_order: options.date_order,
        };
        choices.request(headings, Some(options), false)
    }

    /// A target chosen for two columns (the service would keep one of them silently).
    pub fn twice_chosen(&self) -> Option<&str> {
        let chosen: Vec<&str> = self
            .columns
            .iter()
            .map(String::as_str)
            .filter(|t| !t.is_empty())
            .collect();
        chosen
            .iter()
            .enumerate()
            .find(|(i, t)| chosen[..*i].contains(t))
            .map(|(_, t)| *t)
    }
}

/// How the request names each column: by its heading when that is unambiguous, else by its
/// number (1-based), as the service reads `columns`.
fn column_keys(headings: &[String]) -> Vec<String> {
    headings
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let unique = headings.iter().filter(|o| *o == h).count() == 1;
            if unique && !h.is_empty() && h.trim() == h {
                h.clone()
            } else {
                (i + 1).to_string()
            }
        })
        .collect()
}

/// The fields a column may go into: the writable fields the viewer may edit, in the
/// metadata's order, with a lookup's "by name" and a money field's currency after each.
pub fn targets(viewer: &Viewer, object: &ObjectDef) -> Vec<(String, String)> {
    let tr = viewer.tr();
    let mut out = Vec::new();
    for f in writable(object) {
        let name = f.name();
        if name != "id" && !fields::editable(&viewer.actor, object, name) {
            continue;
        }
        let label = tr.field_label(object, f);
        out.push((name.to_owned(), label.clone()));
        match f.field_type {
            FieldType::Currency => out.push((
                format!("{name}_currency"),
                tr.tf("import.currency_of", &[("field", &label)]),
            )),
            FieldType::Lookup | FieldType::UserLookup => out.push((
                format!("{name}_name"),
                tr.tf("import.by_name", &[("field", &label)]),
            )),
            _ => {}
        }
    }
    out
}

/// One column of the file in the mapping table.
pub struct MappingColumn {
    pub index: usize,
    pub heading: String,
    pub samples: Vec<String>,
    pub chosen: String,
}

/// The mapping form as the template shows it.
pub struct MappingForm {
    pub columns: Vec<MappingColumn>,
    pub targets: Vec<(String, String)>,
    pub modes: Vec<(&'static str, &'static str)>,
    pub mode: &'static str,
    pub keys: Vec<(String, String)>,
    pub key: String,
    pub duplicates: Vec<(&'static str, &'static str)>,
    pub on_duplicate: &'static str,
    pub date_orders: Vec<(&'static str, &'static str)>,
    pub date_order: &'static str,
    pub errors: Vec<String>,
    pub headings: Vec<String>,
    pub sample: Vec<Vec<String>>,
}

fn mode_value(m: ImportMode) -> &'static str {
    match m {
        ImportMode::Create => "create",
        ImportMode::Update => "update",
        ImportMode::Upsert => "upsert",
    }
}

impl MappingForm {
    pub fn new(
        viewer: &Viewer,
        object: &ObjectDef,
        preview: &ImportPreview,
        targets: Vec<(String, String)>,
        choices: &Choices,
        errors: Vec<String>,
    ) -> MappingForm {
        let tr = viewer.tr();
        let may = |op| viewer.actor.may(object.name(), op);
        let (create, edit) = (may(Operation::Create), may(Operation::Edit));
        let modes = [
            (ImportMode::Create, create),
            (ImportMode::Update, edit),
            (ImportMode::Upsert, create && edit),
        ]
        .into_iter()
        .filter(|(_, allowed)| *allowed)
        .map(|(m, _)| (mode_value(m), mode_label(tr, m)))
        .collect();
        let keys = writable(object)
            .filter(|f| {
                f.name() == "id" || (f.unique && fields::editable(&viewer.actor, object, f.name()))
            })
            .map(|f| (f.name().to_owned(), tr.field_label(object, f)))
            .collect();
        MappingForm {
            columns: preview
                .headings
                .iter()
                .enumerate()
                .map(|(index, heading)| MappingColumn {
                    index,
                    heading: if heading.trim().is_empty() {
                        tr.tf("import.column_n", &[("n", &(index + 1).to_string())])
                    } else {
                        heading.clone()
                    },
                    samples: preview
                        .sample
                        .iter()
                        .filter_map(|row| row.get(index))
                        .filter(|v| !v.trim().is_empty())
                        .take(SAMPLES)
                        .cloned()
                        .collect(),
                    chosen: choices.columns.get(index).cloned().unwrap_or_default(),
                })
                .collect(),
            targets,
            modes,
            mode: mode_value(choices.mode),
            keys,
            key: choices.key.clone(),
            duplicates: vec![
                ("skip", tr.t("import.dup_skip")),
                ("update", tr.t("import.dup_update")),
                ("create", tr.t("import.dup_create")),
            ],
            on_duplicate: match choices.on_duplicate {
                OnDuplicate::Skip => "skip",
                OnDuplicate::Update => "update",
                OnDuplicate::Create => "create",
            },
            date_orders: vec![
                ("ymd", tr.t("import.date_ymd")),
                ("dmy", tr.t("import.date_dmy")),
                ("mdy", tr.t("import.date_mdy")),
            ],
            date_order: match choices.date_order {
                DateOrder::Ymd => "ymd",
                DateOrder::Dmy => "dmy",
                DateOrder::Mdy => "mdy",
            },
            errors,
            headings: preview.headings.clone(),
            sample: preview.sample.clone(),
        }
    }
}

/// Why the service refused the choices, in the viewer's language where the catalog has
/// words for it; else as the service said it.
pub fn start_error_text(tr: Tr, object: &ObjectDef, key: &str, e: &FieldError) -> String {
    let key_label = object
        .field(key)
        .map(|f| tr.field_label(object, f))
        .unwrap_or_else(|| key.to_owned());
    match (e.field.as_str(), e.code) {
        ("columns", FieldErrorCode::Required) => tr.t("import.error_no_columns").to_owned(),
        ("key", FieldErrorCode::Required) => {
            tr.tf("import.error_key_unmapped", &[("field", &key_label)])
        }
        ("key", FieldErrorCode::InvalidOption) => {
            tr.tf("import.error_key_not_unique", &[("field", &key_label)])
        }
        _ => e.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn columns_are_named_by_heading_unless_it_is_ambiguous() {
        assert_eq!(
            column_keys(&strings(&["姓名", "备注", "备注", "", " 邮箱"])),
            strings(&["姓名", "2", "3", "4", "5"])
        );
    }

    #[test]
    fn a_target_chosen_twice_is_found() {
        let mut c = Choices {
            columns: strings(&["name", "", "email", ""]),
            mode: ImportMode::Create,
            key: "id".into(),
            on_duplicate: OnDuplicate::Skip,
            date_order: DateOrder::Ymd,
        };
        assert_eq!(c.twice_chosen(), None);
        c.columns[3] = "email".into();
        assert_eq!(c.twice_chosen(), Some("email"));
    }
}
