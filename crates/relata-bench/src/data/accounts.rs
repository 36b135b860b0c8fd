//! Accounts (客户): Chinese companies (上海华远精密机械有限公司) and foreign ones (Northwind
//! Trading Ltd), each in a city with a province, region, address and phone of that city, most
//! with a website, Chinese ones mostly with a valid credit code. Every 100th account is a key
//! account and every 10th of the rest a major one ([`super::tier`]), which sets its level,
//! head count and revenue; 3 % of the others are subsidiaries of a key account, named after
//! it (华远精密机械（苏州）有限公司).

use relata_domain::cn::PROVINCES;
use relata_sample::names::{
    CN_BRANDS, CN_CITIES, CN_STREETS, CN_SUFFIXES, CN_TRADES, EN_BRANDS, EN_LAST, EN_STREETS,
    EN_SUFFIXES, EN_TRADES, INTL_CITIES,
};
use serde_json::{Value as Json, json};

use super::{Ids, Rng, Tier, credit_code::credit_code, digits, record, salt, tier};

/// Words between the brand and the trade of a Chinese company name (上海华远**精密**机械).
const CN_MODIFIERS: &[&str] = &[
    "精密", "数码", "国际", "环球", "创新", "联合", "先进", "绿色", "高新", "实业",
];

/// Where accounts come from: referrals and the web most, bought lists least.
pub const SOURCES: &[(&str, u32)] = &[
    ("referral", 20),
    ("web", 20),
    ("event", 15),
    ("partner", 15),
    ("cold_call", 10),
    ("advertising", 10),
    ("import", 5),
    ("other", 5),
];

/// One generated account, in the shape the API takes.
#[derive(Debug, Clone)]
pub struct Account {
    pub external_id: String,
    pub chinese: bool,
    pub tier: Tier,
    pub name: String,
    /// What people call it (字号, brand): 华远, Northwind. Deals and tasks are named with it.
    pub brand: String,
    pub industry: &'static str,
    pub level: Option<&'static str>,
    pub source: &'static str,
    pub credit_code: Option<String>,
    pub phone: String,
    pub website: Option<String>,
    pub email: Option<String>,
    /// Amount and currency.
    pub annual_revenue: Option<(u64, &'static str)>,
    pub employees: Option<u64>,
    pub region: &'static str,
    pub province: Option<&'static str>,
    pub city: &'static str,
    pub address: String,
    /// The key account (index) this one is a subsidiary of.
    pub parent: Option<u64>,
    /// The user (index) who owns it ([`super::DataSet::account`]).
    pub owner: usize,
    /// Its trade words (精密机械, Logistics) and web domain, which subsidiaries share.
    pub trade: String,
    pub domain: String,
}

pub fn external_id(i: u64) -> String {
    format!("ACC-{i:09}")
}

/// The sales region (大区) of a province.
fn region_of(province: &str) -> &'static str {
    match province {
        "shanghai" | "jiangsu" | "zhejiang" | "anhui" | "fujian" | "jiangxi" | "shandong" => "高新",
        "beijing" | "tianjin" | "hebei" | "shanxi" | "inner_mongolia" => "华北",
        "guangdong" | "guangxi" | "hainan" => "华南",
        "henan" | "hubei" | "hunan" => "华中",
        "chongqing" | "sichuan" | "guizhou" | "yunnan" | "tibet" => "西南",
        "shaanxi" | "gansu" | "qinghai" | "ningxia" | "xinjiang" => "西北",
        "liaoning" | "jilin" | "heilongjiang" => "东北",
        _ => "港澳台",
    }
}

/// A phone number after an international prefix such as `+44 20` or `+65 6`.
pub(super) fn intl_phone(rng: &mut Rng, prefix: &str) -> String {
    match prefix.rsplit(' ').next().map_or(0, str::len) {
        1 => format!("{prefix}{} {}", digits(rng, 3), digits(rng, 4)),
        3 => format!("{prefix} {} {}", digits(rng, 3), digits(rng, 4)),
        _ => format!("{prefix} {} {}", digits(rng, 4), digits(rng, 4)),
    }
}

/// Account `i` of the data set of `seed` with `accounts` accounts (subsidiaries name one of
/// its key accounts as their parent).
pub fn account(seed: u64, i: u64, accounts: u64) -> Account {
    let mut rng = Rng::for_record(seed ^ salt::ACCOUNT, i);
    let tier = tier(i);
    let keys = accounts.div_ceil(100);
    let parent_at = (tier != Tier::Key && keys > 1 && rng.chance(3))
        .then(|| rng.below(keys as usize) as u64 * 100)
        .filter(|p| *p < accounts && *p != i);
    let parent = parent_at.map(|p| account(seed, p, accounts));
    let chinese = parent
        .as_ref()
        .map_or_else(|| rng.chance(70), |p| p.chinese);
    let level = match tier {
        Tier::Key => rng.weighted(&[(Some("vip"), 40), (Some("a"), 60)]),
        Tier::Major => rng.weighted(&[(Some("a"), 30), (Some("b"), 60), (Some("c"), 10)]),
        Tier::Standard => rng.weighted(&[(Some("b"), 20), (Some("c"), 55), (None, 25)]),
    };
    let source = rng.weighted(SOURCES);
    // Key accounts are large, major ones mid-sized, the rest small; revenue in CNY.
    let (staff, revenue) = match tier {
        Tier::Key => ((1_000.0, 50_000.0), (1e8, 5e9)),
        Tier::Major => ((200.0, 5_000.0), (1e7, 5e8)),
        Tier::Standard => ((5.0, 500.0), (5e5, 5e7)),
    };
    let employees = rng
        .chance(70)
        .then(|| rng.log_between(staff.0, staff.1) as u64);
    let revenue = rng
        .chance(60)
        .then(|| rng.log_between(revenue.0, revenue.1));
    let with_website = rng.chance(80);
    let with_email = with_website && rng.chance(60);
    let mut a = if chinese {
        chinese_account(&mut rng, seed, i, tier, parent.as_ref())
    } else {
        foreign_account(&mut rng, tier, parent.as_ref())
    };
    a.level = level;
    a.source = source;
    a.employees = employees;
    a.annual_revenue = revenue.map(|cny| {
        if chinese {
            ((cny / 10_000.0).round() as u64 * 10_000, "CNY")
        } else {
            ((cny / 7.0 / 1_000.0).round() as u64 * 1_000, "USD")
        }
    });
    a.website = with_website.then(|| format!("https://www.{}", a.domain));
    a.email = with_email.then(|| {
        let mailbox = if chinese {
            rng.pick(&["info", "sales", "service", "hr"])
        } else {
            rng.pick(&["info", "contact", "sales", "hello"])
        };
        format!("{mailbox}@{}", a.domain)
    });
    a.parent = parent_at;
    a.external_id = external_id(i);
    a
}

/// The Chinese parts: name, city, province, address, landline, credit code.
fn chinese_account(
    rng: &mut Rng,
    seed: u64,
    i: u64,
    tier: Tier,
    parent: Option<&Account>,
) -> Account {
    let city = &CN_CITIES[rng.skewed(CN_CITIES.len())];
    let (province, _, _, gb) = PROVINCES
        .iter()
        .find(|(_, _, cn, _)| *cn == city.region)
        .copied()
        .unwrap_or(PROVINCES[8]);
    let (b1, p1) = rng.pick(CN_BRANDS);
    let (brand, brand_py) = if rng.chance(40) {
        let (b2, p2) = rng.pick(CN_BRANDS);
        if b2 == b1 {
            (b1.to_owned(), p1.to_owned())
        } else {
            (format!("{b1}{b2}"), format!("{p1}{p2}"))
        }
    } else {
        (b1.to_owned(), p1.to_owned())
    };
    let modifier = if rng.chance(30) {
        rng.pick(CN_MODIFIERS)
    } else {
        ""
    };
    let (trade, trade_py, industry) = rng.pick(CN_TRADES);
    let suffix = rng.pick(CN_SUFFIXES);
    let with_city = rng.chance(85);
    let tld = if rng.chance(50) { "com.cn" } else { "com" };
    let (name, brand, trade, industry, domain) = match parent {
        // a subsidiary: the group's brand, trade and site, its own city (华远精密机械（苏州）有限公司)
        Some(p) => (
            format!("{}{}（{}）有限公司", p.brand, p.trade, city.name),
            p.brand.clone(),
            p.trade.clone(),
            p.industry,
            p.domain.clone(),
        ),
        None => (
            format!(
                "{}{brand}{modifier}{trade}{suffix}",
                if with_city { city.name } else { "" }
            ),
            brand,
            format!("{modifier}{trade}"),
            industry,
            format!("{brand_py}{trade_py}.{tld}"),
        ),
    };
    let street = rng.pick(CN_STREETS);
    let number = 1 + rng.skewed(2_000);
    let town = if city.region == format!("{}市", city.name) {
        format!("{}市", city.name)
    } else {
        format!("{}{}市", city.region, city.name)
    };
    let unit = match rng.below(10) {
        0..=3 => String::new(),
        4..=7 => format!("{}楼", 1 + rng.skewed(30)),
        _ => format!(
            "{}栋{}室",
            1 + rng.below(12),
            101 + rng.below(20) * 100 + rng.below(20)
        ),
    };
    let phone = if tier == Tier::Key && rng.chance(50) {
        format!("400-{}-{}", digits(rng, 3), digits(rng, 4))
    } else {
        format!(
            "{}-{}{}",
            city.phone_prefix,
            2 + rng.below(8),
            digits(rng, 7)
        )
    };
    let credit_code = rng.chance(85).then(|| {
        let (city_code, district) = (1 + rng.below(5) as u64, 1 + rng.below(20) as u64);
        credit_code(seed, i, gb, city_code, district)
    });
    Account {
        external_id: String::new(),
        chinese: true,
        tier,
        name,
        brand,
        industry,
        level: None,
        source: "",
        credit_code,
        phone,
        website: None,
        email: None,
        annual_revenue: None,
        employees: None,
        region: region_of(province),
        province: Some(province),
        city: city.name,
        address: format!("{town}{street}{number}号{unit}"),
        parent: None,
        owner: 0,
        trade,
        domain,
    }
}

/// The foreign parts: name, city, country, address, phone.
fn foreign_account(rng: &mut Rng, tier: Tier, parent: Option<&Account>) -> Account {
    let city = &INTL_CITIES[rng.skewed(INTL_CITIES.len())];
    let brand = match rng.below(100) {
        0..=59 => rng.pick(EN_BRANDS).to_owned(),
        60..=84 => {
            let (a, b) = (rng.pick(EN_LAST), rng.pick(EN_LAST));
            if a == b {
                a.to_owned()
            } else {
                format!("{a} & {b}")
            }
        }
        _ => rng.pick(EN_LAST).to_owned(),
    };
    let (trade, industry) = rng.pick(EN_TRADES);
    let suffix = rng.pick(EN_SUFFIXES);
    let slug = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let (name, brand, trade, industry, domain) = match parent {
        // a subsidiary: Northwind Logistics (Singapore) Pte. Ltd.
        Some(p) => (
            format!("{} {} ({}) {suffix}", p.brand, p.trade, city.name),
            p.brand.clone(),
            p.trade.clone(),
            p.industry,
            p.domain.clone(),
        ),
        None => (
            format!("{brand} {trade} {suffix}"),
            brand.clone(),
            trade.to_owned(),
            industry,
            format!("{}{}.com", slug(&brand), slug(trade)),
        ),
    };
    let number = 1 + rng.skewed(400);
    let phone = intl_phone(rng, city.phone_prefix);
    Account {
        external_id: String::new(),
        chinese: false,
        tier,
        name,
        brand,
        industry,
        level: None,
        source: "",
        credit_code: None,
        phone,
        website: None,
        email: None,
        annual_revenue: None,
        employees: None,
        region: city.region,
        province: (city.name == "Hong Kong").then_some("hong_kong"),
        city: city.name,
        address: format!("{number} {}, {}", rng.pick(EN_STREETS), city.name),
        parent: None,
        owner: 0,
        trade,
        domain,
    }
}

impl Account {
    /// The values by field API name, as the API takes them; the parent's id comes from `ids`
    /// (a subsidiary is loaded after the key accounts).
    pub fn to_json(&self, ids: &Ids) -> Json {
        record(
            vec![
            ("external_id", json!(self.external_id)),
            ("name", json!(self.name)),
            ("industry", json!(self.industry)),
            ("source", json!(self.source)),
            ("phone", json!(self.phone)),
            ("region", json!(self.region)),
            ("city", json!(self.city)),
            ("address", json!(self.address)),
            ],
            vec![
            ("level", self.level.map(|l| json!(l))),
            ("credit_code", self.credit_code.as_ref().map(|c| json!(c))),
            ("website", self.website.as_ref().map(|w| json!(w))),
            ("email", self.email.as_ref().map(|e| json!(e))),
            ("province", self.province.map(|p| json!(p))),
            (
                "annual_revenue",
                self.annual_revenue
                    .map(|(amount, currency)| json!({"amount": amount.to_string(), "currency": currency})),
            ),
            ("employees", self.employees.map(|e| json!(e))),
            (
                "parent_id",
                Ids::get(ids.accounts, self.parent).map(|id| json!(id)),
            ),
            (
                "owner_id",
                Ids::get(ids.users, Some(self.owner as u64)).map(|id| json!(id)),
            ),
            ],
        )
    }
}
