//! The calendar (日历): tasks by due date and meetings by start, a day, a week (from Monday)
//! or a month at a time, in the viewer's time zone. The viewer's own by default (tasks they
//! own, meetings they own or are invited to); `owner=all` shows everything they may see.
//! Plain links move between periods and views, so it works without JavaScript.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};
use serde::Deserialize;

use super::agenda::{self, Whose, week_start};
use super::{Chrome, html};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::Viewer;
use crate::state::WebState;

/// Most items a day of the month grid shows; the rest are behind "+N more".
const MONTH_DAY_ITEMS: usize = 5;

#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    view: Option<String>,
    date: Option<String>,
    owner: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Day,
    Week,
    Month,
}

impl View {
    const ALL: [View; 3] = [View::Day, View::Week, View::Month];

    fn parse(s: Option<&str>) -> View {
        match s {
            Some("day") => View::Day,
            Some("month") => View::Month,
            _ => View::Week,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            View::Day => "day",
            View::Week => "week",
            View::Month => "month",
        }
    }

    fn label(self, tr: Tr) -> &'static str {
        match self {
            View::Day => tr.t("calendar.day"),
            View::Week => tr.t("calendar.week"),
            View::Month => tr.t("calendar.month"),
        }
    }

    /// What the links to the periods before and after say.
    fn steps(self, tr: Tr) -> (&'static str, &'static str) {
        match self {
            View::Day => (tr.t("calendar.previous_day"), tr.t("calendar.next_day")),
            View::Week => (tr.t("calendar.previous_week"), tr.t("calendar.next_week")),
            View::Month => (tr.t("calendar.previous_month"), tr.t("calendar.next_month")),
        }
    }

    /// The days the view shows around `date`: [from, to).
    fn range(self, date: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            View::Day => (date, date + Duration::days(1)),
            View::Week => {
                let monday = week_start(date);
                (monday, monday + Duration::days(7))
            }
            View::Month => {
                let first = first_of_month(date);
                let last = first
                    .checked_add_months(Months::new(1))
                    .map_or(first, |next| next - Duration::days(1));
                (week_start(first), week_start(last) + Duration::days(7))
            }
        }
    }

    /// The date the view shows `step` periods (one back: -1) from `date`.
    fn shift(self, date: NaiveDate, step: i64) -> NaiveDate {
        match self {
            View::Day => date + Duration::days(step),
            View::Week => date + Duration::weeks(step),
            View::Month => {
                let first = first_of_month(date);
                let moved = if step < 0 {
                    first.checked_sub_months(Months::new(1))
                } else {
                    first.checked_add_months(Months::new(1))
                };
                moved.unwrap_or(first)
            }
        }
    }
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub struct Item {
    pub href: String,
    /// A meeting's start; empty for a task.
    pub time: String,
    pub title: String,
    /// `task` or `meeting`, for the stylesheet.
    pub kind: &'static str,
    pub kind_label: String,
    /// A task done or a meeting cancelled.
    pub settled: bool,
}

pub struct Day {
    pub iso: String,
    /// "Mon 7" above a day of the week view, the whole date in the day view.
    pub label: String,
    pub number: u32,
    pub today: bool,
    /// In the month shown (the month grid also shows the ends of its neighbours).
    pub in_month: bool,
    /// This day in the day view.
    pub href: String,
    pub items: Vec<Item>,
    /// "+N more" when the month grid shows only the first items.
    pub more: Option<String>,
}

pub struct Link {
    pub label: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    heading: String,
    view: &'static str,
    prev_href: String,
    prev_label: &'static str,
    next_href: String,
    next_label: &'static str,
    today_href: String,
    views: Vec<Link>,
    owners: Vec<Link>,
    weekdays: Vec<&'static str>,
    weeks: Vec<Vec<Day>>,
    /// More tasks or meetings fall in the period than the page read.
    truncated: bool,
}

fn heading(viewer: &Viewer, view: View, date: NaiveDate, from: NaiveDate) -> String {
    let tr = viewer.tr();
    match view {
        View::Day => tr.tf(
            "agenda.day_title",
            &[
                ("weekday", agenda::weekday_name(tr, date.weekday())),
                ("date", &viewer.fmt.date(&date)),
            ],
        ),
        View::Week => tr.tf(
            "calendar.week_title",
            &[
                ("from", &viewer.fmt.date(&from)),
                ("to", &viewer.fmt.date(&(from + Duration::days(6)))),
            ],
        ),
        View::Month if tr.is_zh() => format!("{}年{}月", date.year(), date.month()),
        View::Month => date.format("%B %Y").to_string(),
    }
}

pub async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let today = agenda::today(&state, &viewer);
    let view = View::parse(q.view.as_deref());
    // a date that does not parse shows today, as a bare /calendar does
    let date = q
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .unwrap_or(today);
    let everyone = q.owner.as_deref() == Some("all");
    let whose = if everyone {
        Whose::Visible
    } else {
        Whose::Mine
    };
    let href = |view: View, date: NaiveDate, everyone: bool| {
        format!(
            "/calendar?view={}&date={}{}",
            view.as_str(),
            iso(date),
            if everyone { "&owner=all" } else { "" }
        )
    };
    let (from, to) = view.range(date);

    let tasks = agenda::tasks(
        &state,
        &viewer,
        whose,
        agenda::due_between(from, to),
        agenda::MOST,
        false,
    )
    .await?;
    let meetings = agenda::meetings(&state, &viewer, whose, from, to, agenda::MOST, false).await?;
    let truncated =
        tasks.as_ref().is_some_and(|t| t.more) || meetings.as_ref().is_some_and(|m| m.more);
    let task_label = tr.t("calendar.task");
    let meeting_label = tr.t("calendar.meeting");

    let mut weeks: Vec<Vec<Day>> = Vec::new();
    let mut day = from;
    while day < to {
        let mut items: Vec<Item> = tasks
            .iter()
            .flat_map(|l| l.items.iter())
            .filter(|t| t.due == Some(day))
            .map(|t| Item {
                href: format!("/o/task/{}", t.id),
                time: String::new(),
                title: t.subject.clone(),
                kind: "task",
                kind_label: task_label.to_owned(),
                settled: t.done,
            })
            .chain(
                meetings
                    .iter()
                    .flat_map(|l| l.items.iter())
                    .filter(|m| m.day == day)
                    .map(|m| Item {
                        href: format!("/o/meeting/{}", m.id),
                        time: m.start.clone(),
                        title: m.subject.clone(),
                        kind: "meeting",
                        kind_label: meeting_label.to_owned(),
                        settled: m.cancelled,
                    }),
            )
            .collect();
        let more = (view == View::Month && items.len() > MONTH_DAY_ITEMS).then(|| {
            let hidden = items.len() - MONTH_DAY_ITEMS;
            items.truncate(MONTH_DAY_ITEMS);
            let hidden = i64::try_from(hidden).unwrap_or(i64::MAX);
            tr.tf("calendar.more", &[("n", &viewer.fmt.integer(hidden))])
        });
        let label = match view {
            View::Day => viewer.fmt.date(&day),
            _ => tr.tf(
                "calendar.week_day",
                &[
                    ("weekday", agenda::weekday_short(tr, day.weekday())),
                    ("day", &day.day().to_string()),
                ],
            ),
        };
        let the_day = Day {
            iso: iso(day),
            label,
            number: day.day(),
            today: day == today,
            in_month: view != View::Month || day.month() == date.month(),
            href: href(View::Day, day, everyone),
            items,
            more,
        };
        match weeks.last_mut() {
            Some(week) if week.len() < 7 => week.push(the_day),
            _ => weeks.push(vec![the_day]),
        }
        day += Duration::days(1);
    }

    let title = tr.t("calendar.title").to_owned();
    let page = CalendarPage {
        chrome: Chrome::new(&state, &viewer, title, "calendar"),
        heading: heading(&viewer, view, date, from),
        view: view.as_str(),
        prev_href: href(view, view.shift(date, -1), everyone),
        prev_label: view.steps(tr).0,
        next_href: href(view, view.shift(date, 1), everyone),
        next_label: view.steps(tr).1,
        today_href: href(view, today, everyone),
        views: View::ALL
            .iter()
            .map(|v| Link {
                label: v.label(tr).to_owned(),
                href: href(*v, date, everyone),
                current: *v == view,
            })
            .collect(),
        owners: [(false, "calendar.mine"), (true, "calendar.everyone")]
            .into_iter()
            .map(|(all, key)| Link {
                label: tr.t(key).to_owned(),
                href: href(view, date, all),
                current: all == everyone,
            })
            .collect(),
        weekdays: [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .into_iter()
        .map(|d| agenda::weekday_short(tr, d))
        .collect(),
        weeks,
        truncated,
    };
    Ok(html(page.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn weeks_start_on_monday_and_months_fill_whole_weeks() {
        // Wednesday 9 December 2026
        assert_eq!(
            View::Week.range(d(2026, 12, 9)),
            (d(2026, 12, 7), d(2026, 12, 14))
        );
        // December 2026 runs Tuesday 1 to Thursday 31
        assert_eq!(
            View::Month.range(d(2026, 12, 9)),
            (d(2026, 11, 30), d(2027, 1, 4))
        );
        assert_eq!(View::Month.shift(d(2026, 12, 31), 1), d(2027, 1, 1));
        assert_eq!(View::Month.shift(d(2026, 3, 31), -1), d(2026, 2, 1));
        assert_eq!(View::Week.shift(d(2026, 12, 9), -1), d(2026, 12, 2));
        assert_eq!(View::Day.range(d(2026, 12, 9)).1, d(2026, 12, 10));
    }
}
