//! Global search through the real server (`GET /api/v1/search`), on whichever backend the test
//! kit runs: Chinese substrings, phone digits, email and word prefixes, case and width folding,
//! ranking, grouping by object, and an index that follows every write and metadata change.

use relata_testkit::{Resp, TestApp};
use serde_json::{Value as Json, json};

async fn search(app: &TestApp, q: &str, objects: Option<&str>) -> Resp {
    let mut params = vec![("q", q)];
    if let Some(o) = objects {
        params.push(("objects", o));
    }
    let url = reqwest::Url::parse_with_params(&app.url("/api/v1/search"), &params).unwrap();
    app.get(&format!("{}?{}", url.path(), url.query().unwrap()))
        .await
}

/// The group of `object` in a search answer (panics when the answer is not a 200).
fn group<'a>(r: &'a Resp, object: &str) -> Option<&'a Json> {
    r.assert_status(200);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["object"] == object)
}

/// `(name, rank)` of each hit of `object`, in the order given.
fn hits(r: &Resp, object: &str) -> Vec<(String, String)> {
    group(r, object)
        .map(|g| {
            g["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h["name"].as_str().unwrap().to_owned(),
                        h["rank"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Names of the hits of `object`, sorted (for checks that do not care about order).
fn names(r: &Resp, object: &str) -> Vec<String> {
    let mut n: Vec<String> = hits(r, object).into_iter().map(|(n, _)| n).collect();
    n.sort();
    n
}

async fn contact(app: &TestApp, body: Json) -> String {
    app.create("contact", &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn any_two_characters_of_a_chinese_name() {
    let app = TestApp::spawn().await;
    for name in ["李张伟", "张伟明", "张伟", "王芳", "张三"] {
        contact(&app, json!({ "name": name })).await;
    }
    // exact, then prefix, then substring
    let r = search(&app, "张伟", None).await;
    assert_eq!(
        hits(&r, "contact"),
        pairs(&[
            ("张伟", "exact"),
            ("张伟明", "prefix"),
            ("李张伟", "substring")
        ])
    );
    let r = search(&app, "伟明", None).await;
    assert_eq!(hits(&r, "contact"), pairs(&[("张伟明", "substring")]));
    let r = search(&app, "张伟明", None).await;
    assert_eq!(hits(&r, "contact"), pairs(&[("张伟明", "exact")]));
    let r = search(&app, "李张", None).await;
    assert_eq!(hits(&r, "contact"), pairs(&[("李张伟", "prefix")]));
    // characters that are not adjacent are not a substring
    let r = search(&app, "张明", None).await;
    assert!(hits(&r, "contact").is_empty(), "{}", r.text);
}

#[tokio::test]
async fn any_four_digits_of_a_phone_number() {
    let app = TestApp::spawn().await;
    contact(
        &app,
        json!({"name": "张伟", "mobile": "+86 138-0013-8000", "phone": "(010) 6552 1234"}),
    )
    .await;
    contact(&app, json!({"name": "王芳", "mobile": "139 1234 5678"})).await;
    for q in [
        "0013",
        "8000",
        "13800138000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "8613800138000",
        "１３８００",
        "6552",
        "010-6552",
    ] {
        let r = search(&app, q, None).await;
        assert_eq!(names(&r, "contact"), ["张伟"], "{q}: {}", r.text);
    }
    // "1234" is in both (a landline suffix and a mobile's middle)
    let r = search(&app, "1234", None).await;
    assert_eq!(names(&r, "contact"), ["张伟", "王芳"]);
    // fewer than four digits search nothing (and are not an error)
    let r = search(&app, "138", None).await;
    r.assert_status(200);
    assert!(hits(&r, "contact").is_empty(), "{}", r.text);
    // digits that are not consecutive in the number
    let r = search(&app, "13813", None).await;
    assert!(hits(&r, "contact").is_empty(), "{}", r.text);
}

#[tokio::test]
async fn email_prefixes_any_case() {
    let app = TestApp::spawn().await;
    contact(
        &app,
        json!({"name": "Zhang Wei", "email": "Zhang.Wei@Example.com"}),
    )
    .await;
    contact(
        &app,
        json!({"name": "Wang Fang", "email": "wang.fang@acme.cn"}),
    )
    .await;
    for q in [
        "zhang.w",
        "ZHANG.WEI@EX",
        "zhang.wei@example.com",
        "ｚｈａｎｇ．ｗ",
    ] {
        let r = search(&app, q, None).await;
        assert_eq!(names(&r, "contact"), ["Zhang Wei"], "{q}: {}", r.text);
    }
    let r = search(&app, "zhang.wei@example.com", None).await;
    assert_eq!(hits(&r, "contact"), pairs(&[("Zhang Wei", "exact")]));
    // the middle of an email is not a prefix of it or of one of its words
    let r = search(&app, "ang.wei", None).await;
    assert!(hits(&r, "contact").is_empty(), "{}", r.text);
    // a shared top-level domain does not find everyone
    let r = search(&app, "com", None).await;
    assert!(hits(&r, "contact").is_empty(), "{}", r.text);
}

#[tokio::test]
async fn word_prefixes_of_company_names_fold_case_and_width() {
    let app = TestApp::spawn().await;
    for name in ["Acme Global Trading", "Globex", "Initech"] {
        app.create("account", &json!({ "name": name })).await;
    }
    app.create(
        "lead",
        &json!({"name": "李雷", "company": "Acme Global Trading"}),
    )
    .await;
    for (q, accounts) in [
        ("Global", vec!["Acme Global Trading"]),
        ("glob", vec!["Acme Global Trading", "Globex"]),
        ("Trading", vec!["Acme Global Trading"]),
        ("ACME", vec!["Acme Global Trading"]),
        ("ＡＣＭＥ", vec!["Acme Global Trading"]),
        ("ａｃｍｅ ｇｌｏ", vec!["Acme Global Trading"]),
        ("acme trad", vec!["Acme Global Trading"]),
        ("init", vec!["Initech"]),
    ] {
        let r = search(&app, q, None).await;
        assert_eq!(names(&r, "account"), accounts, "{q}: {}", r.text);
    }
    // the company field of a lead is searched too
    let r = search(&app, "global", None).await;
    assert_eq!(names(&r, "lead"), ["李雷"]);
    // Latin text matches by word prefix, not in the middle of a word
    let r = search(&app, "lobal", None).await;
    assert!(r.body["data"].as_array().unwrap().is_empty(), "{}", r.text);
    // every word of the query must match
    let r = search(&app, "acme globex", None).await;
    assert!(names(&r, "account").is_empty(), "{}", r.text);
}

#[tokio::test]
async fn exact_before_prefix_before_substring_within_an_object() {
    let app = TestApp::spawn().await;
    // created so that newest-first order would be the wrong answer
    for name in [
        "Acme",
        "Acme Trading",
        "Global Acme",
        "Acme Global Trading Shanghai",
    ] {
        app.create("account", &json!({ "name": name })).await;
    }
    let r = search(&app, "acme", Some("account")).await;
    let got = hits(&r, "account");
    assert_eq!(got[0], ("Acme".to_owned(), "exact".to_owned()), "{got:?}");
    let ranks: Vec<&str> = got.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(ranks, ["exact", "prefix", "prefix", "substring"], "{got:?}");
    assert_eq!(got[3].0, "Global Acme");

    // the whole value typed in full is an exact match even when it has several words
    app.create("account", &json!({"name": "Acme Global Trading"}))
        .await;
    for q in [
        "Acme Global Trading",
        "acme   GLOBAL\ttrading",
        "ａｃｍｅ　ｇｌｏｂａｌ　ｔｒａｄｉｎｇ",
    ] {
        let r = search(&app, q, Some("account")).await;
        assert_eq!(
            hits(&r, "account"),
            pairs(&[
                ("Acme Global Trading", "exact"),
                ("Acme Global Trading Shanghai", "prefix")
            ]),
            "{q}"
        );
    }
    // the start of a value typed across words is a prefix match
    let r = search(&app, "acme glo", Some("account")).await;
    assert_eq!(
        hits(&r, "account"),
        pairs(&[
            ("Acme Global Trading", "prefix"),
            ("Acme Global Trading Shanghai", "prefix"),
            ("Global Acme", "substring")
        ])
    );
    // with one hit per object, the best one is the one shown
    let r = app
        .get("/api/v1/search?q=acme&objects=account&limit=1")
        .await;
    assert_eq!(hits(&r, "account"), pairs(&[("Acme", "exact")]));
}

#[tokio::test]
async fn a_phone_number_typed_in_full_is_an_exact_match() {
    let app = TestApp::spawn().await;
    contact(&app, json!({"name": "张伟", "mobile": "+86 138-0013-8000"})).await;
    contact(&app, json!({"name": "李娜", "mobile": "138 0013 8000"})).await;
    // typed with spaces, each group of four digits or more must match somewhere
    let r = search(&app, "+86 138 0013 8000", None).await;
    assert_eq!(
        hits(&r, "contact"),
        pairs(&[("张伟", "exact"), ("李娜", "substring")])
    );
    for q in ["+86-138-0013-8000", "8613800138000"] {
        let r = search(&app, q, None).await;
        assert_eq!(hits(&r, "contact"), pairs(&[("张伟", "exact")]), "{q}");
    }
    let r = search(&app, "138 0013 8000", None).await;
    assert_eq!(
        hits(&r, "contact"),
        pairs(&[("李娜", "exact"), ("张伟", "substring")])
    );
    let r = search(&app, "1380013", None).await;
    assert_eq!(
        hits(&r, "contact"),
        pairs(&[("李娜", "prefix"), ("张伟", "substring")])
    );
}

#[tokio::test]
async fn results_are_grouped_by_object_with_their_labels() {
    let app = TestApp::spawn().await;
    let acct = app.create("account", &json!({"name": "华远科技"})).await;
    contact(&app, json!({"name": "华远 张伟", "account_id": acct["id"]})).await;
    app.create("lead", &json!({"name": "赵敏", "company": "华远科技"}))
        .await;
    app.create("product", &json!({"name": "云服务"})).await;

    let r = search(&app, "华远", None).await;
    r.assert_status(200);
    assert_eq!(r.body["query"], "华远");
    let groups = r.body["data"].as_array().unwrap();
    let objects: Vec<(&str, &str)> = groups
        .iter()
        .map(|g| (g["object"].as_str().unwrap(), g["label"].as_str().unwrap()))
        .collect();
    let mut sorted = objects.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("account", "Accounts"),
            ("contact", "Contacts"),
            ("lead", "Leads")
        ]
    );
    // each hit carries its id, name, rank and the record itself, of its own object
    let account = group(&r, "account").unwrap();
    let hit = &account["hits"][0];
    assert_eq!(hit["id"], acct["id"]);
    assert_eq!(hit["name"], "华远科技");
    assert_eq!(hit["record"]["id"], acct["id"]);
    assert_eq!(hit["record"]["name"], "华远科技");
    assert_eq!(names(&r, "contact"), ["华远 张伟"]);
    assert_eq!(names(&r, "lead"), ["赵敏"]);
}

#[tokio::test]
async fn objects_restricts_the_search_and_an_unknown_object_is_404() {
    let app = TestApp::spawn().await;
    app.create("account", &json!({"name": "Acme"})).await;
    app.create("lead", &json!({"name": "Li Lei", "company": "Acme"}))
        .await;
    contact(&app, json!({"name": "Acme Contact"})).await;

    let r = search(&app, "acme", Some("lead")).await;
    let objects: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["object"].as_str().unwrap())
        .collect();
    assert_eq!(objects, ["lead"]);
    let r = search(&app, "acme", Some("account, contact")).await;
    let mut objects: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["object"].as_str().unwrap())
        .collect();
    objects.sort();
    assert_eq!(objects, ["account", "contact"]);
    let r = search(&app, "acme", None).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3, "{}", r.text);

    search(&app, "acme", Some("account,nope"))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn one_character_finds_nothing_and_is_not_an_error() {
    let app = TestApp::spawn().await;
    contact(
        &app,
        json!({"name": "张伟", "email": "a@example.com", "mobile": "13800138000"}),
    )
    .await;
    for q in ["张", "a", "A", "1", "ａ", " 张 "] {
        let r = search(&app, q, None).await;
        r.assert_status(200);
        assert_eq!(r.body["data"], json!([]), "{q}: {}", r.text);
    }
}

#[tokio::test]
async fn the_index_follows_updates_deletes_and_restores() {
    let app = TestApp::spawn().await;
    let id = contact(
        &app,
        json!({"name": "张伟", "email": "zhang.wei@example.com", "mobile": "13800138000"}),
    )
    .await;
    let path = format!("/api/v1/records/contact/{id}");

    // renamed: the old name is gone, the new one found; untouched fields still found
    app.patch(&path, &json!({"name": "王芳"}))
        .await
        .assert_status(200);
    assert!(names(&search(&app, "张伟", None).await, "contact").is_empty());
    assert_eq!(
        names(&search(&app, "王芳", None).await, "contact"),
        ["王芳"]
    );
    assert_eq!(
        names(&search(&app, "zhang.w", None).await, "contact"),
        ["王芳"]
    );
    // a cleared field is no longer searchable
    app.patch(&path, &json!({"email": null}))
        .await
        .assert_status(200);
    assert!(names(&search(&app, "zhang.w", None).await, "contact").is_empty());
    assert_eq!(
        names(&search(&app, "0013", None).await, "contact"),
        ["王芳"]
    );

    // deleted to the recycle bin: gone
    app.delete(&path).await.assert_status(204);
    for q in ["王芳", "0013"] {
        let r = search(&app, q, None).await;
        assert_eq!(r.body["data"], json!([]), "{q}: {}", r.text);
    }
    // restored: back, with its current values
    app.post(&format!("{path}/restore"), &json!({}))
        .await
        .assert_status(200);
    assert_eq!(
        names(&search(&app, "王芳", None).await, "contact"),
        ["王芳"]
    );
    assert_eq!(
        names(&search(&app, "8000", None).await, "contact"),
        ["王芳"]
    );
    assert!(names(&search(&app, "张伟", None).await, "contact").is_empty());
}

#[tokio::test]
async fn custom_objects_and_fields_chosen_as_searchable() {
    let app = TestApp::spawn().await;
    app.post(
        "/api/v1/meta/objects",
        &json!({"api_name": "project", "label": "Project", "plural_label": "Projects"}),
    )
    .await
    .assert_status(201);
    for f in [
        json!({"api_name": "code", "type": "text", "label": "Code", "searchable": true}),
        json!({"api_name": "site", "type": "text", "label": "Site"}),
    ] {
        app.post("/api/v1/meta/objects/project/fields", &f)
            .await
            .assert_status(201);
    }
    let a = app
        .create(
            "project",
            &json!({"name": "前海改造", "code": "PRJ-2026-0042", "site": "深圳前海合作区"}),
        )
        .await;
    app.create(
        "project",
        &json!({"name": "北京办公室", "code": "OFF-7", "site": "朝阳 CBD"}),
    )
    .await;

    // the name field of a custom object and a searchable custom field are found
    let r = search(&app, "改造", None).await;
    assert_eq!(group(&r, "project").unwrap()["label"], "Projects");
    assert_eq!(names(&r, "project"), ["前海改造"]);
    assert_eq!(
        names(&search(&app, "prj", None).await, "project"),
        ["前海改造"]
    );
    assert_eq!(
        names(&search(&app, "0042", None).await, "project"),
        ["前海改造"]
    );
    // a field that is not searchable is not
    assert!(names(&search(&app, "合作区", None).await, "project").is_empty());
    assert!(names(&search(&app, "cbd", None).await, "project").is_empty());

    // made searchable with data in it: existing records are indexed at once
    app.patch(
        "/api/v1/meta/objects/project/fields/site",
        &json!({"searchable": true}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        names(&search(&app, "合作区", None).await, "project"),
        ["前海改造"]
    );
    assert_eq!(
        names(&search(&app, "cbd", None).await, "project"),
        ["北京办公室"]
    );
    // and new writes to it are indexed too
    app.patch(
        &format!("/api/v1/records/project/{}", a["id"].as_str().unwrap()),
        &json!({"site": "广州南沙"}),
    )
    .await
    .assert_status(200);
    assert!(names(&search(&app, "合作区", None).await, "project").is_empty());
    assert_eq!(
        names(&search(&app, "南沙", None).await, "project"),
        ["前海改造"]
    );

    // made unsearchable: its terms go, the other fields' stay
    app.patch(
        "/api/v1/meta/objects/project/fields/site",
        &json!({"searchable": false}),
    )
    .await
    .assert_status(200);
    assert!(names(&search(&app, "南沙", None).await, "project").is_empty());
    assert_eq!(
        names(&search(&app, "0042", None).await, "project"),
        ["前海改造"]
    );
    // archived (deleted) searchable fields stop matching as well
    app.delete("/api/v1/meta/objects/project/fields/code")
        .await
        .assert_status(204);
    assert!(names(&search(&app, "prj", None).await, "project").is_empty());
    assert_eq!(
        names(&search(&app, "改造", None).await, "project"),
        ["前海改造"]
    );
}

#[tokio::test]
async fn unsearchable_input_is_handled_not_failed() {
    let app = TestApp::spawn().await;
    contact(&app, json!({"name": "张伟"})).await;
    // punctuation and control characters are not terms; nothing breaks on either backend
    for q in [
        "%%",
        "__",
        "''",
        "\u{0}\u{0}",
        "张伟\u{0}",
        "\u{10FFFF}\u{10FFFF}",
        "() ()",
    ] {
        let r = search(&app, q, None).await;
        r.assert_status(200);
    }
    // a limit per object
    for name in ["张伟一", "张伟二", "张伟三"] {
        contact(&app, json!({ "name": name })).await;
    }
    let r = app.get("/api/v1/search?q=%E5%BC%A0%E4%BC%9F&limit=2").await;
    assert_eq!(hits(&r, "contact").len(), 2);
    assert_eq!(
        hits(&r, "contact")[0],
        ("张伟".to_owned(), "exact".to_owned())
    );
}
