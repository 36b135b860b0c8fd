//! The sales organisation the access figures of issue 4 run under, created through the admin
//! API before the data load so that the loaded contacts are owned by its users:
//!
//! - roles: 销售总监 → 华东区域经理, 华南区域经理 → four city 销售代表 roles under each;
//! - 20 users: the director, the two regional managers, two reps in each rep role, and a
//!   sales-operations user without a role;
//! - one team, 大客户小组 (key accounts), of four;
//! - three sharing rules on contact (whose org-wide default is private): 上海 contacts to the
//!   team, 深圳 contacts to 华南 and everything beneath it, contacts from events to 华东 and
//!   everything beneath it.
//!
//! The list figures are measured as [`REP`] (上海销售代表, a leaf of the tree, in the team and
//! beneath 华东) and as [`MANAGER`] (华东区域经理, who sees the records of eight reps).

use anyhow::Context;
use serde_json::{Value as Json, json};

use crate::load::{self, Api};

/// The password of every benchmark user: benchmark data the harness signs in with, not a
/// product default (Relata has none).
pub const PASSWORD: &str = "bench-only-7Kq2-Relata";

/// Emails of benchmark users (a reserved top-level domain).
const DOMAIN: &str = "bench.relata.test";

/// Roles: name, index of the parent.
const ROLES: &[(&str, Option<usize>)] = &[
    ("销售总监", None),
    ("华东区域经理", Some(0)),
    ("华南区域经理", Some(0)),
    ("上海销售代表", Some(1)),
    ("杭州销售代表", Some(1)),
    ("南京销售代表", Some(1)),
    ("苏州销售代表", Some(1)),
    ("广州销售代表", Some(2)),
    ("深圳销售代表", Some(2)),
    ("厦门销售代表", Some(2)),
    ("福州销售代表", Some(2)),
];

/// Users: name, local part of the email, index of the role.
const USERS: &[(&str, &str, Option<usize>)] = &[
    ("周建国", "director", Some(0)),
    ("陈东升", "east.manager", Some(1)),
    ("林南方", "south.manager", Some(2)),
    ("王磊", "shanghai.rep1", Some(3)),
    ("李静", "shanghai.rep2", Some(3)),
    ("张伟", "hangzhou.rep1", Some(4)),
    ("刘洋", "hangzhou.rep2", Some(4)),
    ("陈晨", "nanjing.rep1", Some(5)),
    ("杨帆", "nanjing.rep2", Some(5)),
    ("黄丽", "suzhou.rep1", Some(6)),
    ("赵强", "suzhou.rep2", Some(6)),
    ("吴敏", "guangzhou.rep1", Some(7)),
    ("周杰", "guangzhou.rep2", Some(7)),
    ("徐峰", "shenzhen.rep1", Some(8)),
    ("孙悦", "shenzhen.rep2", Some(8)),
    ("马超", "xiamen.rep1", Some(9)),
    ("朱琳", "xiamen.rep2", Some(9)),
    ("胡斌", "fuzhou.rep1", Some(10)),
    ("郭芳", "fuzhou.rep2", Some(10)),
    ("何颖", "sales.ops", None),
];

/// The rep the rep figure is measured as: 上海销售代表, in the team.
pub const REP: usize = 3;
/// The manager the manager figure is measured as: 华东区域经理.
pub const MANAGER: usize = 1;
/// Members of the team, by user index.
const TEAM: &[usize] = &[REP, 2, 11, 19];

/// Users of the organisation (each owns a share of the loaded contacts).
pub fn user_count() -> usize {
    USERS.len()
}

pub fn email(user: usize) -> String {
    format!("{}@{DOMAIN}", USERS[user].1)
}

/// The organisation, for the results file.
pub fn describe() -> String {
    format!(
        "{} roles in 3 levels (销售总监 → 2 区域经理 → 4 销售代表 roles each), {} users owning the contacts in equal shares, a team of {}, 3 sharing rules on contact (org-wide default private)",
        ROLES.len(),
        USERS.len(),
        TEAM.len()
    )
}

/// The created organisation: user ids in the order of [`USERS`].
pub struct Org {
    pub users: Vec<String>,
}

fn id_of(answer: &Json, what: &str) -> anyhow::Result<String> {
    Ok(answer
        .get("id")
        .and_then(Json::as_str)
        .with_context(|| format!("{what}: the answer has no id"))?
        .to_owned())
}

/// Creates roles, users (with [`PASSWORD`]), the team and the sharing rules.
pub async fn setup(api: &Api) -> anyhow::Result<Org> {
    let mut roles: Vec<String> = Vec::new();
    for (name, parent) in ROLES {
        let parent = parent.map(|p| roles[p].clone());
        let answer = api
            .post(
                "/api/v1/admin/roles",
                &json!({"name": name, "parent_id": parent}),
            )
            .await?;
        roles.push(id_of(&answer, name)?);
    }
    let mut users = Vec::new();
    for (k, (name, _, role)) in USERS.iter().enumerate() {
        let answer = api
            .post(
                "/api/v1/admin/users",
                &json!({"name": name, "email": email(k), "password": PASSWORD,
                        "role_id": role.map(|r| roles[r].clone())}),
            )
            .await?;
        users.push(id_of(&answer, name)?);
    }
    let team = id_of(
        &api.post("/api/v1/admin/teams", &json!({"name": "大客户小组"}))
            .await?,
        "team",
    )?;
    for &member in TEAM {
        api.put(&format!(
            "/api/v1/admin/teams/{team}/members/{}",
            users[member]
        ))
        .await?;
    }
    let rules = [
        (
            "上海客户共享给大客户小组",
            json!({"field": "city", "op": "eq", "value": "上海"}),
            json!({"kind": "team", "id": team}),
        ),
        (
            "深圳客户共享给华南区域",
            json!({"field": "city", "op": "eq", "value": "深圳"}),
            json!({"kind": "role_and_subordinates", "id": roles[2]}),
        ),
        (
            "展会客户共享给华东区域",
            json!({"field": "source", "op": "eq", "value": "event"}),
            json!({"kind": "role_and_subordinates", "id": roles[1]}),
        ),
    ];
    for (name, filter, principal) in rules {
        api.post(
            "/api/v1/admin/sharing_rules",
            &json!({"object": "contact", "name": name, "filter": filter,
                    "principal": principal, "access": "read"}),
        )
        .await?;
    }
    Ok(Org { users })
}

/// An API token of user `user`, made as the user would: sign in, then create it.
pub async fn token_of(api: &Api, user: usize, name: &str) -> anyhow::Result<String> {
    let session = load::login(&api.http, &api.base, &email(user), PASSWORD).await?;
    load::user_token(&api.http, &api.base, &session, name).await
}

/// Emails of the users the login load signs in as.
pub fn login_emails(count: usize) -> Vec<String> {
    (0..count)
        .map(|k| format!("login{k:02}@{DOMAIN}"))
        .collect()
}

/// Creates `emails` as users without a role, with [`PASSWORD`].
pub async fn create_login_users(api: &Api, emails: &[String]) -> anyhow::Result<()> {
    for (k, email) in emails.iter().enumerate() {
        api.post(
            "/api/v1/admin/users",
            &json!({"name": format!("登录用户{k:02}"), "email": email, "password": PASSWORD}),
        )
        .await?;
    }
    Ok(())
}
