//! Validation errors that name the field and the problem. The API layer lists every one of
//! them in a problem+json response; nothing here knows about HTTP.

use serde::{Deserialize, Serialize};

/// Stable machine codes for what is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    Required,
    WrongType,
    UnknownField,
    ReadOnly,
    TooLong,
    TooSmall,
    TooLarge,
    TooPrecise,
    PatternMismatch,
    InvalidEmail,
    InvalidPhone,
    InvalidCreditCode,
    InvalidUrl,
    InvalidDate,
    InvalidDatetime,
    InvalidCurrency,
    UnknownPicklistValue,
    InactivePicklistValue,
    LookupNotFound,
    Duplicate,
    InvalidName,
    ReservedName,
    AlreadyExists,
    InvalidOption,
    InvalidOperator,
    InvalidFilter,
    WeakPassword,
    RoleCycle,
    /// A status change the record's flow does not allow (a lead back to new).
    InvalidTransition,
}

impl FieldErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::WrongType => "wrong_type",
            Self::UnknownField => "unknown_field",
            Self::ReadOnly => "read_only",
            Self::TooLong => "too_long",
            Self::TooSmall => "too_small",
            Self::TooLarge => "too_large",
            Self::TooPrecise => "too_precise",
            Self::PatternMismatch => "pattern_mismatch",
            Self::InvalidEmail => "invalid_email",
            Self::InvalidPhone => "invalid_phone",
            Self::InvalidCreditCode => "invalid_credit_code",
            Self::InvalidUrl => "invalid_url",
            Self::InvalidDate => "invalid_date",
            Self::InvalidDatetime => "invalid_datetime",
            Self::InvalidCurrency => "invalid_currency",
            Self::UnknownPicklistValue => "unknown_picklist_value",
            Self::InactivePicklistValue => "inactive_picklist_value",
            Self::LookupNotFound => "lookup_not_found",
            Self::Duplicate => "duplicate",
            Self::InvalidName => "invalid_name",
            Self::ReservedName => "reserved_name",
            Self::AlreadyExists => "already_exists",
            Self::InvalidOption => "invalid_option",
            Self::InvalidOperator => "invalid_operator",
            Self::InvalidFilter => "invalid_filter",
            Self::WeakPassword => "weak_password",
            Self::RoleCycle => "role_cycle",
            Self::InvalidTransition => "invalid_transition",
        }
    }
}

/// One problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub code: FieldErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}
