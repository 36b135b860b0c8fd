//! Builds demo records as the API's JSON input, from a seeded random generator: the same seed
//! gives the same companies, people and deals. About six in ten records are Chinese, the rest
//! international, as in a Chinese company selling at home and abroad.

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value as Json, json};

use relata_domain::standard::SOURCES;
use relata_sample::names::*;

/// What later records need to know about an account.
pub struct AccountInfo {
    pub id: String,
    pub chinese: bool,
    /// The name without legal suffix (华远科技, Northwind), for deal names.
    pub short: String,
    pub domain: String,
    pub city: &'static City,
    /// Ids of the contacts at this account.
    pub contacts: Vec<String>,
}

/// A company before it is written.
pub struct Company {
    pub name: String,
    pub short: String,
    pub domain: String,
    pub industry: &'static str,
    pub chinese: bool,
    pub city: &'static City,
}

/// A person's names and the local part of their e-mail address.
pub struct Person {
    pub name: String,
    pub first: String,
    pub last: String,
    pub mail: String,
}

pub struct Generator {
    rng: StdRng,
    today: NaiveDate,
}

/// Opportunity stages of the standard picklist with their usual probability.
const STAGES: &[(&str, u32)] = &[
    ("prospecting", 10),
    ("qualification", 20),
    ("needs_analysis", 40),
    ("proposal", 60),
    ("negotiation", 80),
    ("closed_won", 100),
    ("closed_lost", 0),
];

impl Generator {
    pub fn new(seed: u64, today: NaiveDate) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            today,
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }

    fn date_within(&mut self, from_days: i64, to_days: i64) -> NaiveDate {
        self.today + Duration::days(self.rng.random_range(from_days..=to_days))
    }

    pub fn chinese(&mut self) -> bool {
        self.chance(0.6)
    }

    pub fn company(&mut self, chinese: bool) -> Company {
        if chinese {
            let city = &CN_CITIES[self.rng.random_range(0..CN_CITIES.len())];
            let (brand, brand_py) = self.pick(CN_BRANDS);
            let (trade, trade_py, industry) = self.pick(CN_TRADES);
            let suffix = self.pick(CN_SUFFIXES);
            Company {
                name: format!("{}{brand}{trade}{suffix}", city.name),
                short: format!("{brand}{trade}"),
                domain: format!("{brand_py}{trade_py}.com.cn"),
                industry,
                chinese,
                city,
            }
        } else {
            let city = &INTL_CITIES[self.rng.random_range(0..INTL_CITIES.len())];
            let brand = self.pick(EN_BRANDS);
            let (trade, industry) = self.pick(EN_TRADES);
            let suffix = self.pick(EN_SUFFIXES);
            let slug: String = format!("{brand}{trade}")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            Company {
                name: format!("{brand} {trade} {suffix}"),
                short: brand.to_owned(),
                domain: format!("{slug}.com"),
                industry,
                chinese,
                city,
            }
        }
    }

    pub fn person(&mut self, chinese: bool) -> Person {
        if chinese {
            let (last, last_py) = self.pick(CN_SURNAMES);
            let (first, first_py) = self.pick(CN_GIVEN);
            Person {
                name: format!("{last}{first}"),
                first: first.to_owned(),
                last: last.to_owned(),
                mail: format!("{last_py}.{first_py}"),
            }
        } else {
            let first = self.pick(EN_FIRST);
            let last = self.pick(EN_LAST);
            Person {
                name: format!("{first} {last}"),
                first: first.to_owned(),
                last: last.to_owned(),
                mail: format!("{}.{}", first.to_lowercase(), last.to_lowercase()),
            }
        }
    }

    /// 138 0013 8000 in China, +44 7700 900123 style abroad.
    pub fn mobile(&mut self, chinese: bool) -> String {
        if chinese {
            let prefix = self.pick(CN_MOBILE_PREFIXES);
            format!("{prefix} {} {}", self.digits(4), self.digits(4))
        } else {
            format!(
                "+{} {} {}",
                self.pick(&["44", "1", "65", "61", "49"]),
                self.digits(4),
                self.digits(6)
            )
        }
    }

    /// A landline of the city: 021-6234 5678, or +44 20 7946 0958.
    pub fn landline(&mut self, city: &City) -> String {
        if city.phone_prefix.starts_with('+') {
            format!(
                "{} {} {}",
                city.phone_prefix,
                self.digits(4),
                self.digits(4)
            )
        } else {
            format!(
                "{}-{} {}",
                city.phone_prefix,
                self.digits(4),
                self.digits(4)
            )
        }
    }

    fn address(&mut self, company: &Company) -> String {
        if company.chinese {
            let street = self.pick(CN_STREETS);
            let n = self.rng.random_range(1..=999);
            format!("{}{street}{n}号", company.city.name)
        } else {
            let street = self.pick(EN_STREETS);
            let n = self.rng.random_range(1..=400);
            format!("{n} {street}, {}", company.city.name)
        }
    }

    pub fn account(&mut self, c: &Company) -> Json {
        let (currency, scale) = if c.chinese {
            ("CNY", 7.0)
        } else {
            ("USD", 1.0)
        };
        // Log-uniform revenue: many small companies, a few large ones.
        let revenue = 10f64.powf(self.rng.random_range(5.5..9.0)) * scale / 7.0;
        let revenue = (revenue / 10_000.0).round() * 10_000.0;
        let employees = 10f64.powf(self.rng.random_range(1.0..4.7)).round() as i64;
        let level = match self.rng.random_range(0..10) {
            0 | 1 => "a",
            2..=5 => "b",
            _ => "c",
        };
        let phone = self.landline(c.city);
        let address = self.address(c);
        let description = match (self.chance(0.3), c.chinese) {
            (false, _) => Json::Null,
            (true, true) => json!("重点客户，年度采购稳定增长，关注数据安全与本地化服务。"),
            (true, false) => json!("Key account with steady yearly growth; values data security."),
        };
        json!({
            "name": c.name,
            "industry": c.industry,
            "level": level,
            "source": self.pick(SOURCES).0,
            "phone": phone,
            "website": format!("https://www.{}", c.domain),
            "email": format!("info@{}", c.domain),
            "annual_revenue": {"amount": format!("{revenue:.2}"), "currency": currency},
            "employees": employees,
            "region": c.city.region,
            "city": c.city.name,
            "address": address,
            "description": description,
        })
    }

    fn title(&mut self, chinese: bool) -> (&'static str, &'static str) {
        if chinese {
            self.pick(CN_TITLES)
        } else {
            self.pick(EN_TITLES)
        }
    }

    pub fn contact(&mut self, account: &AccountInfo) -> Json {
        let p = self.person(account.chinese);
        let (title, department) = self.title(account.chinese);
        let n = self.rng.random_range(1..100);
        let birthday = if self.chance(0.4) {
            let year = self.rng.random_range(1962..=2000);
            NaiveDate::from_yo_opt(year, self.rng.random_range(1..=365))
                .map(|d| json!(d.format("%Y-%m-%d").to_string()))
                .unwrap_or(Json::Null)
        } else {
            Json::Null
        };
        let phone = if self.chance(0.5) {
            json!(self.landline(account.city))
        } else {
            Json::Null
        };
        json!({
            "name": p.name,
            "first_name": p.first,
            "last_name": p.last,
            "account_id": account.id,
            "title": title,
            "department": department,
            "email": format!("{}{n}@{}", p.mail, account.domain),
            "phone": phone,
            "mobile": self.mobile(account.chinese),
            "birthday": birthday,
            "source": self.pick(SOURCES).0,
            "city": account.city.name,
        })
    }

    pub fn lead(&mut self) -> Json {
        let chinese = self.chinese();
        let company = self.company(chinese);
        let p = self.person(chinese);
        let (title, _) = self.title(chinese);
        let n = self.rng.random_range(1..1000);
        let email = if self.chance(0.3) {
            let domain = self.pick(if chinese { CN_FREE_MAIL } else { EN_FREE_MAIL });
            format!("{}{n}@{domain}", p.mail)
        } else {
            format!("{}@{}", p.mail, company.domain)
        };
        let status = match self.rng.random_range(0..10) {
            0..=3 => "new",
            4..=6 => "contacted",
            7 | 8 => "qualified",
            _ => "unqualified",
        };
        json!({
            "name": p.name,
            "company": company.name,
            "title": title,
            "email": email,
            "mobile": self.mobile(chinese),
            "status": status,
            "source": self.pick(SOURCES).0,
            "rating": self.pick(&["hot", "warm", "cold"]),
            "industry": company.industry,
            "city": company.city.name,
            "unqualified_reason": (status == "unqualified")
                .then(|| self.pick(relata_domain::lead::UNQUALIFIED_REASONS).0),
        })
    }

    pub fn opportunity(&mut self, account: &AccountInfo) -> Json {
        let (stage, probability) = self.pick(STAGES);
        let closed = stage.starts_with("closed");
        let close_date = if closed {
            self.date_within(-180, -1)
        } else {
            self.date_within(0, 180)
        };
        let (name, currency, amount) = if account.chinese {
            let deal = self.pick(CN_DEALS);
            let amount = self.rng.random_range(5..=500) * 10_000;
            (format!("{} {deal}", account.short), "CNY", amount)
        } else {
            let deal = self.pick(EN_DEALS);
            let amount = self.rng.random_range(2..=200) * 5_000;
            (format!("{} – {deal}", account.short), "USD", amount)
        };
        let contact = if account.contacts.is_empty() {
            Json::Null
        } else {
            json!(self.pick_contact(account))
        };
        let next_step = if closed {
            Json::Null
        } else if account.chinese {
            json!(self.pick(CN_NEXT_STEPS))
        } else {
            json!(self.pick(EN_NEXT_STEPS))
        };
        json!({
            "name": name,
            "account_id": account.id,
            "contact_id": contact,
            "amount": {"amount": format!("{amount}.00"), "currency": currency},
            "stage": stage,
            "probability": probability.to_string(),
            "close_date": close_date.format("%Y-%m-%d").to_string(),
            "type": self.pick(&["new_business", "existing_business", "renewal"]),
            "source": self.pick(SOURCES).0,
            "next_step": next_step,
            "win_reason": (stage == relata_domain::opportunity::WON)
                .then(|| self.pick(relata_domain::opportunity::WIN_REASONS).0),
            "loss_reason": (stage == relata_domain::opportunity::LOST)
                .then(|| self.pick(relata_domain::opportunity::LOSS_REASONS).0),
        })
    }

    fn pick_contact(&mut self, account: &AccountInfo) -> String {
        account.contacts[self.rng.random_range(0..account.contacts.len())].clone()
    }

    /// A task at `account`, about one of its contacts and (when given) one of its opportunities.
    pub fn task(&mut self, account: &AccountInfo, opportunity: Option<&str>) -> Json {
        let subject = if account.chinese {
            self.pick(CN_TASKS)
        } else {
            self.pick(EN_TASKS)
        };
        let due = self.date_within(-30, 60);
        let status = if due < self.today {
            self.pick(&["completed", "completed", "deferred", "in_progress"])
        } else {
            self.pick(&["not_started", "not_started", "in_progress"])
        };
        let contact = if account.contacts.is_empty() {
            Json::Null
        } else {
            json!(self.pick_contact(account))
        };
        json!({
            "subject": format!("{subject} · {}", account.short),
            "status": status,
            "priority": self.pick(&["high", "normal", "normal", "low"]),
            "due_date": due.format("%Y-%m-%d").to_string(),
            "account_id": account.id,
            "contact_id": contact,
            "opportunity_id": opportunity,
        })
    }

    pub fn note(&mut self, account: &AccountInfo, opportunity: Option<&str>) -> Json {
        let day = self.date_within(-120, 0);
        let (title, body) = if account.chinese {
            let title = self.pick(CN_NOTE_TITLES);
            let deal = self.pick(CN_DEALS);
            let concern = self.pick(CN_CONCERNS);
            let next = self.pick(CN_NEXT_STEPS);
            (
                format!("{title}（{}月{}日）", day.month(), day.day()),
                format!(
                    "与{}沟通了{deal}的需求。客户最关注{concern}。下一步：{next}。",
                    account.short
                ),
            )
        } else {
            let title = self.pick(EN_NOTE_TITLES);
            let deal = self.pick(EN_DEALS);
            let concern = self.pick(EN_CONCERNS);
            let next = self.pick(EN_NEXT_STEPS);
            (
                format!("{title} ({})", day.format("%b %-d")),
                format!(
                    "Spoke with {} about the {} project. They care most about {concern}. Next step: {next}.",
                    account.short,
                    deal.to_lowercase()
                ),
            )
        };
        let contact = if account.contacts.is_empty() {
            Json::Null
        } else {
            json!(self.pick_contact(account))
        };
        json!({
            "title": title,
            "body": body,
            "account_id": account.id,
            "contact_id": contact,
            "opportunity_id": opportunity,
        })
    }

    pub fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }
}
