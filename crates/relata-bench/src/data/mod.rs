//! The benchmark data set: a bilingual CRM at one scale, deterministic by seed.
//!
//! At scale N it holds N accounts, N contacts (most of them at an account), N/4 leads, N/4
//! opportunities on the accounts and N/2 tasks on the contacts, accounts, opportunities and
//! leads ([`Sizes`]). Record `i` of an object depends only on `(seed, i)` (its links on the
//! sizes too), so any slice of the data set can be generated on its own, in any order, and
//! the raw-insert ceiling and the HTTP load see exactly the same contacts.
//!
//! The word lists are `relata_sample`'s, the same the demo data set uses. Picks are weighted
//! towards the front of each list, where the common names are (王, 李, 张 … are far more
//! frequent than 欧阳), so that searches for 张伟 or 王芳 find many records, as they would in a
//! real Chinese CRM.
//!
//! - [`contacts`]: the people, unchanged since the first data set (the contact figures stay
//!   comparable across runs); which account each works at is drawn apart ([`contact_account`]);
//! - [`accounts`]: companies, Chinese and English, with tiers, addresses, credit codes and a
//!   few subsidiaries;
//! - [`leads`], [`opportunities`], [`tasks`]: the sales work on them;
//! - [`credit_code`]: valid unified social credit codes.

pub mod accounts;
pub mod contacts;
pub mod credit_code;
pub mod leads;
pub mod opportunities;
pub mod tasks;

use chrono::NaiveDate;
use serde_json::{Map, Value as Json};

pub use accounts::{Account, account};
pub use contacts::{Contact, contact, list_cities, search_terms};
pub use leads::{Lead, lead};
pub use opportunities::{Opportunity, opportunity};
pub use tasks::{Task, task};

/// splitmix64: tiny, fast and stable across crate versions (a `rand` generator's stream may
/// change between releases; a benchmark's data set must not).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The generator of record `i` of the data set of `seed`.
    pub fn for_record(seed: u64, i: u64) -> Self {
        let mut r = Rng(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant at these list sizes.
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Skewed towards the front of a list: index `n·u²` for uniform `u`, so the first entries
    /// (the common surnames, the big cities) come up far more often than the last.
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u) * n as f64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// One of `items` by weight (the weights need not add up to 100).
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total.max(1) as usize) as u32;
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }

    /// Between `lo` and `hi`, spread evenly on a log scale and then towards `lo` (`u^1.5`):
    /// many small amounts, a long tail of large ones, as deal sizes and revenues are.
    pub fn log_between(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit().powf(1.5))
    }
}

/// The objects of the data set, each loaded by a custom unique `external_id` field.
pub const OBJECTS: [&str; 5] = ["account", "contact", "lead", "opportunity", "task"];

/// How many records of each object the data set of scale `n` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub accounts: u64,
    pub contacts: u64,
    pub leads: u64,
    pub opportunities: u64,
    pub tasks: u64,
}

impl Sizes {
    /// One account per contact, a lead and a deal per four, a task per two: what a CRM that
    /// has run for a few years holds (accounts and their people accumulate; leads are worked
    /// and closed; tasks are the recent follow-ups).
    pub fn at(n: u64) -> Sizes {
        Sizes {
            accounts: n,
            contacts: n,
            leads: n / 4,
            opportunities: n / 4,
            tasks: n / 2,
        }
    }
}

/// Separate generators per object and per question, so that adding one changed none of the
/// others' values.
pub(crate) mod salt {
    pub const OWNER: u64 = 0x0000_0A11_0CA7_E0FF;
    pub const ACCOUNT: u64 = 0x00AC_C0C0_0000_0001;
    pub const ACCOUNT_OWNER: u64 = 0x00AC_C0C0_0000_0002;
    pub const CONTACT_ACCOUNT: u64 = 0x00C0_47AC_0000_0003;
    pub const LEAD: u64 = 0x001E_AD00_0000_0004;
    pub const LEAD_OWNER: u64 = 0x001E_AD00_0000_0005;
    pub const OPPORTUNITY: u64 = 0x0000_0DEA_1000_0006;
    pub const TASK: u64 = 0x0000_7A5C_0000_0007;
}

/// The owner of record `i` among `owners` users: uniform and deterministic by `(seed, i)`.
/// Drawn from a generator of its own, so that owning records changed none of their values.
pub fn owner_index(seed: u64, i: u64, owners: usize) -> usize {
    Rng::for_record(seed ^ salt::OWNER, i).below(owners.max(1))
}

/// The owner of account `i` (uniform, apart from the contacts' owners).
pub fn account_owner_index(seed: u64, i: u64, owners: usize) -> usize {
    Rng::for_record(seed ^ salt::ACCOUNT_OWNER, i).below(owners.max(1))
}

/// The owner of lead `i` (uniform).
pub fn lead_owner_index(seed: u64, i: u64, owners: usize) -> usize {
    Rng::for_record(seed ^ salt::LEAD_OWNER, i).below(owners.max(1))
}

/// Every 100th account is a key account (大客户) and every 10th of the rest a major one: the
/// tier sets an account's level, size and revenue, and draws more contacts and deals to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Key,
    Major,
    Standard,
}

pub fn tier(i: u64) -> Tier {
    if i.is_multiple_of(100) {
        Tier::Key
    } else if i.is_multiple_of(10) {
        Tier::Major
    } else {
        Tier::Standard
    }
}

/// An account for a contact, a deal or a task to be at: with `key_percent` % chance one of
/// the key accounts, the first ones far more often (a few very large customers), otherwise
/// any account alike.
fn pick_account(rng: &mut Rng, accounts: u64, key_percent: u64) -> u64 {
    let keys = accounts.div_ceil(100).max(1);
    if rng.chance(key_percent) {
        rng.skewed(keys as usize) as u64 * 100
    } else {
        rng.below(accounts.max(1) as usize) as u64
    }
}

/// The account contact `i` works at, among `accounts` (`None`: 15 % of contacts, people
/// known in person rather than through a company). Of the others, 30 % are at a key account
/// and the rest at any account, so a few accounts have hundreds of contacts and most have
/// one or none. Drawn apart from the contact itself, which stays as it always was.
pub fn contact_account(seed: u64, i: u64, accounts: u64) -> Option<u64> {
    if accounts == 0 {
        return None;
    }
    let mut rng = Rng::for_record(seed ^ salt::CONTACT_ACCOUNT, i);
    if rng.chance(15) {
        return None;
    }
    Some(pick_account(&mut rng, accounts, 30))
}

/// The contacts of each account (from [`contact_account`]), for deals and tasks to name one.
pub struct Rosters {
    /// `starts[a]..starts[a + 1]` are the positions of account `a`'s contacts in `contacts`.
    starts: Vec<u32>,
    contacts: Vec<u32>,
}

impl Rosters {
    pub fn new(seed: u64, sizes: Sizes) -> Rosters {
        let of: Vec<Option<u64>> = (0..sizes.contacts)
            .map(|i| contact_account(seed, i, sizes.accounts))
            .collect();
        let mut starts = vec![0u32; sizes.accounts as usize + 1];
        for a in of.iter().flatten() {
            starts[*a as usize + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut next = starts.clone();
        let mut contacts = vec![0u32; starts.last().copied().unwrap_or(0) as usize];
        for (i, a) in of.iter().enumerate() {
            if let Some(a) = a {
                let slot = &mut next[*a as usize];
                contacts[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        Rosters { starts, contacts }
    }

    /// The contacts (indices) of account `a`.
    pub fn of(&self, a: u64) -> &[u32] {
        let a = a as usize;
        match (self.starts.get(a), self.starts.get(a + 1)) {
            (Some(from), Some(to)) => &self.contacts[*from as usize..*to as usize],
            _ => &[],
        }
    }

    /// Contacts at an account.
    pub fn linked(&self) -> u64 {
        self.contacts.len() as u64
    }

    /// How many accounts have no contact, one, 2–9, 10–99 and 100 or more, and the most
    /// any has.
    pub fn spread(&self) -> ([u64; 5], u64) {
        let mut buckets = [0u64; 5];
        let mut most = 0;
        for w in self.starts.windows(2) {
            let n = u64::from(w[1] - w[0]);
            most = most.max(n);
            let b = match n {
                0 => 0,
                1 => 1,
                2..=9 => 2,
                10..=99 => 3,
                _ => 4,
            };
            buckets[b] += 1;
        }
        (buckets, most)
    }
}

/// The data set of one run: its seed and sizes, the users who own its records, the day its
/// dates are counted from, and which contacts work at each account. Its records depend on
/// these alone: the same seed, scale and owners give the same records, with dates at the
/// same distance from the day.
pub struct DataSet {
    pub seed: u64,
    pub sizes: Sizes,
    /// Users owning the records (their ids come with [`Ids`]).
    pub owners: usize,
    /// Due and close dates are days before or after this one (the day of the run, so that
    /// "overdue" and "due this week" keep meaning what they meant).
    pub today: NaiveDate,
    pub rosters: Rosters,
}

impl DataSet {
    pub fn new(seed: u64, n: u64, owners: usize, today: NaiveDate) -> DataSet {
        let sizes = Sizes::at(n);
        DataSet {
            seed,
            sizes,
            owners,
            today,
            rosters: Rosters::new(seed, sizes),
        }
    }

    pub fn account(&self, i: u64) -> Account {
        let mut a = account(self.seed, i, self.sizes.accounts);
        a.owner = account_owner_index(self.seed, i, self.owners);
        a
    }

    /// The account contact `i` works at.
    pub fn contact_account(&self, i: u64) -> Option<u64> {
        contact_account(self.seed, i, self.sizes.accounts)
    }

    pub fn lead(&self, i: u64) -> Lead {
        let mut l = lead(self.seed, i, self.sizes.accounts);
        l.owner = lead_owner_index(self.seed, i, self.owners);
        l
    }

    pub fn opportunity(&self, i: u64) -> Opportunity {
        opportunity(self, i)
    }

    pub fn task(&self, i: u64) -> Task {
        task(self, i)
    }
}

/// The ids the server gave the records loaded so far, by data-set index, to turn the
/// generated links into lookups.
#[derive(Default)]
pub struct Ids<'a> {
    pub users: &'a [String],
    pub accounts: &'a [String],
    pub contacts: &'a [String],
    pub leads: &'a [String],
    pub opportunities: &'a [String],
}

impl Ids<'_> {
    /// The id of record `i` of `list`, when it was loaded.
    fn get(list: &[String], i: Option<u64>) -> Option<&str> {
        i.and_then(|i| list.get(i as usize))
            .map(String::as_str)
            .filter(|id| !id.is_empty())
    }
}

/// A record as the API takes it, from its `(field, value)` pairs and those of its optional
/// values that it has (absent ones are left out, as a real client would).
fn record(fields: Vec<(&'static str, Json)>, optional: Vec<(&'static str, Option<Json>)>) -> Json {
    let map: Map<String, Json> = fields
        .into_iter()
        .chain(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Json::Object(map)
}

/// `days` after `day` (before it when negative).
fn days_after(day: NaiveDate, days: i64) -> NaiveDate {
    day.checked_add_signed(chrono::Duration::days(days))
        .unwrap_or(day)
}

/// `n` random decimal digits.
fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}
