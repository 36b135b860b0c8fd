//! What a user has to do and to attend, day by day — tasks by due date, meetings by start —
//! for My day, the calendar and the home page. Everything is read through the record
//! service, so a page shows only what the viewer may see; days are the viewer's own, in
//! their time zone. Nothing here writes.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::json;

use relata_core::fields;
use relata_core::records::ListRequest;
use relata_core::records::read::ListPage;
use relata_domain::access::Operation;
use relata_domain::activity::{self, ATTENDEE, MEETING, TASK};
use relata_domain::filter::{Filter, Op};
use relata_domain::meta::ObjectDef;
use relata_domain::{Record, Value};

use super::cells::{Cell, Names, cell};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::session::Viewer;
use crate::state::WebState;

/// Statuses of a task nobody needs to act on today: done, or put off on purpose.
pub const SETTLED_TASK: [&str; 2] = [activity::COMPLETED, "deferred"];

/// The customer and deal an activity is about, shown as links beside it.
const ABOUT: [&str; 4] = ["account_id", "contact_id", "lead_id", "opportunity_id"];

/// Most records of one object a page reads for a stretch of days.
pub const MOST: usize = 500;

pub fn cond(field: &str, op: Op, value: serde_json::Value) -> Filter {
    Filter::Cond {
        field: field.to_owned(),
        op,
        value,
    }
}

/// Records the viewer owns.
pub fn owned_by_viewer(viewer: &Viewer) -> Filter {
    cond(
        "owner_id",
        Op::Eq,
        json!(viewer.actor.user_id.0.to_string()),
    )
}

/// Today in the viewer's time zone, by the server's clock.
pub fn today(state: &WebState, viewer: &Viewer) -> NaiveDate {
    state
        .core
        .clock
        .now()
        .with_timezone(&viewer.fmt.tz)
        .date_naive()
}

/// The moment day `d` begins in zone `tz`. A zone whose clocks skip midnight (a DST change
/// at 00:00) begins that day at the first minute it has.
pub fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_time(NaiveTime::MIN);
    let local = match midnight.and_local_timezone(tz) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
        LocalResult::None => (1..=3)
            .filter_map(|h| {
                (midnight + Duration::hours(h))
                    .and_local_timezone(tz)
                    .earliest()
            })
            .next(),
    };
    local.map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// `day_start` as a filter operand.
pub fn day_start_value(tz: Tz, d: NaiveDate) -> serde_json::Value {
    json!(relata_domain::value::format_datetime(&day_start(tz, d)))
}

/// Monday of the week of `d`.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

pub fn date_value(d: NaiveDate) -> serde_json::Value {
    json!(d.format("%Y-%m-%d").to_string())
}

/// The day's name in the viewer's language ("Monday", "星期一").
pub fn weekday_name(tr: Tr, day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => tr.t("agenda.monday"),
        Weekday::Tue => tr.t("agenda.tuesday"),
        Weekday::Wed => tr.t("agenda.wednesday"),
        Weekday::Thu => tr.t("agenda.thursday"),
        Weekday::Fri => tr.t("agenda.friday"),
        Weekday::Sat => tr.t("agenda.saturday"),
        Weekday::Sun => tr.t("agenda.sunday"),
    }
}

/// The short name a calendar's column carries ("Mon", "一").
pub fn weekday_short(tr: Tr, day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => tr.t("agenda.mon"),
        Weekday::Tue => tr.t("agenda.tue"),
        Weekday::Wed => tr.t("agenda.wed"),
        Weekday::Thu => tr.t("agenda.thu"),
        Weekday::Fri => tr.t("agenda.fri"),
        Weekday::Sat => tr.t("agenda.sat"),
        Weekday::Sun => tr.t("agenda.sun"),
    }
}

/// Whose activities a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// Tasks the viewer owns; meetings they own or are invited to.
    Mine,
    /// Everything the viewer may see.
    Visible,
}

/// A page of activities, with how many match in all when that was counted.
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: Option<i64>,
    /// More match than were read.
    pub more: bool,
}

impl<T> Listed<T> {
    /// How many match: the count when there is one, else what was read.
    pub fn count(&self) -> i64 {
        self.total
            .unwrap_or_else(|| i64::try_from(self.items.len()).unwrap_or(i64::MAX))
    }
}

pub struct TaskEntry {
    pub id: String,
    pub version: i64,
    pub subject: String,
    pub due: Option<NaiveDate>,
    pub due_text: String,
    pub status: String,
    pub priority: String,
    pub done: bool,
    pub about: Vec<Cell>,
}

pub struct MeetingEntry {
    pub id: String,
    pub subject: String,
    /// The day it starts on, in the viewer's zone.
    pub day: NaiveDate,
    /// `09:30` (its start), and `09:30–11:00` when it has an end that day.
    pub start: String,
    pub span: String,
    /// "Where: …", or empty when it has no location.
    pub location: String,
    pub status: String,
    pub cancelled: bool,
    pub about: Vec<Cell>,
}

/// Which of `object` the viewer may list by `field`: none when they may not read the
/// object or the field (filtering on a hidden field is refused).
fn listable(
    state: &WebState,
    viewer: &Viewer,
    object: &str,
    field: &str,
) -> Option<std::sync::Arc<ObjectDef>> {
    if !viewer.actor.may(object, Operation::Read) {
        return None;
    }
    let def = state.core.object(object).ok()?;
    fields::readable(&viewer.actor, &def, field).then_some(def)
}

fn text(record: &Record, field: &str) -> String {
    match record.get(field) {
        Value::Text(s) => s.clone(),
        _ => String::new(),
    }
}

fn title(tr: Tr, record: &Record, field: &str) -> String {
    let t = text(record, field);
    if t.trim().is_empty() {
        tr.t("value.untitled").to_owned()
    } else {
        t
    }
}

fn picklist_label(viewer: &Viewer, object: &ObjectDef, record: &Record, field: &str) -> String {
    match (object.field(field), record.get(field)) {
        (Some(def), Value::Text(v)) => viewer.tr().pick_label(object, def, v),
        _ => String::new(),
    }
}

/// The records `ABOUT` names, as links, for each record (those the viewer may not see are
/// left out).
/// One page of `object`'s records matching `filter` by `sort` (counted, capped, when asked),
/// with what each is about.
async fn read_page(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    filter: Filter,
    sort: &str,
    limit: usize,
    count: bool,
) -> Result<(ListPage, Vec<Vec<Cell>>), WebError> {
    let request = ListRequest {
        filter: Some(filter),
        sort: Some(sort.into()),
        limit: Some(limit.min(state.core.settings.max_page_size)),
        count,
        count_cap: count.then_some(10_000),
        ..ListRequest::default()
    };
    let (_, page) = state
        .core
        .list_records(&viewer.actor, object.name(), request)
        .await
        .map_err(|e| WebError::core(e, viewer.tr()))?;
    let about = about(state, viewer, object, &page.records).await;
    Ok((page, about))
}

async fn about(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    records: &[Record],
) -> Vec<Vec<Cell>> {
    let links: Vec<_> = ABOUT
        .iter()
        .filter_map(|n| object.field(n))
        .filter(|f| fields::readable(&viewer.actor, object, f.name()))
        .collect();
    let refs: Vec<&Record> = records.iter().collect();
    let names = Names::resolve(state, viewer, &refs, &links).await;
    records
        .iter()
        .map(|r| {
            links
                .iter()
                .filter(|f| !r.get(f.name()).is_null())
                .map(|f| cell(viewer, object, f, r, &names))
                .filter(|c| c.href.is_some())
                .collect()
        })
        .collect()
}

/// Tasks matching `when`, by due date; `None` when the viewer may not list tasks by due
/// date. `count` asks for the number that match in all.
pub async fn tasks(
    state: &WebState,
    viewer: &Viewer,
    whose: Whose,
    when: Filter,
    limit: usize,
    count: bool,
) -> Result<Option<Listed<TaskEntry>>, WebError> {
    let Some(object) = listable(state, viewer, TASK, activity::DUE_DATE) else {
        return Ok(None);
    };
    let tr = viewer.tr();
    let filter = match whose {
        Whose::Mine => Filter::And(vec![owned_by_viewer(viewer), when]),
        Whose::Visible => when,
    };
    let (page, mut about) = read_page(
        state,
        viewer,
        &object,
        filter,
        activity::DUE_DATE,
        limit,
        count,
    )
    .await?;
    let items = page
        .records
        .iter()
        .zip(about.iter_mut())
        .map(|(r, about)| {
            let due = match r.get(activity::DUE_DATE) {
                Value::Date(d) => Some(*d),
                _ => None,
            };
            TaskEntry {
                id: r.id().map(|i| i.to_string()).unwrap_or_default(),
                version: r.version(),
                subject: title(tr, r, object.name_field.as_str()),
                due,
                due_text: due.map(|d| viewer.fmt.date(&d)).unwrap_or_default(),
                status: picklist_label(viewer, &object, r, activity::STATUS),
                priority: picklist_label(viewer, &object, r, "priority"),
                done: text(r, activity::STATUS) == activity::COMPLETED,
                about: std::mem::take(about),
            }
        })
        .collect();
    Ok(Some(Listed {
        items,
        total: page.total,
        more: page.next_cursor.is_some(),
    }))
}

/// Tasks due on days `from` up to (not including) `to`.
pub fn due_between(from: NaiveDate, to: NaiveDate) -> Filter {
    Filter::And(vec![
        cond(activity::DUE_DATE, Op::Gte, date_value(from)),
        cond(activity::DUE_DATE, Op::Lt, date_value(to)),
    ])
}

/// Meetings that start on days `from` up to (not including) `to` of the viewer's zone, by
/// start; `None` when the viewer may not list meetings by their start.
pub async fn meetings(
    state: &WebState,
    viewer: &Viewer,
    whose: Whose,
    from: NaiveDate,
    to: NaiveDate,
    limit: usize,
    count: bool,
) -> Result<Option<Listed<MeetingEntry>>, WebError> {
    let Some(object) = listable(state, viewer, MEETING, activity::START_AT) else {
        return Ok(None);
    };
    let tr = viewer.tr();
    let tz = viewer.fmt.tz;
    let mut all = vec![
        cond(activity::START_AT, Op::Gte, day_start_value(tz, from)),
        cond(activity::START_AT, Op::Lt, day_start_value(tz, to)),
    ];
    if whose == Whose::Mine {
        let mut mine = vec![owned_by_viewer(viewer)];
        // invited as a colleague: the invitation shares the meeting with them, and the
        // record service still decides what they see
        if listable(state, viewer, ATTENDEE, "user_id").is_some() {
            mine.push(Filter::Related {
                object: ATTENDEE.to_owned(),
                via: Some("meeting_id".to_owned()),
                exists: true,
                filter: Box::new(cond(
                    "user_id",
                    Op::Eq,
                    json!(viewer.actor.user_id.0.to_string()),
                )),
            });
        }
        all.push(Filter::Or(mine));
    }
    let filter = Filter::And(all);
    let (page, mut about) = read_page(
        state,
        viewer,
        &object,
        filter,
        activity::START_AT,
        limit,
        count,
    )
    .await?;
    let items = page
        .records
        .iter()
        .zip(about.iter_mut())
        .filter_map(|(r, about)| {
            let Value::Datetime(start) = r.get(activity::START_AT) else {
                return None;
            };
            let start = start.with_timezone(&tz);
            let start_text = start.format("%H:%M").to_string();
            let span = match r.get(activity::END_AT) {
                Value::Datetime(end) => {
                    let end = end.with_timezone(&tz);
                    if end.date_naive() == start.date_naive() {
                        format!("{start_text}–{}", end.format("%H:%M"))
                    } else {
                        format!(
                            "{start_text}–{}",
                            viewer.fmt.datetime(&end.with_timezone(&Utc))
                        )
                    }
                }
                _ => start_text.clone(),
            };
            Some(MeetingEntry {
                id: r.id().map(|i| i.to_string()).unwrap_or_default(),
                subject: title(tr, r, object.name_field.as_str()),
                day: start.date_naive(),
                start: start_text,
                span,
                location: match text(r, "location") {
                    place if place.trim().is_empty() => String::new(),
                    place => tr.tf("agenda.location", &[("place", &place)]),
                },
                status: picklist_label(viewer, &object, r, activity::STATUS),
                cancelled: text(r, activity::STATUS) == "cancelled",
                about: std::mem::take(about),
            })
        })
        .collect();
    Ok(Some(Listed {
        items,
        total: page.total,
        more: page.next_cursor.is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_local_midnight_or_the_first_minute_the_zone_has() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap_or(Tz::UTC);
        assert_eq!(
            day_start(shanghai, d).to_rfc3339(),
            "2026-12-06T16:00:00+00:00"
        );
        // Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11
        let santiago: Tz = "America/Santiago".parse().unwrap_or(Tz::UTC);
        let skipped = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap_or_default();
        assert_eq!(
            day_start(santiago, skipped).to_rfc3339(),
            "2022-09-11T04:00:00+00:00"
        );
    }
}
