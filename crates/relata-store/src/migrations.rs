//! System-table migrations: one ordered list, rendered for each backend from the same table
//! definitions. Applied at start and by `relata migrate`; each runs in its own transaction and
//! is recorded in `sys_migrations`.

use chrono::Utc;

use relata_domain::standard::standard_objects;

use crate::conn::Conn;
use crate::dialect::ColType::{self, *};
use crate::error::StoreError;
use crate::meta_sql;
use crate::schema::{ColumnDef, TableDef};
use crate::sql_value::SqlValue;
use crate::{Store, ddl, jobs, search_index};

fn col(name: &str, ty: ColType) -> ColumnDef {
    ColumnDef::new(name, ty)
}

type Apply = fn(&mut dyn Conn) -> Result<(), StoreError>;

/// Every migration, in order. Append only: never edit or reorder an entry that has shipped.
pub fn all() -> Vec<(i64, &'static str, Apply)> {
    vec![
        (1, "system tables", create_system_tables),
        (2, "standard objects", install_standard_objects),
        (
            3,
            "search index: FTS5 on SQLite",
            search_index::migrate_to_fts,
        ),
        (4, "field indexes in list order", ddl::rebuild_field_indexes),
        (5, "identity and access", create_access_tables),
        (6, "saved list views and recent items", create_ui_tables),
        (7, "in-app notifications", create_notifications),
        (8, "import jobs and their row ledger", create_import_tables),
        (9, "merges of duplicate records", create_merges_table),
        (
            10,
            "accounts: unified social credit code and province",
            add_account_china_fields,
        ),
        (11, "attachments", create_attachment_tables),
        (
            12,
            "contacts: reports to and decision role",
            add_contact_decision_fields,
        ),
        (13, "tags, static lists and segments", create_list_tables),
        (
            14,
            "contacts at several accounts; contact roles on opportunities",
            add_contact_relations,
        ),
        (
            15,
            "batch duplicate jobs and their groups",
            create_duplicate_job_tables,
        ),
        (16, "notes on records of custom objects", add_note_links),
        (
            17,
            "duplicate-candidate keys beside the search index",
            search_index::add_key_table,
        ),
        (18, "job queue and recurring schedules", jobs::create_tables),
        (19, "tasks: reminders", add_task_reminders),
        (
            20,
            "outbound webhooks and their deliveries",
            create_webhook_tables,
        ),
        (
            21,
            "workflow rules, their versions and runs",
            create_workflow_tables,
        ),
        (
            22,
            "assignment rules and users' time away",
            create_assignment_tables,
        ),
        (
            23,
            "workflow rules: inbound call tokens",
            add_inbound_tokens,
        ),
        (
            24,
            "email: templates, sender identities, sent and received mail, suppressions; email opt-out on contacts and leads",
            add_email,
        ),
        (
            25,
            "mailboxes synced over IMAP",
            crate::email_tables::create_mailbox_tables,
        ),
        (
            26,
            "web-to-lead forms and their submissions; UTM fields on leads",
            add_web_forms,
        ),
        (
            27,
            "leads: converted status, unqualified reason, links to what a lead became",
            add_lead_conversion,
        ),
        (
            28,
            "pools (公海) of leads and accounts: pools, members, history; pool and follow-up fields",
            add_pools,
        ),
        (
            29,
            "opportunities: forecast category, stage changed at, win and loss reasons",
            add_opportunity_close_fields,
        ),
        (
            30,
            "opportunities: pipelines (the pipeline field; existing deals are new business)",
            add_opportunity_pipeline,
        ),
        (
            31,
            "activities: calls, meetings and their attendees, recurring tasks; competitors in deals",
            add_activities,
        ),
        (
            32,
            "product catalogue: categories, tax categories, price books, tiers, exchange rates, deal line items",
            add_catalog,
        ),
        (
            33,
            "quotes and their lines; approval processes, requests and decisions",
            add_quotes,
        ),
        (
            34,
            "contracts, payment plans, payments and invoices; paid roll-ups; settings and numbering sequences",
            add_collection,
        ),
        (
            35,
            "sales targets; forecast adjustments and weekly snapshots",
            add_targets,
        ),
        (
            36,
            "field indexes end with deleted_at: live records are counted from the index alone",
            ddl::add_deleted_at_to_field_indexes,
        ),
        (
            37,
            "search index on PostgreSQL carries each term's kind: candidates ranked from the index alone",
            search_index::cover_kind,
        ),
    ]
}

/// The system tables as they are now, as data (used by the schema-parity test and `db-copy`):
/// the tables of migration 1 with the columns later migrations added, then the tables later
/// migrations created. The search index is not among them: it is stored differently per
/// backend (`search_index::tables`).
pub fn system_tables() -> Vec<TableDef> {
    let mut tables = tables_of_migration_1();
    for (table, column) in access_columns() {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.columns.push(column);
        }
    }
    let users = tables
        .iter()
        .position(|t| t.name == "sys_users")
        .unwrap_or(0);
    // roles and permission sets before users, whose columns refer to them
    let mut access = access_tables();
    let after_users = access.split_off(2);
    tables.splice(users..users, access);
    tables.extend(after_users);
    tables.extend(ui_tables());
    tables.push(notifications_table());
    tables.extend(import_tables());
    tables.push(merges_table());
    tables.extend(attachment_tables());
    tables.extend(list_tables());
    tables.extend(duplicate_job_tables());
    tables.extend(jobs::tables());
    tables.extend(webhook_tables());
    tables.extend(workflow_tables());
    tables.extend(assignment_tables());
    for (table, column) in inbound_columns() {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.columns.push(column);
        }
    }
    for (table, column) in workflow_columns() {
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.columns.push(column);
        }
    }
    tables.extend(crate::email_tables::tables());
    tables.extend(crate::email_tables::mailbox_tables());
    tables.extend(web_form_tables());
    tables.extend(pool_tables());
    tables.extend(approval_tables());
    tables.extend(settings_tables());
    tables.extend(target_tables());
    tables
}

/// Web forms (their definition as JSON, a public key for their URL, a secret that signs the
/// time a page was served) and one row per submission, spam included (the per-address rate
/// is counted from them, across every server process).
fn web_form_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_web_forms",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("object", Text),
                col("public_key", Text),
                col("secret", Text),
                col("enabled", Bool),
                col("definition", Json),
                // records are created as this user (who made the form)
                col("owner_id", Uuid),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["public_key"], true),
        TableDef::new(
            "sys_web_form_submissions",
            vec![
                col("id", Uuid),
                col("form_id", Uuid),
                col("at", Timestamp),
                // created, refused (answers the visitor was told to correct), spam, failed
                col("outcome", Text),
                col("reason", Text).null(),
                col("record_id", Uuid).null(),
                col("client_addr", Text),
                col("utm", Json).null(),
                col("referrer", Text).null(),
                // the answers of a submission that made no record (spam, failed)
                col("answers", Json).null(),
            ],
            &["id"],
        )
        .index(&["form_id", "client_addr", "at"], false)
        .index(&["form_id", "at"], false),
    ]
}

fn add_web_forms(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in web_form_tables() {
        t.create(conn)?;
    }
    add_standard_fields(conn, "lead", relata_domain::standard::utm_fields())
}

/// Pools (their rules as JSON), who may claim from each (`can_assign`: a manager who hands
/// records out), and the history of every record in them: who held it when, and why it
/// moved. Claims per day and the cooldown after a return are counted from the history.
/// The approval engine (审批流): processes (which records of an object go to whom, in what
/// steps), a request per submission, and each approver's decision.
fn approval_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_approval_processes",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("object", Text),
                // the filter a record must match to need this process
                col("condition", Json),
                col("steps", Json),
                col("active", Bool),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["object"], false),
        TableDef::new(
            "sys_approval_requests",
            vec![
                col("id", Uuid),
                col("process_id", Uuid),
                col("object", Text),
                col("record_id", Uuid),
                // pending, approved, rejected, recalled
                col("status", Text),
                col("step", BigInt),
                col("submitted_by", Uuid),
                col("submitted_at", Timestamp),
                col("decided_at", Timestamp).null(),
                col("comment", Text).null(),
            ],
            &["id"],
        )
        .index(&["object", "record_id"], false)
        .index(&["status"], false),
        TableDef::new(
            "sys_approval_decisions",
            vec![
                col("id", Uuid),
                col("request_id", Uuid),
                col("step", BigInt),
                col("user_id", Uuid),
                // approved, rejected
                col("decision", Text),
                col("comment", Text).null(),
                col("at", Timestamp),
            ],
            &["id"],
        )
        .index(&["request_id"], false),
    ]
}

fn pool_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_pools",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("object", Text),
                col("rules", Json),
                // governs the object's records that came from no pool
                col("is_default", Bool),
                // reclaims and warnings are written in this admin's name
                col("created_by", Uuid),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        ),
        TableDef::new(
            "sys_pool_members",
            vec![
                col("pool_id", Uuid),
                col("principal_kind", Text),
                col("principal_id", Uuid),
                col("can_assign", Bool),
            ],
            &["pool_id", "principal_kind", "principal_id"],
        )
        .index(&["principal_kind", "principal_id"], false),
        TableDef::new(
            "sys_pool_events",
            vec![
                col("id", Uuid),
                col("pool_id", Uuid),
                col("object", Text),
                col("record_id", Uuid),
                col("action", Text),
                // the rep it concerns: who claimed, returned, was given or lost the record
                col("user_id", Uuid).null(),
                col("actor_id", Uuid).null(),
                col("reason", Text).null(),
                col("at", Timestamp),
            ],
            &["id"],
        )
        .index(&["object", "record_id", "at"], false)
        .index(&["user_id", "action", "at"], false)
        .index(&["pool_id", "at"], false),
    ]
}

fn add_opportunity_close_fields(conn: &mut dyn Conn) -> Result<(), StoreError> {
    add_standard_fields(
        conn,
        relata_domain::opportunity::OBJECT,
        relata_domain::standard::opportunity_close_fields(),
    )
}

fn add_opportunity_pipeline(conn: &mut dyn Conn) -> Result<(), StoreError> {
    use relata_domain::opportunity::{OBJECT, pipeline};
    add_standard_fields(
        conn,
        OBJECT,
        vec![relata_domain::standard::pipeline_field()],
    )?;
    let schema = meta_sql::load_schema(conn)?;
    if let Some(object) = schema.object(OBJECT) {
        conn.execute(
            &format!(
                "UPDATE {} SET {} = {} WHERE {} IS NULL",
                ddl::table_name(object),
                pipeline::PIPELINE,
                crate::dialect::placeholders(conn.dialect(), 1, 1),
                pipeline::PIPELINE
            ),
            &[SqlValue::Text(pipeline::STANDARD.to_owned())],
        )?;
        for index in ddl::object_indexes(object) {
            conn.batch(&index.render(conn.dialect()))?;
        }
    }
    Ok(())
}

fn add_activities(conn: &mut dyn Conn) -> Result<(), StoreError> {
    use relata_domain::standard;
    add_standard_objects(
        conn,
        vec![
            standard::call(),
            standard::meeting(),
            standard::meeting_attendee(),
            standard::competitor(),
            standard::opportunity_competitor(),
        ],
    )?;
    add_standard_fields(conn, "task", standard::task_recurrence_fields())
}

fn add_catalog(conn: &mut dyn Conn) -> Result<(), StoreError> {
    use relata_domain::standard;
    add_standard_objects(conn, standard::catalog_objects())?;
    add_standard_fields(conn, "product", standard::product_catalog_fields())
}

fn add_quotes(conn: &mut dyn Conn) -> Result<(), StoreError> {
    add_standard_objects(conn, relata_domain::standard::quote_objects())?;
    for t in approval_tables() {
        t.create(conn)?;
    }
    Ok(())
}

fn add_pools(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in pool_tables() {
        t.create(conn)?;
    }
    for object in relata_domain::pool::OBJECTS {
        add_standard_fields(conn, object, relata_domain::standard::pool_fields(object))?;
    }
    Ok(())
}

fn add_lead_conversion(conn: &mut dyn Conn) -> Result<(), StoreError> {
    use relata_domain::{lead, standard};
    add_standard_fields(conn, lead::OBJECT, standard::lead_conversion_fields())?;
    // the status field as installed lacks the converted value and the default
    add_picklist_values(conn, lead::OBJECT, standard::lead_status())
}

/// Gives a standard picklist field as installed the values (and default) of `wanted` that
/// it lacks; an administrator's own field of that name (another type) stays as it is.
fn add_picklist_values(
    conn: &mut dyn Conn,
    object: &str,
    wanted: relata_domain::meta::FieldDef,
) -> Result<(), StoreError> {
    let schema = meta_sql::load_schema(conn)?;
    let Some(current) = schema.object(object) else {
        return Ok(());
    };
    let mut updated = (**current).clone();
    let Some(field) = updated
        .fields
        .iter_mut()
        .find(|f| f.name() == wanted.name())
    else {
        return Ok(());
    };
    if field.field_type != wanted.field_type {
        return Ok(());
    }
    for value in wanted.values {
        if !field.values.iter().any(|v| v.value == value.value) {
            field.values.push(value);
        }
    }
    field.default = field.default.take().or(wanted.default);
    meta_sql::update_object(conn, &updated)?;
    meta_sql::bump_version(conn)
}

fn add_collection(conn: &mut dyn Conn) -> Result<(), StoreError> {
    use relata_domain::standard;
    add_standard_objects(conn, standard::contract_objects())?;
    for object in ["account", "opportunity"] {
        add_standard_fields(conn, object, vec![standard::paid_roll_up_field()])?;
    }
    add_picklist_values(conn, "account", standard::account_level())?;
    for t in settings_tables() {
        t.create(conn)?;
    }
    Ok(())
}

fn add_targets(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in target_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// Sales targets (one per assignee, period and metric) and the forecast: each adjustment a
/// rep or manager makes is a row (the latest counts, the rest is its history), and a weekly
/// snapshot per rep and category shows how the forecast moved. Amounts are exact decimal
/// text, periods their names (`2026-Q4`), days ISO text: summed and compared in Rust.
fn target_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_sales_targets",
            vec![
                col("id", Uuid),
                // user:<id>, team:<id>, department:<name>, company
                col("assignee", Text),
                col("assignee_detail", Json),
                col("period", Text),
                col("metric", Text),
                col("target", Text),
                col("currency", Text).null(),
                col("created_by", Uuid),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["assignee", "period", "metric"], true)
        .index(&["period"], false),
        TableDef::new(
            "sys_forecast_adjustments",
            vec![
                col("id", Uuid),
                // the rep whose forecast it is
                col("user_id", Uuid),
                col("period", Text),
                col("category", Text),
                col("amount", Text),
                col("currency", Text),
                // a manager's override rather than the rep's own adjustment
                col("is_override", Bool),
                col("note", Text).null(),
                col("by_user", Uuid),
                col("at", Timestamp),
            ],
            &["id"],
        )
        .index(&["period", "user_id"], false),
        TableDef::new(
            "sys_forecast_snapshots",
            vec![
                col("id", Uuid),
                col("taken_on", Text),
                col("period", Text),
                col("user_id", Uuid),
                col("category", Text),
                col("computed", Text),
                col("standing", Text),
                col("weighted", Text),
                col("currency", Text),
            ],
            &["id"],
        )
        .index(&["period", "taken_on"], false)
        .index(&["taken_on", "period", "user_id", "category"], true),
    ]
}

/// Settings the write path reads (how an overpayment is treated, numbering rules), and the
/// counters numbering rules draw from: one row per prefix (`contract:HT-2026-`), advanced in
/// the transaction of the record that takes the number, so a rolled-back write leaves no gap.
fn settings_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_settings",
            vec![
                col("key", Text),
                col("value", Json),
                col("updated_at", Timestamp),
            ],
            &["key"],
        ),
        TableDef::new(
            "sys_sequences",
            vec![col("key", Text), col("value", BigInt)],
            &["key"],
        ),
    ]
}

fn add_email(conn: &mut dyn Conn) -> Result<(), StoreError> {
    crate::email_tables::create_tables(conn)?;
    for object in ["contact", "lead"] {
        add_standard_fields(conn, object, vec![relata_domain::standard::email_opt_out()])?;
    }
    Ok(())
}

/// Workflow rules (what the rule is now), every saved version of each (a run keeps the
/// version it started with), and one row per run: where it stands, what each step did, and
/// when a waiting run wakes.
fn workflow_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_workflow_rules",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("object", Text),
                col("enabled", Bool),
                col("version", BigInt),
                col("definition", Json),
                // events up to this one were in the change feed before the rule (or its
                // latest enabling) and do not trigger it
                col("since_seq", BigInt),
                col("owner_id", Uuid),
                col("failures", BigInt),
                col("last_error", Text).null(),
                col("last_error_at", Timestamp).null(),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        ),
        TableDef::new(
            "sys_workflow_versions",
            vec![
                col("rule_id", Uuid),
                col("version", BigInt),
                col("definition", Json),
                col("saved_by", Uuid),
                col("saved_at", Timestamp),
            ],
            &["rule_id", "version"],
        ),
        TableDef::new(
            "sys_workflow_runs",
            vec![
                col("id", Uuid),
                col("rule_id", Uuid),
                col("version", BigInt),
                col("object", Text),
                col("record_id", Uuid).null(),
                col("seq", BigInt).null(),
                col("trigger", Text),
                col("status", Text),
                col("step", BigInt),
                col("depth", BigInt),
                col("caused_by", Uuid).null(),
                col("wake_at", Timestamp).null(),
                col("lease_until", Timestamp).null(),
                col("log", Json),
                col("error", Text).null(),
                col("started_at", Timestamp),
                col("updated_at", Timestamp),
                col("finished_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["rule_id", "started_at"], false)
        .index(&["record_id", "started_at"], false)
        .index(&["status", "record_id"], false),
        TableDef::new(
            "sys_workflow_cursor",
            vec![col("id", BigInt), col("seq", BigInt)],
            &["id"],
        ),
    ]
}

/// Columns migration 21 added: the workflow run whose action made a change, so a rule
/// triggered by it knows how deep in a chain of rules it is.
fn workflow_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![("sys_events", col("caused_by", Uuid).null())]
}

/// Assignment rules (their definition, and the turn counter round-robin takes from), and
/// when users are away (out of office: they get no new records by rule).
fn assignment_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_assignment_rules",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("object", Text),
                col("definition", Json),
                col("counter", BigInt),
                col("created_by", Uuid),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        ),
        TableDef::new(
            "sys_user_away",
            vec![
                col("user_id", Uuid),
                col("starts_at", Timestamp),
                col("ends_at", Timestamp),
                col("note", Text).null(),
                col("updated_at", Timestamp),
            ],
            &["user_id"],
        ),
    ]
}

/// Columns migration 23 added: the secret token of a rule started by inbound calls (a
/// digest of it: the token itself is shown once, like an API token's).
fn inbound_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![("sys_workflow_rules", col("inbound_token_hash", Text).null())]
}

fn add_inbound_tokens(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for (table, column) in inbound_columns() {
        ddl::add_column(conn, table, &column)?;
    }
    Ok(())
}

fn create_assignment_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in assignment_tables() {
        t.create(conn)?;
    }
    Ok(())
}

fn create_workflow_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for (table, column) in workflow_columns() {
        ddl::add_column(conn, table, &column)?;
    }
    for t in workflow_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// Outbound webhooks (a URL, the object and events it wants, a condition, its signing
/// secret, how far into the change feed it has read) and one row per delivery of an event
/// to one of them, kept as the delivery log.
fn webhook_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_webhooks",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("url", Text),
                col("secret", Text),
                col("object", Text),
                col("events", Json),
                col("filter", Json).null(),
                col("enabled", Bool),
                col("cursor", BigInt),
                col("consecutive_failures", BigInt),
                col("disabled_reason", Text).null(),
                col("created_by", Uuid),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        ),
        TableDef::new(
            "sys_webhook_deliveries",
            vec![
                col("id", Uuid),
                col("webhook_id", Uuid),
                col("seq", BigInt),
                col("object", Text),
                col("record_id", Uuid),
                col("event", Text),
                col("payload", Json),
                col("status", Text),
                col("attempts", BigInt),
                col("response_status", BigInt).null(),
                col("last_error", Text).null(),
                col("created_at", Timestamp),
                col("delivered_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["webhook_id", "record_id", "seq"], false)
        .index(&["webhook_id", "id"], false),
    ]
}

fn create_webhook_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in webhook_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// Batch duplicate jobs over a whole object, and the groups of likely duplicates each found:
/// the review queue (open, merged or dismissed).
fn duplicate_job_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_duplicate_jobs",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("actor_id", Uuid),
                col("status", Text),
                col("records", BigInt),
                col("pairs", BigInt),
                col("groups_found", BigInt),
                col("error", Text).null(),
                col("created_at", Timestamp),
                col("started_at", Timestamp).null(),
                col("finished_at", Timestamp).null(),
                col("heartbeat_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["status", "created_at"], false)
        .index(&["object", "created_at"], false),
        TableDef::new(
            "sys_duplicate_groups",
            vec![
                col("id", Uuid),
                col("job_id", Uuid).refs("sys_duplicate_jobs"),
                col("object", Text),
                // the mean score of the group's matching pairs, in ten-thousandths
                col("confidence", BigInt),
                col("record_ids", Json),
                col("status", Text),
                col("reviewed_by", Uuid).null(),
                col("reviewed_at", Timestamp).null(),
                col("merge_id", Uuid).null(),
            ],
            &["id"],
        )
        .index(&["job_id", "status", "confidence"], false),
    ]
}

fn create_duplicate_job_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in duplicate_job_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// Tags (a name and a colour per object) and the records carrying them; lists of records —
/// static (members added by hand, `sys_list_members`) or dynamic segments (a saved filter,
/// members computed live).
fn list_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_tags",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("name", Text),
                col("colour", Text),
                col("created_by", Uuid).null(),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["object", "name"], true),
        TableDef::new(
            "sys_record_tags",
            vec![
                col("tag_id", Uuid).refs("sys_tags"),
                col("record_id", Uuid),
                col("tagged_by", Uuid).null(),
                col("tagged_at", Timestamp),
            ],
            &["tag_id", "record_id"],
        )
        .index(&["record_id"], false),
        TableDef::new(
            "sys_lists",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("name", Text),
                col("description", Text).null(),
                col("kind", Text),
                col("filter", Json).null(),
                col("owner_id", Uuid).null(),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["object", "name"], false),
        TableDef::new(
            "sys_list_members",
            vec![
                col("list_id", Uuid).refs("sys_lists"),
                col("record_id", Uuid),
                col("added_by", Uuid).null(),
                col("added_at", Timestamp),
            ],
            &["list_id", "record_id"],
        )
        .index(&["record_id"], false),
    ]
}

fn create_list_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in list_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// Files attached to records: a row per file, and its bytes in pieces when it is kept in
/// the database (the default storage).
fn attachment_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_attachments",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("record_id", Uuid),
                col("file_name", Text),
                col("content_type", Text),
                col("bytes", BigInt),
                col("sha256", Text),
                col("created_by", Uuid).null(),
                col("created_at", Timestamp),
                col("storage", Text),
            ],
            &["id"],
        )
        .index(&["object", "record_id", "created_at", "id"], false),
        TableDef::new(
            "sys_attachment_pieces",
            vec![
                col("attachment_id", Uuid),
                col("seq", BigInt),
                col("data", Bytes),
            ],
            &["attachment_id", "seq"],
        ),
    ]
}

fn create_attachment_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in attachment_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// One row per merge of duplicate records: what it changed — the surviving record's values
/// before and after, the related records it re-pointed, the shares it moved, the unique
/// values it took from the merged records — so that it can be undone within the undo window
/// without touching what was edited since.
fn merges_table() -> TableDef {
    TableDef::new(
        "sys_merges",
        vec![
            col("id", Uuid),
            col("object", Text),
            col("survivor_id", Uuid),
            col("merged_ids", Json),
            col("actor", Uuid).null(),
            col("at", Timestamp),
            col("changes", Json),
            col("undone_at", Timestamp).null(),
            col("undone_by", Uuid).null(),
        ],
        &["id"],
    )
    .index(&["object", "survivor_id", "at"], false)
}

fn create_merges_table(conn: &mut dyn Conn) -> Result<(), StoreError> {
    merges_table().create(conn)
}

/// Import jobs, and one ledger row per source row an import has dealt with: written in the
/// same transaction as that row's record, so a job resumes after a crash exactly where it
/// stopped, reports on every row, and can be undone.
fn import_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_import_jobs",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("actor_id", Uuid).refs("sys_users"),
                col("file_name", Text),
                col("format", Text),
                col("file_bytes", BigInt),
                // mapping, mode, key, duplicate handling, reading rules
                col("options", Json),
                col("status", Text),
                col("dry_run", Bool),
                col("total_rows", BigInt).null(),
                col("rows_done", BigInt),
                col("created", BigInt),
                col("updated", BigInt),
                col("unchanged", BigInt),
                col("skipped", BigInt),
                col("failed", BigInt),
                col("error", Text).null(),
                col("created_at", Timestamp),
                col("started_at", Timestamp).null(),
                col("finished_at", Timestamp).null(),
                col("undone_at", Timestamp).null(),
                // set by the process running the job at every batch; a job whose heartbeat
                // stopped (its process died) is taken over by another
                col("heartbeat_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["status"], false)
        .index(&["actor_id", "created_at"], false),
        // the uploaded file, in pieces: kept in the database, so a job can resume on any
        // server process and a backup holds what an import was made of
        TableDef::new(
            "sys_import_files",
            vec![
                col("job_id", Uuid).refs("sys_import_jobs"),
                col("seq", BigInt),
                col("data", Bytes),
            ],
            &["job_id", "seq"],
        ),
        TableDef::new(
            "sys_import_rows",
            vec![
                col("job_id", Uuid).refs("sys_import_jobs"),
                col("row_number", BigInt),
                col("outcome", Text),
                col("record_id", Uuid).null(),
                // the record's version after the import wrote it (undo leaves later edits be)
                col("version", BigInt).null(),
                // the values the import replaced, for undo
                col("previous", Json).null(),
                col("errors", Json).null(),
                // the row as read, kept for failed rows so the error report can be fixed and
                // imported again
                col("cells", Json).null(),
            ],
            &["job_id", "row_number"],
        )
        .index(&["job_id", "outcome"], false),
    ]
}

fn create_import_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in import_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// In-app notifications: what happened that a user should know (a record assigned to them;
/// later issues add automation's messages, mentions, approvals).
fn notifications_table() -> TableDef {
    TableDef::new(
        "sys_notifications",
        vec![
            col("id", Uuid),
            col("user_id", Uuid).refs("sys_users"),
            col("kind", Text),
            col("object", Text).null(),
            col("record_id", Uuid).null(),
            col("actor_id", Uuid).null(),
            col("detail", Json),
            col("created_at", Timestamp),
            col("read_at", Timestamp).null(),
        ],
        &["id"],
    )
    .index(&["user_id", "created_at"], false)
    .index(&["user_id", "read_at"], false)
}

fn create_notifications(conn: &mut dyn Conn) -> Result<(), StoreError> {
    notifications_table().create(conn)
}

/// What the web UI keeps per user: saved list views (private, or shared with everyone who
/// may read the object) and recently viewed records.
fn ui_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_saved_views",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("name", Text),
                col("owner_id", Uuid).refs("sys_users"),
                col("shared", Bool),
                // the list's URL query: filter rows, sort and columns
                col("query", Text),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["object", "owner_id"], false)
        .index(&["object", "shared"], false),
        TableDef::new(
            "sys_recent_items",
            vec![
                col("user_id", Uuid).refs("sys_users"),
                col("object", Text),
                col("record_id", Uuid),
                col("viewed_at", Timestamp),
            ],
            &["user_id", "record_id"],
        )
        .index(&["user_id", "viewed_at"], false),
    ]
}

fn create_ui_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in ui_tables() {
        t.create(conn)?;
    }
    Ok(())
}

/// The system tables migration 1 created, frozen as shipped.
fn tables_of_migration_1() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_meta_state",
            vec![col("id", BigInt), col("version", BigInt)],
            &["id"],
        ),
        TableDef::new(
            "sys_meta_objects",
            vec![
                col("api_name", Text),
                col("position", BigInt),
                col("definition", Json),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["api_name"],
        ),
        TableDef::new(
            "sys_users",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("email", Text),
                col("is_admin", Bool),
                col("active", Bool),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["email"], true),
        TableDef::new(
            "sys_api_tokens",
            vec![
                col("id", Uuid),
                col("user_id", Uuid).refs("sys_users"),
                col("name", Text),
                col("token_hash", Text),
                col("created_at", Timestamp),
                col("expires_at", Timestamp).null(),
                col("last_used_at", Timestamp).null(),
                col("revoked_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["token_hash"], true)
        .index(&["user_id"], false),
        TableDef::new(
            "sys_events",
            vec![
                col("seq", Serial),
                col("object", Text),
                col("record_id", Uuid),
                col("kind", Text),
                col("actor", Uuid).null(),
                col("at", Timestamp),
                col("changes", Json),
            ],
            &[],
        )
        .index(&["record_id"], false),
        TableDef::new(
            "sys_field_history",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("record_id", Uuid),
                col("field", Text),
                col("old_value", Json),
                col("new_value", Json),
                col("actor", Uuid).null(),
                col("at", Timestamp),
            ],
            &["id"],
        )
        .index(&["record_id", "at"], false),
        TableDef::new(
            "sys_idempotency",
            vec![
                col("user_id", Uuid),
                col("key", Text),
                col("request_hash", Text),
                col("status", BigInt),
                col("body", Text),
                col("created_at", Timestamp),
            ],
            &["user_id", "key"],
        )
        .index(&["created_at"], false),
    ]
}

fn create_system_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for t in tables_of_migration_1() {
        t.create(conn)?;
    }
    // as shipped: the term table on both backends (migration 3 replaces it on SQLite)
    search_index::term_table().create(conn)?;
    conn.execute(
        "INSERT INTO sys_meta_state (id, version) VALUES (1, 1)",
        &[],
    )?;
    Ok(())
}

/// Columns migration 5 added to tables of migration 1 (nullable: existing rows get NULL).
fn access_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("sys_users", col("password_hash", Text).null()),
        ("sys_users", col("locale", Text).null()),
        ("sys_users", col("time_zone", Text).null()),
        ("sys_users", col("role_id", Uuid).null().refs("sys_roles")),
        (
            "sys_users",
            col("profile_id", Uuid).null().refs("sys_permission_sets"),
        ),
        ("sys_users", col("department", Text).null()),
        ("sys_users", col("failed_logins", BigInt).null()),
        ("sys_users", col("locked_at", Timestamp).null()),
        ("sys_users", col("updated_at", Timestamp).null()),
        ("sys_api_tokens", col("scopes", Json).null()),
        // the record half of the audit trail: where each change came from
        ("sys_events", col("source", Text).null()),
        ("sys_events", col("client_addr", Text).null()),
    ]
}

/// Tables of identity and access (migration 5). The first two come before `sys_users` in
/// [`system_tables`] because users refer to them.
fn access_tables() -> Vec<TableDef> {
    vec![
        TableDef::new(
            "sys_roles",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("parent_id", Uuid).null().refs("sys_roles"),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["parent_id"], false)
        .index(&["name"], true),
        // Profiles and permission sets; `grants` is a relata_domain::access::Grants.
        TableDef::new(
            "sys_permission_sets",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("is_profile", Bool),
                col("grants", Json),
                col("created_at", Timestamp),
                col("updated_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["name"], true),
        TableDef::new(
            "sys_user_permission_sets",
            vec![
                col("user_id", Uuid).refs("sys_users"),
                col("set_id", Uuid).refs("sys_permission_sets"),
            ],
            &["user_id", "set_id"],
        )
        .index(&["set_id"], false),
        TableDef::new(
            "sys_teams",
            vec![
                col("id", Uuid),
                col("name", Text),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["name"], true),
        TableDef::new(
            "sys_team_members",
            vec![
                col("team_id", Uuid).refs("sys_teams"),
                col("user_id", Uuid).refs("sys_users"),
            ],
            &["team_id", "user_id"],
        )
        .index(&["user_id"], false),
        // Criteria-based sharing: records of `object` matching `filter` (the filter language,
        // JSON form) are shared with a principal.
        TableDef::new(
            "sys_sharing_rules",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("name", Text),
                col("filter", Json),
                col("principal_kind", Text),
                col("principal_id", Uuid),
                col("access", Text),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(&["object"], false),
        // Manual shares and record-team memberships (reason `manual` / `record_team`).
        TableDef::new(
            "sys_record_shares",
            vec![
                col("id", Uuid),
                col("object", Text),
                col("record_id", Uuid),
                col("principal_kind", Text),
                col("principal_id", Uuid),
                col("access", Text),
                col("reason", Text),
                col("team_role", Text).null(),
                col("created_by", Uuid).null(),
                col("created_at", Timestamp),
            ],
            &["id"],
        )
        .index(
            &[
                "object",
                "record_id",
                "principal_kind",
                "principal_id",
                "reason",
            ],
            true,
        )
        .index(&["principal_id", "object", "record_id"], false),
        TableDef::new(
            "sys_sessions",
            vec![
                col("id", Uuid),
                col("user_id", Uuid).refs("sys_users"),
                col("token_hash", Text),
                col("csrf_token", Text),
                col("created_at", Timestamp),
                col("last_seen_at", Timestamp),
                col("expires_at", Timestamp),
                col("revoked_at", Timestamp).null(),
                col("client_addr", Text).null(),
                col("user_agent", Text).null(),
            ],
            &["id"],
        )
        .index(&["token_hash"], true)
        .index(&["user_id"], false),
        // One-time password-reset tokens (their SHA-256), sent by email.
        TableDef::new(
            "sys_password_resets",
            vec![
                col("id", Uuid),
                col("user_id", Uuid).refs("sys_users"),
                col("token_hash", Text),
                col("created_at", Timestamp),
                col("expires_at", Timestamp),
                col("used_at", Timestamp).null(),
            ],
            &["id"],
        )
        .index(&["token_hash"], true)
        .index(&["user_id"], false),
        // Append-only: nothing updates or deletes rows except the retention sweep.
        TableDef::new(
            "sys_audit_log",
            vec![
                col("seq", Serial),
                col("at", Timestamp),
                col("actor", Uuid).null(),
                col("action", Text),
                col("source", Text),
                col("client_addr", Text).null(),
                col("object", Text).null(),
                col("record_id", Uuid).null(),
                col("detail", Json),
            ],
            &[],
        )
        .index(&["at"], false)
        .index(&["actor", "at"], false)
        .index(&["action", "at"], false),
    ]
}

/// The id of the built-in profile new users get, fixed so code and tests can name it.
pub const STANDARD_PROFILE_ID: uuid::Uuid =
    uuid::Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
/// The built-in read-only profile.
pub const READ_ONLY_PROFILE_ID: uuid::Uuid =
    uuid::Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0002);

fn create_access_tables(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let mut access = access_tables();
    // roles and sets first: the new user columns refer to them
    for t in access.drain(..2) {
        t.create(conn)?;
    }
    for (table, column) in access_columns() {
        ddl::add_column(conn, table, &column)?;
    }
    for t in access {
        t.create(conn)?;
    }
    use relata_domain::access::{Grants, ObjectPerm};
    #[allow(clippy::disallowed_methods)]
    // the moment the built-in profiles were installed, not domain time
    let now = Utc::now();
    let standard = Grants {
        default_objects: ObjectPerm::STANDARD,
        ..Default::default()
    };
    let read_only = Grants {
        default_objects: ObjectPerm::READ_ONLY,
        ..Default::default()
    };
    for (id, name, grants) in [
        (STANDARD_PROFILE_ID, "Standard user", standard),
        (READ_ONLY_PROFILE_ID, "Read only", read_only),
    ] {
        conn.execute(
            &format!(
                "INSERT INTO sys_permission_sets (id, name, is_profile, grants, created_at, updated_at) VALUES ({})",
                crate::dialect::placeholders(conn.dialect(), 1, 6)
            ),
            &[
                SqlValue::Uuid(id),
                SqlValue::Text(name.into()),
                SqlValue::Bool(true),
                SqlValue::Json(serde_json::to_value(&grants).unwrap_or_default()),
                SqlValue::Timestamp(now),
                SqlValue::Timestamp(now),
            ],
        )?;
    }
    // the access version (id 3): bumped by every change to users, roles, teams, permission
    // sets and sharing rules, so servers sharing a database reload their access snapshot
    conn.execute(
        "INSERT INTO sys_meta_state (id, version) VALUES (3, 1)",
        &[],
    )?;
    Ok(())
}

fn add_account_china_fields(conn: &mut dyn Conn) -> Result<(), StoreError> {
    add_standard_fields(
        conn,
        "account",
        vec![
            relata_domain::standard::credit_code(),
            relata_domain::standard::province(),
        ],
    )
}

fn add_task_reminders(conn: &mut dyn Conn) -> Result<(), StoreError> {
    add_standard_fields(conn, "task", vec![relata_domain::standard::reminder_at()])
}

fn add_contact_decision_fields(conn: &mut dyn Conn) -> Result<(), StoreError> {
    add_standard_fields(
        conn,
        "contact",
        vec![
            relata_domain::standard::reports_to(),
            relata_domain::standard::decision_role(),
        ],
    )
}

/// Adds standard fields declared after installations existed to `object`, each unless the
/// object has a field of that name already (an administrator's own, which stays as it is).
/// New installations got them with the standard objects in migration 2.
fn add_standard_fields(
    conn: &mut dyn Conn,
    object: &str,
    fields: Vec<relata_domain::meta::FieldDef>,
) -> Result<(), StoreError> {
    add_standard_fields_as(conn, object, fields, true)
}

/// Adds fields to `object` unless it has one of the name; `standard` marks them as
/// Relata's (not to be archived) rather than an administrator's.
fn add_standard_fields_as(
    conn: &mut dyn Conn,
    object: &str,
    fields: Vec<relata_domain::meta::FieldDef>,
    standard: bool,
) -> Result<(), StoreError> {
    let schema = meta_sql::load_schema(conn)?;
    let Some(current) = schema.object(object) else {
        return Ok(());
    };
    let mut updated = (**current).clone();
    let mut added = false;
    for field in fields {
        if updated.fields.iter().any(|f| f.name() == field.name()) {
            continue;
        }
        let field = relata_domain::meta::FieldDef { standard, ..field };
        updated.fields.push(field.clone());
        ddl::add_field(conn, &updated, &field)?;
        added = true;
    }
    if added {
        meta_sql::update_object(conn, &updated)?;
        meta_sql::bump_version(conn)?;
    }
    Ok(())
}

fn add_contact_relations(conn: &mut dyn Conn) -> Result<(), StoreError> {
    add_standard_objects(
        conn,
        vec![
            relata_domain::standard::account_contact(),
            relata_domain::standard::opportunity_contact(),
        ],
    )
}

/// Installs standard objects declared after installations existed, each unless an object of
/// that name exists already (an administrator's own, which stays as it is). New
/// installations got them in migration 2.
fn add_standard_objects(
    conn: &mut dyn Conn,
    objects: Vec<relata_domain::meta::ObjectDef>,
) -> Result<(), StoreError> {
    let schema = meta_sql::load_schema(conn)?;
    let mut added = false;
    for object in objects {
        if schema.object(object.name()).is_some() {
            continue;
        }
        ddl::create_object_table(conn, &object)?;
        meta_sql::insert_object(conn, &object)?;
        added = true;
    }
    if added {
        meta_sql::bump_version(conn)?;
    }
    Ok(())
}

/// Gives notes a lookup to every custom object that existed before notes attached to them.
fn add_note_links(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let schema = meta_sql::load_schema(conn)?;
    let links: Vec<_> = schema
        .objects()
        .filter(|o| !o.standard)
        .filter_map(|o| relata_domain::standard::note_link(o))
        .collect();
    add_standard_fields_as(conn, "note", links, false)
}

fn install_standard_objects(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for object in standard_objects() {
        ddl::create_object_table(conn, &object)?;
        meta_sql::insert_object(conn, &object)?;
    }
    meta_sql::bump_version(conn)?;
    Ok(())
}

/// The table that records applied migrations.
pub fn migrations_table() -> TableDef {
    TableDef::new(
        "sys_migrations",
        vec![
            col("version", BigInt),
            col("name", Text),
            col("applied_at", Timestamp),
        ],
        &["version"],
    )
}

fn applied(conn: &mut dyn Conn) -> Result<Vec<i64>, StoreError> {
    let rows = conn.query("SELECT version FROM sys_migrations ORDER BY version", &[])?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.first().and_then(SqlValue::as_i64))
        .collect())
}

/// Applies pending migrations. On PostgreSQL an advisory lock keeps two starting servers from
/// migrating at once.
pub fn migrate_blocking(store: &Store) -> Result<Vec<i64>, StoreError> {
    store.write_blocking(|conn| -> Result<(), StoreError> {
        let t = TableDef::new("sys_migrations", vec![col("version", BigInt), col("name", Text), col("applied_at", Timestamp)], &["version"]);
        let exists = match conn.dialect() {
            crate::Dialect::Sqlite => conn.query_one("SELECT 1 FROM sqlite_master WHERE name = 'sys_migrations'", &[])?.is_some(),
            crate::Dialect::Postgres => {
                conn.query("SELECT pg_advisory_xact_lock(7231000)", &[])?;
                conn.query_one("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'sys_migrations'", &[])?.is_some()
            }
        };
        if !exists {
            t.create(conn)?;
        }
        Ok(())
    })?;
    let mut done = Vec::new();
    for (version, name, apply) in all() {
        let ran = store.write_blocking(move |conn| -> Result<bool, StoreError> {
            if conn.dialect() == crate::Dialect::Postgres {
                conn.query("SELECT pg_advisory_xact_lock(7231000)", &[])?;
            }
            if applied(conn)?.contains(&version) {
                return Ok(false);
            }
            apply(conn)?;
            #[allow(clippy::disallowed_methods)]
            // bookkeeping of the schema itself, not domain time
            let now = Utc::now();
            conn.execute(
                &format!(
                    "INSERT INTO sys_migrations (version, name, applied_at) VALUES ({})",
                    crate::dialect::placeholders(conn.dialect(), 1, 3)
                ),
                &[
                    SqlValue::Int(version),
                    SqlValue::Text(name.to_owned()),
                    SqlValue::Timestamp(now),
                ],
            )?;
            Ok(true)
        })?;
        if ran {
            tracing::info!(version, name, "applied migration");
            done.push(version);
        }
    }
    Ok(done)
}
