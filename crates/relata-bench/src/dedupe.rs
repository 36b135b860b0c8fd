//! Duplicate detection figures (issue 7).
//!
//! **Quality**: a labelled set of people — originals drawn from the benchmark's bilingual
//! data set, and duplicates of some of them written the way a second source writes the same
//! person: name order swapped or spaced, a typo, the email in capitals or with a `+tag` or
//! missing, the phone in another format, moved to the mobile field or missing, the account
//! left out. Each record carries its truth (`truth:<original>`) in a field the rule does
//! not read. They are loaded into a custom object of their own whose duplicate rule an
//! administrator sets through the API (the standard contact rule's fields and weights), the
//! batch job runs over it, and its groups are scored pair by pair against the truth.
//!
//! **Speed**: the batch job over every contact of the loaded data set, timed from start to
//! done, with the server's peak resident memory during the job.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};

use crate::data::{Rng, contact};
use crate::load::Api;

/// The object the labelled set is loaded into.
pub const OBJECT: &str = "dedupe_case";
/// Labelled records at full size; quick runs use fewer.
pub const LABELLED: u64 = 100_000;
/// One in this many labelled records is a duplicate of an earlier one.
const DUPLICATE_SHARE: u64 = 5;
/// Accounts the people work at: this many people per account on average.
const PEOPLE_PER_ACCOUNT: u64 = 20;

/// Creates the object, its fields and its duplicate rule.
pub async fn prepare(api: &Api) -> anyhow::Result<()> {
    api.post(
        "/api/v1/meta/objects",
        &json!({"api_name": OBJECT, "label": "Dedupe case", "plural_label": "Dedupe cases"}),
    )
    .await?;
    for field in [
        json!({"api_name": "external_id", "type": "text", "label": "External ID", "unique": true, "max_length": 64}),
        json!({"api_name": "email", "type": "email", "label": "Email"}),
        json!({"api_name": "phone", "type": "phone", "label": "Phone"}),
        json!({"api_name": "mobile", "type": "phone", "label": "Mobile"}),
        json!({"api_name": "account_id", "type": "lookup", "label": "Account", "target": "account"}),
        json!({"api_name": "truth", "type": "text", "label": "Truth"}),
    ] {
        api.post(&format!("/api/v1/meta/objects/{OBJECT}/fields"), &field)
            .await?;
    }
    let rule = json!({"fields": [
        {"fields": ["email"], "comparator": "email", "weight": 0.95},
        {"fields": ["phone", "mobile"], "comparator": "phone", "weight": 0.9},
        {"fields": ["name"], "comparator": "person_name", "weight": 0.7},
        {"fields": ["account_id"], "comparator": "exact", "weight": 0.5}
    ], "threshold": 0.85, "action": "warn"});
    api.send_json(
        reqwest::Method::PUT,
        &format!("/api/v1/meta/objects/{OBJECT}/matching_rule"),
        &rule,
    )
    .await?;
    Ok(())
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A person's name as a second source writes it.
fn name_variant(rng: &mut Rng, first: &str, last: &str, name: &str) -> String {
    if is_cjk(name) {
        if rng.chance(8) {
            // a typo: the last character of the given name miswritten
            let given: Vec<char> = first.chars().collect();
            let other =
                relata_sample::names::CN_GIVEN[rng.below(relata_sample::names::CN_GIVEN.len())].0;
            let mut typed: String = given[..given.len().saturating_sub(1)].iter().collect();
            typed.push(other.chars().last().unwrap_or('伟'));
            return format!("{last}{typed}");
        }
        if rng.chance(30) {
            return format!("{last} {first}");
        }
        return name.to_owned();
    }
    let mut out = if rng.chance(40) {
        format!("{last} {first}")
    } else {
        name.to_owned()
    };
    if rng.chance(8) {
        // a typo inside the first name
        let mut chars: Vec<char> = out.chars().collect();
        let at = 1 + rng.below(chars.len().saturating_sub(2).max(1));
        chars[at] = char::from(b'a' + rng.below(26) as u8);
        out = chars.into_iter().collect();
    }
    if rng.chance(20) {
        out = out.to_uppercase();
    }
    out
}

fn email_variant(rng: &mut Rng, email: &str) -> Option<String> {
    if rng.chance(35) {
        return None;
    }
    if rng.chance(25) {
        return Some(email.to_uppercase());
    }
    if rng.chance(15) {
        return email
            .split_once('@')
            .map(|(local, domain)| format!("{local}+crm@{domain}"));
    }
    Some(email.to_owned())
}

fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn phone_variant(rng: &mut Rng, phone: &str) -> Option<String> {
    if rng.chance(30) {
        return None;
    }
    let d = digits_of(phone);
    if phone.starts_with('+') {
        // international: the same digits, spaced or joined differently
        return Some(if rng.chance(50) {
            format!("+{d}")
        } else {
            format!("00{d}")
        });
    }
    if let Some(national) = d.strip_prefix('0') {
        // a landline: with the country code instead of the trunk 0
        return Some(format!("+86 {national}"));
    }
    Some(match rng.below(3) {
        0 => format!(
            "+86 {} {} {}",
            &d[..3.min(d.len())],
            &d[3.min(d.len())..7.min(d.len())],
            &d[7.min(d.len())..]
        ),
        1 => format!(
            "{}-{}-{}",
            &d[..3.min(d.len())],
            &d[3.min(d.len())..7.min(d.len())],
            &d[7.min(d.len())..]
        ),
        _ => format!("0086{d}"),
    })
}

/// Record `k` of the labelled set of `n`, with the index of the original it stands for.
fn labelled(seed: u64, n: u64, k: u64, accounts: &[String]) -> (Json, u64) {
    let originals = n - n / DUPLICATE_SHARE;
    let mut rng = Rng::for_record(seed ^ 0xD0D0_0000_0000_0001, k);
    let (original, duplicate) = if k < originals {
        (k, false)
    } else {
        (rng.below(originals as usize) as u64, true)
    };
    let c = contact(seed ^ 0xD0D0, original);
    // every original has an address and a number of its own
    let email = match c.email.split_once('@') {
        Some((local, domain)) => format!("{local}.{original}@{domain}"),
        None => c.email.clone(),
    };
    let account = &accounts[Rng::for_record(seed ^ 0xACC0, original).below(accounts.len())];
    let mut record = json!({
        "external_id": format!("D-{k:09}"),
        "truth": format!("truth:{original}"),
    });
    if duplicate {
        record["name"] = json!(name_variant(&mut rng, &c.first_name, &c.last_name, &c.name));
        if let Some(e) = email_variant(&mut rng, &email) {
            record["email"] = json!(e);
        }
        if let Some(p) = phone_variant(&mut rng, &c.phone) {
            let field = if rng.chance(10) { "mobile" } else { "phone" };
            record[field] = json!(p);
        }
        if rng.chance(85) {
            record["account_id"] = json!(account);
        }
    } else {
        record["name"] = json!(c.name);
        record["email"] = json!(email);
        record["phone"] = json!(c.phone);
        if let Some(m) = &c.mobile {
            record["mobile"] = json!(m);
        }
        record["account_id"] = json!(account);
    }
    (record, original)
}

/// Loads the labelled set of `n` records: its accounts, then the people in bulk calls.
pub async fn load(api: &Api, seed: u64, n: u64) -> anyhow::Result<()> {
    let mut accounts = Vec::new();
    let count = (n / PEOPLE_PER_ACCOUNT).max(1);
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let records: Vec<Json> = chunk
            .iter()
            .map(|i| json!({"name": format!("去重基准公司 {i} Dedupe Ltd"), "city": "上海"}))
            .collect();
        let answer = api
            .post(
                "/api/v1/records/account/bulk",
                &json!({"key": "id", "mode": "all_or_nothing", "records": records}),
            )
            .await?;
        for r in answer["results"].as_array().into_iter().flatten() {
            if let Some(id) = r["id"].as_str() {
                accounts.push(id.to_owned());
            }
        }
    }
    if accounts.len() as u64 != count {
        bail!("created {} accounts of {count}", accounts.len());
    }
    for from in (0..n).step_by(1_000) {
        let records: Vec<Json> = (from..(from + 1_000).min(n))
            .map(|k| labelled(seed, n, k, &accounts).0)
            .collect();
        api.post(
            &format!("/api/v1/records/{OBJECT}/bulk"),
            &json!({"key": "external_id", "mode": "all_or_nothing", "records": records}),
        )
        .await?;
    }
    Ok(())
}

/// A finished job: its answer, and the seconds from start to done.
pub struct JobRun {
    pub job: Json,
    pub seconds: f64,
}

/// Runs a duplicate job over `object` and waits for it (at most `limit`).
pub async fn run_job(api: &Api, object: &str, limit: Duration) -> anyhow::Result<JobRun> {
    let started = Instant::now();
    let job = api
        .post("/api/v1/duplicate_jobs", &json!({"object": object}))
        .await?;
    let id = job["id"].as_str().context("no job id")?.to_owned();
    loop {
        let job = api.get(&format!("/api/v1/duplicate_jobs/{id}")).await?;
        match job["status"].as_str() {
            Some("done") => {
                return Ok(JobRun {
                    job,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            Some("failed") => bail!("the duplicate job failed: {job}"),
            _ if started.elapsed() > limit => {
                bail!("the duplicate job did not finish in {limit:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Pairwise precision and recall of a job's groups against the truth.
pub struct Quality {
    pub precision: f64,
    pub recall: f64,
    pub predicted_pairs: u64,
    pub true_pairs: u64,
    pub groups: u64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Reads every group of job `id` and scores it against the truth of the set of `n`.
pub async fn quality(api: &Api, id: &str, seed: u64, n: u64) -> anyhow::Result<Quality> {
    // the truth: how many records stand for each original
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    let dummy = vec![String::new()];
    for k in 0..n {
        *sizes.entry(labelled(seed, n, k, &dummy).1).or_default() += 1;
    }
    let true_pairs: u64 = sizes.values().map(|s| pairs(*s)).sum();
    let (mut predicted, mut correct, mut groups) = (0u64, 0u64, 0u64);
    let mut offset = 0;
    loop {
        let page = api
            .get(&format!(
                "/api/v1/duplicate_jobs/{id}/groups?limit=200&offset={offset}"
            ))
            .await?;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for g in &data {
            let mut by_truth: HashMap<String, u64> = HashMap::new();
            let records = g["records"].as_array().cloned().unwrap_or_default();
            for r in &records {
                *by_truth
                    .entry(r["truth"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
            predicted += pairs(records.len() as u64);
            correct += by_truth.values().map(|c| pairs(*c)).sum::<u64>();
            groups += 1;
        }
        if data.len() < 200 {
            break;
        }
        offset += 200;
    }
    Ok(Quality {
        precision: if predicted == 0 {
            0.0
        } else {
            correct as f64 / predicted as f64
        },
        recall: if true_pairs == 0 {
            0.0
        } else {
            correct as f64 / true_pairs as f64
        },
        predicted_pairs: predicted,
        true_pairs,
        groups,
    })
}
