//! The conversion: plan each record outside the transaction (matching reads the search
//! index), then write everything — or nothing — in one.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::error::{FieldError, FieldErrorCode as Code};
use relata_domain::lead::{self, ConversionField};
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::{Record, Value};
use relata_store::{Conn, SqlValue};

use super::{Choice, Conversion, Converted, Outcome};
use crate::Core;
use crate::context::Actor;
use crate::duplicates::Candidates;
use crate::error::CoreError;
use crate::fields;
use crate::records::companions::Companions;
use crate::records::read::{self, Bin};
use crate::records::{notify_owner, with_companions, write};
use crate::visibility::Visibility;

/// The objects a conversion touches.
pub(super) struct Objects {
    pub lead: Arc<ObjectDef>,
    pub account: Arc<ObjectDef>,
    pub contact: Arc<ObjectDef>,
    pub opportunity: Arc<ObjectDef>,
}

impl Objects {
    pub fn load(core: &Core) -> Result<Objects, CoreError> {
        Ok(Objects {
            lead: core.object(lead::OBJECT)?,
            account: core.object("account")?,
            contact: core.object("contact")?,
            opportunity: core.object("opportunity")?,
        })
    }
}

/// What the transaction does about one record.
enum Plan {
    Existing(Uuid),
    Create(BTreeMap<String, Value>),
    Nothing,
}

/// Field errors of `object`'s part of the request, named `object.field`.
fn prefixed(object: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.field = format!("{object}.{}", e.field);
            e
        })
        .collect()
}

fn prefix_error(object: &str) -> impl Fn(CoreError) -> CoreError + '_ {
    move |e| match e {
        CoreError::Validation(errors) => CoreError::Validation(prefixed(object, errors)),
        other => other,
    }
}

fn converted_already(lead: &Record) -> Option<CoreError> {
    let Value::Datetime(at) = lead.get(lead::CONVERTED_AT) else {
        return None;
    };
    Some(CoreError::Conflict {
        code: "already_converted",
        message: format!(
            "the lead was converted at {}; see its converted account and contact",
            at.to_rfc3339()
        ),
    })
}

fn id_of(record: &Record) -> Value {
    record.id().map(Value::Ref).unwrap_or(Value::Null)
}

/// The name an opportunity from `lead` gets unless one is given: its company, else its name.
pub(super) fn opportunity_title(lead_def: &ObjectDef, lead: &Record) -> Option<String> {
    [lead.get("company"), lead.get(lead_def.name_field.as_str())]
        .into_iter()
        .find_map(|v| match v {
            Value::Text(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
}

/// The first lookup field of `object` to `target`, the one named `<target>_id` first.
fn link_field<'a>(object: &'a ObjectDef, target: &str) -> Option<&'a str> {
    let to_target = |f: &&relata_domain::meta::FieldDef| {
        f.field_type == FieldType::Lookup && f.target.as_ref().is_some_and(|t| t.as_str() == target)
    };
    let preferred = format!("{target}_id");
    object
        .live_fields()
        .filter(to_target)
        .find(|f| f.name() == preferred)
        .or_else(|| object.live_fields().find(to_target))
        .map(|f| f.name())
}

impl Core {
    /// The lead `id` as the actor may edit it, fields hidden from them removed; refused when
    /// it was converted already.
    pub(super) async fn lead_to_convert(
        &self,
        actor: &Actor,
        lead_def: &Arc<ObjectDef>,
        id: Uuid,
    ) -> Result<Record, CoreError> {
        let vis = self.visibility(actor, lead_def, Operation::Edit)?;
        let obj = lead_def.clone();
        let mut lead = self
            .store
            .read(move |conn| read::get(conn, &obj, id, &vis, Bin::Live))
            .await?
            .ok_or_else(|| CoreError::not_found(format!("lead {id}")))?;
        if let Some(e) = converted_already(&lead) {
            return Err(e);
        }
        fields::redact(actor, lead_def, &mut lead);
        Ok(lead)
    }

    /// The input a new `object` record gets from `lead`: its mapped values the actor may
    /// write there.
    pub(super) fn mapped_for(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        map: &[ConversionField],
        lead: &Record,
    ) -> Map<String, Json> {
        let mut input = lead::mapped_input(map, lead, object.name());
        input.retain(|name, _| fields::editable(actor, object, name));
        input
    }

    /// The existing records of `object` that match `candidate` (JSON input) under its rule,
    /// best first; none when the actor may not read the object at all.
    pub(super) async fn matching(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        candidate: &Map<String, Json>,
        extra: &[(&str, Value)],
    ) -> Result<Vec<crate::duplicates::PossibleDuplicate>, CoreError> {
        if actor.require(object.name(), Operation::Read).is_err() {
            return Ok(Vec::new());
        }
        // parsed as an edit: the values the lead has, without defaults or required checks
        let values = write::parse_input(
            object,
            &Json::Object(candidate.clone()),
            &self.parse_context(),
            false,
            false,
        )
        .unwrap_or_default();
        let mut record = Record::default();
        for (k, v) in values {
            record.set(&k, v);
        }
        for (k, v) in extra {
            if object.field(k).is_some() && !v.is_null() {
                record.set(k, v.clone());
            }
        }
        self.duplicates_found_by(actor, object, &record, None, Candidates::All)
            .await
    }

    /// A new record's parsed values: `input`, its owner, every problem named `object.field`.
    fn new_values(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        mut input: Map<String, Json>,
        owner: &Value,
    ) -> Result<BTreeMap<String, Value>, CoreError> {
        actor.require(object.name(), Operation::Create)?;
        if !input.contains_key("owner_id") {
            input.insert("owner_id".into(), owner.to_json());
        }
        write::parse_input(
            object,
            &Json::Object(input),
            &self.parse_context(),
            true,
            false,
        )
        .map_err(|errors| CoreError::Validation(prefixed(object.name(), errors)))
    }

    /// What to do about the account or contact, decided before the transaction.
    #[allow(clippy::too_many_arguments)]
    async fn plan_conversion(
        &self,
        actor: &Actor,
        object: &Arc<ObjectDef>,
        map: &[ConversionField],
        lead: &Record,
        choice: &Choice,
        owner: &Value,
        extra: &[(&str, Value)],
    ) -> Result<Plan, CoreError> {
        let name = object.name();
        let mapped = self.mapped_for(actor, object, map, lead);
        let input = match choice {
            Choice::Existing { id } => return Ok(Plan::Existing(*id)),
            Choice::None if name == "account" => return Ok(Plan::Nothing),
            Choice::None => {
                return Err(CoreError::Validation(vec![FieldError::new(
                    format!("{name}.action"),
                    Code::InvalidOption,
                    "a lead always converts into a contact",
                )]));
            }
            Choice::Auto => {
                let named = mapped
                    .get(object.name_field.as_str())
                    .is_some_and(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()));
                if name == "account" && !named {
                    return Ok(Plan::Nothing); // no company: a person, not a business
                }
                let found = self.matching(actor, object, &mapped, extra).await?;
                if let Some(best) = found.first().and_then(|d| d.record.id()) {
                    return Ok(Plan::Existing(best));
                }
                mapped
            }
            Choice::Create { values } => {
                let given = Json::Object(values.clone());
                let forbidden = fields::check_editable(actor, object, &given);
                if !forbidden.is_empty() {
                    return Err(CoreError::Validation(prefixed(name, forbidden)));
                }
                let mut input = mapped;
                input.extend(values.clone());
                input
            }
        };
        let values = self.new_values(actor, object, input, owner)?;
        let mut candidate = Record::default();
        for (k, v) in &values {
            candidate.set(k, v.clone());
        }
        self.refuse_blocked_duplicate(actor, object, &candidate, None, None)
            .await?;
        Ok(Plan::Create(values))
    }

    /// Converts the lead `id` as `request` says (see the module's documentation).
    pub async fn convert_lead(
        &self,
        actor: &Actor,
        id: Uuid,
        request: Conversion,
    ) -> Result<Converted, CoreError> {
        let objects = Objects::load(self)?;
        let lead = self.lead_to_convert(actor, &objects.lead, id).await?;
        let map = lead::conversion_map(&objects.lead);
        let owner = match request.owner_id {
            Some(u) => Value::Ref(u),
            None => lead.get("owner_id").clone(),
        };
        let account = self
            .plan_conversion(
                actor,
                &objects.account,
                &map,
                &lead,
                &request.account,
                &owner,
                &[],
            )
            .await?;
        let account_hint = match &account {
            Plan::Existing(a) => Value::Ref(*a),
            _ => Value::Null,
        };
        let contact = self
            .plan_conversion(
                actor,
                &objects.contact,
                &map,
                &lead,
                &request.contact,
                &owner,
                &[("account_id", account_hint)],
            )
            .await?;
        let opportunity = match request.opportunity {
            None => Plan::Nothing,
            Some(values) => {
                let o = &objects.opportunity;
                let forbidden = fields::check_editable(actor, o, &Json::Object(values.clone()));
                if !forbidden.is_empty() {
                    return Err(CoreError::Validation(prefixed(o.name(), forbidden)));
                }
                let mut input = self.mapped_for(actor, o, &map, &lead);
                input.extend(values);
                let name_field = o.name_field.as_str().to_owned();
                if input.get(&name_field).is_none_or(Json::is_null)
                    && let Some(title) = opportunity_title(&objects.lead, &lead)
                {
                    input.insert(name_field, Json::String(title));
                }
                Plan::Create(self.new_values(actor, o, input, &owner)?)
            }
        };
        let step = Step {
            account_read: match account {
                Plan::Existing(_) => {
                    Some(self.visibility(actor, &objects.account, Operation::Read)?)
                }
                _ => None,
            },
            contact_read: match contact {
                Plan::Existing(_) => {
                    Some(self.visibility(actor, &objects.contact, Operation::Read)?)
                }
                _ => None,
            },
            contact_edit: self
                .visibility(actor, &objects.contact, Operation::Edit)
                .ok(),
            lead_edit: self.visibility(actor, &objects.lead, Operation::Edit)?,
            targets: [
                self.lookup_targets(actor, &objects.account),
                self.lookup_targets(actor, &objects.contact),
                self.lookup_targets(actor, &objects.opportunity),
            ],
            relinks: relinks(&self.schema()),
            writer: actor.clone(),
            now: self.clock.now(),
            objects,
        };
        let mut converted = self
            .store
            .write(move |conn| {
                with_companions(conn, |conn, side| {
                    step.run(conn, side, id, account, contact, opportunity)
                })
            })
            .await?;
        let objects = Objects::load(self)?;
        fields::redact(actor, &objects.lead, &mut converted.lead);
        if let Some(a) = converted.account.as_mut() {
            fields::redact(actor, &objects.account, &mut a.record);
        }
        fields::redact(actor, &objects.contact, &mut converted.contact.record);
        if let Some(o) = converted.opportunity.as_mut() {
            fields::redact(actor, &objects.opportunity, o);
        }
        Ok(converted)
    }
}

/// Every object with a lookup to leads, with its links to contacts and accounts: where a
/// lead's activities are found and what links them to what it became.
struct Relink {
    object: Arc<ObjectDef>,
    to_lead: Vec<String>,
    to_contact: Option<String>,
    to_account: Option<String>,
}

fn relinks(schema: &relata_domain::meta::Schema) -> Vec<Relink> {
    schema
        .objects()
        .filter(|o| o.name() != lead::OBJECT)
        .filter_map(|o| {
            let to_lead: Vec<String> = o
                .live_fields()
                .filter(|f| {
                    f.field_type == FieldType::Lookup
                        && f.target
                            .as_ref()
                            .is_some_and(|t| t.as_str() == lead::OBJECT)
                })
                .map(|f| f.name().to_owned())
                .collect();
            let to_contact = link_field(o, "contact").map(str::to_owned);
            let to_account = link_field(o, "account").map(str::to_owned);
            (!to_lead.is_empty() && (to_contact.is_some() || to_account.is_some())).then(|| {
                Relink {
                    object: o.clone(),
                    to_lead,
                    to_contact,
                    to_account,
                }
            })
        })
        .collect()
}

/// Everything the transaction needs, computed before it.
struct Step {
    objects: Objects,
    lead_edit: Visibility,
    account_read: Option<Visibility>,
    contact_read: Option<Visibility>,
    contact_edit: Option<Visibility>,
    /// What the writer may link to from new accounts, contacts and opportunities.
    targets: [crate::records::write::LookupTargets; 3],
    relinks: Vec<Relink>,
    writer: Actor,
    now: chrono::DateTime<chrono::Utc>,
}

impl Step {
    fn run(
        &self,
        conn: &mut dyn Conn,
        side: &mut Companions,
        id: Uuid,
        account: Plan,
        contact: Plan,
        opportunity: Plan,
    ) -> Result<Converted, CoreError> {
        let o = &self.objects;
        let lead = read::get_for_update(conn, &o.lead, id, &self.lead_edit, Bin::Live)?
            .ok_or_else(|| CoreError::not_found(format!("lead {id}")))?;
        // a conversion that ran while this one was being planned wins
        if let Some(e) = converted_already(&lead) {
            return Err(e);
        }
        let account = match account {
            Plan::Existing(aid) => Some(Outcome {
                record: self.existing(conn, &o.account, aid, self.account_read.as_ref())?,
                created: false,
            }),
            Plan::Create(values) => Some(Outcome {
                record: self.create(conn, side, &o.account, values, &self.targets[0])?,
                created: true,
            }),
            Plan::Nothing => None,
        };
        let account_id = account.as_ref().map(|a| id_of(&a.record));
        let contact = match contact {
            Plan::Existing(cid) => {
                let record = self.existing(conn, &o.contact, cid, self.contact_read.as_ref())?;
                Outcome {
                    record: self.link_to_account(conn, side, record, account_id.as_ref())?,
                    created: false,
                }
            }
            Plan::Create(mut values) => {
                if let Some(a) = &account_id
                    && o.contact.field("account_id").is_some()
                {
                    values
                        .entry("account_id".into())
                        .or_insert_with(|| a.clone());
                }
                Outcome {
                    record: self.create(conn, side, &o.contact, values, &self.targets[1])?,
                    created: true,
                }
            }
            Plan::Nothing => {
                return Err(CoreError::Internal("a conversion without a contact".into()));
            }
        };
        let contact_id = id_of(&contact.record);
        let opportunity = match opportunity {
            Plan::Create(mut values) => {
                if let Some(a) = &account_id {
                    values
                        .entry("account_id".into())
                        .or_insert_with(|| a.clone());
                }
                values
                    .entry("contact_id".into())
                    .or_insert_with(|| contact_id.clone());
                values.retain(|k, _| o.opportunity.field(k).is_some());
                Some(self.create(conn, side, &o.opportunity, values, &self.targets[2])?)
            }
            _ => None,
        };
        let relinked = self.relink(conn, side, id, account_id.as_ref(), &contact_id)?;
        let changes = BTreeMap::from([
            (
                lead::STATUS.to_owned(),
                Value::Text(lead::CONVERTED.to_owned()),
            ),
            (lead::CONVERTED_AT.to_owned(), Value::Datetime(self.now)),
            (
                lead::CONVERTED_ACCOUNT.to_owned(),
                account_id.clone().unwrap_or(Value::Null),
            ),
            (lead::CONVERTED_CONTACT.to_owned(), contact_id),
            (
                lead::CONVERTED_OPPORTUNITY.to_owned(),
                opportunity.as_ref().map(id_of).unwrap_or(Value::Null),
            ),
        ]);
        let lead = write::update(conn, side, &o.lead, &self.writer, self.now, lead, changes)?;
        Ok(Converted {
            lead,
            account,
            contact,
            opportunity,
            relinked,
        })
    }

    /// An existing record the request named or the matching found, if the writer may see it.
    fn existing(
        &self,
        conn: &mut dyn Conn,
        object: &ObjectDef,
        id: Uuid,
        vis: Option<&Visibility>,
    ) -> Result<Record, CoreError> {
        let found = match vis {
            Some(vis) => read::get(conn, object, id, vis, Bin::Live)?,
            None => None,
        };
        found.ok_or_else(|| {
            CoreError::Validation(vec![FieldError::new(
                format!("{}.id", object.name()),
                Code::LookupNotFound,
                format!("no {} with id {id}", object.name()),
            )])
        })
    }

    fn create(
        &self,
        conn: &mut dyn Conn,
        side: &mut Companions,
        object: &ObjectDef,
        values: BTreeMap<String, Value>,
        targets: &crate::records::write::LookupTargets,
    ) -> Result<Record, CoreError> {
        let errors = write::check_lookups(conn, object, &values, targets)?;
        if !errors.is_empty() {
            return Err(CoreError::Validation(prefixed(object.name(), errors)));
        }
        let record = write::insert(conn, side, object, &self.writer, self.now, values)
            .map_err(prefix_error(object.name()))?;
        notify_owner(conn, &self.writer, object, &record, None, self.now)?;
        Ok(record)
    }

    /// An existing contact without an account gets the lead's account, when the writer may
    /// edit it; one at another account keeps it (a person may work with several).
    fn link_to_account(
        &self,
        conn: &mut dyn Conn,
        side: &mut Companions,
        contact: Record,
        account_id: Option<&Value>,
    ) -> Result<Record, CoreError> {
        let (Some(account_id), Some(vis), Some(cid)) =
            (account_id, &self.contact_edit, contact.id())
        else {
            return Ok(contact);
        };
        if !contact.get("account_id").is_null()
            || !fields::editable(&self.writer, &self.objects.contact, "account_id")
        {
            return Ok(contact);
        }
        let Some(current) = read::get_for_update(conn, &self.objects.contact, cid, vis, Bin::Live)?
        else {
            return Ok(contact);
        };
        let changes = BTreeMap::from([("account_id".to_owned(), account_id.clone())]);
        write::update(
            conn,
            side,
            &self.objects.contact,
            &self.writer,
            self.now,
            current,
            changes,
        )
        .map_err(prefix_error("contact"))
    }

    /// Links the lead's live tasks, notes and the like to the contact and account (where
    /// they have no contact or account yet). Their link to the lead stays.
    fn relink(
        &self,
        conn: &mut dyn Conn,
        side: &mut Companions,
        lead_id: Uuid,
        account_id: Option<&Value>,
        contact_id: &Value,
    ) -> Result<usize, CoreError> {
        let mut count = 0;
        for r in &self.relinks {
            let table = relata_store::ddl::table_name(&r.object);
            let mut ids: Vec<Uuid> = Vec::new();
            for field in &r.to_lead {
                let sql = format!(
                    "SELECT id FROM {table} WHERE {field} = {} AND deleted_at IS NULL",
                    relata_store::dialect::placeholder(conn.dialect(), 1)
                );
                for row in conn.query(&sql, &[SqlValue::Uuid(lead_id)])? {
                    if let Some(id) = row.first().and_then(SqlValue::as_uuid) {
                        ids.push(id);
                    }
                }
            }
            ids.sort_unstable();
            ids.dedup();
            for rid in ids {
                // the lead's own activities move with it, whoever may see them
                let Some(current) =
                    read::get_for_update(conn, &r.object, rid, &Visibility::All, Bin::Live)?
                else {
                    continue;
                };
                let mut changes = BTreeMap::new();
                for (field, value) in [
                    (&r.to_contact, Some(contact_id)),
                    (&r.to_account, account_id),
                ] {
                    if let (Some(field), Some(value)) = (field, value)
                        && current.get(field).is_null()
                        && !value.is_null()
                    {
                        changes.insert(field.clone(), value.clone());
                    }
                }
                if changes.is_empty() {
                    continue;
                }
                write::update(
                    conn,
                    side,
                    &r.object,
                    &self.writer,
                    self.now,
                    current,
                    changes,
                )?;
                count += 1;
            }
        }
        Ok(count)
    }
}
