//! The pool form of the settings pages (`super::pools`): what an administrator typed, read
//! into the core service's `PoolInput`, and the problems of either put on the field and row
//! they belong to (the service names rows after dropping blank ones; the form shows them where
//! they were typed).

use uuid::Uuid;

use relata_core::pools::{Member, Pool, PoolInput};
use relata_domain::pool::{self, OwnedLimit, PoolRules, ReclaimRule};

use super::{error_for, form_errors, general_errors};
use crate::error::WebError;
use crate::form::FormData;
use crate::i18n::Tr;
use crate::session::Viewer;
use crate::state::WebState;

/// Blank rows offered below each list of rows, for adding more.
const BLANK_ROWS: usize = 2;
/// The most rows of one kind a form reads.
const MAX_ROWS: usize = 200;
const KINDS: [&str; 4] = ["user", "team", "role", "role_and_subordinates"];

#[derive(Default, Clone)]
pub struct MemberRow {
    pub kind: String,
    /// A user's email; a team's or role's id.
    pub who: String,
    pub can_assign: bool,
}

#[derive(Default, Clone)]
pub struct ReclaimRow {
    /// A value of the object's level field; "" for any level.
    pub level: String,
    pub no_follow_up_days: String,
    pub no_won_deal_days: String,
    pub warn_days_before: String,
}

#[derive(Default, Clone)]
pub struct LimitRow {
    pub level: String,
    pub max: String,
}

/// The pool form: what was typed and what was wrong with it.
pub struct PoolForm {
    pub name: String,
    pub object: String,
    pub is_default: bool,
    pub members: Vec<MemberRow>,
    pub reclaim: Vec<ReclaimRow>,
    pub limits: Vec<LimitRow>,
    pub max_claims_per_day: String,
    pub cooldown_days: String,
    /// A saved pool keeps its object.
    pub fixed_object: bool,
    pub errors: Vec<(String, String)>,
}

impl Default for PoolForm {
    fn default() -> Self {
        PoolForm {
            name: String::new(),
            object: "account".into(),
            is_default: false,
            members: Vec::new(),
            reclaim: Vec::new(),
            limits: Vec::new(),
            max_claims_per_day: String::new(),
            cooldown_days: String::new(),
            fixed_object: false,
            errors: Vec::new(),
        }
        .with_blank_rows()
    }
}

/// Levels offered for one object: (object label, [(value, label)]).
pub struct LevelGroup {
    pub label: String,
    pub values: Vec<(String, String)>,
}

fn opt(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

impl PoolForm {
    pub fn error(&self, field: &str) -> &str {
        error_for(&self.errors, field)
    }

    /// The problem with row `i` of `list` (`reclaim`, `max_owned`, `members`), at `part`.
    pub fn row_error(&self, list: &str, i: &usize, part: &str) -> &str {
        let prefix = if list == "members" { "" } else { "rules." };
        self.error(&format!("{prefix}{list}.{i}.{part}"))
    }

    pub fn general(&self) -> Vec<String> {
        general_errors(
            &self.errors,
            &[
                "name",
                "object",
                "is_default",
                "members",
                "rules.reclaim",
                "rules.max_owned",
                "rules.max_claims_per_day",
                "rules.reclaim_cooldown_days",
            ],
        )
    }

    pub fn kinds(&self, tr: &Tr) -> Vec<(&'static str, String)> {
        KINDS
            .iter()
            .map(|k| {
                let label = match *k {
                    "user" => tr.t("pools.kind_user"),
                    "team" => tr.t("pools.kind_team"),
                    "role" => tr.t("pools.kind_role"),
                    _ => tr.t("pools.kind_role_and_subordinates"),
                };
                (*k, label.to_owned())
            })
            .collect()
    }

    pub(super) fn with_blank_rows(mut self) -> PoolForm {
        let blank_members = self
            .members
            .iter()
            .rev()
            .take_while(|m| m.who.is_empty())
            .count();
        self.members.extend(std::iter::repeat_n(
            MemberRow {
                kind: "user".into(),
                ..MemberRow::default()
            },
            BLANK_ROWS.saturating_sub(blank_members),
        ));
        let blank_rules = self
            .reclaim
            .iter()
            .rev()
            .take_while(|r| reclaim_blank(r))
            .count();
        self.reclaim.extend(std::iter::repeat_n(
            ReclaimRow::default(),
            BLANK_ROWS.saturating_sub(blank_rules),
        ));
        let blank_limits = self
            .limits
            .iter()
            .rev()
            .take_while(|l| l.level.is_empty() && l.max.is_empty())
            .count();
        self.limits.extend(std::iter::repeat_n(
            LimitRow::default(),
            BLANK_ROWS.saturating_sub(blank_limits),
        ));
        self
    }

    pub(super) fn from_post(form: &FormData) -> PoolForm {
        let field = |n: &str| form.first(n).unwrap_or_default().trim().to_owned();
        let rows = |n: &str| field(n).parse::<usize>().unwrap_or(0).min(MAX_ROWS);
        PoolForm {
            name: field("name"),
            object: field("object"),
            is_default: form.last("is_default") == Some("true"),
            members: (0..rows("member_rows"))
                .map(|i| MemberRow {
                    kind: field(&format!("member{i}_kind")),
                    who: field(&format!("member{i}_who")),
                    can_assign: form.last(&format!("member{i}_can_assign")) == Some("true"),
                })
                .collect(),
            reclaim: (0..rows("reclaim_rows"))
                .map(|i| ReclaimRow {
                    level: field(&format!("reclaim{i}_level")),
                    no_follow_up_days: field(&format!("reclaim{i}_no_follow_up_days")),
                    no_won_deal_days: field(&format!("reclaim{i}_no_won_deal_days")),
                    warn_days_before: field(&format!("reclaim{i}_warn_days_before")),
                })
                .collect(),
            limits: (0..rows("limit_rows"))
                .map(|i| LimitRow {
                    level: field(&format!("limit{i}_level")),
                    max: field(&format!("limit{i}_max")),
                })
                .collect(),
            max_claims_per_day: field("max_claims_per_day"),
            cooldown_days: field("reclaim_cooldown_days"),
            fixed_object: false,
            errors: Vec::new(),
        }
    }

    /// The pool's form, users shown by email.
    pub(super) async fn of(state: &WebState, pool: &Pool) -> PoolForm {
        let users: Vec<Uuid> = pool
            .members
            .iter()
            .filter(|m| m.kind == "user")
            .map(|m| m.id)
            .collect();
        let names = state.core.user_names(users).await.unwrap_or_default();
        let rules = &pool.rules;
        PoolForm {
            name: pool.name.clone(),
            object: pool.object.clone(),
            is_default: pool.is_default,
            members: pool
                .members
                .iter()
                .map(|m| MemberRow {
                    kind: m.kind.clone(),
                    who: match (m.kind.as_str(), names.get(&m.id)) {
                        ("user", Some(u)) => u.email.clone(),
                        _ => m.id.to_string(),
                    },
                    can_assign: m.can_assign,
                })
                .collect(),
            reclaim: rules
                .reclaim
                .iter()
                .map(|r| ReclaimRow {
                    level: r.level.clone().unwrap_or_default(),
                    no_follow_up_days: opt(r.no_follow_up_days),
                    no_won_deal_days: opt(r.no_won_deal_days),
                    warn_days_before: opt(r.warn_days_before),
                })
                .collect(),
            limits: rules
                .max_owned
                .iter()
                .map(|l| LimitRow {
                    level: l.level.clone().unwrap_or_default(),
                    max: l.max.to_string(),
                })
                .collect(),
            max_claims_per_day: opt(rules.max_claims_per_day),
            cooldown_days: opt(rules.reclaim_cooldown_days),
            fixed_object: true,
            errors: Vec::new(),
        }
        .with_blank_rows()
    }
}

fn reclaim_blank(r: &ReclaimRow) -> bool {
    r.level.is_empty()
        && r.no_follow_up_days.is_empty()
        && r.no_won_deal_days.is_empty()
        && r.warn_days_before.is_empty()
}

/// Where the service's row `k` of each list came from on the form (blank rows are dropped).
#[derive(Default)]
struct Rows {
    members: Vec<usize>,
    reclaim: Vec<usize>,
    max_owned: Vec<usize>,
}

impl Rows {
    /// `members.1.kind` → `members.3.kind` when service row 1 was form row 3.
    fn place(&self, field: String) -> String {
        for (prefix, rows) in [
            ("members.", &self.members),
            ("rules.reclaim.", &self.reclaim),
            ("rules.max_owned.", &self.max_owned),
        ] {
            if let Some(rest) = field.strip_prefix(prefix)
                && let Some((k, tail)) = rest.split_once('.')
                && let Some(row) = k.parse::<usize>().ok().and_then(|k| rows.get(k))
            {
                return format!("{prefix}{row}.{tail}");
            }
        }
        field
    }
}

/// A number of days or records typed on the form: blank is none.
fn number(tr: Tr, errors: &mut Vec<(String, String)>, at: String, typed: &str) -> Option<u32> {
    if typed.is_empty() {
        return None;
    }
    match typed.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push((at, tr.t("pools.whole_number").to_owned()));
            None
        }
    }
}

/// The input for the core service, and the problems found reading the form (numbers that
/// are not, emails no active user has).
async fn input(
    state: &WebState,
    viewer: &Viewer,
    form: &PoolForm,
) -> (PoolInput, Rows, Vec<(String, String)>) {
    let tr = viewer.tr();
    let mut errors = Vec::new();
    let mut rows = Rows::default();
    let mut members = Vec::new();
    for (i, m) in form.members.iter().enumerate() {
        if m.who.is_empty() {
            continue;
        }
        let id = match Uuid::parse_str(&m.who) {
            Ok(id) => Some(id),
            Err(_) if m.kind == "user" => state
                .core
                .active_user_by_email(&viewer.actor, &m.who)
                .await
                .ok()
                .flatten()
                .map(|u| u.id),
            Err(_) => None,
        };
        let Some(id) = id else {
            let message = if m.kind == "user" {
                tr.tf("pools.unknown_user", &[("email", &m.who)])
            } else {
                tr.t("pools.need_id").to_owned()
            };
            errors.push((format!("members.{i}.id"), message));
            continue;
        };
        rows.members.push(i);
        members.push(Member {
            kind: m.kind.clone(),
            id,
            can_assign: m.can_assign,
        });
    }
    let mut reclaim = Vec::new();
    for (i, r) in form.reclaim.iter().enumerate() {
        if reclaim_blank(r) {
            continue;
        }
        let mut n = |part: &str, typed: &str| {
            number(tr, &mut errors, format!("rules.reclaim.{i}.{part}"), typed)
        };
        let rule = ReclaimRule {
            level: Some(r.level.clone()).filter(|l| !l.is_empty()),
            no_follow_up_days: n("no_follow_up_days", &r.no_follow_up_days),
            no_won_deal_days: n("no_won_deal_days", &r.no_won_deal_days),
            warn_days_before: n("warn_days_before", &r.warn_days_before),
        };
        rows.reclaim.push(i);
        reclaim.push(rule);
    }
    let mut max_owned = Vec::new();
    for (i, l) in form.limits.iter().enumerate() {
        if l.level.is_empty() && l.max.is_empty() {
            continue;
        }
        let at = format!("rules.max_owned.{i}.max");
        let max = if l.max.is_empty() {
            errors.push((at, tr.t("pools.max_required").to_owned()));
            None
        } else {
            number(tr, &mut errors, at, &l.max)
        };
        if let Some(max) = max {
            rows.max_owned.push(i);
            max_owned.push(OwnedLimit {
                level: Some(l.level.clone()).filter(|l| !l.is_empty()),
                max,
            });
        }
    }
    let rules = PoolRules {
        reclaim,
        max_owned,
        max_claims_per_day: number(
            tr,
            &mut errors,
            "rules.max_claims_per_day".into(),
            &form.max_claims_per_day,
        ),
        reclaim_cooldown_days: number(
            tr,
            &mut errors,
            "rules.reclaim_cooldown_days".into(),
            &form.cooldown_days,
        ),
    };
    let input = PoolInput {
        name: form.name.clone(),
        object: form.object.clone(),
        rules,
        is_default: form.is_default,
        members,
    };
    (input, rows, errors)
}

/// The pool saved, or the problems to show on the form. When the form itself had problems
/// the pool is not saved, but its rules are still checked so every problem shows at once.
pub(super) async fn save_form(
    state: &WebState,
    viewer: &Viewer,
    id: Option<Uuid>,
    typed: &PoolForm,
) -> Result<Result<Pool, Vec<(String, String)>>, WebError> {
    let (input, rows, mut errors) = input(state, viewer, typed).await;
    if !errors.is_empty() {
        if let Ok(object) = state.core.object(&input.object)
            && pool::OBJECTS.contains(&object.name())
        {
            for e in input.rules.problems(&object) {
                let field = rows.place(format!("rules.{}", e.field));
                if !errors.iter().any(|(f, _)| *f == field) {
                    let text = crate::pages::inputs::field_error_text(viewer.tr(), &e);
                    errors.push((field, text));
                }
            }
        }
        return Ok(Err(errors));
    }
    match state.core.save_pool(&viewer.actor, id, input).await {
        Ok(pool) => Ok(Ok(pool)),
        Err(e) => Ok(Err(form_errors(viewer, e)?
            .into_iter()
            .map(|(f, m)| (rows.place(f), m))
            .collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::Rows;

    #[test]
    fn the_services_row_errors_land_on_the_form_rows_they_came_from() {
        let rows = Rows {
            members: vec![1, 3],
            reclaim: vec![2],
            max_owned: vec![],
        };
        assert_eq!(rows.place("members.1.kind".into()), "members.3.kind");
        assert_eq!(
            rows.place("rules.reclaim.0.warn_days_before".into()),
            "rules.reclaim.2.warn_days_before"
        );
        assert_eq!(
            rows.place("rules.max_owned.0.max".into()),
            "rules.max_owned.0.max"
        );
        assert_eq!(rows.place("name".into()), "name");
    }
}
