//! Pipeline settings (销售流程): the pipelines an opportunity may follow, their stages and
//! what each stage asks for. They live on the opportunity object's metadata, so the one
//! write path reads them with the object it already holds; saving one keeps the `stage`
//! and `pipeline` picklists in step with it, in the same transaction.

pub mod board;

use relata_domain::Value;
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::meta::{ObjectDef, PicklistValue};
use relata_domain::opportunity::pipeline::{self, PIPELINE, Pipeline};
use relata_domain::opportunity::{self, OBJECT, STAGE};
use relata_store::ddl::table_name;
use relata_store::{Conn, SqlValue, meta_sql};

use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;

/// The pipelines, and whether they are still the standard ones (never saved).
pub struct Pipelines {
    pub pipelines: Vec<Pipeline>,
    pub standard: bool,
}

impl Core {
    pub fn pipelines(&self) -> Result<Pipelines, CoreError> {
        let object = self.object(OBJECT)?;
        Ok(Pipelines {
            pipelines: pipeline::pipelines(&object).into_owned(),
            standard: object.pipelines.is_none(),
        })
    }

    pub fn pipeline(&self, name: &str) -> Result<Pipeline, CoreError> {
        self.pipelines()?
            .pipelines
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| CoreError::NotFound {
                what: format!("pipeline '{name}'"),
            })
    }

    /// A deal's stages in order with the time spent at each (from the field history of its
    /// stage), as `actor` may see it: nothing when its stage is hidden from them.
    pub async fn stage_history(
        &self,
        actor: &Actor,
        id: uuid::Uuid,
    ) -> Result<Vec<opportunity::StagePeriod>, CoreError> {
        let object = self.object(OBJECT)?;
        let record = self.get_record(actor, OBJECT, id).await?;
        if !crate::fields::readable(actor, &object, STAGE) {
            return Ok(Vec::new());
        }
        let Value::Datetime(created_at) = record.get("created_at") else {
            return Ok(Vec::new());
        };
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        let mut changes: Vec<_> = self
            .record_history(actor, OBJECT, id)
            .await?
            .into_iter()
            .filter(|h| h.field == STAGE)
            .filter_map(|h| {
                let at = chrono::DateTime::parse_from_rfc3339(&h.at).ok()?.to_utc();
                Some((at, text(&h.old_value), text(&h.new_value)))
            })
            .collect();
        changes.reverse(); // the history is newest first
        let current = match record.get(STAGE) {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        };
        Ok(opportunity::stage_periods(
            *created_at,
            current,
            &changes,
            self.clock.now(),
        ))
    }

    /// Creates or replaces the pipeline `pipeline.name`. A stage may leave a pipeline only
    /// when no live opportunity of the pipeline is at it.
    pub async fn save_pipeline(
        &self,
        actor: &Actor,
        mut pipeline: Pipeline,
    ) -> Result<Pipeline, CoreError> {
        actor.require_capability(relata_domain::access::Capability::ManageMetadata)?;
        let read_at = self.schema().version;
        let object = self.object(OBJECT)?;
        let problems = pipeline.problems(&object);
        if !problems.is_empty() {
            return Err(CoreError::Validation(problems));
        }
        let mut all = pipeline::pipelines(&object).into_owned();
        let removed: Vec<String> = match all.iter().find(|p| p.name == pipeline.name) {
            Some(old) => old
                .stages
                .iter()
                .filter(|s| pipeline.stage(&s.value).is_none())
                .map(|s| s.value.clone())
                .collect(),
            None if all.len() >= pipeline::MAX_PIPELINES => {
                return Err(FieldError::new(
                    "name",
                    Code::TooLarge,
                    format!("at most {} pipelines", pipeline::MAX_PIPELINES),
                )
                .into());
            }
            None => Vec::new(),
        };
        let mut updated = (*object).clone();
        picklist_upsert(&mut updated, STAGE, &pipeline);
        picklist_upsert(&mut updated, PIPELINE, &pipeline);
        for s in &mut pipeline.stages {
            s.label = None; // the label lives in the stage picklist
        }
        match all.iter_mut().find(|p| p.name == pipeline.name) {
            Some(slot) => *slot = pipeline.clone(),
            None => all.push(pipeline.clone()),
        }
        if !all.iter().any(|p| p.active) {
            return Err(FieldError::new(
                "active",
                Code::InvalidOption,
                "at least one pipeline must stay active",
            )
            .into());
        }
        updated.pipelines = Some(all);
        let audit = crate::audit::Who::from(actor);
        let now = self.clock.now();
        let detail = serde_json::json!({"pipeline": &pipeline});
        let name = pipeline.name.clone();
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                unchanged_since(conn, read_at)?;
                let used = in_use(conn, &updated, &name, Some(&removed))?;
                if used > 0 {
                    return Err(CoreError::Conflict {
                        code: "stage_in_use",
                        message: format!(
                            "{used} opportunities of this pipeline are at a stage it would \
                             lose ({}); move them first",
                            removed.join(", ")
                        ),
                    });
                }
                meta_sql::update_object(conn, &updated)?;
                crate::audit::append(conn, &audit, now, "metadata.pipeline_save", None, detail)
            })
            .await?;
        self.reload_schema().await?;
        Ok(pipeline)
    }

    /// Deletes a pipeline no live opportunity is in. Its picklist value stays, inactive, so
    /// the field history of deals that were once in it still reads.
    pub async fn delete_pipeline(&self, actor: &Actor, name: &str) -> Result<(), CoreError> {
        actor.require_capability(relata_domain::access::Capability::ManageMetadata)?;
        let read_at = self.schema().version;
        let object = self.object(OBJECT)?;
        let mut all = pipeline::pipelines(&object).into_owned();
        let before = all.len();
        all.retain(|p| p.name != name);
        if all.len() == before {
            return Err(CoreError::NotFound {
                what: format!("pipeline '{name}'"),
            });
        }
        if !all.iter().any(|p| p.active) {
            return Err(CoreError::Conflict {
                code: "last_pipeline",
                message: "the last active pipeline cannot be deleted".into(),
            });
        }
        let mut updated = (*object).clone();
        if let Some(field) = updated.fields.iter_mut().find(|f| f.name() == PIPELINE)
            && let Some(v) = field.values.iter_mut().find(|v| v.value == name)
        {
            v.active = false;
        }
        updated.pipelines = Some(all);
        let audit = crate::audit::Who::from(actor);
        let now = self.clock.now();
        let detail = serde_json::json!({"pipeline": name});
        let name = name.to_owned();
        self.store
            .write(move |conn| -> Result<(), CoreError> {
                unchanged_since(conn, read_at)?;
                let used = in_use(conn, &updated, &name, None)?;
                if used > 0 {
                    return Err(CoreError::Conflict {
                        code: "pipeline_in_use",
                        message: format!(
                            "{used} opportunities are in this pipeline; move them to another \
                             or make it inactive instead"
                        ),
                    });
                }
                meta_sql::update_object(conn, &updated)?;
                crate::audit::append(conn, &audit, now, "metadata.pipeline_delete", None, detail)
            })
            .await?;
        self.reload_schema().await?;
        Ok(())
    }
}

/// Moves the metadata version on, refusing when someone changed the metadata since it was
/// read at `read_at`: two admins saving pipelines at once would otherwise each write the
/// object as they read it, and the later would undo the earlier. (On PostgreSQL the UPDATE
/// holds the version row, so concurrent saves queue here and the later one is refused.)
fn unchanged_since(conn: &mut dyn Conn, read_at: i64) -> Result<(), CoreError> {
    meta_sql::bump_version(conn)?;
    if meta_sql::version(conn)? != read_at + 1 {
        return Err(CoreError::Conflict {
            code: "metadata_changed",
            message: "the settings changed while you were editing; reload and try again".into(),
        });
    }
    Ok(())
}

/// Adds the pipeline's name (to `pipeline`) or its stages (to `stage`) to that picklist
/// where missing, and brings back a value that was made inactive.
fn picklist_upsert(object: &mut ObjectDef, field: &str, pipeline: &Pipeline) {
    let Some(field_def) = object.fields.iter_mut().find(|f| f.name() == field) else {
        return;
    };
    let wanted: Vec<(String, String, bool)> = if field == PIPELINE {
        vec![(
            pipeline.name.clone(),
            pipeline.label.clone(),
            // an inactive pipeline's value stays active: its deals keep writing it (an
            // import, a full-form save); `check_move` keeps new deals out of it
            true,
        )]
    } else {
        pipeline
            .stages
            .iter()
            .map(|s| {
                let label = s.label.clone().unwrap_or_else(|| s.value.clone());
                (s.value.clone(), label, true)
            })
            .collect()
    };
    for (value, label, active) in wanted {
        match field_def.values.iter_mut().find(|v| v.value == value) {
            Some(v) if field == PIPELINE => {
                v.label = label;
                v.active = active;
            }
            Some(v) => v.active = true,
            None => field_def.values.push(PicklistValue {
                value,
                label,
                active,
            }),
        }
    }
}

/// Live opportunities in pipeline `name` (at one of `stages`, when given).
fn in_use(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    name: &str,
    stages: Option<&[String]>,
) -> Result<i64, CoreError> {
    if stages.is_some_and(<[String]>::is_empty) {
        return Ok(0);
    }
    let d = conn.dialect();
    let mut params = vec![SqlValue::Text(name.to_owned())];
    let mut sql = format!(
        "SELECT COUNT(*) FROM {} WHERE deleted_at IS NULL AND {PIPELINE} = {}",
        table_name(object),
        relata_store::dialect::placeholder(d, 1)
    );
    if let Some(stages) = stages {
        sql.push_str(&format!(
            " AND {STAGE} IN ({})",
            relata_store::dialect::placeholders(d, 2, stages.len())
        ));
        params.extend(stages.iter().cloned().map(SqlValue::Text));
    }
    crate::records::read::count(conn, &sql, &params)
}
