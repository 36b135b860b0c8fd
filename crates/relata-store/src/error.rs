//! Store errors. Constraint violations are recognised and carry the column they concern, so
//! the services above can name the field; everything else is an internal fault whose text
//! goes to the log, never to a client.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index rejected a value; `column` is the column it guards when known.
    #[error("unique constraint violated on {table}.{column}")]
    Unique { table: String, column: String },
    /// A foreign key rejected a value.
    #[error("foreign key constraint violated")]
    ForeignKey,
    /// The optimistic-concurrency check or a conditional write found no row to change.
    #[error("row changed concurrently")]
    Conflict,
    /// The database could not be reached or a pool had no connection in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A text parameter held U+0000, which PostgreSQL cannot store; refused on SQLite alike
    /// before the statement runs. Inputs are checked field by field before they get here:
    /// this is the last resort for one that was not.
    #[error("a text value holds the NUL character (U+0000)")]
    NulInText,
    /// Anything else: a bug or a broken database.
    #[error("database error: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, msg) = &e {
            let msg = msg.clone().unwrap_or_default();
            match code.extended_code {
                // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
                2067 | 1555 => {
                    // "UNIQUE constraint failed: contact.email"
                    let target = msg.rsplit(": ").next().unwrap_or_default();
                    let first = target.split(", ").next().unwrap_or_default();
                    let (table, column) = first.split_once('.').unwrap_or(("", first));
                    return StoreError::Unique {
                        table: table.to_owned(),
                        column: column.to_owned(),
                    };
                }
                // SQLITE_CONSTRAINT_FOREIGNKEY
                787 => return StoreError::ForeignKey,
                _ => {}
            }
            if code.code == rusqlite::ErrorCode::DatabaseBusy
                || code.code == rusqlite::ErrorCode::DatabaseLocked
            {
                return StoreError::Unavailable(e.to_string());
            }
        }
        StoreError::Internal(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            if *db.code() == SqlState::UNIQUE_VIOLATION {
                // Unique indexes are named ux_<table>__<column>, or ux_<hash>__<column> when
                // that would be too long; see `IndexDef::new`.
                let name = db.constraint().unwrap_or_default();
                // The primary key's constraint is PostgreSQL's own `<table>_pkey`.
                if let Some(table) = name.strip_suffix("_pkey") {
                    return StoreError::Unique {
                        table: db.table().unwrap_or(table).to_owned(),
                        column: "id".into(),
                    };
                }
                let (table, column) = name
                    .strip_prefix("ux_")
                    .and_then(|rest| rest.split_once("__"))
                    .map(|(t, c)| (db.table().unwrap_or(t).to_owned(), c.to_owned()))
                    .unwrap_or_else(|| {
                        (db.table().unwrap_or_default().to_owned(), name.to_owned())
                    });
                return StoreError::Unique { table, column };
            }
            if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
                return StoreError::ForeignKey;
            }
            // Concurrent transactions locked rows in opposite orders, or one could not be
            // serialised after another: nothing wrong with the request, which may run again.
            if *db.code() == SqlState::T_R_DEADLOCK_DETECTED
                || *db.code() == SqlState::T_R_SERIALIZATION_FAILURE
            {
                tracing::warn!(
                    sqlstate = db.code().code(),
                    message = db.message(),
                    "a transaction lost to a concurrent one; answered as a conflict"
                );
                return StoreError::Conflict;
            }
            return StoreError::Internal(format!("{}: {}", db.code().code(), db.message()));
        }
        if e.is_closed() {
            return StoreError::Unavailable(e.to_string());
        }
        match std::error::Error::source(&e) {
            Some(cause) => StoreError::Internal(format!("{e}: {cause}")),
            None => StoreError::Internal(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}
