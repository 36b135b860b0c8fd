//! The service layer's one error type. Each variant knows its stable machine code and its
//! class; the API maps classes to HTTP statuses in one place (relata-api `problem.rs`).

use relata_domain::FieldError;
use relata_store::StoreError;

/// What kind of failure, for the caller: decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    NotFound,
    Conflict,
    PreconditionFailed,
    Validation,
    BadRequest,
    Forbidden,
    Unauthenticated,
    TooManyRequests,
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The input has problems; every one is listed.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// No such object, record or resource (or the caller may not know it exists).
    #[error("{what} not found")]
    NotFound { what: String },
    /// The record changed since the caller read it (`If-Match` mismatch).
    #[error("the record has changed: expected version {expected}, found {actual}")]
    StaleVersion { expected: i64, actual: i64 },
    /// The request conflicts with the current state (e.g. restoring a live record).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request is malformed in a way that is not about one field.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("authentication required")]
    Unauthenticated,
    /// Too many attempts (logins, API calls): retry after this many seconds.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    /// The database is unreachable or shutting down.
    #[error("service unavailable")]
    Unavailable(String),
    /// A fault of ours; the text is for the log only.
    #[error("internal error")]
    Internal(String),
}

impl CoreError {
    pub fn class(&self) -> ErrorClass {
        match self {
            CoreError::Validation(_) => ErrorClass::Validation,
            CoreError::NotFound { .. } => ErrorClass::NotFound,
            CoreError::StaleVersion { .. } => ErrorClass::PreconditionFailed,
            CoreError::Conflict { .. } => ErrorClass::Conflict,
            CoreError::BadRequest { .. } => ErrorClass::BadRequest,
            CoreError::Forbidden { .. } => ErrorClass::Forbidden,
            CoreError::Unauthenticated => ErrorClass::Unauthenticated,
            CoreError::TooManyRequests { .. } => ErrorClass::TooManyRequests,
            CoreError::Unavailable(_) => ErrorClass::Unavailable,
            CoreError::Internal(_) => ErrorClass::Internal,
        }
    }

    /// The stable snake_case code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Validation(_) => "validation_failed",
            CoreError::NotFound { .. } => "not_found",
            CoreError::StaleVersion { .. } => "version_mismatch",
            CoreError::Conflict { code, .. }
            | CoreError::BadRequest { code, .. }
            | CoreError::TooManyRequests { code, .. } => code,
            CoreError::Forbidden { .. } => "forbidden",
            CoreError::Unauthenticated => "unauthenticated",
            CoreError::Unavailable(_) => "unavailable",
            CoreError::Internal(_) => "internal_error",
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        CoreError::NotFound { what: what.into() }
    }

    pub fn field(error: FieldError) -> Self {
        CoreError::Validation(vec![error])
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        CoreError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique { column, .. } => CoreError::Validation(vec![FieldError::new(
                column,
                relata_domain::FieldErrorCode::Duplicate,
                "another record already has this value",
            )]),
            StoreError::ForeignKey => CoreError::Validation(vec![FieldError::new(
                "record",
                relata_domain::FieldErrorCode::LookupNotFound,
                "a referenced record does not exist",
            )]),
            StoreError::Conflict => CoreError::Conflict {
                code: "concurrent_update",
                message: "the record was changed by someone else; reload and retry".into(),
            },
            StoreError::NulInText => CoreError::BadRequest {
                code: "nul_character",
                message: "a text value holds the NUL character (U+0000), which cannot be stored"
                    .into(),
            },
            StoreError::Unavailable(m) => CoreError::Unavailable(m),
            StoreError::Internal(m) => CoreError::Internal(m),
        }
    }
}

impl From<FieldError> for CoreError {
    fn from(e: FieldError) -> Self {
        CoreError::Validation(vec![e])
    }
}
