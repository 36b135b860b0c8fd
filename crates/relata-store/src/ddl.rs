//! DDL generated from metadata: one table per object, one column per field (two for a
//! currency: amount and code), indexes for lookups, unique and filterable fields.

use relata_domain::meta::{FieldDef, FieldType, ObjectDef};

use crate::conn::Conn;
use crate::dialect::ColType;
use crate::error::StoreError;
use crate::schema::{ColumnDef, IndexDef, TableDef};

/// The table of an object. Object API names cannot collide with system tables (`sys_…`).
pub fn table_name(object: &ObjectDef) -> &str {
    object.name()
}

/// The companion column holding a currency field's ISO code.
pub fn currency_column(field: &str) -> String {
    format!("{field}_currency")
}

/// The storage type of a field's main column.
pub fn col_type(field: &FieldDef) -> ColType {
    match field.field_type {
        FieldType::Text
        | FieldType::LongText
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Picklist => ColType::Text,
        FieldType::Integer => ColType::BigInt,
        FieldType::Decimal | FieldType::Currency | FieldType::Percent => {
            ColType::Decimal(field.scale())
        }
        FieldType::Date => ColType::Date,
        FieldType::Datetime => ColType::Timestamp,
        FieldType::Boolean => ColType::Bool,
        FieldType::MultiPicklist => ColType::Json,
        FieldType::Lookup | FieldType::UserLookup | FieldType::Id => ColType::Uuid,
    }
}

/// The columns of one field.
pub fn field_columns(field: &FieldDef) -> Vec<ColumnDef> {
    let name = field.name();
    let nullable = !matches!(name, "id" | "created_at" | "updated_at" | "version");
    let mut col = ColumnDef::new(name, col_type(field));
    col.nullable = nullable;
    match field.field_type {
        FieldType::Lookup => {
            if let Some(target) = &field.target {
                col.references = Some(target.as_str().to_owned());
            }
        }
        FieldType::UserLookup => col.references = Some("sys_users".to_owned()),
        _ => {}
    }
    let mut cols = vec![col];
    if field.field_type == FieldType::Currency {
        cols.push(ColumnDef::new(&currency_column(name), ColType::Text).null());
    }
    cols
}

/// The index a field needs, if any.
pub fn field_index(object: &ObjectDef, field: &FieldDef) -> Option<IndexDef> {
    if field.name() == "id" || !field.indexed() {
        return None;
    }
    if field.unique {
        Some(IndexDef::new(table_name(object), &[field.name()], true))
    } else {
        Some(IndexDef::new(
            table_name(object),
            &list_key(field.name()),
            false,
        ))
    }
}

/// The columns of a non-unique field index: the list order of a sort by the field, which
/// breaks ties newest first — `(field, created_at, id)` — and then `deleted_at`.
///
/// An equality filter on the field with the default order (newest first) reads its page
/// straight from the index: "the latest contacts in Shanghai" walks 50 entries instead of
/// sorting every Shanghai contact. `deleted_at` comes last so that the index alone answers
/// whether an entry is live: counting the live contacts in Shanghai (the list page's capped
/// count) never reads the table. Without it each of the 10,000 counted entries cost a row
/// lookup — 35 ms against 1.5–1.9 ms for 1,000,000 contacts in 32 cities on SQLite.
pub fn list_key(field: &str) -> Vec<&str> {
    match field {
        "created_at" => vec!["created_at", "id", "deleted_at"],
        f => vec![f, "created_at", "id", "deleted_at"],
    }
}

/// Migration 4: field indexes become list keys (they were `(field, id)`).
pub fn rebuild_field_indexes(conn: &mut dyn Conn) -> Result<(), StoreError> {
    rebuild_field_indexes_from(conn, |field| vec![field, "id"])
}

/// Migration 36: list keys end with `deleted_at` (they were `(field, created_at, id)`).
pub fn add_deleted_at_to_field_indexes(conn: &mut dyn Conn) -> Result<(), StoreError> {
    rebuild_field_indexes_from(conn, |field| match field {
        "created_at" => vec!["created_at", "id"],
        f => vec![f, "created_at", "id"],
    })
}

/// Replaces every non-unique field index of the shape `previous` gave it by its
/// [`list_key`] index (creating the index is a no-op where it exists already).
fn rebuild_field_indexes_from(
    conn: &mut dyn Conn,
    previous: fn(&str) -> Vec<&str>,
) -> Result<(), StoreError> {
    let schema = crate::meta_sql::load_schema(conn)?;
    for object in schema.objects() {
        for field in &object.fields {
            let Some(index) = field_index(object, field) else {
                continue;
            };
            let old = IndexDef::new(&index.table, &previous(field.name()), false);
            if !index.unique && old.name != index.name {
                conn.batch(&format!("DROP INDEX IF EXISTS {}", old.name))?;
            }
            conn.batch(&index.render(conn.dialect()))?;
        }
    }
    Ok(())
}

/// Indexes of an object beyond its fields' own: the kanban's index on opportunities — a
/// pipeline's live deals by stage with what a column counts and totals (and the owner, which
/// a rep's visibility reads) in the index itself, so counting a column of 100,000 deals
/// never reads the table (`relata-bench kanban`: 365 → 53 ms p95 for the board of 100,000
/// open deals on SQLite).
pub fn object_indexes(object: &ObjectDef) -> Vec<IndexDef> {
    use relata_domain::opportunity::{OBJECT, STAGE, pipeline::PIPELINE};
    let has = |f: &str| object.field(f).is_some_and(|f| !f.archived);
    if object.name() != OBJECT || !(has(PIPELINE) && has(STAGE) && has("amount")) {
        return Vec::new();
    }
    vec![IndexDef::new(
        table_name(object),
        &[
            PIPELINE,
            "deleted_at",
            STAGE,
            "amount_currency",
            "amount",
            "owner_id",
            "id",
        ],
        false,
    )]
}

/// The full table of an object.
pub fn object_table(object: &ObjectDef) -> TableDef {
    // The columns every object has (with `deleted_at`) first, then fields in declaration
    // order: fields added later are appended by ALTER TABLE, so a fresh table must have the
    // same order. (Other system fields, a lead's conversion links, are declared fields.)
    let base: Vec<String> = relata_domain::standard::system_fields()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let (system, fields): (Vec<&FieldDef>, Vec<&FieldDef>) = object
        .fields
        .iter()
        .partition(|f| f.system && base.iter().any(|b| b == f.name()));
    let mut columns: Vec<ColumnDef> = system.into_iter().flat_map(field_columns).collect();
    columns.push(ColumnDef::new("deleted_at", ColType::Timestamp).null());
    columns.extend(fields.into_iter().flat_map(field_columns));
    let mut table = TableDef::new(table_name(object), columns, &["id"]);
    table.indexes = object
        .fields
        .iter()
        .filter_map(|f| field_index(object, f))
        .chain(object_indexes(object))
        .collect();
    table
}

pub fn create_object_table(conn: &mut dyn Conn, object: &ObjectDef) -> Result<(), StoreError> {
    object_table(object).create(conn)
}

/// Adds a new field's columns and index to an existing table.
pub fn add_field(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    field: &FieldDef,
) -> Result<(), StoreError> {
    let d = conn.dialect();
    for col in field_columns(field) {
        conn.batch(&format!(
            "ALTER TABLE {} ADD COLUMN {}",
            table_name(object),
            col.render_added(d)
        ))?;
    }
    if let Some(ix) = field_index(object, field) {
        conn.batch(&ix.render(conn.dialect()))?;
    }
    Ok(())
}

/// Adds one column to an existing table (a system table in a migration).
pub fn add_column(conn: &mut dyn Conn, table: &str, column: &ColumnDef) -> Result<(), StoreError> {
    conn.batch(&format!(
        "ALTER TABLE {table} ADD COLUMN {}",
        column.render_added(conn.dialect())
    ))
}

/// Creates or drops a field's index after its options changed.
pub fn sync_field_index(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    before: &FieldDef,
    after: &FieldDef,
) -> Result<(), StoreError> {
    let old = field_index(object, before);
    let new = field_index(object, after);
    if old != new {
        if let Some(ix) = old {
            conn.batch(&format!("DROP INDEX IF EXISTS {}", ix.name))?;
        }
        if let Some(ix) = new {
            conn.batch(&ix.render(conn.dialect()))?;
        }
    }
    Ok(())
}

/// Drops an archived field's columns and index (purge).
pub fn drop_field(
    conn: &mut dyn Conn,
    object: &ObjectDef,
    field: &FieldDef,
) -> Result<(), StoreError> {
    if let Some(ix) = field_index(object, field) {
        conn.batch(&format!("DROP INDEX IF EXISTS {}", ix.name))?;
    }
    for col in field_columns(field) {
        conn.batch(&format!(
            "ALTER TABLE {} DROP COLUMN {}",
            table_name(object),
            col.name
        ))?;
    }
    Ok(())
}

impl ColumnDef {
    /// Rendering for ALTER TABLE ADD COLUMN: new columns are always nullable (existing rows
    /// have no value), which SQLite requires anyway.
    pub fn render_added(&self, d: crate::dialect::Dialect) -> String {
        let mut c = self.clone();
        c.nullable = true;
        c.render(d)
    }
}
