//! Who is acting, and through which channel. Every service call takes an [`Actor`]; record
//! visibility is derived from it and compiled into each query.

use std::sync::Arc;

use relata_domain::UserId;

use relata_domain::access::{Capability, Operation};
use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::error::CoreError;

/// Where a change came from, for history and audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Api,
    Ui,
    Import,
    Automation,
    System,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Ui => "ui",
            Source::Import => "import",
            Source::Automation => "automation",
            Source::System => "system",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub source: Source,
    /// What the user may see and do, as of the access version it was derived from.
    pub access: Arc<Access>,
    /// The scopes of the API token used, if it was limited: a token can only narrow what
    /// its user may do.
    pub scopes: Option<Arc<[TokenScope]>>,
    /// The client's address, for the audit log.
    pub client_addr: Option<String>,
    /// When the credential used (an API token) expires, so a cache of verified credentials
    /// can stop serving it on time.
    pub credential_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The workflow run acting, when a rule's action makes the change: written on the
    /// change's events so rules it triggers know how deep the chain is (loop protection).
    pub cause: Option<uuid::Uuid>,
}

impl Actor {
    /// The system itself (migrations, demo data, the CLI), with full access.
    pub fn system(user_id: UserId) -> Self {
        Self::superuser(user_id, Source::System)
    }

    /// A superuser acting through `source`.
    pub fn superuser(user_id: UserId, source: Source) -> Self {
        Self {
            user_id,
            source,
            access: Arc::new(Access::superuser(user_id)),
            scopes: None,
            client_addr: None,
            credential_expires_at: None,
            cause: None,
        }
    }

    /// An actor for a user with their full access.
    pub fn user(access: Arc<Access>, source: Source) -> Self {
        Self {
            user_id: access.user_id,
            source,
            access,
            scopes: None,
            client_addr: None,
            credential_expires_at: None,
            cause: None,
        }
    }

    /// Whether the actor may perform `op` on `object` at all (permission sets and token
    /// scopes); which records is a matter of visibility.
    pub fn may(&self, object: &str, op: Operation) -> bool {
        self.access.object(object).allows(op)
            && self
                .scopes
                .as_ref()
                .is_none_or(|scopes| scopes.iter().any(|s| s.covers(object, op)))
    }

    pub fn require(&self, object: &str, op: Operation) -> Result<(), CoreError> {
        if self.scopes.is_none() {
            return self.access.require(object, op);
        }
        if self.may(object, op) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                message: format!(
                    "you may not {} {object} records with this token",
                    op.as_str()
                ),
            })
        }
    }

    /// Administrative capabilities need an unscoped credential.
    pub fn require_capability(&self, cap: Capability) -> Result<(), CoreError> {
        if self.scopes.is_some() {
            return Err(CoreError::Forbidden {
                message: "a token limited to record scopes cannot perform administration".into(),
            });
        }
        self.access.require_capability(cap)
    }

    pub fn is_superuser(&self) -> bool {
        self.access.superuser
    }
}

/// One scope of a limited API token: read or write on one object or on all (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenScope {
    pub object: String,
    pub access: ScopeAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeAccess {
    Read,
    Write,
}

impl TokenScope {
    pub fn covers(&self, object: &str, op: Operation) -> bool {
        let object_ok = self.object == "*" || self.object == object;
        let access_ok = match op {
            Operation::Read | Operation::Export => true,
            Operation::Create | Operation::Edit | Operation::Delete | Operation::Import => {
                self.access == ScopeAccess::Write
            }
        };
        object_ok && access_ok
    }
}
