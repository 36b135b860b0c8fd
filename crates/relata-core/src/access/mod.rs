//! What one user may see and do, derived from the access tables: their permission sets, their
//! place in the role hierarchy, their teams and the sharing rules that name them.
//!
//! The tables are small next to the records, so a server keeps all of them in one snapshot and
//! derives a user's [`Access`] from it on first use. Every change to them bumps the access
//! version (row 3 of `sys_meta_state`); servers sharing a PostgreSQL database compare it about
//! once a second, like the metadata version.

pub mod directory;
pub mod org;
pub mod password;
pub mod sessions;
pub mod sets;
pub mod setup;
pub mod sharing;
mod snapshot;
pub mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use relata_domain::UserId;
use relata_domain::access::{
    AccessLevel, Capability, EffectiveGrants, FieldAccess, ObjectPerm, Operation,
};
use relata_domain::filter::Filter;
use relata_store::Conn;
use uuid::Uuid;

use crate::Core;
use crate::error::CoreError;
pub use snapshot::Snapshot;

/// Everything the query compiler needs about one user.
#[derive(Debug, Clone)]
pub struct Access {
    pub user_id: UserId,
    /// The system administrator: every object, record, field and capability.
    pub superuser: bool,
    pub grants: EffectiveGrants,
    /// The user and every user in a role beneath theirs: owners whose records they see
    /// through the hierarchy.
    pub hierarchy_owners: Vec<Uuid>,
    /// The share principals that include this user, as (kind, ids) for SQL.
    pub principals: Vec<(&'static str, Vec<Uuid>)>,
    /// Sharing rules per object that share records with this user.
    pub rules: HashMap<String, Vec<RuleGrant>>,
}

/// One sharing rule as it applies to a user.
#[derive(Debug, Clone)]
pub struct RuleGrant {
    pub rule_id: Uuid,
    pub filter: Filter,
    pub access: AccessLevel,
}

impl Access {
    /// Full access, for the system itself (migrations, demo data, the CLI).
    pub fn superuser(user_id: UserId) -> Self {
        Access {
            user_id,
            superuser: true,
            grants: EffectiveGrants::default(),
            hierarchy_owners: vec![user_id.0],
            principals: Vec::new(),
            rules: HashMap::new(),
        }
    }

    pub fn object(&self, object: &str) -> ObjectPerm {
        if self.superuser {
            ObjectPerm::ALL
        } else {
            self.grants.object(object)
        }
    }

    pub fn field(&self, object: &str, field: &str) -> FieldAccess {
        if self.superuser {
            FieldAccess::Edit
        } else {
            self.grants.field(object, field)
        }
    }

    pub fn has(&self, cap: Capability) -> bool {
        self.superuser || self.grants.has(cap)
    }

    /// Ok when the user may perform `op` on `object` at all; which records is for visibility.
    pub fn require(&self, object: &str, op: Operation) -> Result<(), CoreError> {
        if self.object(object).allows(op) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                message: format!("you may not {} {object} records", op.as_str()),
            })
        }
    }

    pub fn require_capability(&self, cap: Capability) -> Result<(), CoreError> {
        if self.has(cap) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                message: format!("this needs the {} capability", cap.as_str()),
            })
        }
    }
}

/// The current snapshot and the accesses derived from it.
pub(crate) struct AccessState {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Accesses derived from the snapshot of this version (never from an older one).
    derived: Mutex<Derived>,
}

#[derive(Default)]
struct Derived {
    version: i64,
    by_user: HashMap<UserId, Arc<Access>>,
}

impl AccessState {
    pub(crate) fn new(snapshot: Snapshot) -> Self {
        AccessState {
            derived: Mutex::new(Derived {
                version: snapshot.version,
                by_user: HashMap::new(),
            }),
            snapshot: RwLock::new(Arc::new(snapshot)),
        }
    }
}

impl Core {
    pub fn access_snapshot(&self) -> Arc<Snapshot> {
        self.access
            .snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The version of the access tables this server works with; caches of anything derived
    /// from access (e.g. authenticated tokens) compare it.
    pub fn access_version(&self) -> i64 {
        self.access_snapshot().version
    }

    /// A user's access, or unauthenticated when the user is unknown or deactivated.
    pub fn access_of(&self, user: UserId) -> Result<Arc<Access>, CoreError> {
        // The snapshot is read under the cache's lock, and the cache is cleared under the
        // same lock when a snapshot is installed: an access derived from a replaced snapshot
        // can never be stored after the clear.
        let mut derived = self
            .access
            .derived
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let snapshot = self.access_snapshot();
        if derived.version != snapshot.version {
            derived.version = snapshot.version;
            derived.by_user.clear();
        }
        if let Some(a) = derived.by_user.get(&user) {
            return Ok(a.clone());
        }
        let access = Arc::new(
            snapshot
                .access_for(user)
                .ok_or(CoreError::Unauthenticated)?,
        );
        derived.by_user.insert(user, access.clone());
        Ok(access)
    }

    fn install_snapshot(&self, snapshot: Snapshot) {
        // same lock order as `access_of`: the cache, then the snapshot
        let mut derived = self
            .access
            .derived
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut current = self
            .access
            .snapshot
            .write()
            .unwrap_or_else(|p| p.into_inner());
        // Two reloads may race; keep the newer.
        if snapshot.version >= current.version {
            derived.version = snapshot.version;
            derived.by_user.clear();
            *current = Arc::new(snapshot);
        }
    }

    /// Reloads the access tables (after a change here or by another process).
    pub async fn reload_access(&self) -> Result<(), CoreError> {
        let snapshot = self.store.read(|conn| Snapshot::load(conn)).await?;
        self.install_snapshot(snapshot);
        Ok(())
    }

    /// Reloads the access tables if another process changed them.
    pub async fn refresh_access_if_stale(&self) -> Result<(), CoreError> {
        let current = self.access_version();
        let stored = self
            .store
            .read(|conn| snapshot::stored_version(conn))
            .await?;
        if stored != current {
            self.reload_access().await?;
        }
        Ok(())
    }
}

/// Marks the access tables changed, inside the writing transaction.
pub(crate) fn bump_version(conn: &mut dyn Conn) -> Result<(), CoreError> {
    conn.execute(
        "UPDATE sys_meta_state SET version = version + 1 WHERE id = 3",
        &[],
    )?;
    Ok(())
}

/// What an access change reports for the audit log: the action's target and details.
pub(crate) struct Audited<T> {
    pub value: T,
    pub target: Option<(&'static str, Uuid)>,
    pub detail: serde_json::Value,
}

impl<T> Audited<T> {
    pub fn new(value: T, kind: &'static str, id: Uuid, detail: serde_json::Value) -> Self {
        Audited {
            value,
            target: Some((kind, id)),
            detail,
        }
    }
}

/// A change to the access tables as one transaction.
pub(crate) type Change<T> = Box<
    dyn FnOnce(&mut dyn Conn, &Snapshot, DateTime<Utc>) -> Result<Audited<T>, CoreError> + Send,
>;

impl Core {
    /// Runs a change to the access tables: checks `cap`, runs `change` in one write
    /// transaction against a snapshot read in that transaction (so checks such as role
    /// cycles see every committed change), appends the audit entry, bumps the access version
    /// and reloads this server's snapshot.
    pub(crate) async fn change_access<T: Send + 'static>(
        &self,
        actor: &crate::Actor,
        cap: Capability,
        action: &'static str,
        change: Change<T>,
    ) -> Result<T, CoreError> {
        actor.require_capability(cap)?;
        let who = crate::audit::Who::from(actor);
        let now = self.clock.now();
        let value = self
            .store
            .write(move |conn| {
                let snapshot = Snapshot::load(conn)?;
                let done = change(conn, &snapshot, now)?;
                crate::audit::append(conn, &who, now, action, done.target, done.detail)?;
                bump_version(conn)?;
                Ok::<_, CoreError>(done.value)
            })
            .await?;
        self.reload_access().await?;
        Ok(value)
    }
}
