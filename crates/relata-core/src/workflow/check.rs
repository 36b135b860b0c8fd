//! Checking a rule when it is saved: every field, object, user, list, webhook and rule it
//! names must exist; its condition and formulas must type; and its owner (whoever saves it)
//! must be allowed to do what it does. Every problem is reported, each named by where it is
//! in the definition (`steps[2].set.amount`), so a rule that is saved is one that can run.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use uuid::Uuid;

use relata_domain::access::Operation;
use relata_domain::formula::{self, FormulaType};
use relata_domain::meta::{FieldType, ObjectDef};
use relata_domain::schedule::Recurrence;
use relata_domain::workflow::{Assign, Definition, Recipient, Step, Trigger, message_parts};
use relata_domain::{FieldError, FieldErrorCode as Code, UserId};

use super::RuleInput;
use crate::Core;
use crate::context::Actor;
use crate::error::CoreError;
use crate::fields;

fn bad(at: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError::new(at, Code::InvalidOption, message)
}

impl Core {
    /// The definition of `input`, checked; every problem at once.
    pub(crate) async fn check_workflow(
        &self,
        actor: &Actor,
        input: &RuleInput,
        id: Option<Uuid>,
    ) -> Result<Definition, CoreError> {
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(bad("name", "a rule needs a name of 1-100 characters"));
        }
        let object = match self.object(&input.object) {
            Ok(o) => o,
            Err(_) => {
                errors.push(bad("object", format!("no object {:?}", input.object)));
                return Err(CoreError::Validation(errors));
            }
        };
        let definition = Definition::parse(&input.definition).map_err(CoreError::field)?;
        errors.extend(definition.check_shape());
        errors.extend(self.check_trigger(actor, &object, &definition));
        if let Some(c) = &definition.condition
            && let Err(e) = crate::filter_scope::record_condition(self, actor, &object, c)
        {
            errors.push(FieldError::new("condition", e.code, e.message));
        }
        for (i, step) in definition.steps.iter().enumerate() {
            let at = format!("steps[{i}]");
            errors.extend(self.check_step(actor, &object, step, &at, id).await);
        }
        if errors.is_empty() {
            Ok(definition)
        } else {
            Err(CoreError::Validation(errors))
        }
    }

    fn check_trigger(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        definition: &Definition,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match &definition.trigger {
            Trigger::FieldChanged { fields } => {
                for f in fields {
                    if let Err(e) = readable_field(actor, object, f) {
                        errors.push(bad("trigger.fields", e));
                    }
                }
            }
            Trigger::DateReached { field, .. } => match readable_field(actor, object, field) {
                Err(e) => errors.push(bad("trigger.field", e)),
                Ok(t) if !matches!(t, FieldType::Date | FieldType::Datetime) => errors.push(bad(
                    "trigger.field",
                    format!("{field} is not a date or datetime field"),
                )),
                Ok(_) => {}
            },
            Trigger::Schedule { cron } => {
                if let Err(e) = Recurrence::parse(cron, &definition.time_zone) {
                    errors.push(bad(format!("trigger.{}", e.part), e.message));
                }
            }
            _ => {}
        }
        for field in definition.date_fields() {
            if let Ok(t) = readable_field(actor, object, field)
                && !matches!(t, FieldType::Date | FieldType::Datetime)
            {
                errors.push(bad(
                    "steps",
                    format!("{field} is not a date or datetime field"),
                ));
            }
        }
        errors
    }

    async fn check_step(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        step: &Step,
        at: &str,
        this_rule: Option<Uuid>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match step {
            Step::UpdateFields { set } => {
                if let Err(e) = actor.require(object.name(), Operation::Edit) {
                    errors.push(bad(at, e.to_string()));
                }
                errors.extend(self.check_set(
                    actor,
                    object,
                    object,
                    set,
                    &format!("{at}.set"),
                    false,
                ));
            }
            Step::CreateRecord {
                object: target,
                set,
            } => match self.object(target) {
                Err(_) => errors.push(bad(format!("{at}.object"), format!("no object {target:?}"))),
                Ok(target) => {
                    if let Err(e) = actor.require(target.name(), Operation::Create) {
                        errors.push(bad(format!("{at}.object"), e.to_string()));
                    }
                    errors.extend(self.check_set(
                        actor,
                        object,
                        &target,
                        set,
                        &format!("{at}.set"),
                        true,
                    ));
                }
            },
            Step::AssignOwner { to } => {
                if !fields::editable(actor, object, "owner_id") {
                    errors.push(bad(at, "the rule's owner may not change who owns a record"));
                }
                errors.extend(self.check_recipients(std::slice::from_ref(to), &format!("{at}.to")));
            }
            Step::AssignByRule { rule_id } => {
                if !fields::editable(actor, object, "owner_id") {
                    errors.push(bad(at, "the rule's owner may not change who owns a record"));
                }
                match self.assignment_rule(actor, *rule_id).await {
                    Err(_) => errors.push(bad(
                        format!("{at}.rule_id"),
                        format!("no assignment rule {rule_id}"),
                    )),
                    Ok(r) if r.object != object.name() => errors.push(bad(
                        format!("{at}.rule_id"),
                        format!(
                            "the assignment rule {} is about {} records, not {}",
                            r.name,
                            r.object,
                            object.name()
                        ),
                    )),
                    Ok(_) => {}
                }
            }
            Step::Notify { to, message } => {
                errors.extend(self.check_recipients(to, &format!("{at}.to")));
                match message_parts(message) {
                    Err(e) => errors.push(bad(format!("{at}.message"), e)),
                    Ok(parts) => {
                        for p in parts {
                            if let relata_domain::workflow::MessagePart::Formula(f) = p
                                && let Err(e) = self.check_formula(actor, object, &f)
                            {
                                errors.push(bad(
                                    format!("{at}.message"),
                                    format!("in {{{{{}}}}}: {e}", f.source()),
                                ));
                            }
                        }
                    }
                }
            }
            Step::SendEmail {
                template_id, to, ..
            } => {
                errors.extend(
                    self.check_send_email(actor, object, *template_id, to, at)
                        .await,
                );
            }
            Step::CallWebhook { webhook_id } => {
                if self.webhook(actor, *webhook_id).await.is_err() {
                    errors.push(bad(
                        format!("{at}.webhook_id"),
                        format!("no webhook {webhook_id}"),
                    ));
                }
            }
            Step::AddToList { list_id } => match self.record_list(actor, *list_id).await {
                Err(_) => errors.push(bad(format!("{at}.list_id"), format!("no list {list_id}"))),
                Ok(list) if list.object != object.name() => errors.push(bad(
                    format!("{at}.list_id"),
                    format!(
                        "the list {} holds {} records, not {}",
                        list.name,
                        list.object,
                        object.name()
                    ),
                )),
                Ok(_) => {}
            },
            Step::StartRule { rule_id } => {
                if Some(*rule_id) == this_rule {
                    errors.push(bad(format!("{at}.rule_id"), "a rule cannot start itself"));
                } else {
                    match self.workflow_rule(actor, *rule_id).await {
                        Err(_) => {
                            errors.push(bad(format!("{at}.rule_id"), format!("no rule {rule_id}")))
                        }
                        Ok(r) if r.object != object.name() => errors.push(bad(
                            format!("{at}.rule_id"),
                            format!(
                                "the rule {} is about {} records, not {}",
                                r.name,
                                r.object,
                                object.name()
                            ),
                        )),
                        Ok(_) => {}
                    }
                }
            }
            Step::Wait(w) => {
                if let Some(c) = &w.until
                    && let Err(e) = crate::filter_scope::record_condition(self, actor, object, c)
                {
                    errors.push(bad(format!("{at}.until"), e.message));
                }
                if let Some(f) = &w.until_field
                    && let Err(e) = readable_field(actor, object, f)
                {
                    errors.push(bad(format!("{at}.until_field"), e));
                }
            }
        }
        errors
    }

    /// A mail step: its template exists, is active and is for this object; its receiver's
    /// field is an email field the owner may read, or its address is one.
    async fn check_send_email(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        template_id: Uuid,
        to: &relata_domain::workflow::MailTo,
        at: &str,
    ) -> Vec<FieldError> {
        use relata_domain::workflow::MailTo;
        let mut errors = Vec::new();
        match self.email_template(actor, template_id).await {
            Err(_) => errors.push(bad(
                format!("{at}.template_id"),
                format!("no email template {template_id}"),
            )),
            Ok(t) if !t.active => errors.push(bad(
                format!("{at}.template_id"),
                format!("the email template {} is not active", t.name),
            )),
            Ok(t) if t.object.as_deref().is_some_and(|o| o != object.name()) => errors.push(bad(
                format!("{at}.template_id"),
                format!(
                    "the email template {} is for {} records, not {}",
                    t.name,
                    t.object.as_deref().unwrap_or_default(),
                    object.name()
                ),
            )),
            Ok(_) => {}
        }
        let email_field = |path: &str| -> Result<(), String> {
            let segments: Vec<&str> = path.split('.').collect();
            let mut current = std::sync::Arc::new(object.clone());
            for (i, segment) in segments.iter().enumerate() {
                let t = readable_field(actor, &current, segment)?;
                if i + 1 == segments.len() {
                    return if t == FieldType::Email {
                        Ok(())
                    } else {
                        Err(format!("{path} is not an email field"))
                    };
                }
                current = current
                    .field(segment)
                    .filter(|f| f.field_type == FieldType::Lookup)
                    .and_then(|f| f.target.clone())
                    .and_then(|t| self.object(t.as_str()).ok())
                    .ok_or_else(|| format!("{segment} is not a lookup"))?;
            }
            Err("name a field".into())
        };
        match to {
            MailTo::Record => {
                if let Err(e) = email_field("email") {
                    errors.push(bad(
                        format!("{at}.to"),
                        format!("{} records have no email field to send to ({e}): name a field or an address", object.name()),
                    ));
                }
            }
            MailTo::Field(f) => {
                if let Err(e) = email_field(f) {
                    errors.push(bad(format!("{at}.to.field"), e));
                }
            }
            MailTo::Owner => {}
            MailTo::Address(a) => {
                if relata_domain::email::normalize_address(a).is_none() {
                    errors.push(bad(
                        format!("{at}.to.address"),
                        format!("'{a}' is not an email address"),
                    ));
                }
            }
        }
        errors
    }

    /// The fields a step sets: each must exist, be the owner's to edit, and get a value
    /// of its type; a created record must get every required field.
    fn check_set(
        &self,
        actor: &Actor,
        source: &ObjectDef,
        target: &ObjectDef,
        set: &BTreeMap<String, Assign>,
        at: &str,
        creating: bool,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut literals = Map::new();
        for (name, assign) in set {
            let here = format!("{at}.{name}");
            let Some(field) = target.field(name) else {
                errors.push(FieldError::new(
                    &here,
                    Code::UnknownField,
                    format!("{} has no field {name}", target.name()),
                ));
                continue;
            };
            if (field.system && name != "owner_id") || !fields::editable(actor, target, name) {
                errors.push(FieldError::new(
                    &here,
                    Code::ReadOnly,
                    format!("the rule's owner may not set {name}"),
                ));
                continue;
            }
            match assign {
                Assign::Value(v) => {
                    literals.insert(name.clone(), v.clone());
                }
                Assign::Formula { formula } => match formula::parse(formula) {
                    Err(e) => errors.push(bad(&here, e.to_string())),
                    Ok(f) => match self.check_formula(actor, source, &f) {
                        Err(e) => errors.push(bad(&here, e)),
                        Ok(t) if !t.assignable_to(field.field_type) => errors.push(bad(
                            &here,
                            format!(
                                "the formula gives {}, which cannot be stored in {name}",
                                t.as_str()
                            ),
                        )),
                        Ok(_) => {}
                    },
                },
            }
        }
        if !literals.is_empty()
            && let Err(problems) = crate::records::write::parse_input(
                target,
                &Json::Object(literals),
                &self.parse_context(),
                false,
                false,
            )
        {
            errors.extend(
                problems
                    .into_iter()
                    .map(|e| FieldError::new(format!("{at}.{}", e.field), e.code, e.message)),
            );
        }
        if creating {
            for field in target
                .live_fields()
                .filter(|f| f.required && !f.system && f.default.is_none())
            {
                if !set.contains_key(field.name()) {
                    errors.push(FieldError::new(
                        format!("{at}.{}", field.name()),
                        Code::Required,
                        format!("a new {} needs {}", target.name(), field.name()),
                    ));
                }
            }
        }
        errors
    }

    /// A formula's result type, its paths checked against metadata and the owner's access.
    fn check_formula(
        &self,
        actor: &Actor,
        object: &ObjectDef,
        f: &formula::Formula,
    ) -> Result<FormulaType, String> {
        let lookup = |name: &str| self.object(name).ok().map(|o| (*o).clone());
        let t = f.check(object, &lookup).map_err(|e| e.to_string())?;
        for path in f.paths() {
            let mut current = std::sync::Arc::new(object.clone());
            for segment in &path {
                if !fields::readable(actor, &current, segment) {
                    return Err(format!("the rule's owner may not read {}", path.join(".")));
                }
                let next = current
                    .field(segment)
                    .and_then(|fd| fd.target.clone())
                    .and_then(|t| self.object(&t.to_string()).ok());
                match next {
                    Some(n) => current = n,
                    None => break,
                }
            }
        }
        Ok(t)
    }

    fn check_recipients(&self, to: &[Recipient], at: &str) -> Vec<FieldError> {
        to.iter()
            .filter_map(|r| match r {
                Recipient::User(u) if self.access_of(UserId(*u)).is_err() => {
                    Some(bad(at, format!("no active user {u}")))
                }
                _ => None,
            })
            .collect()
    }
}

/// The type of a field the actor may read, or why not.
fn readable_field(actor: &Actor, object: &ObjectDef, name: &str) -> Result<FieldType, String> {
    match object.field(name) {
        None => Err(format!("{} has no field {name}", object.name())),
        Some(_) if !fields::readable(actor, object, name) => {
            Err(format!("the rule's owner may not read {name}"))
        }
        Some(f) => Ok(f.field_type),
    }
}
