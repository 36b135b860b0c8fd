//! The forecast, targets and sales report in the web UI. The forecast page shows each rep's
//! categories with the weighted pipeline, call, target and attainment, and the manager's
//! totals; a rep adjusts their commit from their row ("Adjust") and the manager overrides it
//! ("Override"), both kept in the rep's history; a rep who may not change another rep's
//! forecast is refused on the page and nothing is stored; weekly snapshots show as a trend.
//! The targets page shows attainment; an administrator of users sets a target from its form
//! (a bad period is said at its field) and deletes one, while a rep gets no form. The sales
//! report shows revenue won by month and the product mix, in English and Chinese.

use serde_json::{Value as Json, json};

use relata_testkit::{Page, TestApp, WebSession};

use crate::forecasting::{december_sales, world};

const PASSWORD: &str = "correct-horse-battery-9";

/// What an attacker would type: it must come out escaped.
const PAYLOAD: &str = "<script>alert('x')</script>";

async fn page(web: &WebSession, path: &str) -> Page {
    let page = web.get(path).await;
    page.assert_status(200);
    page
}

/// Follows a 303 to the page it leads to.
async fn follow(web: &WebSession, answer: &Page) -> Page {
    answer.assert_status(303);
    let to = answer.location.clone().unwrap_or_default();
    page(web, &to).await
}

async fn switch_to_chinese(web: &WebSession, here: &str) {
    web.submit(here, "/lang", &[("lang", "zh-CN"), ("back", here)])
        .await
        .assert_status(303);
}

/// The HTML from `marker` to the end of its table row.
fn row<'a>(page: &'a Page, marker: &str) -> &'a str {
    let start = page
        .html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker}: {}", page.html));
    let end = page.html[start..]
        .find("</tr>")
        .map_or(page.html.len(), |e| start + e);
    &page.html[start..end]
}

fn rep_row<'a>(page: &'a Page, user: &relata_core::Actor) -> &'a str {
    row(page, &format!("data-user=\"{}\"", user.user_id.0))
}

/// How many adjustments and overrides `user`'s Q4 forecast has, as the API tells it.
async fn history_len(app: &TestApp, user: &relata_core::Actor) -> usize {
    let r = app
        .get(&format!(
            "/api/v1/forecast/history?period=2026-Q4&user_id={}",
            user.user_id.0
        ))
        .await;
    r.assert_status(200);
    r.body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn the_forecast_shows_reps_and_totals_and_takes_adjustments_and_overrides() {
    let w = world().await;
    let app = &w.app;
    app.post(
        "/api/v1/targets",
        &json!({"assignee": {"type": "user", "id": w.rep1.user_id.0}, "period": "2026-Q4",
                "metric": "won_amount", "target": "600000"}),
    )
    .await
    .assert_status(201);
    let manager = app.web_as(&w.manager, PASSWORD).await;
    let rep1 = app.web_as(&w.rep1, PASSWORD).await;
    let rep2 = app.web_as(&w.rep2, PASSWORD).await;

    // the navigation leads to the three pages
    page(&rep1, "/")
        .await
        .assert_contains("<a href=\"/forecast\">Forecast</a>")
        .assert_contains("<a href=\"/targets\">Targets</a>")
        .assert_contains("<a href=\"/reports/sales\">Sales report</a>");

    // the manager's forecast (this quarter by default): each rep's categories and the totals
    let f = page(&manager, "/forecast").await;
    f.assert_contains("<h1>Forecast · Q4 2026</h1>")
        .assert_contains("<option value=\"2026-Q4\" selected>Q4 2026</option>")
        .assert_contains("You and the people you manage, in CNY.");
    let lilei = rep_row(&f, &w.rep1);
    for figure in [
        "<th scope=\"row\">李雷</th>",
        "<td class=\"num\">CN¥300,000.00</td>",
        "<td class=\"num\">CN¥200,000.00</td>",
        "<td class=\"num\">CN¥100,000.00</td>",
        // 200,000 × 80 % + 100,000 × 60 %
        "<td class=\"num\">CN¥220,000.00</td>",
        "<td class=\"num\">CN¥500,000.00</td>",
        "<td class=\"num\">CN¥600,000.00</td>",
        "<td class=\"num\">50%</td>",
        "<summary>Override</summary>",
        "data-kind=\"override\"",
    ] {
        assert!(lilei.contains(figure), "{figure} not in {lilei}");
    }
    let han = rep_row(&f, &w.rep2);
    assert!(han.contains("<td class=\"num\">CN¥70,000.00</td>"), "{han}");
    assert!(han.contains("<td class=\"num\">CN¥50,000.00</td>"), "{han}");
    // the manager's own row is an adjustment
    assert!(rep_row(&f, &w.manager).contains("<summary>Adjust</summary>"));
    let totals = row(&f, "class=\"forecast-totals\"");
    for figure in [
        "<td class=\"num\">CN¥370,000.00</td>",
        "<td class=\"num\">CN¥570,000.00</td>",
        "<td class=\"num\">CN¥600,000.00</td>",
    ] {
        assert!(totals.contains(figure), "{figure} not in {totals}");
    }
    f.assert_contains("No weekly snapshot of this period yet.");

    // 李雷 sees his own row only, offered as an adjustment
    let mine = page(&rep1, "/forecast?period=2026-Q4").await;
    let own = rep_row(&mine, &w.rep1);
    assert!(own.contains("<summary>Adjust</summary>"), "{own}");
    assert!(own.contains("data-kind=\"adjust\""), "{own}");
    mine.assert_not_contains(&format!("data-user=\"{}\"", w.rep2.user_id.0))
        .assert_not_contains("Override");

    // an amount that is not a number is said in his form, which keeps what he typed
    let id1 = w.rep1.user_id.0.to_string();
    let adjust = |amount: &'static str, note: &'static str, team: &str| {
        vec![
            ("user", id1.clone()),
            ("period", "2026-Q4".to_owned()),
            ("team", team.to_owned()),
            ("category", "commit".to_owned()),
            ("amount", amount.to_owned()),
            ("note", note.to_owned()),
        ]
    };
    let post = |web: &WebSession, from: &str, v: Vec<(&'static str, String)>| {
        let (web, from) = (web.clone(), from.to_owned());
        async move {
            let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            web.submit(&from, "/forecast/adjust", &pairs).await
        }
    };
    let bad = post(&rep1, "/forecast", adjust("十五万", "预算", "")).await;
    bad.assert_status(422)
        .assert_contains(
            "The forecast was not changed: the amount must be a number, such as 150000.",
        )
        .assert_contains("value=\"十五万\"")
        .assert_contains("aria-invalid=\"true\"")
        .assert_contains("<details open>");
    assert_eq!(history_len(app, &w.rep1).await, 0);

    // he adjusts his commit: the row shows it with the computed figure beside it
    let done = post(&rep1, "/forecast", adjust("150,000", "客户预算推迟", "")).await;
    let after = follow(&rep1, &done).await;
    after.assert_contains("Commit of 李雷 adjusted to CN¥150,000.00.");
    let own = rep_row(&after, &w.rep1);
    assert!(
        own.contains("data-changed=\"adjusted\">CN¥150,000.00<br><span class=\"meta\">Adjusted (computed CN¥200,000.00)</span>"),
        "{own}"
    );
    assert!(
        own.contains("<td class=\"num\">CN¥450,000.00</td>"),
        "the call: {own}"
    );

    // the manager overrides it from the team's forecast, and comes back to it
    let team_page = format!("/forecast?period=2026-Q4&team={}", w.team);
    let t = page(&manager, &team_page).await;
    t.assert_contains(&format!(
        "<option value=\"{}\" selected>华东组</option>",
        w.team
    ))
    .assert_contains("Team 华东组, in CNY.")
    .assert_not_contains(&format!("data-user=\"{}\"", w.manager.user_id.0));
    let done = post(&manager, &team_page, adjust("250000", PAYLOAD, &w.team)).await;
    assert!(
        done.location
            .as_deref()
            .is_some_and(|l| l.starts_with(&format!("{team_page}&outcome="))),
        "{:?}",
        done.location
    );
    let after = follow(&manager, &done).await;
    after.assert_contains("Commit of 李雷 overridden to CN¥250,000.00.");
    let lilei = rep_row(&after, &w.rep1);
    assert!(
        lilei.contains("data-changed=\"overridden\">CN¥250,000.00<br><span class=\"meta\">Overridden (computed CN¥200,000.00)</span>"),
        "{lilei}"
    );
    assert!(
        lilei.contains("<td class=\"num\">CN¥550,000.00</td>"),
        "{lilei}"
    );

    // the history shows both, who made each and why, escaped
    let h = page(
        &manager,
        &format!("/forecast/history?user={id1}&period=2026-Q4"),
    )
    .await;
    h.assert_contains("<h1>Forecast changes of 李雷, Q4 2026</h1>");
    let first = row(&h, "data-kind=\"adjustment\"");
    for part in [
        "<td>李雷</td>",
        "<td>Adjustment</td>",
        "<td>Commit</td>",
        "CN¥150,000.00",
        "客户预算推迟",
    ] {
        assert!(first.contains(part), "{part} not in {first}");
    }
    let second = row(&h, "data-kind=\"override\"");
    for part in [
        "<td>王经理</td>",
        "<span class=\"badge\">Override</span>",
        "CN¥250,000.00",
        "&#60;script&#62;",
    ] {
        assert!(second.contains(part), "{part} not in {second}");
    }
    assert!(
        h.html.find("data-kind=\"adjustment\"") < h.html.find("data-kind=\"override\""),
        "oldest first"
    );
    // 李雷 reads his own history; 韩梅梅 may not read his
    page(
        &rep1,
        &format!("/forecast/history?user={id1}&period=2026-Q4"),
    )
    .await
    .assert_contains("<td>王经理</td>");
    rep2.get(&format!("/forecast/history?user={id1}&period=2026-Q4"))
        .await
        .assert_status(404);

    // 韩梅梅 may not change 李雷's forecast: refused on her page, nothing stored
    let refused = post(&rep2, "/forecast", adjust("1", "", "")).await;
    refused
        .assert_status(403)
        .assert_contains("role=\"alert\"")
        .assert_contains("The forecast was not changed: only the rep, their managers or an administrator of users may change this forecast.")
        .assert_not_contains(&format!("data-user=\"{id1}\""));
    assert_eq!(history_len(app, &w.rep1).await, 2);

    // a weekly snapshot shows in the trend
    app.core.snapshot_forecasts().await.unwrap();
    let trend = page(&manager, "/forecast").await;
    let point = row(&trend, "class=\"trend-row\"");
    assert!(point.contains("Dec 7, 2026"), "{point}");
    assert!(
        point.contains("CN¥250,000.00"),
        "the override stands: {point}"
    );

    // in Chinese
    switch_to_chinese(&rep1, "/forecast").await;
    let zh = page(&rep1, "/forecast").await;
    zh.assert_contains("<h1>销售预测 · 2026年第4季度</h1>")
        .assert_contains("承诺")
        .assert_contains("已覆盖（系统计算 ¥200,000.00）")
        .assert_contains("<summary>调整</summary>");
    let done = post(&rep1, "/forecast", adjust("180000", "", "")).await;
    follow(&rep1, &done)
        .await
        .assert_contains("李雷 的承诺已调整为 ¥180,000.00。");
    // a rep's adjustment does not displace the manager's override
    let r = app
        .client_for(&w.rep1)
        .await
        .get("/api/v1/forecast?period=2026-Q4")
        .await;
    assert_eq!(
        r.body["reps"][0]["categories"]["commit"]["overridden"],
        "250000"
    );
}

/// The Q4 targets, as the API lists them to the administrator.
async fn targets(app: &TestApp) -> Vec<Json> {
    let r = app.get("/api/v1/targets?period=2026-Q4").await;
    r.assert_status(200);
    r.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn targets_show_attainment_and_administrators_set_them_from_the_page() {
    let w = world().await;
    let app = &w.app;
    let id1 = w.rep1.user_id.0.to_string();
    for body in [
        json!({"assignee": {"type": "user", "id": id1}, "period": "2026-Q4",
               "metric": "won_amount", "target": "600000"}),
        json!({"assignee": {"type": "team", "id": w.team}, "period": "2026-Q4",
               "metric": "won_count", "target": "4"}),
    ] {
        app.post("/api/v1/targets", &body).await.assert_status(201);
    }
    // 李雷 sees his own and his team's, with attainment, and no form
    let rep1 = app.web_as(&w.rep1, PASSWORD).await;
    let p = page(&rep1, "/targets?period=2026-Q4").await;
    p.assert_contains("<h1>Targets · Q4 2026</h1>")
        .assert_not_contains("Set a target")
        .assert_not_contains("method=\"post\" action=\"/targets\"")
        .assert_not_contains("/delete\"");
    let own = row(&p, "<th scope=\"row\">李雷");
    for part in [
        "<td>Won amount</td>",
        "<td class=\"num\">CN¥600,000.00</td>",
        "<td class=\"num\">CN¥300,000.00</td>",
        "value=\"50.0\"",
        " 50%</td>",
    ] {
        assert!(own.contains(part), "{part} not in {own}");
    }
    let team = row(
        &p,
        "<th scope=\"row\">华东组 <span class=\"meta\">Team</span>",
    );
    for part in [
        "<td>Deals won</td>",
        "<td class=\"num\">4</td>",
        "<td class=\"num\">2</td>",
    ] {
        assert!(team.contains(part), "{part} not in {team}");
    }
    // and may not set one by posting anyway
    rep1.submit(
        "/targets",
        "/targets",
        &[
            ("shown", "2026-Q4"),
            ("assignee_type", "company"),
            ("period", "2026-Q4"),
            ("metric", "won_count"),
            ("target", "1"),
        ],
    )
    .await
    .assert_status(403);
    assert_eq!(targets(app).await.len(), 2);

    // the administrator sets the company's target from the form
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let form = page(&admin, "/targets?period=2026-Q4").await;
    form.assert_contains("Set a target")
        .assert_contains(&format!("<option value=\"{id1}\">李雷</option>"))
        .assert_contains(&format!("<option value=\"{}\">华东组</option>", w.team));
    let saved = admin
        .submit(
            "/targets",
            "/targets",
            &[
                ("shown", "2026-Q4"),
                ("assignee_type", "company"),
                ("user", ""),
                ("team", ""),
                ("department", ""),
                ("period", "2026-Q4"),
                ("metric", "won_amount"),
                ("target", "1,000,000"),
                ("currency", ""),
            ],
        )
        .await;
    let after = follow(&admin, &saved).await;
    after.assert_contains("Target saved.");
    let company = row(&after, "<th scope=\"row\">The whole company");
    for part in [
        "<td class=\"num\">CN¥1,000,000.00</td>",
        // 李雷's ¥300,000 and 韩梅梅's ¥70,000
        "<td class=\"num\">CN¥370,000.00</td>",
        " 37%</td>",
    ] {
        assert!(company.contains(part), "{part} not in {company}");
    }
    assert_eq!(targets(app).await.len(), 3);

    // a bad period is said at its field, with what was typed; nothing is stored
    let id2 = w.rep2.user_id.0.to_string();
    let bad = admin
        .submit(
            "/targets",
            "/targets",
            &[
                ("shown", "2026-Q4"),
                ("assignee_type", "user"),
                ("user", &id2),
                ("period", "2026-Q5"),
                ("metric", "won_count"),
                ("target", "3"),
            ],
        )
        .await;
    bad.assert_status(422)
        .assert_contains("value=\"2026-Q5\" placeholder=\"2026-Q4\" aria-describedby=\"target-period-hint target-period-error\" aria-invalid=\"true\"")
        .assert_contains("<p class=\"field-error\" id=\"target-period-error\">Use a period such as 2026-12, 2026-Q4 or 2026.</p>")
        .assert_contains(&format!("<option value=\"{id2}\" selected>韩梅梅</option>"))
        .assert_contains("<h1>Targets · Q4 2026</h1>");
    // a team target without its team is said at the assignee
    admin
        .submit(
            "/targets",
            "/targets",
            &[
                ("shown", "2026-Q4"),
                ("assignee_type", "team"),
                ("period", "2026-Q4"),
                ("metric", "won_count"),
                ("target", "3"),
            ],
        )
        .await
        .assert_status(422)
        .assert_contains("id=\"target-assignee-error\">Choose the team.</p>");
    assert_eq!(targets(app).await.len(), 3);

    // deleting one
    let company_id = targets(app)
        .await
        .iter()
        .find(|t| t["assignee"]["type"] == "company")
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .unwrap();
    let gone = admin
        .submit(
            "/targets",
            &format!("/targets/{company_id}/delete"),
            &[("shown", "2026-Q4")],
        )
        .await;
    follow(&admin, &gone)
        .await
        .assert_contains("Target deleted.")
        .assert_not_contains("The whole company");
    assert_eq!(targets(app).await.len(), 2);

    // in Chinese
    switch_to_chinese(&rep1, "/targets").await;
    page(&rep1, "/targets?period=2026-Q4")
        .await
        .assert_contains("<h1>销售目标 · 2026年第4季度</h1>")
        .assert_contains("<td>赢单金额</td>")
        .assert_contains("<td class=\"num\">¥300,000.00</td>")
        .assert_contains("华东组 <span class=\"meta\">团队</span>");
}

#[tokio::test]
async fn the_sales_report_shows_won_revenue_by_month_and_the_product_mix() {
    let w = world().await;
    let app = &w.app;
    december_sales(&w).await;

    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    let path = "/reports/sales?from=2026-10-01&to=2026-12-31";
    let p = page(&admin, path).await;
    p.assert_contains("<h1>Sales report</h1>")
        .assert_contains("value=\"2026-10-01\"")
        .assert_contains("value=\"2026-12-31\"")
        .assert_contains("Oct 1, 2026 to Dec 31, 2026 (both days counted), in CNY")
        .assert_contains("<figcaption>Revenue won by month</figcaption>")
        .assert_contains("<title>Dec 2026: CN¥56,500.00</title>");
    for (month, deals, amount) in [
        ("Oct 2026", "1", "CN¥70,000.00"),
        ("Nov 2026", "1", "CN¥300,000.00"),
        ("Dec 2026", "1", "CN¥56,500.00"),
    ] {
        p.assert_contains(&format!(
            "<th scope=\"row\">{month}</th><td class=\"num\">{deals}</td><td class=\"num\">{amount}</td>"
        ));
    }
    p.assert_contains(
        "<th scope=\"row\">韩梅梅</th><td class=\"num\">2</td><td class=\"num\">CN¥126,500.00</td>",
    )
    .assert_contains("<th scope=\"row\">销售云 专业版</th><td class=\"num\">4</td><td class=\"num\">CN¥50,000.00</td>");
    let mix = row(&p, "class=\"mix-row\"");
    for part in ["CRM 套件", "CN¥50,000.00", " 100%</td>"] {
        assert!(mix.contains(part), "{part} not in {mix}");
    }
    p.assert_contains("<th scope=\"row\">Dec 2026</th><td class=\"num\">CN¥100,000.00</td><td class=\"num\">CN¥40,000.00</td><td class=\"num\">40%</td>");

    // by default the year so far; a range that ends before it starts is said and replaced
    page(&admin, "/reports/sales")
        .await
        .assert_contains("value=\"2026-01-01\"")
        .assert_contains("value=\"2026-12-07\"");
    admin
        .get("/reports/sales?from=2026-12-31&to=2026-10-01")
        .await
        .assert_status(400)
        .assert_contains("id=\"report-to-error\" role=\"alert\">To: must not come before From; the year so far is shown.</p>")
        .assert_contains("value=\"2026-01-01\"");
    // a period without sales shows empty states
    page(&admin, "/reports/sales?from=2025-01-01&to=2025-03-31")
        .await
        .assert_contains("No deal was won in this period.")
        .assert_contains("No product was sold on a deal won in this period.")
        .assert_contains("No instalment fell due and no payment came in during this period.");

    // 韩梅梅 sees her own wins only
    let rep2 = app.web_as(&w.rep2, PASSWORD).await;
    page(&rep2, path)
        .await
        .assert_contains("<th scope=\"row\">Dec 2026</th><td class=\"num\">1</td><td class=\"num\">CN¥56,500.00</td>")
        .assert_contains("<th scope=\"row\">Nov 2026</th><td class=\"num\">0</td><td class=\"num\">CN¥0.00</td>")
        .assert_not_contains("李雷");

    // in Chinese
    switch_to_chinese(&admin, path).await;
    let zh = page(&admin, path).await;
    zh.assert_contains("<h1>销售报表</h1>")
        .assert_contains("<figcaption>每月赢单金额</figcaption>")
        .assert_contains("<th scope=\"row\">2026年12月</th><td class=\"num\">1</td><td class=\"num\">¥56,500.00</td>")
        .assert_contains("<h2 id=\"report-mix\">按产品类别的销售构成</h2>")
        .assert_contains("<th scope=\"col\">占比</th>");
    let mix = row(&zh, "class=\"mix-row\"");
    assert!(
        mix.contains("CRM 套件") && mix.contains(" 100%</td>"),
        "{mix}"
    );
}
