//! The demo sales organisation: a role hierarchy (销售总监 → 区域经理 → 销售代表), a key-account
//! team, and sales reps who own the demo records, so that record visibility can be seen at
//! work. The users have no passwords (there is no default password anywhere): an
//! administrator sets one under /api/v1/admin/users before a rep signs in.

use relata_core::{Actor, Core};
use serde_json::json;

use super::super::core_error;

/// (name, email, region) of the demo reps; the region picks their manager.
const REPS: &[(&str, &str, usize)] = &[
    ("王强", "wang.qiang@demo.relata.local", 0),
    ("李静", "li.jing@demo.relata.local", 0),
    ("Emily Chen", "emily.chen@demo.relata.local", 1),
    ("赵磊", "zhao.lei@demo.relata.local", 1),
];

/// (manager role, manager name, email, the role of the reps beneath)
const MANAGERS: &[(&str, &str, &str, &str)] = &[
    (
        "华东区域经理",
        "陈伟",
        "chen.wei@demo.relata.local",
        "华东销售代表",
    ),
    (
        "华南区域经理",
        "David Liu",
        "david.liu@demo.relata.local",
        "华南销售代表",
    ),
];

fn id_of(view_id: &str) -> anyhow::Result<uuid::Uuid> {
    Ok(uuid::Uuid::parse_str(view_id)?)
}

/// Creates the organisation and returns the reps' user ids (record owners), or nothing when
/// the database already has roles (the demo is loaded once, into an empty database).
pub fn create(
    core: &Core,
    rt: &tokio::runtime::Runtime,
    admin: &Actor,
) -> anyhow::Result<Vec<String>> {
    rt.block_on(async {
        if !core.list_roles(admin).await.map_err(core_error)?.is_empty() {
            return Ok(Vec::new());
        }
        let role = |name: &str, parent: Option<uuid::Uuid>| {
            serde_json::from_value(json!({"name": name, "parent_id": parent}))
        };
        let director = core.create_role(admin, role("销售总监", None)?).await.map_err(core_error)?;
        let director_id = id_of(&director.id)?;
        core.create_user(admin, json!({"name": "周敏", "email": "zhou.min@demo.relata.local", "role_id": director_id, "locale": "zh-CN", "time_zone": "Asia/Shanghai"}))
            .await
            .map_err(core_error)?;
        let team = core.create_team(admin, "大客户团队").await.map_err(core_error)?;
        let team_id = id_of(&team.id)?;
        let mut managers = Vec::new();
        for (title, name, email, reps_title) in MANAGERS {
            let r = core.create_role(admin, role(title, Some(director_id))?).await.map_err(core_error)?;
            let r = id_of(&r.id)?;
            core.create_user(admin, json!({"name": name, "email": email, "role_id": r, "locale": "zh-CN", "time_zone": "Asia/Shanghai"}))
                .await
                .map_err(core_error)?;
            let reps = core
                .create_role(admin, role(reps_title, Some(r))?)
                .await
                .map_err(core_error)?;
            managers.push(id_of(&reps.id)?);
        }
        let mut owners = Vec::new();
        for (i, (name, email, region)) in REPS.iter().enumerate() {
            let user = core
                .create_user(admin, json!({"name": name, "email": email, "role_id": managers[*region], "locale": if name.is_ascii() { "en" } else { "zh-CN" }, "time_zone": "Asia/Shanghai"}))
                .await
                .map_err(core_error)?;
            if i % 2 == 0 {
                core.set_team_member(admin, team_id, id_of(&user.id)?, true).await.map_err(core_error)?;
            }
            owners.push(user.id);
        }
        // the key-account team sees the key accounts of everyone
        core.create_sharing_rule(
            admin,
            serde_json::from_value(json!({
                "object": "account",
                "name": "A 级客户共享给大客户团队",
                "filter": {"field": "level", "op": "eq", "value": "a"},
                "principal": {"kind": "team", "id": team_id},
                "access": "read",
            }))?,
        )
        .await
        .map_err(core_error)?;
        Ok(owners)
    })
}
