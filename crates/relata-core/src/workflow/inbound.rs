//! Inbound calls (issue 8: "inbound webhooks (secret URLs) that can start flows"): a rule
//! with the `inbound` trigger gets a secret URL; another system POSTs to it to start the
//! rule on a record it names, or on one it brings to be created (an order from a shop, a
//! ticket from a form). The token is shown once and kept only as a digest, like an API
//! token; issuing a new one retires the old.

use serde::Serialize;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use relata_domain::workflow::Trigger;
use relata_domain::{Record, UserId};
use relata_store::{Sql, SqlValue};

use super::Run;
use crate::Core;
use crate::auth::{hash_token, random_secret};
use crate::context::{Actor, Source};
use crate::error::CoreError;

/// Prefix of inbound tokens, recognisable by secret scanners.
pub const INBOUND_PREFIX: &str = "rlw_";

/// A freshly issued inbound URL, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct InboundUrl {
    pub token: String,
    /// The path to POST to.
    pub path: String,
}

impl Core {
    /// Issues the secret URL of a rule with the `inbound` trigger (again: the old one stops
    /// working).
    pub async fn issue_inbound_token(
        &self,
        actor: &Actor,
        rule_id: Uuid,
    ) -> Result<InboundUrl, CoreError> {
        let rule = self.workflow_rule(actor, rule_id).await?;
        if rule.parsed()?.trigger != Trigger::Inbound {
            return Err(CoreError::Conflict {
                code: "not_inbound",
                message: "only a rule with the inbound trigger has a URL to call".into(),
            });
        }
        let token = random_secret(INBOUND_PREFIX);
        let hash = hash_token(&token);
        let (now, who) = (self.clock.now(), crate::audit::Who::from(actor));
        self.store
            .write(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("UPDATE sys_workflow_rules SET inbound_token_hash = ");
                sql.param(SqlValue::Text(hash));
                sql.push(" WHERE id = ");
                sql.param(SqlValue::Uuid(rule_id));
                conn.execute(&sql.text, &sql.params)?;
                crate::audit::append(
                    conn,
                    &who,
                    now,
                    "workflow.inbound_token",
                    None,
                    json!({"rule_id": rule_id.to_string()}),
                )?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(InboundUrl {
            path: format!("/api/v1/hooks/workflows/{token}"),
            token,
        })
    }

    /// A call to a rule's secret URL: `{"record_id"}` starts it on that record,
    /// `{"record": {…}}` creates the record (as the rule's owner) and starts it on that.
    /// An unknown token, or a rule disabled or no longer inbound, is not found.
    pub async fn inbound_workflow_call(&self, token: &str, body: &Json) -> Result<Run, CoreError> {
        let hash = hash_token(token);
        let rule = self
            .store
            .read(move |conn| {
                let mut sql = Sql::new(conn.dialect());
                sql.push("SELECT id FROM sys_workflow_rules WHERE enabled = TRUE AND inbound_token_hash = ");
                sql.param(SqlValue::Text(hash));
                let Some(id) = conn.query_one(&sql.text, &sql.params)?.and_then(|r| r[0].as_uuid()) else {
                    return Ok(None);
                };
                Ok::<_, CoreError>(super::store::rules(conn, Some(id))?.pop())
            })
            .await?
            .filter(|r| r.parsed().is_ok_and(|d| d.trigger == Trigger::Inbound))
            .ok_or_else(|| CoreError::not_found("inbound URL"))?;
        let owner = Actor::user(
            self.fresh_access_of(UserId(rule.owner_id)).await?,
            Source::Automation,
        );
        let record_id = match (body.get("record_id"), body.get("record")) {
            (Some(id), None) => {
                let id = id
                    .as_str()
                    .and_then(|s| s.parse::<Uuid>().ok())
                    .ok_or_else(|| {
                        CoreError::bad_request("bad_record_id", "record_id is a record's id")
                    })?;
                self.get_record(&owner, &rule.object, id).await?;
                id
            }
            (None, Some(fields)) => {
                let created: Record = self
                    .create_record(&owner, &rule.object, fields.clone())
                    .await?;
                created
                    .id()
                    .ok_or_else(|| CoreError::Internal("a created record without id".into()))?
            }
            _ => {
                return Err(CoreError::bad_request(
                    "bad_inbound_call",
                    "send {\"record_id\": …} or {\"record\": {…}}",
                ));
            }
        };
        let id = relata_domain::ids::uuid_v7_at(self.clock.now());
        self.write_runs(vec![super::explain::new_run(
            &rule,
            id,
            Some(record_id),
            "inbound call".into(),
        )])
        .await?;
        self.store
            .read(move |conn| super::store::run(conn, id))
            .await?
            .ok_or_else(|| CoreError::not_found("workflow run"))
    }
}
