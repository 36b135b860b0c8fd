//! Search against a naive model, over random Chinese names and punctuated phone numbers drawn
//! from small alphabets (so substrings repeat across records): a query of 2+ CJK characters
//! finds exactly the contacts whose name contains it, a query of 4+ digits exactly those whose
//! phone or mobile digits contain it, ranked exact (the whole value), then prefix, then
//! substring, newest first within a rank — after creates, renames, renumbering and deletes.

use std::cmp::Reverse;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value as Json, json};

use relata_testkit::TestApp;

const HAN: &[char] = &['张', '伟', '明', '李', '王', '芳', '华', '远'];
const DIGITS: &[char] = &['1', '3', '8', '0'];

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(select(HAN), 2..6).prop_map(|v| v.into_iter().collect())
}

/// A phone number of 5-14 digits in groups, with the punctuation people type.
fn phone() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::collection::vec(select(DIGITS), 1..5), 2..5),
        select(vec![" ", "-", ""]),
        any::<bool>(),
    )
        .prop_filter_map("5-20 digits", |(groups, sep, plus)| {
            let digits: usize = groups.iter().map(Vec::len).sum();
            if !(5..=20).contains(&digits) {
                return None;
            }
            let text: Vec<String> = groups.iter().map(|g| g.iter().collect()).collect();
            Some(format!("{}{}", if plus { "+" } else { "" }, text.join(sep)))
        })
}

#[derive(Debug, Clone)]
struct Contact {
    id: String,
    name: String,
    phones: Vec<String>,
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// 0 exact, 1 prefix, 2 substring, or no match, for one whole value's key.
fn rank_in(key: &str, q: &str) -> Option<u8> {
    if key == q {
        Some(0)
    } else if key.starts_with(q) {
        Some(1)
    } else if key.contains(q) {
        Some(2)
    } else {
        None
    }
}

/// The hits the model expects for `q` (already a bare CJK or digit string), best first.
fn expected(contacts: &[Contact], q: &str, is_digits: bool) -> Vec<(String, &'static str)> {
    let mut hits: Vec<(u8, &Contact)> = contacts
        .iter()
        .filter_map(|c| {
            let rank = if is_digits {
                c.phones.iter().filter_map(|p| rank_in(&digits(p), q)).min()
            } else {
                rank_in(&c.name, q)
            };
            rank.map(|r| (r, c))
        })
        .collect();
    hits.sort_by_key(|(r, c)| (*r, Reverse(c.id.clone())));
    hits.into_iter()
        .map(|(r, c)| (c.name.clone(), ["exact", "prefix", "substring"][r as usize]))
        .collect()
}

/// A query: a piece of a stored value or a random one, and how it is typed.
#[derive(Debug, Clone)]
struct Query {
    /// The bare text the model searches for.
    bare: String,
    is_digits: bool,
    /// What is sent as `q`.
    typed: String,
}

fn query(contacts: Vec<Contact>) -> impl Strategy<Value = Query> {
    let names: Vec<String> = contacts.iter().map(|c| c.name.clone()).collect();
    let numbers: Vec<String> = contacts
        .iter()
        .flat_map(|c| c.phones.iter().map(|p| digits(p)))
        .collect();
    let piece = |min: usize| {
        move |(s, start, len): (String, usize, usize)| {
            let chars: Vec<char> = s.chars().collect();
            let len = len.max(min).min(chars.len());
            let start = start % (chars.len() - len + 1);
            chars[start..start + len].iter().collect::<String>()
        }
    };
    let cjk = prop_oneof![
        3 => (select(names), any::<usize>(), 2usize..6).prop_map(piece(2)),
        1 => prop::collection::vec(select(HAN), 2..4).prop_map(|v| v.into_iter().collect()),
    ]
    .prop_map(|bare: String| Query {
        typed: bare.clone(),
        bare,
        is_digits: false,
    });
    let number = prop_oneof![
        3 => (select(numbers), any::<usize>(), 4usize..10).prop_map(piece(4)),
        1 => prop::collection::vec(select(DIGITS), 4..6).prop_map(|v| v.into_iter().collect()),
    ]
    .prop_flat_map(|bare: String| {
        // typed plain, with a dash in the middle, or in full-width digits
        let dashed = format!("{}-{}", &bare[..2], &bare[2..]);
        let wide: String = bare
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
            .collect();
        select(vec![bare.clone(), dashed, wide]).prop_map(move |typed| Query {
            bare: bare.clone(),
            is_digits: true,
            typed,
        })
    });
    prop_oneof![cjk, number]
}

async fn search(app: &TestApp, q: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse_with_params(
        &app.url("/api/v1/search"),
        &[("q", q), ("objects", "contact"), ("limit", "100")],
    )
    .unwrap();
    let r = app
        .get(&format!("{}?{}", url.path(), url.query().unwrap()))
        .await;
    r.assert_status(200);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["hits"].as_array().unwrap().clone())
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["rank"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn search_finds_exactly_what_a_naive_model_finds() {
    let mut runner = TestRunner::new(Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(200),
        failure_persistence: None,
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(TestApp::spawn());
    let mut sample =
        |s: &dyn Fn() -> BoxedStrategy<Json>| s().new_tree(&mut runner).unwrap().current();
    let contact_input = || {
        (name(), prop::option::of(phone()), prop::option::of(phone()))
            .prop_map(|(n, p, m)| json!({"name": n, "phone": p, "mobile": m}))
            .boxed()
    };
    let mut inputs: Vec<Json> = (0..60).map(|_| sample(&contact_input)).collect();
    let changes: Vec<Json> = (0..15).map(|_| sample(&contact_input)).collect();

    let contacts: Vec<Contact> = rt.block_on(async {
        let mut ids = Vec::new();
        for input in &inputs {
            ids.push(
                app.create("contact", input).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        // rename and renumber every fourth, delete every seventh
        for (i, change) in (0..ids.len()).step_by(4).zip(&changes) {
            app.patch(&format!("/api/v1/records/contact/{}", ids[i]), change)
                .await
                .assert_status(200);
            inputs[i] = change.clone();
        }
        let mut live = Vec::new();
        for (i, (id, input)) in ids.iter().zip(&inputs).enumerate() {
            if i % 7 == 3 {
                app.delete(&format!("/api/v1/records/contact/{id}"))
                    .await
                    .assert_status(204);
                continue;
            }
            live.push(Contact {
                id: id.clone(),
                name: input["name"].as_str().unwrap().to_owned(),
                phones: ["phone", "mobile"]
                    .iter()
                    .filter_map(|f| input[*f].as_str().map(str::to_owned))
                    .collect(),
            });
        }
        live
    });

    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    let result = runner.run(&query(contacts.clone()), |q| {
        let got = rt.block_on(search(&app, &q.typed));
        for (_, rank) in &got {
            *seen.borrow_mut().entry(rank.clone()).or_default() += 1;
        }
        *seen
            .borrow_mut()
            .entry(
                if got.is_empty() {
                    "no hits"
                } else {
                    "some hits"
                }
                .to_owned(),
            )
            .or_default() += 1;
        let want: Vec<(String, String)> = expected(&contacts, &q.bare, q.is_digits)
            .into_iter()
            .map(|(n, r)| (n, r.to_owned()))
            .collect();
        if got != want {
            return Err(TestCaseError::fail(format!(
                "q={:?} on {}\n got {got:?}\nwant {want:?}",
                q.typed,
                app.backend()
            )));
        }
        Ok(())
    });
    let backend = app.backend();
    drop(app);
    if let Err(e) = result {
        panic!("{e}");
    }
    // The queries must exercise every rank and mostly find something.
    let seen = seen.into_inner();
    eprintln!("{backend}: {seen:?}");
    for key in ["exact", "prefix", "substring", "no hits"] {
        assert!(seen.get(key).copied().unwrap_or(0) > 0, "{key}: {seen:?}");
    }
    assert!(seen["some hits"] > seen["no hits"], "{seen:?}");
}
