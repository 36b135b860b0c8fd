//! Web-to-lead forms (issue 9): administrators with "manage automation" build a form in
//! settings — the fields asked, the redirect or thank-you, the source, an assignment rule and
//! an auto-response — and publish it at `/f/{public_key}`, or embed it in their site. The
//! definition and its checks are `relata_domain::web_form`; what a submission does is in
//! `submit.rs`.

mod submit;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::web_form::FormDef;
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::{Conn, Sql, SqlValue};

pub use submit::{HONEYPOT, PublicField, PublicForm, Submission, Submitted, address_key};

use crate::Core;
use crate::auth::random_secret;
use crate::context::Actor;
use crate::error::CoreError;
use crate::records::json_of;

/// Prefix of a form's public key (its URL is `/f/{key}`).
const KEY_PREFIX: &str = "wf_";

/// A form as administrators see it, with how it has been used.
#[derive(Debug, Clone, Serialize)]
pub struct WebForm {
    pub id: Uuid,
    pub name: String,
    pub object: String,
    /// The public part of the form's URL, `/f/{public_key}`.
    pub public_key: String,
    pub enabled: bool,
    pub definition: Json,
    /// Records are created as this user.
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Submissions that became records, those taken for spam, and those that could not be
    /// written (their answers are kept in the log).
    pub created: i64,
    pub spam: i64,
    pub failed: i64,
}

/// What an administrator writes.
#[derive(Debug, Clone)]
pub struct WebFormInput {
    pub name: String,
    pub object: String,
    pub enabled: bool,
    pub definition: Json,
}

const COLUMNS: &str = "f.id, f.name, f.object, f.public_key, f.enabled, f.definition, f.owner_id, f.created_at, f.updated_at, \
     (SELECT COUNT(*) FROM sys_web_form_submissions s WHERE s.form_id = f.id AND s.outcome = 'created'), \
     (SELECT COUNT(*) FROM sys_web_form_submissions s WHERE s.form_id = f.id AND s.outcome = 'spam'), \
     (SELECT COUNT(*) FROM sys_web_form_submissions s WHERE s.form_id = f.id AND s.outcome = 'failed')";

fn decode(r: &[SqlValue]) -> Option<WebForm> {
    Some(WebForm {
        id: r[0].as_uuid()?,
        name: r[1].as_str()?.to_owned(),
        object: r[2].as_str()?.to_owned(),
        public_key: r[3].as_str()?.to_owned(),
        enabled: r[4].as_bool()?,
        definition: json_of(&r[5]),
        owner_id: r[6].as_uuid()?,
        created_at: r[7].as_timestamp()?,
        updated_at: r[8].as_timestamp()?,
        created: r[9].as_i64().unwrap_or(0),
        spam: r[10].as_i64().unwrap_or(0),
        failed: r[11].as_i64().unwrap_or(0),
    })
}

fn load(conn: &mut dyn Conn, id: Option<Uuid>) -> Result<Vec<WebForm>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT {COLUMNS} FROM sys_web_forms f"));
    if let Some(id) = id {
        sql.push(" WHERE f.id = ");
        sql.param(SqlValue::Uuid(id));
    }
    sql.push(" ORDER BY f.name, f.id");
    Ok(conn
        .query(&sql.text, &sql.params)?
        .iter()
        .filter_map(|r| decode(r))
        .collect())
}

impl Core {
    /// Every form.
    pub async fn web_forms(&self, actor: &Actor) -> Result<Vec<WebForm>, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store.read(|conn| load(conn, None)).await
    }

    pub async fn web_form(&self, actor: &Actor, id: Uuid) -> Result<WebForm, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.store
            .read(move |conn| load(conn, Some(id)))
            .await?
            .pop()
            .ok_or_else(|| CoreError::not_found("web form"))
    }

    /// Checks a form without saving it: the object exists and `actor` may create its
    /// records, and the definition is one a visitor can fill in (every problem, named by
    /// where it is). The assignment rule and the template must exist and fit.
    pub async fn check_web_form(
        &self,
        actor: &Actor,
        input: &WebFormInput,
    ) -> Result<FormDef, CoreError> {
        let mut errors = Vec::new();
        if input.name.trim().is_empty() || input.name.chars().count() > 200 {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::Required,
                "a form has a name of at most 200 characters",
            ));
        }
        let Ok(object) = self.object(&input.object) else {
            errors.push(FieldError::new(
                "object",
                FieldErrorCode::UnknownField,
                format!("there is no object {}", input.object),
            ));
            return Err(CoreError::Validation(errors));
        };
        if !actor.may(object.name(), relata_domain::access::Operation::Create) {
            errors.push(FieldError::new(
                "object",
                FieldErrorCode::InvalidOption,
                format!(
                    "you may not create {} records, so a form of yours may not either",
                    object.name()
                ),
            ));
        }
        let def = match FormDef::parse(&input.definition) {
            Ok(def) => def,
            Err(e) => {
                errors.push(e);
                return Err(CoreError::Validation(errors));
            }
        };
        errors.extend(def.check(&object));
        if let Some(rule) = def.assignment_rule_id {
            match self.assignment_rule(actor, rule).await {
                Ok(r) if r.object == object.name() => {}
                Ok(r) => errors.push(FieldError::new(
                    "definition.assignment_rule_id",
                    FieldErrorCode::InvalidOption,
                    format!(
                        "that rule assigns {} records, not {}",
                        r.object,
                        object.name()
                    ),
                )),
                Err(_) => errors.push(FieldError::new(
                    "definition.assignment_rule_id",
                    FieldErrorCode::LookupNotFound,
                    "there is no such assignment rule",
                )),
            }
        }
        if let Some(pool) = def.pool_id {
            let refusal = match self.pool(actor, pool).await {
                Err(_) => Some((
                    FieldErrorCode::LookupNotFound,
                    "there is no such pool".to_owned(),
                )),
                Ok(p) if p.object != object.name() => Some((
                    FieldErrorCode::InvalidOption,
                    format!(
                        "that pool holds {} records, not {}",
                        p.object,
                        object.name()
                    ),
                )),
                Ok(_) if def.assignment_rule_id.is_some() => Some((
                    FieldErrorCode::InvalidOption,
                    "a new record goes into a pool or to an owner by a rule, not both".to_owned(),
                )),
                Ok(p) if !self.may_fill_pool(actor, &p) => Some((
                    FieldErrorCode::InvalidOption,
                    "you may not put records into that pool".to_owned(),
                )),
                Ok(_) => None,
            };
            if let Some((code, message)) = refusal {
                errors.push(FieldError::new("definition.pool_id", code, message));
            }
        }
        if let Some(template) = def.auto_response_template_id
            && self.email_template(actor, template).await.is_err()
        {
            errors.push(FieldError::new(
                "definition.auto_response_template_id",
                FieldErrorCode::LookupNotFound,
                "there is no such email template",
            ));
        }
        if errors.is_empty() {
            Ok(def)
        } else {
            Err(CoreError::Validation(errors))
        }
    }

    /// Creates (`id` None) or replaces a form. A form keeps its object, its public key (the
    /// URL already embedded in websites) and its owner.
    pub async fn save_web_form(
        &self,
        actor: &Actor,
        id: Option<Uuid>,
        input: WebFormInput,
    ) -> Result<WebForm, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        if let Some(id) = id {
            let stored = self.web_form(actor, id).await?;
            if stored.object != input.object {
                return Err(CoreError::field(FieldError::new(
                    "object",
                    FieldErrorCode::InvalidOption,
                    format!(
                        "a form's object cannot change (this one makes {} records); create a new form",
                        stored.object
                    ),
                )));
            }
        }
        let def = self.check_web_form(actor, &input).await?;
        let stored = serde_json::to_value(&def)
            .map_err(|e| CoreError::Internal(format!("a definition that does not encode: {e}")))?;
        let now = self.clock.now();
        let id = id.unwrap_or_else(|| relata_domain::ids::uuid_v7_at(now));
        let (who, by) = (crate::audit::Who::from(actor), actor.user_id.0);
        let (key, secret) = (random_secret(KEY_PREFIX), random_secret(""));
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("INSERT INTO sys_web_forms (id, name, object, public_key, secret, enabled, definition, owner_id, created_at, updated_at) VALUES (");
                sql.param(SqlValue::Uuid(id));
                for v in [
                    SqlValue::Text(input.name.trim().to_owned()),
                    SqlValue::Text(input.object.clone()),
                    SqlValue::Text(key),
                    SqlValue::Text(secret),
                    SqlValue::Bool(input.enabled),
                    SqlValue::Json(stored),
                    SqlValue::Uuid(by),
                    SqlValue::Timestamp(now),
                    SqlValue::Timestamp(now),
                ] {
                    sql.push(", ");
                    sql.param(v);
                }
                sql.push(") ON CONFLICT (id) DO UPDATE SET name = excluded.name, enabled = excluded.enabled, definition = excluded.definition, updated_at = excluded.updated_at");
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "web_form.save",
                    None,
                    json!({"form_id": id.to_string(), "name": input.name, "object": input.object, "enabled": input.enabled}),
                )?;
                Ok::<_, CoreError>(())
            })
            .await?;
        self.web_form(actor, id).await
    }

    /// Deletes a form and its submission log (the records it made stay).
    pub async fn delete_web_form(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        let form = self.web_form(actor, id).await?;
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                for table in ["sys_web_form_submissions", "sys_web_forms"] {
                    let mut sql = Sql::new(conn.dialect());
                    let column = if table == "sys_web_forms" {
                        "id"
                    } else {
                        "form_id"
                    };
                    sql.push(&format!("DELETE FROM {table} WHERE {column} = "));
                    sql.param(SqlValue::Uuid(id));
                    conn.execute(&sql.text, &sql.params)?;
                }
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "web_form.delete",
                    None,
                    json!({"form_id": id.to_string(), "name": form.name}),
                )?;
                Ok::<_, CoreError>(())
            })
            .await
    }
}
