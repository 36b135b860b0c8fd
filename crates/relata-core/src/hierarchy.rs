//! Record hierarchies: an account and its parent and subsidiaries (any object with a lookup to
//! itself), as a tree from the highest ancestor the caller may see, with figures rolled up
//! from each record's subtree — contacts, open pipeline and won business of a whole group of
//! companies. Built from the services' own reads, so visibility applies throughout: a record
//! the caller may not see is not in the tree, and its figures are not in any total.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use relata_domain::filter::{Filter, Op};
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{Record, Value};

use crate::records::ListRequest;
use crate::{Actor, Core, CoreError};

/// Deepest a hierarchy is followed, up or down.
pub const MAX_DEPTH: usize = 10;
/// Most records one tree shows (the rest is reported as truncated).
pub const MAX_NODES: usize = 200;

/// A figure rolled up over a hierarchy: records of another object pointing at its members.
#[derive(Debug, Clone, Copy)]
pub struct RollupDef {
    pub key: &'static str,
    pub object: &'static str,
    /// The lookup of `object` to the hierarchy's object.
    pub via: &'static str,
    /// A money or number field totalled as well as the records counted.
    pub sum: Option<&'static str>,
    /// Which records count, in the filter language's JSON form (`None`: all).
    pub only: Option<fn() -> serde_json::Value>,
}

fn open_stages() -> serde_json::Value {
    json!({"not": {"field": "stage", "op": "in", "value": ["closed_won", "closed_lost"]}})
}

fn won_stage() -> serde_json::Value {
    json!({"field": "stage", "op": "eq", "value": "closed_won"})
}

/// The figures of an account hierarchy.
const ACCOUNT_ROLLUPS: &[RollupDef] = &[
    RollupDef {
        key: "contacts",
        object: "contact",
        via: "account_id",
        sum: None,
        only: None,
    },
    RollupDef {
        key: "open_opportunities",
        object: "opportunity",
        via: "account_id",
        sum: Some("amount"),
        only: Some(open_stages),
    },
    RollupDef {
        key: "won_opportunities",
        object: "opportunity",
        via: "account_id",
        sum: Some("amount"),
        only: Some(won_stage),
    },
];

fn rollups_of(object: &str) -> &'static [RollupDef] {
    match object {
        "account" => ACCOUNT_ROLLUPS,
        _ => &[],
    }
}

/// One rolled-up figure: records counted, and totals per currency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figure {
    pub count: i64,
    pub sums: Vec<(String, Decimal)>,
}

impl Figure {
    fn add(&mut self, other: &Figure) {
        self.count += other.count;
        for (currency, amount) in &other.sums {
            match self.sums.iter_mut().find(|(c, _)| c == currency) {
                Some((_, total)) => *total += *amount,
                None => self.sums.push((currency.clone(), *amount)),
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: Uuid,
    pub name: String,
    pub parent: Option<Uuid>,
    pub depth: usize,
    /// Per rollup key: the record's own figure and its subtree's (itself included).
    pub own: Vec<Figure>,
    pub total: Vec<Figure>,
}

#[derive(Debug)]
pub struct Hierarchy {
    pub object: Arc<ObjectDef>,
    pub subject: Uuid,
    /// Depth first, each record before its children, children by name.
    pub nodes: Vec<Node>,
    /// More records belong to the tree than [`MAX_NODES`], or it is deeper than [`MAX_DEPTH`].
    pub truncated: bool,
    /// The rollup keys, in the order of each node's figures.
    pub rollups: Vec<&'static str>,
}

fn name_of(object: &ObjectDef, record: &Record) -> String {
    match record.get(object.name_field.as_str()) {
        Value::Text(t) => t.clone(),
        _ => String::new(),
    }
}

fn parent_of(record: &Record, via: &str) -> Option<Uuid> {
    match record.get(via) {
        Value::Ref(p) => Some(*p),
        _ => None,
    }
}

impl Core {
    /// The hierarchy around a record of an object with a lookup to itself.
    pub async fn hierarchy(
        &self,
        actor: &Actor,
        object: &str,
        id: Uuid,
    ) -> Result<Hierarchy, CoreError> {
        let def = self.object(object)?;
        let via = def
            .live_fields()
            .find(|f| {
                f.field_type == FieldType::Lookup
                    && f.target.as_ref().is_some_and(|t| t.as_str() == def.name())
                    && crate::fields::readable(actor, &def, f.name())
            })
            .map(|f| f.name().to_owned())
            .ok_or_else(|| {
                CoreError::not_found(format!(
                    "a hierarchy of {} (it has no parent field)",
                    def.name()
                ))
            })?;
        // up: the highest ancestor the caller may see
        let mut root = self.get_record(actor, def.name(), id).await?;
        let mut truncated = false;
        let mut seen = std::collections::HashSet::from([id]);
        for step in 0..=MAX_DEPTH {
            let Some(parent) = parent_of(&root, &via) else {
                break;
            };
            if !seen.insert(parent) {
                break; // a loop of parents: the last new one is the top
            }
            if step == MAX_DEPTH {
                truncated = true;
                break;
            }
            match self.get_record(actor, def.name(), parent).await {
                Ok(p) => root = p,
                Err(_) => break, // not visible, or gone
            }
        }
        // down, a level at a time
        let mut records: Vec<Record> = vec![root];
        let mut depth_of: HashMap<Uuid, usize> = HashMap::new();
        depth_of.extend(records[0].id().map(|r| (r, 0)));
        let mut frontier: Vec<Uuid> = records[0].id().into_iter().collect();
        for depth in 1..=MAX_DEPTH + 1 {
            if frontier.is_empty() {
                break;
            }
            let children = self
                .children_of(actor, &def, &via, &frontier, MAX_NODES + 1 - records.len())
                .await?;
            let fresh: Vec<Record> = children
                .into_iter()
                .filter(|c| c.id().is_some_and(|i| !depth_of.contains_key(&i)))
                .collect();
            if depth > MAX_DEPTH && !fresh.is_empty() {
                truncated = true;
                break;
            }
            frontier.clear();
            for child in fresh {
                if records.len() >= MAX_NODES {
                    truncated = true;
                    break;
                }
                if let Some(cid) = child.id() {
                    depth_of.insert(cid, depth);
                    frontier.push(cid);
                    records.push(child);
                }
            }
        }
        let ids: Vec<Uuid> = records.iter().filter_map(|r| r.id()).collect();
        // Only the figures the caller may see become columns: a hidden one left as zeros
        // would read as "no open deals" rather than "not yours to see".
        let mut rollups: Vec<&'static str> = Vec::new();
        let mut counted = Vec::new();
        for rollup in rollups_of(def.name()) {
            if let Some(figures) = self.rollup(actor, rollup, &ids).await? {
                rollups.push(rollup.key);
                counted.push(figures);
            }
        }
        let mut own: HashMap<Uuid, Vec<Figure>> = HashMap::new();
        for (k, figures) in counted.into_iter().enumerate() {
            for (key, figure) in figures {
                own.entry(key)
                    .or_insert_with(|| vec![Figure::default(); rollups.len()])[k] = figure;
            }
        }
        let mut nodes: Vec<Node> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let rid = r.id()?;
                let figures = own
                    .get(&rid)
                    .cloned()
                    .unwrap_or_else(|| vec![Figure::default(); rollups.len()]);
                Some(Node {
                    id: rid,
                    name: name_of(&def, r),
                    // the top has no parent in the tree, even when a loop of parents leads
                    // back into it
                    parent: parent_of(r, &via).filter(|p| i > 0 && depth_of.contains_key(p)),
                    depth: depth_of.get(&rid).copied().unwrap_or(0),
                    total: figures.clone(),
                    own: figures,
                })
            })
            .collect();
        // subtree totals: deepest first, each adds itself to its parent
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(nodes[i].depth));
        let index: HashMap<Uuid, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        for i in order {
            if let Some(p) = nodes[i].parent.and_then(|p| index.get(&p).copied()) {
                let child = nodes[i].total.clone();
                for (k, f) in child.iter().enumerate() {
                    nodes[p].total[k].add(f);
                }
            }
        }
        Ok(Hierarchy {
            object: def,
            subject: id,
            nodes: depth_first(nodes),
            truncated,
            rollups,
        })
    }

    /// Visible records whose `via` is one of `parents`, at most `limit` of them.
    async fn children_of(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        via: &str,
        parents: &[Uuid],
        limit: usize,
    ) -> Result<Vec<Record>, CoreError> {
        let mut out = Vec::new();
        for chunk in parents.chunks(500) {
            let mut cursor = None;
            loop {
                let want = (limit + 1)
                    .saturating_sub(out.len())
                    .clamp(1, self.settings.max_page_size);
                let (_, page) = self
                    .list_records(
                        actor,
                        object.name(),
                        ListRequest {
                            filter: Some(Filter::Cond {
                                field: via.to_owned(),
                                op: Op::In,
                                value: json!(
                                    chunk.iter().map(|p| p.to_string()).collect::<Vec<_>>()
                                ),
                            }),
                            limit: Some(want),
                            cursor: cursor.take(),
                            ..ListRequest::default()
                        },
                    )
                    .await?;
                out.extend(page.records);
                if out.len() > limit {
                    return Ok(out);
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    /// One rollup's own figure per member, or `None` when the caller may not read its
    /// object or the fields it filters and sums on.
    async fn rollup(
        &self,
        actor: &Actor,
        rollup: &RollupDef,
        ids: &[Uuid],
    ) -> Result<Option<Vec<(Uuid, Figure)>>, CoreError> {
        let mut filter = json!({"field": rollup.via, "op": "in", "value": ids.iter().map(|i| i.to_string()).collect::<Vec<_>>()});
        if let Some(only) = rollup.only {
            filter = json!({"and": [filter, only()]});
        }
        let filter = relata_domain::filter::json::parse(&filter).map_err(|e| {
            CoreError::Internal(format!("the {} rollup's filter: {e:?}", rollup.key))
        })?;
        match self
            .aggregate(actor, rollup.object, rollup.via, rollup.sum, Some(filter))
            .await
        {
            Ok((_, groups)) => Ok(Some(
                groups
                    .buckets
                    .into_iter()
                    .filter_map(|b| match b.key {
                        Value::Ref(id) => Some((
                            id,
                            Figure {
                                count: b.count,
                                sums: b.sums,
                            },
                        )),
                        _ => None,
                    })
                    .collect(),
            )),
            // no read access to the object, or a field of the filter or the sum is hidden
            Err(
                e @ (CoreError::Forbidden { .. }
                | CoreError::NotFound { .. }
                | CoreError::Validation(_)
                | CoreError::BadRequest { .. }),
            ) => {
                tracing::debug!(error = ?e, key = rollup.key, "a rollup is not the caller's to see");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Nodes in depth-first order, children by name.
fn depth_first(nodes: Vec<Node>) -> Vec<Node> {
    let mut children: HashMap<Option<Uuid>, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        children.entry(n.parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| nodes[*a].name.cmp(&nodes[*b].name));
    }
    let mut order = Vec::with_capacity(nodes.len());
    let mut stack: Vec<usize> = children.get(&None).cloned().unwrap_or_default();
    stack.reverse();
    while let Some(i) = stack.pop() {
        order.push(i);
        if let Some(kids) = children.get(&Some(nodes[i].id)) {
            stack.extend(kids.iter().rev());
        }
    }
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
