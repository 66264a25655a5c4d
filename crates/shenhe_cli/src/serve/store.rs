//! The store behind `shenhe serve`: a SQLite file (the embedded default) or a
//! PostgreSQL database (`postgres://…`, which several replicas share).
//!
//! Every query of the server is written once, with `$1, $2…` placeholders,
//! and runs on both: [`Db`] is the little they need (execute, query, a lock
//! for idempotency keys). What differs is here only: how a connection is
//! opened, the DDL of each migration, and the settings that make a commit
//! durable.
//!
//! Work on the store runs in [`Store::transaction`], from the blocking pool:
//! SQLite through one connection behind a mutex, PostgreSQL through a pool of
//! connections whose async calls are driven from the blocking thread.

use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// One column value of a result, as both databases give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One parameter of a query: borrowed, so an upload or a report is bound
/// without a copy.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Param<'_> {
            fn from(n: $t) -> Self {
                Param::Int(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
from_int!(i64, u16, u32, usize);

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(s)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(s: &'a String) -> Self {
        Param::Text(s)
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(b: &'a [u8]) -> Self {
        Param::Bytes(b)
    }
}
impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Param::Bytes(b)
    }
}
impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Param::Null, Param::Text)
    }
}
impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Param::Null, Param::Text)
    }
}

/// The parameters of a query: `vals![a, b, c]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => {
        &[$($crate::serve::store::Param::from($v)),*][..]
    };
}
pub(crate) use vals;

/// One row of a result.
#[derive(Debug)]
pub struct Row(Vec<Val>);

impl Row {
    /// Column `i` as text (`None` for NULL).
    pub fn text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Val::Text(s)) => Some(s.clone()),
            Some(Val::Int(n)) => Some(n.to_string()),
            Some(Val::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// Column `i` as text, `""` for NULL.
    pub fn string(&self, i: usize) -> String {
        self.text(i).unwrap_or_default()
    }

    /// Column `i` as an integer (`0` for NULL); a boolean reads as 0 or 1.
    pub fn int(&self, i: usize) -> i64 {
        match self.0.get(i) {
            Some(Val::Int(n)) => *n,
            Some(Val::Text(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }

    /// Column `i` as bytes (empty for NULL).
    pub fn bytes(&self, i: usize) -> Vec<u8> {
        match self.0.get(i) {
            Some(Val::Bytes(b)) => b.clone(),
            Some(Val::Text(s)) => s.clone().into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// The two SQL dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection inside a transaction: what the server's queries need.
pub trait Db {
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;
    /// Runs a query; its rows.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>>;
    /// Runs several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Holds `key` until this transaction ends, so that transactions on the
    /// same key (an idempotency key, the migrations) run one after the other,
    /// across replicas too.
    fn lock(&mut self, key: &str) -> Result<()>;
    fn dialect(&self) -> Dialect;

    /// The first row of a query, if any.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Whether a request still wants its transaction committed. The handler
/// that gives up on a slow request ([`Deadline::abandon`]) and the
/// transaction about to commit race once, and one of them wins: a request
/// answered `503` stored nothing, and one whose commit had begun is answered
/// with what it stored.
#[derive(Clone, Default)]
pub struct Deadline(Arc<AtomicU8>);

const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

impl Deadline {
    /// The time limit passed: `true` when nothing will be committed, `false`
    /// when the commit has begun (and the answer should wait for it).
    pub fn abandon(&self) -> bool {
        self.0.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    fn abandoned(&self) -> bool {
        self.0.load(Ordering::SeqCst) == ABANDONED
    }

    /// The transaction may commit: `false` when the request was abandoned.
    fn commit(&self) -> bool {
        self.0.compare_exchange(RUNNING, COMMITTING, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }
}

/// What a transaction of an abandoned request fails with (after its rollback).
#[derive(Debug)]
pub struct Abandoned;

impl std::fmt::Display for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request outlived its time limit and was answered 503; its transaction was rolled back")
    }
}

impl std::error::Error for Abandoned {}

/// The store: where [`Store::open`] found it, and how to reach it.
pub struct Store {
    backend: Backend,
    /// What `--db` named, without a password: for logs and `/readyz`.
    pub shown: String,
}

enum Backend {
    Sqlite(Mutex<rusqlite::Connection>),
    Postgres {
        pool: deadpool_postgres::Pool,
        handle: tokio::runtime::Handle,
        /// A runtime of its own when opened outside one (`shenhe token`).
        _runtime: Option<tokio::runtime::Runtime>,
    },
}

/// Connections a replica keeps to PostgreSQL at most.
const POOL_SIZE: usize = 16;

impl Store {
    /// Opens `target` (a file path, or a `postgres://` / `postgresql://` URL)
    /// and brings its schema up to date.
    pub fn open(target: &str) -> Result<Self> {
        let store = if is_postgres(target) {
            Self::postgres(target, "-c synchronous_commit=on -c client_min_messages=warning")?
        } else {
            Self::open_sqlite(Path::new(target))?
        };
        store.migrate()?;
        store.check_durability()?;
        Ok(store)
    }

    /// Opens an existing store to read it (`shenhe diff --db`): nothing is
    /// migrated or written, and the store must be one `shenhe serve` made.
    pub fn open_read_only(target: &str) -> Result<Self> {
        let store = if is_postgres(target) {
            Self::postgres(target, "-c default_transaction_read_only=on -c client_min_messages=warning")?
        } else {
            let path = Path::new(target);
            let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("{}: cannot open the database", path.display()))?;
            conn.busy_timeout(Duration::from_secs(10))?;
            Self {
                backend: Backend::Sqlite(Mutex::new(conn)),
                shown: path.display().to_string(),
            }
        };
        let newest = MIGRATIONS.last().map_or(0, |m| m.version);
        let version = store
            .read(|db| Ok(db.query_opt("SELECT max(version) FROM schema_migrations", &[])?.map_or(0, |r| r.int(0))))
            .or_else(|_| {
                // A SQLite file from before versioned migrations.
                store.read(|db| db.query_opt("SELECT count(*) FROM submissions", &[]).map(|_| 0))
            })
            .with_context(|| format!("{}: not a shenhe serve database", store.shown))?;
        if version > newest {
            bail!(
                "{}: the database's schema is at version {version}, newer than this shenhe's ({newest})",
                store.shown
            );
        }
        Ok(store)
    }

    /// SQLite in WAL mode with `synchronous=FULL`, so an acknowledged
    /// submission is on the disk before its answer.
    fn open_sqlite(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open(path).with_context(|| format!("cannot open database {}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Self {
            backend: Backend::Sqlite(Mutex::new(conn)),
            shown: path.display().to_string(),
        })
    }

    /// A pool of connections, each with these session `options`
    /// (`synchronous_commit=on` for the server, read-only for a diff).
    fn postgres(url: &str, options: &str) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().with_context(|| "--db is not a valid postgres:// URL".to_owned())?;
        config.options(options).application_name("shenhe");
        let shown = shown_url(url);
        let (handle, runtime) = match tokio::runtime::Handle::try_current() {
            Ok(h) => (h, None),
            Err(_) => {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
                (rt.handle().clone(), Some(rt))
            }
        };
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()?;
        // Fail at start-up, with the reason, rather than at the first request.
        let _first = handle
            .block_on(pool.get())
            .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL at {shown}: {}", pg_error(&e)))?;
        Ok(Self {
            backend: Backend::Postgres {
                pool,
                handle,
                _runtime: runtime,
            },
            shown,
        })
    }

    /// `"sqlite"` or `"postgresql"`.
    pub fn engine(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres { .. } => "postgresql",
        }
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled
    /// back when it fails. Writers are serialised per database (SQLite) or
    /// by row and [`Db::lock`] (PostgreSQL).
    pub fn transaction<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        self.run(None, true, f)
    }

    /// A transaction that only reads: SQLite's is deferred (it waits for no
    /// writer, and a read-only file cannot take the write lock), PostgreSQL's
    /// is `READ ONLY`.
    pub fn read<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        self.run(None, false, f)
    }

    /// [`Store::transaction`] for a request with a time limit: it commits
    /// only if the request was not abandoned ([`Deadline`]); otherwise it
    /// rolls back and fails with [`Abandoned`].
    pub fn transaction_within<T>(&self, deadline: &Deadline, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        self.run(Some(deadline), true, f)
    }

    fn run<T>(&self, deadline: Option<&Deadline>, writes: bool, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        let abandoned = || {
            tracing::warn!(target: "shenhe::store", "a request that outlived its time limit was rolled back: nothing of it was stored");
            Err(anyhow::Error::new(Abandoned))
        };
        if deadline.is_some_and(Deadline::abandoned) {
            return abandoned();
        }
        let waited = Instant::now();
        match &self.backend {
            Backend::Sqlite(conn) => {
                let mut conn = conn.lock().map_err(|_| anyhow::anyhow!("the database connection was poisoned by a panic"))?;
                metrics::histogram!("shenhe_db_wait_seconds").record(waited.elapsed().as_secs_f64());
                let behavior = if writes {
                    rusqlite::TransactionBehavior::Immediate
                } else {
                    rusqlite::TransactionBehavior::Deferred
                };
                let tx = conn.transaction_with_behavior(behavior)?;
                let mut db = SqliteTx(tx);
                let out = f(&mut db)?;
                if deadline.is_some_and(|d| !d.commit()) {
                    return abandoned(); // dropping the transaction rolls it back
                }
                db.0.commit()?;
                Ok(out)
            }
            Backend::Postgres { pool, handle, .. } => {
                let mut client = handle
                    .block_on(pool.get())
                    .map_err(|e| anyhow::anyhow!("no database connection: {}", pg_error(&e)))?;
                metrics::histogram!("shenhe_db_wait_seconds").record(waited.elapsed().as_secs_f64());
                let tx = handle.block_on(client.build_transaction().read_only(!writes).start()).map_err(pg)?;
                let mut db = PgTx { tx, handle };
                let out = f(&mut db)?;
                if deadline.is_some_and(|d| !d.commit()) {
                    handle.block_on(db.tx.rollback()).map_err(pg)?;
                    return abandoned();
                }
                handle.block_on(db.tx.commit()).map_err(pg)?;
                Ok(out)
            }
        }
    }

    /// The settings that make a commit durable, read from a live connection.
    pub fn durability(&self) -> Result<Value> {
        self.read(|db| match db.dialect() {
            Dialect::Sqlite => {
                let journal = db.query_opt("PRAGMA journal_mode", &[])?.map(|r| r.string(0)).unwrap_or_default();
                let sync = match db.query_opt("PRAGMA synchronous", &[])?.map_or(-1, |r| r.int(0)) {
                    0 => "off",
                    1 => "normal",
                    2 => "full",
                    3 => "extra",
                    _ => "unknown",
                };
                Ok(json!({ "engine": "sqlite", "journal_mode": journal.to_ascii_lowercase(), "synchronous": sync }))
            }
            Dialect::Postgres => {
                let show = |db: &mut dyn Db, name: &str| -> Result<String> {
                    Ok(db.query_opt(&format!("SHOW {name}"), &[])?.map(|r| r.string(0)).unwrap_or_default())
                };
                Ok(json!({
                    "engine": "postgresql",
                    "synchronous_commit": show(db, "synchronous_commit")?,
                    "fsync": show(db, "fsync")?,
                    "server_version": show(db, "server_version")?,
                }))
            }
        })
    }

    /// Refuses a store on which an acknowledged commit could be lost.
    fn check_durability(&self) -> Result<()> {
        durable(&self.durability()?).map_err(|why| anyhow::anyhow!("{}: {why}", self.shown))
    }

    /// The connection pool (PostgreSQL): `(size, available, waiting, max)`.
    pub fn pool_status(&self) -> Option<(usize, usize, usize, usize)> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres { pool, .. } => {
                let s = pool.status();
                Some((s.size, s.available, s.waiting, s.max_size))
            }
        }
    }

    /// Applies the migrations this database lacks, in order, each once, in
    /// one transaction that holds the migration lock: replicas that start
    /// at once wait for each other, and the later ones find nothing to do.
    fn migrate(&self) -> Result<Vec<i64>> {
        if let Backend::Sqlite(conn) = &self.backend {
            let conn = conn.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            upgrade_unversioned_sqlite(&conn)?;
        }
        let applied = self.transaction(|db| {
            db.lock("shenhe schema migrations")?;
            db.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")?;
            let done: Vec<i64> = db.query("SELECT version FROM schema_migrations", &[])?.iter().map(|r| r.int(0)).collect();
            let newest = MIGRATIONS.last().map_or(0, |m| m.version);
            if let Some(v) = done.iter().find(|&&v| v > newest) {
                bail!("the database's schema is at version {v}, newer than this shenhe's ({newest}): run the newer shenhe");
            }
            let mut applied = Vec::new();
            for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
                let sql = m.sql(db.dialect());
                db.batch(&sql).with_context(|| format!("migration {} ({})", m.version, m.name))?;
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    vals![m.version, m.name, &super::now_shanghai()],
                )?;
                applied.push(m.version);
            }
            Ok(applied)
        })?;
        if !applied.is_empty() {
            tracing::info!(database = %self.shown, ?applied, "shenhe serve: database migrated");
        }
        Ok(applied)
    }
}

/// Whether these settings ([`Store::durability`]) sync a commit to the disk
/// before it returns; if not, why.
fn durable(d: &Value) -> Result<(), String> {
    let text = |k: &str| d[k].as_str().unwrap_or("");
    match d["engine"].as_str() {
        Some("sqlite") if text("journal_mode") != "wal" || text("synchronous") != "full" => Err(format!(
            "SQLite runs with journal_mode={} synchronous={}, not wal/full; a commit might not reach the disk",
            text("journal_mode"),
            text("synchronous")
        )),
        Some("postgresql") if text("fsync") != "on" || text("synchronous_commit") == "off" => Err(format!(
            "PostgreSQL runs with fsync={} synchronous_commit={}; an acknowledged filing could be lost in a crash. \
             Turn fsync on in postgresql.conf.",
            text("fsync"),
            text("synchronous_commit")
        )),
        Some("sqlite" | "postgresql") => Ok(()),
        _ => Err(format!("unknown store settings {d}")),
    }
}

/// One versioned change of the schema: one text for both dialects.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

impl Migration {
    /// The text with the words that differ filled in for `dialect`.
    fn sql(&self, dialect: Dialect) -> String {
        let words: [(&str, &str); 3] = match dialect {
            Dialect::Sqlite => [("{serial}", "INTEGER PRIMARY KEY"), ("{bytes}", "BLOB"), ("{prefix_ops}", "")],
            Dialect::Postgres => [
                ("{serial}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
                ("{bytes}", "BYTEA"),
                ("{prefix_ops}", " text_pattern_ops"),
            ],
        };
        words.iter().fold(self.sql.to_owned(), |sql, (word, text)| sql.replace(word, text))
    }
}

/// The migrations, oldest first. A new one is appended, never edited:
/// databases that ran it keep what it did.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "submissions, batches, tokens, audit, idempotency",
    sql: include_str!("../../migrations/0001_initial.sql"),
}];

/// A SQLite file from before versioned migrations may lack the columns
/// added with batches and access control: they are added, so that
/// migration 1 finds the tables it describes.
fn upgrade_unversioned_sqlite(conn: &rusqlite::Connection) -> Result<()> {
    let columns = |table: &str| -> Result<Vec<String>> {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    };
    let submissions = columns("submissions")?;
    if !submissions.is_empty() {
        for (name, ty) in [
            ("batch_id", "INTEGER"),
            ("source", "TEXT"),
            ("public_id", "TEXT"),
            ("division", "TEXT"),
            ("division_prefix", "TEXT"),
        ] {
            if !submissions.iter().any(|c| c == name) {
                conn.execute_batch(&format!("ALTER TABLE submissions ADD COLUMN {name} {ty}"))?;
            }
        }
    }
    let batches = columns("batches")?;
    if !batches.is_empty() {
        for name in ["public_id", "uploader", "division_prefix"] {
            if !batches.iter().any(|c| c == name) {
                conn.execute_batch(&format!("ALTER TABLE batches ADD COLUMN {name} TEXT"))?;
            }
        }
    }
    Ok(())
}

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
fn is_postgres(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// `postgres://user:secret@host/db` as `postgres://user@host/db`.
fn shown_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A PostgreSQL error with the server's own message, when it sent one.
fn pg(e: tokio_postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(db) => anyhow::anyhow!("PostgreSQL: {} ({})", db.message(), db.code().code()),
        None => anyhow::anyhow!("PostgreSQL: {e}"),
    }
}

fn pg_error(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(b) => pg_display(b),
        other => other.to_string(),
    }
}

fn pg_display(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => std::error::Error::source(e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
    }
}

/// `$1` placeholders as SQLite's `?1`.
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

struct SqliteTx<'a>(rusqlite::Transaction<'a>);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(n)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl Db for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        let n = stmt.column_count();
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => Val::Null,
                        ValueRef::Integer(v) => Val::Int(v),
                        ValueRef::Real(f) => Val::Text(f.to_string()),
                        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(Row)
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn lock(&mut self, _key: &str) -> Result<()> {
        // The transaction is IMMEDIATE: it already holds the database's write lock.
        Ok(())
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

struct PgTx<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    handle: &'a tokio::runtime::Handle,
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(n) => match *ty {
                Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
                Type::BOOL => (n != 0).to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Param::Text(s) => s.to_sql(ty, out),
            Param::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl PgTx<'_> {
    fn params<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
    }
}

impl Db for PgTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let tx = &self.tx;
        self.handle.block_on(async {
            let stmt = tx.prepare_cached(sql).await.map_err(pg)?;
            tx.execute(&stmt, &Self::params(params)).await.map_err(pg)
        })
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let tx = &self.tx;
        let rows = self.handle.block_on(async {
            let stmt = tx.prepare_cached(sql).await.map_err(pg)?;
            tx.query(&stmt, &Self::params(params)).await.map_err(pg)
        })?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        Ok(match *r.columns()[i].type_() {
                            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
                            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map_or(Val::Null, |n| Val::Int(n.into())),
                            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map_or(Val::Null, |n| Val::Int(n.into())),
                            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map_or(Val::Null, |b| Val::Int(i64::from(b))),
                            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Val::Null, Val::Bytes),
                            _ => r.try_get::<_, Option<String>>(i)?.map_or(Val::Null, Val::Text),
                        })
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                    .map(Row)
                    .map_err(pg)
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.handle.block_on(self.tx.batch_execute(sql)).map_err(pg)
    }

    fn lock(&mut self, key: &str) -> Result<()> {
        // A transaction-level advisory lock: released at commit or rollback,
        // and by the server if this replica dies.
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", vals![key])?;
        Ok(())
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_sqlite_numbered_parameters() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $1 AND c LIKE $12 || '%'"),
            "SELECT a FROM t WHERE b = ?1 AND c LIKE ?12 || '%'"
        );
    }

    #[test]
    fn a_shown_url_has_no_password() {
        assert_eq!(
            shown_url("postgres://shenhe:s3cret@db.example:5432/shenhe"),
            "postgres://shenhe@db.example:5432/shenhe"
        );
        assert_eq!(shown_url("postgres://db.example/shenhe"), "postgres://db.example/shenhe");
    }

    #[test]
    fn a_store_that_could_lose_a_commit_is_refused() {
        let ok = |d: Value| durable(&d).is_ok();
        assert!(ok(json!({"engine": "sqlite", "journal_mode": "wal", "synchronous": "full"})));
        assert!(!ok(json!({"engine": "sqlite", "journal_mode": "wal", "synchronous": "normal"})));
        assert!(!ok(json!({"engine": "sqlite", "journal_mode": "delete", "synchronous": "full"})));
        assert!(ok(json!({"engine": "postgresql", "fsync": "on", "synchronous_commit": "on"})));
        assert!(ok(json!({"engine": "postgresql", "fsync": "on", "synchronous_commit": "remote_apply"})));
        let why = durable(&json!({"engine": "postgresql", "fsync": "off", "synchronous_commit": "on"})).unwrap_err();
        assert!(why.contains("fsync=off") && why.contains("postgresql.conf"), "{why}");
        assert!(!ok(json!({"engine": "postgresql", "fsync": "on", "synchronous_commit": "off"})));
    }

    /// A fresh directory for one test, and a database path in it.
    fn temp_file(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("shenhe-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shenhe.db");
        (dir, path)
    }

    #[test]
    fn a_sqlite_file_from_before_migrations_keeps_its_rows_and_gains_the_columns() {
        let (dir, path) = temp_file("legacy");
        // The tables as the first server created them, with one stored submission.
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE submissions (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, status TEXT NOT NULL,
                pack_id TEXT, pack_hash TEXT, client_bundle_hash TEXT, received TEXT NOT NULL,
                submission TEXT NOT NULL, report TEXT NOT NULL);
             CREATE TABLE batches (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, name TEXT NOT NULL,
                content_type TEXT NOT NULL, received BLOB NOT NULL, status TEXT NOT NULL, error TEXT,
                report TEXT, summary_html TEXT);
             INSERT INTO submissions (received_at, status, received, submission, report)
                VALUES ('2026-01-01T00:00:00+08:00', 'accepted', '{}', '{}', '{}');",
        )
        .unwrap();
        drop(old);
        let store = Store::open(path.to_str().unwrap()).unwrap();
        let row = store
            .transaction(|db| db.query_opt("SELECT status, public_id, division_prefix, batch_id FROM submissions", &[]))
            .unwrap()
            .unwrap();
        assert_eq!((row.string(0), row.text(1), row.text(2)), ("accepted".to_owned(), None, None));
        let tables = store
            .transaction(|db| db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &[]))
            .unwrap();
        let names: Vec<String> = tables.iter().map(|r| r.string(0)).collect();
        assert_eq!(names, ["audit", "batches", "idempotency", "schema_migrations", "submissions", "tokens"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sqlite_store_migrates_once_and_reports_durable_settings() {
        let (dir, path) = temp_file("migrate");
        let store = Store::open(path.to_str().unwrap()).unwrap();
        assert_eq!(store.migrate().unwrap(), Vec::<i64>::new(), "a second run applies nothing");
        let d = store.durability().unwrap();
        assert_eq!((d["journal_mode"].as_str(), d["synchronous"].as_str()), (Some("wal"), Some("full")));
        let id = store
            .transaction(|db| {
                let row = db.query_opt(
                    "INSERT INTO audit (at, action, status) VALUES ($1, $2, $3) RETURNING seq",
                    vals!["2026-12-02T00:00:00+08:00", "test", 200_u16],
                )?;
                Ok(row.map(|r| r.int(0)))
            })
            .unwrap();
        assert_eq!(id, Some(1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
