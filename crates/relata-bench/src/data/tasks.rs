//! Tasks (任务), the activities of the data set: 45 % on an opportunity (with its account and
//! contact), 35 % on a contact (with the contact's account), 15 % on an account alone and 5 %
//! on a lead, owned by whoever owns what they are about. Seven in ten were due in the last six
//! months, most of those done; the others are due within two months, mostly not started;
//! both crowd towards today.

use chrono::NaiveDate;
use relata_sample::names::{CN_CONCERNS, CN_TASKS, EN_CONCERNS, EN_TASKS};
use serde_json::{Value as Json, json};

use super::{
    DataSet, Ids, Rng, account_owner_index, contacts, days_after, lead_owner_index, owner_index,
    pick_account, record, salt,
};

/// One generated task, in the shape the API takes; links are data-set indices.
#[derive(Debug, Clone)]
pub struct Task {
    pub external_id: String,
    pub subject: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub due_date: NaiveDate,
    pub description: Option<String>,
    pub owner: usize,
    pub account: Option<u64>,
    pub contact: Option<u64>,
    pub opportunity: Option<u64>,
    pub lead: Option<u64>,
}

pub fn external_id(i: u64) -> String {
    format!("TASK-{i:09}")
}

/// What a task is about.
#[derive(Clone, Copy)]
enum About {
    Opportunity,
    Contact,
    Account,
    Lead,
}

/// Task `i` of the data set `ds`.
pub fn task(ds: &DataSet, i: u64) -> Task {
    let mut rng = Rng::for_record(ds.seed ^ salt::TASK, i);
    let sizes = ds.sizes;
    let about = rng.weighted(&[
        (About::Opportunity, 45),
        (About::Contact, 35),
        (About::Account, 15),
        (About::Lead, 5),
    ]);
    // an object the data set has none of gives its share to accounts
    let about = match about {
        About::Opportunity if sizes.opportunities == 0 => About::Account,
        About::Contact if sizes.contacts == 0 => About::Account,
        About::Lead if sizes.leads == 0 => About::Account,
        other => other,
    };
    let mut t = Task {
        external_id: external_id(i),
        subject: String::new(),
        status: "",
        priority: "",
        due_date: ds.today,
        description: None,
        owner: 0,
        account: None,
        contact: None,
        opportunity: None,
        lead: None,
    };
    // the brand the subject names (华远, Northwind), and the language of the task
    let (brand, chinese) = match about {
        About::Opportunity => {
            let o = rng.below(sizes.opportunities as usize) as u64;
            let deal = ds.opportunity(o);
            (t.opportunity, t.account, t.contact) = (Some(o), Some(deal.account), deal.contact);
            t.owner = deal.owner;
            (Some(deal.brand), deal.chinese)
        }
        About::Contact => {
            let c = rng.below(sizes.contacts as usize) as u64;
            (t.contact, t.account) = (Some(c), ds.contact_account(c));
            t.owner = owner_index(ds.seed, c, ds.owners);
            (None, contacts::chinese(ds.seed, c))
        }
        About::Account => {
            let a = pick_account(&mut rng, sizes.accounts, 30);
            t.account = Some(a);
            t.owner = account_owner_index(ds.seed, a, ds.owners);
            let account = ds.account(a);
            (Some(account.brand), account.chinese)
        }
        About::Lead => {
            let l = rng.below(sizes.leads as usize) as u64;
            t.lead = Some(l);
            t.owner = lead_owner_index(ds.seed, l, ds.owners);
            (None, ds.lead(l).chinese)
        }
    };
    let past = rng.chance(70);
    let days = if past {
        -1 - rng.skewed(180) as i64
    } else {
        rng.skewed(60) as i64
    };
    t.due_date = days_after(ds.today, days);
    t.status = if past {
        rng.weighted(&[
            ("completed", 75),
            ("not_started", 12),
            ("in_progress", 8),
            ("deferred", 5),
        ])
    } else {
        rng.weighted(&[("not_started", 65), ("in_progress", 30), ("deferred", 5)])
    };
    t.priority = rng.weighted(&[("high", 20), ("normal", 65), ("low", 15)]);
    let (what, concern) = if chinese {
        (rng.pick(CN_TASKS), rng.pick(CN_CONCERNS))
    } else {
        (rng.pick(EN_TASKS), rng.pick(EN_CONCERNS))
    };
    t.subject = match (brand, chinese) {
        (Some(b), true) => format!("{what}（{b}）"),
        (Some(b), false) => format!("{what} – {b}"),
        (None, _) => what.to_owned(),
    };
    t.description = rng.chance(20).then(|| {
        if chinese {
            format!("客户关注：{concern}")
        } else {
            format!("They asked about {concern}")
        }
    });
    t
}

impl Task {
    /// The values by field API name, the links as the ids in `ids`.
    pub fn to_json(&self, ids: &Ids) -> Json {
        record(
            vec![
                ("external_id", json!(self.external_id)),
                ("subject", json!(self.subject)),
                ("status", json!(self.status)),
                ("priority", json!(self.priority)),
                (
                    "due_date",
                    json!(self.due_date.format("%Y-%m-%d").to_string()),
                ),
            ],
            vec![
                ("description", self.description.as_ref().map(|d| json!(d))),
                (
                    "owner_id",
                    Ids::get(ids.users, Some(self.owner as u64)).map(|id| json!(id)),
                ),
                (
                    "account_id",
                    Ids::get(ids.accounts, self.account).map(|id| json!(id)),
                ),
                (
                    "contact_id",
                    Ids::get(ids.contacts, self.contact).map(|id| json!(id)),
                ),
                (
                    "opportunity_id",
                    Ids::get(ids.opportunities, self.opportunity).map(|id| json!(id)),
                ),
                (
                    "lead_id",
                    Ids::get(ids.leads, self.lead).map(|id| json!(id)),
                ),
            ],
        )
    }
}
