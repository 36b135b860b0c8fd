//! The activity objects beside tasks and notes — calls and meetings with their attendees —
//! and the competitors met in deals. Declared like every standard object; installations
//! older than them get them from migration 31.

use super::{
    filterable, lookup, name_field, object, picklist, reminder_at, required, searchable, text,
    tracked, typed,
};
use crate::activity::{self, ATTENDEE, CALL, MEETING};
use crate::api_name::ApiName;
use crate::meta::{FieldDef, FieldType, ObjectDef, Sharing};

/// The customer and deal an activity is about: each shows it on its timeline, and a
/// follow-up moves the pool dates of the lead or account it names.
fn about() -> Vec<FieldDef> {
    vec![
        lookup("account_id", "Account", "account"),
        lookup("contact_id", "Contact", "contact"),
        lookup("lead_id", "Lead", "lead"),
        lookup("opportunity_id", "Opportunity", "opportunity"),
    ]
}

fn with_default(mut f: FieldDef, value: &str) -> FieldDef {
    f.default = Some(serde_json::Value::String(value.to_owned()));
    f
}

/// A call logged (通话记录): when, which way, how long, how it ended.
pub fn call() -> ObjectDef {
    let mut duration = typed("duration_minutes", "Duration (minutes)", FieldType::Integer);
    duration.min = Some(0.into());
    duration.max = Some(1440.into());
    let mut fields = vec![
        name_field("subject", "Subject"),
        with_default(
            picklist("direction", "Direction", activity::CALL_DIRECTIONS),
            "outbound",
        ),
        filterable(typed(activity::CALL_AT, "Call time", FieldType::Datetime)),
        duration,
        tracked(picklist(
            activity::OUTCOME,
            "Outcome",
            activity::CALL_OUTCOMES,
        )),
    ];
    fields.extend(about());
    fields.push(typed("description", "Notes", FieldType::LongText));
    object(CALL, "Call", "Calls", "subject", fields)
}

/// A meeting (会议/拜访): when and where, who came, whether it was held.
pub fn meeting() -> ObjectDef {
    let mut fields = vec![
        name_field("subject", "Subject"),
        required(filterable(typed(
            activity::START_AT,
            "Starts at",
            FieldType::Datetime,
        ))),
        filterable(typed(activity::END_AT, "Ends at", FieldType::Datetime)),
        text("location", "Location"),
        with_default(
            tracked(picklist(
                activity::STATUS,
                "Status",
                activity::MEETING_STATUSES,
            )),
            "planned",
        ),
        reminder_at(),
    ];
    fields.extend(about());
    fields.push(typed(
        "description",
        "Agenda and minutes",
        FieldType::LongText,
    ));
    object(MEETING, "Meeting", "Meetings", "subject", fields)
}

/// The name a junction record is shown by: the person's or competitor's own, copied by the
/// write path when the write gives none (`activity::NAMED_BY`).
fn attendee_name() -> FieldDef {
    searchable(text("name", "Name"))
}

/// One person at a meeting: a colleague (user) or a customer's contact. Visible with its
/// meeting.
pub fn meeting_attendee() -> ObjectDef {
    let mut o = object(
        ATTENDEE,
        "Meeting attendee",
        "Meeting attendees",
        "name",
        vec![
            attendee_name(),
            required(lookup("meeting_id", "Meeting", MEETING)),
            FieldDef {
                filterable: true,
                ..typed("user_id", "User", FieldType::UserLookup)
            },
            filterable(lookup("contact_id", "Contact", "contact")),
            with_default(
                picklist("response", "Response", activity::ATTENDEE_RESPONSES),
                "invited",
            ),
        ],
    );
    o.sharing = Sharing::ControlledByParent {
        field: ApiName::trusted("meeting_id"),
    };
    o
}

/// A competitor (竞争对手) met in deals, shared by everyone who sells.
pub fn competitor() -> ObjectDef {
    let mut o = object(
        "competitor",
        "Competitor",
        "Competitors",
        "name",
        vec![
            name_field("name", "Competitor name"),
            typed("website", "Website", FieldType::Url),
            typed("strengths", "Strengths", FieldType::LongText),
            typed("weaknesses", "Weaknesses", FieldType::LongText),
            typed("description", "Description", FieldType::LongText),
        ],
    );
    o.sharing = Sharing::PublicRead;
    o
}

/// A competitor in one deal: whom the rep is up against, and how it went. Visible with
/// its opportunity.
pub fn opportunity_competitor() -> ObjectDef {
    let mut o = object(
        "opportunity_competitor",
        "Opportunity competitor",
        "Opportunity competitors",
        "name",
        vec![
            attendee_name(),
            required(lookup("opportunity_id", "Opportunity", "opportunity")),
            required(lookup("competitor_id", "Competitor", "competitor")),
            with_default(
                tracked(picklist(
                    "status",
                    "Status",
                    &[
                        ("active", "Still competing"),
                        ("won_against", "Won against"),
                        ("lost_to", "Lost to"),
                    ],
                )),
                "active",
            ),
            searchable(text("their_offer", "Their offer")),
            typed("notes", "Notes", FieldType::LongText),
        ],
    );
    o.sharing = Sharing::ControlledByParent {
        field: ApiName::trusted("opportunity_id"),
    };
    o
}

/// A task that repeats: how often, and until when (migration 31 adds them to tasks).
pub fn task_recurrence_fields() -> Vec<FieldDef> {
    vec![
        picklist(activity::RECURRENCE, "Repeats", activity::RECURRENCES),
        typed(activity::RECURRENCE_END, "Repeats until", FieldType::Date),
    ]
}
