//! KYC Desk's storage, the only crate that runs SQL: SQLite in WAL with `synchronous=FULL`,
//! embedded migrations, one writer connection and a small pool of readers. Every personal value
//! is sealed (kyc-crypto's vault) before it is written, and a rule that guards a write (one case
//! per requester id, four-eyes, assignment, settle-once) runs inside the write's transaction. A
//! case's rows are written in one transaction after its sealed images are durable in their file
//! ([`imagefiles`]), so a crash leaves either the whole case or nothing visible.
//!
//! This file opens the store and seals and opens its rows; the rest is split by concern: cases,
//! images, decisions, the webhook outbox, erasure, the audit trail (and its chain maths), accounts,
//! notes, backups, checkpoints, and what opening checks (migrate).

#![deny(missing_docs)]

use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use crate::imagefiles::ImageFiles;
use crate::phash::{Hashed, Indexes};
use crate::timefmt::rfc3339;
use kyc_crypto::master::MasterKey;
use kyc_crypto::vault::{CaseKey, SealField, Sealed, Vault};
use kyc_domain::case::{
    contradicts, Answer, CasePage, CaseQuery, CaseSummary, DecisionRecord, DeliveryInfo,
    DueDelivery, ImageInfo, Inserted, NewDecision, HELD_MAX,
};
use kyc_domain::flag::Flag;
use kyc_domain::submission::Submission;

pub mod accounts;
pub mod audit;
pub mod backup;
mod cases;
pub use cases::{ArrivalPolicy, OnArrival};
pub mod chain;
pub mod checkpoint;
pub mod clock;
pub mod copy;
pub mod db;
mod decisions;
mod erase;
pub use erase::ERASE_BATCH;
mod error;
pub mod fsutil;
mod history;
pub mod imagefiles;
mod images;
pub mod import;
mod list;
mod migrate;
pub mod notes;
mod outbox;
pub mod pg;
pub mod phash;
pub mod rehash;
pub mod reports;
mod sessions;
mod snapshot;
pub use list::LaterCount;
pub use snapshot::{CaseParts, Snapshot};
pub mod sqlite;
#[cfg(test)]
mod testing;
pub mod timefmt;

pub(crate) use cases::case_status;
use cases::*;
use db::{Backend, Connection, OptionalRow, Row};
pub use error::{Error, Result};
use history::*;
use images::*;
use migrate::*;
use sqlite::{Durability, SqliteBackend};

/// Up to this many cases with a flag, the flag filter starts from those cases (see `list`).
/// Unit tests use 2, so both query plans run on a handful of cases.
const RARE_FLAG_CASES: i64 = if cfg!(test) { 2 } else { 2000 };
/// How long a flag's commonness is trusted once read (a plan hint: a flag seldom crosses
/// [`RARE_FLAG_CASES`], and a stale hint only picks the slower of two plans for a while).
const FLAG_HINT_MS: i64 = 60_000;
/// A searched word on at most this many cases is looked up first (SQLite; PostgreSQL always
/// starts from the indexes); a commoner one is tested on each case as the queue is walked.
const RARE_WORD_CASES: i64 = 1000;
/// A searched word on at most this many cases makes the search's ids few whatever the filters:
/// its statement may be planned once for all values (`list.rs`). Unit tests use 2.
const FEW_IDS: i64 = if cfg!(test) { 2 } else { 100 };

/// The database file inside the data dir.
pub const DB_FILE: &str = "kyc-desk.sqlite3";

/// The store: every read and write of cases, decisions, deliveries, the audit trail, accounts
/// and notes, sealed on the way in and opened on the way out, over its [`db::Backend`].
pub struct Store {
    /// The engine under it: [`sqlite::SqliteBackend`] or [`pg::PgBackend`].
    db: Box<dyn Backend>,
    /// The SQLite database file (backups and the image folder are found from it); none on
    /// PostgreSQL.
    path: Option<std::path::PathBuf>,
    /// This process among the instances on one database: its own announcements are not news.
    instance: String,
    /// The time rows are stamped with.
    clock: std::sync::Arc<dyn clock::Clock>,
    vault: Vault,
    /// The selfies' and document portraits' perceptual hashes (memory only; changed under the
    /// writer lock).
    hashes: Mutex<Indexes>,
    /// Whether each flag filtered by lately is on many cases, and when that was read: the flag
    /// filter's plan hint ([`Snapshot::flag_is_common`]; it changes no result, only how fast
    /// one comes).
    flag_hints: Mutex<std::collections::HashMap<String, (bool, i64)>>,
    /// The sessions checked lately, kept only while this instance's listener hears every change
    /// to accounts and sessions (a shared database's; [`Store::listen`]).
    sessions: std::sync::Arc<sessions::SessionCache>,
}

/// The most cases a list counts ("1,000+" beyond: a reviewer needs the count of a narrowed list).
pub const TOTAL_CAP: u32 = 1_000;
/// How long a list may spend counting its matches: a count must not make the queue slow (past
/// it, the page says "many").
pub const COUNT_BUDGET: std::time::Duration = std::time::Duration::from_millis(10);

/// A case's summary as a row ([`summary_from_row`] reads it). Its key is a lookup of its own, not
/// a join: PostgreSQL plans most of the queue's statements anew for their values each time they
/// run, and a join of the key table cost that planning about 0.07 ms more.
const SUMMARY_COLS: &str = "cases.id, reference, requester_id, answer_user, status, received_at, \
     (SELECT wrapped FROM case_keys WHERE case_keys.case_id = cases.id), \
     pii, document_type, answer_result, answer_at, answer_by, assignee, \
     (SELECT by_user FROM decisions WHERE decisions.case_id = cases.id AND final = 0 \
      AND decision = 'approve' ORDER BY decisions.id DESC LIMIT 1), \
     CASE WHEN answer_result IS NULL THEN hold_until END";

/// A job's lock ([`Store::try_job_lock`]): held until dropped.
pub struct JobLock {
    _held: Box<dyn std::any::Any + Send>,
}

/// The sealed part of a case's summary (under the case key, field `pii`).
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct Pii {
    /// Ditto ID's user id (an e-mail address or phone number, often).
    #[serde(default)]
    user_id: String,
    holder_name: Option<String>,
    document_number: Option<String>,
    flags: Vec<Flag>,
}

fn summary_from_row(vault: &Vault) -> impl Fn(&Row) -> Result<CaseSummary> + '_ {
    move |row| Ok(summary_and_key(vault, row)?.0)
}

/// A summary row ([`SUMMARY_COLS`]) as the case's summary, with its case key (None once erased).
fn summary_and_key(vault: &Vault, row: &Row) -> Result<(CaseSummary, Option<CaseKey>)> {
    let id: i64 = row.get(0)?;
    let reference: String = row.get(1)?;
    let wrapped: Option<Vec<u8>> = row.get(6)?;
    let sealed: Option<Vec<u8>> = row.get(7)?;
    let key = match wrapped {
        Some(w) => Some(vault.unwrap_case_key(id, &w)?),
        None => None,
    };
    let pii: Pii = match (&key, sealed) {
        (Some(key), Some(p)) => open_json(key, SealField::Pii, &p)?,
        _ => Pii::default(),
    };
    let answer_user: Option<Vec<u8>> = row.get(3)?;
    let answer_user = match (&key, answer_user) {
        (Some(key), Some(a)) => open_text(key, SealField::AnswerUser, &a)?,
        _ => String::new(),
    };
    let answer = match row.get::<Option<bool>>(9)? {
        Some(result) => Some(Answer {
            result,
            at: rfc3339(row.get(10)?),
            by: row.get(11)?,
            user_id: answer_user,
            reference: reference.clone(),
            sent_user_id: pii.user_id.clone(),
        }),
        None => None,
    };
    let status: String = row.get(4)?;
    let summary = CaseSummary {
        id,
        reference,
        requester_id: row.get(2)?,
        user_id: pii.user_id,
        conflict: contradicts(&status, answer.as_ref()),
        status,
        received_at: rfc3339(row.get(5)?),
        holder_name: pii.holder_name,
        document_number: pii.document_number,
        document_type: row.get(8)?,
        flags: pii.flags,
        answer,
        assignee: row.get(12)?,
        first_approval_by: row.get(13)?,
        hold_until: None,
        hold_until_ms: row.get(14)?,
    };
    Ok((summary, key))
}

/// The kind of the announcement the database makes when accounts or sessions change (schema 12
/// of PostgreSQL: a trigger on `users` and `sessions`), whoever changed them.
pub(crate) const SESSIONS_CHANGED: &str = "sessions.changed";

/// What [`Store::listen`] hears from the other instances on a shared database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard<'a> {
    /// An announcement: an event's kind, its case's id and reference.
    Announced {
        /// The event's kind (`case.decided`, …).
        kind: &'a str,
        /// Its case's id.
        case: i64,
        /// Its case's reference.
        reference: &'a str,
    },
    /// The listener is back after a lost connection: announcements made meanwhile were missed.
    Resumed,
}

/// The schema version from which audit links are keyed (migration 013).
const KEYED_AUDIT_VERSION: usize = 13;

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path, master: MasterKey) -> Result<Store, Error> {
        Store::open_sqlite(path, master, Durability::Synced)
    }

    /// [`Store::open`] with nothing synced: for loading many cases into a benchmark's or a
    /// test's store, which is then opened again with [`Store::open`] to be used. A power cut
    /// while it is open may lose or damage what it wrote. Never for a store that receives.
    pub fn open_unsynced(path: &Path, master: MasterKey) -> Result<Store, Error> {
        Store::open_sqlite(path, master, Durability::Unsynced)
    }

    fn open_sqlite(path: &Path, master: MasterKey, durability: Durability) -> Result<Store, Error> {
        let (mut conn, version) = sqlite::open_and_migrate(path, durability)?;
        let vault = unlock(&conn, master)?;
        if version < KEYED_AUDIT_VERSION {
            // Applied just now: the keyed links begin after the last entry written so far.
            crate::audit::mark_keyed_from(&conn, &vault)?;
        }
        seal_plaintext_rows(&mut conn, &vault)?;
        let files = ImageFiles::beside(path);
        sweep_image_files(&mut conn, &files, version < sqlite::FILE_REMOVALS_VERSION)?;
        let hashes = migrate::load_hashes_in_parallel(path, &vault)?;
        Ok(Store::over(
            Box::new(SqliteBackend::new(path, conn, durability)),
            Some(path.to_path_buf()),
            vault,
            hashes,
        ))
    }

    /// Opens a PostgreSQL database (creating the schema if it has none, under an advisory lock)
    /// and checks the master key against it. Several instances may open the same one.
    pub fn open_postgres(target: &pg::PgTarget, master: MasterKey) -> Result<Store, Error> {
        let (backend, version) = pg::PgBackend::open(target)?;
        let vault = db::write(&backend, |c| unlock(c, master), |_| {})?;
        if version == 0 {
            // Created just now: every entry of its trail is keyed. Only then: a marker that
            // went missing later is a broken chain, not something to write again.
            db::write(&backend, |c| audit::mark_keyed_from(c, &vault), |_| {})?;
        }
        let hashes = db::read(&backend, |c| load_hashes(c, &vault))?;
        Ok(Store::over(Box::new(backend), None, vault, hashes))
    }

    fn over(
        db: Box<dyn Backend>,
        path: Option<std::path::PathBuf>,
        vault: Vault,
        hashes: Indexes,
    ) -> Store {
        let mut instance = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut instance);
        Store {
            db,
            path,
            instance: hex::encode(instance),
            clock: std::sync::Arc::new(clock::SystemClock),
            vault,
            hashes: Mutex::new(hashes),
            flag_hints: Mutex::default(),
            sessions: Default::default(),
        }
    }

    /// Whether other instances may share this database (PostgreSQL): what one changes, the
    /// others hear of through [`announce`](Store::announce).
    pub fn is_shared(&self) -> bool {
        self.db.shared()
    }

    /// Tells the other instances on this database that each of `kinds` happened, in that order,
    /// to the case `case_id` (`reference`: its reference, which an erased case's event still
    /// carries), after the change committed: one notice per kind, all in one exchange. Ids only:
    /// a notice never carries personal data. One instance alone, on SQLite, has nobody to tell.
    pub fn announce(&self, kinds: &[&str], case_id: i64, reference: &str) -> Result<(), Error> {
        let notices: Vec<String> = kinds
            .iter()
            .map(|kind| {
                serde_json::json!({
                    "kind": kind, "case": case_id, "reference": reference, "from": self.instance,
                })
                .to_string()
            })
            .collect();
        self.db.announce(&notices)
    }

    /// The lock of a job only one instance runs at a time (`job` names it: a retention sweep),
    /// or None while another instance holds it. Drop the lock off async threads (a PostgreSQL
    /// connection closes as it drops).
    pub fn try_job_lock(&self, job: &str) -> Result<Option<JobLock>, Error> {
        Ok(self
            .db
            .try_job_lock(job)?
            .map(|held| JobLock { _held: held }))
    }

    /// Hands what other instances announce to `each`, from a thread of the backend's, for as
    /// long as the process runs. While it listens, the sessions checked lately are kept (it
    /// hears the database say when accounts or sessions change: `sessions.rs`).
    pub fn listen(&self, each: impl Fn(Heard<'_>) + Send + 'static) -> Result<(), Error> {
        let me = self.instance.clone();
        let sessions = self.sessions.clone();
        let lost = std::sync::atomic::AtomicBool::new(false);
        self.db.listen(Box::new(move |note: db::ListenerNote<'_>| {
            use std::sync::atomic::Ordering::SeqCst;
            let payload = match note {
                db::ListenerNote::Listening => {
                    sessions.listening(true);
                    if lost.swap(false, SeqCst) {
                        each(Heard::Resumed);
                    }
                    return;
                }
                db::ListenerNote::Lost => {
                    sessions.listening(false);
                    lost.store(true, SeqCst);
                    return;
                }
                db::ListenerNote::Notice(payload) => payload,
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(payload) else {
                return;
            };
            if v["kind"] == SESSIONS_CHANGED {
                return sessions.forget_all();
            }
            if let (Some(kind), Some(case), Some(from)) =
                (v["kind"].as_str(), v["case"].as_i64(), v["from"].as_str())
            {
                if from != me {
                    each(Heard::Announced {
                        kind,
                        case,
                        reference: v["reference"].as_str().unwrap_or_default(),
                    });
                }
            }
        }))
    }

    /// The store on another clock (tests), before it is shared.
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn clock::Clock>) -> Store {
        self.clock = clock;
        self
    }

    /// Its clock (the desk's too).
    pub fn clock(&self) -> std::sync::Arc<dyn clock::Clock> {
        self.clock.clone()
    }

    /// Now, by its clock (unix ms).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The SQLite database file; none on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Runs `f` in one write transaction (serialised with every other write), committed when it
    /// returns Ok.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&dyn Connection) -> Result<T>) -> Result<T> {
        db::write(self.db.as_ref(), f, |_| {})
    }

    /// Runs `f` on one read snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&dyn Connection) -> Result<T>) -> Result<T> {
        db::read(self.db.as_ref(), f)
    }

    /// The first row of one query, read alone on a snapshot of its own (one exchange with a
    /// database server: no transaction to begin and end), as `f` makes it; None when there is none.
    pub(crate) fn query_alone<T>(
        &self,
        sql: &str,
        params: impl db::Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        db::query_alone(self.db.as_ref(), sql, params, f)
    }

    /// Whether the database answers: one trivial statement, read alone.
    pub fn ping(&self) -> Result<()> {
        self.query_alone("SELECT 1", params![], |r| r.get::<i64>(0))?
            .ok_or_else(|| Error::Internal("SELECT 1 gave no row".into()))?;
        Ok(())
    }

    /// Streams a query over one read snapshot: each row made into an `R` by `row` and handed to
    /// `each`, until `each` returns false or fails (its own error is returned as it is). Returns
    /// how many rows were handed over; memory stays flat however many there are.
    pub(crate) fn stream<R, E: From<Error>>(
        &self,
        sql: &str,
        params: impl db::Params,
        row: impl Fn(&Row) -> Result<R>,
        mut each: impl FnMut(R) -> Result<bool, E>,
    ) -> Result<u64, E> {
        let mut failed = None;
        // `each` is the caller's: it runs nothing on this read's connection.
        let n = self.read(|c| {
            c.for_each_ahead(sql, params, |r| match each(row(r)?) {
                Ok(go_on) => Ok(go_on),
                Err(e) => {
                    failed = Some(e);
                    Ok(false)
                }
            })
        })?;
        failed.map_or(Ok(n), Err)
    }

    /// The keyed tag the audit trail records instead of a search word or user id.
    pub fn search_tag(&self, value: &str) -> Vec<u8> {
        self.vault.tag("audit-search", value)
    }

    /// The case's data key, unwrapped; NotFound once the case is erased.
    /// A case's summary read on `c` (inside a write, after its commit).
    pub(crate) fn summary_in(&self, c: &dyn Connection, id: i64) -> Result<CaseSummary, Error> {
        summary(c, &self.vault, id)
    }

    pub(crate) fn case_key(&self, c: &dyn Connection, id: i64) -> Result<CaseKey, Error> {
        case_key_in(c, &self.vault, id)
    }
}

fn summary(c: &dyn Connection, vault: &Vault, id: i64) -> Result<CaseSummary, Error> {
    c.query_row(
        &format!("SELECT {SUMMARY_COLS} FROM cases WHERE cases.id = ?1"),
        [id],
        summary_from_row(vault),
    )
    .optional()?
    .ok_or_else(|| Error::NotFound(id.to_string()))
}

/// Flags as stored in the clear for filtering: codes and severities, never the messages (which
/// may quote personal data; they are sealed with the rest of the summary).
fn flag_codes(flags: &[Flag]) -> String {
    let codes: Vec<serde_json::Value> = flags
        .iter()
        .map(|f| serde_json::json!({"code": f.code, "severity": f.severity}))
        .collect();
    serde_json::Value::Array(codes).to_string()
}

/// Opens a column that holds a `T` sealed as JSON.
fn open_json<T: serde::de::DeserializeOwned>(
    key: &CaseKey,
    field: SealField<'_>,
    sealed: &[u8],
) -> Result<T, Error> {
    Ok(key.open_json(field, &Sealed::<T>::from_stored(sealed.to_vec()))?)
}

/// Opens a column that holds sealed text.
fn open_text(key: &CaseKey, field: SealField<'_>, sealed: &[u8]) -> Result<String, Error> {
    Ok(key.open_text(field, &Sealed::from_stored(sealed.to_vec()))?)
}

/// A `T` sealed as JSON, as its column stores it.
fn seal_json<T: Serialize>(
    key: &CaseKey,
    field: SealField<'_>,
    value: &T,
) -> Result<Vec<u8>, Error> {
    Ok(key.seal_json(field, value)?.into_bytes())
}

fn case_key_in(c: &dyn Connection, vault: &Vault, id: i64) -> Result<CaseKey, Error> {
    let wrapped: Vec<u8> = c
        .query_row(
            "SELECT wrapped FROM case_keys WHERE case_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound(id.to_string()))?;
    Ok(vault.unwrap_case_key(id, &wrapped)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::count_within;
    use crate::sqlite::MIGRATIONS;
    use crate::timefmt::now_ms;
    use rusqlite::{params, Connection, TransactionBehavior};

    fn file_bytes(path: &Path) -> Vec<u8> {
        let mut out = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(path.with_extension("sqlite3-wal")) {
            out.extend(wal);
        }
        out
    }

    fn contains(h: &[u8], n: &[u8]) -> bool {
        h.windows(n.len()).any(|w| w == n)
    }

    #[test]
    fn the_load_at_open_finds_what_the_generic_load_finds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let store = Store::open(&path, MasterKey::Key([7; 32])).unwrap();
        let both = || {
            let generic = db::read(store.db.as_ref(), |c| load_hashes(c, &store.vault)).unwrap();
            let parallel = migrate::load_hashes_in_parallel(&path, &store.vault).unwrap();
            (generic, parallel)
        };
        let (generic, parallel) = both();
        assert_eq!((generic.selfie.len(), parallel.selfie.len()), (0, 0));
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let mut subs = Vec::new();
        // An odd number of rows, so the halves differ; two cases of one user.
        for i in 0..9 {
            let mut sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 3, &today).payload;
            if i == 8 {
                let first: &kyc_domain::submission::Submission = &subs[0];
                sim["request_info"]["user_id"] = first.user_id.clone().into();
            }
            let sub = crate::testing::submission(&sim.to_string());
            store.insert_case(&sub, &[], now_ms()).unwrap();
            subs.push(sub);
        }
        let (generic, parallel) = both();
        assert_eq!(generic.selfie.len(), 9);
        assert_eq!(parallel.selfie.len(), generic.selfie.len());
        assert_eq!(parallel.portrait.len(), generic.portrait.len());
        for sub in &subs {
            let user = crate::phash::user_key(&store.vault.tag("user", &sub.user_id));
            for asked_by in [user, 0] {
                let selfie = sub.selfie_hash.unwrap();
                let found = parallel.selfie.find(selfie, asked_by);
                assert_eq!(found, generic.selfie.find(selfie, asked_by));
                assert_eq!(
                    found.is_empty(),
                    asked_by == user,
                    "its own user is left out"
                );
                if let Some(p) = &sub.portrait_hash {
                    let folded = crate::phash::fold(p);
                    assert_eq!(
                        parallel.portrait.find(folded, asked_by),
                        generic.portrait.find(folded, asked_by)
                    );
                }
            }
        }
    }

    #[test]
    fn the_flag_filter_finds_the_same_cases_with_either_plan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE), MasterKey::Key([5; 32])).unwrap();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let with = |code: &str| {
            kyc_domain::flag::Flag::new(code, kyc_domain::flag::Severity::Info, "test")
        };
        let (mut common, mut rare) = (Vec::new(), Vec::new());
        for i in 0..6 {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 3, &today);
            let sub = crate::testing::submission(&sim.payload.to_string());
            let flags = if i % 3 == 0 {
                vec![with("rare_one")]
            } else {
                vec![with("common_one")]
            };
            let Inserted::New(case) = store.insert_case(&sub, &flags, now_ms()).unwrap() else {
                panic!("new case expected");
            };
            if i % 3 == 0 {
                rare.push(case.id)
            } else {
                common.push(case.id)
            }
        }
        // common_one is on 4 cases (more than RARE_FLAG_CASES, 2 in tests: checked per case),
        // rare_one on 2 (the filter starts from its cases).
        for (code, expected) in [("common_one", &common), ("rare_one", &rare)] {
            let q = CaseQuery {
                flag: Some(code.into()),
                limit: 50,
                ..Default::default()
            };
            let mut found: Vec<i64> = store.list(&q).unwrap().cases.iter().map(|c| c.id).collect();
            found.sort();
            assert_eq!(&found, expected, "{code}");
        }
        // On one snapshot, with the hints the lists above left: each flag in turn, twice.
        let ids = |s: &Snapshot<'_>, code: &str| {
            let q = CaseQuery {
                flag: Some(code.into()),
                limit: 50,
                ..Default::default()
            };
            let mut found: Vec<i64> = s.list(&q)?.cases.iter().map(|c| c.id).collect();
            found.sort();
            Ok::<_, Error>(found)
        };
        let turns = store
            .snapshot(|s| {
                ["common_one", "rare_one", "rare_one", "common_one"]
                    .iter()
                    .map(|code| ids(s, code))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        assert_eq!(turns, [&common, &rare, &rare, &common].map(Vec::clone));
    }

    /// A flag's commonness is read once per [`FLAG_HINT_MS`]: within it a stale hint picks the
    /// other plan and finds the same cases; past it the hint is read again.
    #[test]
    fn a_flags_commonness_is_read_again_once_its_hint_is_old() {
        let dir = tempfile::tempdir().unwrap();
        let clock = std::sync::Arc::new(clock::ManualClock::at(1_764_400_000_000));
        let store = Store::open(&dir.path().join(DB_FILE), MasterKey::Key([5; 32]))
            .unwrap()
            .with_clock(clock.clone());
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let mut flagged = Vec::new();
        let mut insert = |i: u64| {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 3, &today);
            let sub = crate::testing::submission(&sim.payload.to_string());
            let flag = kyc_domain::flag::Flag::new("watch", kyc_domain::flag::Severity::Info, "t");
            match store.insert_case(&sub, &[flag], store.now_ms()).unwrap() {
                Inserted::New(case) => flagged.push(case.id),
                Inserted::Existing(_) => panic!("new case expected"),
            }
            flagged.clone()
        };
        let found = || {
            let q = CaseQuery {
                flag: Some("watch".into()),
                limit: 50,
                ..Default::default()
            };
            let mut ids: Vec<i64> = store.list(&q).unwrap().cases.iter().map(|c| c.id).collect();
            ids.sort();
            ids
        };
        let hint = || store.flag_hints.lock().unwrap().get("watch").map(|h| h.0);
        let one = insert(0);
        assert_eq!(found(), one);
        assert_eq!(
            hint(),
            Some(false),
            "on 1 case: rare (more than 2 is common in tests)"
        );
        insert(1);
        let four = {
            insert(2);
            insert(3)
        };
        assert_eq!(found(), four, "a stale hint finds the same cases");
        assert_eq!(
            hint(),
            Some(false),
            "within its time the hint is not read again"
        );
        clock.advance(FLAG_HINT_MS);
        assert_eq!(found(), four);
        assert_eq!(hint(), Some(true), "past its time it is");
    }

    #[test]
    fn case_numbers_are_never_reused_after_erasure_or_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let insert = |store: &Store, i: u64| {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 9, &today);
            let sub = crate::testing::submission(&sim.payload.to_string());
            match store.insert_case(&sub, &[], now_ms()).unwrap() {
                Inserted::New(case) => case,
                Inserted::Existing(_) => panic!("new case expected"),
            }
        };
        let store = Store::open(&path, MasterKey::Key([6; 32])).unwrap();
        let first = insert(&store, 0);
        let newest = insert(&store, 1);
        assert!(store.erase(newest.id, "admin", "test").unwrap().1);
        drop(store);
        let store = Store::open(&path, MasterKey::Key([6; 32])).unwrap();
        let next = insert(&store, 2);
        assert_eq!(next.id, newest.id + 1, "the erased number stays used");
        assert_ne!(next.reference, newest.reference);
        assert!(next.id > first.id);
    }

    /// A count that would run past its budget gives up (the page then says "many") and leaves
    /// the connection usable; within budget it is exact.
    #[test]
    fn a_count_stops_at_its_budget() {
        let c = Connection::open_in_memory().unwrap();
        let sql = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 2000000) \
                   SELECT count(*) FROM n";
        let none = count_within(&c, sql, &[], std::time::Duration::ZERO).unwrap();
        assert_eq!(none, None);
        let all = count_within(&c, sql, &[], std::time::Duration::from_secs(60)).unwrap();
        assert_eq!(all, Some(2_000_000));
        let one: i64 = c.query_row("SELECT 1", params![], |r| r.get(0)).unwrap();
        assert_eq!(one, 1, "the handler is gone afterwards");
    }

    /// The store adds the history flags itself, inside the insert: a caller that computed none
    /// (as two simultaneous submissions would have, each before the other was stored) still gets
    /// `document_reused` on the second case of one document.
    #[test]
    fn the_insert_itself_flags_a_document_another_user_submitted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE), MasterKey::Key([7; 32])).unwrap();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, 1, 11, &today).payload;
        let mut twin = sim.clone();
        twin["request_info"]["requester_id"] = "twin-1".into();
        twin["request_info"]["user_id"] = "someone.else@example.com".into();
        let mut again = sim.clone();
        again["request_info"]["requester_id"] = "again-1".into();
        let insert = |v: &serde_json::Value| {
            let sub = crate::testing::submission(&v.to_string());
            match store.insert_case(&sub, &[], now_ms()).unwrap() {
                Inserted::New(case) => case,
                Inserted::Existing(_) => panic!("new case expected"),
            }
        };
        let first = insert(&sim);
        assert!(first.flags.is_empty(), "{:?}", first.flags);
        let codes = |c: &CaseSummary| c.flags.iter().map(|f| f.code.clone()).collect::<Vec<_>>();
        let second = insert(&twin);
        assert_eq!(
            codes(&second),
            ["document_reused", "selfie_reused", "portrait_reused"]
        );
        assert!(second.flags[0].message.contains(&first.reference));
        assert_eq!(
            second.flags[1].cases,
            std::slice::from_ref(&first.reference)
        );
        assert_eq!(second.flags[1].severity, kyc_domain::flag::Severity::Error);
        // The earlier case is flagged back, naming the new one.
        let first_now = store.summary(first.id).unwrap();
        assert_eq!(
            codes(&first_now),
            ["document_reused", "selfie_reused", "portrait_reused"]
        );
        assert_eq!(
            first_now.flags[0].cases,
            std::slice::from_ref(&second.reference)
        );
        // The same user again: only the other user's case counts as reuse.
        let third = insert(&again);
        assert_eq!(
            codes(&third),
            [
                "document_reused",
                "selfie_reused",
                "portrait_reused",
                "user_seen_before"
            ]
        );
        assert_eq!(
            third.flags[1].cases,
            std::slice::from_ref(&second.reference)
        );
        let second_now = store.summary(second.id).unwrap();
        let selfie = second_now
            .flags
            .iter()
            .find(|f| f.code == "selfie_reused")
            .unwrap();
        assert_eq!(
            selfie.cases,
            [third.reference.clone(), first.reference.clone()]
        );
        // Erased: its hash is gone from the index at once, and from the store after a restart.
        store.erase(second.id, "test", "test").unwrap();
        let mut other = sim.clone();
        other["request_info"]["requester_id"] = "other-1".into();
        other["request_info"]["user_id"] = "third.user@example.com".into();
        let fourth = insert(&other);
        let selfie = fourth
            .flags
            .iter()
            .find(|f| f.code == "selfie_reused")
            .unwrap();
        assert!(
            !selfie.cases.contains(&second.reference),
            "{:?}",
            selfie.cases
        );
        assert!(selfie.cases.contains(&first.reference));
        drop(store);
        let store = Store::open(&dir.path().join(DB_FILE), MasterKey::Key([7; 32])).unwrap();
        let rows: i64 = store
            .read(|c| {
                c.query_row(
                    "SELECT count(*) FROM image_hashes WHERE case_id = ?1",
                    [second.id],
                    |r| r.get(0),
                )
            })
            .unwrap();
        assert_eq!(rows, 0);
        other["request_info"]["requester_id"] = "other-2".into();
        other["request_info"]["user_id"] = "fourth.user@example.com".into();
        let sub = crate::testing::submission(&other.to_string());
        let Inserted::New(fifth) = store.insert_case(&sub, &[], now_ms()).unwrap() else {
            panic!("new case expected")
        };
        let selfie = fifth
            .flags
            .iter()
            .find(|f| f.code == "selfie_reused")
            .unwrap();
        assert_eq!(
            selfie.cases.len(),
            3,
            "rebuilt at start: {:?}",
            selfie.cases
        );
        let portrait = fifth
            .flags
            .iter()
            .find(|f| f.code == "portrait_reused")
            .unwrap();
        assert_eq!(portrait.cases.len(), 3, "{:?}", portrait.cases);
        assert!(!portrait.cases.contains(&second.reference));
    }

    /// A store from before the counter (schema v10) whose newest case was erased: the counter
    /// starts after the erased number the audit trail still names.
    #[test]
    fn the_counter_migration_starts_after_every_number_ever_used() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..10] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute(
            "INSERT INTO audit (at, actor, action, case_id, prev_hash, hash) \
             VALUES (0, 'admin', 'case.erased', 7, x'', x'')",
            params![],
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[10]).unwrap();
        let last: i64 = conn
            .query_row(
                "SELECT last FROM counters WHERE name = 'case'",
                params![],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(last, 7);
    }

    #[test]
    fn image_files_of_uncommitted_cases_are_swept_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        drop(Store::open(&path, MasterKey::Key([4; 32])).unwrap());
        // As if the process died after writing case 1's images but before its commit.
        let files = ImageFiles::beside(&path);
        files
            .write(1, b"sealed bytes of a case that never committed")
            .unwrap();
        assert!(files.path(1).exists());
        drop(Store::open(&path, MasterKey::Key([4; 32])).unwrap());
        assert!(!files.path(1).exists());
    }

    /// Two simulated cases stored in a fresh store at `path` (ids 1 and 2).
    fn two_cases(path: &Path) -> (Store, [i64; 2]) {
        let store = Store::open(path, MasterKey::Key([4; 32])).unwrap();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let ids = [1, 2].map(|i| {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 5, &today).payload;
            let sub = crate::testing::submission(&sim.to_string());
            let Inserted::New(case) = store.insert_case(&sub, &[], now_ms()).unwrap() else {
                panic!("a new case expected");
            };
            case.id
        });
        (store, ids)
    }

    fn pending_removals(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM file_removals", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn an_erased_cases_file_whose_removal_a_crash_interrupted_goes_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let (store, [first, second]) = two_cases(&path);
        let files = ImageFiles::beside(&path);
        store.erase(first, "test", "test").unwrap();
        assert!(!files.path(first).exists(), "removed after the commit");
        assert_eq!(
            pending_removals(&path),
            0,
            "its row rode along with the next write (the erasure's completion record)"
        );
        // The listing itself: a transaction that drops a case's file commits its row, and the
        // next write takes the row away once the file is gone.
        db::write(store.db.as_ref(), |tx| tx.drop_blob(99), |_| {}).unwrap();
        assert_eq!(pending_removals(&path), 1);
        // A write that fails rolls the row's deletion back; the one after it deletes it.
        let refused = db::write(
            store.db.as_ref(),
            |_| -> Result<(), Error> { Err(Error::Internal("refused".into())) },
            |_| {},
        );
        assert!(refused.is_err());
        assert_eq!(pending_removals(&path), 1);
        store.hold(second, now_ms() + 1_000).unwrap();
        assert_eq!(pending_removals(&path), 0);
        drop(store);
        // What a crash between the erasure's commit and the file's removal leaves: the row
        // committed, the file still there.
        files
            .write(first, b"sealed bytes of an erased case")
            .unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO file_removals (case_id) VALUES (?1)", [first])
            .unwrap();
        let store = Store::open(&path, MasterKey::Key([4; 32])).unwrap();
        assert!(!files.path(first).exists(), "removed at open");
        assert_eq!(pending_removals(&path), 0);
        assert!(
            store.image(second, "selfie").is_ok(),
            "the other case untouched"
        );
    }

    #[test]
    fn an_open_looks_only_at_the_files_numbered_past_the_last_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let (store, [first, second]) = two_cases(&path);
        drop(store);
        let files = ImageFiles::beside(&path);
        // Inserts that never committed: the next number, and one in a later folder.
        for id in [second + 1, second + 5_000, 2_000_000] {
            files.write(id, b"never committed").unwrap();
        }
        // A file below the last case that no erasure listed: not looked at.
        std::fs::write(files.path(first).with_file_name("0.sealed"), b"stray").unwrap();
        let store = Store::open(&path, MasterKey::Key([4; 32])).unwrap();
        for id in [second + 1, second + 5_000, 2_000_000] {
            assert!(!files.path(id).exists(), "{id} swept");
        }
        assert!(files.path(first).with_file_name("0.sealed").exists());
        assert!(store.image(first, "selfie").is_ok() && store.image(second, "selfie").is_ok());
    }

    #[test]
    fn a_store_from_before_file_removals_has_its_whole_folder_swept_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let (store, [erased, kept]) = two_cases(&path);
        store.erase(erased, "test", "test").unwrap();
        drop(store);
        let files = ImageFiles::beside(&path);
        // Schema 17, whose erasures listed nothing: an interrupted removal left this file.
        files
            .write(erased, b"sealed bytes of an erased case")
            .unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE file_removals; DROP INDEX image_hashes_stale; \
             ALTER TABLE image_hashes DROP COLUMN method; DROP INDEX cases_received; \
             ALTER TABLE cases DROP COLUMN decided_at; ALTER TABLE cases DROP COLUMN decided_by; \
             DROP INDEX decisions_decided; DROP INDEX cases_plaintext; PRAGMA user_version = 17;",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&path, MasterKey::Key([4; 32])).unwrap();
        assert!(!files.path(erased).exists(), "the full sweep found it");
        assert!(store.image(kept, "selfie").is_ok());
        assert_eq!(pending_removals(&path), 0, "the table is there again");
    }

    #[test]
    fn a_store_from_before_the_id_range_folders_opens_with_its_images_moved_into_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let store = Store::open(&path, MasterKey::Key([4; 32])).unwrap();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, 1, 5, &today).payload;
        let sub = crate::testing::submission(&sim.to_string());
        let Inserted::New(case) = store.insert_case(&sub, &[], now_ms()).unwrap() else {
            panic!("a new case expected");
        };
        let selfie = store.image(case.id, "selfie").unwrap();
        drop(store);
        // The layout of a store written before the folders: the case's file flat in images/.
        let files = ImageFiles::beside(&path);
        let flat = files.dir().join(format!("{}.sealed", case.id));
        std::fs::rename(files.path(case.id), &flat).unwrap();
        let store = Store::open(&path, MasterKey::Key([4; 32])).unwrap();
        assert!(
            !flat.exists() && files.path(case.id).exists(),
            "moved at open"
        );
        assert_eq!(
            store.image(case.id, "selfie").unwrap(),
            selfie,
            "byte for byte"
        );
    }

    #[test]
    fn the_sweep_waits_for_a_write_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        drop(Store::open(&path, MasterKey::Key([4; 32])).unwrap());
        // Another process inside insert_case: write lock taken, case file written, not committed.
        let mut other = Connection::open(&path).unwrap();
        let tx = other
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let files = ImageFiles::beside(&path);
        files
            .write(1, b"sealed bytes about to be committed")
            .unwrap();
        let opening = std::thread::spawn({
            let path = path.clone();
            move || Store::open(&path, MasterKey::Key([4; 32])).map(drop)
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!opening.is_finished(), "the sweep waits for the write lock");
        assert!(files.path(1).exists());
        drop(tx); // rolled back: the file is an orphan now
        opening.join().unwrap().unwrap();
        assert!(!files.path(1).exists());
    }

    #[test]
    fn a_passphrase_store_reopens_only_with_its_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let pass = || MasterKey::Passphrase("correct horse battery staple".into());
        drop(Store::open(&path, pass()).unwrap());
        drop(Store::open(&path, pass()).unwrap());
        let wrong = Store::open(
            &path,
            MasterKey::Passphrase("incorrect horse battery".into()),
        );
        let err = wrong.err().expect("wrong passphrase refused").to_string();
        assert!(err.contains("passphrase key"), "{err}");
        let err = Store::open(&path, MasterKey::Key([1; 32]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("does not open this database"), "{err}");
    }

    /// A database written before encryption at rest (schema v4, plaintext) is sealed on open.
    #[test]
    fn plaintext_cases_of_an_older_version_are_sealed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO cases (id, reference, requester_id, user_id, body_sha256, received_at, status, \
                 holder_name, document_number, flags, raw_json) VALUES (1, 'KYC-2025-000001', 'r-1', 'zelda@example.com', x'00', 0, \
                                  'approved', 'Zelda Quartermaine', 'ZQ1234567', \
                                  '[{\"code\":\"face_mismatch\",\"severity\":\"high\",\"message\":\"Zelda?\"}]', '{\"name\":\"Zelda Quartermaine\"}')", params![],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO images (case_id, name, mime, width, height, bytes) VALUES (1, 'selfie', 'image/jpeg', 1, 1, x'FFD8FFE000104A46494600')", params![],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO decisions (case_id, decision, comment, by_kind, by_user, decided_at) \
                 VALUES (1, 'approve', 'Zelda called back', 'reviewer', 'rita', 0)",
                params![],
            )
            .unwrap();
        }
        let store = Store::open(&path, MasterKey::Key([9; 32])).unwrap();
        let s = store.summary(1).unwrap();
        assert_eq!(s.holder_name.as_deref(), Some("Zelda Quartermaine"));
        assert_eq!(s.document_number.as_deref(), Some("ZQ1234567"));
        assert!(store.raw_json(1).unwrap().contains("Zelda"));
        assert_eq!(
            store.image(1, "selfie").unwrap().1[..4],
            [0xFF, 0xD8, 0xFF, 0xE0]
        );
        assert_eq!(store.decisions(1).unwrap()[0].comment, "Zelda called back");
        // Schema 22 carried the final decision onto the case, where statistics read it.
        let row = &store.stats_rows(-1, 1).unwrap()[0];
        assert_eq!(
            (row.approved, row.decided_at, row.by.as_deref()),
            (Some(true), Some(0), Some("rita"))
        );
        let q = CaseQuery {
            q: Some("quartermaine".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(store.list(&q).unwrap().cases.len(), 1);
        assert_eq!(s.user_id, "zelda@example.com");
        let q = CaseQuery {
            user_id: Some("zelda@example.com".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(store.list(&q).unwrap().cases.len(), 1);
        // The flag filter finds it through case_flags, filled from the old flags column.
        for (flag, found) in [("face_mismatch", 1), ("expired", 0)] {
            let q = CaseQuery {
                flag: Some(flag.into()),
                limit: 10,
                ..Default::default()
            };
            assert_eq!(store.list(&q).unwrap().cases.len(), found, "{flag}");
        }
        drop(store);
        let bytes = file_bytes(&path);
        for needle in [&b"Zelda"[..], b"zelda@", b"ZQ1234567", b"JFIF"] {
            assert!(
                !contains(&bytes, needle),
                "{}",
                String::from_utf8_lossy(needle)
            );
        }
    }
}
