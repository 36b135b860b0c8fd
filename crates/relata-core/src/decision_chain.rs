//! The decision chain (决策链) of an account or an opportunity: the people involved as an
//! organisation chart — who reports to whom — with the part each plays in the buying
//! decision.
//!
//! An account's people are its contacts (`contact.account_id`) and the contacts linked to it
//! through `account_contact` (someone at a subsidiary, a consultant), whose title and role
//! there win over the contact's own. An opportunity's people are its contact roles
//! (`opportunity_contact`) and its primary contact. Built from what the caller may see: a
//! contact or link they may not see is left out, and those reporting to it start a branch of
//! their own.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;
use uuid::Uuid;

use relata_domain::filter::{Filter, Op};
use relata_domain::{Record, Value};

use crate::records::ListRequest;
use crate::{Actor, Core, CoreError};

/// Most people one chart shows.
pub const MAX_PEOPLE: usize = 500;

#[derive(Debug, Clone)]
pub struct Person {
    /// The contact.
    pub id: Uuid,
    pub name: String,
    pub title: Option<String>,
    pub department: Option<String>,
    /// A `decision_role` picklist value.
    pub role: Option<String>,
    /// The manager, when they are on this chart.
    pub reports_to: Option<Uuid>,
    pub depth: usize,
    /// The `account_contact` or `opportunity_contact` record that puts them here, if any.
    pub link: Option<Uuid>,
}

#[derive(Debug)]
pub struct DecisionChain {
    /// Depth first: each person before those reporting to them, by name.
    pub people: Vec<Person>,
    /// More people than [`MAX_PEOPLE`] are involved.
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

fn equals(field: &str, id: Uuid) -> Filter {
    Filter::Cond {
        field: field.into(),
        op: Op::Eq,
        value: json!(id.to_string()),
    }
}

/// What a link says about a person on one chart.
struct Placement {
    title: Option<String>,
    role: Option<String>,
    link: Option<Uuid>,
}

impl Core {
    /// Up to `MAX_PEOPLE + 1` visible records of `object` matching `filter`, oldest first.
    async fn chart_records(
        &self,
        actor: &Actor,
        object: &str,
        filter: Filter,
    ) -> Result<Vec<Record>, CoreError> {
        let mut records = Vec::new();
        let mut cursor = None;
        loop {
            let want = (MAX_PEOPLE + 1 - records.len()).min(self.settings.max_page_size);
            let (_, page) = self
                .list_records(
                    actor,
                    object,
                    ListRequest {
                        filter: Some(filter.clone()),
                        sort: Some("created_at".into()),
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
        Ok(records)
    }

    /// The links of `object` (`account_contact`, `opportunity_contact`) from `via` = `id`,
    /// by contact; none when the caller may not read them.
    async fn placements(
        &self,
        actor: &Actor,
        object: &str,
        via: &str,
        id: Uuid,
    ) -> Result<BTreeMap<Uuid, Placement>, CoreError> {
        if !actor.may(object, relata_domain::access::Operation::Read) {
            return Ok(BTreeMap::new());
        }
        let mut out = BTreeMap::new();
        for link in self.chart_records(actor, object, equals(via, id)).await? {
            let Some(contact) = reference(&link, "contact_id") else {
                continue;
            };
            // the first link of a contact counts (a contact linked twice shows once)
            out.entry(contact).or_insert(Placement {
                title: text(&link, "title"),
                role: text(&link, "decision_role"),
                link: link.id(),
            });
        }
        Ok(out)
    }

    /// The organisation chart of the people of a visible account or opportunity.
    pub async fn decision_chain(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<DecisionChain, CoreError> {
        let subject = self.get_record(actor, object, id).await?;
        let (mut contacts, placements) = match object {
            "account" => (
                self.chart_records(actor, "contact", equals("account_id", id))
                    .await?,
                self.placements(actor, "account_contact", "account_id", id)
                    .await?,
            ),
            "opportunity" => {
                let placements = self
                    .placements(actor, "opportunity_contact", "opportunity_id", id)
                    .await?;
                // the opportunity's primary contact belongs on its chart too
                let primary = reference(&subject, "contact_id").map(|c| equals("id", c));
                let contacts = match primary {
                    Some(f) => self.chart_records(actor, "contact", f).await?,
                    None => Vec::new(),
                };
                (contacts, placements)
            }
            _ => return Err(CoreError::not_found(format!("{object} {id}"))),
        };
        let known: HashSet<Uuid> = contacts.iter().filter_map(|r| r.id()).collect();
        let linked: Vec<String> = placements
            .keys()
            .filter(|c| !known.contains(c))
            .map(Uuid::to_string)
            .collect();
        for ids in linked.chunks(relata_domain::filter::MAX_IN_VALUES) {
            let filter = Filter::Cond {
                field: "id".into(),
                op: Op::In,
                value: json!(ids),
            };
            contacts.extend(self.chart_records(actor, "contact", filter).await?);
        }
        let truncated = contacts.len() > MAX_PEOPLE;
        contacts.truncate(MAX_PEOPLE);
        let on_chart: HashSet<Uuid> = contacts.iter().filter_map(|r| r.id()).collect();
        let mut people: Vec<Person> = contacts
            .iter()
            .filter_map(|r| {
                let id = r.id()?;
                let placed = placements.get(&id);
                Some(Person {
                    id,
                    name: text(r, "name").unwrap_or_default(),
                    title: placed
                        .and_then(|p| p.title.clone())
                        .or_else(|| text(r, "title")),
                    department: text(r, "department"),
                    role: placed
                        .and_then(|p| p.role.clone())
                        .or_else(|| text(r, "decision_role")),
                    reports_to: reference(r, "reports_to_id")
                        .filter(|m| on_chart.contains(m) && *m != id),
                    depth: 0,
                    link: placed.and_then(|p| p.link),
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
            link: None,
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
