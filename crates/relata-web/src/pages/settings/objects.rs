//! The object and field builder: custom objects, fields of every type with their options,
//! picklist values (ordered, deactivated rather than deleted), page layouts, and each
//! object's org-wide default of record visibility.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value as Json, json};

use relata_core::access::sharing::ObjectSharingInput;
use relata_core::meta_admin::{FieldInput, NewObject, PicklistInput};
use relata_domain::access::Capability;
use relata_domain::meta::{FieldDef, FieldType, ObjectDef, Sharing};

use super::{Tab, chrome, error_for, form_errors, general_errors};
use crate::error::WebError;
use crate::form::FormData;
use crate::pages::{Chrome, html_unless, see_other};
use crate::session::{Posted, Viewer};
use crate::state::WebState;

pub struct ObjectRow {
    pub name: String,
    pub label: String,
    pub custom: bool,
    pub fields: usize,
    pub sharing: String,
}

pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub kind: String,
    pub flags: String,
    pub custom: bool,
    pub system: bool,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "settings/objects.html")]
struct ObjectsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    objects: Vec<ObjectRow>,
    form: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

impl ObjectsPage {
    fn value(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    fn error(&self, name: &str) -> &str {
        error_for(&self.errors, name)
    }
}

#[derive(Template)]
#[template(path = "settings/object.html")]
struct ObjectPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    object: String,
    label: String,
    fields: Vec<FieldRow>,
    types: Vec<(String, String)>,
    targets: Vec<(String, String)>,
    sharing: String,
    manager_edit: bool,
    parent_lookups: Vec<(String, String)>,
    parent_field: String,
    form: FormData,
    errors: Vec<(String, String)>,
    general: Vec<String>,
}

impl ObjectPage {
    fn value(&self, name: &str) -> &str {
        self.form.first(name).unwrap_or("")
    }
    fn checked(&self, name: &str) -> bool {
        self.form.last(name) == Some("true")
    }
    fn sharing_label(&self, model: &str) -> String {
        self.chrome.tr.t(&format!("sharing.{model}")).to_owned()
    }
    fn error(&self, name: &str) -> &str {
        error_for(&self.errors, name)
    }
}

pub struct ValueRow {
    pub value: String,
    pub label: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "settings/field.html")]
struct FieldPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    object: String,
    object_label: String,
    field: String,
    label: String,
    kind: String,
    required: bool,
    unique: bool,
    tracked: bool,
    searchable: bool,
    filterable: bool,
    max_length: String,
    pattern: String,
    values: Vec<ValueRow>,
    is_picklist: bool,
    custom: bool,
    errors: Vec<(String, String)>,
    general: Vec<String>,
}

impl FieldPage {
    fn error(&self, name: &str) -> &str {
        error_for(&self.errors, name)
    }
}

pub struct LayoutRow {
    pub name: String,
    pub label: String,
    pub section: usize,
    pub order: usize,
    pub required: bool,
}

#[derive(Template)]
#[template(path = "settings/layout.html")]
struct LayoutPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    object: String,
    object_label: String,
    sections: Vec<String>,
    rows: Vec<LayoutRow>,
    general: Vec<String>,
}

/// Section slots the layout page offers at least.
const SECTION_SLOTS: usize = 6;

fn sharing_name(s: &Sharing) -> &'static str {
    match s {
        Sharing::Private => "private",
        Sharing::PublicRead => "public_read",
        Sharing::PublicReadWrite => "public_read_write",
        Sharing::ControlledByParent { .. } => "controlled_by_parent",
    }
}

fn object_of(state: &WebState, viewer: &Viewer, name: &str) -> Result<Arc<ObjectDef>, WebError> {
    state
        .core
        .object(name)
        .map_err(|_| WebError::NotFound(viewer.tr()))
}

pub async fn list(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    render_list(&state, &viewer, Vec::new(), Vec::new())
}

fn render_list(
    state: &WebState,
    viewer: &Viewer,
    form: Vec<(String, String)>,
    errors: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("settings.objects").to_owned(),
        "/settings/objects",
        Capability::ManageMetadata,
    )?;
    let schema = state.core.schema();
    let mut objects: Vec<ObjectRow> = schema
        .objects()
        .map(|o| ObjectRow {
            name: o.name().to_owned(),
            label: tr.object_plural(o),
            custom: !o.standard,
            fields: o.live_fields().filter(|f| !f.system).count(),
            sharing: tr
                .t(&format!("sharing.{}", sharing_name(&o.sharing)))
                .to_owned(),
        })
        .collect();
    objects.sort_by(|a, b| (a.custom, &a.label).cmp(&(b.custom, &b.label)));
    let failed = !errors.is_empty();
    let page = ObjectsPage {
        chrome,
        tabs,
        objects,
        form,
        errors,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn create(State(state): State<WebState>, posted: Posted) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let text = |k: &str| form.first(k).unwrap_or_default().trim().to_owned();
    let input = NewObject {
        api_name: text("api_name"),
        label: text("label"),
        plural_label: if text("plural_label").is_empty() {
            text("label")
        } else {
            text("plural_label")
        },
        name_label: Some(text("name_label")).filter(|s| !s.is_empty()),
    };
    match state.core.create_object(&viewer.actor, input).await {
        Ok(object) => Ok(see_other(&format!("/settings/objects/{}", object.name()))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            let kept = ["api_name", "label", "plural_label", "name_label"]
                .iter()
                .map(|k| ((*k).to_owned(), text(k)))
                .collect();
            render_list(&state, &viewer, kept, errors)
        }
    }
}

pub async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    render_object(&state, &viewer, &name, FormData::default(), Vec::new())
}

fn render_object(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    form: FormData,
    errors: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = object_of(state, viewer, name)?;
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.object_plural(&object),
        "/settings/objects",
        Capability::ManageMetadata,
    )?;
    let fields = object
        .fields
        .iter()
        .map(|f| {
            let mut flags = Vec::new();
            for (on, key) in [
                (f.required, "settings.required"),
                (f.unique, "settings.unique"),
                (f.tracked, "settings.tracked"),
                (f.searchable, "settings.searchable"),
                (f.indexed(), "settings.indexed"),
            ] {
                if on {
                    flags.push(tr.t(key).to_owned());
                }
            }
            let mut kind = tr.t(&format!("type.{}", f.field_type.as_str())).to_owned();
            if let Some(t) = &f.target
                && let Ok(target) = state.core.object(t.as_str())
            {
                kind = format!("{kind} → {}", tr.object_label(&target));
            }
            FieldRow {
                name: f.name().to_owned(),
                label: tr.field_label(&object, f),
                kind,
                flags: flags.join(", "),
                custom: !f.standard,
                system: f.system,
                archived: f.archived,
            }
        })
        .collect();
    let schema = state.core.schema();
    let mut targets: Vec<(String, String)> = schema
        .objects()
        .map(|o| (o.name().to_owned(), tr.object_label(o)))
        .collect();
    targets.sort_by(|a, b| a.1.cmp(&b.1));
    let failed = !errors.is_empty();
    let field_names = [
        "api_name",
        "label",
        "type",
        "target",
        "max_length",
        "min",
        "max",
        "scale",
        "pattern",
        "default",
        "values",
    ];
    let general = general_errors(&errors, &field_names);
    let (sharing, parent_field) = match &object.sharing {
        Sharing::ControlledByParent { field } => {
            ("controlled_by_parent".to_owned(), field.as_str().to_owned())
        }
        other => (sharing_name(other).to_owned(), String::new()),
    };
    let page = ObjectPage {
        chrome,
        tabs,
        object: object.name().to_owned(),
        label: tr.object_plural(&object),
        fields,
        types: FieldType::ALL_USER_TYPES
            .iter()
            .map(|t| {
                (
                    t.as_str().to_owned(),
                    tr.t(&format!("type.{}", t.as_str())).to_owned(),
                )
            })
            .collect(),
        targets,
        sharing,
        manager_edit: object.manager_edit,
        parent_lookups: object
            .live_fields()
            .filter(|f| f.field_type == FieldType::Lookup)
            .map(|f| (f.name().to_owned(), tr.field_label(&object, f)))
            .collect(),
        parent_field,
        form,
        errors,
        general,
    };
    Ok(html_unless(page.render(), failed))
}

/// Picklist values typed one per line: `value = Label`, or just `Label` (the value is then
/// the label).
fn picklist_lines(text: &str) -> Vec<PicklistInput> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('=') {
            Some((value, label)) => PicklistInput::Full {
                value: value.trim().to_owned(),
                label: Some(label.trim().to_owned()),
                active: None,
            },
            None => PicklistInput::Plain(line.to_owned()),
        })
        .collect()
}

fn number<T: std::str::FromStr>(form: &FormData, name: &str) -> Option<T> {
    form.text(name).and_then(|s| s.parse().ok())
}

fn flag(form: &FormData, name: &str) -> Option<bool> {
    form.last(name).map(|v| v == "true")
}

pub async fn add_field(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let t = form.text("type").unwrap_or_default();
    let is_lookup = t == "lookup";
    let decimal = |k: &str| -> Option<Json> { form.text(k).map(|v| json!(v)) };
    let input = FieldInput {
        api_name: form.text("api_name"),
        field_type: Some(t.clone()),
        label: form.text("label"),
        required: flag(&form, "required"),
        unique: flag(&form, "unique"),
        filterable: flag(&form, "filterable"),
        searchable: flag(&form, "searchable"),
        tracked: flag(&form, "tracked"),
        default: form.text("default").map(|d| match t.as_str() {
            "boolean" => json!(d == "true"),
            "integer" => d.parse::<i64>().map_or(json!(d), |n| json!(n)),
            _ => json!(d),
        }),
        max_length: number(&form, "max_length"),
        min: decimal("min").and_then(|v| v.as_str().and_then(|s| s.parse().ok())),
        max: decimal("max").and_then(|v| v.as_str().and_then(|s| s.parse().ok())),
        scale: number(&form, "scale"),
        pattern: form.text("pattern"),
        values: form
            .text("values")
            .map(|v| picklist_lines(&v))
            .filter(|v| !v.is_empty()),
        target: if is_lookup { form.text("target") } else { None },
    };
    match state.core.add_field(&viewer.actor, &name, input).await {
        Ok(_) => Ok(see_other(&format!("/settings/objects/{name}#fields"))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            render_object(&state, &viewer, &name, form, errors)
        }
    }
}

pub async fn set_sharing(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let sharing = match form.first("sharing").unwrap_or("private") {
        "public_read" => Sharing::PublicRead,
        "public_read_write" => Sharing::PublicReadWrite,
        "controlled_by_parent" => {
            // the parent is one of the object's own fields, named as the metadata names it
            let posted = form.first("parent_field").unwrap_or_default();
            let object = object_of(&state, &viewer, &name)?;
            match object.field(posted) {
                Some(f) => Sharing::ControlledByParent {
                    field: f.api_name.clone(),
                },
                None => {
                    let e = relata_domain::FieldError::new(
                        "parent_field",
                        relata_domain::FieldErrorCode::UnknownField,
                        format!("'{}' has no field '{posted}'", object.name()),
                    );
                    let errors = form_errors(&viewer, e.into())?;
                    return render_object(&state, &viewer, &name, FormData::default(), errors);
                }
            }
        }
        _ => Sharing::Private,
    };
    let input = ObjectSharingInput {
        sharing,
        manager_edit: flag(&form, "manager_edit").unwrap_or(false),
    };
    match state
        .core
        .set_object_sharing(&viewer.actor, &name, input)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/settings/objects/{name}#sharing"))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            render_object(&state, &viewer, &name, FormData::default(), errors)
        }
    }
}

pub async fn field(
    State(state): State<WebState>,
    viewer: Viewer,
    Path((name, field)): Path<(String, String)>,
) -> Result<Response, WebError> {
    render_field(&state, &viewer, &name, &field, Vec::new())
}

fn render_field(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    field_name: &str,
    errors: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = object_of(state, viewer, name)?;
    let field: &FieldDef = object
        .live_fields()
        .find(|f| f.name() == field_name && !f.system)
        .ok_or(WebError::NotFound(tr))?;
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.field_label(&object, field),
        "/settings/objects",
        Capability::ManageMetadata,
    )?;
    let failed = !errors.is_empty();
    let general = general_errors(
        &errors,
        &[
            "label",
            "max_length",
            "pattern",
            "values",
            "unique",
            "required",
        ],
    );
    let page = FieldPage {
        chrome,
        tabs,
        object: object.name().to_owned(),
        object_label: tr.object_plural(&object),
        field: field.name().to_owned(),
        label: field.label.clone(),
        kind: tr
            .t(&format!("type.{}", field.field_type.as_str()))
            .to_owned(),
        required: field.required,
        unique: field.unique,
        tracked: field.tracked,
        searchable: field.searchable,
        filterable: field.filterable,
        max_length: field.max_length.map(|n| n.to_string()).unwrap_or_default(),
        pattern: field.pattern.clone().unwrap_or_default(),
        values: field
            .values
            .iter()
            .map(|v| ValueRow {
                value: v.value.clone(),
                label: v.label.clone(),
                active: v.active,
            })
            .collect(),
        is_picklist: matches!(
            field.field_type,
            FieldType::Picklist | FieldType::MultiPicklist
        ),
        custom: !field.standard,
        errors,
        general,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn update_field(
    State(state): State<WebState>,
    Path((name, field_name)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let object = object_of(&state, &viewer, &name)?;
    let field = object
        .field(&field_name)
        .ok_or(WebError::NotFound(viewer.tr()))?;
    // the existing values in their order, each active or not as ticked; new ones after
    let values = if field.values.is_empty() && form.text("new_values").is_none() {
        None
    } else {
        let mut list: Vec<PicklistInput> = field
            .values
            .iter()
            .map(|v| PicklistInput::Full {
                value: v.value.clone(),
                label: form
                    .text(&format!("label_{}", v.value))
                    .or_else(|| Some(v.label.clone())),
                active: Some(form.all("active").contains(&v.value.as_str())),
            })
            .collect();
        list.extend(picklist_lines(&form.text("new_values").unwrap_or_default()));
        Some(list)
    };
    let input = FieldInput {
        label: form.text("label"),
        required: flag(&form, "required"),
        unique: flag(&form, "unique"),
        tracked: flag(&form, "tracked"),
        searchable: flag(&form, "searchable"),
        filterable: flag(&form, "filterable"),
        max_length: number(&form, "max_length"),
        pattern: form.text("pattern"),
        values,
        ..FieldInput::default()
    };
    match state
        .core
        .update_field(&viewer.actor, &name, &field_name, input)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/settings/objects/{name}#fields"))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            render_field(&state, &viewer, &name, &field_name, errors)
        }
    }
}

pub async fn archive_field(
    State(state): State<WebState>,
    Path((name, field_name)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, WebError> {
    let viewer = posted.viewer;
    super::require(&viewer, Capability::ManageMetadata)?;
    match state
        .core
        .delete_field(&viewer.actor, &name, &field_name, false)
        .await
    {
        Ok(()) => Ok(see_other(&format!("/settings/objects/{name}#fields"))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            render_field(&state, &viewer, &name, &field_name, errors)
        }
    }
}

pub async fn layout(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    render_layout(&state, &viewer, &name, Vec::new())
}

fn render_layout(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    general: Vec<String>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = object_of(state, viewer, name)?;
    let (chrome, tabs) = chrome(
        state,
        viewer,
        tr.t("settings.layout").to_owned(),
        "/settings/objects",
        Capability::ManageMetadata,
    )?;
    let mut sections: Vec<String> = if object.layout.is_empty() {
        vec![tr.t("record.details").to_owned()]
    } else {
        object.layout.iter().map(|s| s.label.clone()).collect()
    };
    // room for two more sections than the layout has, and never fewer than the usual six
    sections.resize(SECTION_SLOTS.max(sections.len() + 2), String::new());
    let rows = object
        .live_fields()
        .filter(|f| !f.system)
        .enumerate()
        .map(|(i, f)| {
            let placed = object.layout.iter().enumerate().find_map(|(s, sec)| {
                sec.fields
                    .iter()
                    .position(|n| *n == f.api_name)
                    .map(|p| (s + 1, p + 1))
            });
            let (section, order) = match placed {
                Some(p) => p,
                None if object.layout.is_empty() => (1, i + 1),
                None => (0, i + 1),
            };
            LayoutRow {
                name: f.name().to_owned(),
                label: tr.field_label(&object, f),
                section,
                order: order * 10,
                required: f.required,
            }
        })
        .collect();
    let failed = !general.is_empty();
    let page = LayoutPage {
        chrome,
        tabs,
        object: object.name().to_owned(),
        object_label: tr.object_plural(&object),
        sections,
        rows,
        general,
    };
    Ok(html_unless(page.render(), failed))
}

pub async fn save_layout(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, WebError> {
    let Posted { viewer, form } = posted;
    super::require(&viewer, Capability::ManageMetadata)?;
    let object = object_of(&state, &viewer, &name)?;
    // (section number, order, field) for every placed field
    let mut placed: Vec<(usize, i64, String)> = object
        .live_fields()
        .filter(|f| !f.system)
        .filter_map(|f| {
            let section: usize = number(&form, &format!("section_{}", f.name()))?;
            let order: i64 = number(&form, &format!("order_{}", f.name())).unwrap_or(0);
            (section > 0).then(|| (section, order, f.name().to_owned()))
        })
        .collect();
    placed.sort();
    // every section a field was placed in, however many the page offered
    let mut numbers: Vec<usize> = placed.iter().map(|(s, _, _)| *s).collect();
    numbers.dedup();
    let sections: Vec<(String, Vec<String>)> = numbers
        .into_iter()
        .filter_map(|s| {
            let fields: Vec<String> = placed
                .iter()
                .filter(|(sec, _, _)| *sec == s)
                .map(|(_, _, f)| f.clone())
                .collect();
            let label = form.text(&format!("section_label_{s}")).unwrap_or_default();
            (!fields.is_empty()).then_some((label, fields))
        })
        .collect();
    match state.core.set_layout(&viewer.actor, &name, sections).await {
        Ok(_) => Ok(see_other(&format!(
            "/settings/objects/{name}/layout?saved=1"
        ))),
        Err(e) => {
            let errors = form_errors(&viewer, e)?;
            let general = errors
                .into_iter()
                .map(|(f, m)| if f.is_empty() { m } else { format!("{f}: {m}") })
                .collect();
            render_layout(&state, &viewer, &name, general)
        }
    }
}
