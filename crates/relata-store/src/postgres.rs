//! PostgreSQL backend: a pool of blocking `postgres` clients. Any number of `relata serve`
//! processes may share one database; concurrency control is PostgreSQL's.

use crate::conn::PgConn;
use crate::error::StoreError;

#[derive(Debug)]
pub(crate) struct PgManager {
    pub config: postgres::Config,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = StoreError;

    fn connect(&self) -> Result<PgConn, StoreError> {
        let client = self
            .config
            .connect(postgres::NoTls)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(PgConn::new(client))
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), StoreError> {
        conn.client()?
            .simple_query("")
            .map(|_| ())
            .map_err(StoreError::from)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.is_closed()
    }
}

/// Parses a `postgres://` URL. A `schema=NAME` query parameter (ours, not libpq's) selects the
/// schema through `search_path`; the test kit gives every test its own schema this way.
pub(crate) fn parse_url(url: &str) -> Result<(postgres::Config, Option<String>), StoreError> {
    let (base, schema) = match url.split_once('?') {
        Some((base, query)) => {
            let mut schema = None;
            let mut rest = Vec::new();
            for pair in query.split('&') {
                match pair.split_once('=') {
                    Some(("schema", s)) => schema = Some(s.to_owned()),
                    _ => rest.push(pair),
                }
            }
            let base = if rest.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", rest.join("&"))
            };
            (base, schema)
        }
        None => (url.to_owned(), None),
    };
    let mut config: postgres::Config = base.parse().map_err(|e: postgres::Error| {
        StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}"))
    })?;
    if let Some(s) = &schema {
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::Unavailable(
                "schema names may only hold letters, digits and _".into(),
            ));
        }
        config.options(&format!("-c search_path={s}"));
    }
    config.application_name("relata");
    Ok((config, schema))
}
