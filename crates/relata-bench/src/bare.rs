//! Ceiling (c): a bare axum JSON handler doing one primary-key lookup, on the same HTTP stack
//! as Relata (axum 0.8, tokio multi-thread runtime, blocking threads for the database). No
//! auth, no metrics, no request ids, no metadata: what is left is the floor every Relata read
//! stands on. Run as its own process (`relata-bench bare-server`) so it is measured like the
//! real server, and so its RSS can be read.

use std::sync::{Arc, Condvar, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

/// Connections kept per backend (Relata's default pool size).
const POOL: usize = 8;

enum Db {
    Sqlite(Pool<rusqlite::Connection>),
    /// Each client with its lookup prepared once, as Relata's statement cache does.
    Postgres(Pool<(postgres::Client, postgres::Statement)>),
}

/// A fixed set of connections; a request waits for a free one (64 wrk connections share 8
/// database connections, as they do in Relata's pool).
struct Pool<T> {
    free: Mutex<Vec<T>>,
    returned: Condvar,
}

impl<T> Pool<T> {
    fn new(items: Vec<T>) -> Self {
        Pool {
            free: Mutex::new(items),
            returned: Condvar::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> anyhow::Result<R> {
        let mut item = {
            let mut free = self
                .free
                .lock()
                .map_err(|_| anyhow::anyhow!("pool poisoned"))?;
            loop {
                if let Some(item) = free.pop() {
                    break item;
                }
                free = self
                    .returned
                    .wait(free)
                    .map_err(|_| anyhow::anyhow!("pool poisoned"))?;
            }
        };
        let out = f(&mut item);
        if let Ok(mut free) = self.free.lock() {
            free.push(item);
        }
        self.returned.notify_one();
        Ok(out)
    }
}

type Shared = Arc<Db>;

/// Serves `GET /contacts/{id}` and `GET /healthz` on `listen` until killed.
pub fn serve(db_url: &str, listen: &str) -> anyhow::Result<()> {
    let db = if db_url.starts_with("postgres://") {
        let (base, schema) = db_url
            .split_once("?schema=")
            .context("needs ?schema=NAME")?;
        let mut clients = Vec::new();
        for _ in 0..POOL {
            let mut c = postgres::Client::connect(base, postgres::NoTls)?;
            c.batch_execute(&format!("SET search_path = {schema}"))?;
            // The row as JSON, built by PostgreSQL: the cheapest way to the same answer.
            let lookup = c.prepare("SELECT row_to_json(c)::text FROM contact c WHERE id = $1")?;
            clients.push((c, lookup));
        }
        Db::Postgres(Pool::new(clients))
    } else {
        let path = db_url.strip_prefix("sqlite://").unwrap_or(db_url);
        let mut conns = Vec::new();
        for _ in 0..POOL {
            let c = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.execute_batch("PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456;")?;
            conns.push(c);
        }
        Db::Sqlite(Pool::new(conns))
    };
    let app = Router::new()
        .route("/contacts/{id}", get(contact))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(db));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}

async fn contact(State(db): State<Shared>, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let found = tokio::task::spawn_blocking(move || lookup(&db, id)).await;
    match found {
        Ok(Ok(Some(row))) => axum::Json(row).into_response(),
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn lookup(db: &Db, id: Uuid) -> anyhow::Result<Option<Json>> {
    match db {
        Db::Sqlite(pool) => pool.with(|conn| sqlite_row(conn, id))?,
        Db::Postgres(pool) => pool.with(|(client, lookup)| {
            client
                .query_opt(&*lookup, &[&id])
                .map_err(anyhow::Error::from)
                .and_then(|row| match row {
                    Some(r) => Ok(Some(serde_json::from_str(r.get::<_, &str>(0))?)),
                    None => Ok(None),
                })
        })?,
    }
}

fn sqlite_row(conn: &rusqlite::Connection, id: Uuid) -> anyhow::Result<Option<Json>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached("SELECT * FROM contact WHERE id = ?1")?;
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut rows = stmt.query([id.as_bytes()])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut map = Map::new();
    for (i, name) in names.into_iter().enumerate() {
        let v = match row.get_ref(i)? {
            ValueRef::Null => Json::Null,
            ValueRef::Integer(n) => Json::from(n),
            ValueRef::Real(r) => Json::from(r),
            ValueRef::Text(t) => Json::from(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Uuid::from_slice(b)
                .map(|u| Json::from(u.to_string()))
                .unwrap_or(Json::Null),
        };
        map.insert(name, v);
    }
    Ok(Some(Json::Object(map)))
}
