//! The benchmark data set: contacts with Chinese and English names, phones, emails and cities,
//! deterministic by seed. Record `i` depends only on `(seed, i)`, so any slice of the data set
//! can be generated on its own, in any order, and the raw-insert ceiling and the HTTP load see
//! exactly the same values.
//!
//! The word lists are `relata_sample`'s, the same the demo data set uses. Picks are weighted
//! towards the front of each list, where the common names are (王, 李, 张 … are far more
//! frequent than 欧阳), so that searches for 张伟 or 王芳 find many records, as they would in a
//! real Chinese CRM.

use chrono::NaiveDate;
use relata_domain::standard::SOURCES;
use relata_sample::names::{
    CN_CITIES, CN_GIVEN, CN_MOBILE_PREFIXES, CN_SURNAMES, CN_TITLES, EN_FIRST, EN_LAST, EN_TITLES,
    INTL_CITIES,
};
use serde_json::{Map, Value as Json, json};

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

    /// Skewed towards the front of a list: index `n·u²` for uniform `u`, so the first entries
    /// (the common surnames, the big cities) come up far more often than the last.
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

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

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

fn cn_mobile(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(CN_MOBILE_PREFIXES), digits(rng, 8))
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

/// The owner of record `i` among `owners` users: uniform and deterministic by `(seed, i)`.
/// Drawn from a generator of its own, so that owning records changed none of their values.
pub fn owner_index(seed: u64, i: u64, owners: usize) -> usize {
    Rng::for_record(seed ^ 0x0000_0A11_0CA7_E0FF, i).below(owners.max(1))
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
        let map: Map<String, Json> = self
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Json::Object(map)
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
