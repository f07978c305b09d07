//! SQLite storage: WAL with `synchronous=FULL`, embedded migrations, one writer connection and a
//! small pool of readers. A case and its images are written in one transaction, so a crash leaves
//! either the whole case or nothing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::checks::Flag;
use crate::error::CoreError;
use crate::ingest::Submission;
use crate::timefmt::{now_ms, rfc3339};

/// Embedded migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_initial.sql"),
    include_str!("../migrations/002_policy_links_deliveries.sql"),
    include_str!("../migrations/003_audit.sql"),
    include_str!("../migrations/004_four_eyes.sql"),
];

const READER_POOL: usize = 4;

pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

/// What Ditto ID was (or will be) answered for a case.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub result: bool,
    pub at: String,
    /// `reviewer`, `auto` or `timeout`.
    pub by: String,
    pub user_id: String,
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    pub reference: String,
    pub requester_id: String,
    pub user_id: String,
    pub status: String,
    pub received_at: String,
    pub holder_name: Option<String>,
    pub document_number: Option<String>,
    pub document_type: Option<String>,
    pub flags: Vec<Flag>,
    pub answer: Option<Answer>,
    /// While Ditto ID's request is held open: when the window closes (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageInfo {
    pub name: String,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    pub decision: String,
    pub reasons: Vec<String>,
    pub comment: String,
    /// `reviewer` or `auto`.
    pub by: String,
    pub by_user: Option<String>,
    pub at: String,
    /// For automatic decisions: the rule that decided (e.g. `auto_reject:document_expired`).
    pub rule: Option<String>,
    /// The user id the reviewer linked the Ditto ID user to (Ditto ID renames the user to it).
    pub link_user_id: Option<String>,
    /// False for a first approval still waiting for a second reviewer (four-eyes).
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub approve: bool,
    pub reasons: Vec<String>,
    pub comment: String,
    /// None for an automatic decision.
    pub by_user: Option<String>,
    /// For an automatic decision: which rule decided.
    pub rule: Option<String>,
    /// Answer Ditto ID with this user id instead of the one it sent (it renames its user).
    pub link_user_id: Option<String>,
}

/// One webhook delivery as the desk's log shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryInfo {
    pub id: i64,
    pub case_id: i64,
    pub event: String,
    pub status: String,
    pub attempts: u32,
    pub next_at: String,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// A delivery due for an attempt.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub body: String,
    pub attempts: u32,
}

#[derive(Debug)]
pub enum Inserted {
    New(CaseSummary),
    /// Same requester_id and same body: the earlier case.
    Existing(CaseSummary),
}

/// Filters of the case list.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// `pending`, `approved`, `rejected` or None for all.
    pub status: Option<String>,
    pub requester_id: Option<String>,
    pub user_id: Option<String>,
    pub q: Option<String>,
    /// Cases carrying a flag with this code.
    pub flag: Option<String>,
    pub document_type: Option<String>,
    /// Received at or after / before (unix ms).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// `reviewer`, `auto`, `timeout`, or `none` (not answered yet).
    pub answered_by: Option<String>,
    pub limit: u32,
    pub cursor: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CasePage {
    pub cases: Vec<CaseSummary>,
    pub next: Option<String>,
    /// On the first page: the cases Ditto ID is waiting on now (they also appear in `cases`
    /// where their order puts them).
    pub held: Vec<CaseSummary>,
}

const SUMMARY_COLS: &str =
    "id, reference, requester_id, user_id, status, received_at, holder_name, \
     document_number, document_type, flags, answer_result, answer_at, answer_by, answer_user_id";

fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CaseSummary> {
    let reference: String = row.get(1)?;
    let flags: String = row.get(9)?;
    let answer = match row.get::<_, Option<bool>>(10)? {
        Some(result) => Some(Answer {
            result,
            at: rfc3339(row.get(11)?),
            by: row.get(12)?,
            user_id: row.get(13)?,
            reference: reference.clone(),
        }),
        None => None,
    };
    Ok(CaseSummary {
        id: row.get(0)?,
        reference,
        requester_id: row.get(2)?,
        user_id: row.get(3)?,
        status: row.get(4)?,
        received_at: rfc3339(row.get(5)?),
        holder_name: row.get(6)?,
        document_number: row.get(7)?,
        document_type: row.get(8)?,
        flags: serde_json::from_str(&flags).unwrap_or_default(),
        answer,
        hold_until: None,
    })
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store, CoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
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
        Ok(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| CoreError::Internal("writer lock poisoned".into()))?;
        f(&mut conn)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, CoreError>) -> Result<T, CoreError> {
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

    /// Stores a new case with its images in one durable transaction, or finds the earlier one.
    pub fn insert_case(
        &self,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
    ) -> Result<Inserted, CoreError> {
        let flags_json =
            serde_json::to_string(flags).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let earlier: Option<(i64, Vec<u8>)> = tx
                .query_row(
                    "SELECT id, body_sha256 FROM cases WHERE requester_id = ?1",
                    [&sub.requester_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, sha)) = earlier {
                drop(tx);
                if sha == sub.body_sha256 {
                    return Ok(Inserted::Existing(summary(conn, id)?));
                }
                return Err(CoreError::Conflict(sub.requester_id.clone()));
            }
            let next_id: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM cases", [], |r| r.get(0))?;
            let year = crate::timefmt::year_of(received_at_ms);
            let reference = format!("KYC-{year}-{next_id:06}");
            let p = &sub.payload;
            tx.execute(
                "INSERT INTO cases (id, reference, requester_id, user_id, app_id, body_sha256, received_at, \
                 holder_name, document_number, document_type, flags, raw_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    next_id,
                    reference,
                    sub.requester_id,
                    sub.user_id,
                    sub.app_id,
                    &sub.body_sha256[..],
                    received_at_ms,
                    p.holder_name(),
                    p.document_number(),
                    p.document_type(),
                    flags_json,
                    sub.raw_json,
                ],
            )?;
            crate::audit::append(
                &tx,
                "ditto-id",
                "case.received",
                Some(next_id),
                &serde_json::json!({"reference": reference, "images": sub.images.len()}),
            )?;
            {
                let mut stmt = tx.prepare(
                    "INSERT INTO images (case_id, name, mime, width, height, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for img in &sub.images {
                    stmt.execute(params![next_id, img.name, img.format.mime(), img.width, img.height, img.bytes])?;
                }
            }
            tx.commit()?;
            Ok(Inserted::New(summary(conn, next_id)?))
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
        self.read(|c| summary(c, id))
    }

    pub fn list(&self, q: &CaseQuery) -> Result<CasePage, CoreError> {
        let limit = q.limit.clamp(1, 500);
        let ascending = q.status.as_deref() == Some("pending");
        let mut sql = format!("SELECT {SUMMARY_COLS} FROM cases WHERE 1=1");
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
            args.push(u.clone().into());
            sql += &format!(" AND user_id = ?{}", args.len());
        }
        if let Some(f) = &q.flag {
            args.push(f.clone().into());
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM json_each(cases.flags) WHERE json_extract(value, '$.code') = ?{})",
                args.len()
            );
        }
        if let Some(t) = &q.document_type {
            args.push(t.clone().into());
            sql += &format!(" AND document_type = ?{}", args.len());
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
            sql += &format!(
                " AND (reference LIKE ?{n} ESCAPE '\\' OR requester_id LIKE ?{n} ESCAPE '\\' \
                 OR user_id LIKE ?{n} ESCAPE '\\' OR holder_name LIKE ?{n} ESCAPE '\\' \
                 OR document_number LIKE ?{n} ESCAPE '\\')"
            );
        }
        if let Some(cursor) = q.cursor {
            args.push(cursor.into());
            sql += &format!(
                " AND id {} ?{}",
                if ascending { ">" } else { "<" },
                args.len()
            );
        }
        sql += &format!(
            " ORDER BY id {} LIMIT {}",
            if ascending { "ASC" } else { "DESC" },
            limit + 1
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let mut cases = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), summary_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let next = if cases.len() > limit as usize {
                cases.truncate(limit as usize);
                cases.last().map(|c| c.id.to_string())
            } else {
                None
            };
            Ok(CasePage {
                cases,
                next,
                held: Vec::new(),
            })
        })
    }

    /// The stored raw payload (images as markers).
    pub fn raw_json(&self, id: i64) -> Result<String, CoreError> {
        self.read(|c| {
            c.query_row("SELECT raw_json FROM cases WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| CoreError::NotFound(id.to_string()))
        })
    }

    pub fn images(&self, id: i64) -> Result<Vec<ImageInfo>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name, mime, width, height, length(bytes) FROM images WHERE case_id = ?1 ORDER BY name",
            )?;
            let rows = stmt.query_map([id], |r| {
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
            c.query_row(
                "SELECT mime, bytes FROM images WHERE case_id = ?1 AND name = ?2",
                params![id, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| CoreError::NotFound(format!("{id}/images/{name}")))
        })
    }

    pub fn decisions(&self, id: i64) -> Result<Vec<DecisionRecord>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT decision, reasons, comment, by_kind, by_user, decided_at, rule, link_user_id, final \
                 FROM decisions WHERE case_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id], |r| {
                let reasons: String = r.get(1)?;
                Ok(DecisionRecord {
                    decision: r.get(0)?,
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                    comment: r.get(2)?,
                    by: r.get(3)?,
                    by_user: r.get(4)?,
                    at: rfc3339(r.get(5)?),
                    rule: r.get(6)?,
                    link_user_id: r.get(7)?,
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
        let reasons =
            serde_json::to_string(&d.reasons).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let status: Option<String> = tx
                .query_row("SELECT status FROM cases WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            match status.as_deref() {
                None => return Err(CoreError::NotFound(id.to_string())),
                Some("pending") => {}
                Some(_) => return Err(CoreError::AlreadyDecided(id.to_string())),
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
                        tx.execute(
                            "INSERT INTO decisions (case_id, decision, reasons, comment, by_kind, by_user, decided_at, rule, link_user_id, final) \
                             VALUES (?1, 'approve', ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
                            params![id, reasons, d.comment, by_kind, d.by_user, now, d.rule, d.link_user_id],
                        )?;
                        crate::audit::append(
                            &tx,
                            d.by_user.as_deref().unwrap_or("policy"),
                            "case.first_approval",
                            Some(id),
                            &serde_json::json!({"four_eyes": true}),
                        )?;
                        tx.commit()?;
                        return summary(conn, id);
                    }
                }
            }
            tx.execute(
                "INSERT INTO decisions (case_id, decision, reasons, comment, by_kind, by_user, decided_at, rule, link_user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![id, decision, reasons, d.comment, by_kind, d.by_user, now, d.rule, d.link_user_id],
            )?;
            tx.execute("UPDATE cases SET status = ?2 WHERE id = ?1", params![id, status])?;
            crate::audit::append(
                &tx,
                d.by_user.as_deref().unwrap_or("policy"),
                "case.decided",
                Some(id),
                &serde_json::json!({"decision": decision, "reasons": d.reasons, "rule": d.rule, "linked_user_id": d.link_user_id.is_some()}),
            )?;
            if notify {
                let case = summary(&tx, id)?;
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
                    "INSERT INTO deliveries (case_id, event, body, next_at, created_at) VALUES (?1, 'case.decided', ?2, ?3, ?3)",
                    params![id, body.to_string(), now],
                )?;
            }
            tx.commit()?;
            summary(conn, id)
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
            let (status, answered, user_id): (String, Option<bool>, String) = tx
                .query_row(
                    "SELECT status, answer_result, user_id FROM cases WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
                .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
            if answered.is_none() {
                let settled = match status.as_str() {
                    "pending" => fallback.map(|r| (r, "timeout".to_string(), None)),
                    decided => {
                        let (by, link): (String, Option<String>) = tx.query_row(
                            "SELECT by_kind, link_user_id FROM decisions WHERE case_id = ?1 AND final = 1 \
                             ORDER BY id DESC LIMIT 1",
                            [id],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )?;
                        Some((decided == "approved", by, link))
                    }
                };
                let Some((result, by, link)) = settled else {
                    return Ok(None);
                };
                let user_id = link.unwrap_or(user_id);
                tx.execute(
                    "UPDATE cases SET answer_result = ?2, answer_at = ?3, answer_by = ?4, answer_user_id = ?5 \
                     WHERE id = ?1",
                    params![id, result, now_ms(), by, user_id],
                )?;
                crate::audit::append(&tx, "system", "case.answered", Some(id), &serde_json::json!({"result": result, "by": by}))?;
                tx.commit()?;
            } else {
                drop(tx);
            }
            Ok(summary(conn, id)?.answer)
        })
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

    /// Other users' cases with this document number (reference, user id), newest first.
    pub fn document_seen(
        &self,
        number: &str,
        except_user: &str,
    ) -> Result<Vec<(String, String)>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT reference, user_id FROM cases WHERE document_number = ?1 AND user_id <> ?2 \
                 ORDER BY id DESC LIMIT 5",
            )?;
            let rows =
                stmt.query_map(params![number, except_user], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Webhook deliveries due now (oldest first).
    pub fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<DueDelivery>, CoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, body, attempts FROM deliveries WHERE status = 'pending' AND next_at <= ?1 \
                 ORDER BY next_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now, limit], |r| {
                Ok(DueDelivery { id: r.get(0)?, body: r.get(1)?, attempts: r.get(2)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
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
                match summary(c, *id) {
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

    /// Number of cases (for tests and status lines).
    pub fn count(&self) -> Result<i64, CoreError> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?))
    }
}

fn summary(c: &Connection, id: i64) -> Result<CaseSummary, CoreError> {
    c.query_row(
        &format!("SELECT {SUMMARY_COLS} FROM cases WHERE id = ?1"),
        [id],
        summary_from_row,
    )
    .optional()?
    .ok_or_else(|| CoreError::NotFound(id.to_string()))
}
