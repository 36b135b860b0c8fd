//! What converting a lead would do, shown before it is done; and the conversion map.

use serde_json::Value as Json;
use uuid::Uuid;

use relata_domain::Value;
use relata_domain::lead::{self, ConversionField};
use relata_domain::meta::ObjectDef;

use super::convert::{Objects, opportunity_title};
use super::{Preview, Proposal};
use crate::Core;
use crate::context::Actor;
use crate::duplicates::Candidates;
use crate::error::CoreError;

impl Core {
    /// The matches and the values a conversion of lead `id` would use (`Choice::Auto` takes
    /// the first match of each), and the other leads that may be the same person.
    pub async fn conversion_preview(&self, actor: &Actor, id: Uuid) -> Result<Preview, CoreError> {
        let objects = Objects::load(self)?;
        let lead = self.lead_to_convert(actor, &objects.lead, id).await?;
        let map = lead::conversion_map(&objects.lead);

        let account_values = self.mapped_for(actor, &objects.account, &map, &lead);
        let named = account_values
            .get(objects.account.name_field.as_str())
            .is_some_and(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()));
        let account_matches = if named {
            self.matching(actor, &objects.account, &account_values, &[])
                .await?
        } else {
            Vec::new()
        };
        let best_account = account_matches
            .first()
            .and_then(|d| d.record.id())
            .map_or(Value::Null, Value::Ref);
        let contact_values = self.mapped_for(actor, &objects.contact, &map, &lead);
        let contact_matches = self
            .matching(
                actor,
                &objects.contact,
                &contact_values,
                &[("account_id", best_account)],
            )
            .await?;
        let mut opportunity = self.mapped_for(actor, &objects.opportunity, &map, &lead);
        if let Some(title) = opportunity_title(&objects.lead, &lead) {
            opportunity
                .entry(objects.opportunity.name_field.as_str().to_owned())
                .or_insert(Json::String(title));
        }
        let duplicate_leads = self
            .duplicates_found_by(actor, &objects.lead, &lead, Some(id), Candidates::All)
            .await?;
        Ok(Preview {
            lead,
            account: Proposal {
                matches: account_matches,
                new_values: account_values,
            },
            contact: Proposal {
                matches: contact_matches,
                new_values: contact_values,
            },
            opportunity,
            duplicate_leads,
        })
    }

    /// The conversion map in use, and whether it is the standard one.
    pub fn conversion_map(&self) -> Result<(Vec<ConversionField>, bool), CoreError> {
        let lead = self.object(lead::OBJECT)?;
        Ok((lead::conversion_map(&lead), lead.conversion_map.is_none()))
    }

    /// Checks a conversion map an admin wrote against the objects as they are now.
    pub(crate) fn conversion_map_problems(
        &self,
        map: &[ConversionField],
    ) -> Result<Vec<relata_domain::error::FieldError>, CoreError> {
        let schema = self.schema();
        let lead = self.object(lead::OBJECT)?;
        let target = |name: &str| -> Option<&ObjectDef> { schema.object(name).map(|o| o.as_ref()) };
        Ok(lead::conversion_map_problems(map, &lead, target))
    }
}
