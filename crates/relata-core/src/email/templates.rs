//! Email templates: administrators of automation write them, everyone sends with them.
//! A template is checked when it is saved — its syntax, and every merge field against the
//! object it is for — so a mail never fails for a typo in its template.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::access::Capability;
use relata_domain::email::{self, TemplateParts};
use relata_domain::{FieldError, FieldErrorCode};
use relata_store::{Conn, Sql, SqlValue};

use crate::records::json_of;
use crate::{Actor, Core, CoreError};

/// A template as stored.
#[derive(Debug, Clone, Serialize)]
pub struct EmailTemplate {
    pub id: Uuid,
    pub name: String,
    /// The object whose records it merges; none: no record fields.
    pub object: Option<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Files sent with every mail from it.
    pub attachment_ids: Vec<Uuid>,
    pub active: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EmailTemplate {
    pub fn parts(&self) -> TemplateParts {
        TemplateParts {
            subject: self.subject.clone(),
            body_text: self.body_text.clone(),
            body_html: self.body_html.clone(),
        }
    }
}

/// What an administrator writes.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub name: String,
    pub object: Option<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attachment_ids: Vec<Uuid>,
    pub active: bool,
}

const COLUMNS: &str = "id, name, object, subject, body_text, body_html, attachment_ids, active, created_by, created_at, updated_at";

fn decode(r: &[SqlValue]) -> Option<EmailTemplate> {
    Some(EmailTemplate {
        id: r[0].as_uuid()?,
        name: r[1].as_str()?.to_owned(),
        object: r[2].as_str().map(str::to_owned),
        subject: r[3].as_str()?.to_owned(),
        body_text: r[4].as_str().unwrap_or_default().to_owned(),
        body_html: r[5].as_str().map(str::to_owned),
        attachment_ids: serde_json::from_value(json_of(&r[6])).unwrap_or_default(),
        active: r[7].as_bool()?,
        created_by: r[8].as_uuid()?,
        created_at: r[9].as_timestamp()?,
        updated_at: r[10].as_timestamp()?,
    })
}

pub(crate) fn load(conn: &mut dyn Conn, id: Uuid) -> Result<Option<EmailTemplate>, CoreError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!(
        "SELECT {COLUMNS} FROM sys_email_templates WHERE id = "
    ));
    sql.param(SqlValue::Uuid(id));
    Ok(conn
        .query(&sql.text, &sql.params)?
        .first()
        .and_then(|r| decode(r)))
}

fn ids_json(ids: &[Uuid]) -> SqlValue {
    SqlValue::Json(Json::from(
        ids.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
    ))
}

impl Core {
    /// Templates, by name; `object`: those for its records (and those for none).
    pub async fn email_templates(
        &self,
        _actor: &Actor,
        object: Option<String>,
    ) -> Result<Vec<EmailTemplate>, CoreError> {
        self.store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push(&format!("SELECT {COLUMNS} FROM sys_email_templates"));
                if let Some(o) = object {
                    sql.push(" WHERE object IS NULL OR object = ");
                    sql.param(SqlValue::Text(o));
                }
                sql.push(" ORDER BY name, id");
                Ok(conn
                    .query(&sql.text, &sql.params)?
                    .iter()
                    .filter_map(|r| decode(r))
                    .collect())
            })
            .await
    }

    pub async fn email_template(
        &self,
        _actor: &Actor,
        id: Uuid,
    ) -> Result<EmailTemplate, CoreError> {
        self.store
            .read(move |conn| load(conn, id))
            .await?
            .ok_or_else(|| CoreError::not_found(format!("email template {id}")))
    }

    /// Checks a template: its name, its object, its syntax and merge fields, and that the
    /// writer may read the files it attaches.
    async fn check_template(&self, actor: &Actor, input: &TemplateInput) -> Result<(), CoreError> {
        let mut errors: Vec<FieldError> = [
            ("name", Some(input.name.as_str())),
            ("subject", Some(input.subject.as_str())),
            ("body_text", Some(input.body_text.as_str())),
            ("body_html", input.body_html.as_deref()),
        ]
        .into_iter()
        .filter_map(|(field, text)| relata_domain::value::nul_free(field, text?).err())
        .collect();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new(
                "name",
                FieldErrorCode::Required,
                "a name of 1-200 characters",
            ));
        }
        if let Some(o) = &input.object
            && self.object(o).is_err()
        {
            errors.push(FieldError::new(
                "object",
                FieldErrorCode::InvalidOption,
                format!("no object {o}"),
            ));
        }
        let parts = TemplateParts {
            subject: input.subject.clone(),
            body_text: input.body_text.clone(),
            body_html: input.body_html.clone(),
        };
        errors.extend(email::check(
            &self.schema(),
            input.object.as_deref(),
            &parts,
        ));
        errors.extend(
            self.unreadable_attachments(actor, &input.attachment_ids)
                .await,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Validation(errors))
        }
    }

    pub async fn create_email_template(
        &self,
        actor: &Actor,
        input: TemplateInput,
    ) -> Result<EmailTemplate, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        self.check_template(actor, &input).await?;
        let now = self.clock.now();
        let template = EmailTemplate {
            id: Uuid::now_v7(),
            name: input.name.trim().to_owned(),
            object: input.object,
            subject: input.subject,
            body_text: input.body_text,
            body_html: input.body_html.filter(|h| !h.trim().is_empty()),
            attachment_ids: input.attachment_ids,
            active: input.active,
            created_by: actor.user_id.0,
            created_at: now,
            updated_at: now,
        };
        let t = template.clone();
        self.store
            .write(move |conn| {
                let values = [
                    SqlValue::Uuid(t.id),
                    SqlValue::Text(t.name),
                    t.object.map_or(SqlValue::Null, SqlValue::Text),
                    SqlValue::Text(t.subject),
                    SqlValue::Text(t.body_text),
                    t.body_html.map_or(SqlValue::Null, SqlValue::Text),
                    ids_json(&t.attachment_ids),
                    SqlValue::Bool(t.active),
                    SqlValue::Uuid(t.created_by),
                    SqlValue::Timestamp(t.created_at),
                    SqlValue::Timestamp(t.updated_at),
                ];
                super::insert(conn, "sys_email_templates", COLUMNS, values)?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(template)
    }

    pub async fn update_email_template(
        &self,
        actor: &Actor,
        id: Uuid,
        input: TemplateInput,
    ) -> Result<EmailTemplate, CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let current = self.email_template(actor, id).await?;
        self.check_template(actor, &input).await?;
        let updated = EmailTemplate {
            name: input.name.trim().to_owned(),
            object: input.object,
            subject: input.subject,
            body_text: input.body_text,
            body_html: input.body_html.filter(|h| !h.trim().is_empty()),
            attachment_ids: input.attachment_ids,
            active: input.active,
            updated_at: self.clock.now(),
            ..current
        };
        let t = updated.clone();
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                let set = [
                    ("name", SqlValue::Text(t.name)),
                    ("object", t.object.map_or(SqlValue::Null, SqlValue::Text)),
                    ("subject", SqlValue::Text(t.subject)),
                    ("body_text", SqlValue::Text(t.body_text)),
                    (
                        "body_html",
                        t.body_html.map_or(SqlValue::Null, SqlValue::Text),
                    ),
                    ("attachment_ids", ids_json(&t.attachment_ids)),
                    ("active", SqlValue::Bool(t.active)),
                    ("updated_at", SqlValue::Timestamp(t.updated_at)),
                ];
                sql.push("UPDATE sys_email_templates SET ");
                for (i, (column, v)) in set.into_iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.push(column).push(" = ");
                    sql.param(v);
                }
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                conn.execute(&sql.text, &sql.params)?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(updated)
    }

    /// Deletes a template. Mail sent from it keeps its text; a rule that sends it fails
    /// its step (and says so) until it is given another.
    pub async fn delete_email_template(&self, actor: &Actor, id: Uuid) -> Result<(), CoreError> {
        actor.require_capability(Capability::ManageAutomation)?;
        let deleted = self
            .store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("DELETE FROM sys_email_templates WHERE id = ");
                sql.param(SqlValue::Uuid(id));
                Ok::<_, CoreError>(conn.execute(&sql.text, &sql.params)?)
            })
            .await?;
        if deleted == 0 {
            return Err(CoreError::not_found(format!("email template {id}")));
        }
        Ok(())
    }
}
