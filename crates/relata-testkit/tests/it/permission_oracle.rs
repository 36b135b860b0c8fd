//! The permission oracle: random role trees, teams, users, sharing rules, shares and records;
//! for every user, what list, count, get, search and the change feed return must equal what an
//! independent, naive model of the rules says — records and fields. The model below shares no
//! code with the SQL compiler: it walks parent maps and compares values by hand.

use std::collections::{HashMap, HashSet};

use relata_core::Actor;
use relata_core::records::ListRequest;
use relata_testkit::TestApp;
use serde_json::{Value as Json, json};
use uuid::Uuid;

/// A small deterministic generator (xorshift64*), so a failure can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const CITIES: &[&str] = &["上海", "北京", "深圳", "杭州"];

#[derive(Debug, Clone)]
enum Principal {
    User(usize),
    Role(usize),
    RoleAndSubordinates(usize),
    Team(usize),
}

#[derive(Debug, Clone)]
struct Rule {
    object: &'static str,
    city: &'static str,
    principal: Principal,
}

#[derive(Debug, Clone)]
struct Share {
    object: &'static str,
    record: Uuid,
    principal: Principal,
}

/// The world as the model sees it.
#[derive(Default)]
struct Model {
    role_parent: Vec<Option<usize>>,
    user_role: Vec<Option<usize>>,
    team_members: Vec<HashSet<usize>>,
    /// users who may not see the account `city` field
    city_hidden: HashSet<usize>,
    rules: Vec<Rule>,
    shares: Vec<Share>,
    /// (object, id) → (owner, city, parent account)
    records: HashMap<(&'static str, Uuid), (usize, &'static str, Option<Uuid>)>,
}

impl Model {
    /// Whether `role` is `ancestor` or lies beneath it.
    fn at_or_below(&self, role: usize, ancestor: usize) -> bool {
        let mut at = Some(role);
        let mut steps = 0;
        while let Some(r) = at {
            if r == ancestor {
                return true;
            }
            at = self.role_parent[r];
            steps += 1;
            assert!(steps < 100, "cycle in the generated tree");
        }
        false
    }

    fn includes(&self, p: &Principal, user: usize) -> bool {
        match p {
            Principal::User(u) => *u == user,
            Principal::Role(r) => self.user_role[user] == Some(*r),
            Principal::RoleAndSubordinates(r) => {
                self.user_role[user].is_some_and(|mine| self.at_or_below(mine, *r))
            }
            Principal::Team(t) => self.team_members[*t].contains(&user),
        }
    }

    /// Owner is the user, or holds a role strictly beneath the user's.
    fn owns_through_hierarchy(&self, owner: usize, user: usize) -> bool {
        if owner == user {
            return true;
        }
        match (self.user_role[owner], self.user_role[user]) {
            (Some(theirs), Some(mine)) => theirs != mine && self.at_or_below(theirs, mine),
            _ => false,
        }
    }

    fn visible(&self, object: &'static str, id: Uuid, user: usize) -> bool {
        let (owner, city, parent) = self.records[&(object, id)];
        let own = self.owns_through_hierarchy(owner, user);
        let shared = self
            .shares
            .iter()
            .any(|s| s.object == object && s.record == id && self.includes(&s.principal, user));
        let ruled = self
            .rules
            .iter()
            .any(|r| r.object == object && r.city == city && self.includes(&r.principal, user));
        // contacts are controlled by their account
        let through_parent =
            object == "contact" && parent.is_some_and(|p| self.visible("account", p, user));
        own || shared || ruled || through_parent
    }
}

struct World {
    model: Model,
    actors: Vec<Actor>,
    user_ids: Vec<Uuid>,
}

fn principal_json(p: &Principal, users: &[Uuid], roles: &[Uuid], teams: &[Uuid]) -> Json {
    match p {
        Principal::User(u) => json!({"kind": "user", "id": users[*u]}),
        Principal::Role(r) => json!({"kind": "role", "id": roles[*r]}),
        Principal::RoleAndSubordinates(r) => {
            json!({"kind": "role_and_subordinates", "id": roles[*r]})
        }
        Principal::Team(t) => json!({"kind": "team", "id": teams[*t]}),
    }
}

fn random_principal(rng: &mut Rng, users: usize, roles: usize, teams: usize) -> Principal {
    match rng.below(4) {
        0 => Principal::User(rng.below(users)),
        1 => Principal::Role(rng.below(roles)),
        2 => Principal::RoleAndSubordinates(rng.below(roles)),
        _ => Principal::Team(rng.below(teams)),
    }
}

async fn build(app: &TestApp, seed: u64) -> World {
    let mut rng = Rng(seed);
    let core = &app.core;
    let admin = app.admin().await;
    let mut model = Model::default();

    // contacts follow their account
    core.set_object_sharing(
        &admin,
        "contact",
        serde_json::from_value(
            json!({"sharing": {"model": "controlled_by_parent", "field": "account_id"}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();

    // a random forest of roles: each role's parent is an earlier role (or none)
    let role_count = 6 + rng.below(4);
    let mut roles = Vec::new();
    for i in 0..role_count {
        let parent = if i == 0 || rng.chance(20) {
            None
        } else {
            Some(rng.below(i))
        };
        let role = core
            .create_role(
                &admin,
                serde_json::from_value(json!({"name": format!("role {seed}-{i}"), "parent_id": parent.map(|p: usize| roles[p])}))
                    .unwrap(),
            )
            .await
            .unwrap();
        roles.push(Uuid::parse_str(&role.id).unwrap());
        model.role_parent.push(parent);
    }
    let team_count = 3;
    let mut teams = Vec::new();
    for i in 0..team_count {
        let t = core
            .create_team(&admin, &format!("team {seed}-{i}"))
            .await
            .unwrap();
        teams.push(Uuid::parse_str(&t.id).unwrap());
        model.team_members.push(HashSet::new());
    }
    // a profile like the standard one that hides the account's city
    let no_city = core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({
                "name": format!("no city {seed}"),
                "is_profile": true,
                "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true, "export": true},
                    "fields": {"account": {"city": "hidden"}}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    let user_count = 10;
    let mut user_ids = Vec::new();
    for u in 0..user_count {
        let role = (!rng.chance(15)).then(|| rng.below(role_count));
        model.user_role.push(role);
        let mut fields = json!({"role_id": role.map(|r| roles[r])});
        // the first user always has it, so every world checks an export's content too
        if u == 0 || rng.chance(30) {
            fields["profile_id"] = json!(no_city.id);
            model.city_hidden.insert(u);
        }
        let actor = app.user(&format!("u{u}.{seed}@example.com"), fields).await;
        user_ids.push(actor.user_id.0);
        for (t, team) in teams.iter().enumerate() {
            if rng.chance(30) {
                core.set_team_member(&admin, *team, actor.user_id.0, true)
                    .await
                    .unwrap();
                model.team_members[t].insert(u);
            }
        }
    }

    for i in 0..4 {
        let rule = Rule {
            object: if i % 2 == 0 { "account" } else { "contact" },
            city: CITIES[rng.below(CITIES.len())],
            principal: random_principal(&mut rng, user_count, role_count, team_count),
        };
        core.create_sharing_rule(
            &admin,
            serde_json::from_value(json!({
                "object": rule.object,
                "name": format!("rule {i}"),
                "filter": {"field": "city", "op": "eq", "value": rule.city},
                "principal": principal_json(&rule.principal, &user_ids, &roles, &teams),
                "access": "read",
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        model.rules.push(rule);
    }

    let mut actors = Vec::new();
    for id in &user_ids {
        actors.push(app.actor_of(&id.to_string()).await);
    }

    let mut accounts = Vec::new();
    for i in 0..60 {
        let owner = rng.below(user_count);
        let city = CITIES[rng.below(CITIES.len())];
        let r = core
            .create_record(
                &admin,
                "account",
                json!({"name": format!("客户公司 {i}"), "city": city, "owner_id": user_ids[owner]}),
            )
            .await
            .unwrap();
        let id = r.id().unwrap();
        accounts.push(id);
        model.records.insert(("account", id), (owner, city, None));
    }
    for i in 0..80 {
        let owner = rng.below(user_count);
        let city = CITIES[rng.below(CITIES.len())];
        // the creator may link only accounts they can see; the admin links any
        let parent = rng.chance(70).then(|| accounts[rng.below(accounts.len())]);
        let mut input =
            json!({"name": format!("联系人 {i}"), "city": city, "owner_id": user_ids[owner]});
        if let Some(p) = parent {
            input["account_id"] = json!(p);
        }
        let r = core.create_record(&admin, "contact", input).await.unwrap();
        let id = r.id().unwrap();
        model.records.insert(("contact", id), (owner, city, parent));
    }
    let all: Vec<(&'static str, Uuid)> = model.records.keys().copied().collect();
    for _ in 0..25 {
        let (object, record) = all[rng.below(all.len())];
        let share = Share {
            object,
            record,
            principal: random_principal(&mut rng, user_count, role_count, team_count),
        };
        core.share_record(
            &admin,
            object,
            record,
            serde_json::from_value(json!({
                "principal": principal_json(&share.principal, &user_ids, &roles, &teams),
                "access": "read",
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        model.shares.push(share);
    }
    // reload: accesses derived before the last changes are stale
    let mut fresh = Vec::new();
    for id in &user_ids {
        fresh.push(app.actor_of(&id.to_string()).await);
    }
    World {
        model,
        actors: fresh,
        user_ids,
    }
}

async fn listed(
    app: &TestApp,
    actor: &Actor,
    object: &str,
) -> (HashSet<Uuid>, i64, Vec<relata_domain::Record>) {
    let (_, page) = app
        .core
        .list_records(
            actor,
            object,
            ListRequest {
                limit: Some(1000),
                count: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(page.next_cursor.is_none());
    (
        page.records.iter().filter_map(|r| r.id()).collect(),
        page.total.unwrap_or(-1),
        page.records,
    )
}

/// The ids in a JSON Lines export of `object` by `actor`, and whether any line carries a
/// city; `None` when the export is forbidden.
async fn exported_ids(app: &TestApp, actor: &Actor, object: &str) -> Option<(HashSet<Uuid>, bool)> {
    use relata_core::export::{ExportFormat, ExportRequest};
    let mut export = match app
        .core
        .export(actor, object, ExportRequest::new(ExportFormat::JsonLines))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            assert_eq!(e.code(), "forbidden", "{e:?}");
            return None;
        }
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        bytes.extend(chunk);
    }
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Some((
        lines
            .iter()
            .filter_map(|l| l["id"].as_str()?.parse().ok())
            .collect(),
        lines.iter().any(|l| l.get("city").is_some()),
    ))
}

async fn check_world(app: &TestApp, seed: u64) {
    let world = build(app, seed).await;
    let m = &world.model;
    let mut seen_any_hidden = false;
    for (u, actor) in world.actors.iter().enumerate() {
        for object in ["account", "contact"] {
            let expected: HashSet<Uuid> = m
                .records
                .keys()
                .filter(|(o, id)| *o == object && m.visible(object, *id, u))
                .map(|(_, id)| *id)
                .collect();
            seen_any_hidden |=
                expected.len() < m.records.keys().filter(|(o, _)| *o == object).count();
            let (got, total, records) = listed(app, actor, object).await;
            if object == "account" {
                let hidden = m.city_hidden.contains(&u);
                for r in &records {
                    assert_eq!(
                        !r.values.contains_key("city"),
                        hidden,
                        "seed {seed}: user {u} and the city field"
                    );
                }
            }
            assert_eq!(got, expected, "seed {seed}: user {u} lists {object}");
            assert_eq!(
                total as usize,
                expected.len(),
                "seed {seed}: user {u} counts {object}"
            );

            // a filtered list, paged: served from a window of the sort index, which must
            // carry what the visibility predicate reads (rule fields, the parent lookup)
            let two_cities = relata_domain::filter::json::parse(&json!({"or": [
                {"field": "city", "op": "eq", "value": "上海"},
                {"field": "city", "op": "eq", "value": "北京"},
            ]}))
            .unwrap();
            let mut paged = HashSet::new();
            let mut cursor = None;
            let city_hidden = object == "account" && m.city_hidden.contains(&u);
            if city_hidden {
                // filtering on a hidden field is refused, so counts cannot reveal it
                let refused = app
                    .core
                    .list_records(
                        actor,
                        object,
                        ListRequest {
                            filter: Some(two_cities.clone()),
                            count: true,
                            ..Default::default()
                        },
                    )
                    .await;
                assert!(
                    refused.is_err(),
                    "seed {seed}: user {u} filtered on a hidden field"
                );
            }
            let mut more = !city_hidden;
            while more {
                let (_, page) = app
                    .core
                    .list_records(
                        actor,
                        object,
                        ListRequest {
                            filter: Some(two_cities.clone()),
                            limit: Some(7),
                            cursor,
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                paged.extend(page.records.iter().filter_map(|r| r.id()));
                cursor = page.next_cursor;
                more = cursor.is_some();
            }
            let expected_cities: HashSet<Uuid> = expected
                .iter()
                .filter(|id| matches!(m.records[&(object, **id)].1, "上海" | "北京"))
                .copied()
                .collect();
            if !city_hidden {
                assert_eq!(
                    paged, expected_cities,
                    "seed {seed}: user {u} pages through a filtered {object} list"
                );
            }

            // get: visible ones answer, the others do not exist for this user
            for (o, id) in m.records.keys().filter(|(o, _)| *o == object).take(30) {
                let got = app.core.get_record(actor, o, *id).await;
                assert_eq!(
                    got.is_ok(),
                    expected.contains(id),
                    "seed {seed}: user {u} gets {o} {id}"
                );
            }

            // search: every record's name shares a word
            let q = if object == "account" {
                "客户公司"
            } else {
                "联系人"
            };
            let hits = app
                .core
                .search(actor, q, Some(vec![object.to_owned()]), 1000)
                .await
                .unwrap();
            let found: HashSet<Uuid> = hits
                .iter()
                .flat_map(|g| g.hits.iter().filter_map(|h| h.record.id()))
                .collect();
            assert_eq!(found, expected, "seed {seed}: user {u} searches {object}");

            // export: refused without the export grant (the standard profile); with it (the
            // no-city profile), exactly the visible records, without the hidden field
            let exported = exported_ids(app, actor, object).await;
            if m.city_hidden.contains(&u) {
                let (ids, carries_city) = exported.expect("the no-city profile may export");
                assert_eq!(ids, expected, "seed {seed}: user {u} exports {object}");
                assert!(
                    object != "account" || !carries_city,
                    "seed {seed}: user {u} exports the hidden city"
                );
            } else {
                assert!(
                    exported.is_none(),
                    "seed {seed}: user {u} exports without the export grant"
                );
            }

            // the change feed: the created events of visible records
            let events = app
                .core
                .changes(actor, 0, 10_000, Some(object.to_owned()))
                .await
                .unwrap();
            let fed: HashSet<Uuid> = events
                .iter()
                .filter_map(|e| e.record_id.parse().ok())
                .collect();
            assert_eq!(
                fed, expected,
                "seed {seed}: user {u} reads the change feed of {object}"
            );
        }
    }
    assert!(
        seen_any_hidden,
        "seed {seed}: the world hides nothing from anyone; the test would be vacuous"
    );
    let _ = &world.user_ids;
}

#[tokio::test]
async fn what_each_user_sees_matches_the_model() {
    for seed in [0x5eed_0001_u64, 0x5eed_0002, 0x5eed_0003] {
        let app = TestApp::spawn().await;
        check_world(&app, seed).await;
    }
}

#[tokio::test]
async fn a_hidden_field_is_absent_everywhere_and_cannot_be_filtered_or_sorted() {
    let app = TestApp::spawn().await;
    let core = &app.core;
    let admin = app.admin().await;
    // a profile that reads and edits accounts but never sees their customer level
    let profile = core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({
                "name": "no revenue",
                "is_profile": true,
                "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true},
                    "fields": {"account": {"level": "hidden", "phone": "read"}}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let rep = app
        .user("rep@example.com", json!({"profile_id": profile.id}))
        .await;
    // a read-only field cannot be given on create either
    let err = core
        .create_record(
            &rep,
            "account",
            json!({"name": "华为技术", "phone": "075528780808"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed", "{err:?}");
    let acct = core
        .create_record(&rep, "account", json!({"name": "华为技术"}))
        .await
        .unwrap();
    assert!(
        !acct.values.contains_key("level"),
        "create answers without it"
    );
    let id = acct.id().unwrap();
    core.update_record(
        &admin,
        "account",
        id,
        json!({"level": "a", "phone": "075528780808"}),
        None,
    )
    .await
    .unwrap();

    let got = core.get_record(&rep, "account", id).await.unwrap();
    assert!(!got.values.contains_key("level"));
    assert!(
        got.values.contains_key("phone"),
        "a read-only field is shown"
    );
    let as_admin = core.get_record(&admin, "account", id).await.unwrap();
    assert!(as_admin.values.contains_key("level"));

    let (_, page) = core
        .list_records(&rep, "account", ListRequest::default())
        .await
        .unwrap();
    assert!(page.records.iter().all(|r| !r.values.contains_key("level")));

    let history = core.record_history(&rep, "account", id).await.unwrap();
    assert!(history.iter().all(|h| h.field != "level"), "{history:?}");
    assert!(
        !core
            .record_history(&admin, "account", id)
            .await
            .unwrap()
            .is_empty()
    );

    let events = core
        .changes(&rep, 0, 100, Some("account".into()))
        .await
        .unwrap();
    assert!(!events.is_empty());
    for e in &events {
        assert!(e.changes.get("level").is_none(), "{:?}", e.changes);
    }

    // filtering or sorting on it is refused as if the field did not exist
    let filter =
        relata_domain::filter::json::parse(&json!({"field": "level", "op": "eq", "value": "a"}))
            .unwrap();
    let err = core
        .list_records(
            &rep,
            "account",
            ListRequest {
                filter: Some(filter),
                count: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed", "{err:?}");
    let err = core
        .list_records(
            &rep,
            "account",
            ListRequest {
                sort: Some("-level".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed", "{err:?}");

    // writing it, or a read-only field, is refused and changes nothing
    for input in [json!({"level": "b"}), json!({"phone": "13800138000"})] {
        let err = core
            .update_record(&rep, "account", id, input.clone(), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation_failed", "{input}: {err:?}");
    }
    let after = core.get_record(&admin, "account", id).await.unwrap();
    assert_eq!(after.version(), as_admin.version());

    // search does not match through the hidden field, and hits do not carry it
    core.update_record(&admin, "account", id, json!({"description": "x"}), None)
        .await
        .unwrap();
    let hits = core.search(&rep, "华为", None, 10).await.unwrap();
    let records: Vec<_> = hits.iter().flat_map(|g| g.hits.iter()).collect();
    assert_eq!(records.len(), 1);
    assert!(!records[0].record.values.contains_key("level"));
}

#[tokio::test]
async fn search_does_not_match_through_a_hidden_searchable_field() {
    let app = TestApp::spawn().await;
    let core = &app.core;
    let admin = app.admin().await;
    let profile = core
        .create_permission_set(
            &admin,
            serde_json::from_value(json!({
                "name": "no mobile",
                "is_profile": true,
                "grants": {
                    "default_objects": {"create": true, "read": true, "edit": true, "delete": true},
                    "fields": {"contact": {"mobile": "hidden"}}
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let rep = app
        .user("rep@example.com", json!({"profile_id": profile.id}))
        .await;
    core.create_record(
        &admin,
        "contact",
        json!({"name": "王芳", "mobile": "13912345678", "owner_id": rep.user_id.0}),
    )
    .await
    .unwrap();
    let by_name = core.search(&rep, "王芳", None, 10).await.unwrap();
    assert_eq!(by_name.iter().map(|g| g.hits.len()).sum::<usize>(), 1);
    let by_mobile = core.search(&rep, "12345678", None, 10).await.unwrap();
    assert_eq!(
        by_mobile.iter().map(|g| g.hits.len()).sum::<usize>(),
        0,
        "the hidden mobile must not be searchable"
    );
    let as_admin = core.search(&admin, "12345678", None, 10).await.unwrap();
    assert_eq!(as_admin.iter().map(|g| g.hits.len()).sum::<usize>(), 1);
}
