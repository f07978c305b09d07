//! The SQLite backend: one writer connection (WAL, `synchronous=FULL`, `secure_delete`) and a
//! small pool of read-only connections, each write a `BEGIN IMMEDIATE` transaction. What only
//! SQLite has (the schema's migrations, the legacy sealing, the image-file sweep, the online
//! backup) reaches the connections through [`SqliteBackend::writer`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{OpenFlags, TransactionBehavior};

use std::cell::RefCell;

use crate::db::{Backend, Connection, Param, Row, Value};
use crate::imagefiles::ImageFiles;
use crate::{Error, Result};

/// Read-only connections kept for reuse.
const READER_POOL: usize = 4;

/// How long an erasure waits for readers before it answers "pending".
const ERASURE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// One attempt at an erasure's WAL truncation waits this long for readers and the checkpointer,
/// holding the writer; between two, receiving has the writer for as long.
const TRUNCATE_TRY: std::time::Duration = std::time::Duration::from_millis(20);

/// Embedded migrations, applied in order; `PRAGMA user_version` records how many ran.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_initial.sql"),
    include_str!("../migrations/002_policy_links_deliveries.sql"),
    include_str!("../migrations/003_audit.sql"),
    include_str!("../migrations/004_four_eyes.sql"),
    include_str!("../migrations/005_encryption_at_rest.sql"),
    include_str!("../migrations/006_assignment.sql"),
    include_str!("../migrations/007_image_files.sql"),
    include_str!("../migrations/008_case_flags.sql"),
    include_str!("../migrations/009_mapped_model.sql"),
    include_str!("../migrations/010_account_lifecycle.sql"),
    include_str!("../migrations/011_case_counter.sql"),
    include_str!("../migrations/012_pending_erasures.sql"),
    include_str!("../migrations/013_keyed_audit.sql"),
    include_str!("../migrations/014_image_hashes.sql"),
    include_str!("../migrations/015_notes.sql"),
    include_str!("../migrations/016_hold_until.sql"),
    include_str!("../migrations/017_sign_in_failures.sql"),
    include_str!("../migrations/018_file_removals.sql"),
    include_str!("../migrations/019_hash_method.sql"),
    include_str!("../migrations/020_range_indexes.sql"),
    include_str!("../migrations/021_plaintext_index.sql"),
    include_str!("../migrations/022_decided_on_case.sql"),
];

/// The schema version from which erased cases' files are listed in `file_removals`: an open of an
/// older store sweeps the whole image folder once.
pub(crate) const FILE_REMOVALS_VERSION: usize = 18;

/// Whether commits wait for the disk. Every store the desk serves from is [`Durability::Synced`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// A commit returns once it is on disk: the database's WAL and the image files it points to
    /// are synced (`synchronous=FULL`), and so are checkpoints.
    Synced,
    /// Nothing is synced (`synchronous=OFF`, image files left to the OS): a crash of the process
    /// loses nothing, a power cut may lose or damage what was written. Only for loading a
    /// benchmark's or a test's cases, never for a store that receives submissions.
    Unsynced,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Synced => "FULL",
            Durability::Unsynced => "OFF",
        }
    }
}

/// Opens (creating if needed) the database file, owner-only, in WAL mode, and applies pending
/// migrations; returns the writer connection and the schema version it had before.
pub(crate) fn open_and_migrate(
    path: &Path,
    durability: Durability,
) -> Result<(rusqlite::Connection, usize)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsutil::private_dir(dir)?;
    }
    // Owner-only before SQLite first writes to it; its -wal and -shm files take the
    // database file's permissions. Stores made before this are tightened here too.
    crate::fsutil::private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        crate::fsutil::restrict_file(Path::new(&p))?;
    }
    let images = ImageFiles::beside(path);
    if images.dir().exists() {
        crate::fsutil::private_dir(images.dir())?;
    }
    let mut conn = rusqlite::Connection::open(path)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!("journal_mode is {mode}, not WAL")));
    }
    configure(&conn, durability)?;
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(Error::Internal(format!(
            "database schema version {version} is newer than this program ({}); upgrade KYC Desk",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    if version < MIGRATIONS.len() {
        // A migration may rewrite every case (v22 rewrote each decided one: a WAL as large as
        // the database); copied back and truncated now, not left on disk.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok((conn, version))
}

/// Settings every connection takes.
pub(crate) fn configure(
    conn: &rusqlite::Connection,
    durability: Durability,
) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", durability.pragma())?;
    // Deleted rows (erasure) are overwritten, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

/// A configured read-only connection to the database at `path` (the readers' pool, the load at
/// open).
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A reader writes nothing to sync.
    configure(&c, Durability::Synced)?;
    Ok(c)
}

/// A configured read-write connection beside the writer, for checkpoints only.
fn open_checkpointing(
    path: &Path,
    durability: Durability,
) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    configure(&c, durability)?;
    Ok(c)
}

/// A SQLite database file as the store's backend.
pub struct SqliteBackend {
    path: PathBuf,
    files: ImageFiles,
    writer: Mutex<rusqlite::Connection>,
    readers: Mutex<Vec<rusqlite::Connection>>,
    /// Erased cases whose files are gone: their `file_removals` rows go with the next write.
    removed: Mutex<Vec<i64>>,
    checkpointer: Checkpointer,
    durability: Durability,
}

/// Copies the WAL into the database from a connection and thread of its own (PASSIVE: writers
/// and readers go on meanwhile), after commits, at most every [`CHECKPOINT_EVERY`], and once at
/// start for a WAL the last run left. It stops when the backend is dropped.
struct Checkpointer {
    commits: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The least time between two checkpoints.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl Checkpointer {
    /// None: the writer checkpoints itself, at its commits.
    fn none() -> Checkpointer {
        Checkpointer {
            commits: None,
            thread: None,
        }
    }

    fn start(path: &Path) -> Checkpointer {
        let (commits, committed) = std::sync::mpsc::sync_channel::<()>(1);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("kyc-store checkpointer".into())
            .spawn(move || {
                let conn = match open_checkpointing(&path, Durability::Synced) {
                    Ok(c) => c,
                    Err(e) => {
                        return tracing::error!(error = %e, "the checkpointer cannot open the database")
                    }
                };
                // The WAL of the last run first, then after commits until the backend goes.
                loop {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "checkpoint");
                    }
                    if committed.recv().is_err() {
                        return;
                    }
                    // The commits of the next moment go with this one.
                    let until = std::time::Instant::now() + CHECKPOINT_EVERY;
                    loop {
                        let left = until.saturating_duration_since(std::time::Instant::now());
                        match committed.recv_timeout(left) {
                            Ok(()) => {}
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                }
            });
        match thread {
            Ok(thread) => Checkpointer {
                commits: Some(commits),
                thread: Some(thread),
            },
            Err(e) => {
                tracing::error!(error = %e, "no checkpointer thread");
                Checkpointer::none()
            }
        }
    }

    fn running(&self) -> bool {
        self.commits.is_some()
    }

    /// A commit happened on `writer`: a checkpoint is due (one already due covers it). Should the
    /// checkpointer have stopped, the writer checkpoints itself again.
    fn committed(&self, writer: &rusqlite::Connection) {
        if let Some(commits) = &self.commits {
            if let Err(std::sync::mpsc::TrySendError::Disconnected(())) = commits.try_send(()) {
                let _ = writer.pragma_update(None, "wal_autocheckpoint", 1000);
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.commits.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A write transaction: the connection's, and the blobs it wrote or removes.
struct WriteTx<'t> {
    tx: &'t rusqlite::Connection,
    files: &'t ImageFiles,
    written: RefCell<Vec<i64>>,
    dropped: RefCell<Vec<i64>>,
}

impl Connection for WriteTx<'_> {
    fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<usize> {
        self.tx.run(sql, params)
    }
    fn rows(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()> {
        self.tx.rows(sql, params, each)
    }
    fn count_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: std::time::Duration,
    ) -> Result<Option<i64>> {
        self.tx.count_within(sql, params, budget)
    }
    fn put_blob(&self, case_id: i64, sealed: &[u8]) -> Result<()> {
        self.written.borrow_mut().push(case_id);
        // Synced, with every other file of the transaction, before it commits.
        self.files.write_unsynced(case_id, sealed)?;
        Ok(())
    }
    fn drop_blob(&self, case_id: i64) -> Result<()> {
        // Durable with the erasure: a removal that a crash interrupts is done at the next open.
        self.tx.execute(
            "INSERT INTO file_removals (case_id) VALUES (?1) ON CONFLICT DO NOTHING",
            [case_id],
        )?;
        self.dropped.borrow_mut().push(case_id);
        Ok(())
    }
}

/// The writer's page cache, as SQLite takes it (negative: KiB): 32 MiB.
const WRITER_CACHE_KIB: i64 = -32 * 1024;

/// Statements each connection keeps prepared (rusqlite's default, 16, is fewer than one case's
/// insert uses, so they were parsed again for every case).
const STATEMENT_CACHE: usize = 128;

impl SqliteBackend {
    /// Over an open writer connection to the file at `path`, configured for `durability`.
    pub(crate) fn new(
        path: &Path,
        writer: rusqlite::Connection,
        durability: Durability,
    ) -> SqliteBackend {
        // Checkpoints are the checkpointer's (below), not the commits': a commit that crosses
        // the automatic threshold would otherwise copy the WAL into the database while a
        // submission waits for its answer. An unsynced load checkpoints at its commits: its
        // commits come one after another, and a checkpointer that never catches up with them
        // never lets the WAL start again (4 GB after 150,000 seeded cases).
        let checkpointer = match durability {
            Durability::Synced => Checkpointer::start(path),
            Durability::Unsynced => Checkpointer::none(),
        };
        // The indexes' upper pages stay in the writer's own cache instead of being read from
        // the OS for each insert (SQLite's default is 2 MiB).
        if let Err(e) = writer.pragma_update(None, "cache_size", WRITER_CACHE_KIB) {
            tracing::warn!(error = %e, "the writer keeps SQLite's default page cache");
        }
        if checkpointer.running() {
            if let Err(e) = writer.pragma_update(None, "wal_autocheckpoint", 0) {
                tracing::warn!(error = %e, "the writer checkpoints itself");
            }
        }
        SqliteBackend {
            path: path.to_path_buf(),
            files: ImageFiles::beside(path),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            removed: Mutex::new(Vec::new()),
            checkpointer,
            durability,
        }
    }

    /// The writer connection itself, locked.
    fn writer(&self) -> Result<MutexGuard<'_, rusqlite::Connection>> {
        self.writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))
    }
}

impl Backend for SqliteBackend {
    fn read(&self, f: &mut dyn FnMut(&dyn Connection) -> Result<()>) -> Result<()> {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        // One snapshot for everything `f` reads.
        let out = (|| {
            let tx = conn.unchecked_transaction()?;
            f(&*tx)
        })();
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READER_POOL {
                pool.push(conn);
            }
        }
        out
    }

    fn write(
        &self,
        f: &mut dyn FnMut(&dyn Connection) -> Result<()>,
        committed: &mut dyn FnMut(),
    ) -> Result<()> {
        let mut conn = self.writer()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The rows of files already removed ride along (no commit of their own); if this
        // transaction rolls back they stay, and an open finds their files gone.
        let removed = std::mem::take(
            &mut *self
                .removed
                .lock()
                .map_err(|_| Error::Internal("removal list lock poisoned".into()))?,
        );
        for id in &removed {
            tx.execute("DELETE FROM file_removals WHERE case_id = ?1", [id])?;
        }
        let w = WriteTx {
            tx: &tx,
            files: &self.files,
            written: RefCell::new(Vec::new()),
            dropped: RefCell::new(Vec::new()),
        };
        let done = f(&w);
        let (written, dropped) = (w.written.into_inner(), w.dropped.into_inner());
        // Durable before the rows that point into them commit.
        let done = done.and_then(|()| match self.durability {
            Durability::Synced => Ok(self.files.sync(&written)?),
            Durability::Unsynced => Ok(()),
        });
        // The files of cases that will not be: none of their rows is committed.
        let discard = || {
            for id in &written {
                let _ = self.files.remove(*id);
            }
        };
        let outcome = match done {
            Ok(()) => tx.commit().map_err(|e| {
                // A failed COMMIT has rolled back already (an I/O error, a full disk): the files
                // go now, in the short window before another process could reuse the numbers.
                discard();
                Error::from(e)
            }),
            Err(e) => {
                // Removed before the rollback lets go of the database's lock: no other process
                // can have taken these case numbers and written its own files under them yet.
                discard();
                drop(tx);
                Err(e)
            }
        };
        if let Err(e) = outcome {
            // Their rows' deletion rolled back with the rest: the next write tries again.
            if let Ok(mut pending) = self.removed.lock() {
                pending.extend(removed);
            }
            return Err(e);
        }
        // The keys are gone, so the files are unreadable; one not removed now goes at the next
        // open.
        let gone = self.files.remove_all_durably(&dropped);
        if let Ok(mut removed) = self.removed.lock() {
            removed.extend(gone);
        }
        self.checkpointer.committed(&conn);
        committed();
        Ok(())
    }

    fn read_blob(
        &self,
        _: Option<&dyn Connection>,
        case_id: i64,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        Ok(self.files.read(case_id, offset, len)?)
    }

    fn after_erase(&self) -> Result<Option<Vec<&'static str>>> {
        // Most of the WAL is copied into the database first by a connection of its own, while
        // writers go on (PASSIVE); the truncation below, which holds the writer, then has only
        // what was committed meanwhile to copy.
        {
            open_checkpointing(&self.path, self.durability)?.query_row(
                "PRAGMA wal_checkpoint(PASSIVE)",
                [],
                |_| Ok(()),
            )?;
        }
        // Copies of erased pages in the WAL are overwritten when it is truncated; a reader
        // still on an older snapshot (or the checkpointer mid-checkpoint) holds it back
        // (busy = 1). The truncation blocks every writer while it waits, so it waits in short
        // attempts, the writer left to receiving between them, for `ERASURE_WAIT` in all.
        let deadline = std::time::Instant::now() + ERASURE_WAIT;
        loop {
            let busy = {
                let conn = self.writer()?;
                conn.busy_timeout(TRUNCATE_TRY)?;
                let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                });
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                busy?
            };
            if busy == 0 {
                return Ok(Some(vec!["wal_truncated"]));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(TRUNCATE_TRY);
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Storage(e.to_string())
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(i)),
            Param::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(b))),
            Param::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(f)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

#[inline]
fn value(v: ValueRef<'_>) -> Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| Error::Internal(format!("stored text: {e}")))?
                .to_string(),
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

impl Connection for rusqlite::Connection {
    fn count_within(
        &self,
        sql: &str,
        params: &[Param<'_>],
        budget: std::time::Duration,
    ) -> Result<Option<i64>> {
        let deadline = std::time::Instant::now() + budget;
        self.progress_handler(1000, Some(move || std::time::Instant::now() > deadline));
        let counted = self.query_row(sql, rusqlite::params_from_iter(params.iter()), |r| r.get(0));
        self.progress_handler(1000, None::<fn() -> bool>);
        match counted {
            Ok(n) => Ok(Some(n)),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<usize> {
        let mut stmt = self.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))?)
    }

    fn rows(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(Row) -> Result<bool>,
    ) -> Result<()> {
        let mut stmt = self.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            // A plain loop: this is every read's inner loop (a year's statistics: 90,000 rows).
            let mut row = Vec::with_capacity(columns);
            for i in 0..columns {
                row.push(value(r.get_ref(i)?)?);
            }
            if !each(Row(row))? {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kyc_crypto::master::MasterKey;

    /// Rows inserted with one statement ([`crate::db::tests::rows_go_in_with_one_statement_on`]).
    #[test]
    fn rows_go_in_with_one_statement() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::Store::open(&dir.path().join(crate::DB_FILE), MasterKey::Key([4; 32])).unwrap();
        let check = &mut crate::db::tests::rows_go_in_with_one_statement_on;
        store.db.write(check, &mut || {}).unwrap();
    }

    /// Commits reach the database file while the store stays open, copied there by the
    /// checkpointer: the writer no longer checkpoints at commit (and would not have, for a few
    /// cases, below its automatic threshold of 1,000 pages).
    #[test]
    fn the_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE);
        let open = || crate::Store::open(&path, MasterKey::Key([4; 32])).unwrap();
        // Made and closed (closing copies the WAL in): reopened, nothing is left to copy.
        drop(open());
        let store = open();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        for i in 0..20 {
            let sim = kyc_sim::generate_with(
                kyc_sim::Scenario::Clean,
                i,
                5,
                &today,
                kyc_sim::Pictures::Placeholders,
            );
            let sub = crate::testing::submission(&sim.payload.to_string());
            store
                .insert_case(&sub, &[], crate::timefmt::now_ms())
                .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while size() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the committed cases never reached the database file ({before} bytes)"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // The checkpointer stops with the store.
        drop(store);
    }

    /// A migration's writes (v22 rewrites every decided case) do not stay behind in a WAL as
    /// large as the database: it is copied in and truncated before the store opens.
    #[test]
    fn the_wal_a_migration_wrote_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        for sql in &super::MIGRATIONS[..21] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 21).unwrap();
        let (conn, version) = super::open_and_migrate(&path, super::Durability::Synced).unwrap();
        assert_eq!(version, 21);
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        drop(conn);
    }

    /// An erasure whose WAL truncation waits on a reader's older snapshot does not keep the
    /// writer while it waits: a case received meanwhile is stored before the erasure gives up.
    #[test]
    fn receiving_goes_on_while_an_erasure_waits_for_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE);
        let store =
            std::sync::Arc::new(crate::Store::open(&path, MasterKey::Key([5; 32])).unwrap());
        let first = new_case(&store, 1);
        // A reader on the snapshot before the erasure, until the end of the test.
        let reader = rusqlite::Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let n: i64 = reader
            .query_row("SELECT count(*) FROM cases", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let erasing = {
            let store = store.clone();
            std::thread::spawn(move || {
                let (_, complete) = store.erase(first, "ada", "test").unwrap();
                (complete, std::time::Instant::now())
            })
        };
        // The erasure's rows commit at once; its truncation then waits on the reader.
        while !store.erasures_pending().unwrap() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        new_case(&store, 2);
        let received = std::time::Instant::now();
        let (complete, gave_up) = erasing.join().unwrap();
        assert!(!complete, "the reader held the erased pages in the WAL");
        assert!(
            received < gave_up,
            "the case was stored only after the erasure gave up waiting"
        );
        drop(reader);
        assert!(store.finish_erasures().unwrap(), "completed once it let go");
    }

    /// A clean simulated case with placeholder pictures, stored; its id.
    fn new_case(store: &crate::Store, i: u64) -> i64 {
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let sim = kyc_sim::generate_with(
            kyc_sim::Scenario::Clean,
            i,
            5,
            &today,
            kyc_sim::Pictures::Placeholders,
        );
        let sub = crate::testing::submission(&sim.payload.to_string());
        match store.insert_case(&sub, &[], crate::timefmt::now_ms()) {
            Ok(crate::Inserted::New(c)) => c.id,
            other => panic!("a new case expected: {:?}", other.map(|_| ())),
        }
    }

    /// A setting of the store's writer connection.
    fn writer_pragma(store: &crate::Store, name: &str) -> i64 {
        crate::db::write(
            store.db.as_ref(),
            |c| c.query_row(&format!("PRAGMA {name}"), crate::params![], |r| r.get(0)),
            |_| {},
        )
        .unwrap()
    }

    /// A store loaded unsynced (the benchmark's seeding) syncs nothing and checkpoints at its
    /// commits; opened again as the desk opens it, it is synced and whole, and its checkpoints
    /// are the checkpointer's.
    #[test]
    fn an_unsynced_load_opens_again_synced_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE);
        let loading = crate::Store::open_unsynced(&path, MasterKey::Key([6; 32])).unwrap();
        assert_eq!(writer_pragma(&loading, "synchronous"), 0, "OFF");
        assert_eq!(writer_pragma(&loading, "wal_autocheckpoint"), 1000);
        let ids: Vec<i64> = (1..=3).map(|i| new_case(&loading, i)).collect();
        drop(loading);
        let store = crate::Store::open(&path, MasterKey::Key([6; 32])).unwrap();
        assert_eq!(
            writer_pragma(&store, "synchronous"),
            2,
            "a store opened to serve syncs its commits (FULL)"
        );
        assert_eq!(writer_pragma(&store, "wal_autocheckpoint"), 0);
        assert_eq!(store.count().unwrap(), 3);
        for id in ids {
            assert!(
                store.image(id, "selfie").is_ok(),
                "case {id}'s images are there"
            );
        }
        assert!(matches!(
            store.verify_audit().unwrap(),
            crate::chain::Verdict::Intact { .. }
        ));
    }
}
