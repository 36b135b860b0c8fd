//! The home dashboard: the open pipeline by stage, my open tasks, and new leads per week,
//! each over the records the viewer may see, drawn as SVG on the server.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::json;

use relata_core::records::ListRequest;
use relata_domain::Value;
use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op};

use super::agenda::{self, cond, week_start};
use super::cells::{Cell, Names, cell};
use super::charts::{self, Chart};
use super::{Chrome, html};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

const WEEKS: i64 = 8;
const CLOSED_STAGES: [&str; 2] = ["closed_won", "closed_lost"];

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    greeting: String,
    pipeline: Option<Chart>,
    activities: Option<Chart>,
    leads: Option<Chart>,
    tasks: Option<Vec<(String, Vec<Cell>)>>,
    recent: Vec<super::views::Recent>,
    task_columns: Vec<String>,
    width: u32,
}

async fn pipeline(state: &WebState, viewer: &Viewer) -> Option<Chart> {
    if !viewer.actor.may("opportunity", Operation::Read) {
        return None;
    }
    let tr = viewer.tr();
    let currency = state.core.parse_context().default_currency;
    let filter = Filter::Not(Box::new(cond("stage", Op::In, json!(CLOSED_STAGES))));
    let (object, groups) = state
        .core
        .aggregate(
            &viewer.actor,
            "opportunity",
            "stage",
            Some("amount"),
            Some(filter),
        )
        .await
        .ok()?;
    let buckets = groups.buckets;
    let stage = object.field("stage")?;
    // in the picklist's order, which is the order of the sales process
    let items = stage
        .values
        .iter()
        .filter(|v| !CLOSED_STAGES.contains(&v.value.as_str()))
        .map(|v| {
            let bucket = buckets
                .iter()
                .find(|b| b.key == Value::Text(v.value.clone()));
            let count = bucket.map_or(0, |b| b.count);
            let total = bucket
                .map(|b| crate::format::sum_in(&b.sums, &currency))
                .unwrap_or_default();
            let value = total.to_string().parse::<f64>().unwrap_or(0.0);
            (
                tr.pick_label(&object, stage, &v.value),
                value,
                format!(
                    "{} · {}",
                    viewer.fmt.money(&total, &currency),
                    tr.tf("home.deals", &[("n", &viewer.fmt.integer(count))])
                ),
                Some(format!(
                    "/o/opportunity?f0=stage&o0=eq&v0={}",
                    super::url_component(&v.value)
                )),
            )
        })
        .collect::<Vec<_>>();
    let empty = items.iter().all(|i| i.1 == 0.0);
    let (bars, height) = charts::horizontal(items);
    Some(Chart {
        title: tr.t("home.pipeline").to_owned(),
        href: Some("/dashboard/sales".to_owned()),
        bars,
        height,
        empty,
    })
}

async fn new_leads(state: &WebState, viewer: &Viewer) -> Option<Chart> {
    if !viewer.actor.may("lead", Operation::Read) {
        return None;
    }
    let tr = viewer.tr();
    let today = agenda::today(state, viewer);
    let first = week_start(today) - Duration::weeks(WEEKS - 1);
    let mut items = Vec::new();
    for w in 0..WEEKS {
        let from = first + Duration::weeks(w);
        let to = from + Duration::weeks(1);
        let bound = |d: NaiveDate| agenda::day_start_value(viewer.fmt.tz, d);
        let request = ListRequest {
            filter: Some(Filter::And(vec![
                cond("created_at", Op::Gte, bound(from)),
                cond("created_at", Op::Lt, bound(to)),
            ])),
            limit: Some(1),
            count: true,
            count_cap: Some(100_000),
            ..ListRequest::default()
        };
        let (_, page) = state
            .core
            .list_records(&viewer.actor, "lead", request)
            .await
            .ok()?;
        let n = page.total.unwrap_or(0);
        let label = if tr.is_zh() {
            format!("{}/{}", from.month(), from.day())
        } else {
            from.format("%b %-d").to_string()
        };
        items.push((label, n as f64, viewer.fmt.integer(n)));
    }
    let empty = items.iter().all(|i| i.1 == 0.0);
    Some(Chart {
        title: tr.t("home.new_leads").to_owned(),
        href: None,
        bars: charts::vertical(items, 200),
        height: 200,
        empty,
    })
}

/// My open tasks by when they are due: overdue, today, the next seven days, later, undated.
async fn open_activities(state: &WebState, viewer: &Viewer) -> Option<Chart> {
    if !viewer.actor.may("task", Operation::Read) {
        return None;
    }
    let tr = viewer.tr();
    let today = agenda::today(state, viewer);
    let day = agenda::date_value;
    let week = today + Duration::days(7);
    let buckets: [(&str, Filter); 5] = [
        ("home.overdue", cond("due_date", Op::Lt, day(today))),
        ("home.due_today", cond("due_date", Op::Eq, day(today))),
        (
            "home.due_week",
            Filter::And(vec![
                cond("due_date", Op::Gt, day(today)),
                cond("due_date", Op::Lte, day(week)),
            ]),
        ),
        ("home.due_later", cond("due_date", Op::Gt, day(week))),
        (
            "home.no_due_date",
            cond("due_date", Op::IsNull, json!(true)),
        ),
    ];
    let mut items = Vec::new();
    for (key, when) in buckets {
        let request = ListRequest {
            filter: Some(Filter::And(vec![
                agenda::owned_by_viewer(viewer),
                cond(
                    "status",
                    Op::In,
                    json!(["not_started", "in_progress", "deferred"]),
                ),
                when,
            ])),
            limit: Some(1),
            count: true,
            count_cap: Some(10_000),
            ..ListRequest::default()
        };
        let (_, page) = state
            .core
            .list_records(&viewer.actor, "task", request)
            .await
            .ok()?;
        let n = page.total.unwrap_or(0);
        items.push((tr.t(key).to_owned(), n as f64, viewer.fmt.integer(n), None));
    }
    let empty = items.iter().all(|i| i.1 == 0.0);
    let (bars, height) = charts::horizontal(items);
    Some(Chart {
        title: tr.t("home.open_activities").to_owned(),
        href: None,
        bars,
        height,
        empty,
    })
}

async fn my_tasks(
    state: &WebState,
    viewer: &Viewer,
) -> Option<(Vec<(String, Vec<Cell>)>, Vec<String>)> {
    if !viewer.actor.may("task", Operation::Read) {
        return None;
    }
    let tr = viewer.tr();
    let object = state.core.object("task").ok()?;
    let request = ListRequest {
        filter: Some(Filter::And(vec![
            agenda::owned_by_viewer(viewer),
            cond(
                "status",
                Op::In,
                json!(["not_started", "in_progress", "deferred"]),
            ),
        ])),
        sort: Some("due_date".into()),
        limit: Some(8),
        ..ListRequest::default()
    };
    let (_, page) = state
        .core
        .list_records(&viewer.actor, "task", request)
        .await
        .ok()?;
    let fields: Vec<_> = ["subject", "due_date", "status", "priority"]
        .iter()
        .filter_map(|n| object.field(n))
        .filter(|f| relata_core::fields::readable(&viewer.actor, &object, f.name()))
        .collect();
    let refs: Vec<_> = page.records.iter().collect();
    let names = Names::resolve(state, viewer, &refs, &fields).await;
    let rows = page
        .records
        .iter()
        .map(|r| {
            (
                r.id().map(|i| i.to_string()).unwrap_or_default(),
                fields
                    .iter()
                    .map(|f| cell(viewer, &object, f, r, &names))
                    .collect(),
            )
        })
        .collect();
    Some((
        rows,
        fields.iter().map(|f| tr.field_label(&object, f)).collect(),
    ))
}

pub async fn home(State(state): State<WebState>, viewer: Viewer) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let (tasks, task_columns) = match my_tasks(&state, &viewer).await {
        Some((rows, cols)) => (Some(rows), cols),
        None => (None, Vec::new()),
    };
    let page = HomePage {
        chrome: Chrome::new(&state, &viewer, tr.t("home.title").to_owned(), "home"),
        greeting: tr.tf("home.greeting", &[("name", &viewer.profile.name)]),
        pipeline: pipeline(&state, &viewer).await,
        activities: open_activities(&state, &viewer).await,
        leads: new_leads(&state, &viewer).await,
        tasks,
        recent: super::views::recent(&state, &viewer, 8).await,
        task_columns,
        width: charts::WIDTH,
    };
    Ok(html(page.render()))
}
