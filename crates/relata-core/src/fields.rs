//! Field-level security: a field hidden from a user is absent from every record, search hit,
//! history entry and change event they receive; filtering or sorting on it is refused (so
//! counts cannot reveal its values); writing a field they may not edit is refused.
//!
//! System fields (id, version, owner, timestamps) are always visible: they identify the record
//! and carry its concurrency version.

use relata_domain::access::FieldAccess;
use relata_domain::meta::ObjectDef;
use relata_domain::{FieldError, FieldErrorCode, Record};
use serde_json::Value as Json;

use crate::context::Actor;

fn access(actor: &Actor, object: &ObjectDef, field: &str) -> FieldAccess {
    if actor.access.superuser {
        return FieldAccess::Edit;
    }
    match object.field(field) {
        Some(f) if f.system => FieldAccess::Read.max(actor.access.field(object.name(), field)),
        _ => actor.access.field(object.name(), field),
    }
}

/// Whether the actor may see `field` of `object`.
pub fn readable(actor: &Actor, object: &ObjectDef, field: &str) -> bool {
    access(actor, object, field) >= FieldAccess::Read
}

/// Whether the actor may change `field` of `object`.
pub fn editable(actor: &Actor, object: &ObjectDef, field: &str) -> bool {
    access(actor, object, field) >= FieldAccess::Edit
}

/// The fields of `object` hidden from the actor (none for most users).
pub fn hidden(actor: &Actor, object: &ObjectDef) -> Vec<String> {
    if actor.access.superuser {
        return Vec::new();
    }
    object
        .live_fields()
        .filter(|f| !readable(actor, object, f.name()))
        .map(|f| f.name().to_owned())
        .collect()
}

/// Removes the fields hidden from the actor.
pub fn redact(actor: &Actor, object: &ObjectDef, record: &mut Record) {
    if actor.access.superuser {
        return;
    }
    for name in hidden(actor, object) {
        record.values.remove(&name);
    }
}

/// One error per field of `input` the actor may not edit.
pub fn check_editable(actor: &Actor, object: &ObjectDef, input: &Json) -> Vec<FieldError> {
    if actor.access.superuser {
        return Vec::new();
    }
    let Json::Object(map) = input else {
        return Vec::new();
    };
    map.keys()
        .filter(|k| {
            object
                .field(k)
                .is_some_and(|f| !f.system || f.name() == "owner_id")
        })
        .filter(|k| access(actor, object, k) < FieldAccess::Edit)
        .map(|k| {
            FieldError::new(
                k,
                FieldErrorCode::ReadOnly,
                "you may not edit this field".to_owned(),
            )
        })
        .collect()
}
