//! Activities in the web UI (issue 9): My day lists a rep's overdue and today's tasks —
//! theirs only — with a Done that completes one and comes back; today's meetings for their
//! owner and for a colleague invited to them; the calls logged today. The calendar places
//! tasks and meetings on the days of the viewer's time zone, by week and by month. Both
//! pages speak Chinese too.
//!
//! The clock stands at 2026-12-08 18:00 UTC: already Wednesday 9 December in Shanghai, where
//! the reps live, and still the 8th in UTC — so a page that forgot the time zone shows the
//! wrong day.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::{Client, Page, TestApp, WebSession};

use crate::common::{self, id_of};

const PASSWORD: &str = "correct-horse-battery-9";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 8, 18, 0, 0).unwrap()
}

struct Rep {
    actor: relata_core::Actor,
    api: Client,
    web: WebSession,
}

async fn rep(app: &TestApp, email: &str, name: &str) -> Rep {
    let actor = app
        .user(email, json!({"name": name, "time_zone": "Asia/Shanghai"}))
        .await;
    Rep {
        api: app.client_for(&actor).await,
        web: app.web_as(&actor, PASSWORD).await,
        actor,
    }
}

async fn create(client: &Client, object: &str, body: Json) -> Json {
    let r = client
        .post(&format!("/api/v1/records/{object}"), &body)
        .await;
    r.assert_status(201);
    r.body
}

async fn page(web: &WebSession, path: &str) -> Page {
    let page = web.get(path).await;
    page.assert_status(200);
    page
}

/// The HTML of one day of the calendar: from its element to the next day's.
fn day<'a>(page: &'a Page, date: &str) -> &'a str {
    let start = page
        .html
        .find(&format!("id=\"day-{date}\""))
        .unwrap_or_else(|| panic!("no day {date} on the page"));
    let rest = &page.html[start + 1..];
    let end = rest.find("id=\"day-").map_or(rest.len(), |e| e + 1);
    &page.html[start..start + end]
}

#[tokio::test]
async fn my_day_lists_my_overdue_and_todays_tasks_and_done_completes_one() {
    let (app, _clock, _runner) = common::app_on_clock(now(), 1).await;
    let fang = rep(&app, "wang.fang@example.com", "王芳").await;
    let other = rep(&app, "li.qiang@example.com", "李强").await;
    let account = id_of(&create(&fang.api, "account", json!({"name": "招商银行"})).await);

    // the 8th: today in UTC, yesterday in Shanghai
    create(
        &fang.api,
        "task",
        json!({"subject": "Send the quote", "due_date": "2026-12-08", "status": "in_progress"}),
    )
    .await;
    let today = create(
        &fang.api,
        "task",
        json!({"subject": "Call back the bank", "due_date": "2026-12-09", "account_id": account}),
    )
    .await;
    for (subject, due, status) in [
        ("Prepare the demo", "2026-12-10", "not_started"),
        ("Put off on purpose", "2026-12-01", "deferred"),
        ("Finished already", "2026-12-09", "completed"),
    ] {
        create(
            &fang.api,
            "task",
            json!({"subject": subject, "due_date": due, "status": status}),
        )
        .await;
    }
    create(
        &other.api,
        "task",
        json!({"subject": "Someone else's task", "due_date": "2026-12-09"}),
    )
    .await;
    // calls: two today (Shanghai), one the day before
    for (minutes, at) in [(12, None), (8, Some("2026-12-08T17:00:00Z"))] {
        let mut body = json!({"subject": "回访", "duration_minutes": minutes});
        if let Some(at) = at {
            body["call_at"] = json!(at);
        }
        create(&fang.api, "call", body).await;
    }
    create(
        &fang.api,
        "call",
        json!({"subject": "昨天的电话", "duration_minutes": 30, "call_at": "2026-12-08T10:00:00Z"}),
    )
    .await;

    let home = page(&fang.web, "/").await;
    home.assert_contains("<a href=\"/my-day\">My day</a>")
        .assert_contains("<a href=\"/calendar\">Calendar</a>");
    let day = page(&fang.web, "/my-day").await;
    day.assert_contains("My day · Wednesday, Dec 9, 2026")
        .assert_contains("<a href=\"/my-day\" aria-current=\"page\">")
        .assert_contains("Overdue tasks (1)")
        .assert_contains("Send the quote")
        .assert_contains("Dec 8, 2026")
        .assert_contains("Tasks due today (1)")
        .assert_contains("Call back the bank")
        .assert_contains(&format!("<a href=\"/o/account/{account}\">招商银行</a>"))
        .assert_not_contains("Prepare the demo")
        .assert_not_contains("Put off on purpose")
        .assert_not_contains("Finished already")
        .assert_not_contains("Someone else")
        .assert_contains("Meetings today (0)")
        .assert_contains("No meetings today.")
        .assert_contains("Calls logged today (2)")
        .assert_contains("2 calls, 20 minutes in all.")
        .assert_contains("<a class=\"button\" href=\"/o/call/new\">Log a call</a>");
    page(&fang.web, "/o/call/new").await;
    // "View all": today's calls of the viewer, in the call list
    let at = day.html.find("2 calls, 20 minutes").expect("the summary");
    let start = day.html[at..].find("href=\"").expect("the link") + at + 6;
    let end = day.html[start..].find('"').expect("its end") + start;
    let calls = page(&fang.web, &day.html[start..end].replace("&#38;", "&")).await;
    assert_eq!(calls.html.matches(">回访</a>").count(), 2, "{}", calls.html);
    calls.assert_not_contains("昨天的电话");

    // Done: the inline status form, back to My day
    let id = id_of(&today);
    let version = today["version"].to_string();
    day.assert_contains(&format!("action=\"/o/task/{id}/field/status\""))
        .assert_contains("name=\"_back\" value=\"/my-day\"");
    let done = fang
        .web
        .submit(
            "/my-day",
            &format!("/o/task/{id}/field/status"),
            &[
                ("_version", &version),
                ("_back", "/my-day"),
                ("status", "completed"),
            ],
        )
        .await;
    done.assert_status(303);
    assert_eq!(done.location.as_deref(), Some("/my-day"));
    let task = fang.api.get(&format!("/api/v1/records/task/{id}")).await;
    assert_eq!(task.body["status"], "completed", "{}", task.text);
    page(&fang.web, "/my-day")
        .await
        .assert_contains("Tasks due today (0)")
        .assert_contains("No tasks due today.")
        .assert_not_contains("Call back the bank")
        .assert_contains("Send the quote");

    // the other rep sees their own day only
    page(&other.web, "/my-day")
        .await
        .assert_contains("Someone else&#39;s task")
        .assert_contains("Overdue tasks (0)")
        .assert_contains("Nothing overdue. Well done.")
        .assert_contains("No calls logged today yet.")
        .assert_not_contains("Send the quote");
}

#[tokio::test]
async fn todays_meetings_show_for_their_owner_and_for_invited_colleagues() {
    let (app, _clock, _runner) = common::app_on_clock(now(), 1).await;
    let fang = rep(&app, "wang.fang@example.com", "王芳").await;
    let qiang = rep(&app, "li.qiang@example.com", "李强").await;
    let outsider = rep(&app, "zhao.min@example.com", "赵敏").await;
    let account = id_of(&create(&fang.api, "account", json!({"name": "招商银行"})).await);
    let contact = id_of(
        &create(
            &fang.api,
            "contact",
            json!({"name": "李娜", "account_id": account}),
        )
        .await,
    );
    let meeting = id_of(
        &create(
            &fang.api,
            "meeting",
            json!({"subject": "方案汇报", "start_at": "2026-12-09T02:00:00Z",
                   "end_at": "2026-12-09T03:30:00Z", "location": "深圳总部",
                   "account_id": account, "contact_id": contact}),
        )
        .await,
    );
    // the 8th at 23:00 and the 10th in Shanghai: not today
    create(
        &fang.api,
        "meeting",
        json!({"subject": "昨晚的复盘", "start_at": "2026-12-08T15:00:00Z"}),
    )
    .await;
    create(
        &fang.api,
        "meeting",
        json!({"subject": "明天的拜访", "start_at": "2026-12-10T01:00:00Z"}),
    )
    .await;

    let owner = page(&fang.web, "/my-day").await;
    owner
        .assert_contains("Meetings today (1)")
        .assert_contains(&format!("<a href=\"/o/meeting/{meeting}\">方案汇报</a>"))
        .assert_contains("10:00–11:30")
        .assert_contains("Where: 深圳总部")
        .assert_contains(&format!("<a href=\"/o/account/{account}\">招商银行</a>"))
        .assert_contains(&format!("<a href=\"/o/contact/{contact}\">李娜</a>"))
        .assert_not_contains("昨晚的复盘")
        .assert_not_contains("明天的拜访");

    // before the invitation the colleague sees nothing of it
    page(&qiang.web, "/my-day")
        .await
        .assert_contains("No meetings today.")
        .assert_not_contains("方案汇报");
    let invitation = id_of(
        &create(
            &fang.api,
            "meeting_attendee",
            json!({"meeting_id": meeting, "user_id": qiang.actor.user_id.0.to_string()}),
        )
        .await,
    );
    create(
        &fang.api,
        "meeting_attendee",
        json!({"meeting_id": meeting, "contact_id": contact}),
    )
    .await;
    // invited, they see the meeting; the customer's records stay the owner's
    page(&qiang.web, "/my-day")
        .await
        .assert_contains("Meetings today (1)")
        .assert_contains(&format!("<a href=\"/o/meeting/{meeting}\">方案汇报</a>"))
        .assert_contains("Where: 深圳总部")
        .assert_not_contains(&format!("/o/account/{account}"));
    page(&outsider.web, "/my-day")
        .await
        .assert_contains("Meetings today (0)")
        .assert_not_contains("方案汇报");

    // uninvited again, it is gone from their day
    fang.api
        .delete(&format!("/api/v1/records/meeting_attendee/{invitation}"))
        .await;
    page(&qiang.web, "/my-day")
        .await
        .assert_contains("Meetings today (0)")
        .assert_not_contains("方案汇报");
}

#[tokio::test]
async fn the_calendar_places_activities_on_the_viewers_days_by_week_and_month() {
    let (app, _clock, _runner) = common::app_on_clock(now(), 1).await;
    let fang = rep(&app, "wang.fang@example.com", "王芳").await;
    let qiang = rep(&app, "li.qiang@example.com", "李强").await;
    let meeting = id_of(
        &create(
            &fang.api,
            "meeting",
            json!({"subject": "方案汇报", "start_at": "2026-12-09T02:00:00Z"}),
        )
        .await,
    );
    // 23:00 on the 8th in Shanghai (15:00 UTC)
    create(
        &fang.api,
        "meeting",
        json!({"subject": "昨晚的复盘", "start_at": "2026-12-08T15:00:00Z"}),
    )
    .await;
    let contract = id_of(
        &create(
            &fang.api,
            "task",
            json!({"subject": "Send the contract", "due_date": "2026-12-11"}),
        )
        .await,
    );
    for i in 1..=7 {
        create(
            &fang.api,
            "task",
            json!({"subject": format!("Follow-up {i}"), "due_date": "2026-12-15"}),
        )
        .await;
    }
    create(
        &qiang.api,
        "meeting",
        json!({"subject": "李强的会议", "start_at": "2026-12-09T06:00:00Z"}),
    )
    .await;

    // the week of today, Monday first, today marked
    let week = page(&fang.web, "/calendar").await;
    week.assert_contains("Dec 7, 2026 – Dec 13, 2026")
        .assert_contains("<a href=\"/calendar\" aria-current=\"page\">Calendar</a>")
        .assert_not_contains("李强的会议");
    assert!(
        week.html.find("id=\"day-2026-12-07\"") < week.html.find("id=\"day-2026-12-13\""),
        "Monday comes first"
    );
    let wednesday = day(&week, "2026-12-09");
    assert!(wednesday.contains("aria-current=\"date\""), "{wednesday}");
    assert!(
        wednesday.contains(&format!("href=\"/o/meeting/{meeting}\""))
            && wednesday.contains("<span class=\"when\">10:00</span> 方案汇报"),
        "{wednesday}"
    );
    let tuesday = day(&week, "2026-12-08");
    assert!(tuesday.contains("昨晚的复盘"), "{tuesday}");
    assert!(!tuesday.contains("方案汇报"), "{tuesday}");
    assert!(
        day(&week, "2026-12-11").contains(&format!("href=\"/o/task/{contract}\"")),
        "the task on its due date"
    );
    assert!(day(&week, "2026-12-10").contains("Nothing scheduled."));

    // everything the rep may see: still not a colleague's private meeting
    page(&fang.web, "/calendar?view=week&date=2026-12-09&owner=all")
        .await
        .assert_not_contains("李强的会议")
        .assert_contains("方案汇报");
    // an administrator sees everyone's with owner=all, and none of them as their own
    let admin = app.web_as(&app.admin().await, PASSWORD).await;
    page(&admin, "/calendar?view=week&date=2026-12-09")
        .await
        .assert_not_contains("李强的会议");
    page(&admin, "/calendar?view=week&date=2026-12-09&owner=all")
        .await
        .assert_contains("李强的会议")
        .assert_contains("方案汇报");

    // the month: whole weeks, a capped day, links to the months around it
    let month = page(&fang.web, "/calendar?view=month&date=2026-12-09").await;
    month
        .assert_contains("December 2026")
        .assert_contains("id=\"day-2026-11-30\"")
        .assert_contains("id=\"day-2027-01-03\"")
        .assert_not_contains("id=\"day-2027-01-04\"")
        .assert_contains("rel=\"prev\"")
        .assert_contains("rel=\"next\"");
    let prev = link_before(&month, "rel=\"prev\"");
    let next = link_before(&month, "rel=\"next\"");
    assert!(
        prev.contains("view=month") && prev.contains("date=2026-11-01"),
        "{prev}"
    );
    assert!(
        next.contains("view=month") && next.contains("date=2027-01-01"),
        "{next}"
    );
    let busy = day(&month, "2026-12-15");
    assert_eq!(busy.matches("class=\"cal-item task").count(), 5, "{busy}");
    assert!(
        busy.contains("+2 more") && busy.contains("view=day"),
        "{busy}"
    );
    assert!(day(&month, "2026-12-09").contains("方案汇报"));
    page(&fang.web, "/calendar?view=month&date=2027-01-01")
        .await
        .assert_contains("January 2027")
        .assert_not_contains("方案汇报");
    // the day behind "+2 more" shows them all
    let all = page(&fang.web, "/calendar?view=day&date=2026-12-15").await;
    all.assert_contains("Tuesday, Dec 15, 2026");
    for i in 1..=7 {
        all.assert_contains(&format!("Follow-up {i}"));
    }
}

/// The `href` of the link whose attributes include `marker`.
fn link_before(page: &Page, marker: &str) -> String {
    let at = page.html.find(marker).expect("the link");
    let start = page.html[..at].rfind("href=\"").expect("its href") + 6;
    let end = page.html[start..].find('"').expect("the end of the href") + start;
    page.html[start..end]
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn my_day_and_the_calendar_speak_chinese() {
    let (app, _clock, _runner) = common::app_on_clock(now(), 1).await;
    let fang = rep(&app, "wang.fang@example.com", "王芳").await;
    create(
        &fang.api,
        "meeting",
        json!({"subject": "方案汇报", "start_at": "2026-12-09T02:00:00Z", "location": "深圳总部"}),
    )
    .await;
    fang.web
        .submit(
            "/my-day",
            "/lang",
            &[("lang", "zh-CN"), ("back", "/my-day")],
        )
        .await
        .assert_status(303);

    page(&fang.web, "/my-day")
        .await
        .assert_contains("<html lang=\"zh-CN\">")
        .assert_contains("我的一天 · 2026年12月9日 星期三")
        .assert_contains(">日历</a>")
        .assert_contains("逾期任务（0）")
        .assert_contains("没有逾期任务，做得好。")
        .assert_contains("今天没有到期的任务。")
        .assert_contains("今日会议（1）")
        .assert_contains("地点：深圳总部")
        .assert_contains("今天还没有记录通话。")
        .assert_contains("记录通话");
    let month = page(&fang.web, "/calendar?view=month").await;
    month
        .assert_contains("2026年12月")
        .assert_contains("上个月")
        .assert_contains("下个月")
        .assert_contains("<th scope=\"col\">一</th>")
        .assert_contains("我的")
        .assert_contains("方案汇报");
    page(&fang.web, "/calendar?view=week&date=2026-12-09")
        .await
        .assert_contains("2026年12月7日 – 2026年12月13日")
        .assert_contains("周三 9日")
        .assert_contains("暂无安排。");
}
