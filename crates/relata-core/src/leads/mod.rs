//! Converting a lead (线索转化): the lead becomes an account, a contact and, if asked, an
//! opportunity — in one transaction, matched to the account and contact the customer already
//! has through those objects' duplicate rules instead of making duplicates of them.
//!
//! What the lead knew goes where the conversion map (`relata_domain::lead`) sends it; its
//! tasks and notes are linked to the contact and account too (they keep their link to the
//! lead); and the lead keeps links to what it became, frozen as `converted`.
//!
//! Permissions: the converting user must be able to edit the lead, create what is created,
//! and see what is matched; a match is only ever one of the records they may see. Fields
//! hidden from them on the lead are not copied (a copy would show them), and mapped fields
//! they may not edit on the target are left empty.

mod convert;
mod preview;

use serde::Deserialize;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use relata_domain::Record;

use crate::duplicates::PossibleDuplicate;

pub use relata_domain::lead::ConversionField;

/// What to do about the account or the contact a lead converts into.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Choice {
    /// The best match under the object's duplicate rule, else a new record; for the
    /// account, none when the lead names no company.
    #[default]
    Auto,
    /// This existing record.
    Existing { id: Uuid },
    /// A new record from the lead's mapped values, `values` on top.
    Create {
        #[serde(default)]
        values: Map<String, Json>,
    },
    /// No record (the account only: a person buying for themselves).
    None,
}

/// A conversion request. Everything is optional: `{}` converts into the matched or a new
/// account and contact, without an opportunity, all owned by the lead's owner.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    #[serde(default)]
    pub account: Choice,
    #[serde(default)]
    pub contact: Choice,
    /// A new opportunity with these values on top of the mapped ones (`name` defaults to
    /// the company or the lead's name); none when absent.
    #[serde(default)]
    pub opportunity: Option<Map<String, Json>>,
    /// Owner of the new records (default: the lead's owner).
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

/// What a conversion made or found.
#[derive(Debug, Clone)]
pub struct Converted {
    pub lead: Record,
    pub account: Option<Outcome>,
    pub contact: Outcome,
    pub opportunity: Option<Record>,
    /// Tasks, notes and other records of the lead now linked to the contact or account.
    pub relinked: usize,
}

/// A record the conversion used: created, or an existing one it matched or was given.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub record: Record,
    pub created: bool,
}

/// What converting a lead would do, for the conversion page and `GET …/conversion`: the
/// existing accounts and contacts that match it (best first; the first is what `auto`
/// takes), the values a new one would get, and other leads that may be the same person.
#[derive(Debug, Clone)]
pub struct Preview {
    pub lead: Record,
    pub account: Proposal,
    pub contact: Proposal,
    pub opportunity: Map<String, Json>,
    pub duplicate_leads: Vec<PossibleDuplicate>,
}

#[derive(Debug, Clone)]
pub struct Proposal {
    pub matches: Vec<PossibleDuplicate>,
    pub new_values: Map<String, Json>,
}
