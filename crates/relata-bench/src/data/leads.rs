//! Leads (线索): people at companies not yet customers, mostly from the web and events, at
//! every step of the lead flow short of conversion (which only converting a lead reaches):
//! 35 % new, 30 % contacted, 15 % qualified, 20 % unqualified with the reason. One in ten
//! names the company of an existing account (a customer's colleague filling in a form).

use relata_domain::lead::UNQUALIFIED_REASONS;
use relata_sample::names::{
    CN_CITIES, CN_CONCERNS, CN_FREE_MAIL, CN_GIVEN, CN_SURNAMES, CN_TITLES, EN_CONCERNS, EN_FIRST,
    EN_FREE_MAIL, EN_LAST, EN_TITLES, INTL_CITIES,
};
use serde_json::{Value as Json, json};

use super::accounts::intl_phone;
use super::contacts::cn_mobile;
use super::{Ids, Rng, account, record, salt};

/// Where leads come from: the web and events most, unlike accounts (referrals).
pub const SOURCES: &[(&str, u32)] = &[
    ("web", 30),
    ("event", 20),
    ("advertising", 15),
    ("referral", 10),
    ("cold_call", 10),
    ("partner", 5),
    ("import", 5),
    ("other", 5),
];

/// Campaign parameters of web and advertising leads: source, medium, campaign.
const UTM: &[(&str, &str, &str)] = &[
    ("baidu", "cpc", "品牌词-华东"),
    ("wechat", "social", "公众号-白皮书下载"),
    ("zhihu", "content", "CRM-选型指南"),
    ("google", "cpc", "crm-apac-search"),
    ("linkedin", "social", "webinar-q4"),
    ("newsletter", "email", "monthly-digest"),
];

/// One generated lead, in the shape the API takes.
#[derive(Debug, Clone)]
pub struct Lead {
    pub external_id: String,
    pub chinese: bool,
    pub name: String,
    pub company: String,
    pub title: &'static str,
    pub email: String,
    pub phone: String,
    pub mobile: Option<String>,
    pub status: &'static str,
    pub unqualified_reason: Option<&'static str>,
    pub source: &'static str,
    pub rating: Option<&'static str>,
    pub industry: &'static str,
    pub city: &'static str,
    pub description: Option<String>,
    /// utm_source, utm_medium, utm_campaign.
    pub utm: Option<(&'static str, &'static str, &'static str)>,
    /// The user (index) who owns it ([`super::DataSet::lead`]).
    pub owner: usize,
}

pub fn external_id(i: u64) -> String {
    format!("LEAD-{i:09}")
}

/// Lead `i` of the data set of `seed` with `accounts` accounts.
pub fn lead(seed: u64, i: u64, accounts: u64) -> Lead {
    let mut rng = Rng::for_record(seed ^ salt::LEAD, i);
    // the company: an existing account's, or one like them that is not a customer yet
    // (account numbers far beyond the data set)
    let company_of = if accounts > 0 && rng.chance(10) {
        rng.below(accounts as usize) as u64
    } else {
        (1 << 40) + i
    };
    let company = account(seed, company_of, accounts);
    let chinese = company.chinese;
    let status = rng.weighted(&[
        ("new", 35),
        ("contacted", 30),
        ("qualified", 15),
        ("unqualified", 20),
    ]);
    let unqualified_reason = (status == "unqualified").then(|| rng.pick(UNQUALIFIED_REASONS).0);
    let source = rng.weighted(SOURCES);
    let rating = rng.weighted(&[
        (Some("hot"), 15),
        (Some("warm"), 35),
        (Some("cold"), 35),
        (None, 15),
    ]);
    let utm = matches!(source, "web" | "advertising").then(|| {
        let all = UTM.len();
        // Chinese leads come through the Chinese channels (the first three)
        if chinese {
            UTM[rng.below(3)]
        } else {
            UTM[3 + rng.below(all - 3)]
        }
    });
    let free_mail = rng.chance(45);
    let (name, email, phone, mobile, title, city, concern) = if chinese {
        let (surname, s_py) = CN_SURNAMES[rng.skewed(CN_SURNAMES.len())];
        let (given, g_py) = CN_GIVEN[rng.skewed(CN_GIVEN.len())];
        let email = if free_mail {
            format!(
                "{g_py}{s_py}{}@{}",
                rng.below(10_000),
                rng.pick(CN_FREE_MAIL)
            )
        } else {
            format!("{g_py}.{s_py}@{}", company.domain)
        };
        let phone = cn_mobile(&mut rng);
        let mobile = None;
        let (title, _) = rng.pick(CN_TITLES);
        let city = if rng.chance(70) {
            company.city
        } else {
            CN_CITIES[rng.skewed(CN_CITIES.len())].name
        };
        (
            format!("{surname}{given}"),
            email,
            phone,
            mobile,
            title,
            city,
            format!("关注：{}", rng.pick(CN_CONCERNS)),
        )
    } else {
        let first = rng.pick(EN_FIRST);
        let last = rng.pick(EN_LAST);
        let email = if free_mail {
            format!(
                "{}{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                rng.below(1_000),
                rng.pick(EN_FREE_MAIL)
            )
        } else {
            format!(
                "{}.{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                company.domain
            )
        };
        let phone = company.phone.clone();
        let (title, _) = rng.pick(EN_TITLES);
        let city = if rng.chance(70) {
            company.city
        } else {
            INTL_CITIES[rng.skewed(INTL_CITIES.len())].name
        };
        // a mobile of the country they are in
        let prefix = INTL_CITIES
            .iter()
            .find(|c| c.name == city)
            .map_or("+65", |c| c.phone_prefix.split(' ').next().unwrap_or("+65"));
        let mobile = rng.chance(50).then(|| {
            let first = 6 + rng.below(4);
            intl_phone(&mut rng, &format!("{prefix} {first}"))
        });
        (
            format!("{first} {last}"),
            email,
            phone,
            mobile,
            title,
            city,
            format!("Interested in {}", rng.pick(EN_CONCERNS)),
        )
    };
    let description = rng.chance(30).then_some(concern);
    Lead {
        external_id: external_id(i),
        chinese,
        name,
        company: company.name,
        title,
        email,
        phone,
        mobile,
        status,
        unqualified_reason,
        source,
        rating,
        industry: company.industry,
        city,
        description,
        utm,
        owner: 0,
    }
}

impl Lead {
    /// The values by field API name, the owner as the id in `ids`.
    pub fn to_json(&self, ids: &Ids) -> Json {
        record(
            vec![
                ("external_id", json!(self.external_id)),
                ("name", json!(self.name)),
                ("company", json!(self.company)),
                ("title", json!(self.title)),
                ("email", json!(self.email)),
                ("phone", json!(self.phone)),
                ("status", json!(self.status)),
                ("source", json!(self.source)),
                ("industry", json!(self.industry)),
                ("city", json!(self.city)),
            ],
            vec![
                ("mobile", self.mobile.as_ref().map(|m| json!(m))),
                (
                    "unqualified_reason",
                    self.unqualified_reason.map(|r| json!(r)),
                ),
                ("rating", self.rating.map(|r| json!(r))),
                ("description", self.description.as_ref().map(|d| json!(d))),
                ("utm_source", self.utm.map(|u| json!(u.0))),
                ("utm_medium", self.utm.map(|u| json!(u.1))),
                ("utm_campaign", self.utm.map(|u| json!(u.2))),
                (
                    "owner_id",
                    Ids::get(ids.users, Some(self.owner as u64)).map(|id| json!(id)),
                ),
            ],
        )
    }
}
