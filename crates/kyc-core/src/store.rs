//! SQLite storage: WAL with `synchronous=FULL`, embedded migrations, one writer connection and a
//! small pool of readers. A case's rows are written in one transaction after its sealed images
//! are durable in their file ([`crate::imagefiles`]), so a crash leaves either the whole case or
//! nothing visible.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::error::CoreError;
use crate::imagefiles::ImageFiles;
use crate::ingest::Submission;
use crate::phash::{Hashed, PhashIndex};
use crate::timefmt::{now_ms, rfc3339};
use kyc_crypto::master::MasterKey;
use kyc_crypto::vault::{CaseKey, SealField, Sealed, Vault};
use kyc_domain::case::{
    contradicts, Answer, CasePage, CaseQuery, CaseSummary, DecisionRecord, DeliveryInfo,
    DueDelivery, ImageInfo, Inserted, NewDecision,
};
use kyc_domain::flag::Flag;

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
];

const READER_POOL: usize = 4;

/// Up to this many cases with a flag, the flag filter starts from those cases (see `list`).
/// Unit tests use 2, so both query plans run on a handful of cases.
const RARE_FLAG_CASES: i64 = if cfg!(test) { 2 } else { 2000 };

/// The database file inside the data dir.
pub const DB_FILE: &str = "kyc-desk.sqlite3";

pub struct Store {
    path: PathBuf,
    vault: Vault,
    files: ImageFiles,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The selfies' perceptual hashes (memory only; changed under the writer lock).
    selfies: Mutex<PhashIndex>,
}

/// The most cases a list counts ("1,000+" beyond: a reviewer needs the count of a narrowed list).
pub const TOTAL_CAP: u32 = 1_000;
/// How long a list may spend counting its matches: a count must not make the queue slow (past
/// it, the page says "many").
pub const COUNT_BUDGET: std::time::Duration = std::time::Duration::from_millis(10);

const SUMMARY_COLS: &str =
    "cases.id, reference, requester_id, answer_user, status, received_at, case_keys.wrapped, \
     pii, document_type, answer_result, answer_at, answer_by, assignee, \
     (SELECT by_user FROM decisions WHERE decisions.case_id = cases.id AND final = 0 \
      AND decision = 'approve' ORDER BY decisions.id DESC LIMIT 1)";
const SUMMARY_FROM: &str = "cases LEFT JOIN case_keys ON case_keys.case_id = cases.id";

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

/// What the store already holds about a new case's history, read in the insert transaction.
struct History {
    /// Other users' cases with the same document number: (id, reference).
    document: Vec<(i64, String)>,
    /// Other users' cases with the same selfie (perceptual hash): (id, reference).
    selfie: Vec<(i64, String)>,
    /// The same user's cases: (reference, status).
    earlier: Vec<(String, String)>,
}

impl History {
    fn flags(&self) -> Vec<Flag> {
        let refs = |v: &[(i64, String)]| v.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>();
        crate::checks::history_flags(&refs(&self.document), &refs(&self.selfie), &self.earlier)
    }
}

/// The history of `sub` from the cases already stored (`selfies` is the index, read under the
/// writer lock like the rows).
fn history_in(
    conn: &Connection,
    vault: &Vault,
    selfies: &PhashIndex,
    sub: &Submission,
) -> Result<History, CoreError> {
    let user = vault.tag("user", &sub.user_id);
    let document: Vec<(i64, String)> = match sub.payload.document_number() {
        Some(number) => conn
            .prepare_cached(
                "SELECT id, reference FROM cases WHERE document_tag = ?1 AND user_tag <> ?2 \
                 ORDER BY id DESC LIMIT 5",
            )?
            .query_map(params![vault.tag("document", number), user], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut selfie = Vec::new();
    if let Some(hash) = sub.selfie_hash {
        let mut stmt = conn.prepare_cached("SELECT reference FROM cases WHERE id = ?1")?;
        for m in selfies
            .find(hash, crate::phash::user_key(&user))
            .iter()
            .take(5)
        {
            if let Some(reference) = stmt
                .query_row([m.case_id], |r| r.get::<_, String>(0))
                .optional()?
            {
                selfie.push((m.case_id, reference));
            }
        }
    }
    // A case without a user id (a custom template that has none) has no history of its own.
    let earlier: Vec<(String, String)> = if sub.user_id.is_empty() {
        Vec::new()
    } else {
        conn.prepare_cached(
            "SELECT reference, status FROM cases WHERE user_tag = ?1 ORDER BY id DESC LIMIT 5",
        )?
        .query_map([user], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?
    };
    Ok(History {
        document,
        selfie,
        earlier,
    })
}

/// Adds to an earlier case the reuse finding `code` naming the new case `reference` (merged into
/// its finding of that code if it has one), and audits it.
fn flag_back(
    tx: &Connection,
    vault: &Vault,
    case_id: i64,
    code: &str,
    reference: &str,
) -> Result<(), CoreError> {
    let (wrapped, sealed): (Vec<u8>, Vec<u8>) = tx.query_row(
        "SELECT case_keys.wrapped, cases.pii FROM cases JOIN case_keys ON case_keys.case_id = cases.id \
         WHERE cases.id = ?1",
        [case_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let key = vault.unwrap_case_key(case_id, &wrapped)?;
    let mut pii: Pii = open_json(&key, SealField::Pii, &sealed)?;
    let mut cases = vec![reference.to_string()];
    if let Some(at) = pii.flags.iter().position(|f| f.code == code) {
        let old = pii.flags.remove(at);
        cases.extend(old.cases.into_iter().filter(|c| c != reference));
        // The newest ten: the finding stays one readable line on a much-reused document.
        cases.truncate(10);
    }
    pii.flags.push(crate::checks::reuse_flag(code, &cases));
    tx.execute(
        "UPDATE cases SET pii = ?2, flags = ?3 WHERE id = ?1",
        params![
            case_id,
            seal_json(&key, SealField::Pii, &pii)?,
            flag_codes(&pii.flags)
        ],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO case_flags (code, case_id) VALUES (?1, ?2)",
        params![code, case_id],
    )?;
    crate::audit::append(
        tx,
        vault,
        "system",
        "case.flagged",
        Some(case_id),
        &serde_json::json!({"code": code, "by_case": reference}),
    )?;
    Ok(())
}

/// Reads every stored selfie hash into a new index (at open).
fn load_selfies(conn: &Connection, vault: &Vault) -> Result<PhashIndex, CoreError> {
    let mut entries = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT h.case_id, h.sealed, c.user_tag FROM image_hashes h JOIN cases c ON c.id = h.case_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let case_id: i64 = r.get(0)?;
        let sealed: Vec<u8> = r.get(1)?;
        let user: Option<Vec<u8>> = r.get(2)?;
        entries.push(Hashed {
            case_id,
            user: crate::phash::user_key(&user.unwrap_or_default()),
            hash: vault.open_image_hash(case_id, &sealed)?,
        });
    }
    Ok(PhashIndex::from_entries(entries))
}

/// A case's status (`NotFound` when there is no such case).
pub(crate) fn case_status(c: &Connection, id: i64) -> Result<String, CoreError> {
    c.query_row("SELECT status FROM cases WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| CoreError::NotFound(id.to_string()))
}

/// Runs a `count(*)` query, giving up (None) once it has run for `budget`.
fn count_within(
    c: &Connection,
    sql: &str,
    args: &[rusqlite::types::Value],
    budget: std::time::Duration,
) -> Result<Option<u32>, CoreError> {
    let deadline = std::time::Instant::now() + budget;
    c.progress_handler(1000, Some(move || std::time::Instant::now() > deadline));
    let counted = c.query_row(sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0));
    c.progress_handler(1000, None::<fn() -> bool>);
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

fn sealed_err(e: CoreError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
}

fn summary_from_row(
    vault: &Vault,
) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<CaseSummary> + '_ {
    move |row| {
        let id: i64 = row.get(0)?;
        let reference: String = row.get(1)?;
        let wrapped: Option<Vec<u8>> = row.get(6)?;
        let sealed: Option<Vec<u8>> = row.get(7)?;
        let key = match wrapped {
            Some(w) => Some(
                vault
                    .unwrap_case_key(id, &w)
                    .map_err(|e| sealed_err(e.into()))?,
            ),
            None => None,
        };
        let pii: Pii = match (&key, sealed) {
            (Some(key), Some(p)) => open_json(key, SealField::Pii, &p).map_err(sealed_err)?,
            _ => Pii::default(),
        };
        let answer_user: Option<Vec<u8>> = row.get(3)?;
        let answer_user = match (&key, answer_user) {
            (Some(key), Some(a)) => {
                open_text(key, SealField::AnswerUser, &a).map_err(sealed_err)?
            }
            _ => String::new(),
        };
        let answer = match row.get::<_, Option<bool>>(9)? {
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
        Ok(CaseSummary {
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
        })
    }
}

/// The schema version from which audit links are keyed (migration 013).
const KEYED_AUDIT_VERSION: usize = 13;

/// How long an erasure waits for readers before it answers "pending".
const ERASURE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Deleted rows (erasure) are overwritten, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path, master: MasterKey) -> Result<Store, CoreError> {
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
        let mut conn = Connection::open(path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CoreError::Internal(format!(
                "journal_mode is {mode}, not WAL"
            )));
        }
        configure(&conn)?;
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() {
            return Err(CoreError::Internal(format!(
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
        let vault = unlock(&conn, master)?;
        if version < KEYED_AUDIT_VERSION {
            // Applied just now: the keyed links begin after the last entry written so far.
            crate::audit::mark_keyed_from(&conn, &vault)?;
        }
        seal_plaintext_rows(&mut conn, &vault)?;
        let files = ImageFiles::beside(path);
        sweep_image_files(&mut conn, &files)?;
        let selfies = load_selfies(&conn, &vault)?;
        Ok(Store {
            path: path.to_path_buf(),
            vault,
            files,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            selfies: Mutex::new(selfies),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn vault(&self) -> &Vault {
        &self.vault
    }

    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| CoreError::Internal("writer lock poisoned".into()))?;
        f(&mut conn)
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c)?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READER_POOL {
                pool.push(conn);
            }
        }
        out
    }

    /// The keyed tag the audit trail records instead of a search word or user id.
    pub fn search_tag(&self, value: &str) -> Vec<u8> {
        self.vault.tag("audit-search", value)
    }

    /// Stores a new case with its images in one durable transaction, or finds the earlier one.
    /// The history flags (`document_reused`, `user_seen_before`) are added to `flags` inside that
    /// transaction, under the write lock: simultaneous submissions see each other.
    pub fn insert_case(
        &self,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
    ) -> Result<Inserted, CoreError> {
        let vault = &self.vault;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let earlier: Option<i64> = tx
                .query_row(
                    "SELECT id FROM cases WHERE requester_id = ?1",
                    [&sub.requester_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = earlier {
                drop(tx);
                if self.same_content(conn, id, sub)? {
                    return Ok(Inserted::Existing(summary(conn, vault, id)?));
                }
                return Err(CoreError::Conflict(sub.requester_id.clone()));
            }
            let mut selfies = self
                .selfies
                .lock()
                .map_err(|_| CoreError::Internal("selfie index lock poisoned".into()))?;
            let history = history_in(&tx, vault, &selfies, sub)?;
            let mut flags = flags.to_vec();
            flags.extend(history.flags());
            let flags = &flags[..];
            // Never MAX(id) + 1: an erased case's number stays used.
            let next_id: i64 = tx.query_row(
                "UPDATE counters SET last = last + 1 WHERE name = 'case' RETURNING last",
                [],
                |r| r.get(0),
            )?;
            let year = crate::timefmt::year_of(received_at_ms);
            let reference = format!("KYC-{year}-{next_id:06}");
            let p = &sub.payload;
            let (key, wrapped) = vault.new_case_key(next_id);
            let holder_name = p.holder_name();
            let pii = Pii {
                user_id: sub.user_id.clone(),
                holder_name: holder_name.clone(),
                document_number: p.document_number().map(str::to_string),
                flags: flags.to_vec(),
            };
            tx.execute(
                "INSERT INTO cases (id, reference, requester_id, user_id, app_id, body_sha256, received_at, \
                 document_type, flags, raw_json, pii, raw, document_tag, user_tag, model) \
                 VALUES (?1, ?2, ?3, '', ?4, x'', ?5, ?6, ?7, '', ?8, ?9, ?10, ?11, ?12)",
                params![
                    next_id,
                    reference,
                    sub.requester_id,
                    sub.app_id,
                    received_at_ms,
                    p.document_type(),
                    flag_codes(flags),
                    seal_json(&key, SealField::Pii, &pii)?,
                    key.seal(SealField::Raw, sub.raw_json.as_bytes()),
                    p.document_number().map(|n| vault.tag("document", n)),
                    vault.tag("user", &sub.user_id),
                    sub.model_json.as_ref().map(|m| key.seal(SealField::Model, m.as_bytes())),
                ],
            )?;
            tx.execute(
                "INSERT INTO case_keys (case_id, wrapped) VALUES (?1, ?2)",
                params![next_id, wrapped],
            )?;
            insert_tags(&tx, next_id, &vault.search_tags(holder_name.as_deref(), p.document_number()))?;
            {
                let mut stmt =
                    tx.prepare_cached("INSERT OR IGNORE INTO case_flags (code, case_id) VALUES (?1, ?2)")?;
                for f in flags {
                    stmt.execute(params![f.code, next_id])?;
                }
            }
            crate::audit::append(&tx, &self.vault,
                "ditto-id",
                "case.received",
                Some(next_id),
                &serde_json::json!({"reference": reference, "images": sub.images.len()}),
            )?;
            for (id, _) in &history.document {
                flag_back(&tx, vault, *id, "document_reused", &reference)?;
            }
            for (id, _) in &history.selfie {
                flag_back(&tx, vault, *id, "selfie_reused", &reference)?;
            }
            if let Some(hash) = sub.selfie_hash {
                tx.execute(
                    "INSERT INTO image_hashes (case_id, image, sealed) VALUES (?1, ?2, ?3)",
                    params![next_id, crate::phash::HASHED_IMAGE, vault.seal_image_hash(next_id, hash)],
                )?;
            }
            // The sealed images go to the case's file, durable before the rows that point
            // into it commit; if the commit fails the file goes too.
            let mut sealed = Vec::with_capacity(
                sub.images.iter().map(|i| i.bytes.len() + kyc_crypto::vault::SEAL_OVERHEAD as usize).sum(),
            );
            let mut places = Vec::with_capacity(sub.images.len());
            for img in &sub.images {
                let start = sealed.len();
                key.seal_append(SealField::Image(&img.name), &img.bytes, &mut sealed);
                places.push((start as i64, (sealed.len() - start) as i64));
            }
            if !sub.images.is_empty() {
                self.files.write(next_id, &sealed)?;
            }
            drop(sealed);
            let rows = (|| -> Result<(), CoreError> {
                let mut stmt = tx.prepare(
                    "INSERT INTO images (case_id, name, mime, width, height, bytes, sealed, file_offset, file_len) \
                     VALUES (?1, ?2, ?3, ?4, ?5, x'', 1, ?6, ?7)",
                )?;
                for (img, (offset, len)) in sub.images.iter().zip(&places) {
                    stmt.execute(params![next_id, img.name, img.format.mime(), img.width, img.height, offset, len])?;
                }
                drop(stmt);
                tx.commit()?;
                Ok(())
            })();
            if let Err(e) = rows {
                let _ = self.files.remove(next_id);
                return Err(e);
            }
            if let Some(hash) = sub.selfie_hash {
                selfies.insert(Hashed {
                    case_id: next_id,
                    user: crate::phash::user_key(&vault.tag("user", &sub.user_id)),
                    hash,
                });
            }
            drop(selfies);
            Ok(Inserted::New(summary(conn, vault, next_id)?))
        })
    }

    /// Finds a case by numeric id or by reference.
    pub fn resolve(&self, key: &str) -> Result<i64, CoreError> {
        self.read(|c| {
            let id = match key.parse::<i64>() {
                Ok(id) => c
                    .query_row("SELECT id FROM cases WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?,
                Err(_) => c
                    .query_row("SELECT id FROM cases WHERE reference = ?1", [key], |r| {
                        r.get(0)
                    })
                    .optional()?,
            };
            id.ok_or_else(|| CoreError::NotFound(key.to_string()))
        })
    }

    pub fn summary(&self, id: i64) -> Result<CaseSummary, CoreError> {
        self.read(|c| summary(c, &self.vault, id))
    }

    pub fn list(&self, q: &CaseQuery) -> Result<CasePage, CoreError> {
        let limit = q.limit.clamp(1, 500);
        let ascending = q.status.as_deref() == Some("pending");
        let mut sql = format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = &q.status {
            args.push(s.clone().into());
            sql += &format!(" AND status = ?{}", args.len());
        }
        if let Some(r) = &q.requester_id {
            args.push(r.clone().into());
            sql += &format!(" AND requester_id = ?{}", args.len());
        }
        if let Some(u) = &q.user_id {
            args.push(self.vault.tag("user", u).into());
            sql += &format!(" AND user_tag = ?{}", args.len());
        }
        if let Some(f) = &q.flag {
            // A common flag: walk the cases in page order and look each one up (a page fills
            // quickly). A rare one: start from its few cases and sort them.
            let common = self.read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) > ?2 FROM (SELECT 1 FROM case_flags WHERE code = ?1 LIMIT ?2 + 1)",
                    params![f, RARE_FLAG_CASES],
                    |r| r.get::<_, bool>(0),
                )?)
            })?;
            args.push(f.clone().into());
            sql += &if common {
                format!(
                    " AND EXISTS (SELECT 1 FROM case_flags WHERE code = ?{} AND case_id = cases.id)",
                    args.len()
                )
            } else {
                format!(
                    " AND cases.id IN (SELECT case_id FROM case_flags WHERE code = ?{})",
                    args.len()
                )
            };
        }
        if let Some(t) = &q.document_type {
            args.push(t.clone().into());
            sql += &format!(" AND document_type = ?{}", args.len());
        }
        if let Some(a) = &q.assignee {
            args.push(a.clone().into());
            sql += &format!(" AND assignee = ?{}", args.len());
        }
        if q.awaiting_second {
            sql += " AND status = 'pending' AND EXISTS (SELECT 1 FROM decisions WHERE \
                    decisions.case_id = cases.id AND final = 0 AND decision = 'approve')";
        }
        if let Some(ids) = &q.ids {
            // A few held cases: numbers written into the statement, never text.
            let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            sql += &format!(" AND cases.id IN ({list})");
        }
        if let Some(from) = q.from_ms {
            args.push(from.into());
            sql += &format!(" AND received_at >= ?{}", args.len());
        }
        if let Some(to) = q.to_ms {
            args.push(to.into());
            sql += &format!(" AND received_at < ?{}", args.len());
        }
        match q.answered_by.as_deref() {
            None => {}
            Some("none") => sql += " AND answer_by IS NULL",
            Some(by) => {
                args.push(by.to_string().into());
                sql += &format!(" AND answer_by = ?{}", args.len());
            }
        }
        if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
            let n = args.len();
            args.push(self.vault.tag("user", text).into());
            let user = args.len();
            // Names and document numbers are sealed: they match by whole words through their
            // blind-index tags (every word of the search must be one of the case's words).
            let mut by_tags = String::from("0");
            if let Some(tags) = self.vault.query_tags(text) {
                let k = tags.len();
                let mut marks = Vec::new();
                for t in tags {
                    args.push(t.into());
                    marks.push(format!("?{}", args.len()));
                }
                by_tags = format!(
                    "(SELECT count(DISTINCT tag) FROM search_tags WHERE case_id = cases.id AND tag IN ({})) = {k}",
                    marks.join(", ")
                );
            }
            sql += &format!(
                " AND (reference LIKE ?{n} ESCAPE '\\' OR requester_id LIKE ?{n} ESCAPE '\\' \
                                  OR user_tag = ?{user} OR {by_tags})"
            );
        }
        // The first page also says how many cases match, counted up to a cap (a count must not
        // cost more than the page).
        let count_sql = (q.count && q.cursor.is_none()).then(|| {
            let filters = &sql[sql.find(" WHERE 1=1").unwrap_or(0)..];
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM cases{filters} LIMIT {})",
                TOTAL_CAP + 1
            )
        });
        if let Some(cursor) = q.cursor {
            args.push(cursor.into());
            sql += &format!(
                " AND cases.id {} ?{}",
                if ascending { ">" } else { "<" },
                args.len()
            );
        }
        sql += &format!(
            " ORDER BY cases.id {} LIMIT {}",
            if ascending { "ASC" } else { "DESC" },
            limit + 1
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let mut cases = stmt
                .query_map(
                    rusqlite::params_from_iter(args.iter()),
                    summary_from_row(&self.vault),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let next = if cases.len() > limit as usize {
                cases.truncate(limit as usize);
                cases.last().map(|c| c.id.to_string())
            } else {
                None
            };
            let (total, total_capped) = match &count_sql {
                Some(count) => match count_within(c, count, &args, COUNT_BUDGET)? {
                    Some(n) => (Some(n.min(TOTAL_CAP)), n > TOTAL_CAP),
                    None => (None, true),
                },
                None => (None, false),
            };
            Ok(CasePage {
                cases,
                next,
                held: Vec::new(),
                needs_review: Vec::new(),
                total,
                total_capped,
            })
        })
    }

    /// The stored raw payload (images as markers).
    pub fn raw_json(&self, id: i64) -> Result<String, CoreError> {
        Ok(self.payload_json(id)?.0)
    }

    /// The stored raw payload and, for a custom body, the model it was mapped into (None for a
    /// default body), read and opened together.
    pub fn payload_json(&self, id: i64) -> Result<(String, Option<String>), CoreError> {
        self.read(|c| {
            let (raw, model): (Vec<u8>, Option<Vec<u8>>) = c
                .query_row("SELECT raw, model FROM cases WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?
                .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
            let key = self.case_key(c, id)?;
            Ok((
                open_text(&key, SealField::Raw, &raw)?,
                model
                    .map(|m| open_text(&key, SealField::Model, &m))
                    .transpose()?,
            ))
        })
    }

    /// The case's data key, unwrapped; NotFound once the case is erased.
    /// A case's summary read on `c` (inside a write, after its commit).
    pub(crate) fn summary_in(&self, c: &Connection, id: i64) -> Result<CaseSummary, CoreError> {
        summary(c, &self.vault, id)
    }

    pub(crate) fn case_key(&self, c: &Connection, id: i64) -> Result<CaseKey, CoreError> {
        case_key_in(c, &self.vault, id)
    }

    pub fn images(&self, id: i64) -> Result<Vec<ImageInfo>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name, mime, width, height, COALESCE(file_len, length(bytes)) - ?2 FROM images \
                 WHERE case_id = ?1 ORDER BY name",
            )?;
            let rows = stmt.query_map(params![id, kyc_crypto::vault::SEAL_OVERHEAD], |r| {
                Ok(ImageInfo {
                    name: r.get(0)?,
                    mime: r.get(1)?,
                    width: r.get(2)?,
                    height: r.get(3)?,
                    size: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    pub fn image(&self, id: i64, name: &str) -> Result<(String, Vec<u8>), CoreError> {
        self.read(|c| {
            let (mime, inline, place): (String, Vec<u8>, Option<(i64, i64)>) = c
                .query_row(
                    "SELECT mime, bytes, file_offset, file_len FROM images WHERE case_id = ?1 AND name = ?2",
                    params![id, name],
                    |r| Ok((r.get(0)?, r.get(1)?, file_place(r, 2)?)),
                )
                .optional()?
                .ok_or_else(|| CoreError::NotFound(format!("{id}/images/{name}")))?;
            let sealed = self.sealed_image(id, name, inline, place)?;
            let bytes = self.case_key(c, id)?.open(SealField::Image(name), &sealed)?;
            Ok((mime, bytes))
        })
    }

    /// A sealed image as stored: inline in its row (cases from before image files) or in the
    /// case's file at `place` (offset, length).
    fn sealed_image(
        &self,
        id: i64,
        name: &str,
        inline: Vec<u8>,
        place: Option<(i64, i64)>,
    ) -> Result<Vec<u8>, CoreError> {
        match place {
            None => Ok(inline),
            Some((offset, len)) => self
                .files
                .read(id, offset as u64, len as u64)
                .map_err(|e| CoreError::Internal(format!("case {id}: image file {name}: {e}"))),
        }
    }

    /// Whether a stored case holds the same content as a submission (a repeated POST): the same
    /// JSON (images as markers) and the same image bytes. Only read when a requester id repeats.
    fn same_content(&self, c: &Connection, id: i64, sub: &Submission) -> Result<bool, CoreError> {
        let key = case_key_in(c, &self.vault, id)?;
        let raw: Vec<u8> =
            c.query_row("SELECT raw FROM cases WHERE id = ?1", [id], |r| r.get(0))?;
        if key.open(SealField::Raw, &raw)? != sub.raw_json.as_bytes() {
            return Ok(false);
        }
        let mut stmt = c.prepare(
            "SELECT name, bytes, file_offset, file_len FROM images WHERE case_id = ?1 ORDER BY name",
        )?;
        let stored = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    file_place(r, 2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if stored.len() != sub.images.len() {
            return Ok(false);
        }
        for (name, inline, place) in stored {
            let Some(new) = sub.images.iter().find(|i| i.name == name) else {
                return Ok(false);
            };
            let sealed = self.sealed_image(id, &name, inline, place)?;
            if key.open(SealField::Image(&name), &sealed)? != new.bytes {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub fn decisions(&self, id: i64) -> Result<Vec<DecisionRecord>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT decision, reasons, comment_sealed, by_kind, by_user, decided_at, rule, link_sealed, final, id \
                 FROM decisions WHERE case_id = ?1 ORDER BY id",
            )?;
            let key = self.case_key(c, id)?;
            let rows = stmt.query_map([id], |r| {
                let reasons: String = r.get(1)?;
                let sealed: Option<Vec<u8>> = r.get(2)?;
                let row_id: i64 = r.get(9)?;
                let comment = match sealed {
                    Some(s) => open_text(&key, SealField::Comment(row_id), &s).map_err(sealed_err)?,
                    None => String::new(),
                };
                let link: Option<Vec<u8>> = r.get(7)?;
                let link_user_id = match link {
                    Some(l) => Some(open_text(&key, SealField::Link(row_id), &l).map_err(sealed_err)?),
                    None => None,
                };
                Ok(DecisionRecord {
                    decision: r.get(0)?,
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                    comment,
                    by: r.get(3)?,
                    by_user: r.get(4)?,
                    at: rfc3339(r.get(5)?),
                    rule: r.get(6)?,
                    link_user_id,
                    is_final: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Records a decision on a pending case; `AlreadyDecided` otherwise. With `notify`, the webhook
    /// delivery is queued in the same transaction (it cannot be lost between the two).
    ///
    /// With `four_eyes`, an approval becomes final only when a different person already approved;
    /// the first approval is recorded as not final and the case stays pending.
    pub fn decide(
        &self,
        id: i64,
        d: &NewDecision,
        notify: bool,
        four_eyes: bool,
    ) -> Result<CaseSummary, CoreError> {
        let vault = &self.vault;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, Option<String>)> = tx
                .query_row("SELECT status, assignee FROM cases WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let assignee = match row {
                None => return Err(CoreError::NotFound(id.to_string())),
                Some((status, assignee)) if status == "pending" => assignee,
                Some(_) => return Err(CoreError::AlreadyDecided(id.to_string())),
            };
            if let (Some(a), Some(u)) = (&assignee, &d.by_user) {
                // A second approval (four-eyes) is by definition someone else's.
                let awaiting_second: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM decisions WHERE case_id = ?1 AND final = 0)",
                    [id],
                    |r| r.get(0),
                )?;
                if d.respect_assignment && a != u && !awaiting_second {
                    return Err(CoreError::AssignedElsewhere(a.clone()));
                }
            }
            let (decision, status) = if d.approve { ("approve", "approved") } else { ("reject", "rejected") };
            let by_kind = if d.by_user.is_some() { "reviewer" } else { "auto" };
            let now = now_ms();
            if d.approve && four_eyes {
                let first: Option<String> = tx
                    .query_row(
                        "SELECT by_user FROM decisions WHERE case_id = ?1 AND final = 0 AND decision = 'approve' \
                         ORDER BY id DESC LIMIT 1",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                match first {
                    Some(u) if Some(&u) == d.by_user.as_ref() => {
                        return Err(CoreError::FourEyes);
                    }
                    Some(_) => {}
                    None => {
                        insert_decision(&tx, vault, id, d, now, false)?;
                        crate::audit::append(&tx, &self.vault,
                            d.by_user.as_deref().unwrap_or("policy"),
                            "case.first_approval",
                            Some(id),
                            &serde_json::json!({"four_eyes": true}),
                        )?;
                        tx.commit()?;
                        return summary(conn, vault, id);
                    }
                }
            }
            insert_decision(&tx, vault, id, d, now, true)?;
            tx.execute("UPDATE cases SET status = ?2 WHERE id = ?1", params![id, status])?;
            crate::audit::append(&tx, &self.vault,
                d.by_user.as_deref().unwrap_or("policy"),
                "case.decided",
                Some(id),
                &serde_json::json!({"decision": decision, "reasons": d.reasons, "rule": d.rule, "linked_user_id": d.link_user_id.is_some()}),
            )?;
            if notify {
                let case = summary(&tx, vault, id)?;
                let body = serde_json::json!({
                    "event": "case.decided",
                    "reference": case.reference,
                    "requester_id": case.requester_id,
                    "user_id": case.user_id,
                    "linked_user_id": d.link_user_id,
                    "decision": decision,
                    "reasons": d.reasons,
                    "decided_by": by_kind,
                    "rule": d.rule,
                    "decided_at": rfc3339(now),
                    // Late: Ditto ID had already been answered (by the timeout fallback).
                    "late": case.answer.is_some(),
                    "ditto_answer": case.answer.as_ref().map(|a| serde_json::json!({"result": a.result, "by": a.by, "at": a.at})),
                });
                tx.execute(
                    "INSERT INTO deliveries (case_id, event, body, next_at, created_at) VALUES (?1, 'case.decided', '', ?2, ?2)",
                    params![id, now],
                )?;
                let delivery = tx.last_insert_rowid();
                let sealed = case_key_in(&tx, vault, id)?
                    .seal(SealField::Delivery(delivery), body.to_string().as_bytes());
                tx.execute(
                    "UPDATE deliveries SET body_sealed = ?2 WHERE id = ?1",
                    params![delivery, sealed],
                )?;
            }
            tx.commit()?;
            summary(conn, vault, id)
        })
    }

    /// Fixes the answer Ditto ID gets, once: the stored answer if any; else the decision if the case
    /// is decided; else `fallback` (the timeout answer) if given; else None (still waiting).
    pub fn settle_answer(
        &self,
        id: i64,
        fallback: Option<bool>,
    ) -> Result<Option<Answer>, CoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (status, answered): (String, Option<bool>) = tx
                .query_row(
                    "SELECT status, answer_result FROM cases WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
            if answered.is_none() {
                let settled = match status.as_str() {
                    "pending" => fallback.map(|r| (r, "timeout".to_string(), None)),
                    decided => {
                        let (by, link, row): (String, Option<Vec<u8>>, i64) = tx.query_row(
                            "SELECT by_kind, link_sealed, id FROM decisions WHERE case_id = ?1 AND final = 1 \
                             ORDER BY id DESC LIMIT 1",
                            [id],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )?;
                        Some((decided == "approved", by, link.map(|l| (row, l))))
                    }
                };
                let Some((result, by, link)) = settled else {
                    return Ok(None);
                };
                let key = case_key_in(&tx, &self.vault, id)?;
                let user_id = match link {
                    Some((row, sealed)) => open_text(&key, SealField::Link(row), &sealed)?,
                    None => {
                        let pii: Vec<u8> =
                            tx.query_row("SELECT pii FROM cases WHERE id = ?1", [id], |r| r.get(0))?;
                        open_json::<Pii>(&key, SealField::Pii, &pii)?.user_id
                    }
                };
                tx.execute(
                    "UPDATE cases SET answer_result = ?2, answer_at = ?3, answer_by = ?4, answer_user = ?5 \
                     WHERE id = ?1",
                    params![id, result, now_ms(), by, key.seal(SealField::AnswerUser, user_id.as_bytes())],
                )?;
                crate::audit::append(&tx, &self.vault, "system", "case.answered", Some(id), &serde_json::json!({"result": result, "by": by}))?;
                tx.commit()?;
            } else {
                drop(tx);
            }
            Ok(summary(conn, &self.vault, id)?.answer)
        })
    }

    /// For exports: the sealed user id of a case (from its wrapped key and `pii`) and a decision's
    /// sealed linked user id.
    pub(crate) fn open_user_ids(
        &self,
        case_id: i64,
        wrapped: &[u8],
        pii: &[u8],
        link: Option<(i64, Vec<u8>)>,
    ) -> Result<(String, Option<String>), CoreError> {
        let key = self.vault.unwrap_case_key(case_id, wrapped)?;
        let user = open_json::<Pii>(&key, SealField::Pii, pii)?.user_id;
        let link = match link {
            Some((row, sealed)) => Some(open_text(&key, SealField::Link(row), &sealed)?),
            None => None,
        };
        Ok((user, link))
    }

    pub(crate) fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        self.write(f)
    }

    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        self.read(f)
    }

    /// Webhook deliveries due now (oldest first).
    pub fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<DueDelivery>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, case_id, body_sealed, attempts FROM deliveries WHERE status = 'pending' AND next_at <= ?1 \
                 ORDER BY next_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now, limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?, r.get(3)?))
            })?;
            let mut due = Vec::new();
            for row in rows {
                let (id, case_id, sealed, attempts) = row?;
                let key = case_key_in(c, &self.vault, case_id)?;
                let body = open_text(&key, SealField::Delivery(id), &sealed)?;
                due.push(DueDelivery { id, body, attempts });
            }
            Ok(due)
        })
    }

    /// When the next pending delivery is due, if any.
    pub fn next_delivery_at(&self) -> Result<Option<i64>, CoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT min(next_at) FROM deliveries WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Records one attempt: delivered, retry at `retry_at`, or (None) failed for good.
    pub fn delivery_attempt(
        &self,
        id: i64,
        delivered: bool,
        http_status: Option<u16>,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<(), CoreError> {
        self.write(|c| {
            let now = now_ms();
            let (status, next_at) = match (delivered, retry_at) {
                (true, _) => ("delivered", now),
                (false, Some(at)) => ("pending", at),
                (false, None) => ("failed", now),
            };
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1, status = ?2, next_at = ?3, last_status = ?4, \
                 last_error = ?5, delivered_at = CASE WHEN ?2 = 'delivered' THEN ?6 ELSE delivered_at END WHERE id = ?1",
                params![id, status, next_at, http_status, error, now],
            )?;
            Ok(())
        })
    }

    /// Queues a delivery again now (manual resend, whatever its state).
    pub fn resend_delivery(&self, id: i64) -> Result<(), CoreError> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE deliveries SET status = 'pending', next_at = ?2, attempts = 0 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            if n == 0 {
                return Err(CoreError::NotFound(format!("delivery {id}")));
            }
            Ok(())
        })
    }

    /// The delivery log, newest first, optionally for one case.
    pub fn deliveries(
        &self,
        case_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryInfo>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, case_id, event, status, attempts, next_at, last_status, last_error, created_at, delivered_at \
                 FROM deliveries WHERE ?1 IS NULL OR case_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![case_id, limit], |r| {
                Ok(DeliveryInfo {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    event: r.get(2)?,
                    status: r.get(3)?,
                    attempts: r.get(4)?,
                    next_at: rfc3339(r.get(5)?),
                    last_status: r.get(6)?,
                    last_error: r.get(7)?,
                    created_at: rfc3339(r.get(8)?),
                    delivered_at: r.get::<_, Option<i64>>(9)?.map(rfc3339),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Several cases by id (those that still exist), in the given order.
    pub fn summaries(&self, ids: &[i64]) -> Result<Vec<CaseSummary>, CoreError> {
        self.read(|c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match summary(c, &self.vault, *id) {
                    Ok(s) => out.push(s),
                    Err(CoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
    }

    /// The document types seen (for the queue's filter).
    pub fn document_types(&self) -> Result<Vec<String>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT document_type FROM cases WHERE document_type IS NOT NULL ORDER BY 1 LIMIT 100",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Assigns a pending case to `to` (None: unassigned), as `by`. The target must be an account
    /// that may decide. Returns the updated summary.
    pub fn assign(&self, id: i64, to: Option<&str>, by: &str) -> Result<CaseSummary, CoreError> {
        let vault = &self.vault;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if case_status(&tx, id)? != "pending" {
                return Err(CoreError::AlreadyDecided(id.to_string()));
            }
            if let Some(name) = to {
                let role: Option<String> = tx
                    .query_row("SELECT role FROM users WHERE name = ?1", [name], |r| {
                        r.get(0)
                    })
                    .optional()?;
                let may_decide = role
                    .and_then(|r| r.parse::<kyc_domain::roles::Role>().ok())
                    .is_some_and(|r| r.may(kyc_domain::roles::Permission::Decide));
                if !may_decide {
                    return Err(CoreError::BadRequest(format!(
                        "to: {name:?} is not an account that may decide cases"
                    )));
                }
            }
            tx.execute(
                "UPDATE cases SET assignee = ?2 WHERE id = ?1",
                params![id, to],
            )?;
            crate::audit::append(
                &tx,
                &self.vault,
                by,
                "case.assigned",
                Some(id),
                &serde_json::json!({"to": to}),
            )?;
            tx.commit()?;
            summary(conn, vault, id)
        })
    }

    /// Erases a case (crypto-shredding): its wrapped key, sealed data, images, decisions, search
    /// tags and webhook deliveries go in one transaction, deleted rows are overwritten
    /// (`secure_delete`), and the WAL is checkpointed and truncated. The audit trail keeps the id,
    /// the reference and the event. Returns the reference.
    /// Returns the reference, and whether the erasure is complete: false while a reader's
    /// snapshot keeps the WAL from being truncated (then [`Store::finish_erasures`] completes it).
    pub fn erase(&self, id: i64, by: &str, reason: &str) -> Result<(String, bool), CoreError> {
        let (mut refs, complete) = self.erase_all(&[id], by, reason)?;
        Ok((refs.remove(0), complete))
    }

    /// Erases several cases, one transaction each, then checkpoints the WAL once; false when the
    /// erasures are still pending.
    pub fn erase_all(
        &self,
        ids: &[i64],
        by: &str,
        reason: &str,
    ) -> Result<(Vec<String>, bool), CoreError> {
        let mut refs = Vec::with_capacity(ids.len());
        for &id in ids {
            refs.push(self.erase_rows(id, by, reason)?);
        }
        let complete = self.finish_erasures()?;
        Ok((refs, complete))
    }

    /// Completes the pending erasures: checkpoints and truncates the WAL (waiting at most
    /// `ERASURE_WAIT` for readers), then audits each as `case.erasure_completed`. False when a
    /// reader still holds an older snapshot (nothing changed; try again later).
    pub fn finish_erasures(&self) -> Result<bool, CoreError> {
        self.write(|conn| {
            conn.busy_timeout(ERASURE_WAIT)?;
            let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            if busy? != 0 {
                return Ok(false);
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let pending: Vec<(i64, String)> = tx
                .prepare("SELECT case_id, reference FROM pending_erasures ORDER BY case_id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, reference) in &pending {
                tx.execute("DELETE FROM pending_erasures WHERE case_id = ?1", [id])?;
                crate::audit::append(
                    &tx,
                    &self.vault,
                    "system",
                    "case.erasure_completed",
                    Some(*id),
                    &serde_json::json!({"reference": reference}),
                )?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    /// Whether erasures are waiting for readers to let go of the WAL.
    pub fn erasures_pending(&self) -> Result<bool, CoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT EXISTS (SELECT 1 FROM pending_erasures)", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    fn erase_rows(&self, id: i64, by: &str, reason: &str) -> Result<String, CoreError> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let reference: String = tx
                .query_row("SELECT reference FROM cases WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?
                .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
            tx.execute("DELETE FROM case_keys WHERE case_id = ?1", [id])?;
            tx.execute("DELETE FROM cases WHERE id = ?1", [id])?;
            tx.execute(
                "INSERT OR REPLACE INTO pending_erasures (case_id, reference, requested_at) \
                 VALUES (?1, ?2, ?3)",
                params![id, reference, now_ms()],
            )?;
            crate::audit::append(&tx, &self.vault,
                by,
                "case.erased",
                Some(id),
                &serde_json::json!({"reference": reference, "reason": reason}),
            )?;
            tx.commit()?;
            if let Ok(mut selfies) = self.selfies.lock() {
                selfies.erase(id);
            }
            if let Err(e) = self.files.remove(id) {
                // The key is gone, so the file is unreadable; the next start sweeps it away.
                tracing::warn!(case = id, error = %e, "could not remove the erased case's image file");
            }
            Ok(reference)
        })
    }

    /// Decided cases whose final decision is older than `keep_ms` at `now_ms` (oldest first).
    pub fn expired_cases(
        &self,
        now_ms: i64,
        keep_ms: i64,
        limit: u32,
    ) -> Result<Vec<i64>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT cases.id FROM cases JOIN decisions ON decisions.case_id = cases.id AND decisions.final = 1 \
                 WHERE cases.status <> 'pending' GROUP BY cases.id HAVING max(decisions.decided_at) < ?1 \
                 ORDER BY cases.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms - keep_ms, limit], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Copies the WAL into the database file and truncates it (best effort: readers may hold it).
    /// Number of cases (for tests and status lines).
    pub fn count(&self) -> Result<i64, CoreError> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?))
    }
}

fn summary(c: &Connection, vault: &Vault, id: i64) -> Result<CaseSummary, CoreError> {
    c.query_row(
        &format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE cases.id = ?1"),
        [id],
        summary_from_row(vault),
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound(id.to_string()))
}

/// An image row's (offset, length) in its case file, read from columns `at` and `at + 1`; None
/// when the image is inline.
fn file_place(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<(i64, i64)>> {
    Ok(match (r.get(at)?, r.get(at + 1)?) {
        (Some(o), Some(l)) => Some((o, l)),
        _ => None,
    })
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
) -> Result<T, CoreError> {
    Ok(key.open_json(field, &Sealed::<T>::from_stored(sealed.to_vec()))?)
}

/// Opens a column that holds sealed text.
fn open_text(key: &CaseKey, field: SealField<'_>, sealed: &[u8]) -> Result<String, CoreError> {
    Ok(key.open_text(field, &Sealed::from_stored(sealed.to_vec()))?)
}

/// A `T` sealed as JSON, as its column stores it.
fn seal_json<T: Serialize>(
    key: &CaseKey,
    field: SealField<'_>,
    value: &T,
) -> Result<Vec<u8>, CoreError> {
    Ok(key.seal_json(field, value)?.into_bytes())
}

fn insert_tags(c: &Connection, id: i64, tags: &[Vec<u8>]) -> Result<(), CoreError> {
    let mut stmt =
        c.prepare_cached("INSERT OR IGNORE INTO search_tags (tag, case_id) VALUES (?1, ?2)")?;
    for t in tags {
        stmt.execute(params![t, id])?;
    }
    Ok(())
}

fn case_key_in(c: &Connection, vault: &Vault, id: i64) -> Result<CaseKey, CoreError> {
    let wrapped: Vec<u8> = c
        .query_row(
            "SELECT wrapped FROM case_keys WHERE case_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
    Ok(vault.unwrap_case_key(id, &wrapped)?)
}

/// Records one decision row; the comment (free text, may name the person) is sealed.
fn insert_decision(
    tx: &Connection,
    vault: &Vault,
    id: i64,
    d: &NewDecision,
    now: i64,
    is_final: bool,
) -> Result<(), CoreError> {
    let reasons =
        serde_json::to_string(&d.reasons).map_err(|e| CoreError::Internal(e.to_string()))?;
    let decision = if d.approve { "approve" } else { "reject" };
    let by_kind = if d.by_user.is_some() {
        "reviewer"
    } else {
        "auto"
    };
    tx.execute(
        "INSERT INTO decisions (case_id, decision, reasons, comment, by_kind, by_user, decided_at, rule, final) \
         VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, ?7, ?8)",
        params![id, decision, reasons, by_kind, d.by_user, now, d.rule, is_final],
    )?;
    let row = tx.last_insert_rowid();
    let key = case_key_in(tx, vault, id)?;
    let comment =
        (!d.comment.is_empty()).then(|| key.seal(SealField::Comment(row), d.comment.as_bytes()));
    let link = d
        .link_user_id
        .as_ref()
        .map(|l| key.seal(SealField::Link(row), l.as_bytes()));
    tx.execute(
        "UPDATE decisions SET comment_sealed = ?2, link_sealed = ?3 WHERE id = ?1",
        params![row, comment, link],
    )?;
    Ok(())
}

/// Opens the vault against this database: the passphrase salt is created on first use, and the
/// stored check value tells a wrong key or passphrase apart from damage.
fn unlock(conn: &Connection, master: MasterKey) -> Result<Vault, CoreError> {
    let meta = |k: &str| -> Result<Option<Vec<u8>>, CoreError> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()?)
    };
    let put = |k: &str, v: &[u8]| -> Result<(), CoreError> {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![k, v],
        )?;
        Ok(())
    };
    let salt = match (master.needs_salt(), meta("passphrase_salt")?) {
        (false, _) => Vec::new(),
        (true, Some(s)) => s,
        (true, None) => {
            let mut s = vec![0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut s);
            put("passphrase_salt", &s)?;
            s
        }
    };
    let (vault, source) = (master.unlock(&salt)?, master.source());
    match meta("key_check")? {
        Some(check) if vault.verify_check_value(&check) => Ok(vault),
        Some(_) => {
            let was = meta("key_source")?.map(|v| String::from_utf8_lossy(&v).into_owned());
            Err(CoreError::Config(format!(
                "storage: the master key does not open this database (it was sealed with a {} key; \
                 wrong passphrase or key file?)",
                was.as_deref().unwrap_or("different")
            )))
        }
        None => {
            put("key_check", &vault.check_value())?;
            put("key_source", source.as_bytes())?;
            Ok(vault)
        }
    }
}

/// Removes image files that no committed case points to (a crash between the file and the commit,
/// or an interrupted removal after an erasure).
///
/// Runs holding the write lock: another process on the same database (the service while the CLI
/// opens the store) writes a case's file inside its write transaction, so no file is half-way
/// to its commit while this looks.
fn sweep_image_files(conn: &mut Connection, files: &ImageFiles) -> Result<(), CoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let live = {
        let mut stmt =
            tx.prepare("SELECT DISTINCT case_id FROM images WHERE file_len IS NOT NULL")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, i64>(0))?
            .collect::<Result<std::collections::HashSet<i64>, _>>()?;
        ids
    };
    let removed = files.sweep(|id| live.contains(&id))?;
    drop(tx);
    if removed > 0 {
        tracing::info!(
            files = removed,
            "removed image files of cases that never committed"
        );
    }
    Ok(())
}

/// Seals cases stored in the clear by a version before encryption at rest, then vacuums so no
/// plaintext stays behind in free pages.
fn seal_plaintext_rows(conn: &mut Connection, vault: &Vault) -> Result<(), CoreError> {
    let legacy: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT id FROM cases WHERE pii IS NULL")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if legacy.is_empty() {
        return Ok(());
    }
    tracing::info!(
        cases = legacy.len(),
        "sealing cases stored before encryption at rest"
    );
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    for id in legacy {
        type Plain = (
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            Option<String>,
        );
        let (name, number, flags, raw, user_id, answer_user): Plain = tx.query_row(
            "SELECT holder_name, document_number, flags, raw_json, user_id, answer_user_id FROM cases WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?;
        let flags: Vec<Flag> = serde_json::from_str(&flags).unwrap_or_default();
        let (key, wrapped) = vault.new_case_key(id);
        tx.execute(
            "INSERT INTO case_keys (case_id, wrapped) VALUES (?1, ?2)",
            params![id, wrapped],
        )?;
        insert_tags(
            &tx,
            id,
            &vault.search_tags(name.as_deref(), number.as_deref()),
        )?;
        let user_tag = vault.tag("user", &user_id);
        let pii = Pii {
            user_id,
            holder_name: name,
            document_number: number.clone(),
            flags,
        };
        tx.execute(
            "UPDATE cases SET pii = ?2, raw = ?3, document_tag = ?4, flags = ?5, user_tag = ?6, answer_user = ?7, \
             holder_name = NULL, document_number = NULL, raw_json = '', user_id = '', answer_user_id = NULL \
             WHERE id = ?1",
            params![
                id,
                seal_json(&key, SealField::Pii, &pii)?,
                key.seal(SealField::Raw, raw.as_bytes()),
                number.map(|n| vault.tag("document", &n)),
                flag_codes(&pii.flags),
                user_tag,
                answer_user.map(|u| key.seal(SealField::AnswerUser, u.as_bytes())),
            ],
        )?;
        let images: Vec<(String, Vec<u8>)> = {
            let mut stmt =
                tx.prepare("SELECT name, bytes FROM images WHERE case_id = ?1 AND sealed = 0")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (name, bytes) in images {
            tx.execute(
                "UPDATE images SET bytes = ?3, sealed = 1 WHERE case_id = ?1 AND name = ?2",
                params![id, name, key.seal(SealField::Image(&name), &bytes)],
            )?;
        }
        let decisions: Vec<(i64, String, Option<String>)> = {
            let mut stmt =
                tx.prepare("SELECT id, comment, link_user_id FROM decisions WHERE case_id = ?1")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (row, comment, link) in decisions {
            let comment = (!comment.is_empty())
                .then(|| key.seal(SealField::Comment(row), comment.as_bytes()));
            let link = link.map(|l| key.seal(SealField::Link(row), l.as_bytes()));
            tx.execute(
                "UPDATE decisions SET comment = '', comment_sealed = ?2, link_user_id = NULL, link_sealed = ?3 WHERE id = ?1",
                params![row, comment, link],
            )?;
        }
        let deliveries: Vec<(i64, String)> = {
            let mut stmt = tx.prepare("SELECT id, body FROM deliveries WHERE case_id = ?1")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (row, body) in deliveries {
            tx.execute(
                "UPDATE deliveries SET body = '', body_sealed = ?2 WHERE id = ?1",
                params![row, key.seal(SealField::Delivery(row), body.as_bytes())],
            )?;
        }
    }
    tx.commit()?;
    conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_flag_filter_finds_the_same_cases_with_either_plan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE), MasterKey::Key([5; 32])).unwrap();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let with =
            |code: &str| crate::checks::Flag::new(code, crate::checks::Severity::Info, "test");
        let (mut common, mut rare) = (Vec::new(), Vec::new());
        for i in 0..6 {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 3, &today);
            let body = crate::ingest::OpenedBody::plain(sim.payload.to_string().into_bytes());
            let sub = crate::ingest::open(&body).unwrap();
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
    }

    #[test]
    fn case_numbers_are_never_reused_after_erasure_or_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let insert = |store: &Store, i: u64| {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 9, &today);
            let body = crate::ingest::OpenedBody::plain(sim.payload.to_string().into_bytes());
            let sub = crate::ingest::open(&body).unwrap();
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
        let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
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
            let body = crate::ingest::OpenedBody::plain(v.to_string().into_bytes());
            let sub = crate::ingest::open(&body).unwrap();
            match store.insert_case(&sub, &[], now_ms()).unwrap() {
                Inserted::New(case) => case,
                Inserted::Existing(_) => panic!("new case expected"),
            }
        };
        let first = insert(&sim);
        assert!(first.flags.is_empty(), "{:?}", first.flags);
        let codes = |c: &CaseSummary| c.flags.iter().map(|f| f.code.clone()).collect::<Vec<_>>();
        let second = insert(&twin);
        assert_eq!(codes(&second), ["document_reused", "selfie_reused"]);
        assert!(second.flags[0].message.contains(&first.reference));
        assert_eq!(
            second.flags[1].cases,
            std::slice::from_ref(&first.reference)
        );
        assert_eq!(second.flags[1].severity, crate::checks::Severity::Error);
        // The earlier case is flagged back, naming the new one.
        let first_now = store.summary(first.id).unwrap();
        assert_eq!(codes(&first_now), ["document_reused", "selfie_reused"]);
        assert_eq!(
            first_now.flags[0].cases,
            std::slice::from_ref(&second.reference)
        );
        // The same user again: only the other user's case counts as reuse.
        let third = insert(&again);
        assert_eq!(
            codes(&third),
            ["document_reused", "selfie_reused", "user_seen_before"]
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
                Ok(c.query_row(
                    "SELECT count(*) FROM image_hashes WHERE case_id = ?1",
                    [second.id],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(rows, 0);
        other["request_info"]["requester_id"] = "other-2".into();
        other["request_info"]["user_id"] = "fourth.user@example.com".into();
        let body = crate::ingest::OpenedBody::plain(other.to_string().into_bytes());
        let sub = crate::ingest::open(&body).unwrap();
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
            [],
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[10]).unwrap();
        let last: i64 = conn
            .query_row("SELECT last FROM counters WHERE name = 'case'", [], |r| {
                r.get(0)
            })
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
                                  '[{\"code\":\"face_mismatch\",\"severity\":\"high\",\"message\":\"Zelda?\"}]', '{\"name\":\"Zelda Quartermaine\"}')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO images (case_id, name, mime, width, height, bytes) VALUES (1, 'selfie', 'image/jpeg', 1, 1, x'FFD8FFE000104A46494600')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO decisions (case_id, decision, comment, by_kind, by_user, decided_at) \
                 VALUES (1, 'approve', 'Zelda called back', 'reviewer', 'rita', 0)",
                [],
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
