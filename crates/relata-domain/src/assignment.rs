//! Assignment rules as data, and how one picks an owner: the first entry whose condition a
//! record meets (a territory, a product line, a source) names the users who may get it;
//! among those available — active, not away, within the rule's working hours — round-robin
//! takes the next in turn and load-balanced the one holding the fewest open records. Nobody
//! available: the rule's fallback user, if it has one. Used for leads now, tickets later.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::error::{FieldError, FieldErrorCode};

/// How a rule chooses among the users of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each in turn.
    RoundRobin,
    /// The one holding the fewest open records of the object (ties: in the entry's order).
    LoadBalanced,
}

/// One entry: who gets the records meeting a condition (none: every record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Json>,
    pub users: Vec<Uuid>,
}

/// When the users of a rule take new records: weekdays (1 = Monday … 7 = Sunday) and a time
/// of day, in a time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    pub time_zone: String,
    pub days: Vec<u32>,
    /// "09:00"
    pub start: String,
    /// "18:00"
    pub end: String,
}

impl WorkingHours {
    /// Whether `t` falls within the hours (the end is not included).
    pub fn open_at(&self, t: DateTime<Utc>) -> bool {
        let (Ok(zone), Some(start), Some(end)) = (
            self.time_zone.parse::<chrono_tz::Tz>(),
            parse_time(&self.start),
            parse_time(&self.end),
        ) else {
            return false;
        };
        let local = t.with_timezone(&zone);
        let day = local.weekday().number_from_monday();
        let time = local.time();
        self.days.contains(&day) && time >= start && time < end
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        let bad = |f: &str, m: &str| FieldError::new(f, FieldErrorCode::InvalidOption, m);
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(bad(
                "working_hours.time_zone",
                "not a time zone (e.g. Asia/Shanghai)",
            ));
        }
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            errors.push(bad(
                "working_hours.days",
                "weekdays as numbers, 1 (Monday) to 7 (Sunday)",
            ));
        }
        match (parse_time(&self.start), parse_time(&self.end)) {
            (Some(s), Some(e)) if s < e => {}
            (Some(_), Some(_)) => errors.push(bad(
                "working_hours.end",
                "the end must come after the start",
            )),
            _ => errors.push(bad("working_hours", "start and end as HH:MM")),
        }
    }
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// A rule's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentDef {
    pub strategy: Strategy,
    pub entries: Vec<Entry>,
    /// For load balancing: which records count as open (the filter language); none: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_condition: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    /// Who gets a record when nobody in its entry is available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_user: Option<Uuid>,
}

impl AssignmentDef {
    pub fn parse(value: &Json) -> Result<AssignmentDef, FieldError> {
        serde_json::from_value(value.clone()).map_err(|e| {
            FieldError::new(
                "definition",
                FieldErrorCode::WrongType,
                format!("not an assignment rule: {e}"),
            )
        })
    }

    /// The checks that need no metadata.
    pub fn check_shape(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.entries.is_empty() {
            errors.push(FieldError::new(
                "entries",
                FieldErrorCode::Required,
                "a rule needs at least one entry of users",
            ));
        }
        for (i, e) in self.entries.iter().enumerate() {
            if e.users.is_empty() {
                errors.push(FieldError::new(
                    format!("entries[{i}].users"),
                    FieldErrorCode::Required,
                    "name at least one user",
                ));
            }
        }
        if let Some(h) = &self.working_hours {
            h.check(&mut errors);
        }
        errors
    }

    /// Every user the rule names.
    pub fn users(&self) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = self
            .entries
            .iter()
            .flat_map(|e| e.users.iter().copied())
            .chain(self.fallback_user)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The `counter`-th turn among `members`, skipping those not available: the first available
/// member from position `counter` on.
pub fn round_robin(
    members: &[Uuid],
    counter: u64,
    available: &dyn Fn(&Uuid) -> bool,
) -> Option<Uuid> {
    let n = members.len();
    (0..n)
        .map(|k| members[((counter as usize) + k) % n])
        .find(|u| available(u))
}

/// The available member holding the fewest open records (ties: the earlier member).
pub fn least_loaded(
    members: &[Uuid],
    open: &HashMap<Uuid, i64>,
    available: &dyn Fn(&Uuid) -> bool,
) -> Option<Uuid> {
    members
        .iter()
        .filter(|u| available(u))
        .min_by_key(|u| open.get(u).copied().unwrap_or(0))
        .copied()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn round_robin_takes_turns_and_skips_who_is_away() {
        let m = [u(1), u(2), u(3)];
        let all = |_: &Uuid| true;
        let picks: Vec<Uuid> = (0..4).map(|c| round_robin(&m, c, &all).unwrap()).collect();
        assert_eq!(picks, [u(1), u(2), u(3), u(1)]);
        let not_two = |x: &Uuid| *x != u(2);
        assert_eq!(round_robin(&m, 1, &not_two), Some(u(3)));
        assert_eq!(round_robin(&m, 0, &|_: &Uuid| false), None);
    }

    #[test]
    fn load_balancing_picks_the_least_loaded_available_member() {
        let m = [u(1), u(2), u(3)];
        let open = HashMap::from([(u(1), 5), (u(2), 2), (u(3), 2)]);
        assert_eq!(least_loaded(&m, &open, &|_: &Uuid| true), Some(u(2)));
        assert_eq!(least_loaded(&m, &open, &|x: &Uuid| *x != u(2)), Some(u(3)));
    }

    #[test]
    fn working_hours_are_read_in_their_zone() {
        let h = WorkingHours {
            time_zone: "Asia/Shanghai".into(),
            days: vec![1, 2, 3, 4, 5],
            start: "09:00".into(),
            end: "18:00".into(),
        };
        // Monday 7 December 2026, 01:00 UTC = 09:00 in Shanghai
        assert!(h.open_at(Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap()));
        assert!(!h.open_at(Utc.with_ymd_and_hms(2026, 12, 7, 0, 59, 0).unwrap()));
        assert!(!h.open_at(Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()));
        // Saturday
        assert!(!h.open_at(Utc.with_ymd_and_hms(2026, 12, 12, 3, 0, 0).unwrap()));
    }

    #[test]
    fn a_definition_is_checked_for_shape() {
        let d = AssignmentDef::parse(&json!({
            "strategy": "round_robin",
            "entries": [{"condition": "city eq 上海", "users": []}],
            "working_hours": {"time_zone": "Mars/Base", "days": [0], "start": "18:00", "end": "09:00"}
        }))
        .unwrap();
        let fields: Vec<String> = d.check_shape().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "entries[0].users",
                "working_hours.time_zone",
                "working_hours.days",
                "working_hours.end"
            ]
        );
        assert!(AssignmentDef::parse(&json!({"strategy": "random", "entries": []})).is_err());
    }
}
