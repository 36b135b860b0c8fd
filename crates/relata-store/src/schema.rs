//! Table definitions as data, rendered to DDL for either backend. System tables (in
//! `migrations.rs`) and object tables (in `ddl.rs`) are both described this way, so the two
//! backends' schemas cannot drift: there is one description and one renderer.

use crate::conn::Conn;
use crate::dialect::{ColType, Dialect};
use crate::error::StoreError;
use crate::sql_value::SqlValue;

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: ColType,
    pub nullable: bool,
    /// `REFERENCES table(id)`, with `ON DELETE SET NULL` for nullable columns.
    pub references: Option<String>,
}

impl ColumnDef {
    pub fn new(name: &str, ty: ColType) -> Self {
        Self {
            name: name.to_owned(),
            ty,
            nullable: false,
            references: None,
        }
    }
    pub fn null(mut self) -> Self {
        self.nullable = true;
        self
    }
    pub fn refs(mut self, table: &str) -> Self {
        self.references = Some(table.to_owned());
        self
    }

    pub fn render(&self, d: Dialect) -> String {
        let mut s = format!("{} {}", self.name, d.column_type(self.ty));
        if self.ty != ColType::Serial && !self.nullable {
            s.push_str(" NOT NULL");
        }
        if let Some(t) = &self.references {
            s.push_str(&format!(" REFERENCES {t}(id)"));
            if self.nullable {
                s.push_str(" ON DELETE SET NULL");
            }
        }
        s
    }
}

/// The longest identifier PostgreSQL keeps whole (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// FNV-1a: a hash that never changes between builds, for stable index names.
pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    pub name: String,
    pub table: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// A partial-index condition valid on both backends (e.g. `deleted_at IS NULL`).
    pub condition: Option<String>,
}

impl IndexDef {
    pub fn new(table: &str, columns: &[&str], unique: bool) -> Self {
        let prefix = if unique { "ux" } else { "ix" };
        // `__` separates table and columns so a unique violation can be traced to its column.
        let cols = columns.join("__");
        let full = format!("{prefix}_{table}__{cols}");
        // PostgreSQL cuts identifiers at 63 bytes, so two long names sharing a prefix would
        // become one index (and `IF NOT EXISTS` would skip the second). Past the limit a hash
        // of the full name stands in for the table; the columns stay readable after `__`.
        let name = if full.len() <= MAX_IDENTIFIER {
            full
        } else {
            let hash = fnv1a(&full);
            let short = format!("{prefix}_{hash:016x}__{cols}");
            if short.len() <= MAX_IDENTIFIER {
                short
            } else {
                format!("{prefix}_{hash:016x}")
            }
        };
        Self {
            name,
            table: table.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            unique,
            condition: None,
        }
    }

    /// On PostgreSQL every column is indexed `NULLS FIRST`, so that the index order is the
    /// list order on both backends: nulls sort as the smallest value (ascending: first;
    /// descending: last), which is also SQLite's native order.
    pub fn render(&self, d: Dialect) -> String {
        let columns: Vec<String> = match d {
            Dialect::Sqlite => self.columns.clone(),
            Dialect::Postgres => self
                .columns
                .iter()
                .map(|c| format!("{c} NULLS FIRST"))
                .collect(),
        };
        format!(
            "CREATE {}INDEX IF NOT EXISTS {} ON {} ({}){}",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            self.table,
            columns.join(", "),
            self.condition
                .as_ref()
                .map(|c| format!(" WHERE {c}"))
                .unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Empty when a column is `Serial` (which is its own key).
    pub primary_key: Vec<String>,
    /// On SQLite, store the table in its primary-key B-tree (no separate rowid tree); for
    /// tables looked up only by their key, like the search index.
    pub without_rowid: bool,
    pub indexes: Vec<IndexDef>,
}

impl TableDef {
    pub fn new(name: &str, columns: Vec<ColumnDef>, primary_key: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            columns,
            primary_key: primary_key.iter().map(|c| (*c).to_owned()).collect(),
            without_rowid: false,
            indexes: Vec::new(),
        }
    }

    pub fn index(mut self, columns: &[&str], unique: bool) -> Self {
        let ix = IndexDef::new(&self.name, columns, unique);
        self.indexes.push(ix);
        self
    }

    pub fn render(&self, d: Dialect) -> Vec<String> {
        let mut parts: Vec<String> = self.columns.iter().map(|c| c.render(d)).collect();
        if !self.primary_key.is_empty() {
            parts.push(format!("PRIMARY KEY ({})", self.primary_key.join(", ")));
        }
        let tail = if self.without_rowid && d == Dialect::Sqlite {
            " WITHOUT ROWID"
        } else {
            ""
        };
        let mut out = vec![format!(
            "CREATE TABLE {} (\n  {}\n){tail}",
            self.name,
            parts.join(",\n  ")
        )];
        out.extend(self.indexes.iter().map(|ix| ix.render(d)));
        out
    }

    pub fn create(&self, conn: &mut dyn Conn) -> Result<(), StoreError> {
        for stmt in self.render(conn.dialect()) {
            conn.batch(&stmt)?;
        }
        Ok(())
    }
}

/// The shape of the live database, for checking that both backends agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTable {
    pub name: String,
    /// (column, nullable)
    pub columns: Vec<(String, bool)>,
    /// (index name, unique, columns)
    pub indexes: Vec<(String, bool, Vec<String>)>,
}

/// Reads tables, columns and indexes from the database catalogue.
pub fn introspect(conn: &mut dyn Conn) -> Result<Vec<LiveTable>, StoreError> {
    let dialect = conn.dialect();
    let table_sql = match dialect {
        Dialect::Sqlite => {
            // ordinary tables only: not FTS5's virtual table or its shadow tables
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
        }
    };
    let names: Vec<String> = conn
        .query(table_sql, &[])?
        .into_iter()
        .filter_map(|r| r.into_iter().next()?.into_string())
        .collect();
    let mut tables = Vec::new();
    for name in names {
        let (columns, indexes) = match dialect {
            Dialect::Sqlite => {
                let cols = conn.query(
                    &format!(
                        "SELECT name, \"notnull\", pk FROM pragma_table_info('{name}') ORDER BY cid"
                    ),
                    &[],
                )?;
                let columns = cols
                    .into_iter()
                    .map(|r| {
                        let pk = r[2].as_i64().unwrap_or(0) > 0;
                        (
                            r[0].as_str().unwrap_or_default().to_owned(),
                            r[1].as_i64() == Some(0) && !pk,
                        )
                    })
                    .collect();
                let ix = conn.query(&format!("SELECT name, \"unique\" FROM pragma_index_list('{name}') WHERE origin = 'c' ORDER BY name"), &[])?;
                let mut indexes = Vec::new();
                for r in ix {
                    let ix_name = r[0].as_str().unwrap_or_default().to_owned();
                    let cols = conn.query(
                        &format!("SELECT name FROM pragma_index_info('{ix_name}') ORDER BY seqno"),
                        &[],
                    )?;
                    indexes.push((
                        ix_name,
                        r[1].as_i64() == Some(1),
                        cols.into_iter()
                            .filter_map(|c| c.into_iter().next()?.into_string())
                            .collect(),
                    ));
                }
                (columns, indexes)
            }
            Dialect::Postgres => {
                let cols = conn.query(
                    "SELECT column_name::text, is_nullable::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    &[SqlValue::Text(name.clone())],
                )?;
                let columns = cols
                    .into_iter()
                    .map(|r| {
                        (
                            r[0].as_str().unwrap_or_default().to_owned(),
                            r[1].as_str() == Some("YES"),
                        )
                    })
                    .collect();
                let ix = conn.query(
                    "SELECT i.relname::text, ix.indisunique, \
                        array_to_string(ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n) \
                          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n), ',') \
                     FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                     JOIN pg_namespace ns ON ns.oid = t.relnamespace \
                     WHERE ns.nspname = current_schema() AND t.relname = $1 AND NOT ix.indisprimary ORDER BY 1",
                    &[SqlValue::Text(name.clone())],
                )?;
                let indexes = ix
                    .into_iter()
                    .map(|r| {
                        let cols = r[2]
                            .as_str()
                            .unwrap_or_default()
                            .split(',')
                            .map(str::to_owned)
                            .collect();
                        (
                            r[0].as_str().unwrap_or_default().to_owned(),
                            r[1].as_bool() == Some(true),
                            cols,
                        )
                    })
                    .collect();
                (columns, indexes)
            }
        };
        tables.push(LiveTable {
            name,
            columns,
            indexes,
        });
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::IndexDef;

    #[test]
    fn long_index_names_fit_postgres_and_stay_distinct() {
        let table = "customer_contract_registration_archive";
        let a = IndexDef::new(table, &["external_reference_number_primary"], true);
        let b = IndexDef::new(table, &["external_reference_number_secondary"], true);
        assert!(
            a.name.len() <= 63 && b.name.len() <= 63,
            "{} {}",
            a.name,
            b.name
        );
        assert_ne!(a.name, b.name);
        // the column can still be read back from a unique index's name
        assert!(a.name.ends_with("__external_reference_number_primary"));
        // short names are unchanged
        assert_eq!(
            IndexDef::new("account", &["sku"], true).name,
            "ux_account__sku"
        );
    }
}
