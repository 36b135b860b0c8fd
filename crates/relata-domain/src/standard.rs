//! The standard objects Relata ships with, declared as metadata like any custom object.
//! Later business areas add fields and behaviour to these; the declarations stay data.

mod activities;
mod catalog;
mod contracts;

pub use activities::{
    call, competitor, meeting, meeting_attendee, opportunity_competitor, task_recurrence_fields,
};
pub use catalog::{
    APPROVAL_STATUSES, CHANNELS, QUOTE_STATUSES, catalog_objects, exchange_rate,
    opportunity_line_item, price_book, price_book_entry, price_tier, product_catalog_fields,
    product_category, quote, quote_line_item, quote_objects, tax_category,
};
pub use contracts::{
    contract, contract_objects, invoice, paid_roll_up_field, payment, payment_plan,
};

use crate::api_name::ApiName;
use crate::meta::{FieldDef, FieldType, ObjectDef, PicklistValue, Sharing, TextFormat};
use crate::{lead, opportunity, pool};

/// The system fields every object has, in column order.
pub fn system_fields() -> Vec<FieldDef> {
    let sys = |name: &str, label: &str, t: FieldType, filterable: bool| FieldDef {
        system: true,
        filterable,
        ..FieldDef::new(name, label, t)
    };
    vec![
        sys("id", "ID", FieldType::Id, false),
        sys("owner_id", "Owner", FieldType::UserLookup, true),
        sys("created_at", "Created at", FieldType::Datetime, true),
        sys("created_by", "Created by", FieldType::UserLookup, false),
        sys("updated_at", "Updated at", FieldType::Datetime, true),
        sys("updated_by", "Updated by", FieldType::UserLookup, false),
        sys("version", "Version", FieldType::Integer, false),
    ]
}

fn text(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, FieldType::Text)
}

fn typed(name: &str, label: &str, t: FieldType) -> FieldDef {
    FieldDef::new(name, label, t)
}

/// A name-like field: required, searched, indexed and tracked.
fn name_field(name: &str, label: &str) -> FieldDef {
    FieldDef {
        required: true,
        searchable: true,
        filterable: true,
        tracked: true,
        ..text(name, label)
    }
}

fn searchable(mut f: FieldDef) -> FieldDef {
    f.searchable = true;
    f.filterable = true;
    f
}

fn tracked(mut f: FieldDef) -> FieldDef {
    f.tracked = true;
    f
}

fn filterable(mut f: FieldDef) -> FieldDef {
    f.filterable = true;
    f
}

fn lookup(name: &str, label: &str, target: &str) -> FieldDef {
    FieldDef {
        target: Some(ApiName::trusted(target)),
        ..FieldDef::new(name, label, FieldType::Lookup)
    }
}

fn picklist(name: &str, label: &str, values: &[(&str, &str)]) -> FieldDef {
    FieldDef {
        values: values
            .iter()
            .map(|(v, l)| PicklistValue {
                value: (*v).to_owned(),
                label: (*l).to_owned(),
                active: true,
            })
            .collect(),
        filterable: true,
        ..FieldDef::new(name, label, FieldType::Picklist)
    }
}

fn object(
    name: &str,
    label: &str,
    plural: &str,
    name_field: &str,
    fields: Vec<FieldDef>,
) -> ObjectDef {
    let mut all = system_fields();
    all.extend(fields);
    ObjectDef {
        api_name: ApiName::trusted(name),
        label: label.to_owned(),
        plural_label: plural.to_owned(),
        name_field: ApiName::trusted(name_field),
        standard: true,
        fields: all,
        sharing: Sharing::Private,
        manager_edit: false,
        layout: Vec::new(),
        matching_rule: None,
        conversion_map: None,
        pipelines: None,
    }
}

const INDUSTRIES: &[(&str, &str)] = &[
    ("technology", "Technology"),
    ("manufacturing", "Manufacturing"),
    ("finance", "Finance"),
    ("retail", "Retail"),
    ("healthcare", "Healthcare"),
    ("education", "Education"),
    ("energy", "Energy"),
    ("logistics", "Logistics"),
    ("government", "Government"),
    ("other", "Other"),
];

/// Values of the `source` picklist of leads, contacts, accounts and opportunities, with
/// their English labels (sample data generators pick from these too).
pub const SOURCES: &[(&str, &str)] = &[
    ("web", "Web"),
    ("referral", "Referral"),
    ("event", "Event"),
    ("advertising", "Advertising"),
    ("cold_call", "Cold call"),
    ("partner", "Partner"),
    ("import", "Import"),
    ("other", "Other"),
];

/// 统一社会信用代码: one per registered organisation, so unique, and checked (GB 32100-2015).
pub fn credit_code() -> FieldDef {
    FieldDef {
        unique: true,
        max_length: Some(18),
        format: Some(TextFormat::CnCreditCode),
        ..searchable(text("credit_code", "Unified social credit code"))
    }
}

/// Whom a contact reports to: the lines of an account's organisation chart.
pub fn reports_to() -> FieldDef {
    lookup("reports_to_id", "Reports to", "contact")
}

/// When the owner of an activity is reminded of it, in the app and by email. Any object
/// with a date-and-time field of this name gets reminders (`relata_core::reminders`).
pub fn reminder_at() -> FieldDef {
    filterable(typed(REMINDER_FIELD, "Reminder", FieldType::Datetime))
}

/// The person asked not to be emailed: no mail from Relata reaches them (a template, a
/// rule, a campaign), and unsubscribing from a mail sets it.
pub fn email_opt_out() -> FieldDef {
    filterable(typed(EMAIL_OPT_OUT, "Email opt-out", FieldType::Boolean))
}

/// Where a lead from a web form came from: the campaign parameters of the page the form was
/// opened from (`web_form::UTM_FIELDS`).
pub fn utm_fields() -> Vec<FieldDef> {
    vec![
        filterable(text("utm_source", "UTM source")),
        filterable(text("utm_medium", "UTM medium")),
        filterable(text("utm_campaign", "UTM campaign")),
        text("utm_term", "UTM term"),
        text("utm_content", "UTM content"),
    ]
}

/// A lead's place in its flow (`lead::check_write`); a new lead is `new`.
pub fn lead_status() -> FieldDef {
    let mut status = tracked(picklist(lead::STATUS, "Status", lead::STATUSES));
    status.default = Some(serde_json::Value::String(lead::NEW.to_owned()));
    status
}

/// Why a lead was marked unqualified, and what converting it made: when, and the account,
/// contact and opportunity it became (set by the conversion, never by a client).
pub fn lead_conversion_fields() -> Vec<FieldDef> {
    let system = |mut f: FieldDef| {
        f.system = true;
        f
    };
    vec![
        picklist(
            lead::UNQUALIFIED_REASON,
            "Unqualified reason",
            lead::UNQUALIFIED_REASONS,
        ),
        system(filterable(typed(
            lead::CONVERTED_AT,
            "Converted at",
            FieldType::Datetime,
        ))),
        system(lookup(
            lead::CONVERTED_ACCOUNT,
            "Converted account",
            "account",
        )),
        system(lookup(
            lead::CONVERTED_CONTACT,
            "Converted contact",
            "contact",
        )),
        system(lookup(
            lead::CONVERTED_OPPORTUNITY,
            "Converted opportunity",
            "opportunity",
        )),
    ]
}

/// What pools (公海) keep on a lead or account: its pool, when its owner got it, when it was
/// last followed up, and when its owner was warned (`pool`). Set by the system.
pub fn pool_fields(object: &str) -> Vec<FieldDef> {
    let system = |mut f: FieldDef| {
        f.system = true;
        f
    };
    let mut fields = vec![
        system(filterable(typed(pool::POOL_ID, "Pool", FieldType::Id))),
        system(typed(pool::OWNED_SINCE, "Owned since", FieldType::Datetime)),
        system(filterable(typed(
            pool::LAST_ACTIVITY_AT,
            "Last follow-up",
            FieldType::Datetime,
        ))),
        system(typed(
            pool::WARNED_AT,
            "Pool warning sent",
            FieldType::Datetime,
        )),
    ];
    if object == "account" {
        fields.push(system(typed(
            pool::LAST_WON_AT,
            "Last won deal",
            FieldType::Datetime,
        )));
    }
    fields
}

/// The name of the email opt-out field.
pub const EMAIL_OPT_OUT: &str = "email_opt_out";

/// The name of the reminder field.
pub const REMINDER_FIELD: &str = "reminder_at";

/// The part a contact plays in the customer's buying decision (决策链).
pub fn decision_role() -> FieldDef {
    tracked(picklist("decision_role", "Decision role", DECISION_ROLES))
}

/// Values of a contact's decision role.
pub const DECISION_ROLES: &[(&str, &str)] = &[
    ("decision_maker", "Decision maker"),
    ("economic_buyer", "Economic buyer"),
    ("technical_evaluator", "Technical evaluator"),
    ("influencer", "Influencer"),
    ("champion", "Champion"),
    ("gatekeeper", "Gatekeeper"),
    ("user", "User"),
    ("blocker", "Blocker"),
];

/// The provincial-level division of an address.
pub fn province() -> FieldDef {
    let values: Vec<(&str, &str)> = crate::cn::PROVINCES
        .iter()
        .map(|(value, label, _, _)| (*value, *label))
        .collect();
    picklist("province", "Province", &values)
}

fn account() -> ObjectDef {
    object(
        "account",
        "Account",
        "Accounts",
        "name",
        vec![
            name_field("name", "Account name"),
            credit_code(),
            picklist("industry", "Industry", INDUSTRIES),
            account_level(),
            picklist("source", "Source", SOURCES),
            searchable(typed("phone", "Phone", FieldType::Phone)),
            typed("website", "Website", FieldType::Url),
            searchable(typed("email", "Email", FieldType::Email)),
            typed("annual_revenue", "Annual revenue", FieldType::Currency),
            typed("employees", "Employees", FieldType::Integer),
            filterable(text("region", "Region")),
            province(),
            filterable(text("city", "City")),
            text("address", "Address"),
            lookup("parent_id", "Parent account", "account"),
            typed("description", "Description", FieldType::LongText),
        ]
        .into_iter()
        .chain(pool_fields("account"))
        // last: installations before payment collection got the column appended
        .chain([contracts::paid_roll_up_field()])
        .collect(),
    )
}

/// An account's level; VIP is given by the demo's workflow rule once an account has paid
/// enough (installations before payment collection got the value from migration 34).
pub fn account_level() -> FieldDef {
    tracked(picklist(
        "level",
        "Customer level",
        &[("vip", "VIP"), ("a", "A (key)"), ("b", "B"), ("c", "C")],
    ))
}

fn contact() -> ObjectDef {
    object(
        "contact",
        "Contact",
        "Contacts",
        "name",
        vec![
            name_field("name", "Name"),
            filterable(text("first_name", "First name")),
            filterable(text("last_name", "Last name")),
            lookup("account_id", "Account", "account"),
            text("title", "Title"),
            text("department", "Department"),
            reports_to(),
            decision_role(),
            searchable(typed("email", "Email", FieldType::Email)),
            searchable(typed("phone", "Phone", FieldType::Phone)),
            searchable(typed("mobile", "Mobile", FieldType::Phone)),
            email_opt_out(),
            typed("birthday", "Birthday", FieldType::Date),
            picklist("source", "Source", SOURCES),
            filterable(text("city", "City")),
            typed("description", "Description", FieldType::LongText),
        ],
    )
}

fn lead() -> ObjectDef {
    object(
        "lead",
        "Lead",
        "Leads",
        "name",
        vec![
            name_field("name", "Name"),
            searchable(text("company", "Company")),
            text("title", "Title"),
            searchable(typed("email", "Email", FieldType::Email)),
            searchable(typed("phone", "Phone", FieldType::Phone)),
            searchable(typed("mobile", "Mobile", FieldType::Phone)),
            email_opt_out(),
            lead_status(),
            picklist("source", "Source", SOURCES),
            picklist(
                "rating",
                "Rating",
                &[("hot", "Hot"), ("warm", "Warm"), ("cold", "Cold")],
            ),
            picklist("industry", "Industry", INDUSTRIES),
            filterable(text("city", "City")),
            typed("description", "Description", FieldType::LongText),
        ]
        .into_iter()
        .chain(utm_fields())
        .chain(lead_conversion_fields())
        .chain(pool_fields("lead"))
        .collect(),
    )
}

fn opportunity() -> ObjectDef {
    object(
        "opportunity",
        "Opportunity",
        "Opportunities",
        "name",
        vec![
            name_field("name", "Opportunity name"),
            lookup("account_id", "Account", "account"),
            lookup("contact_id", "Primary contact", "contact"),
            tracked(filterable(typed("amount", "Amount", FieldType::Currency))),
            tracked(picklist(
                opportunity::STAGE,
                "Stage",
                &opportunity::STAGES
                    .iter()
                    .map(|(value, label, _, _)| (*value, *label))
                    .collect::<Vec<_>>(),
            )),
            typed("probability", "Probability", FieldType::Percent),
            tracked(filterable(typed(
                "close_date",
                "Close date",
                FieldType::Date,
            ))),
            picklist(
                "type",
                "Type",
                &[
                    ("new_business", "New business"),
                    ("existing_business", "Existing business"),
                    ("renewal", "Renewal"),
                ],
            ),
            picklist("source", "Source", SOURCES),
            text("next_step", "Next step"),
            typed("description", "Description", FieldType::LongText),
        ]
        .into_iter()
        .chain(opportunity_close_fields())
        // last: installations before pipelines got the column appended
        .chain([pipeline_field()])
        .chain([contracts::paid_roll_up_field()])
        .collect(),
    )
}

/// The pipeline an opportunity follows: one picklist value per pipeline, kept in step with
/// the object's pipelines by the pipeline settings.
/// (Not `required`: a new deal without one is put in the first active pipeline by the
/// write path, after the input's own checks.)
pub fn pipeline_field() -> FieldDef {
    tracked(filterable(picklist(
        opportunity::pipeline::PIPELINE,
        "Pipeline",
        &[(opportunity::pipeline::STANDARD, "New business")],
    )))
}

/// What a stage means for the forecast, when it last changed, and why a deal was won or
/// lost (`opportunity`).
pub fn opportunity_close_fields() -> Vec<FieldDef> {
    let mut changed_at = filterable(typed(
        opportunity::STAGE_CHANGED_AT,
        "Stage changed at",
        FieldType::Datetime,
    ));
    changed_at.system = true;
    vec![
        picklist(
            opportunity::FORECAST_CATEGORY,
            "Forecast category",
            opportunity::FORECAST_CATEGORIES,
        ),
        changed_at,
        picklist(
            opportunity::WIN_REASON,
            "Win reason",
            opportunity::WIN_REASONS,
        ),
        picklist(
            opportunity::LOSS_REASON,
            "Loss reason",
            opportunity::LOSS_REASONS,
        ),
    ]
}

fn task() -> ObjectDef {
    object(
        "task",
        "Task",
        "Tasks",
        "subject",
        vec![
            name_field("subject", "Subject"),
            tracked(picklist(
                "status",
                "Status",
                &[
                    ("not_started", "Not started"),
                    ("in_progress", "In progress"),
                    ("completed", "Completed"),
                    ("deferred", "Deferred"),
                ],
            )),
            picklist(
                "priority",
                "Priority",
                &[("high", "High"), ("normal", "Normal"), ("low", "Low")],
            ),
            filterable(typed("due_date", "Due date", FieldType::Date)),
            reminder_at(),
            lookup("account_id", "Account", "account"),
            lookup("contact_id", "Contact", "contact"),
            lookup("lead_id", "Lead", "lead"),
            lookup("opportunity_id", "Opportunity", "opportunity"),
            typed("description", "Description", FieldType::LongText),
        ]
        .into_iter()
        // last: installations before recurring tasks got the columns appended
        .chain(task_recurrence_fields())
        .collect(),
    )
}

fn note() -> ObjectDef {
    object(
        "note",
        "Note",
        "Notes",
        "title",
        vec![
            name_field("title", "Title"),
            searchable(typed("body", "Body", FieldType::LongText)),
            lookup("account_id", "Account", "account"),
            lookup("contact_id", "Contact", "contact"),
            lookup("lead_id", "Lead", "lead"),
            lookup("opportunity_id", "Opportunity", "opportunity"),
        ],
    )
}

/// The product catalogue is read by every seller: public read, edited by product managers.
fn product() -> ObjectDef {
    let mut sku = searchable(text("sku", "SKU"));
    sku.unique = true;
    let mut active = typed("active", "Active", FieldType::Boolean);
    active.default = Some(serde_json::Value::Bool(true));
    let mut product = object(
        "product",
        "Product",
        "Products",
        "name",
        vec![
            name_field("name", "Product name"),
            sku,
            picklist(
                "family",
                "Product family",
                &[
                    ("software", "Software"),
                    ("hardware", "Hardware"),
                    ("service", "Service"),
                ],
            ),
            text("unit", "Unit"),
            typed("list_price", "List price", FieldType::Currency),
            active,
            typed("description", "Description", FieldType::LongText),
        ]
        .into_iter()
        .chain(product_catalog_fields())
        .collect(),
    );
    product.sharing = Sharing::PublicRead;
    product
}

/// All standard objects, in dependency order (lookup targets before the objects using them).
pub fn standard_objects() -> Vec<ObjectDef> {
    vec![
        account(),
        contact(),
        opportunity(),
        lead(),
        task(),
        note(),
        product_category(),
        tax_category(),
        product(),
        account_contact(),
        opportunity_contact(),
        call(),
        meeting(),
        meeting_attendee(),
        competitor(),
        opportunity_competitor(),
        price_book(),
        price_book_entry(),
        price_tier(),
        exchange_rate(),
        opportunity_line_item(),
        quote(),
        quote_line_item(),
        contract(),
        payment_plan(),
        payment(),
        invoice(),
    ]
}

/// The lookup by which notes attach to records of a custom object (`<object>_id` on note),
/// so a custom object's records have notes — a related list and timeline items — like the
/// standard ones. `None` when the name would be too long for a field.
pub fn note_link(object: &ObjectDef) -> Option<FieldDef> {
    let name = format!("{}_id", object.name());
    (name.len() <= 40).then(|| as_custom(lookup(&name, &object.label, object.name())))
}

fn required(mut f: FieldDef) -> FieldDef {
    f.required = true;
    f
}

/// A contact's place at an account (客户联系人关系): a contact may work with several
/// accounts — a group's subsidiaries, a consultant, a board member — with a title and a
/// decision role at each. Visible with its account.
pub fn account_contact() -> ObjectDef {
    let mut o = object(
        "account_contact",
        "Account contact",
        "Account contacts",
        "title",
        vec![
            filterable(text("title", "Title")),
            required(lookup("account_id", "Account", "account")),
            required(lookup("contact_id", "Contact", "contact")),
            decision_role(),
            typed("is_primary", "Primary", FieldType::Boolean),
            typed("description", "Description", FieldType::LongText),
        ],
    );
    o.sharing = Sharing::ControlledByParent {
        field: ApiName::trusted("account_id"),
    };
    o
}

/// A contact's role in one deal (商机联系人角色): the decision chain of an opportunity.
/// Visible with its opportunity.
pub fn opportunity_contact() -> ObjectDef {
    let mut role = decision_role();
    role.required = true;
    let mut o = object(
        "opportunity_contact",
        "Opportunity contact role",
        "Opportunity contact roles",
        "title",
        vec![
            filterable(text("title", "Title")),
            required(lookup("opportunity_id", "Opportunity", "opportunity")),
            required(lookup("contact_id", "Contact", "contact")),
            role,
            typed("is_primary", "Primary", FieldType::Boolean),
            typed("description", "Description", FieldType::LongText),
        ],
    );
    o.sharing = Sharing::ControlledByParent {
        field: ApiName::trusted("opportunity_id"),
    };
    o
}

/// Marks a field as created by an admin rather than declared by Relata.
pub fn as_custom(mut f: FieldDef) -> FieldDef {
    f.standard = false;
    f
}
