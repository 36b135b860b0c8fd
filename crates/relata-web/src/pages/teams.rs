//! Who a viewer looks at on the forecast and targets pages: whether they manage a rep, and
//! the teams they may pick — an administrator of users any team; anyone else a team they
//! are in or whose members they manage, the same rule the forecast service applies to
//! `?team=`.

use std::collections::HashMap;

use uuid::Uuid;

use relata_core::Actor;
use relata_core::access::Snapshot;
use relata_domain::access::Capability;

use crate::session::Viewer;
use crate::state::WebState;

/// Whether `viewer` manages `user`: `user`'s role lies beneath the viewer's (as the
/// forecast service decides whether an adjustment is an override).
pub fn manages(snapshot: &Snapshot, viewer: Uuid, user: Uuid) -> bool {
    let role = |u: Uuid| snapshot.users.get(&u).and_then(|r| r.role_id);
    match (role(viewer), role(user)) {
        (Some(mine), Some(theirs)) => {
            mine != theirs && snapshot.roles.with_ancestors(theirs).contains(&mine)
        }
        _ => false,
    }
}

/// An administrator of users, for whom every rep and team is in reach.
pub fn administers_users(viewer: &Viewer) -> bool {
    viewer.actor.access.has(Capability::ManageUsers) && viewer.actor.scopes.is_none()
}

/// The teams the viewer may pick, by name, with their ids.
pub async fn usable(state: &WebState, viewer: &Viewer) -> Vec<(Uuid, String)> {
    let snapshot = state.core.access_snapshot();
    let me = viewer.actor.user_id.0;
    let admin = administers_users(viewer);
    let mut members: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (user, teams) in &snapshot.teams_of {
        for t in teams {
            members.entry(*t).or_default().push(*user);
        }
    }
    let may_use = |team: &Uuid| {
        admin
            || members
                .get(team)
                .is_some_and(|m| m.iter().any(|u| *u == me || manages(&snapshot, me, *u)))
    };
    // Team names are only listed for administrators of users. The teams kept here are
    // the ones the forecast service already shows this viewer, so reading their names as
    // the system reveals nothing new; nothing else of the listing is used.
    let reader = if admin {
        viewer.actor.clone()
    } else {
        Actor::system(viewer.actor.user_id)
    };
    let teams = state.core.list_teams(&reader).await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "listing teams for the sales pages failed");
        Vec::new()
    });
    teams
        .into_iter()
        .filter_map(|t| Some((Uuid::parse_str(&t.id).ok()?, t.name)))
        .filter(|(id, _)| may_use(id))
        .collect()
}
