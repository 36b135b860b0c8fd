//! The one filter language (DESIGN principle 4), used by list views, API queries, segments,
//! reports, sharing rules and automation conditions.
//!
//! A filter arrives untyped — as JSON ([`json`]) or as the compact query-string form
//! ([`compact`]) — and is checked against an object's metadata into a [`TypedFilter`], whose
//! operands are typed [`Value`]s. A typed filter is compiled to SQL by the store for both
//! backends, and evaluated in memory on one record by [`TypedFilter::matches`]; a property test
//! keeps the two in agreement.
//!
//! Semantics (the same in SQL and in memory): a comparison with a null field value is false,
//! except `ne`, which is true (null is not equal to anything); `not` is plain negation;
//! `contains` and `starts_with` ignore ASCII case; text orders by bytes.
//!
//! Beyond a record's own fields a filter may ask about what surrounds it: related records
//! (`has opportunity (amount gt 100000 and is_closed eq false)` — records of another object
//! whose lookup points at this one, of which the caller may see at least one), tags
//! (`tagged VIP`) and static lists (`in_list <id>`). These are answered by the database only;
//! the in-memory evaluator holds them false (see [`eval`]).

pub mod compact;
pub mod eval;
pub mod json;
mod relative;
mod typing;

use serde_json::Value as Json;

pub use typing::{FilterScope, MAX_IN_VALUES, allowed_ops, type_filter, type_filter_in};

use std::sync::Arc;

use crate::meta::{FieldDef, ObjectDef};
use crate::value::Value;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Contains,
    StartsWith,
    IsNull,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::In,
        Op::Contains,
        Op::StartsWith,
        Op::IsNull,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::IsNull => "is_null",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

/// An untyped filter as a client wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond {
        field: String,
        op: Op,
        value: Json,
    },
    /// Records of `object` whose lookup `via` (found when the object has just one lookup to
    /// this one) points at the record and that match `filter`: at least one (`exists`) or none.
    Related {
        object: String,
        via: Option<String>,
        exists: bool,
        filter: Box<Filter>,
    },
    /// The record carries its object's tag of this name.
    Tagged(String),
    /// The record is a member of the static list with this id.
    InList(String),
}

/// The operand of a typed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    One(Value),
    Many(Vec<Value>),
    /// `is_null`: true for "is null", false for "is not null".
    Null(bool),
    /// `contains` / `starts_with`: ASCII-lower-cased needle.
    Text(String),
}

/// A filter checked against an object's fields.
// Built once per request and walked a few times; the size of a condition does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum TypedFilter {
    And(Vec<TypedFilter>),
    Or(Vec<TypedFilter>),
    Not(Box<TypedFilter>),
    Cond {
        field: FieldDef,
        op: Op,
        operand: Operand,
    },
    /// See [`Filter::Related`]; `filter` is typed against `object`.
    Related {
        object: Arc<ObjectDef>,
        via: FieldDef,
        exists: bool,
        filter: Box<TypedFilter>,
    },
    /// Carries the tag `tag` of `object` (the filter's object).
    Tagged {
        object: String,
        tag: String,
    },
    InList(uuid::Uuid),
}

impl TypedFilter {
    /// The filter that matches everything.
    pub fn all() -> Self {
        TypedFilter::And(Vec::new())
    }

    /// The objects of the related-record conditions in the filter, nested ones included.
    pub fn related_objects(&self) -> Vec<Arc<ObjectDef>> {
        fn walk(f: &TypedFilter, out: &mut Vec<Arc<ObjectDef>>) {
            match f {
                TypedFilter::And(items) | TypedFilter::Or(items) => {
                    items.iter().for_each(|i| walk(i, out));
                }
                TypedFilter::Not(inner) => walk(inner, out),
                TypedFilter::Related { object, filter, .. } => {
                    if !out.iter().any(|o| o.name() == object.name()) {
                        out.push(object.clone());
                    }
                    walk(filter, out);
                }
                TypedFilter::Cond { .. } | TypedFilter::Tagged { .. } | TypedFilter::InList(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Combines two filters with `and`, flattening.
    pub fn and(self, other: TypedFilter) -> Self {
        match (self, other) {
            (TypedFilter::And(mut a), TypedFilter::And(b)) => {
                a.extend(b);
                TypedFilter::And(a)
            }
            (TypedFilter::And(mut a), b) => {
                a.push(b);
                TypedFilter::And(a)
            }
            (a, b) => TypedFilter::And(vec![a, b]),
        }
    }
}
