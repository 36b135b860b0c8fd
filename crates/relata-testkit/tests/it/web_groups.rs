//! Tags, lists and segments in the web UI through the real server: tagging a record on its
//! page, the tag's list, bulk tagging and adding ticked records to a static list, a segment
//! made on the lists page, and the list page's condition box with the forms it accepts.

use relata_testkit::{TestApp, WebSession};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery-9";

async fn admin_web(app: &TestApp) -> WebSession {
    app.web_as(&app.admin().await, PASSWORD).await
}

fn id_of(record: &serde_json::Value) -> String {
    record["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_record_is_tagged_on_its_page_and_its_tag_lists_it() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let acct = app.create("account", &json!({"name": "华远科技"})).await;
    let other = app.create("account", &json!({"name": "北辰贸易"})).await;
    let page = format!("/o/account/{}", id_of(&acct));
    web.get(&page)
        .await
        .assert_status(200)
        .assert_contains("id=\"tag-name\"");
    let done = web
        .submit(
            &page,
            &format!("{page}/tags"),
            &[("name", "重点 客户"), ("colour", "red")],
        )
        .await;
    done.assert_status(303);
    let shown = web.get(&page).await;
    shown
        .assert_contains("tag tag-red")
        .assert_contains("重点 客户");
    // the chip links to the list of the tag's records
    let listed = web
        .get("/o/account?q=tagged%20%27%E9%87%8D%E7%82%B9%20%E5%AE%A2%E6%88%B7%27")
        .await;
    listed.assert_status(200).assert_contains("华远科技");
    assert!(!listed.html.contains("北辰贸易"), "only the tagged record");
    // a colour outside the palette is refused with a message, nothing saved
    let refused = web
        .submit(
            &page,
            &format!("{page}/tags"),
            &[("name", "其他"), ("colour", "#f00")],
        )
        .await;
    refused.assert_status(303);
    let tags = app.get("/api/v1/tags?object=account").await;
    assert_eq!(
        tags.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        tags.text
    );
    // bulk: tag both, then the tags page counts two
    let ids = [id_of(&acct), id_of(&other)];
    let mut fields: Vec<(&str, &str)> =
        vec![("action", "tag"), ("value", "展会"), ("back", "/o/account")];
    fields.extend(ids.iter().map(|i| ("ids", i.as_str())));
    web.submit("/o/account", "/o/account/bulk", &fields)
        .await
        .assert_status(303);
    let cloud = web.get("/tags?object=account").await;
    cloud.assert_status(200).assert_contains("展会");
    let tag = app.get("/api/v1/tags?object=account").await;
    let fair = tag.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "展会")
        .unwrap()
        .clone();
    assert_eq!(fair["count"], 2);
    // removing it from the record page
    let tag_id = fair["id"].as_str().unwrap();
    web.submit(&page, &format!("{page}/tags/{tag_id}/remove"), &[])
        .await
        .assert_status(303);
    let on_record = app
        .get(&format!("/api/v1/records/account/{}/tags", id_of(&acct)))
        .await;
    assert!(!on_record.text.contains("展会"), "{}", on_record.text);
}

#[tokio::test]
async fn lists_and_segments_are_made_on_the_lists_page_and_filled_from_a_list() {
    let app = TestApp::spawn().await;
    let web = admin_web(&app).await;
    let sh = app
        .create("account", &json!({"name": "上海客户", "city": "上海"}))
        .await;
    app.create("account", &json!({"name": "北京客户", "city": "北京"}))
        .await;

    web.get("/lists?object=account")
        .await
        .assert_status(200)
        .assert_contains("id=\"list-name\"");
    let made = web
        .submit(
            "/lists?object=account",
            "/lists",
            &[
                ("object", "account"),
                ("name", "上海的"),
                ("kind", "dynamic"),
                ("condition", "city eq 上海"),
            ],
        )
        .await;
    made.assert_status(303);
    let members = web.get(made.location.as_deref().unwrap()).await;
    members.assert_status(200).assert_contains("上海客户");
    assert!(!members.html.contains("北京客户"));
    // a condition that does not parse is shown, not saved
    let bad = web
        .submit(
            "/lists?object=account",
            "/lists",
            &[
                ("object", "account"),
                ("name", "坏的"),
                ("kind", "dynamic"),
                ("condition", "city eq"),
            ],
        )
        .await;
    bad.assert_status(200).assert_contains("role=\"alert\"");
    // a static list filled by ticking records in a list
    let made = web
        .submit(
            "/lists?object=account",
            "/lists",
            &[
                ("object", "account"),
                ("name", "手动名单"),
                ("kind", "static"),
            ],
        )
        .await;
    made.assert_status(303);
    let lists = app.get("/api/v1/lists?object=account").await;
    let manual = lists.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "手动名单")
        .unwrap()
        .clone();
    let action = format!("list_{}", manual["id"].as_str().unwrap());
    let list_page = web.get("/o/account").await;
    list_page.assert_contains(&format!("value=\"{action}\""));
    let sh_id = id_of(&sh);
    web.submit(
        "/o/account",
        "/o/account/bulk",
        &[
            ("action", action.as_str()),
            ("back", "/o/account"),
            ("ids", sh_id.as_str()),
        ],
    )
    .await
    .assert_status(303);
    let counted = app
        .get(&format!("/api/v1/lists/{}", manual["id"].as_str().unwrap()))
        .await;
    assert_eq!(counted.body["count"], 1, "{}", counted.text);
    let index = web.get("/lists?object=account").await;
    index.assert_contains("手动名单").assert_contains("上海的");
    // the list page's condition box: a bad condition shows the problem and lists nothing
    let bad = web.get("/o/account?q=has%20(").await;
    bad.assert_status(200).assert_contains("role=\"alert\"");
    assert!(
        !bad.html.contains("上海客户"),
        "a bad condition selects nothing"
    );
}
