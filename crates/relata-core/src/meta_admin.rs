//! Metadata administration: custom objects and custom fields, created at run time. Each change
//! writes the metadata row and runs the DDL it implies in one transaction, then the schema
//! snapshot is reloaded. Relabelling is metadata only; deleting a field archives it (column and
//! data kept) until it is purged.

use serde::Deserialize;
use serde_json::Value as Json;

use relata_domain::api_name::ApiName;
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef, PicklistValue, Sharing};
use relata_domain::standard::{as_custom, system_fields};
use relata_domain::value::Value;
use relata_store::{ddl, meta_sql};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// Input for a new custom object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewObject {
    pub api_name: String,
    pub label: String,
    pub plural_label: String,
    /// Label of the name field every object has (defaults to "Name").
    #[serde(default)]
    pub name_label: Option<String>,
}

/// Input for a new field, or the changed options of an existing one (all optional there).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    pub api_name: Option<String>,
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    pub label: Option<String>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub filterable: Option<bool>,
    pub searchable: Option<bool>,
    pub tracked: Option<bool>,
    /// `Some(Json::Null)` clears the default.
    #[serde(default, deserialize_with = "some_json")]
    pub default: Option<Json>,
    pub max_length: Option<u32>,
    /// A number or a decimal string, like decimal field values.
    #[serde(default, deserialize_with = "decimal_bound")]
    pub min: Option<rust_decimal::Decimal>,
    #[serde(default, deserialize_with = "decimal_bound")]
    pub max: Option<rust_decimal::Decimal>,
    pub scale: Option<u32>,
    pub pattern: Option<String>,
    pub values: Option<Vec<PicklistInput>>,
    pub target: Option<String>,
}

/// A picklist value: either a plain string or `{"value","label","active"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PicklistInput {
    Plain(String),
    Full {
        value: String,
        label: Option<String>,
        active: Option<bool>,
    },
}

fn some_json<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}

/// Decimals are strings on the wire (serde-str), but a bound is as often written `5` as `"5"`.
fn decimal_bound<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<rust_decimal::Decimal>, D::Error> {
    let text = match Option::<Json>::deserialize(d)? {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Number(n)) => n.to_string(),
        Some(Json::String(s)) => s.trim().to_owned(),
        Some(_) => return Err(serde::de::Error::custom("expected a number")),
    };
    text.parse::<rust_decimal::Decimal>()
        .or_else(|_| rust_decimal::Decimal::from_scientific(&text))
        .map(|d| Some(d.normalize()))
        .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a decimal number")))
}

/// A metadata change's audit entry, written in the change's transaction.
struct MetaAudit {
    who: crate::audit::Who,
    at: chrono::DateTime<chrono::Utc>,
    action: &'static str,
    detail: Json,
}

impl MetaAudit {
    fn new(core: &Core, actor: &Actor, action: &'static str, detail: Json) -> Self {
        MetaAudit {
            who: crate::audit::Who::from(actor),
            at: core.clock.now(),
            action,
            detail,
        }
    }

    fn write(&self, conn: &mut dyn relata_store::Conn) -> Result<(), CoreError> {
        crate::audit::append(
            conn,
            &self.who,
            self.at,
            self.action,
            None,
            self.detail.clone(),
        )
    }
}

fn require_admin(actor: &Actor) -> Result<(), CoreError> {
    actor.require_capability(relata_domain::access::Capability::ManageMetadata)
}

fn check_label(field: &str, label: &str) -> Result<String, FieldError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 80 || label.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            Code::InvalidOption,
            "must be 1-80 characters, without control characters",
        ));
    }
    Ok(label.to_owned())
}

impl Core {
    pub async fn create_object(
        &self,
        actor: &Actor,
        input: NewObject,
    ) -> Result<ObjectDef, CoreError> {
        require_admin(actor)?;
        let mut errors = Vec::new();
        let api_name = ApiName::parse("api_name", &input.api_name)
            .map_err(|e| errors.push(e))
            .ok();
        let label = check_label("label", &input.label)
            .map_err(|e| errors.push(e))
            .ok();
        let plural = check_label("plural_label", &input.plural_label)
            .map_err(|e| errors.push(e))
            .ok();
        let name_label = check_label("name_label", input.name_label.as_deref().unwrap_or("Name"))
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(api_name), Some(label), Some(plural_label), Some(name_label)) =
            (api_name, label, plural, name_label)
        else {
            return Err(CoreError::Validation(errors));
        };
        if self.schema().object(api_name.as_str()).is_some() {
            return Err(FieldError::new(
                "api_name",
                Code::AlreadyExists,
                format!("an object named '{api_name}' already exists"),
            )
            .into());
        }
        let mut fields = system_fields();
        fields.push(as_custom(FieldDef {
            required: true,
            searchable: true,
            filterable: true,
            ..FieldDef::new("name", &name_label, FieldType::Text)
        }));
        let object = ObjectDef {
            api_name: api_name.clone(),
            label,
            plural_label,
            name_field: ApiName::trusted("name"),
            standard: false,
            fields,
            sharing: Sharing::default(),
            manager_edit: false,
            layout: Vec::new(),
            matching_rule: None,
            conversion_map: None,
            pipelines: None,
        };
        let created = object.clone();
        let audit = MetaAudit::new(
            self,
            actor,
            "metadata.object_create",
            serde_json::json!({"object": object.name()}),
        );
        // notes attach to the new object's records through a lookup of their own
        let notes = self
            .schema()
            .object("note")
            .map(|n| (**n).clone())
            .and_then(|mut note| {
                let link = relata_domain::standard::note_link(&object)?;
                if note.field(link.name()).is_some() {
                    return None;
                }
                note.fields.push(link.clone());
                Some((note, link))
            });
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                ddl::create_object_table(conn, &object)?;
                meta_sql::insert_object(conn, &object)?;
                if let Some((note, link)) = &notes {
                    ddl::add_field(conn, note, link)?;
                    meta_sql::update_object(conn, note)?;
                }
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await
            .map_err(|e| match e {
                CoreError::Validation(_) => FieldError::new(
                    "api_name",
                    Code::AlreadyExists,
                    format!("an object named '{api_name}' already exists"),
                )
                .into(),
                other => other,
            })?;
        self.reload_schema().await?;
        Ok(created)
    }

    pub async fn add_field(
        &self,
        actor: &Actor,
        object: &str,
        input: FieldInput,
    ) -> Result<FieldDef, CoreError> {
        require_admin(actor)?;
        let object = self.object(object)?;
        let field = self.build_field(&object, &input)?;
        let mut updated = (*object).clone();
        updated.fields.push(field.clone());
        let added = field.clone();
        let audit = MetaAudit::new(
            self,
            actor,
            "metadata.field_create",
            serde_json::json!({"object": object.name(), "field": field.name(), "type": field.field_type.as_str()}),
        );
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                ddl::add_field(conn, &updated, &added)?;
                meta_sql::update_object(conn, &updated)?;
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await
            .map_err(|e| unique_backfill_error(e, field.name()))?;
        self.reload_schema().await?;
        Ok(field)
    }

    pub async fn update_field(
        &self,
        actor: &Actor,
        object: &str,
        name: &str,
        input: FieldInput,
    ) -> Result<FieldDef, CoreError> {
        require_admin(actor)?;
        let object = self.object(object)?;
        let before = object.field(name).cloned().ok_or_else(|| {
            CoreError::not_found(format!("field '{name}' of '{}'", object.name()))
        })?;
        if before.system {
            return Err(
                FieldError::new(name, Code::ReadOnly, "system fields cannot be changed").into(),
            );
        }
        if input.api_name.as_deref().is_some_and(|n| n != name) {
            return Err(FieldError::new(
                "api_name",
                Code::ReadOnly,
                "a field's API name cannot change; relabel it instead",
            )
            .into());
        }
        if input
            .field_type
            .as_deref()
            .is_some_and(|t| t != before.field_type.as_str())
        {
            return Err(
                FieldError::new("type", Code::ReadOnly, "a field's type cannot change").into(),
            );
        }
        if input
            .target
            .as_deref()
            .is_some_and(|t| before.target.as_ref().is_none_or(|b| b.as_str() != t))
        {
            return Err(FieldError::new(
                "target",
                Code::ReadOnly,
                "a lookup's target cannot change",
            )
            .into());
        }
        let mut after = before.clone();
        apply_options(&mut after, &input, &self.schema(), Some(&before))?;
        let mut updated = (*object).clone();
        if let Some(slot) = updated
            .fields
            .iter_mut()
            .find(|f| f.name() == name && !f.archived)
        {
            *slot = after.clone();
        }
        let (b, a) = (before.clone(), after.clone());
        let audit = MetaAudit::new(
            self,
            actor,
            "metadata.field_update",
            serde_json::json!({"object": object.name(), "field": name}),
        );
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                ddl::sync_field_index(conn, &updated, &b, &a)?;
                if a.searchable != b.searchable {
                    crate::search::reindex_object(conn, &updated)?;
                }
                meta_sql::update_object(conn, &updated)?;
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await
            .map_err(|e| unique_backfill_error(e, name))?;
        self.reload_schema().await?;
        Ok(after)
    }

    /// Sets the page layout of an object: sections, each a label and fields in order. A field
    /// may appear once; system fields have their own section on every page and cannot be
    /// placed. An empty list returns the object to its default layout.
    pub async fn set_layout(
        &self,
        actor: &Actor,
        object: &str,
        sections: Vec<(String, Vec<String>)>,
    ) -> Result<ObjectDef, CoreError> {
        require_admin(actor)?;
        let object = self.object(object)?;
        let mut errors = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut layout = Vec::new();
        for (i, (label, fields)) in sections.into_iter().enumerate() {
            let key = format!("sections.{i}");
            let label = match check_label(&format!("{key}.label"), &label) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut names = Vec::new();
            for name in fields {
                match object.field(&name) {
                    Some(f) if !f.system && !f.archived && !seen.contains(&name) => {
                        seen.push(name.clone());
                        names.push(f.api_name.clone());
                    }
                    Some(f) if f.system => errors.push(FieldError::new(
                        format!("{key}.fields"),
                        Code::InvalidOption,
                        format!("'{name}' is a system field, shown on every page"),
                    )),
                    Some(_) if seen.contains(&name) => errors.push(FieldError::new(
                        format!("{key}.fields"),
                        Code::InvalidOption,
                        format!("'{name}' is already in another section"),
                    )),
                    _ => errors.push(FieldError::new(
                        format!("{key}.fields"),
                        Code::UnknownField,
                        format!("'{}' has no field '{name}'", object.name()),
                    )),
                }
            }
            layout.push(relata_domain::meta::LayoutSection {
                label,
                fields: names,
            });
        }
        if !errors.is_empty() {
            return Err(CoreError::Validation(errors));
        }
        let mut updated = (*object).clone();
        updated.layout = layout;
        let saved = updated.clone();
        let audit = MetaAudit::new(
            self,
            actor,
            "metadata.layout_update",
            serde_json::json!({"object": object.name()}),
        );
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                meta_sql::update_object(conn, &updated)?;
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await?;
        self.reload_schema().await?;
        Ok(saved)
    }

    /// Sets where a converted lead's fields go (`None`: back to the standard map).
    pub async fn set_conversion_map(
        &self,
        actor: &Actor,
        map: Option<Vec<relata_domain::lead::ConversionField>>,
    ) -> Result<ObjectDef, CoreError> {
        require_admin(actor)?;
        if let Some(map) = &map {
            let problems = self.conversion_map_problems(map)?;
            if !problems.is_empty() {
                return Err(CoreError::Validation(problems));
            }
        }
        let object = self.object(relata_domain::lead::OBJECT)?;
        let mut updated = (*object).clone();
        updated.conversion_map = map.clone();
        let saved = updated.clone();
        let audit = MetaAudit::new(
            self,
            actor,
            "metadata.conversion_map_update",
            serde_json::json!({"object": object.name(), "fields": map}),
        );
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                meta_sql::update_object(conn, &updated)?;
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await?;
        self.reload_schema().await?;
        Ok(saved)
    }

    /// Sets the duplicate rule of an object (`None`: back to its standard rule, if any).
    pub async fn set_matching_rule(
        &self,
        actor: &Actor,
        object: &str,
        rule: Option<relata_domain::dedupe::MatchRule>,
    ) -> Result<ObjectDef, CoreError> {
        require_admin(actor)?;
        let object = self.object(object)?;
        let rule = match rule {
            Some(mut r) => {
                r.object = object.name().to_owned();
                let problems = r.problems(&object);
                if !problems.is_empty() {
                    return Err(CoreError::Validation(problems));
                }
                Some(r)
            }
            None => None,
        };
        let mut updated = (*object).clone();
        updated.matching_rule = rule.clone();
        let saved = updated.clone();
        let audit = MetaAudit::new(
            self,
            actor,
            "metadata.matching_rule_update",
            serde_json::json!({"object": object.name(), "rule": rule}),
        );
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                meta_sql::update_object(conn, &updated)?;
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await?;
        self.reload_schema().await?;
        Ok(saved)
    }

    /// Archives a custom field; with `purge`, drops an archived field's column for good.
    pub async fn delete_field(
        &self,
        actor: &Actor,
        object: &str,
        name: &str,
        purge: bool,
    ) -> Result<(), CoreError> {
        require_admin(actor)?;
        let object = self.object(object)?;
        let Some(field) = object.fields.iter().find(|f| f.name() == name).cloned() else {
            return Err(CoreError::not_found(format!(
                "field '{name}' of '{}'",
                object.name()
            )));
        };
        if field.system || field.standard || object.name_field.as_str() == name {
            return Err(FieldError::new(
                name,
                Code::ReadOnly,
                "standard, system and name fields cannot be deleted",
            )
            .into());
        }
        if field.archived && !purge {
            return Err(CoreError::not_found(format!(
                "field '{name}' of '{}'",
                object.name()
            )));
        }
        let mut updated = (*object).clone();
        if purge {
            updated.fields.retain(|f| f.name() != name);
        } else if let Some(f) = updated.fields.iter_mut().find(|f| f.name() == name) {
            f.archived = true;
        }
        let audit = MetaAudit::new(
            self,
            actor,
            if purge {
                "metadata.field_purge"
            } else {
                "metadata.field_archive"
            },
            serde_json::json!({"object": object.name(), "field": name}),
        );
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                if purge {
                    ddl::drop_field(conn, &updated, &field)?;
                } else if field.searchable {
                    crate::search::reindex_object(conn, &updated)?;
                }
                meta_sql::update_object(conn, &updated)?;
                meta_sql::bump_version(conn)?;
                audit.write(conn)
            })
            .await?;
        self.reload_schema().await
    }

    /// Validates a new field's definition against the object and schema.
    fn build_field(&self, object: &ObjectDef, input: &FieldInput) -> Result<FieldDef, CoreError> {
        let mut errors = Vec::new();
        let api_name = match input.api_name.as_deref() {
            None => {
                errors.push(FieldError::new("api_name", Code::Required, "is required"));
                None
            }
            Some(raw) => match ApiName::parse("api_name", raw) {
                Ok(n) => {
                    let taken = object.fields.iter().any(|f| {
                        f.name() == n.as_str()
                            || (f.field_type == FieldType::Currency
                                && ddl::currency_column(f.name()) == n.as_str())
                    });
                    if taken {
                        errors.push(FieldError::new(
                            "api_name",
                            Code::AlreadyExists,
                            format!(
                                "'{}' already has a field or column named '{n}'",
                                object.name()
                            ),
                        ));
                    }
                    Some(n)
                }
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let field_type = match input.field_type.as_deref() {
            None => {
                errors.push(FieldError::new("type", Code::Required, "is required"));
                None
            }
            Some(t) => match FieldType::ALL_USER_TYPES.iter().find(|ft| ft.as_str() == t) {
                Some(ft) => Some(*ft),
                None => {
                    let names: Vec<&str> = FieldType::ALL_USER_TYPES
                        .iter()
                        .map(FieldType::as_str)
                        .collect();
                    errors.push(FieldError::new(
                        "type",
                        Code::InvalidOption,
                        format!("'{t}' is not a field type; use one of {}", names.join(", ")),
                    ));
                    None
                }
            },
        };
        let label = match input.label.as_deref() {
            Some(l) => check_label("label", l).map_err(|e| errors.push(e)).ok(),
            None => {
                errors.push(FieldError::new("label", Code::Required, "is required"));
                None
            }
        };
        let (Some(api_name), Some(field_type), Some(label)) = (api_name, field_type, label) else {
            return Err(CoreError::Validation(errors));
        };
        if let (FieldType::Currency, Some(_)) = (
            field_type,
            object.field(&ddl::currency_column(api_name.as_str())),
        ) {
            errors.push(FieldError::new(
                "api_name",
                Code::AlreadyExists,
                "its currency column would clash with an existing field",
            ));
        }
        let mut field = as_custom(FieldDef::new(api_name.as_str(), &label, field_type));
        field.api_name = api_name;
        if let Err(CoreError::Validation(mut more)) =
            apply_options(&mut field, input, &self.schema(), None)
        {
            errors.append(&mut more);
        }
        if errors.is_empty() {
            Ok(field)
        } else {
            Err(CoreError::Validation(errors))
        }
    }
}

/// A unique index that cannot be built because existing rows repeat a value.
fn unique_backfill_error(e: CoreError, field: &str) -> CoreError {
    match e {
        CoreError::Validation(errs) if errs.iter().any(|e| e.code == Code::Duplicate) => {
            FieldError::new(
                "unique",
                Code::Duplicate,
                format!("existing records repeat values of '{field}', so it cannot be unique"),
            )
            .into()
        }
        other => other,
    }
}

/// Applies options from `input` to `field`, validating each against the field's type.
fn apply_options(
    field: &mut FieldDef,
    input: &FieldInput,
    schema: &relata_domain::Schema,
    before: Option<&FieldDef>,
) -> Result<(), CoreError> {
    let mut errors = Vec::new();
    let t = field.field_type;
    let set_flag = |v: Option<bool>, slot: &mut bool| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set_flag(input.required, &mut field.required);
    set_flag(input.unique, &mut field.unique);
    set_flag(input.filterable, &mut field.filterable);
    set_flag(input.searchable, &mut field.searchable);
    set_flag(input.tracked, &mut field.tracked);
    if let Some(label) = &input.label {
        match check_label("label", label) {
            Ok(l) => field.label = l,
            Err(e) => errors.push(e),
        }
    }
    if field.unique
        && matches!(
            t,
            FieldType::LongText | FieldType::MultiPicklist | FieldType::Boolean
        )
    {
        errors.push(FieldError::new(
            "unique",
            Code::InvalidOption,
            format!("a {} field cannot be unique", t.as_str()),
        ));
    }
    if field.searchable && !(t.is_textual() && t != FieldType::Picklist) {
        errors.push(FieldError::new(
            "searchable",
            Code::InvalidOption,
            "only text, long text, email, phone and url fields can be searchable",
        ));
    }
    if let Some(max) = input.max_length {
        if !t.is_textual() || t == FieldType::Picklist {
            errors.push(FieldError::new(
                "max_length",
                Code::InvalidOption,
                format!("a {} field has no maximum length", t.as_str()),
            ));
        } else if max == 0 || max > 131_072 {
            errors.push(FieldError::new(
                "max_length",
                Code::InvalidOption,
                "must be between 1 and 131072",
            ));
        } else {
            field.max_length = Some(max);
        }
    }
    let numeric = matches!(t, FieldType::Integer) || t.is_decimal();
    for (name, v, slot) in [
        ("min", input.min, &mut field.min),
        ("max", input.max, &mut field.max),
    ] {
        if let Some(v) = v {
            if numeric {
                *slot = Some(v)
            } else {
                errors.push(FieldError::new(
                    name,
                    Code::InvalidOption,
                    format!("a {} field has no {name}", t.as_str()),
                ))
            }
        }
    }
    if let (Some(min), Some(max)) = (field.min, field.max)
        && min > max
    {
        errors.push(FieldError::new(
            "min",
            Code::InvalidOption,
            "must not be greater than max",
        ));
    }
    if let Some(scale) = input.scale {
        if before.is_some() && Some(scale) != before.and_then(|b| b.scale) {
            errors.push(FieldError::new(
                "scale",
                Code::ReadOnly,
                "the number of decimal places cannot change",
            ));
        } else if !t.is_decimal() {
            errors.push(FieldError::new(
                "scale",
                Code::InvalidOption,
                format!("a {} field has no decimal places", t.as_str()),
            ));
        } else if scale > 8 {
            errors.push(FieldError::new(
                "scale",
                Code::InvalidOption,
                "must be between 0 and 8",
            ));
        } else {
            field.scale = Some(scale);
        }
    }
    if let Some(p) = &input.pattern {
        if !t.is_textual() || t == FieldType::Picklist {
            errors.push(FieldError::new(
                "pattern",
                Code::InvalidOption,
                format!("a {} field cannot have a pattern", t.as_str()),
            ));
        } else if p.len() > 500 || p.contains('\0') || regex::Regex::new(p).is_err() {
            errors.push(FieldError::new(
                "pattern",
                Code::InvalidOption,
                "is not a valid regular expression",
            ));
        } else {
            field.pattern = Some(p.clone()).filter(|p| !p.is_empty());
        }
    }
    if matches!(t, FieldType::Picklist | FieldType::MultiPicklist) {
        match &input.values {
            Some(values) => match picklist_values(values, before) {
                Ok(v) => field.values = v,
                Err(e) => errors.push(e),
            },
            None if before.is_none() => errors.push(FieldError::new(
                "values",
                Code::Required,
                "a picklist needs at least one value",
            )),
            None => {}
        }
    } else if input.values.is_some() {
        errors.push(FieldError::new(
            "values",
            Code::InvalidOption,
            "only picklists have values",
        ));
    }
    if t == FieldType::Lookup && before.is_none() {
        match input.target.as_deref() {
            None => errors.push(FieldError::new(
                "target",
                Code::Required,
                "a lookup needs a target object",
            )),
            Some(target) => match schema.object(target) {
                Some(o) => field.target = Some(o.api_name.clone()),
                None => errors.push(FieldError::new(
                    "target",
                    Code::InvalidOption,
                    format!("there is no object '{target}'"),
                )),
            },
        }
    } else if input.target.is_some() && t != FieldType::Lookup {
        errors.push(FieldError::new(
            "target",
            Code::InvalidOption,
            "only lookups have a target",
        ));
    }
    if let Some(default) = &input.default {
        if default.is_null() {
            field.default = None;
        } else if matches!(t, FieldType::Lookup | FieldType::UserLookup) {
            errors.push(FieldError::new(
                "default",
                Code::InvalidOption,
                "a lookup cannot have a default",
            ));
        } else {
            match Value::parse(field, default, &Default::default()) {
                Ok(_) => field.default = Some(default.clone()),
                Err(e) => errors.push(FieldError::new("default", e.code, e.message)),
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CoreError::Validation(errors))
    }
}

fn picklist_values(
    values: &[PicklistInput],
    before: Option<&FieldDef>,
) -> Result<Vec<PicklistValue>, FieldError> {
    let mut out: Vec<PicklistValue> = Vec::new();
    for v in values {
        let (value, label, active) = match v {
            PicklistInput::Plain(s) => (s.clone(), s.clone(), true),
            PicklistInput::Full {
                value,
                label,
                active,
            } => (
                value.clone(),
                label.clone().unwrap_or_else(|| value.clone()),
                active.unwrap_or(true),
            ),
        };
        // Control characters: U+0000 cannot be stored by PostgreSQL, none belongs in a value.
        let controls = value.chars().chain(label.chars()).any(char::is_control);
        if value.trim().is_empty()
            || value.chars().count() > 255
            || value != value.trim()
            || controls
        {
            return Err(FieldError::new(
                "values",
                Code::InvalidOption,
                format!(
                    "'{value}' is not a valid picklist value (1-255 characters, no surrounding spaces or control characters)"
                ),
            ));
        }
        if out.iter().any(|o| o.value == value) {
            return Err(FieldError::new(
                "values",
                Code::InvalidOption,
                format!("'{value}' is listed twice"),
            ));
        }
        out.push(PicklistValue {
            value,
            label,
            active,
        });
    }
    if out.is_empty() {
        return Err(FieldError::new(
            "values",
            Code::InvalidOption,
            "a picklist needs at least one value",
        ));
    }
    // Values dropped from the list stay valid on existing records: keep them, inactive.
    if let Some(before) = before {
        for old in &before.values {
            if !out.iter().any(|o| o.value == old.value) {
                out.push(PicklistValue {
                    active: false,
                    ..old.clone()
                });
            }
        }
    }
    Ok(out)
}
