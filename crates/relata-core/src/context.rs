//! Who is acting, and through which channel. Every service call takes an [`Actor`]; record
//! visibility is derived from it and compiled into each query.

use relata_domain::UserId;

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
    pub is_admin: bool,
    pub source: Source,
}

impl Actor {
    /// The system itself (migrations, demo data), with full access.
    pub fn system(user_id: UserId) -> Self {
        Self {
            user_id,
            is_admin: true,
            source: Source::System,
        }
    }
}
