//! The decision chain of an account (决策链): its contacts as an organisation chart — who
//! reports to whom — with the part each plays in the buying decision. Built from the
//! contacts the caller may see: one they may not see is left out, and those reporting to it
//! start a branch of their own.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use uuid::Uuid;

use relata_domain::filter::{Filter, Op};
use relata_domain::{Record, Value};

use crate::records::ListRequest;
use crate::{Actor, Core, CoreError};

/// Most contacts one chart shows.
pub const MAX_PEOPLE: usize = 500;

#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
    pub title: Option<String>,
    pub department: Option<String>,
    /// A `decision_role` picklist value.
    pub role: Option<String>,
    /// The manager, when they are on this chart.
    pub reports_to: Option<Uuid>,
    pub depth: usize,
}

#[derive(Debug)]
pub struct DecisionChain {
    /// Depth first: each person before those reporting to them, by name.
    pub people: Vec<Person>,
    /// The account has more contacts than [`MAX_PEOPLE`].
    pub truncated: bool,
}

fn text(record: &Record, field: &str) -> Option<String> {
    match record.get(field) {
        Value::Text(t) if !t.is_empty() => Some(t.clone()),
        _ => None,
    }
}

fn reference(record: &Record, field: &str) -> Option<Uuid> {
    match record.get(field) {
        Value::Ref(u) => Some(*u),
        _ => None,
    }
}

impl Core {
    /// The organisation chart of an account's contacts the actor may see.
    pub async fn decision_chain(
        &self,
        actor: &Actor,
        account: Uuid,
    ) -> Result<DecisionChain, CoreError> {
        // the account itself must be visible
        self.get_record(actor, "account", account).await?;
        let mut records = Vec::new();
        let mut cursor = None;
        loop {
            let want = (MAX_PEOPLE + 1 - records.len()).min(self.settings.max_page_size);
            let (_, page) = self
                .list_records(
                    actor,
                    "contact",
                    ListRequest {
                        filter: Some(Filter::Cond {
                            field: "account_id".into(),
                            op: Op::Eq,
                            value: json!(account.to_string()),
                        }),
                        limit: Some(want),
                        cursor: cursor.take(),
                        ..ListRequest::default()
                    },
                )
                .await?;
            records.extend(page.records);
            match page.next_cursor {
                Some(c) if records.len() <= MAX_PEOPLE => cursor = Some(c),
                _ => break,
            }
        }
        let truncated = records.len() > MAX_PEOPLE;
        records.truncate(MAX_PEOPLE);
        let on_chart: HashSet<Uuid> = records.iter().filter_map(|r| r.id()).collect();
        let mut people: Vec<Person> = records
            .iter()
            .filter_map(|r| {
                Some(Person {
                    id: r.id()?,
                    name: text(r, "name").unwrap_or_default(),
                    title: text(r, "title"),
                    department: text(r, "department"),
                    role: text(r, "decision_role"),
                    reports_to: reference(r, "reports_to_id")
                        .filter(|m| on_chart.contains(m) && Some(*m) != r.id()),
                    depth: 0,
                })
            })
            .collect();
        people.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(DecisionChain {
            people: depth_first(people),
            truncated,
        })
    }
}

/// People in chart order: roots by name, each followed by their reports. Loops of managers
/// (A reports to B, B to A) are broken at the first person met.
fn depth_first(people: Vec<Person>) -> Vec<Person> {
    let mut reports: HashMap<Option<Uuid>, Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        reports.entry(p.reports_to).or_default().push(i);
    }
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(people.len());
    let mut placed = vec![false; people.len()];
    let visit = |start: usize, order: &mut Vec<(usize, usize)>, placed: &mut Vec<bool>| {
        let mut stack = vec![(start, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if placed[i] {
                continue;
            }
            placed[i] = true;
            order.push((i, depth));
            if let Some(kids) = reports.get(&Some(people[i].id)) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
    };
    let roots = reports.get(&None).cloned().unwrap_or_default();
    for r in roots {
        visit(r, &mut order, &mut placed);
    }
    // whoever is left sits in a loop of managers: start it at its first member by name
    for i in 0..people.len() {
        visit(i, &mut order, &mut placed);
    }
    let mut slots: Vec<Option<Person>> = people.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(i, depth)| {
            slots[i].take().map(|mut p| {
                p.depth = depth;
                if depth == 0 {
                    p.reports_to = None;
                }
                p
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(n: u128, name: &str, boss: Option<u128>) -> Person {
        Person {
            id: Uuid::from_u128(n),
            name: name.into(),
            title: None,
            department: None,
            role: None,
            reports_to: boss.map(Uuid::from_u128),
            depth: 0,
        }
    }

    #[test]
    fn reports_follow_their_manager_and_a_loop_is_broken_once() {
        let chart = depth_first(vec![
            person(1, "A 总经理", None),
            person(2, "B 技术总监", Some(1)),
            person(3, "C 工程师", Some(2)),
            person(4, "D 采购", Some(1)),
            person(5, "E", Some(6)),
            person(6, "F", Some(5)),
        ]);
        let shape: Vec<(&str, usize)> = chart.iter().map(|p| (p.name.as_str(), p.depth)).collect();
        assert_eq!(
            shape,
            vec![
                ("A 总经理", 0),
                ("B 技术总监", 1),
                ("C 工程师", 2),
                ("D 采购", 1),
                ("E", 0),
                ("F", 1)
            ]
        );
        assert_eq!(
            chart[4].reports_to, None,
            "a loop's start has no manager on the chart"
        );
    }
}
