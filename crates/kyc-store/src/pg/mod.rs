//! The PostgreSQL backend: a small pool of synchronous connections (the `postgres` crate), each
//! write a transaction that first takes one advisory transaction lock, so writes from every
//! instance on the database are serialised as SQLite's `BEGIN IMMEDIATE` serialises them in one
//! process (every write appends to the audit chain, whose head would serialise them anyway).
//! Reads are `REPEATABLE READ READ ONLY` snapshots. A case's sealed images are one `case_blobs`
//! row written in the case's transaction; events reach the other instances by `NOTIFY`.
//!
//! The store's SQL is written once with `?N` placeholders; they are rewritten to `$N` here, and
//! each connection keeps its prepared statements.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, IsolationLevel, Statement, Transaction};

use crate::db::{Backend, Connection, Param, Row, Value};
use crate::{Error, Result};

mod scratch;
mod tls;

pub use scratch::ScratchDatabase;
use tls::Tls;

/// Migrations of the PostgreSQL schema, applied in order under [`MIGRATE_LOCK`].
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/001_schema.sql"),
    include_str!("../../migrations/postgres/002_hold_until.sql"),
    include_str!("../../migrations/postgres/003_sign_in_failures.sql"),
    include_str!("../../migrations/postgres/004_search_trigrams.sql"),
    include_str!("../../migrations/postgres/005_portrait_hashes.sql"),
    include_str!("../../migrations/postgres/006_hash_method.sql"),
    include_str!("../../migrations/postgres/007_range_indexes.sql"),
    include_str!("../../migrations/postgres/008_decided_on_case.sql"),
];

/// Advisory lock keys (one namespace: "KYCD" in ASCII, then the lock's number).
const WRITE_LOCK: i64 = 0x4B59_4344_0000_0001;
const MIGRATE_LOCK: i64 = 0x4B59_4344_0000_0002;

/// The channel events are announced on.
const CHANNEL: &str = "kyc_desk_events";

/// How long a caller waits for a free connection before the store answers "busy".
const CHECKOUT_WAIT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection (the case list builds a few hundred shapes at most).
const STATEMENT_CACHE: usize = 512;

/// Rows fetched at a time when a query's rows are streamed.
const BATCH: i32 = 256;

/// Where a PostgreSQL store is and how to reach it.
#[derive(Clone)]
pub struct PgTarget {
    /// `postgres://user@host:port/database` (libpq's URL form; `?sslmode=` is not read: see
    /// the README on TLS to the database).
    pub url: String,
    /// The role's password, when the URL does not carry one (from `KYC_DESK_DB_PASSWORD` or a
    /// password file).
    pub password: Option<String>,
    /// Connections this instance opens at most.
    pub pool: usize,
    /// The CA certificate(s), PEM, that sign the database server's certificate: with them every
    /// connection is TLS, the server's certificate verified against them and its name against
    /// the URL's host (`[storage] ca_file`). None: no TLS.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool", &self.pool)
            .field("tls", &self.ca_pem.is_some())
            .finish()
    }
}

/// Whether `url` is a URL the driver reads (checked when the configuration is loaded).
pub fn check_url(url: &str) -> Result<()> {
    url.parse::<postgres::Config>()
        .map(drop)
        .map_err(|e| Error::Config(format!("storage.url: {e}")))
}

/// The URL with any password in it replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// One pooled connection and the statements prepared on it.
struct Pooled {
    client: Client,
    statements: HashMap<String, Statement>,
}

struct Pool {
    idle: Vec<Pooled>,
    open: usize,
}

/// A PostgreSQL database as the store's backend.
pub struct PgBackend {
    config: postgres::Config,
    tls: Tls,
    max: usize,
    pool: Mutex<Pool>,
    freed: Condvar,
    /// This process's writes, one at a time (what follows a commit stays in commit order).
    writer: Mutex<()>,
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        // The driver's message names the server's error; the database's own detail may quote a
        // value, so only the code and the message go on.
        match e.as_db_error() {
            Some(db) => Error::Storage(format!("postgres {}: {}", db.code().code(), db.message())),
            None => Error::Storage(format!("postgres: {e}")),
        }
    }
}

impl PgBackend {
    /// Connects, checks the server keeps commits durable, and applies pending migrations (under
    /// an advisory lock, so instances starting together do not race). Returns the backend and
    /// the schema version the database had before (0: created now).
    pub fn open(target: &PgTarget) -> Result<(PgBackend, usize)> {
        let mut config = client_config(target)?;
        config.application_name("kyc-desk");
        let tls = Tls::of(target, &mut config)?;
        let backend = PgBackend {
            config,
            tls,
            max: target.pool.max(2),
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            writer: Mutex::new(()),
        };
        let mut c = backend.connect()?;
        let fsync: String = c.client.query_one("SHOW fsync", &[])?.get(0);
        if fsync != "on" {
            return Err(Error::Config(
                "storage: the PostgreSQL server runs with fsync off; KYC Desk acknowledges a case \
                 only once it is durable, so it refuses such a server"
                    .into(),
            ));
        }
        let standbys: String = c
            .client
            .query_one("SHOW synchronous_standby_names", &[])?
            .get(0);
        if standbys.is_empty() {
            tracing::info!("postgres: no synchronous standby; an acknowledged case is durable on this server only");
        }
        let before = migrate(&mut c.client)?;
        backend.checkin(c, false);
        Ok((backend, before))
    }

    fn connect(&self) -> Result<Pooled> {
        let mut client = self.tls.connect(&self.config).map_err(cannot_connect)?;
        // Durable commits whatever the server's default; no statement or idle transaction may
        // hold the write lock for ever.
        client.batch_execute(
            "SET synchronous_commit = on; SET lock_timeout = '10s'; SET client_min_messages = warning; \
             SET idle_in_transaction_session_timeout = '60s'",
        )?;
        Ok(Pooled {
            client,
            statements: HashMap::new(),
        })
    }

    fn checkout(&self) -> Result<Pooled> {
        let mut pool = self
            .pool
            .lock()
            .map_err(|_| Error::Internal("pool lock poisoned".into()))?;
        let deadline = std::time::Instant::now() + CHECKOUT_WAIT;
        loop {
            if let Some(c) = pool.idle.pop() {
                if !c.client.is_closed() {
                    return Ok(c);
                }
                pool.open -= 1;
                continue;
            }
            if pool.open < self.max {
                pool.open += 1;
                drop(pool);
                return self.connect().inspect_err(|_| {
                    if let Ok(mut p) = self.pool.lock() {
                        p.open -= 1;
                    }
                    self.freed.notify_one();
                });
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(Error::Storage(
                    "postgres: every connection of the pool is busy".into(),
                ));
            }
            pool = self
                .freed
                .wait_timeout(pool, deadline - now)
                .map_err(|_| Error::Internal("pool lock poisoned".into()))?
                .0;
        }
    }

    /// Returns a connection to the pool; a broken one is closed instead.
    fn checkin(&self, c: Pooled, failed: bool) {
        if let Ok(mut pool) = self.pool.lock() {
            if failed && c.client.is_closed() {
                pool.open -= 1;
            } else {
                pool.idle.push(c);
            }
        }
        self.freed.notify_one();
    }

    /// Runs `f` on a pooled connection.
    fn with<T>(&self, f: impl FnOnce(&mut Pooled) -> Result<T>) -> Result<T> {
        let mut c = self.checkout()?;
        let out = f(&mut c);
        self.checkin(c, out.is_err());
        out
    }
}

/// The driver's settings for `target`: its URL (checked) and password, a connect timeout.
pub(super) fn client_config(target: &PgTarget) -> Result<postgres::Config> {
    let mut config: postgres::Config = target.url.parse().map_err(|e| {
        Error::Config(format!(
            "storage: url {} is not a PostgreSQL URL: {e}",
            redact_url(&target.url)
        ))
    })?;
    if let Some(p) = &target.password {
        config.password(p);
    }
    config.connect_timeout(Duration::from_secs(10));
    Ok(config)
}

/// A failed connection as the store's error.
pub(super) fn cannot_connect(e: postgres::Error) -> Error {
    Error::Storage(format!("postgres: cannot connect: {}", connect_reason(&e)))
}

/// Why a connection failed, without the URL's password.
fn connect_reason(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    }
}

/// Applies pending migrations under the migration lock; returns the version before.
fn migrate(client: &mut Client) -> Result<usize> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])?;
    let out = (|| {
        client.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        let version: i64 = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .get(0);
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(Error::Config(format!(
                "database schema version {version} is newer than this program ({}); upgrade KYC Desk",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let mut tx = client.transaction()?;
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&((i + 1) as i64), &crate::timefmt::now_ms()],
            )?;
            tx.commit()?;
        }
        Ok(version)
    })();
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK])?;
    out
}

/// The store's `?N` placeholders as PostgreSQL's `$N`, outside quoted text.
fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted && chars.peek().is_some_and(|c| c.is_ascii_digit()) => out.push('$'),
            _ => out.push(ch),
        }
    }
    out
}

/// An open transaction: statements run on it, prepared once per connection.
struct PgTx<'t> {
    tx: RefCell<Transaction<'t>>,
    statements: RefCell<&'t mut HashMap<String, Statement>>,
    writable: bool,
}

impl<'t> PgTx<'t> {
    fn statement(&self, tx: &mut Transaction<'_>, sql: &str) -> Result<Statement> {
        let mut cache = self.statements.borrow_mut();
        if let Some(s) = cache.get(sql) {
            return Ok(s.clone());
        }
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        let prepared = tx.prepare(&dollar_params(sql))?;
        cache.insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    fn tx(&self) -> Result<std::cell::RefMut<'_, Transaction<'t>>> {
        // A statement inside another's row callback runs between fetched batches, never while
        // one is being fetched; this refusal is only a guard.
        self.tx
            .try_borrow_mut()
            .map_err(|_| Error::Internal("a statement ran while rows were being fetched".into()))
    }
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Connection for PgTx<'_> {
    fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<usize> {
        let mut tx = self.tx()?;
        let st = self.statement(&mut tx, sql)?;
        Ok(usize::try_from(tx.execute(&st, &refs(params))?).unwrap_or(usize::MAX))
    }

    fn rows(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()> {
        let portal = {
            let mut tx = self.tx()?;
            let st = self.statement(&mut tx, sql)?;
            tx.bind(&st, &refs(params))?
        };
        loop {
            let batch = self.tx()?.query_portal(&portal, BATCH)?;
            let more = batch.len() == BATCH as usize;
            for r in &batch {
                if !each(row(r)?)? {
                    return Ok(());
                }
            }
            if !more {
                return Ok(());
            }
        }
    }

    fn count_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: Duration,
    ) -> Result<Option<i64>> {
        let mut tx = self.tx()?;
        let st = self.statement(&mut tx, sql)?;
        // A cancelled statement aborts its transaction: the savepoint keeps the rest of it.
        let mut sp = tx.savepoint("count_within")?;
        sp.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            budget.as_millis().max(1)
        ))?;
        match sp.query_one(&st, &refs(params)) {
            Ok(r) => {
                let n = match row(&r)?.0.first() {
                    Some(Value::Int(n)) => *n,
                    other => return Err(Error::Internal(format!("a count read {other:?}"))),
                };
                sp.batch_execute("SET LOCAL statement_timeout = DEFAULT")?;
                sp.commit()?;
                Ok(Some(n))
            }
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => {
                sp.rollback()?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn put_blob(&self, case_id: i64, sealed: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(Error::Internal(
                "blobs are written only in a write transaction".into(),
            ));
        }
        self.run(
            "INSERT INTO case_blobs (case_id, sealed) VALUES (?1, ?2)",
            &[Param::Int(case_id), Param::Bytes(sealed)],
        )?;
        Ok(())
    }

    fn drop_blob(&self, case_id: i64) -> Result<()> {
        if !self.writable {
            return Err(Error::Internal(
                "blobs are removed only in a write transaction".into(),
            ));
        }
        self.run(
            "DELETE FROM case_blobs WHERE case_id = ?1",
            &[Param::Int(case_id)],
        )?;
        Ok(())
    }
}

/// A row's columns as plain values; a type the store never selects is an error naming it.
fn row(r: &postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|n| Value::Int(n.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map(|n| Value::Int(n.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?.map(Value::Bool)
        } else if *ty == Type::FLOAT8 {
            r.try_get::<_, Option<f64>>(i)?.map(Value::Real)
        } else if *ty == Type::FLOAT4 {
            r.try_get::<_, Option<f32>>(i)?
                .map(|f| Value::Real(f.into()))
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
        } else {
            return Err(Error::Internal(format!(
                "column {} is of type {ty}, which the store does not read (cast it in the query)",
                col.name()
            )));
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // One parameter kind binds to whichever column type the server inferred: booleans are
        // 0/1 integers in the schema (as in SQLite's), integers may meet INT4 functions.
        let int = |i: i64, out: &mut BytesMut| {
            if *ty == Type::INT8 {
                i.to_sql(ty, out)
            } else if *ty == Type::INT4 {
                i32::try_from(i)?.to_sql(ty, out)
            } else if *ty == Type::INT2 {
                i16::try_from(i)?.to_sql(ty, out)
            } else if *ty == Type::BOOL {
                (i != 0).to_sql(ty, out)
            } else if *ty == Type::FLOAT8 {
                (i as f64).to_sql(ty, out)
            } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                i.to_string().to_sql(ty, out)
            } else {
                Err(format!("an integer cannot bind as {ty}").into())
            }
        };
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(i) => int(i, out),
            Param::Bool(b) => int(i64::from(b), out),
            Param::Real(f) => {
                if *ty == Type::FLOAT4 {
                    (f as f32).to_sql(ty, out)
                } else {
                    f.to_sql(ty, out)
                }
            }
            Param::Text(s) => s.to_sql(ty, out),
            Param::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl Backend for PgBackend {
    fn read(&self, f: &mut dyn FnMut(&dyn Connection) -> Result<()>) -> Result<()> {
        self.with(|c| {
            let tx = c
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let t = PgTx {
                tx: RefCell::new(tx),
                statements: RefCell::new(&mut c.statements),
                writable: false,
            };
            f(&t)?;
            t.tx.into_inner().commit()?;
            Ok(())
        })
    }

    fn write(
        &self,
        f: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        committed: &mut dyn FnMut(),
    ) -> Result<()> {
        let _one = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))?;
        self.with(|c| {
            let mut tx = c.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let t = PgTx {
                tx: RefCell::new(tx),
                statements: RefCell::new(&mut c.statements),
                writable: true,
            };
            f(&t)?;
            t.tx.into_inner().commit()?;
            Ok(())
        })?;
        committed();
        Ok(())
    }

    fn read_blob(&self, case_id: i64, offset: u64, len: u64) -> Result<Vec<u8>> {
        let (from, len) = (
            i32::try_from(offset + 1).map_err(|_| Error::Internal("blob offset".into()))?,
            i32::try_from(len).map_err(|_| Error::Internal("blob length".into()))?,
        );
        self.with(|c| {
            let r = c.client.query_opt(
                "SELECT substring(sealed FROM $2 FOR $3) FROM case_blobs WHERE case_id = $1",
                &[&case_id, &from, &len],
            )?;
            let bytes: Vec<u8> = r
                .ok_or_else(|| Error::NotFound(case_id.to_string()))?
                .get(0);
            if bytes.len() != len as usize {
                return Err(Error::Internal(format!(
                    "case {case_id}'s images are shorter than their rows say"
                )));
            }
            Ok(bytes)
        })
    }

    fn after_erase(&self) -> Result<Option<Vec<&'static str>>> {
        // Deleted rows stay in heap pages until vacuumed and in the WAL until it is recycled;
        // the README says what the WAL, replicas, archives and backups keep.
        self.with(|c| {
            // The wrapped case keys: once a key's bytes are gone the rest of the case is noise.
            // The table is small (one short row per case), so rewriting it is quick.
            c.client.batch_execute("VACUUM FULL case_keys")?;
            let mut done = vec!["case_keys_rewritten"];
            // Close the WAL segment holding the deleted rows, so that it is archived and
            // recycled on the server's schedule rather than whenever it fills. Superusers only,
            // unless the operator grants it (the README says how); without it, said once.
            match c.client.batch_execute("SELECT pg_switch_wal()") {
                Ok(()) => done.push("wal_switched"),
                Err(e) if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
                    static SAID: std::sync::Once = std::sync::Once::new();
                    SAID.call_once(|| {
                        tracing::warn!(
                            "erasure: may not switch the WAL segment (GRANT EXECUTE ON FUNCTION \
                             pg_switch_wal() TO the desk's role); erased rows stay in the current \
                             segment until it fills"
                        )
                    });
                }
                Err(e) => return Err(e.into()),
            }
            Ok(Some(done))
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn search_starts_from_indexes(&self) -> bool {
        true
    }

    fn try_job_lock(&self, job: &str) -> Result<Option<Box<dyn std::any::Any + Send>>> {
        // A connection of its own: the session lock lives as long as it does (a crashed
        // instance's lock goes with its connection).
        let mut c = self.connect()?;
        let got: bool = c
            .client
            .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&job])?
            .get(0);
        Ok(got.then(|| Box::new(c.client) as Box<dyn std::any::Any + Send>))
    }

    fn ids_follow_rows(&self, c: &dyn Connection) -> Result<()> {
        for table in ["decisions", "deliveries", "notes"] {
            c.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ),
                crate::params![],
                |_| Ok(()),
            )?;
        }
        Ok(())
    }

    fn announce(&self, payload: &str) -> Result<()> {
        self.with(|c| {
            c.client
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
            Ok(())
        })
    }

    fn listen(&self, each: crate::db::Listener) -> Result<()> {
        let (mut config, tls) = (self.config.clone(), self.tls.clone());
        // Told apart from the pool's connections in pg_stat_activity.
        config.application_name(LISTENER_NAME);
        // Returns once the first attempt to listen is over, so an instance that says it serves
        // also hears the others (an announcement made before its LISTEN would be missed).
        let (ready, first) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("kyc-pg-listen".into())
            .spawn(move || listen_loop(&config, &tls, &*each, ready))
            .map_err(|e| Error::Internal(format!("listener thread: {e}")))?;
        if first.recv_timeout(Duration::from_secs(30)).is_err() {
            tracing::warn!("postgres: the event listener is not listening yet");
        }
        Ok(())
    }
}

/// The `application_name` of each instance's listening connection.
pub const LISTENER_NAME: &str = "kyc-desk listener";

/// Listens for other instances' events for as long as the process runs, reconnecting after a
/// lost connection; once listening again it says so (`each(None)`): what was announced
/// meanwhile is missed (the held requests' re-check covers their cases; a live view reloads).
/// `ready` is told when the first attempt is over (listening or not).
fn listen_loop(
    config: &postgres::Config,
    tls: &Tls,
    each: &dyn Fn(Option<&str>),
    ready: std::sync::mpsc::SyncSender<()>,
) {
    let mut wait = Duration::from_millis(200);
    let mut lost = false;
    loop {
        let listening = tls.connect(config).map(|mut client| {
            let listened = client.batch_execute(&format!("LISTEN {CHANNEL}"));
            (client, listened)
        });
        // Nobody waits after the first attempt: a failed send is fine.
        let _ = ready.try_send(());
        match listening {
            Ok((mut client, listened)) => {
                if let Err(e) = listened {
                    tracing::warn!(error = %e, "postgres: LISTEN failed");
                } else {
                    wait = Duration::from_millis(200);
                    if std::mem::take(&mut lost) {
                        tracing::info!("postgres: the event listener is back");
                        each(None);
                    }
                    let mut notes = client.notifications();
                    let mut it = notes.blocking_iter();
                    loop {
                        match postgres::fallible_iterator::FallibleIterator::next(&mut it) {
                            Ok(Some(n)) => each(Some(n.payload())),
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "postgres: the event listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %connect_reason(&e), "postgres: the event listener cannot connect")
            }
        }
        lost = true;
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            dollar_params("SELECT ?1, '?2', x FROM t WHERE a = ?12 AND b LIKE '\\' ESCAPE '\\'"),
            "SELECT $1, '?2', x FROM t WHERE a = $12 AND b LIKE '\\' ESCAPE '\\'"
        );
        assert_eq!(dollar_params("a ? b"), "a ? b");
    }

    #[test]
    fn a_url_password_never_shows() {
        assert_eq!(
            redact_url("postgres://kyc:s3cret@db:5432/kyc"),
            "postgres://kyc:***@db:5432/kyc"
        );
        assert_eq!(redact_url("postgres://kyc@db/kyc"), "postgres://kyc@db/kyc");
        let t = PgTarget {
            url: "postgres://kyc:s3cret@db/kyc".into(),
            password: Some("other".into()),
            pool: 4,
            ca_pem: None,
        };
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("other"),
            "{shown}"
        );
    }
}
