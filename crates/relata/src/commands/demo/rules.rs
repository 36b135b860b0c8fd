//! Workflow rules a newcomer finds working in the demo (issue 8's examples). They are added
//! after the data is loaded, so loading itself starts none of them.

use std::sync::Arc;

use serde_json::json;

use relata_core::workflow::RuleInput;
use relata_core::{Actor, Core};

pub fn create(core: &Arc<Core>, rt: &tokio::runtime::Runtime, actor: &Actor) -> anyhow::Result<()> {
    let rules = [
        (
            "Large deal changes stage: tell the manager",
            "opportunity",
            json!({
                "trigger": {"type": "field_changed", "fields": ["stage"]},
                "condition": "amount gte 1000000",
                "steps": [{"type": "notify", "to": ["owner_manager", "owner"],
                    "message": "{{ name }} ({{ amount }}) moved to {{ stage }}"}]
            }),
        ),
        (
            "Follow up two days after a meeting",
            "task",
            json!({
                "trigger": {"type": "condition_met"},
                "condition": "status eq completed and (subject contains meeting or subject contains 会议)",
                "time_zone": "Asia/Shanghai",
                "steps": [{"type": "create_record", "object": "task", "set": {
                    "subject": {"formula": "'Follow up: ' & subject"},
                    "due_date": {"formula": "add_days(today(), 2)"},
                    "priority": "high",
                    "account_id": {"formula": "account_id"},
                    "contact_id": {"formula": "contact_id"},
                    "opportunity_id": {"formula": "opportunity_id"}
                }}]
            }),
        ),
        (
            "Won deal: kick-off task and a key account",
            "opportunity",
            json!({
                "trigger": {"type": "condition_met"},
                "condition": "stage eq closed_won",
                "time_zone": "Asia/Shanghai",
                "steps": [
                    {"type": "create_record", "object": "task", "set": {
                        "subject": {"formula": "'Kick-off: ' & name"},
                        "due_date": {"formula": "add_days(today(), 3)"},
                        "opportunity_id": {"formula": "id"},
                        "account_id": {"formula": "account_id"}
                    }},
                    {"type": "notify", "to": ["owner"], "message": "{{ name }} is won: the kick-off task is on your list"}
                ]
            }),
        ),
        (
            "Paid past ¥1,000,000: a VIP account",
            "account",
            json!({
                "trigger": {"type": "condition_met"},
                "condition": "paid_amount gte 1000000",
                "steps": [
                    {"type": "update_fields", "set": {"level": "vip"}},
                    {"type": "notify", "to": ["owner"],
                        "message": "{{ name }} has paid {{ paid_amount }} and is now a VIP account"}
                ]
            }),
        ),
        (
            "Contract ends in 30 days: renewal task",
            "contract",
            json!({
                "trigger": {"type": "date_reached", "field": "end_date", "offset_days": -30, "at_hour": 9},
                "condition": "status eq active",
                "time_zone": "Asia/Shanghai",
                "steps": [
                    {"type": "create_record", "object": "task", "set": {
                        "subject": {"formula": "'Renewal: ' & name"},
                        "due_date": {"formula": "add_days(today(), 14)"},
                        "priority": "high",
                        "account_id": {"formula": "account_id"},
                        "opportunity_id": {"formula": "opportunity_id"}
                    }},
                    {"type": "notify", "to": ["owner"],
                        "message": "{{ name }} ends on {{ end_date }}: time to talk renewal"}
                ]
            }),
        ),
    ];
    for (name, object, definition) in rules {
        rt.block_on(core.create_workflow_rule(
            actor,
            RuleInput {
                name: name.into(),
                object: object.into(),
                enabled: true,
                definition,
            },
        ))
        .map_err(|e| anyhow::anyhow!("demo rule {name:?}: {e:?}"))?;
    }
    templates(core, rt, actor)
}

/// Email templates to send from a contact's page (the demo configures no mail server, so
/// they can be previewed; with `smtp_url` set they are sent).
fn templates(core: &Arc<Core>, rt: &tokio::runtime::Runtime, actor: &Actor) -> anyhow::Result<()> {
    use relata_core::email::TemplateInput;
    let templates = [
        (
            "Meeting follow-up / 会议跟进",
            "感谢您的时间 / Thank you for your time, {{ record.name }}",
            "<p>{{ record.name }}，您好：</p><p>感谢您今天与我们会面。会议纪要与下一步安排见附件或下方链接。</p><p>Thank you for meeting us today{% if record.account_id.name %} on behalf of {{ record.account_id.name }}{% endif %}. The next steps are on <a href=\"https://example.com/next-steps\">this page</a>.</p><p>{{ sender.name }}<br>{{ sender.signature }}</p>",
        ),
        (
            "Product update / 产品动态",
            "{{ record.account_id.name }}：本季度产品更新 / This quarter's product update",
            "<p>{{ record.name }}，您好：</p><p>本季度我们发布了新的报表与移动端功能。</p><p>Hello {{ record.name }}, this quarter brought new reports and a mobile app.</p><p>{{ sender.name }}</p>",
        ),
    ];
    for (name, subject, html) in templates {
        rt.block_on(core.create_email_template(
            actor,
            TemplateInput {
                name: name.into(),
                object: Some("contact".into()),
                subject: subject.into(),
                body_text: String::new(),
                body_html: Some(html.into()),
                attachment_ids: Vec::new(),
                active: true,
            },
        ))
        .map_err(|e| anyhow::anyhow!("demo email template {name:?}: {e:?}"))?;
    }
    Ok(())
}
