//! The rules of who may do what, as pure data and functions: permission grants (object and
//! field level, admin capabilities), the role hierarchy, sharing principals and the password
//! policy. relata-core loads the rows and compiles these rules into SQL; the permission-oracle
//! test evaluates them naively and compares.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a permission set allows on one object. Sets are additive: a user's effective
/// permission is the union of their profile and every permission set they hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectPerm {
    pub create: bool,
    pub read: bool,
    pub edit: bool,
    pub delete: bool,
    /// Read every record of the object, whatever its sharing.
    pub view_all: bool,
    /// Read, edit and delete every record of the object.
    pub modify_all: bool,
    pub import: bool,
    pub export: bool,
}

impl ObjectPerm {
    pub const ALL: ObjectPerm = ObjectPerm {
        create: true,
        read: true,
        edit: true,
        delete: true,
        view_all: true,
        modify_all: true,
        import: true,
        export: true,
    };

    /// The usual grant of a sales user: work with records they can see.
    pub const STANDARD: ObjectPerm = ObjectPerm {
        create: true,
        read: true,
        edit: true,
        delete: true,
        view_all: false,
        modify_all: false,
        import: false,
        export: false,
    };

    pub const READ_ONLY: ObjectPerm = ObjectPerm {
        create: false,
        read: true,
        edit: false,
        delete: false,
        view_all: false,
        modify_all: false,
        import: false,
        export: false,
    };

    pub fn union(self, o: ObjectPerm) -> ObjectPerm {
        ObjectPerm {
            create: self.create || o.create,
            read: self.read
                || o.read
                || self.view_all
                || o.view_all
                || self.modify_all
                || o.modify_all,
            edit: self.edit || o.edit || self.modify_all || o.modify_all,
            delete: self.delete || o.delete || self.modify_all || o.modify_all,
            view_all: self.view_all || o.view_all || self.modify_all || o.modify_all,
            modify_all: self.modify_all || o.modify_all,
            import: self.import || o.import,
            export: self.export || o.export,
        }
    }

    /// The same grant with the implications made explicit (modify-all implies view-all, …).
    pub fn normalised(self) -> ObjectPerm {
        self.union(ObjectPerm::default())
    }

    /// The operation names that are granted, for messages and the API.
    pub fn allows(&self, op: Operation) -> bool {
        match op {
            Operation::Create => self.create,
            Operation::Read => self.read,
            Operation::Edit => self.edit,
            Operation::Delete => self.delete,
            Operation::Import => self.import,
            Operation::Export => self.export,
        }
    }
}

/// An operation on an object that a permission set may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Read,
    Edit,
    Delete,
    Import,
    Export,
}

impl Operation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Edit => "edit",
            Operation::Delete => "delete",
            Operation::Import => "import",
            Operation::Export => "export",
        }
    }
}

/// Field-level security: how much of one field a user sees. Ordered: a union takes the max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldAccess {
    Hidden,
    Read,
    Edit,
}

/// Administrative powers beyond records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    ManageUsers,
    ManageMetadata,
    ManageAutomation,
    ViewAudit,
}

impl Capability {
    pub fn as_str(&self) -> &'static str {
        match self {
            Capability::ManageUsers => "manage_users",
            Capability::ManageMetadata => "manage_metadata",
            Capability::ManageAutomation => "manage_automation",
            Capability::ViewAudit => "view_audit",
        }
    }
}

/// The grants of one profile or permission set.
///
/// Objects not listed get `default_objects`, so a custom object created later is usable by
/// profiles that say "all objects". Fields not listed follow the object: editable when the
/// object is editable, readable when it is readable; an entry can only narrow that.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grants {
    pub default_objects: ObjectPerm,
    pub objects: BTreeMap<String, ObjectPerm>,
    pub fields: BTreeMap<String, BTreeMap<String, FieldAccess>>,
    pub capabilities: BTreeSet<Capability>,
}

impl Grants {
    pub fn object(&self, object: &str) -> ObjectPerm {
        self.objects
            .get(object)
            .copied()
            .unwrap_or(self.default_objects)
            .normalised()
    }

    /// Access to one field under this set alone.
    pub fn field(&self, object: &str, field: &str) -> FieldAccess {
        let perm = self.object(object);
        let ceiling = if perm.edit {
            FieldAccess::Edit
        } else if perm.read {
            FieldAccess::Read
        } else {
            FieldAccess::Hidden
        };
        match self.fields.get(object).and_then(|f| f.get(field)) {
            Some(narrowed) => (*narrowed).min(ceiling),
            None => ceiling,
        }
    }
}

/// A user's effective grants: the union of their sets.
#[derive(Debug, Clone, Default)]
pub struct EffectiveGrants {
    sets: Vec<Grants>,
}

impl EffectiveGrants {
    pub fn new(sets: Vec<Grants>) -> Self {
        Self { sets }
    }

    pub fn object(&self, object: &str) -> ObjectPerm {
        self.sets
            .iter()
            .fold(ObjectPerm::default(), |acc, g| acc.union(g.object(object)))
    }

    pub fn field(&self, object: &str, field: &str) -> FieldAccess {
        self.sets
            .iter()
            .map(|g| g.field(object, field))
            .max()
            .unwrap_or(FieldAccess::Hidden)
    }

    pub fn has(&self, cap: Capability) -> bool {
        self.sets.iter().any(|g| g.capabilities.contains(&cap))
    }
}

/// Who a sharing rule or a manual share grants access to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    User(Uuid),
    /// Users holding exactly this role.
    Role(Uuid),
    /// Users holding this role or any role beneath it.
    RoleAndSubordinates(Uuid),
    Team(Uuid),
}

impl Principal {
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Role(_) => "role",
            Principal::RoleAndSubordinates(_) => "role_and_subordinates",
            Principal::Team(_) => "team",
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Principal::User(id)
            | Principal::Role(id)
            | Principal::RoleAndSubordinates(id)
            | Principal::Team(id) => *id,
        }
    }

    pub fn from_parts(kind: &str, id: Uuid) -> Option<Principal> {
        Some(match kind {
            "user" => Principal::User(id),
            "role" => Principal::Role(id),
            "role_and_subordinates" => Principal::RoleAndSubordinates(id),
            "team" => Principal::Team(id),
            _ => return None,
        })
    }
}

/// Read or read-write, for shares and sharing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    Read,
    Edit,
}

impl AccessLevel {
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessLevel::Read => "read",
            AccessLevel::Edit => "edit",
        }
    }

    pub fn parse(s: &str) -> Option<AccessLevel> {
        match s {
            "read" => Some(AccessLevel::Read),
            "edit" => Some(AccessLevel::Edit),
            _ => None,
        }
    }
}

/// The role hierarchy (e.g. 销售总监 → 区域经理 → 销售代表) as a parent map.
#[derive(Debug, Clone, Default)]
pub struct RoleTree {
    parent: HashMap<Uuid, Option<Uuid>>,
    children: HashMap<Uuid, Vec<Uuid>>,
}

impl RoleTree {
    pub fn new(roles: impl IntoIterator<Item = (Uuid, Option<Uuid>)>) -> Self {
        let mut tree = RoleTree::default();
        for (id, parent) in roles {
            tree.parent.insert(id, parent);
            if let Some(p) = parent {
                tree.children.entry(p).or_default().push(id);
            }
        }
        tree
    }

    pub fn contains(&self, role: Uuid) -> bool {
        self.parent.contains_key(&role)
    }

    /// The role and every role above it, nearest first. Stops at a cycle rather than looping
    /// (cycles are refused on write; this only guards against a damaged table).
    pub fn with_ancestors(&self, role: Uuid) -> Vec<Uuid> {
        let mut out = vec![role];
        let mut seen: HashSet<Uuid> = HashSet::from([role]);
        let mut at = role;
        while let Some(Some(p)) = self.parent.get(&at) {
            if !seen.insert(*p) {
                break;
            }
            out.push(*p);
            at = *p;
        }
        out
    }

    /// Every role strictly beneath `role`.
    pub fn descendants(&self, role: Uuid) -> Vec<Uuid> {
        let mut out = Vec::new();
        let mut seen: HashSet<Uuid> = HashSet::from([role]);
        let mut stack = vec![role];
        while let Some(r) = stack.pop() {
            for c in self.children.get(&r).into_iter().flatten() {
                if seen.insert(*c) {
                    out.push(*c);
                    stack.push(*c);
                }
            }
        }
        out
    }

    /// Whether giving `role` the parent `new_parent` would make a cycle.
    pub fn would_cycle(&self, role: Uuid, new_parent: Uuid) -> bool {
        role == new_parent || self.with_ancestors(new_parent).contains(&role)
    }
}

/// The password rules (documented in docs/security.md): long enough to resist guessing, not
/// the user's own name or email, not a well-known password. No composition rules: length does
/// more than required symbol classes (NIST SP 800-63B).
pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 256;

const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "123456789",
    "1234567890",
    "12345678910",
    "qwertyuiop",
    "1q2w3e4r5t",
    "iloveyou",
    "admin12345",
    "administrator",
    "welcome123",
    "letmein123",
    "changeme",
    "passw0rd",
    "abc1234567",
    "qwerty123",
    "a123456789",
    "woaini1314",
    "5201314520",
    "1qaz2wsx3edc",
    "zxcvbnm123",
    "11111111111",
    "0000000000",
];

/// Why a password is refused, or nothing.
pub fn password_problem(password: &str, email: &str, name: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Some(format!(
            "must be at least {PASSWORD_MIN_CHARS} characters long"
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Some(format!(
            "must be at most {PASSWORD_MAX_CHARS} characters long"
        ));
    }
    let lower = password.to_lowercase();
    let distinct: HashSet<char> = lower.chars().collect();
    if distinct.len() < 4 {
        return Some("must use more than three different characters".into());
    }
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Some("is a commonly used password".into());
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        return Some("must not contain the email address".into());
    }
    let name = name.to_lowercase().replace(' ', "");
    if name.chars().count() >= 3 && lower.replace(' ', "").contains(&name) {
        return Some("must not contain the user's name".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn role_tree_walks_up_and_down_and_detects_cycles() {
        // 1 director → 2 regional manager → 3 sales rep; 4 another manager under 1
        let t = RoleTree::new([
            (id(1), None),
            (id(2), Some(id(1))),
            (id(3), Some(id(2))),
            (id(4), Some(id(1))),
        ]);
        assert_eq!(t.with_ancestors(id(3)), vec![id(3), id(2), id(1)]);
        let mut d = t.descendants(id(1));
        d.sort();
        assert_eq!(d, vec![id(2), id(3), id(4)]);
        assert!(t.descendants(id(3)).is_empty());
        assert!(t.would_cycle(id(1), id(3)));
        assert!(t.would_cycle(id(2), id(2)));
        assert!(!t.would_cycle(id(4), id(3)));
    }

    #[test]
    fn grants_union_and_field_narrowing() {
        let mut a = Grants {
            default_objects: ObjectPerm::READ_ONLY,
            ..Default::default()
        };
        a.fields
            .entry("contact".into())
            .or_default()
            .insert("mobile".into(), FieldAccess::Hidden);
        let b = Grants {
            objects: BTreeMap::from([("contact".to_owned(), ObjectPerm::STANDARD)]),
            ..Default::default()
        };
        assert_eq!(a.field("contact", "mobile"), FieldAccess::Hidden);
        assert_eq!(a.field("contact", "email"), FieldAccess::Read);
        assert_eq!(b.field("account", "name"), FieldAccess::Hidden);
        let both = EffectiveGrants::new(vec![a.clone(), b]);
        assert_eq!(both.field("contact", "mobile"), FieldAccess::Edit);
        assert!(both.object("contact").delete);
        assert!(!both.object("account").edit);
        let only_a = EffectiveGrants::new(vec![a]);
        assert_eq!(only_a.field("contact", "mobile"), FieldAccess::Hidden);
        let admin = ObjectPerm {
            modify_all: true,
            ..Default::default()
        }
        .normalised();
        assert!(admin.read && admin.edit && admin.delete && admin.view_all);
    }

    #[test]
    fn password_rules() {
        let p = |pw| password_problem(pw, "wei.zhang@example.com", "Zhang Wei");
        assert!(p("short").unwrap().contains("at least"));
        assert!(p("aaaaaaaaaaaa").unwrap().contains("different"));
        assert!(p("Password123").unwrap().contains("common"));
        assert!(p("my-wei.zhang-pw").unwrap().contains("email"));
        assert!(p("zhangwei-2026!").unwrap().contains("name"));
        assert_eq!(p("correct horse battery"), None);
        assert_eq!(p("销售总监的长密码很安全吧"), None);
    }
}
