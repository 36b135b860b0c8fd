//! Pools (公海): shared pools of leads and accounts that nobody owns, from which reps claim,
//! and to which what a rep does not follow up returns (seed 004: marketing brings leads in →
//! the pool → reps → not followed up in time → back to the pool, where anyone may claim it).
//!
//! A pooled record has no owner and names its pool (`pool_id`); members of the pool may see
//! and claim it. An owned record remembers the pool it came from (its home pool), whose
//! rules govern it: after N days without a follow-up (or, for an account, M days without a
//! won deal) it returns there, its owner warned K days before. The clock of a rule starts
//! when the current owner got the record (`owned_since`), so a claim is never reclaimed the
//! next morning for what its previous owner failed to do.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrorCode as Code};
use crate::meta::ObjectDef;

/// The objects that have pools.
pub const OBJECTS: [&str; 2] = ["lead", "account"];

pub const POOL_ID: &str = "pool_id";
/// When the current owner got the record (claim, assignment, creation).
pub const OWNED_SINCE: &str = "owned_since";
/// The last follow-up: a task, call, meeting or note on the record.
pub const LAST_ACTIVITY_AT: &str = "last_activity_at";
/// An account's last won deal.
pub const LAST_WON_AT: &str = "last_won_at";
/// When the current owner was warned that the record is about to return.
pub const WARNED_AT: &str = "pool_warned_at";

/// The field whose value picks the rule and limit for a record: an account's customer
/// level, a lead's rating.
pub fn level_field(object: &str) -> &'static str {
    if object == "account" {
        "level"
    } else {
        "rating"
    }
}

/// When an owned record returns to its pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReclaimRule {
    /// Records of this level (`None`: every level no other rule names).
    #[serde(default)]
    pub level: Option<String>,
    /// Days without a follow-up after which the record returns.
    #[serde(default)]
    pub no_follow_up_days: Option<u32>,
    /// Days without a won deal after which an account returns.
    #[serde(default)]
    pub no_won_deal_days: Option<u32>,
    /// Days before returning that the owner is warned.
    #[serde(default)]
    pub warn_days_before: Option<u32>,
}

/// The most records of a level a rep may own from the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnedLimit {
    #[serde(default)]
    pub level: Option<String>,
    pub max: u32,
}

/// A pool's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolRules {
    #[serde(default)]
    pub reclaim: Vec<ReclaimRule>,
    #[serde(default)]
    pub max_owned: Vec<OwnedLimit>,
    #[serde(default)]
    pub max_claims_per_day: Option<u32>,
    /// Days before a rep may claim again what they returned or lost to the pool.
    #[serde(default)]
    pub reclaim_cooldown_days: Option<u32>,
}

/// Longest span a rule may name.
pub const MAX_DAYS: u32 = 3650;

impl PoolRules {
    /// The rule that governs records of `level`: the one naming it, else the one naming none.
    pub fn reclaim_rule(&self, level: Option<&str>) -> Option<&ReclaimRule> {
        self.reclaim
            .iter()
            .find(|r| r.level.is_some() && r.level.as_deref() == level)
            .or_else(|| self.reclaim.iter().find(|r| r.level.is_none()))
    }

    /// The levels some rule names (a level-less rule governs the others).
    pub fn named_levels(&self) -> Vec<String> {
        self.reclaim
            .iter()
            .filter_map(|r| r.level.clone())
            .collect()
    }

    /// The owned-record limit for records of `level`.
    pub fn owned_limit(&self, level: Option<&str>) -> Option<&OwnedLimit> {
        self.max_owned
            .iter()
            .find(|l| l.level.is_some() && l.level.as_deref() == level)
            .or_else(|| self.max_owned.iter().find(|l| l.level.is_none()))
    }

    /// Every problem of the rules for a pool of `object`, named by place (`reclaim.1.level`).
    pub fn problems(&self, object: &ObjectDef) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let level_name = level_field(object.name());
        let levels = object.field(level_name);
        let known = |level: &str| levels.is_some_and(|f| f.values.iter().any(|v| v.value == level));
        let days = |errors: &mut Vec<FieldError>, at: String, value: Option<u32>| {
            if let Some(d) = value
                && (d == 0 || d > MAX_DAYS)
            {
                errors.push(FieldError::new(
                    at,
                    Code::TooLarge,
                    format!("must be between 1 and {MAX_DAYS} days"),
                ));
            }
        };
        let mut seen = Vec::new();
        for (i, r) in self.reclaim.iter().enumerate() {
            let at = |part: &str| format!("reclaim.{i}.{part}");
            if let Some(level) = &r.level
                && !known(level)
            {
                errors.push(FieldError::new(
                    at("level"),
                    Code::UnknownPicklistValue,
                    format!("'{level}' is not a value of {level_name}"),
                ));
            }
            if seen.contains(&r.level) {
                errors.push(FieldError::new(
                    at("level"),
                    Code::Duplicate,
                    "another rule covers this level",
                ));
            }
            seen.push(r.level.clone());
            if r.no_follow_up_days.is_none() && r.no_won_deal_days.is_none() {
                errors.push(FieldError::new(
                    at("no_follow_up_days"),
                    Code::Required,
                    "a rule needs no_follow_up_days or no_won_deal_days",
                ));
            }
            if r.no_won_deal_days.is_some() && object.name() != "account" {
                errors.push(FieldError::new(
                    at("no_won_deal_days"),
                    Code::InvalidOption,
                    "only accounts have won deals",
                ));
            }
            days(&mut errors, at("no_follow_up_days"), r.no_follow_up_days);
            days(&mut errors, at("no_won_deal_days"), r.no_won_deal_days);
            days(&mut errors, at("warn_days_before"), r.warn_days_before);
            let shortest = [r.no_follow_up_days, r.no_won_deal_days]
                .into_iter()
                .flatten()
                .min();
            if let (Some(warn), Some(shortest)) = (r.warn_days_before, shortest)
                && warn >= shortest
            {
                errors.push(FieldError::new(
                    at("warn_days_before"),
                    Code::TooLarge,
                    format!("must be fewer than the rule's {shortest} days"),
                ));
            }
        }
        let mut seen = Vec::new();
        for (i, l) in self.max_owned.iter().enumerate() {
            if let Some(level) = &l.level
                && !known(level)
            {
                errors.push(FieldError::new(
                    format!("max_owned.{i}.level"),
                    Code::UnknownPicklistValue,
                    format!("'{level}' is not a value of {level_name}"),
                ));
            }
            if seen.contains(&l.level) {
                errors.push(FieldError::new(
                    format!("max_owned.{i}.level"),
                    Code::Duplicate,
                    "another limit covers this level",
                ));
            }
            seen.push(l.level.clone());
            if l.max == 0 {
                errors.push(FieldError::new(
                    format!("max_owned.{i}.max"),
                    Code::TooSmall,
                    "must be at least 1",
                ));
            }
        }
        if self.max_claims_per_day == Some(0) {
            errors.push(FieldError::new(
                "max_claims_per_day",
                Code::TooSmall,
                "must be at least 1",
            ));
        }
        days(
            &mut errors,
            "reclaim_cooldown_days".into(),
            self.reclaim_cooldown_days,
        );
        errors
    }
}

/// What happened to a record in a pool's history.
pub mod action {
    /// Entered the pool from nowhere (created into it, or put there by a manager).
    pub const ADDED: &str = "added";
    pub const CLAIMED: &str = "claimed";
    /// Given back by its owner, with a reason.
    pub const RETURNED: &str = "returned";
    /// Given to a rep by a manager.
    pub const ASSIGNED: &str = "assigned";
    /// Taken back by the pool's rules.
    pub const RECLAIMED: &str = "reclaimed";
    /// Its owner was warned that it is about to return.
    pub const WARNED: &str = "warned";
}

#[cfg(test)]
mod tests;
