//! Metadata: objects and their fields. Standard objects and custom objects are described by
//! the same types; each object is one real table and each field one real column, so lists,
//! filters and reports run on typed, indexed columns.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api_name::ApiName;

/// The type of a field: decides its column type, validation and the filter operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Integer,
    Decimal,
    /// Exact decimal amount plus an ISO 4217 currency code (two columns).
    Currency,
    Percent,
    Date,
    Datetime,
    Boolean,
    Picklist,
    MultiPicklist,
    Email,
    Phone,
    Url,
    /// A reference to a record of `FieldDef::target`.
    Lookup,
    /// A reference to a user.
    UserLookup,
    /// The record id (system field).
    Id,
}

impl FieldType {
    pub const ALL_USER_TYPES: [FieldType; 16] = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::Currency,
        FieldType::Percent,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Boolean,
        FieldType::Picklist,
        FieldType::MultiPicklist,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Url,
        FieldType::Lookup,
        FieldType::UserLookup,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::LongText => "long_text",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Currency => "currency",
            Self::Percent => "percent",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Boolean => "boolean",
            Self::Picklist => "picklist",
            Self::MultiPicklist => "multi_picklist",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Url => "url",
            Self::Lookup => "lookup",
            Self::UserLookup => "user_lookup",
            Self::Id => "id",
        }
    }

    /// Types whose values are text in storage and compare as text.
    pub fn is_textual(&self) -> bool {
        matches!(
            self,
            Self::Text | Self::LongText | Self::Email | Self::Phone | Self::Url | Self::Picklist
        )
    }

    /// Types stored as an exact decimal.
    pub fn is_decimal(&self) -> bool {
        matches!(self, Self::Decimal | Self::Currency | Self::Percent)
    }

    pub fn is_reference(&self) -> bool {
        matches!(self, Self::Lookup | Self::UserLookup | Self::Id)
    }

    /// Default number of decimal places for decimal-like types.
    pub fn default_scale(&self) -> u32 {
        match self {
            Self::Currency | Self::Percent | Self::Decimal => 2,
            _ => 0,
        }
    }

    /// Default maximum length of textual types, so that no text column is unbounded by accident.
    pub fn default_max_length(&self) -> Option<u32> {
        match self {
            Self::Text | Self::Phone | Self::Picklist => Some(255),
            Self::Email => Some(254),
            Self::Url => Some(2048),
            Self::LongText => Some(131_072),
            _ => None,
        }
    }
}

/// One value of a picklist. Order is the order of the list; inactive values stay valid on
/// existing records but cannot be chosen for new values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PicklistValue {
    pub value: String,
    pub label: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Formats of text whose validity is more than a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// 统一社会信用代码: 18 characters, the last a check character (GB 32100-2015).
    CnCreditCode,
}

impl TextFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            TextFormat::CnCreditCode => "cn_credit_code",
        }
    }
}

/// A field of an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub api_name: ApiName,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    /// Gets an index so filters and sorts on it stay fast at millions of rows.
    #[serde(default)]
    pub filterable: bool,
    /// Included in global search.
    #[serde(default)]
    pub searchable: bool,
    /// Changes are written to field history.
    #[serde(default)]
    pub tracked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<rust_decimal::Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<rust_decimal::Decimal>,
    /// Decimal places of decimal-like fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// A regular expression the whole value must match (text-like fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A known format a text field's values are normalized to and checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<PicklistValue>,
    /// Target object of a lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ApiName>,
    /// Set by the system, never by a client (id, created_at, …).
    #[serde(default)]
    pub system: bool,
    /// Declared by Relata rather than an admin; cannot be deleted.
    #[serde(default)]
    pub standard: bool,
    /// Deleted fields are archived: hidden from the API, data kept until purged.
    #[serde(default)]
    pub archived: bool,
}

impl FieldDef {
    pub fn new(api_name: &str, label: &str, field_type: FieldType) -> Self {
        Self {
            api_name: ApiName::trusted(api_name),
            label: label.to_owned(),
            field_type,
            required: false,
            unique: false,
            filterable: false,
            searchable: false,
            tracked: false,
            default: None,
            max_length: field_type.default_max_length(),
            min: None,
            max: None,
            scale: field_type.is_decimal().then(|| field_type.default_scale()),
            pattern: None,
            format: None,
            values: Vec::new(),
            target: None,
            system: false,
            standard: true,
            archived: false,
        }
    }

    pub fn name(&self) -> &str {
        self.api_name.as_str()
    }

    pub fn scale(&self) -> u32 {
        self.scale
            .unwrap_or_else(|| self.field_type.default_scale())
    }

    /// Whether the column gets an index.
    pub fn indexed(&self) -> bool {
        self.unique
            || self.filterable
            || matches!(self.field_type, FieldType::Lookup | FieldType::UserLookup)
    }

    pub fn picklist_value(&self, value: &str) -> Option<&PicklistValue> {
        self.values.iter().find(|v| v.value == value)
    }
}

/// An object: a kind of record with its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectDef {
    pub api_name: ApiName,
    pub label: String,
    pub plural_label: String,
    /// The field shown as the record's name in search results and lookups.
    pub name_field: ApiName,
    #[serde(default)]
    pub standard: bool,
    pub fields: Vec<FieldDef>,
    /// Who sees a record besides its owner (the org-wide default).
    #[serde(default)]
    pub sharing: Sharing,
    /// Whether managers may edit (not only see) the records of users beneath them in the
    /// role hierarchy.
    #[serde(default)]
    pub manager_edit: bool,
    /// The page layout: sections of the record page and form, each with its fields in
    /// order. Empty: every field in one section, in field order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layout: Vec<LayoutSection>,
    /// The duplicate rule an admin set; `None` uses the object's standard rule, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_rule: Option<crate::dedupe::MatchRule>,
    /// Leads only: where a lead's fields go when it is converted, as an admin set it
    /// (`None`: `lead::standard_conversion_map`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion_map: Option<Vec<crate::lead::ConversionField>>,
    /// Opportunities only: the pipelines as an administrator set them (`None`:
    /// `opportunity::pipeline::standard_pipelines`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipelines: Option<Vec<crate::opportunity::pipeline::Pipeline>>,
}

/// One section of a page layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutSection {
    pub label: String,
    pub fields: Vec<ApiName>,
}

/// The org-wide default of record visibility for one object. Owners, the role hierarchy,
/// shares, record teams and sharing rules widen `Private`; the public models widen it for
/// everyone who may read the object at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Sharing {
    #[default]
    Private,
    PublicRead,
    PublicReadWrite,
    /// A record is visible (and editable) when its parent through this lookup is, or when
    /// the user owns it: contacts follow their account.
    ControlledByParent {
        field: ApiName,
    },
}

impl ObjectDef {
    pub fn name(&self) -> &str {
        self.api_name.as_str()
    }

    /// A live (not archived) field by API name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name() == name && !f.archived)
    }

    /// Live fields in declaration order.
    pub fn live_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(|f| !f.archived)
    }

    /// Fields a client may write.
    pub fn writable_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.live_fields()
            .filter(|f| !f.system || f.name() == "owner_id")
    }

    pub fn searchable_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.live_fields().filter(|f| f.searchable)
    }
}

/// All objects, as one immutable snapshot. Metadata changes build a new snapshot and swap it
/// in, so a request sees one consistent schema from start to end.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    objects: BTreeMap<String, Arc<ObjectDef>>,
    /// Bumped on every metadata change; caches compare it.
    pub version: i64,
}

impl Schema {
    pub fn new(objects: impl IntoIterator<Item = ObjectDef>, version: i64) -> Self {
        Self {
            objects: objects
                .into_iter()
                .map(|o| (o.name().to_owned(), Arc::new(o)))
                .collect(),
            version,
        }
    }

    pub fn object(&self, name: &str) -> Option<&Arc<ObjectDef>> {
        self.objects.get(name)
    }

    pub fn objects(&self) -> impl Iterator<Item = &Arc<ObjectDef>> {
        self.objects.values()
    }
}
