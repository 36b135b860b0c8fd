//! My day (我的一天): what the signed-in user has on today, in their time zone — tasks
//! overdue and due today, each with a one-click Done; today's meetings they own or are
//! invited to; and the calls they logged today. Read through the record service, so only
//! what they may see.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;

use relata_core::fields;
use relata_domain::access::Operation;
use relata_domain::activity::{self, CALL, TASK};
use relata_domain::filter::{Filter, Op};

use super::agenda::{self, Listed, MeetingEntry, TaskEntry, Whose, cond};
use super::{Chrome, html};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// Most tasks a list of the page shows; the rest are a link away.
const TASKS_SHOWN: usize = 50;

/// The calls logged today.
pub struct CallsToday {
    pub heading: String,
    pub summary: String,
    /// Today's calls in the call list.
    pub href: String,
}

#[derive(Template)]
#[template(path = "my_day.html")]
struct MyDayPage {
    chrome: Chrome,
    heading: String,
    overdue: Option<Listed<TaskEntry>>,
    overdue_heading: String,
    due_today: Option<Listed<TaskEntry>>,
    due_today_heading: String,
    meetings: Option<Listed<MeetingEntry>>,
    meetings_heading: String,
    /// The task list, filtered to what a section shows, for when it shows only the first.
    overdue_href: String,
    due_today_href: String,
    calls: Option<CallsToday>,
    /// The viewer may mark their tasks done.
    can_complete: bool,
    can_log_call: bool,
    /// Today in the calendar's day view.
    calendar_href: String,
    done_value: &'static str,
}

/// Open tasks: neither done nor put off.
fn open() -> Filter {
    Filter::Not(Box::new(cond(
        activity::STATUS,
        Op::In,
        serde_json::json!(agenda::SETTLED_TASK),
    )))
}

/// How many a section holds, for its heading (none when the viewer may not see them).
fn count<T>(viewer: &Viewer, listed: &Option<Listed<T>>) -> String {
    viewer.fmt.integer(listed.as_ref().map_or(0, Listed::count))
}

async fn calls_today(
    state: &WebState,
    viewer: &Viewer,
    today: NaiveDate,
) -> Result<Option<CallsToday>, WebError> {
    let tr = viewer.tr();
    if !viewer.actor.may(CALL, Operation::Read) {
        return Ok(None);
    }
    let object = state.core.object(CALL).map_err(|e| WebError::core(e, tr))?;
    if !fields::readable(&viewer.actor, &object, activity::CALL_AT) {
        return Ok(None);
    }
    let tz = viewer.fmt.tz;
    let tomorrow = today + Duration::days(1);
    let filter = Filter::And(vec![
        agenda::owned_by_viewer(viewer),
        cond(
            activity::CALL_AT,
            Op::Gte,
            agenda::day_start_value(tz, today),
        ),
        cond(
            activity::CALL_AT,
            Op::Lt,
            agenda::day_start_value(tz, tomorrow),
        ),
    ]);
    let duration = "duration_minutes";
    let minutes_readable = fields::readable(&viewer.actor, &object, duration);
    // one group: the viewer's own calls, counted and their minutes added up in the database
    let (_, groups) = state
        .core
        .aggregate(
            &viewer.actor,
            CALL,
            "owner_id",
            minutes_readable.then_some(duration),
            Some(filter),
        )
        .await
        .map_err(|e| WebError::core(e, tr))?;
    let count: i64 = groups.buckets.iter().map(|b| b.count).sum();
    let minutes: Decimal = groups
        .buckets
        .iter()
        .flat_map(|b| b.sums.iter().map(|(_, d)| *d))
        .sum();
    let n = viewer.fmt.integer(count);
    let summary = if count == 0 {
        tr.t("my_day.no_calls").to_owned()
    } else if minutes_readable {
        tr.tf(
            "my_day.calls_summary",
            &[("n", &n), ("minutes", &viewer.fmt.number(&minutes))],
        )
    } else {
        tr.tf("my_day.calls_count", &[("n", &n)])
    };
    let day = today.format("%Y-%m-%d");
    Ok(Some(CallsToday {
        heading: tr.tf("my_day.calls", &[("n", &n)]),
        summary,
        href: format!(
            "/o/call?f0=owner_id&o0=eq&v0=me&f1=call_at&o1=gte&v1={day}T00:00&f2=call_at&o2=lt&v2={}T00:00",
            tomorrow.format("%Y-%m-%d")
        ),
    }))
}

pub async fn page(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let today = agenda::today(&state, &viewer);
    let tomorrow = today + Duration::days(1);
    let overdue = agenda::tasks(
        &state,
        &viewer,
        Whose::Mine,
        Filter::And(vec![
            cond(activity::DUE_DATE, Op::Lt, agenda::date_value(today)),
            open(),
        ]),
        TASKS_SHOWN,
        true,
    )
    .await?;
    let due_today = agenda::tasks(
        &state,
        &viewer,
        Whose::Mine,
        Filter::And(vec![
            cond(activity::DUE_DATE, Op::Eq, agenda::date_value(today)),
            open(),
        ]),
        TASKS_SHOWN,
        true,
    )
    .await?;
    let meetings = agenda::meetings(
        &state,
        &viewer,
        Whose::Mine,
        today,
        tomorrow,
        agenda::MOST,
        true,
    )
    .await?;
    let calls = calls_today(&state, &viewer, today).await?;
    let can_complete = viewer.actor.may(TASK, Operation::Edit)
        && state
            .core
            .object(TASK)
            .is_ok_and(|o| fields::editable(&viewer.actor, &o, activity::STATUS));
    // the list page's filter rows: mine, open (`ne` holds for a task without a status)
    let day = today.format("%Y-%m-%d");
    let open_tasks = |due_op: &str| {
        format!(
            "/o/task?f0=owner_id&o0=eq&v0=me&f1=due_date&o1={due_op}&v1={day}\
             &f2=status&o2=ne&v2=completed&f3=status&o3=ne&v3=deferred&sort=due_date"
        )
    };
    let title = tr.t("my_day.title").to_owned();
    let page = MyDayPage {
        chrome: Chrome::new(&state, &viewer, title, "my_day"),
        heading: tr.tf(
            "my_day.heading",
            &[
                ("weekday", agenda::weekday_name(tr, today.weekday())),
                ("date", &viewer.fmt.date(&today)),
            ],
        ),
        overdue_heading: tr.tf("my_day.overdue", &[("n", &count(&viewer, &overdue))]),
        due_today_heading: tr.tf("my_day.due_today", &[("n", &count(&viewer, &due_today))]),
        meetings_heading: tr.tf("my_day.meetings", &[("n", &count(&viewer, &meetings))]),
        overdue_href: open_tasks("lt"),
        due_today_href: open_tasks("eq"),
        overdue,
        due_today,
        meetings,
        calls,
        can_complete,
        can_log_call: viewer.actor.may(CALL, Operation::Create),
        calendar_href: format!("/calendar?view=day&date={day}"),
        done_value: activity::COMPLETED,
    };
    Ok(html(page.render()))
}
