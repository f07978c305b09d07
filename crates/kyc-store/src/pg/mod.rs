//! The PostgreSQL backend: a small pool of connections, each driven on the thread that uses it
//! (`conn.rs`: tokio-postgres under a synchronous API), each
//! write a transaction that first takes one advisory transaction lock, so writes from every
//! instance on the database are serialised as SQLite's `BEGIN IMMEDIATE` serialises them in one
//! process (every write appends to the audit chain, whose head would serialise them anyway).
//! Reads are `REPEATABLE READ READ ONLY` snapshots. A case's sealed images are one `case_blobs`
//! row written in the case's transaction; events reach the other instances by `NOTIFY`.
//!
//! The store's SQL is written once with `?N` placeholders; they are rewritten to `$N` here, and
//! each connection keeps its prepared statements.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio_postgres::Statement;

use crate::db::{Backend, Connection, ListenerNote, OptionalRow};
use crate::{Error, Result};

mod conn;
mod scratch;
mod tls;
mod tx;

use conn::Conn;

pub use scratch::{HeldWriteLock, ScratchDatabase};
use tls::Tls;
use tx::PgTx;

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
    include_str!("../../migrations/postgres/009_search_and_order_indexes.sql"),
    include_str!("../../migrations/postgres/010_case_ids.sql"),
    include_str!("../../migrations/postgres/011_tag_indexes_by_id.sql"),
    include_str!("../../migrations/postgres/012_session_changes.sql"),
];

/// Advisory lock keys (one namespace: "KYCD" in ASCII, then the lock's number).
const WRITE_LOCK: i64 = 0x4B59_4344_0000_0001;
const MIGRATE_LOCK: i64 = 0x4B59_4344_0000_0002;

/// Sets the case id sequence after the highest id given (the counter's, or a case's).
const CASE_IDS_FOLLOW: &str = "SELECT setval('case_ids', GREATEST(\
     (SELECT last FROM counters WHERE name = 'case'), (SELECT MAX(id) FROM cases), 0) + 1, false)";

/// The channel events are announced on (migration 012's triggers name it too).
const CHANNEL: &str = "kyc_desk_events";

/// How long a caller waits for a free connection before the store answers "busy".
const CHECKOUT_WAIT: Duration = Duration::from_secs(10);

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
    conn: Conn,
    statements: HashMap<String, Statement>,
    /// When it was opened ([`Pool::cut_at`]).
    opened: std::time::Instant,
}

struct Pool {
    idle: Vec<Pooled>,
    open: usize,
    /// When a connection was last found cut by the database: the idle ones opened before then
    /// are dropped rather than handed out (a restart or a failover cut them all).
    cut_at: Option<std::time::Instant>,
}

/// A PostgreSQL database as the store's backend.
pub struct PgBackend {
    config: tokio_postgres::Config,
    tls: Tls,
    max: usize,
    pool: Mutex<Pool>,
    freed: Condvar,
    /// This process's writes, one at a time (what follows a commit stays in commit order).
    writer: Mutex<()>,
    /// New cases staged now ([`Backend::write_staged`]): each holds a pooled connection while
    /// it waits for the writer, so at most half the pool stage at once and reads always find one.
    staging: Mutex<usize>,
    staged: Condvar,
}

/// A staging place ([`PgBackend::staging_place`]), given back when dropped.
struct StagingPlace<'a>(&'a PgBackend);

impl Drop for StagingPlace<'_> {
    fn drop(&mut self) {
        let mut n = self.0.staging();
        *n = n.saturating_sub(1);
        drop(n);
        self.0.staged.notify_one();
    }
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
                cut_at: None,
            }),
            freed: Condvar::new(),
            writer: Mutex::new(()),
            staging: Mutex::new(0),
            staged: Condvar::new(),
        };
        // Counted in the pool like every connection it hands out, and returned to it below.
        let mut c = backend.checkout()?;
        let fsync: String = c.conn.on(|c| c.query_one("SHOW fsync", &[]))?.get(0);
        if fsync != "on" {
            return Err(Error::Config(
                "storage: the PostgreSQL server runs with fsync off; KYC Desk acknowledges a case \
                 only once it is durable, so it refuses such a server"
                    .into(),
            ));
        }
        let standbys: String = c
            .conn
            .on(|c| c.query_one("SHOW synchronous_standby_names", &[]))?
            .get(0);
        if standbys.is_empty() {
            tracing::info!("postgres: no synchronous standby; an acknowledged case is durable on this server only");
        }
        let before = migrate(&mut c.conn)?;
        backend.checkin(c, false);
        Ok((backend, before))
    }

    fn connect(&self) -> Result<Pooled> {
        let mut conn = self.tls.connect(&self.config)?;
        // Durable commits whatever the server's default; no statement or idle transaction may
        // hold the write lock for ever.
        conn.on(|c| {
            c.batch_execute(
                "SET synchronous_commit = on; SET lock_timeout = '10s'; \
                 SET client_min_messages = warning; SET idle_in_transaction_session_timeout = '60s'",
            )
        })?;
        Ok(Pooled {
            conn,
            statements: HashMap::new(),
            opened: std::time::Instant::now(),
        })
    }

    /// The pool's bookkeeping. Nothing panics while holding it; were something to, the counts
    /// stay usable (a poisoned pool would refuse every request until a restart).
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn checkout(&self) -> Result<Pooled> {
        let mut pool = self.pool();
        let deadline = std::time::Instant::now() + CHECKOUT_WAIT;
        loop {
            if let Some(mut c) = pool.idle.pop() {
                if pool.cut_at.is_none_or(|at| c.opened > at) {
                    drop(pool);
                    // One the server ended while it was idle (a restart, a failover) is found
                    // out here, before a read's first statement goes out with its start.
                    if c.conn.still_open() {
                        return Ok(c);
                    }
                    pool = self.pool();
                    // The idle ones opened before it go too.
                    pool.cut_at = Some(std::time::Instant::now());
                }
                pool.open = pool.open.saturating_sub(1);
                continue;
            }
            if pool.open < self.max {
                pool.open += 1;
                drop(pool);
                return self.connect().inspect_err(|_| {
                    let mut p = self.pool();
                    p.open = p.open.saturating_sub(1);
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
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Returns a connection to the pool; one found cut after a failure is closed instead (and
    /// the idle ones opened before it go too): returns whether it was.
    fn checkin(&self, c: Pooled, failed: bool) -> bool {
        let mut pool = self.pool();
        let cut = failed && c.conn.is_closed();
        if cut {
            pool.open = pool.open.saturating_sub(1);
            pool.cut_at = Some(std::time::Instant::now());
        } else {
            pool.idle.push(c);
        }
        drop(pool);
        self.freed.notify_one();
        cut
    }

    /// This process's turn to write (its writes one at a time).
    fn one_writer(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))
    }

    /// Waits for one of the pool's staging places (half of it), holding no connection meanwhile.
    fn staging_place(&self) -> Result<StagingPlace<'_>> {
        let mut n = self.staging();
        while *n >= (self.max / 2).max(1) {
            n = self
                .staged
                .wait(n)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *n += 1;
        Ok(StagingPlace(self))
    }

    /// How many new cases are staged now; like the pool's count, usable after a panic elsewhere.
    fn staging(&self) -> std::sync::MutexGuard<'_, usize> {
        self.staging
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on a pooled connection. One the database ended while it was idle is found out
    /// as it is checked out; one cut since (or silently) fails at its first exchange: `f` marks
    /// `begun` once nothing it does can run again (a write: once its `BEGIN` is through; a read
    /// at once, its start going out with its first statement), and when it failed before on a
    /// connection found cut, `f` runs once more on a new one (the idle connections opened
    /// before it go too).
    fn with<T>(&self, mut f: impl FnMut(&mut Pooled, &Cell<bool>) -> Result<T>) -> Result<T> {
        let mut again = true;
        loop {
            let mut c = self.checkout()?;
            let begun = Cell::new(false);
            let out = f(&mut c, &begun);
            // What `f` asked without waiting (a read's end) goes out before the connection is
            // put back.
            c.conn.driver.flush();
            let cut = self.checkin(c, out.is_err());
            if cut && !begun.get() && std::mem::take(&mut again) {
                tracing::warn!("postgres: a pooled connection was cut; trying a new one");
                continue;
            }
            return out;
        }
    }
}

/// The serialised part of a write on `t`: the advisory lock every instance's writes take, `f`,
/// the commit.
fn under_lock(t: PgTx<'_>, f: &mut dyn FnMut(&dyn Connection) -> Result<()>) -> Result<()> {
    t.run(
        "SELECT pg_advisory_xact_lock(?1)",
        &[crate::db::Param::Int(WRITE_LOCK)],
    )?;
    f(&t)?;
    t.commit()
}

/// The driver's settings for `target`: its URL (checked) and password, a connect timeout.
pub(super) fn client_config(target: &PgTarget) -> Result<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = target.url.parse().map_err(|e| {
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
fn migrate(conn: &mut Conn) -> Result<usize> {
    conn.on(|c| c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK]))?;
    let out = (|| {
        conn.on(|c| {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations \
                 (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
        })?;
        let version: i64 = conn
            .on(|c| {
                c.query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )
            })?
            .get(0);
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(Error::Config(format!(
                "database schema version {version} is newer than this program ({}); upgrade KYC Desk",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let Conn { client, driver } = &mut *conn;
            let tx = driver.block_on(client.transaction())?;
            driver.block_on(tx.batch_execute(sql))?;
            driver.block_on(tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&((i + 1) as i64), &crate::timefmt::now_ms()],
            ))?;
            driver.block_on(tx.commit())?;
        }
        Ok(version)
    })();
    conn.on(|c| c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]))?;
    out
}

impl Backend for PgBackend {
    fn read(&self, f: &mut dyn FnMut(&dyn Connection) -> Result<()>) -> Result<()> {
        self.with(|c, begun| {
            // A read's start goes out with its first statement, after which it cannot run
            // again: a connection found cut then fails it (the pool found the cut idle ones).
            begun.set(true);
            let t = PgTx::read(&mut c.conn, &mut c.statements);
            // Dropped: its end goes out without being waited for.
            f(&t)
        })
    }

    fn read_alone(
        &self,
        sql: &str,
        params: &[crate::db::Param<'_>],
        max: usize,
        each: &mut dyn FnMut(crate::db::Row) -> Result<()>,
    ) -> Result<()> {
        // Outside a transaction block: one statement, its own snapshot, one exchange. Nothing is
        // handed on before it is through: it may always run again on a new connection.
        let rows = self.with(|c, _| {
            let st = tx::prepared(&mut c.statements, &mut c.conn, sql)?;
            tx::first_rows(&mut c.conn, &st, params, max)
        })?;
        tx::hand_over(&rows, each)
    }

    fn write(
        &self,
        f: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        committed: &mut dyn FnMut(),
    ) -> Result<()> {
        let _one = self.one_writer()?;
        self.with(|c, begun| {
            let t = PgTx::write(&mut c.conn, &mut c.statements)?;
            begun.set(true);
            under_lock(t, &mut *f)
        })?;
        committed();
        Ok(())
    }

    fn write_staged(
        &self,
        stage: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        f: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        committed: &mut dyn FnMut(),
    ) -> Result<()> {
        let place = self.staging_place()?;
        let _one = self.with(|c, begun| {
            let t = PgTx::write(&mut c.conn, &mut c.statements)?;
            begun.set(true);
            stage(&t)?;
            // Then as any write.
            let one = self.one_writer()?;
            under_lock(t, f)?;
            Ok(one)
        })?;
        drop(place);
        committed();
        Ok(())
    }

    fn read_blob(
        &self,
        c: Option<&dyn Connection>,
        case_id: i64,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let c = c.ok_or_else(|| {
            Error::Internal("a blob in the database is read on a transaction".into())
        })?;
        let (from, len) = (
            i64::try_from(offset + 1).map_err(|_| Error::Internal("blob offset".into()))?,
            i64::try_from(len).map_err(|_| Error::Internal("blob length".into()))?,
        );
        // On the read's own transaction, prepared once per connection like any statement.
        let bytes: Vec<u8> = c
            .query_row(
                "SELECT substring(sealed FROM ?2 FOR ?3) FROM case_blobs WHERE case_id = ?1",
                crate::params![case_id, from, len],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::NotFound(case_id.to_string()))?;
        if bytes.len() as i64 != len {
            return Err(Error::Internal(format!(
                "case {case_id}'s images are shorter than their rows say"
            )));
        }
        Ok(bytes)
    }

    fn blob_in_row(&self) -> Option<(&'static str, &'static str)> {
        Some((
            "LEFT JOIN case_blobs b ON b.case_id = i.case_id",
            "substring(b.sealed FROM (i.file_offset + 1)::int FOR i.file_len::int)",
        ))
    }

    fn after_erase(&self) -> Result<Option<Vec<&'static str>>> {
        // Deleted rows stay in heap pages until vacuumed and in the WAL until it is recycled;
        // the README says what the WAL, replicas, archives and backups keep.
        self.with(|c, _| {
            // The wrapped case keys: once a key's bytes are gone the rest of the case is noise.
            // The table is small (one short row per case), so rewriting it is quick.
            c.conn.on(|c| c.batch_execute("VACUUM FULL case_keys"))?;
            let mut done = vec!["case_keys_rewritten"];
            // Close the WAL segment holding the deleted rows, so that it is archived and
            // recycled on the server's schedule rather than whenever it fills. Superusers only,
            // unless the operator grants it (the README says how); without it, said once.
            match c.conn.on(|c| c.batch_execute("SELECT pg_switch_wal()")) {
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

    fn sends_together(&self) -> bool {
        true
    }

    fn id_among(&self, column: &str, ids: &str) -> String {
        format!("{column} = ANY(ARRAY({ids}))")
    }

    fn in_code_point_order(&self, column: &str) -> String {
        // Served by the `COLLATE "C"` indexes of schema 9.
        format!("({column} COLLATE \"C\")")
    }

    fn try_job_lock(&self, job: &str) -> Result<Option<Box<dyn std::any::Any + Send>>> {
        // A connection of its own: the session lock lives as long as it does (a crashed
        // instance's lock goes with its connection).
        let mut c = self.connect()?;
        let job: [&(dyn postgres::types::ToSql + Sync); 1] = [&job];
        let got: bool = c
            .conn
            .on(|c| c.query_one("SELECT pg_try_advisory_lock(hashtext($1))", &job))?
            .get(0);
        Ok(got.then(|| Box::new(c.conn) as Box<dyn std::any::Any + Send>))
    }

    fn ids_follow_rows(&self, c: &dyn Connection) -> Result<()> {
        c.query_row(CASE_IDS_FOLLOW, crate::params![], |_| Ok(()))?;
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

    fn announce(&self, payloads: &[String]) -> Result<()> {
        // Prepared once per connection; the notices in their order, one exchange for them all.
        self.with(|c, _| {
            let st = tx::prepared(
                &mut c.statements,
                &mut c.conn,
                "SELECT pg_notify($1, n) FROM unnest($2::text[]) WITH ORDINALITY AS t (n, i) ORDER BY i",
            )?;
            let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&CHANNEL, &payloads];
            c.conn.on(|c| c.execute(&st, &params))?;
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

/// Listens for the instances' events for as long as the process runs, reconnecting after a
/// lost connection; it says when it listens and when it lost its connection: what was announced
/// meanwhile is missed (the held requests' re-check covers their cases; a live view reloads; the
/// sessions kept are forgotten). `ready` is told when the first attempt is over (listening or
/// not).
fn listen_loop(
    config: &tokio_postgres::Config,
    tls: &Tls,
    each: &dyn Fn(ListenerNote<'_>),
    ready: std::sync::mpsc::SyncSender<()>,
) {
    let mut wait = Duration::from_millis(200);
    let mut lost = false;
    loop {
        let listening = tls.connect_blocking(config).map(|mut client| {
            let listened = client.batch_execute(&format!("LISTEN {CHANNEL}"));
            if listened.is_ok() {
                // Said before `listen` returns: what it starts then (sessions kept) is on.
                each(ListenerNote::Listening);
            }
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
                    }
                    let mut notes = client.notifications();
                    let mut it = notes.blocking_iter();
                    loop {
                        match postgres::fallible_iterator::FallibleIterator::next(&mut it) {
                            Ok(Some(n)) => each(ListenerNote::Notice(n.payload())),
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "postgres: the event listener lost its connection");
                                break;
                            }
                        }
                    }
                    each(ListenerNote::Lost);
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

    /// The triggers that announce changes to accounts and sessions do it on the events' channel,
    /// with the kind the store listens for.
    #[test]
    fn the_session_triggers_announce_on_the_events_channel() {
        let sql = MIGRATIONS[11];
        let notify = format!(
            "pg_notify('{CHANNEL}', '{{\"kind\":\"{}\"}}')",
            crate::SESSIONS_CHANGED
        );
        assert_eq!(sql.matches(&notify).count(), 2, "{notify}");
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
