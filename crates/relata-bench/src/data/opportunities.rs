//! Opportunities (商机) on the accounts, a third of them on key accounts, most naming one of
//! the account's contacts: 22 % won and 18 % lost (with their reasons, closed over the last 18
//! months), the rest open along the standard pipeline (closing within nine months, one in ten
//! already past its date). Amounts spread on a log scale by the account's tier, in CNY, or
//! in USD for most foreign accounts.

use chrono::NaiveDate;
use relata_domain::opportunity::{LOSS_REASONS, WIN_REASONS};
use relata_sample::names::{CN_DEALS, CN_NEXT_STEPS, EN_DEALS, EN_NEXT_STEPS};
use serde_json::{Value as Json, json};

use super::{DataSet, Ids, Rng, Tier, accounts, days_after, pick_account, record, salt};

/// Stages of the standard pipeline and their shares: a funnel, then the closed deals.
pub const STAGES: &[(&str, u32)] = &[
    ("prospecting", 15),
    ("qualification", 13),
    ("needs_analysis", 13),
    ("proposal", 11),
    ("negotiation", 8),
    ("closed_won", 22),
    ("closed_lost", 18),
];

/// One generated opportunity, in the shape the API takes; links are data-set indices.
#[derive(Debug, Clone)]
pub struct Opportunity {
    pub external_id: String,
    pub chinese: bool,
    /// The account's brand (华远, Northwind), which names the deal and its tasks.
    pub brand: String,
    pub name: String,
    pub account: u64,
    pub contact: Option<u64>,
    pub owner: usize,
    pub stage: &'static str,
    pub win_reason: Option<&'static str>,
    pub loss_reason: Option<&'static str>,
    /// Amount and currency.
    pub amount: Option<(u64, &'static str)>,
    pub close_date: NaiveDate,
    pub kind: &'static str,
    pub source: &'static str,
    pub next_step: Option<&'static str>,
}

pub fn external_id(i: u64) -> String {
    format!("OPP-{i:09}")
}

/// Opportunity `i` of the data set `ds`.
pub fn opportunity(ds: &DataSet, i: u64) -> Opportunity {
    let mut rng = Rng::for_record(ds.seed ^ salt::OPPORTUNITY, i);
    let a = pick_account(&mut rng, ds.sizes.accounts, 35);
    let account = ds.account(a);
    let roster = ds.rosters.of(a);
    let contact =
        (!roster.is_empty() && rng.chance(70)).then(|| u64::from(roster[rng.below(roster.len())]));
    let owner = if rng.chance(90) {
        account.owner
    } else {
        rng.below(ds.owners.max(1))
    };
    let stage = rng.weighted(STAGES);
    let win_reason = (stage == "closed_won").then(|| rng.pick(WIN_REASONS).0);
    let loss_reason = (stage == "closed_lost").then(|| rng.pick(LOSS_REASONS).0);
    let closed = win_reason.is_some() || loss_reason.is_some();
    let close_in_days = if closed {
        -1 - rng.below(540) as i64
    } else if rng.chance(10) {
        -1 - rng.below(30) as i64
    } else {
        1 + rng.below(270) as i64
    };
    // CNY: small deals for most accounts, large ones for key accounts
    let (lo, hi) = match account.tier {
        Tier::Key => (5e5, 1e7),
        Tier::Major => (1e5, 2e6),
        Tier::Standard => (2e4, 5e5),
    };
    let cny = rng.log_between(lo, hi);
    let usd = rng.chance(if account.chinese { 5 } else { 75 });
    let early = matches!(stage, "prospecting" | "qualification");
    let amount = (!(early && rng.chance(15))).then(|| {
        if usd {
            ((cny / 7.0 / 100.0).round() as u64 * 100, "USD")
        } else {
            ((cny / 1_000.0).round() as u64 * 1_000, "CNY")
        }
    });
    let kind = rng.weighted(&[
        ("new_business", 60),
        ("existing_business", 25),
        ("renewal", 15),
    ]);
    let source = if rng.chance(50) {
        account.source
    } else {
        rng.weighted(accounts::SOURCES)
    };
    let (name, next_step) = if account.chinese {
        (
            format!("{}-{}", account.brand, rng.pick(CN_DEALS)),
            rng.pick(CN_NEXT_STEPS),
        )
    } else {
        (
            format!("{} – {}", account.brand, rng.pick(EN_DEALS)),
            rng.pick(EN_NEXT_STEPS),
        )
    };
    Opportunity {
        external_id: external_id(i),
        chinese: account.chinese,
        brand: account.brand,
        name,
        account: a,
        contact,
        owner,
        stage,
        win_reason,
        loss_reason,
        amount,
        close_date: days_after(ds.today, close_in_days),
        kind,
        source,
        next_step: (!closed && rng.chance(50)).then_some(next_step),
    }
}

impl Opportunity {
    /// The values by field API name, the links as the ids in `ids`.
    pub fn to_json(&self, ids: &Ids) -> Json {
        record(
            vec![
                ("external_id", json!(self.external_id)),
                ("name", json!(self.name)),
                ("stage", json!(self.stage)),
                (
                    "close_date",
                    json!(self.close_date.format("%Y-%m-%d").to_string()),
                ),
                ("type", json!(self.kind)),
                ("source", json!(self.source)),
            ],
            vec![
            (
                "account_id",
                Ids::get(ids.accounts, Some(self.account)).map(|id| json!(id)),
            ),
            (
                "contact_id",
                Ids::get(ids.contacts, self.contact).map(|id| json!(id)),
            ),
            (
                "owner_id",
                Ids::get(ids.users, Some(self.owner as u64)).map(|id| json!(id)),
            ),
            (
                "amount",
                self.amount.map(|(amount, currency)| {
                    json!({"amount": amount.to_string(), "currency": currency})
                }),
            ),
            ("win_reason", self.win_reason.map(|r| json!(r))),
            ("loss_reason", self.loss_reason.map(|r| json!(r))),
            ("next_step", self.next_step.map(|s| json!(s))),
            ],
        )
    }
}
