//! Contacts: Chinese and English names, phones, emails and cities. Unchanged since the first
//! data set, so that the contact figures stay comparable: which account a contact works at
//! is drawn apart ([`super::contact_account`]).

use chrono::NaiveDate;
use relata_domain::standard::SOURCES;
use relata_sample::names::{
    CN_CITIES, CN_GIVEN, CN_MOBILE_PREFIXES, CN_SURNAMES, CN_TITLES, EN_FIRST, EN_LAST, EN_TITLES,
    INTL_CITIES,
};
use serde_json::{Value as Json, json};

use super::{Rng, digits};

/// Mail providers of Chinese contacts (people use their personal mailbox as often as their
/// company's).
const CN_MAIL: &[&str] = &[
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "aliyun.com",
    "hengtai-tech.cn",
    "huaxin-group.com.cn",
];
const EN_MAIL: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "example.com",
    "northwind.co",
    "contoso.com",
];

/// One generated contact, in the shape the API takes (field API name → value).
#[derive(Debug, Clone)]
pub struct Contact {
    pub external_id: String,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub mobile: Option<String>,
    pub city: &'static str,
    pub title: &'static str,
    pub department: &'static str,
    pub source: &'static str,
    pub birthday: Option<NaiveDate>,
}

pub(super) fn cn_mobile(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(CN_MOBILE_PREFIXES), digits(rng, 8))
}

/// Whether contact `i` is Chinese: the first draw of [`contact`].
pub fn chinese(seed: u64, i: u64) -> bool {
    Rng::for_record(seed, i).chance(65)
}

/// Record `i` of the data set of `seed`. Its external id is unique (`i` is in it).
pub fn contact(seed: u64, i: u64) -> Contact {
    let mut rng = Rng::for_record(seed, i);
    let chinese = rng.chance(65);
    let birthday = rng.chance(30).then(|| {
        NaiveDate::from_ymd_opt(
            1960 + rng.below(45) as i32,
            1 + rng.below(12) as u32,
            1 + rng.below(28) as u32,
        )
        .unwrap_or_default()
    });
    let (source, _) = rng.pick(SOURCES);
    if chinese {
        let (surname, s_py) = CN_SURNAMES[rng.skewed(CN_SURNAMES.len())];
        let (given, g_py) = CN_GIVEN[rng.skewed(CN_GIVEN.len())];
        let email = format!("{g_py}.{s_py}{}@{}", rng.below(1000), rng.pick(CN_MAIL));
        let phone = if rng.chance(70) {
            cn_mobile(&mut rng)
        } else {
            // A landline: area code and eight digits.
            format!("0{} {}", 10 + rng.below(90), digits(&mut rng, 8))
        };
        let mobile = rng.chance(40).then(|| cn_mobile(&mut rng));
        let (title, department) = rng.pick(CN_TITLES);
        Contact {
            external_id: external_id(i),
            name: format!("{surname}{given}"),
            first_name: given.to_owned(),
            last_name: surname.to_owned(),
            email,
            phone,
            mobile,
            city: CN_CITIES[rng.skewed(CN_CITIES.len())].name,
            title,
            department,
            source,
            birthday,
        }
    } else {
        let first = rng.pick(EN_FIRST);
        let last = rng.pick(EN_LAST);
        let email = format!(
            "{}.{}{}@{}",
            first.to_lowercase(),
            last.to_lowercase(),
            rng.below(1000),
            rng.pick(EN_MAIL)
        );
        let phone = format!(
            "+{} {}-{}-{}",
            1 + rng.below(90),
            digits(&mut rng, 3),
            digits(&mut rng, 3),
            digits(&mut rng, 4)
        );
        let mobile = rng
            .chance(30)
            .then(|| format!("+65 {}", digits(&mut rng, 8)));
        let (title, department) = rng.pick(EN_TITLES);
        Contact {
            external_id: external_id(i),
            name: format!("{first} {last}"),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email,
            phone,
            mobile,
            city: INTL_CITIES[rng.skewed(INTL_CITIES.len())].name,
            title,
            department,
            source,
            birthday,
        }
    }
}

pub fn external_id(i: u64) -> String {
    format!("EXT-{i:09}")
}

impl Contact {
    /// The values by field API name, as the API takes them; absent optional values are left
    /// out, as a real client would.
    pub fn fields(&self) -> Vec<(&'static str, Json)> {
        let mut out = vec![
            ("external_id", json!(self.external_id)),
            ("name", json!(self.name)),
            ("first_name", json!(self.first_name)),
            ("last_name", json!(self.last_name)),
            ("email", json!(self.email)),
            ("phone", json!(self.phone)),
            ("city", json!(self.city)),
            ("title", json!(self.title)),
            ("department", json!(self.department)),
            ("source", json!(self.source)),
        ];
        if let Some(m) = &self.mobile {
            out.push(("mobile", json!(m)));
        }
        if let Some(b) = self.birthday {
            out.push(("birthday", json!(b.format("%Y-%m-%d").to_string())));
        }
        out
    }

    pub fn to_json(&self) -> Json {
        super::record(self.fields(), Vec::new())
    }
}

/// Query strings for the search benchmark, drawn from the data set so that they find records:
/// two-character Chinese names, four consecutive phone digits, email prefixes.
pub fn search_terms(seed: u64, records: u64, count: usize) -> Vec<String> {
    let mut rng = Rng::new(seed ^ 0x005E_A2C4);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let c = contact(seed, rng.next_u64() % records.max(1));
        match out.len() % 3 {
            0 => {
                // A two-character name: surname and the first character of the given name
                // (张伟 finds 张伟 and 张伟明).
                // The last two surnames are compound (欧阳, 司马): left out here.
                let (surname, _) = CN_SURNAMES[rng.skewed(CN_SURNAMES.len() - 2)];
                let (given, _) = CN_GIVEN[rng.skewed(CN_GIVEN.len())];
                let first = given.chars().next().map(String::from).unwrap_or_default();
                out.push(format!("{surname}{first}"));
            }
            1 => {
                let d: String = c.phone.chars().filter(char::is_ascii_digit).collect();
                let start = rng.below(d.len().saturating_sub(4).max(1));
                out.push(d.chars().skip(start).take(4).collect());
            }
            _ => {
                let local = c.email.split('@').next().unwrap_or_default();
                out.push(local.chars().take(3 + rng.below(4)).collect());
            }
        }
    }
    out
}

/// Cities to filter the list benchmark on, each with at least one contact.
pub fn list_cities() -> Vec<&'static str> {
    CN_CITIES
        .iter()
        .chain(INTL_CITIES)
        .map(|c| c.name)
        .collect()
}
