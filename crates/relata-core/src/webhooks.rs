//! Outbound webhooks: an administrator subscribes a URL to the events of one object
//! (created, updated, deleted, restored), optionally only for records meeting a condition in
//! the filter language. Events come from the change feed, read as the webhook's creator — so
//! a webhook never carries a record or a field its creator may not see — from a cursor kept
//! on the webhook: a fan-out step turns the new events into delivery rows and `webhook.deliver`
//! jobs in one transaction, and moves the cursor (only if no other process moved it first).
//!
//! A delivery is a signed POST: `X-Relata-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" with the webhook's secret>` (docs/api.md shows a receiver's check), with
//! `X-Relata-Delivery` (the delivery id, the same on every try) and `X-Relata-Event`. A 2xx
//! answer delivers it; anything else, or no answer within 10 s, is a failed try, retried by
//! the queue with a growing wait. Deliveries of one record go in event order: a delivery waits
//! while an earlier one of the same record is undelivered. A delivery that fails its last try
//! is failed; [`MAX_FAILED_DELIVERIES`] of them in a row disable the webhook and tell its
//! creator. Every delivery is logged and can be sent again by hand.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::{Capability, Operation};
use relata_domain::{FieldError, FieldErrorCode, UserId};
use relata_store::batch::{OnDuplicate, insert_rows};
use relata_store::jobs::{self as queue, NewJob};
use relata_store::{Conn, Sql, SqlValue};

use crate::Core;
use crate::context::{Actor, Source};
use crate::error::CoreError;
use crate::jobs::kind;
use crate::records::{json_of, read};

/// The events a webhook can subscribe to (the change feed's kinds).
pub const EVENTS: &[&str] = &["created", "updated", "deleted", "restored"];

/// Deliveries failing their last try in a row that disable a webhook.
pub const MAX_FAILED_DELIVERIES: i64 = 3;

/// Events read from the change feed per fan-out step.
const FAN_OUT_PAGE: usize = 500;

/// How long a receiver has to answer.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A webhook as administrators see it (never its secret, which is shown once).
#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub object: String,
    pub events: Vec<String>,
    pub filter: Option<Json>,
    pub enabled: bool,
    pub consecutive_failures: i64,
    pub disabled_reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    cursor: i64,
    #[serde(skip)]
    secret: String,
}

/// What an administrator writes.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    pub object: String,
    pub events: Vec<String>,
    pub filter: Option<Json>,
    pub enabled: bool,
}

/// What one round of the webhook fan-out did.
#[derive(Debug, Default, Clone, Copy)]
pub struct WebhookFanOut {
    /// Deliveries queued.
    pub queued: usize,
    /// A webhook has events left after its page: take the next one without waiting.
    pub more: bool,
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub seq: i64,
    pub object: String,
    pub record_id: Uuid,
    pub event: String,
    pub payload: Json,
    /// pending, delivered or failed
    pub status: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

const HOOK_COLUMNS: &str = "id, name, url, object, events, filter, enabled, consecutive_failures, disabled_reason, created_by, created_at, updated_at, cursor, secret";
const DELIVERY_COLUMNS: &str = "id, webhook_id, seq, object, record_id, event, payload, status, attempts, response_status, last_error, created_at, delivered_at";

fn decode_hook(r: &[SqlValue]) -> Option<Webhook> {
    Some(Webhook {
        id: r[0].as_uuid()?,
        name: r[1].as_str()?.to_owned(),
        url: r[2].as_str()?.to_owned(),
        object: r[3].as_str()?.to_owned(),
        events: serde_json::from_value(json_of(&r[4])).unwrap_or_default(),
        filter: Some(json_of(&r[5])).filter(|f| !f.is_null()),
        enabled: r[6].as_bool()?,
        consecutive_failures: r[7].as_i64().unwrap_or(0),
        disabled_reason: r[8].as_str().map(str::to_owned),
        created_by: r[9].as_uuid()?,
        created_at: r[10].as_timestamp()?,
        updated_at: r[11].as_timestamp()?,
        cursor: r[12].as_i64().unwrap_or(0),
        secret: r[13].as_str()?.to_owned(),
    })
}

fn decode_delivery(r: &[SqlValue]) -> Option<Delivery> {
    Some(Delivery {
        id: r[0].as_uuid()?,
        webhook_id: r[1].as_uuid()?,
        seq: r[2].as_i64()?,
        object: r[3].as_str()?.to_owned(),
        record_id: r[4].as_uuid()?,
        event: r[5].as_str()?.to_owned(),
        payload: json_of(&r[6]),
        status: r[7].as_str()?.to_owned(),
        attempts: r[8].as_i64().unwrap_or(0),
        response_status: r[9].as_i64(),
        last_error: r[10].as_str().map(str::to_owned),
        created_at: r[11].as_timestamp()?,
        delivered_at: r[12].as_timestamp(),
    })
}

fn load_hooks(conn: &mut dyn Conn, id: Option<Uuid>) -> Result<Vec<Webhook>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {HOOK_COLUMNS} FROM sys_webhooks"));
    if let Some(id) = id {
        sql.push(" WHERE id = ");
        sql.param(SqlValue::Uuid(id));
    }
    sql.push(" ORDER BY name, id");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode_hook(r))
        .collect())
}

fn load_delivery(conn: &mut dyn Conn, id: Uuid) -> Result<Option<Delivery>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM sys_webhook_deliveries WHERE id = "
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query_one(&sql.text, &sql.params)?
        .and_then(|r| decode_delivery(&r)))
}

/// One HTTP client for every delivery: its connection pool and TLS set-up are shared, not
/// built again per delivery.
fn client() -> Result<&'static reqwest::Client, CoreError> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let built = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| CoreError::Internal(format!("cannot build the webhook client: {e}")))?;
    Ok(CLIENT.get_or_init(|| built))
}

/// The signature header of `body` sent at `t` with `secret`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mac = crate::auth::hmac_sha256_hex(secret, &format!("{t}.{body}"));
    format!("t={t},v1={mac}")
}

impl Core {
    /// Every webhook.
    pub async fn webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store.read(|conn| load_hooks(conn, None)).await
    }

    pub async fn webhook(&self, actor: &Actor, id: Uuid) -> Result<Webhook, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| load_hooks(conn, Some(id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("webhook"))
    }

    /// Checks what an administrator wrote; every problem named by its field.
    async fn check_webhook(&self, actor: &Actor, input: &WebhookInput) -> Result<(), CoreError> {
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::InvalidOption,
                "a webhook needs a name of 1-100 characters",
            ));
        }
        match reqwest::Url::parse(input.url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => errors.push(FieldError::new(
                "url",
                FieldErrorCode::InvalidUrl,
                format!("'{}' is not an http:// or https:// address", input.url),
            )),
        }
        if input.events.is_empty() || input.events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
            errors.push(FieldError::new(
                "events",
                FieldErrorCode::InvalidOption,
                format!("name one or more of {}", EVENTS.join(", ")),
            ));
        }
        match self.object(&input.object) {
            Err(_) => errors.push(FieldError::new(
                "object",
                FieldErrorCode::UnknownField,
                format!("no object '{}'", input.object),
            )),
            Ok(object) => {
                if !actor.may(object.name(), Operation::Read) {
                    errors.push(FieldError::new(
                        "object",
                        FieldErrorCode::InvalidOption,
                        format!("you may not read '{}' records", object.name()),
                    ));
                } else if let Some(f) = &input.filter
                    && let Err(e) = crate::filter_scope::record_condition(self, actor, &object, f)
                {
                    errors.push(FieldError::new("filter", e.code, e.message));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(errors))
        }
    }

    /// Creates a webhook; answers it and its signing secret (shown only now). It receives the
    /// events from now on.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        input: WebhookInput,
    ) -> Result<(Webhook, String), CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.check_webhook(actor, &input).await?;
        let secret = crate::auth::random_secret("whsec_");
        let (now, who, me) = (
            self.clock.now(),
            crate::audit::Who::from(actor),
            actor.user_id.0,
        );
        let id = relata_domain::ids::uuid_v7_at(now);
        let stored = secret.clone();
        let hook = self
            .store
            .write(move |conn| {
                let head = crate::changes::head_seq(conn)?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("INSERT INTO sys_webhooks (id, name, url, secret, object, events, filter, enabled, cursor, consecutive_failures, created_by, created_at, updated_at) VALUES (");
                let values = [
                    SqlValue::Uuid(id),
                    SqlValue::Text(input.name.trim().to_owned()),
                    SqlValue::Text(input.url.trim().to_owned()),
                    SqlValue::Text(stored),
                    SqlValue::Text(input.object.clone()),
                    SqlValue::Json(json!(input.events)),
                    input.filter.clone().map_or(SqlValue::Null, SqlValue::Json),
                    SqlValue::Bool(input.enabled),
                    SqlValue::Int(head),
                    SqlValue::Int(0),
                    SqlValue::Uuid(me),
                    SqlValue::Timestamp(now),
                    SqlValue::Timestamp(now),
                ];
                for (i, v) in values.into_iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.param(v);
                }
                sql.push(")");
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(conn, &who, now, "webhook.create", None, json!({"webhook_id": id.to_string(), "name": input.name, "url": input.url, "object": input.object, "events": input.events}))?;
                load_hooks(conn, Some(id))?.pop().ok_or_else(|| CoreError::not_found("webhook"))
            })
            .await?;
        Ok((hook, secret))
    }

    /// Changes a webhook. Enabling a disabled one starts its failure count afresh; it goes
    /// on from where its cursor stood (the events meanwhile are delivered).
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: Uuid,
        input: WebhookInput,
    ) -> Result<Webhook, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.webhook(actor, id).await?;
        self.check_webhook(actor, &input).await?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_webhooks SET name = ");
                sql.param(SqlValue::Text(input.name.trim().to_owned()));
                sql.push(", url = ");
                sql.param(SqlValue::Text(input.url.trim().to_owned()));
                sql.push(", object = ");
                sql.param(SqlValue::Text(input.object.clone()));
                sql.push(", events = ");
                sql.param(SqlValue::Json(json!(input.events)));
                sql.push(", filter = ");
                sql.param(input.filter.clone().map_or(SqlValue::Null, SqlValue::Json));
                sql.push(", enabled = ");
                sql.param(SqlValue::Bool(input.enabled));
                if input.enabled {
                    sql.push(", consecutive_failures = 0, disabled_reason = NULL");
                }
                sql.push(", updated_at = ");
                sql.param(SqlValue::Timestamp(now));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(conn, &who, now, "webhook.update", None, json!({"webhook_id": id.to_string(), "url": input.url, "enabled": input.enabled}))?;
                load_hooks(conn, Some(id))?.pop().ok_or_else(|| CoreError::not_found("webhook"))
            })
            .await
    }

    /// Deletes a webhook and its delivery log; deliveries still queued do nothing.
    pub async fn delete_webhook(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.webhook(actor, id).await?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                for (table, column) in [
                    ("sys_webhook_deliveries", "webhook_id"),
                    ("sys_webhooks", "id"),
                ] {
                    let mut sql = Sql::new(conn.dialect());
                    sql.push(&format!("DELETE FROM {table} WHERE {column} = "));
                    sql.param(SqlValue::Uuid(id));
                    conn.execute(&sql.text, &sql.params)?;
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "webhook.delete",
                    None,
                    json!({"webhook_id": id.to_string()}),
                )
            })
            .await
    }

    /// A webhook's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, CoreError> {
        self.webhook(actor, id).await?;
        let limit = limit.clamp(1, 500);
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM sys_webhook_deliveries WHERE webhook_id = "
                ));
                sql.param(SqlValue::Uuid(id));
                sql.push(&format!(" ORDER BY id DESC LIMIT {limit}"));
                Ok::<_, CoreError>(
                    conn.query(&sql.text, &sql.params)?
                        .iter()
                        .filter_map(|r| decode_delivery(r))
                        .collect(),
                )
            })
            .await
    }

    /// Sends a delivery again (a receiver that lost it, a failed one after the receiver was
    /// fixed): pending once more, with a job of its own.
    pub async fn replay_delivery(&self, actor: &Actor, id: Uuid) -> Result<Delivery, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        let delivery = self
            .store
            .write(move |conn| {
                let d = load_delivery(conn, id)?.ok_or_else(|| CoreError::not_found("delivery"))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_webhook_deliveries SET status = 'pending', delivered_at = NULL WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                queue::enqueue(conn, &NewJob::new(kind::WEBHOOK, json!({"delivery_id": id.to_string()}), now), now)?;
                crate::audit::append(conn, &who, now, "webhook.replay", None, json!({"delivery_id": id.to_string(), "webhook_id": d.webhook_id.to_string()}))?;
                load_delivery(conn, id)?.ok_or_else(|| CoreError::not_found("delivery"))
            })
            .await?;
        self.wake_job_workers();
        Ok(delivery)
    }

    /// Turns the change feed's new events into deliveries, a page of events per enabled
    /// webhook behind the feed. Answers how many deliveries were queued and whether a
    /// webhook has events left (then the caller takes the next page at once: one page per
    /// poll would cap a burst at a page a second). Run by the workers in a task of its own.
    pub async fn fan_out_webhooks(&self) -> Result<WebhookFanOut, CoreError> {
        let (hooks, head) = self
            .store
            .peek(|conn| {
                let head = crate::changes::head_seq(conn)?;
                let hooks: Vec<Webhook> = load_hooks(conn, None)?
                    .into_iter()
                    .filter(|h| h.enabled && h.cursor < head)
                    .collect();
                Ok::<_, CoreError>((hooks, head))
            })
            .await?;
        let mut step = WebhookFanOut::default();
        for hook in hooks {
            let (queued, more) = self.fan_out(hook, head).await?;
            step.queued += queued;
            step.more |= more;
        }
        if step.queued > 0 {
            self.wake_job_workers();
        }
        Ok(step)
    }

    /// One page of one webhook's events: deliveries queued, and whether events are left.
    async fn fan_out(&self, hook: Webhook, head: i64) -> Result<(usize, bool), CoreError> {
        let actor = match self.fresh_access_of(UserId(hook.created_by)).await {
            Ok(access) => Actor::user(access, Source::Automation),
            _ => {
                self.disable_webhook(hook.id, "the user who created it can no longer act")
                    .await?;
                return Ok((0, false));
            }
        };
        // a webhook that can no longer be read (its object deleted, its filter naming a
        // field gone or hidden from its creator) is switched off, with the reason, instead of
        // failing every round and holding up the webhooks after it
        let Ok(object) = self.object(&hook.object) else {
            self.disable_webhook(hook.id, "its object no longer exists")
                .await?;
            return Ok((0, false));
        };
        let condition = match &hook.filter {
            Some(f) => match crate::filter_scope::record_condition(self, &actor, &object, f) {
                Ok(c) => Some(c),
                Err(e) => {
                    let why = format!("its filter no longer works: {}: {}", e.field, e.message);
                    self.disable_webhook(hook.id, &why).await?;
                    return Ok((0, false));
                }
            },
            None => None,
        };
        let events = self
            .changes(&actor, hook.cursor, FAN_OUT_PAGE, Some(hook.object.clone()))
            .await?;
        // every event up to the head was seen when fewer than a page came back
        let full = events.len() == FAN_OUT_PAGE;
        let cursor = match events.last() {
            Some(last) if full => last.seq,
            Some(last) => last.seq.max(head),
            None => head,
        };
        let wanted: Vec<_> = events
            .into_iter()
            .filter(|e| hook.events.contains(&e.kind))
            .collect();
        // the condition, on the record as it is now (a deleted record meets none)
        let records: HashMap<Uuid, relata_domain::Record> = match &condition {
            Some(_) => {
                let ids: Vec<Uuid> = wanted
                    .iter()
                    .filter_map(|e| e.record_id.parse().ok())
                    .collect();
                let (obj, vis) = (
                    object.clone(),
                    self.visibility(&actor, &object, Operation::Read)?,
                );
                self.store
                    .read(move |conn| {
                        let mut all = HashMap::new();
                        for chunk in ids.chunks(500) {
                            all.extend(read::get_many(conn, &obj, chunk, &vis)?);
                        }
                        Ok::<_, CoreError>(all)
                    })
                    .await?
            }
            None => HashMap::new(),
        };
        let now = self.clock.now();
        let mut rows = Vec::new();
        for e in wanted {
            let Ok(record_id) = e.record_id.parse::<Uuid>() else {
                continue;
            };
            if let Some(c) = &condition
                && !records.get(&record_id).is_some_and(|r| c.matches(r))
            {
                continue;
            }
            let id = relata_domain::ids::uuid_v7_at(now);
            let event = format!("{}.{}", e.object, e.kind);
            let payload = json!({
                "id": id.to_string(), "webhook_id": hook.id.to_string(), "event": event,
                "object": e.object, "record_id": e.record_id, "seq": e.seq,
                "occurred_at": e.at, "actor": e.actor, "changes": e.changes,
            });
            rows.push(NewDelivery {
                id,
                webhook_id: hook.id,
                seq: e.seq,
                object: e.object,
                record_id,
                event,
                payload,
            });
        }
        let (hook_id, from, count) = (hook.id, hook.cursor, rows.len());
        let moved = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_webhooks SET cursor = ");
                sql.param(SqlValue::Int(cursor));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(hook_id));
                sql.push(" AND cursor = ");
                sql.param(SqlValue::Int(from));
                if conn.execute(&sql.text, &sql.params)? != 1 {
                    return Ok(false); // another process fanned these events out
                }
                insert_deliveries(conn, &rows, now)?;
                Ok::<_, CoreError>(true)
            })
            .await?;
        // another process moved the cursor first: look again at once, from where it is now
        Ok(if moved { (count, full) } else { (0, true) })
    }

    /// Sends one delivery (the `webhook.deliver` job). `last_try`: the queue gives up on it
    /// if this try fails. A failed try is `Unavailable`, which the job retries.
    pub async fn deliver_webhook(&self, payload: &Json, last_try: bool) -> Result<(), CoreError> {
        let Some(id) = payload["delivery_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return Err(CoreError::BadRequest {
                code: "bad_delivery",
                message: format!("a delivery job without delivery_id: {payload}"),
            });
        };
        let found = self
            .store
            .read(move |conn| {
                let Some(d) = load_delivery(conn, id)? else {
                    return Ok(None);
                };
                let hook = load_hooks(conn, Some(d.webhook_id))?.pop();
                // an earlier delivery of the same record still on its way: this one waits
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id FROM sys_webhook_deliveries WHERE webhook_id = ");
                sql.param(SqlValue::Uuid(d.webhook_id));
                sql.push(" AND record_id = ");
                sql.param(SqlValue::Uuid(d.record_id));
                sql.push(" AND seq < ");
                sql.param(SqlValue::Int(d.seq));
                sql.push(" AND status = 'pending' LIMIT 1");
                let earlier = conn
                    .query_one(&sql.text, &sql.params)?
                    .and_then(|r| r[0].as_uuid());
                Ok::<_, CoreError>(Some((d, hook, earlier)))
            })
            .await?;
        let Some((delivery, Some(hook), earlier)) = found else {
            return Ok(()); // the webhook (and its log) was deleted
        };
        if delivery.status != "pending" {
            return Ok(()); // delivered by an earlier try or a replay
        }
        if !hook.enabled {
            self.end_delivery(id, None, "the webhook is disabled", false)
                .await?;
            return Ok(());
        }
        if let Some(e) = earlier {
            return Err(CoreError::Unavailable(format!(
                "waiting for the earlier delivery {e} of the same record"
            )));
        }
        let body = delivery.payload.to_string();
        let t = self.clock.now().timestamp();
        let sent = client()?
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("user-agent", "Relata-Webhooks/1")
            .header("x-relata-delivery", id.to_string())
            .header("x-relata-event", &delivery.event)
            .header("x-relata-signature", signature(&hook.secret, t, &body))
            .body(body)
            .send()
            .await;
        let (status, error) = match sent {
            Ok(r) if r.status().is_success() => (Some(i64::from(r.status().as_u16())), None),
            Ok(r) => (
                Some(i64::from(r.status().as_u16())),
                Some(format!("the receiver answered {}", r.status())),
            ),
            Err(e) if e.is_timeout() => (
                None,
                Some(format!("no answer within {} s", TIMEOUT.as_secs())),
            ),
            Err(e) => (None, Some(format!("cannot reach the receiver: {e}"))),
        };
        match error {
            None => {
                self.record_try(id, hook.id, status, None, true).await?;
                Ok(())
            }
            Some(error) => {
                self.record_try(id, hook.id, status, Some(error.clone()), false)
                    .await?;
                if last_try {
                    self.end_delivery(id, status, &error, true).await?;
                }
                Err(CoreError::Unavailable(error))
            }
        }
    }

    async fn record_try(
        &self,
        id: Uuid,
        hook: Uuid,
        status: Option<i64>,
        error: Option<String>,
        delivered: bool,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(
                    "UPDATE sys_webhook_deliveries SET attempts = attempts + 1, response_status = ",
                );
                sql.param(status.map_or(SqlValue::Null, SqlValue::Int));
                sql.push(", last_error = ");
                sql.param(error.map_or(SqlValue::Null, SqlValue::Text));
                if delivered {
                    sql.push(", status = 'delivered', delivered_at = ");
                    sql.param(SqlValue::Timestamp(now));
                }
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                if delivered {
                    let mut reset = Sql::new(conn.dialect());
                    reset.push("UPDATE sys_webhooks SET consecutive_failures = 0 WHERE id = ");
                    reset.param(SqlValue::Uuid(hook));
                    conn.execute(&reset.text, &reset.params)?;
                }
                Ok::<_, CoreError>(())
            })
            .await
    }

    /// Marks a delivery failed for good; `counts`: it counts towards disabling its webhook.
    async fn end_delivery(
        &self,
        id: Uuid,
        status: Option<i64>,
        error: &str,
        counts: bool,
    ) -> Result<(), CoreError> {
        let (now, error) = (self.clock.now(), error.to_owned());
        self.store
            .write(move |conn| {
                let d = load_delivery(conn, id)?.ok_or_else(|| CoreError::not_found("delivery"))?;
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_webhook_deliveries SET status = 'failed', response_status = ");
                sql.param(status.map_or(SqlValue::Null, SqlValue::Int));
                sql.push(", last_error = ");
                sql.param(SqlValue::Text(error.clone()));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                if !counts {
                    return Ok(());
                }
                let mut bump = Sql::new(conn.dialect());
                bump.push("UPDATE sys_webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ");
                bump.param(SqlValue::Uuid(d.webhook_id));
                conn.execute(&bump.text, &bump.params)?;
                if let Some(hook) = load_hooks(conn, Some(d.webhook_id))?.pop()
                    && hook.enabled
                    && hook.consecutive_failures >= MAX_FAILED_DELIVERIES
                {
                    let reason = format!("{} deliveries in a row failed; the last: {error}", hook.consecutive_failures);
                    disable(conn, &hook, &reason, now)?;
                }
                Ok::<_, CoreError>(())
            })
            .await
    }

    async fn disable_webhook(&self, id: Uuid, reason: &str) -> Result<(), CoreError> {
        let (now, reason) = (self.clock.now(), reason.to_owned());
        self.store
            .write(move |conn| {
                if let Some(hook) = load_hooks(conn, Some(id))?.pop() {
                    disable(conn, &hook, &reason, now)?;
                }
                Ok::<_, CoreError>(())
            })
            .await
    }
}

/// Disables `hook` and tells its creator (a `webhook.disabled` notification).
fn disable(
    conn: &mut dyn Conn,
    hook: &Webhook,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push("UPDATE sys_webhooks SET enabled = FALSE, disabled_reason = ");
    sql.param(SqlValue::Text(reason.to_owned()));
    sql.push(", updated_at = ");
    sql.param(SqlValue::Timestamp(now));
    sql.push(" WHERE id = ");
    sql.param(SqlValue::Uuid(hook.id));
    conn.execute(&sql.text, &sql.params)?;
    crate::notifications::append(
        conn,
        hook.created_by,
        NOTIFICATION_DISABLED,
        None,
        None,
        None,
        json!({"webhook_id": hook.id.to_string(), "name": hook.name, "reason": reason}),
        now,
    )
}

/// The notification a disabled webhook's creator gets.
pub const NOTIFICATION_DISABLED: &str = "webhook.disabled";

impl Core {
    /// A delivery of a record to a webhook from a workflow step (`id` keyed by the run and
    /// step, so a retried step queues it once): signed, retried, logged and replayable like
    /// the webhook's events. The record is read as the webhook's creator sees it.
    pub(crate) async fn queue_workflow_delivery(
        &self,
        webhook: Uuid,
        id: Uuid,
        object: &str,
        record_id: Uuid,
        run: &crate::workflow::Run,
    ) -> Result<Uuid, CoreError> {
        let hook = self
            .store
            .read(move |conn| load_hooks(conn, Some(webhook)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("webhook"))?;
        if !hook.enabled {
            return Err(CoreError::bad_request(
                "webhook_disabled",
                format!("the webhook {} is disabled", hook.name),
            ));
        }
        let creator = Actor::user(
            self.fresh_access_of(UserId(hook.created_by)).await?,
            Source::Automation,
        );
        let def = self.object(object)?;
        let record = self.get_record(&creator, object, record_id).await?;
        let now = self.clock.now();
        let event = format!("{object}.workflow");
        let payload = json!({
            "id": id.to_string(), "webhook_id": hook.id.to_string(), "event": event,
            "object": object, "record_id": record_id.to_string(), "seq": run.seq,
            "occurred_at": relata_domain::value::format_datetime(&now),
            "rule_id": run.rule_id.to_string(), "run_id": run.id.to_string(),
            "record": record.to_json(&def, None),
        });
        let delivery = NewDelivery {
            id,
            webhook_id: webhook,
            seq: run.seq.unwrap_or(0),
            object: object.to_owned(),
            record_id,
            event,
            payload,
        };
        self.store
            .write(move |conn| insert_deliveries(conn, std::slice::from_ref(&delivery), now))
            .await?;
        self.wake_job_workers();
        Ok(id)
    }
}

/// A delivery about to be written.
struct NewDelivery {
    id: Uuid,
    webhook_id: Uuid,
    seq: i64,
    object: String,
    record_id: Uuid,
    event: String,
    payload: Json,
}

/// Writes pending deliveries in a few multi-row statements, with a job each; a delivery
/// whose id exists already (a retried workflow step) is left as it is.
fn insert_deliveries(
    conn: &mut dyn Conn,
    deliveries: &[NewDelivery],
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let rows: Vec<Vec<SqlValue>> = deliveries
        .iter()
        .map(|d| {
            vec![
                SqlValue::Uuid(d.id),
                SqlValue::Uuid(d.webhook_id),
                SqlValue::Int(d.seq),
                SqlValue::Text(d.object.clone()),
                SqlValue::Uuid(d.record_id),
                SqlValue::Text(d.event.clone()),
                SqlValue::Json(d.payload.clone()),
                SqlValue::Text("pending".into()),
                SqlValue::Int(0),
                SqlValue::Timestamp(now),
            ]
        })
        .collect();
    insert_rows(
        conn,
        "sys_webhook_deliveries",
        &[
            "id",
            "webhook_id",
            "seq",
            "object",
            "record_id",
            "event",
            "payload",
            "status",
            "attempts",
            "created_at",
        ],
        &rows,
        OnDuplicate::Skip,
    )?;
    let jobs: Vec<NewJob> = deliveries.iter().map(|d| delivery_job(d.id, now)).collect();
    queue::enqueue_many(conn, &jobs, now)?;
    Ok(())
}

/// The job that sends delivery `id` (once: keyed by the delivery).
fn delivery_job(id: Uuid, now: DateTime<Utc>) -> NewJob {
    let mut job = NewJob::new(kind::WEBHOOK, json!({"delivery_id": id.to_string()}), now);
    job.idempotency_key = Some(format!("webhook:{id}"));
    job
}
