//! The audit trail's table: append-only (update and delete refused by triggers), appended inside
//! the transaction of the change it records, verified link by link, read by page, case and filter.

use crate::db::{Connection, OptionalRow, Row};
use crate::params;

use crate::chain::{fields, keyed_hash, AuditEntry, AuditFilter, ChainCheck, Link, Verdict};
use crate::timefmt::rfc3339;
use crate::Error;
use crate::{Snapshot, Store};
use kyc_crypto::vault::Vault;

const KEYED_FROM: &str = "audit_keyed_from";

/// Records (MAC'd) that entries from the next id on are keyed; written once, when the keyed
/// schema is applied.
pub(crate) fn mark_keyed_from(c: &dyn Connection, vault: &Vault) -> Result<(), Error> {
    let next: i64 = c.query_row(
        "SELECT COALESCE(MAX(id), 0) + 1 FROM audit",
        params![],
        |r| r.get(0),
    )?;
    let mut value = next.to_be_bytes().to_vec();
    value.extend(vault.audit_mac(&[KEYED_FROM.as_bytes(), &next.to_be_bytes()]));
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![KEYED_FROM, value],
    )?;
    Ok(())
}

/// The first keyed entry's id, if the marker is there and its MAC holds.
fn keyed_from(c: &dyn Connection, vault: &Vault) -> Result<Option<i64>, Error> {
    let value: Option<Vec<u8>> = c
        .query_row("SELECT value FROM meta WHERE key = ?1", [KEYED_FROM], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(value.and_then(|v| {
        let (id, mac) = v.split_at_checked(8)?;
        let id = i64::from_be_bytes(id.try_into().ok()?);
        let expected = vault.audit_mac(&[KEYED_FROM.as_bytes(), &id.to_be_bytes()]);
        (mac == expected.as_slice()).then_some(id)
    }))
}

/// Appends an entry inside the caller's transaction (so the entry and the action commit together),
/// stamped by `now`. `detail` must hold ids and codes only, never personal data.
#[allow(clippy::too_many_arguments)] // The entry's fields, each named.
pub fn append(
    c: &dyn Connection,
    vault: &Vault,
    now: i64,
    actor: &str,
    action: &str,
    case_id: Option<i64>,
    detail: &serde_json::Value,
) -> Result<(), Error> {
    let (last_id, prev): (i64, Vec<u8>) = c
        .query_row(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, vec![0u8; 32]));
    let id = last_id + 1;
    let at = now;
    let detail = detail.to_string();
    let hash = keyed_hash(
        vault,
        &prev,
        &fields(id, at, actor, action, case_id, &detail),
    );
    c.execute(
        "INSERT INTO audit (id, at, actor, action, case_id, detail, prev_hash, hash, keyed) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
        params![id, at, actor, action, case_id, detail, prev, hash],
    )?;
    Ok(())
}

/// Walks the whole chain and reports the first broken link: an entry missing, a link that does
/// not match, an edited entry, an unkeyed entry where keyed ones begin (a chain recomputed
/// without the master key), or a missing or forged marker of where they begin.
pub fn verify(c: &dyn Connection, vault: &Vault) -> Result<Verdict, Error> {
    let Some(keyed_from) = keyed_from(c, vault)? else {
        return Ok(Verdict::Broken {
            id: 0,
            reason: "the marker of where keyed entries begin is missing or forged".into(),
        });
    };
    let mac = |parts: &[&[u8]]| vault.audit_mac(parts);
    let mut check = ChainCheck::new(keyed_from, &mac);
    let mut broken = None;
    c.for_each(
        "SELECT id, at, actor, action, case_id, detail, prev_hash, hash, keyed FROM audit ORDER BY id",
        params![],
        |r| {
            let link = Link {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                case_id: r.get(4)?,
                detail: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
                keyed: r.get(8)?,
            };
            match check.next(link) {
                Ok(()) => Ok(true),
                Err(verdict) => {
                    broken = Some(verdict);
                    Ok(false)
                }
            }
        },
    )?;
    Ok(broken.unwrap_or_else(|| check.intact()))
}

impl Store {
    /// Records something that is not itself a write (a view, a login, a failed login).
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        case_id: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<(), Error> {
        self.write(|tx| {
            append(
                tx,
                self.vault(),
                self.now_ms(),
                actor,
                action,
                case_id,
                &detail,
            )?;
            Ok(())
        })
    }

    /// Verifies the whole chain, link by link (see [`verify`]).
    pub fn verify_audit(&self) -> Result<Verdict, Error> {
        self.read(|c| verify(c, self.vault()))
    }

    /// A case's timeline, oldest first ([`Snapshot::timeline`]).
    pub fn timeline(&self, case_id: i64) -> Result<Vec<AuditEntry>, Error> {
        self.snapshot(|s| s.timeline(case_id))
    }

    /// The whole trail, newest first, a page at a time (`before`: entries with a smaller id),
    /// narrowed by `filter`.
    pub fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, Error> {
        self.read(|c| {
            let rows = c.query_map(&format!(
                "SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE a.id < ?1 {FILTER} ORDER BY a.id DESC LIMIT ?7"
            ), params![
                    before.unwrap_or(i64::MAX),
                    filter.actor,
                    filter.action,
                    filter.from_ms,
                    filter.to_ms,
                    filter.case_id,
                    limit.clamp(1, 500)
                ],
                entry_from_row,
            )?;
            Ok(rows)
        })
    }

    /// Every entry `filter` selects, oldest first, handed to `each` one at a time (the CSV
    /// export: memory stays flat however long the trail); stops when `each` returns false.
    pub fn audit_each<E: From<Error>>(
        &self,
        filter: &AuditFilter,
        each: impl FnMut(AuditEntry) -> Result<bool, E>,
    ) -> Result<u64, E> {
        self.stream(
            &format!(
                "SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE a.id < ?1 {FILTER} ORDER BY a.id"
            ),
            params![
                i64::MAX,
                filter.actor,
                filter.action,
                filter.from_ms,
                filter.to_ms,
                filter.case_id,
            ],
            entry_from_row,
            each,
        )
    }
}

/// The filter's conditions over parameters ?2 to ?6 (id bounds are ?1).
/// Each one typed by a cast: PostgreSQL cannot tell a bare `?2 IS NULL`'s type.
const FILTER: &str = "AND (CAST(?2 AS TEXT) IS NULL OR a.actor = ?2) \
                      AND (CAST(?3 AS TEXT) IS NULL OR a.action = ?3) \
                      AND (CAST(?4 AS BIGINT) IS NULL OR a.at >= ?4) \
                      AND (CAST(?5 AS BIGINT) IS NULL OR a.at < ?5) \
                      AND (CAST(?6 AS BIGINT) IS NULL OR a.case_id = ?6)";

/// The entry's case reference is the case's, or for an erased case the one its entries recorded
/// (read from the detail in Rust: JSON functions differ between engines).
const ENTRY_COLS: &str = "a.id, a.at, a.actor, a.action, a.case_id, a.detail, c.reference";
const ENTRY_FROM: &str = "audit a LEFT JOIN cases c ON c.id = a.case_id";

/// A case's timeline (`?1`: its id), oldest first ([`entry_from_row`]).
pub(crate) fn timeline_sql() -> String {
    format!("SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE a.case_id = ?1 ORDER BY a.id")
}

pub(crate) fn entry_from_row(r: &Row) -> Result<AuditEntry, Error> {
    let detail: serde_json::Value = serde_json::from_str(&r.get::<String>(5)?).unwrap_or_default();
    // The reference may be any JSON value in an old entry's detail: only text is one.
    let reference = match r.get::<Option<String>>(6)? {
        Some(live) => Some(live),
        None => detail["reference"].as_str().map(str::to_string),
    };
    Ok(AuditEntry {
        id: r.get(0)?,
        at: rfc3339(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        case_id: r.get(4)?,
        reference,
        detail,
    })
}

impl Snapshot<'_> {
    /// A case's timeline, oldest first.
    pub fn timeline(&self, case_id: i64) -> Result<Vec<AuditEntry>, Error> {
        self.read(|c| c.query_map(&timeline_sql(), [case_id], entry_from_row))
    }
}
