//! The public side of a web form: what a stranger's browser is shown, and what their
//! submission does. The endpoint is open to the internet, so:
//!
//! - spam defence without a third-party captcha: a honeypot field people never see, a
//!   minimum time between serving the page and sending it (the time is signed with the
//!   form's secret, so a robot cannot claim it waited), and a cap per client address per hour
//!   counted from the submission log (so it holds across server processes and restarts);
//! - a robot's submission is answered exactly like a person's and writes nothing but its
//!   line in the log, so probing teaches it nothing;
//! - answers become a record through the one write path, as the form's owner, with every
//!   value checked as any write's; a refused answer names the field and writes nothing.
//!
//! A record made, the form's assignment rule gives it an owner, the auto-response goes to
//! the address given, and workflow rules with the `form_submitted` trigger start on it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use relata_domain::web_form::{FormDef, UTM_FIELDS};
use relata_domain::workflow::Trigger;
use relata_domain::{FieldError, FieldErrorCode, FieldType, UserId};
use relata_store::{Sql, SqlValue};

use crate::Core;
use crate::context::{Actor, Source};
use crate::error::CoreError;
use crate::import::transform::{Cell, Reading, read_cell};

/// A form as the public page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicForm {
    pub title: String,
    pub fields: Vec<PublicField>,
    /// The signed time the form was served, sent back with the answers.
    pub token: String,
}

/// One field as the public page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicField {
    pub name: String,
    pub label: String,
    /// The field type (`text`, `email`, `picklist`, …): which input to show.
    #[serde(rename = "type")]
    pub field_type: String,
    pub required: bool,
    pub max_length: Option<u32>,
    /// A picklist's active values and their labels.
    pub options: Vec<(String, String)>,
}

/// What a visitor sent.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// Answers by field name, as typed.
    pub values: BTreeMap<String, String>,
    /// The token the page was served with.
    pub token: Option<String>,
    /// The honeypot field: anything in it is a robot's.
    pub honeypot: Option<String>,
    pub client_addr: String,
    /// `utm_*` parameters of the page the form was opened from.
    pub utm: BTreeMap<String, String>,
    pub referrer: Option<String>,
}

/// What the visitor is shown next (the same for a robot).
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    pub redirect_url: Option<String>,
    pub thank_you: Option<String>,
    /// Not shown to the visitor: whether the submission was taken for spam.
    #[serde(skip)]
    pub spam: bool,
}

/// The name of the honeypot field on the hosted page: nothing a browser or password manager
/// fills in by itself (a `website` or `url` field would be).
pub const HONEYPOT: &str = "relata_hp";

/// Whether the problems of a refused write are the visitor's to see and correct: each about
/// a field the form asks, and none telling that another record holds a value.
fn visitor_may_see(def: &FormDef, errors: &[FieldError]) -> bool {
    errors.iter().all(|e| {
        def.fields.iter().any(|f| f.field == e.field)
            && !matches!(
                e.code,
                FieldErrorCode::Duplicate | FieldErrorCode::LookupNotFound
            )
    })
}

/// The address a submission is counted under: an IPv6 address by its /64 network (what one
/// subscriber gets to pick addresses from), any other as it is.
pub fn address_key(addr: &str) -> String {
    match addr.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => addr.to_owned(),
    }
}

/// A form as the public side needs it.
struct Live {
    id: Uuid,
    name: String,
    object: String,
    secret: String,
    owner_id: Uuid,
    def: FormDef,
}

fn sign(secret: &str, form: Uuid, at_ms: i64) -> String {
    crate::auth::hmac_sha256_hex(secret, &format!("{form}.{at_ms}"))
}

/// When the page carrying `token` was served, if the token is the form's.
fn served_at(live: &Live, token: &str) -> Option<DateTime<Utc>> {
    let (at, mac) = token.split_once('.')?;
    let at_ms: i64 = at.parse().ok()?;
    let expected = sign(&live.secret, live.id, at_ms);
    crate::auth::constant_time_eq(expected.as_bytes(), mac.as_bytes())
        .then(|| DateTime::from_timestamp_millis(at_ms))
        .flatten()
}

impl Core {
    async fn live_form(&self, key: &str) -> Result<Live, CoreError> {
        let key = key.to_owned();
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id, name, object, secret, owner_id, definition FROM sys_web_forms WHERE enabled = TRUE AND public_key = ");
                sql.param(SqlValue::Text(key));
                Ok::<_, CoreError>(conn.query_one(&sql.text, &sql.params)?)
            })
            .await?
            .and_then(|r| {
                Some(Live {
                    id: r[0].as_uuid()?,
                    name: r[1].as_str()?.to_owned(),
                    object: r[2].as_str()?.to_owned(),
                    secret: r[3].as_str()?.to_owned(),
                    owner_id: r[4].as_uuid()?,
                    def: FormDef::parse(&crate::records::json_of(&r[5])).ok()?,
                })
            })
            // a disabled or deleted form is simply not there
            .ok_or_else(|| CoreError::not_found("form"))
    }

    /// The form behind a public key, as the hosted page or a site's own page shows it, with
    /// labels in Chinese when `zh` (standard fields; what the administrator wrote is shown as
    /// written).
    pub async fn public_form(&self, key: &str, zh: bool) -> Result<PublicForm, CoreError> {
        let live = self.live_form(key).await?;
        let object = self.object(&live.object)?;
        let mut fields = Vec::new();
        for f in &live.def.fields {
            let Some(def) = object.field(&f.field) else {
                continue;
            };
            let label = f.label.clone().unwrap_or_else(|| {
                zh.then(|| relata_domain::labels_zh::field_label(&object, def))
                    .flatten()
                    .map_or_else(|| def.label.clone(), str::to_owned)
            });
            let options = def
                .values
                .iter()
                .filter(|v| v.active)
                .map(|v| {
                    let label = zh
                        .then(|| relata_domain::labels_zh::pick_label(&object, def, &v.value))
                        .flatten()
                        .map_or_else(|| v.label.clone(), str::to_owned);
                    (v.value.clone(), label)
                })
                .collect();
            fields.push(PublicField {
                name: f.field.clone(),
                label,
                field_type: def.field_type.as_str().to_owned(),
                required: live.def.requires(&object, f),
                max_length: def.max_length,
                options,
            });
        }
        let at_ms = self.clock.now().timestamp_millis();
        Ok(PublicForm {
            title: live.def.title.clone().unwrap_or_else(|| live.name.clone()),
            fields,
            token: format!("{at_ms}.{}", sign(&live.secret, live.id, at_ms)),
        })
    }

    /// A visitor's submission (see the module's notes). Refused answers are a validation error
    /// naming each field; too many submissions from one address, `RateLimited`.
    pub async fn submit_web_form(
        &self,
        key: &str,
        mut submission: Submission,
    ) -> Result<Submitted, CoreError> {
        let live = self.live_form(key).await?;
        submission.client_addr = address_key(&submission.client_addr);
        let now = self.clock.now();
        let answer = |spam| Submitted {
            redirect_url: live.def.redirect_url.clone(),
            thank_you: live.def.thank_you.clone(),
            spam,
        };
        let recent = self
            .form_submissions_since(live.id, &submission.client_addr, now - Duration::hours(1))
            .await?;
        if recent >= i64::from(live.def.max_per_address_per_hour) {
            return Err(CoreError::TooManyRequests {
                code: "too_many_submissions",
                message:
                    "this form has had too many submissions from your address; try again later"
                        .into(),
                retry_after_secs: 3_600,
            });
        }
        let spam_reason = if submission
            .honeypot
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty())
        {
            Some("the hidden field was filled in")
        } else {
            match submission
                .token
                .as_deref()
                .and_then(|t| served_at(&live, t))
            {
                None => Some("the form's token is missing or not the form's"),
                Some(at) if now - at < Duration::seconds(i64::from(live.def.min_fill_seconds)) => {
                    Some("sent sooner after the page was served than a person can fill it in")
                }
                Some(at) if now - at > Duration::days(2) => {
                    Some("the page was served more than two days before")
                }
                Some(_) => None,
            }
        };
        if let Some(reason) = spam_reason {
            self.log_submission(&live, &submission, "spam", Some(reason), None)
                .await?;
            return Ok(answer(true));
        }
        let object = self.object(&live.object)?;
        let input = match self.form_input(&live, &object, &submission) {
            Ok(input) => input,
            Err(e) => {
                // counted against the address's hourly cap like any submission
                self.log_submission(&live, &submission, "refused", None, None)
                    .await?;
                return Err(e);
            }
        };
        let made = async {
            let owner = Actor::user(
                self.fresh_access_of(UserId(live.owner_id)).await?,
                Source::Automation,
            );
            let record = self.create_record(&owner, object.name(), input).await?;
            Ok::<_, CoreError>((owner, record))
        }
        .await;
        let (owner, record) = match made {
            Ok(made) => made,
            // what the visitor can correct is told them, by the fields they answered
            Err(CoreError::Validation(errors)) if visitor_may_see(&live.def, &errors) => {
                self.log_submission(&live, &submission, "refused", None, None)
                    .await?;
                return Err(CoreError::Validation(errors));
            }
            // anything else (a duplicate the rule blocks, a value another record holds, the
            // form's owner deactivated) says nothing of the CRM to a stranger: the visitor is
            // thanked, and the answers wait in the log, counted as failed, for an administrator
            Err(e) => {
                tracing::warn!(form = %live.id, error = %e, "web form: a submission could not be written");
                self.log_submission(&live, &submission, "failed", Some(&e.to_string()), None)
                    .await?;
                return Ok(answer(false));
            }
        };
        let record_id = record
            .id()
            .ok_or_else(|| CoreError::Internal("a created record without id".into()))?;
        self.log_submission(&live, &submission, "created", None, Some(record_id))
            .await?;
        self.after_submission(&live, &owner, &object, &record, &submission)
            .await;
        Ok(answer(false))
    }

    /// The answers as record input: each read for its field's type as an import reads a cell
    /// (dates, numbers, picklist labels), required ones checked, UTM and source added.
    fn form_input(
        &self,
        live: &Live,
        object: &relata_domain::ObjectDef,
        submission: &Submission,
    ) -> Result<Json, CoreError> {
        let reading = Reading {
            date_order: Default::default(),
            utc_offset: chrono::FixedOffset::east_opt(8 * 3600)
                .unwrap_or_else(|| chrono::Offset::fix(&Utc)),
            phone_region: self.phone_region(),
            normalise_phones: true,
            picklist_map: Default::default(),
        };
        let mut input = Map::new();
        let mut errors = Vec::new();
        for f in &live.def.fields {
            let Some(def) = object.field(&f.field) else {
                continue;
            };
            let text = submission.values.get(&f.field).map_or("", |t| t.trim());
            if text.is_empty() {
                if live.def.requires(object, f) {
                    errors.push(FieldError::new(
                        &f.field,
                        FieldErrorCode::Required,
                        format!("{} is required", f.label.as_deref().unwrap_or(&def.label)),
                    ));
                }
                continue;
            }
            match read_cell(object, def, text, &reading) {
                Ok(Cell::Value(v)) => {
                    input.insert(f.field.clone(), v);
                }
                Ok(_) => {}
                Err(message) => errors.push(FieldError::new(
                    &f.field,
                    FieldErrorCode::WrongType,
                    message,
                )),
            }
        }
        // only the answers the form asks for: anything else a robot adds is ignored
        if !errors.is_empty() {
            // the answers that could be read are checked as the write would, so every
            // problem is told at once
            let read = Json::Object(input.clone());
            if let Err(more) = crate::records::write::parse_input(
                object,
                &read,
                &self.parse_context(),
                false,
                false,
            ) {
                for e in more {
                    if !errors.iter().any(|known| known.field == e.field) {
                        errors.push(e);
                    }
                }
            }
            let order = |f: &str| live.def.fields.iter().position(|g| g.field == f);
            errors.sort_by_key(|e| order(&e.field));
            return Err(CoreError::Validation(errors));
        }
        for name in UTM_FIELDS {
            if let (Some(value), Some(def)) = (submission.utm.get(name), object.field(name))
                && def.field_type == FieldType::Text
                && !value.trim().is_empty()
            {
                let limit = def.max_length.unwrap_or(255) as usize;
                input.insert(
                    name.to_owned(),
                    json!(value.trim().chars().take(limit).collect::<String>()),
                );
            }
        }
        if let Some(def) = object.field("source")
            && def.field_type == FieldType::Picklist
            && !input.contains_key("source")
        {
            let source = live.def.source.clone().unwrap_or_else(|| "web".into());
            if def.values.iter().any(|v| v.value == source && v.active) {
                input.insert("source".into(), json!(source));
            }
        }
        Ok(Json::Object(input))
    }

    /// What follows a record made from a form: its owner by the assignment rule, the
    /// auto-response, and the rules started by submissions. The visitor's answer does not
    /// wait on them failing: each failure is logged (and the rule's run history shows its own).
    async fn after_submission(
        &self,
        live: &Live,
        owner: &Actor,
        object: &relata_domain::ObjectDef,
        record: &relata_domain::Record,
        submission: &Submission,
    ) {
        let Some(record_id) = record.id() else { return };
        if let Some(rule) = live.def.assignment_rule_id
            && let Err(e) = self.assign_by_rule(owner, rule, record_id).await
        {
            tracing::warn!(form = %live.id, error = %e, "web form: the assignment rule failed");
        }
        if let Some(pool) = live.def.pool_id {
            let refused = match self.add_to_pool(owner, pool, vec![record_id]).await {
                Ok(outcomes) => outcomes
                    .into_iter()
                    .find(|o| !o.done)
                    .and_then(|o| o.message),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = refused {
                tracing::warn!(form = %live.id, error = %why, "web form: the record did not go into its pool");
            }
        }
        if let (Some(template), Some(field)) = (
            live.def.auto_response_template_id,
            live.def.email_field(object),
        ) && let Some(to) = submission.values.get(&field).map(|t| t.trim().to_owned())
        {
            let request = crate::email::SendRequest {
                object: object.name().to_owned(),
                record_id,
                template_id: Some(template),
                to: Some(to),
                ..Default::default()
            };
            let key = format!("web_form:{}:{record_id}", live.id);
            if let Err(e) = self.send_email(owner, &request, Some(&key)).await {
                tracing::warn!(form = %live.id, error = %e, "web form: the auto-response was not sent");
            }
        }
        if let Err(e) = self.start_form_rules(live.id, object, record).await {
            tracing::warn!(form = %live.id, error = %e, "web form: rules on submission did not start");
        }
    }

    /// Starts every enabled rule on the object with the `form_submitted` trigger for this
    /// form (or any form) whose condition the new record meets, as each rule's owner.
    async fn start_form_rules(
        &self,
        form: Uuid,
        object: &relata_domain::ObjectDef,
        record: &relata_domain::Record,
    ) -> Result<(), CoreError> {
        let rules = self
            .store
            .read(|conn| crate::workflow::store::rules(conn, None))
            .await?;
        let mut runs = Vec::new();
        for rule in rules
            .iter()
            .filter(|r| r.enabled && r.object == object.name())
        {
            let Ok(def) = rule.parsed() else { continue };
            let Trigger::FormSubmitted { form_id } = def.trigger else {
                continue;
            };
            if form_id.is_some_and(|f| f != form) {
                continue;
            }
            // a rule whose owner can no longer act is that rule's problem, not the others'
            let owner = match self.fresh_access_of(UserId(rule.owner_id)).await {
                Ok(access) => Actor::user(access, Source::Automation),
                Err(e) => {
                    tracing::warn!(rule = %rule.id, error = %e, "web form: a rule's owner cannot run it");
                    continue;
                }
            };
            if !self.condition_holds(&owner, object, def.condition.as_ref(), record)? {
                continue;
            }
            let id = relata_domain::ids::uuid_v7_at(self.clock.now());
            runs.push(crate::workflow::explain::new_run(
                rule,
                id,
                record.id(),
                format!("form {form} submitted"),
            ));
        }
        self.write_runs(runs).await
    }

    async fn form_submissions_since(
        &self,
        form: Uuid,
        addr: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, CoreError> {
        let addr = addr.to_owned();
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT COUNT(*) FROM sys_web_form_submissions WHERE form_id = ");
                sql.param(SqlValue::Uuid(form));
                sql.push(" AND client_addr = ");
                sql.param(SqlValue::Text(addr));
                sql.push(" AND at >= ");
                sql.param(SqlValue::Timestamp(since));
                Ok::<_, CoreError>(
                    conn.query_one(&sql.text, &sql.params)?
                        .and_then(|r| r[0].as_i64())
                        .unwrap_or(0),
                )
            })
            .await
    }

    async fn log_submission(
        &self,
        live: &Live,
        submission: &Submission,
        outcome: &'static str,
        reason: Option<&str>,
        record: Option<Uuid>,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        let id = relata_domain::ids::uuid_v7_at(now);
        let utm: Map<String, Json> = submission
            .utm
            .iter()
            .filter(|(k, _)| UTM_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), json!(v.chars().take(255).collect::<String>())))
            .collect();
        // the answers of a submission that made no record, so that an administrator can
        // still act on a person's enquiry taken for spam or not written
        let answers = matches!(outcome, "spam" | "failed").then(|| {
            Json::Object(
                submission
                    .values
                    .iter()
                    .take(100)
                    .map(|(k, v)| {
                        (
                            k.chars().take(100).collect(),
                            json!(v.chars().take(4_000).collect::<String>()),
                        )
                    })
                    .collect(),
            )
        });
        let row = vec![
            SqlValue::Uuid(id),
            SqlValue::Uuid(live.id),
            SqlValue::Timestamp(now),
            SqlValue::Text(outcome.into()),
            reason.map_or(SqlValue::Null, |r| {
                SqlValue::Text(r.chars().take(500).collect())
            }),
            record.map_or(SqlValue::Null, SqlValue::Uuid),
            SqlValue::Text(submission.client_addr.chars().take(100).collect()),
            if utm.is_empty() {
                SqlValue::Null
            } else {
                SqlValue::Json(Json::Object(utm))
            },
            submission.referrer.as_ref().map_or(SqlValue::Null, |r| {
                SqlValue::Text(r.chars().take(2_000).collect())
            }),
            answers.map_or(SqlValue::Null, SqlValue::Json),
        ];
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("INSERT INTO sys_web_form_submissions (id, form_id, at, outcome, reason, record_id, client_addr, utm, referrer, answers) VALUES (");
                for (i, v) in row.into_iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.param(v);
                }
                sql.push(")");
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await
    }
}
