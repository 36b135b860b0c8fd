//! `relata demo [--scale small|medium|large] [--seed N]`: loads a realistic bilingual demo
//! data set — accounts, contacts at those accounts, leads, opportunities on accounts, tasks and
//! notes — through the record service's bulk upsert, the one write path (validation, search
//! terms, field history and change feed included). Never raw SQL into object tables.
//!
//! Content is deterministic by seed; dates are relative to today (from the injected clock), so
//! pipelines look current whenever the demo is loaded.

mod catalog;
mod contracts;
mod generate;
mod org;
mod pipelines;
mod pools;
mod rules;

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::bail;
use serde_json::Value as Json;

use relata_core::records::bulk::BulkMode;
use relata_core::{Actor, Core, Source};

use super::{admin_actor, core_error, open_core};
use crate::cli::{DemoArgs, DemoScale};
use crate::config::Config;
use generate::{AccountInfo, Generator};

pub const DEFAULT_SEED: u64 = 42;

/// Records per bulk call.
const BATCH: usize = 1000;

/// How many records of each object a scale makes.
#[derive(Debug, Clone, Copy)]
struct Counts {
    accounts: usize,
    contacts: usize,
    leads: usize,
    opportunities: usize,
    tasks: usize,
    notes: usize,
}

fn counts(scale: DemoScale) -> Counts {
    let per = |accounts: usize| Counts {
        accounts,
        contacts: accounts * 3,
        leads: accounts * 3 / 2,
        opportunities: accounts * 3 / 2,
        tasks: accounts * 2,
        notes: accounts * 2,
    };
    match scale {
        DemoScale::Small => per(40),
        DemoScale::Medium => per(2_000),
        DemoScale::Large => per(100_000),
    }
}

pub fn run(config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
    let core = open_core(config)?;
    let rt = super::runtime()?;
    load(&core, &rt, args.scale, args.seed)?;
    core.store.close();
    Ok(())
}

/// Writes records in batches and reports progress on stderr.
pub(super) struct Loader<'a> {
    core: &'a Core,
    rt: &'a tokio::runtime::Runtime,
    actor: Actor,
    terminal: bool,
}

impl Loader<'_> {
    /// Creates `total` records of `object`, built by `make(i)`; returns their ids in order.
    fn create(
        &self,
        object: &str,
        total: usize,
        mut make: impl FnMut(usize) -> Json,
    ) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(total);
        let mut start = 0;
        while start < total {
            let end = (start + BATCH).min(total);
            let batch: Vec<Json> = (start..end).map(&mut make).collect();
            let result = self
                .rt
                .block_on(self.core.bulk_upsert(
                    &self.actor,
                    object,
                    "id",
                    BulkMode::AllOrNothing,
                    batch,
                ))
                .map_err(core_error)?;
            if let Some(bad) = result.results.iter().find(|r| !r.errors.is_empty()) {
                let errors: Vec<String> = bad
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                bail!(
                    "demo {object} #{} was rejected: {}",
                    start + bad.index,
                    errors.join("; ")
                );
            }
            ids.extend(result.results.into_iter().filter_map(|r| r.id));
            start = end;
            self.progress(object, start, total);
        }
        Ok(ids)
    }

    fn progress(&self, object: &str, done: usize, total: usize) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2Kdemo: {object} {done}/{total}");
            if done == total {
                let _ = writeln!(err);
            }
        } else if done == total {
            let _ = writeln!(err, "demo: {object} {done}/{total}");
        }
    }
}

/// Loads the demo data set at `scale` into the database of `core`.
pub fn load(
    core: &Arc<Core>,
    rt: &tokio::runtime::Runtime,
    scale: DemoScale,
    seed: u64,
) -> anyhow::Result<()> {
    let loader = Loader {
        core,
        rt,
        actor: admin_actor(core, Source::System)?,
        terminal: std::io::stderr().is_terminal(),
    };
    let n = counts(scale);
    tracing::info!(?scale, seed, "loading the demo data set");
    // Reps own the accounts in turn; what hangs off an account belongs to its owner.
    let owners = org::create(core, rt, &loader.actor)?;
    let owner_of = |i: usize| owners.get(i % owners.len().max(1)).cloned();
    let owned = |mut record: Json, owner: Option<String>| {
        if let (Some(o), Some(map)) = (owner, record.as_object_mut()) {
            map.insert("owner_id".into(), Json::String(o));
        }
        record
    };
    let mut g = Generator::new(seed, core.clock.now().date_naive());

    let companies: Vec<_> = (0..n.accounts)
        .map(|_| {
            let chinese = g.chinese();
            g.company(chinese)
        })
        .collect();
    let account_ids = loader.create("account", n.accounts, |i| {
        owned(g.account(&companies[i]), owner_of(i))
    })?;
    let mut accounts: Vec<AccountInfo> = companies
        .into_iter()
        .zip(account_ids)
        .map(|(c, id)| AccountInfo {
            id,
            chinese: c.chinese,
            short: c.short,
            domain: c.domain,
            city: c.city,
            contacts: Vec::new(),
        })
        .collect();

    // Contacts: every account gets a few, the rest are spread at random.
    let homes: Vec<usize> = (0..n.contacts)
        .map(|i| {
            if i < n.accounts {
                i
            } else {
                g.index(n.accounts)
            }
        })
        .collect();
    let contact_ids = loader.create("contact", n.contacts, |i| {
        owned(g.contact(&accounts[homes[i]]), owner_of(homes[i]))
    })?;
    for (home, id) in homes.into_iter().zip(contact_ids) {
        accounts[home].contacts.push(id);
    }

    let lead_ids = loader.create("lead", n.leads, |i| owned(g.lead(), owner_of(i)))?;

    pipelines::create(core, rt, &loader.actor)?;
    let deal_homes: Vec<usize> = (0..n.opportunities).map(|_| g.index(n.accounts)).collect();
    let deal_ids = loader.create("opportunity", n.opportunities, |i| {
        let mut deal = g.opportunity(&accounts[deal_homes[i]]);
        pipelines::place(i, &mut deal);
        owned(deal, owner_of(deal_homes[i]))
    })?;

    // Tasks and notes: half about a deal (at its account), half about an account alone.
    let about = |g: &mut Generator| -> (usize, Option<usize>) {
        if g.index(2) == 0 {
            let d = g.index(deal_ids.len());
            (deal_homes[d], Some(d))
        } else {
            (g.index(n.accounts), None)
        }
    };
    let task_about: Vec<_> = (0..n.tasks).map(|_| about(&mut g)).collect();
    loader.create("task", n.tasks, |i| {
        let (a, d) = task_about[i];
        owned(
            g.task(&accounts[a], d.map(|d| deal_ids[d].as_str())),
            owner_of(a),
        )
    })?;
    let note_about: Vec<_> = (0..n.notes).map(|_| about(&mut g)).collect();
    loader.create("note", n.notes, |i| {
        let (a, d) = note_about[i];
        owned(
            g.note(&accounts[a], d.map(|d| deal_ids[d].as_str())),
            owner_of(a),
        )
    })?;

    let lines = catalog::create(&loader, &deal_ids)?;
    rules::create(core, rt, &loader.actor)?;
    // after the rules: payments passing the VIP rule's mark make their accounts VIP
    let contracts = contracts::create(&loader)?;
    pools::create(core, rt, &loader.actor, &owners, &lead_ids)?;
    let total = n.accounts + n.contacts + n.leads + n.opportunities + n.tasks + n.notes;
    tracing::info!(
        records = total,
        deal_products = lines,
        contracts,
        "demo data set loaded, with three pipelines, a product catalogue, contracts with payment plans, five workflow rules and two pools"
    );
    Ok(())
}
