//! The audit trail: an append-only table (update and delete refused by triggers) whose entries
//! are chained over the previous entry's hash and this entry's fields, by HMAC-SHA256 under a key
//! derived from the master key (entries from before schema 13: SHA-256), so an edit made behind
//! the program's back, even a whole chain recomputed, is found by [`verify`]; signed checkpoints
//! kept outside the database (`checkpoint.rs`) catch a cut tail.

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::CoreError;
use crate::store::Store;
use crate::timefmt::{now_ms, rfc3339};
use kyc_crypto::vault::Vault;

pub use kyc_domain::case::AuditEntry;

/// Result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        entries: u64,
    },
    /// The first entry whose link does not hold.
    Broken {
        id: i64,
        reason: String,
    },
}

/// The fields of an entry, length-prefixed (no two different entries share an encoding).
fn fields(
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    case_id: Option<i64>,
    detail: &str,
) -> [String; 6] {
    [
        id.to_string(),
        at.to_string(),
        actor.to_string(),
        action.to_string(),
        case_id.map_or(String::new(), |c| c.to_string()),
        detail.to_string(),
    ]
}

/// An entry written before keyed links (schema < 13): SHA-256 over the previous hash and fields.
fn legacy_hash(prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    for part in fields {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// A keyed link: HMAC-SHA256 under a key derived from the master key, over the previous hash
/// and the fields; recomputing it needs the master key.
fn keyed_hash(vault: &Vault, prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![prev];
    parts.extend(fields.iter().map(|f| f.as_bytes()));
    vault.audit_mac(&parts)
}

const KEYED_FROM: &str = "audit_keyed_from";

/// Records (MAC'd) that entries from the next id on are keyed; written once, when the keyed
/// schema is applied.
pub(crate) fn mark_keyed_from(c: &Connection, vault: &Vault) -> Result<(), CoreError> {
    let next: i64 = c.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM audit", [], |r| {
        r.get(0)
    })?;
    let mut value = next.to_be_bytes().to_vec();
    value.extend(vault.audit_mac(&[KEYED_FROM.as_bytes(), &next.to_be_bytes()]));
    c.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![KEYED_FROM, value],
    )?;
    Ok(())
}

/// The first keyed entry's id, if the marker is there and its MAC holds.
fn keyed_from(c: &Connection, vault: &Vault) -> Result<Option<i64>, CoreError> {
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

/// Appends an entry inside the caller's transaction (so the entry and the action commit together).
/// `detail` must hold ids and codes only, never personal data.
pub fn append(
    c: &Connection,
    vault: &Vault,
    actor: &str,
    action: &str,
    case_id: Option<i64>,
    detail: &serde_json::Value,
) -> Result<(), CoreError> {
    let (last_id, prev): (i64, Vec<u8>) = c
        .query_row(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, vec![0u8; 32]));
    let id = last_id + 1;
    let at = now_ms();
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
pub fn verify(c: &Connection, vault: &Vault) -> Result<Verdict, CoreError> {
    let Some(keyed_from) = keyed_from(c, vault)? else {
        return Ok(Verdict::Broken {
            id: 0,
            reason: "the marker of where keyed entries begin is missing or forged".into(),
        });
    };
    let mut stmt = c.prepare(
        "SELECT id, at, actor, action, case_id, detail, prev_hash, hash, keyed FROM audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = vec![0u8; 32];
    let mut expected_id = 1i64;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let (at, actor, action): (i64, String, String) = (r.get(1)?, r.get(2)?, r.get(3)?);
        let (case_id, detail): (Option<i64>, String) = (r.get(4)?, r.get(5)?);
        let (prev_hash, hash, keyed): (Vec<u8>, Vec<u8>, bool) = (r.get(6)?, r.get(7)?, r.get(8)?);
        let broken = |reason: &str| {
            Ok(Verdict::Broken {
                id,
                reason: reason.into(),
            })
        };
        if id != expected_id {
            return Ok(Verdict::Broken {
                id,
                reason: format!("entry {expected_id} is missing"),
            });
        }
        if prev_hash != prev {
            return broken("its link to the previous entry does not match");
        }
        if keyed != (id >= keyed_from) {
            return broken(if keyed {
                "a keyed entry before keyed entries begin"
            } else {
                "an unkeyed entry where keyed entries begin (recomputed without the master key)"
            });
        }
        let f = fields(id, at, &actor, &action, case_id, &detail);
        let computed = if keyed {
            keyed_hash(vault, &prev, &f)
        } else {
            legacy_hash(&prev, &f)
        };
        if computed != hash {
            return broken("its content does not match its hash (edited)");
        }
        prev = hash;
        expected_id += 1;
        n += 1;
    }
    Ok(Verdict::Intact { entries: n })
}

impl Store {
    /// Records something that is not itself a write (a view, a login, a failed login).
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        case_id: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<(), CoreError> {
        self.with_writer(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            append(&tx, self.vault(), actor, action, case_id, &detail)?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn verify_audit(&self) -> Result<Verdict, CoreError> {
        self.with_reader(|c| verify(c, self.vault()))
    }

    /// A case's timeline, oldest first.
    pub fn timeline(&self, case_id: i64) -> Result<Vec<AuditEntry>, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE a.case_id = ?1 ORDER BY a.id"
            ))?;
            let rows = stmt.query_map([case_id], entry_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The whole trail, newest first, a page at a time (`before`: entries with a smaller id),
    /// narrowed by `filter`.
    pub fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE a.id < ?1 {FILTER} ORDER BY a.id DESC LIMIT ?7"
            ))?;
            let rows = stmt.query_map(
                rusqlite::params![
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
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Every entry `filter` selects, oldest first, handed to `each` one at a time (the CSV
    /// export: memory stays flat however long the trail); stops when `each` returns false.
    pub fn audit_each(
        &self,
        filter: &AuditFilter,
        mut each: impl FnMut(AuditEntry) -> Result<bool, CoreError>,
    ) -> Result<u64, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ENTRY_COLS} FROM {ENTRY_FROM} WHERE a.id < ?1 {FILTER} ORDER BY a.id"
            ))?;
            let mut rows = stmt.query(rusqlite::params![
                i64::MAX,
                filter.actor,
                filter.action,
                filter.from_ms,
                filter.to_ms,
                filter.case_id,
            ])?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                n += 1;
                if !each(entry_from_row(r)?)? {
                    break;
                }
            }
            Ok(n)
        })
    }
}

/// Which audit entries a page or an export holds (every field optional).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// At or after / before (unix ms).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub case_id: Option<i64>,
}

/// The filter's conditions over parameters ?2 to ?6 (id bounds are ?1).
const FILTER: &str = "AND (?2 IS NULL OR a.actor = ?2) AND (?3 IS NULL OR a.action = ?3) \
                      AND (?4 IS NULL OR a.at >= ?4) AND (?5 IS NULL OR a.at < ?5) \
                      AND (?6 IS NULL OR a.case_id = ?6)";

/// The entry's case reference: the case's, or for an erased case the one its entries recorded.
const ENTRY_COLS: &str = "a.id, a.at, a.actor, a.action, a.case_id, a.detail, \
     COALESCE(c.reference, json_extract(a.detail, '$.reference'))";
const ENTRY_FROM: &str = "audit a LEFT JOIN cases c ON c.id = a.case_id";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    let detail: String = r.get(5)?;
    let reference: Option<rusqlite::types::Value> = r.get(6)?;
    Ok(AuditEntry {
        id: r.get(0)?,
        at: rfc3339(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        case_id: r.get(4)?,
        reference: match reference {
            Some(rusqlite::types::Value::Text(t)) => Some(t),
            _ => None,
        },
        detail: serde_json::from_str(&detail).unwrap_or_default(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The unkeyed (pre-schema-13) link of an entry, as anyone without the master key computes it.
    pub(crate) fn unkeyed(
        prev: &[u8],
        id: i64,
        at: i64,
        actor: &str,
        action: &str,
        case_id: Option<i64>,
        detail: &str,
    ) -> Vec<u8> {
        legacy_hash(prev, &fields(id, at, actor, action, case_id, detail))
    }

    /// A store from before keyed links (schema 12) keeps verifying; the chain continues keyed.
    #[test]
    fn entries_from_before_keyed_links_keep_verifying_and_the_chain_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            for sql in &crate::store::MIGRATIONS[..12] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 12).unwrap();
            let mut prev = vec![0u8; 32];
            for id in 1..=3i64 {
                let hash = unkeyed(&prev, id, 1000 + id, "rita", "case.viewed", None, "{}");
                c.execute(
                    "INSERT INTO audit (id, at, actor, action, case_id, detail, prev_hash, hash) \
                     VALUES (?1, ?2, 'rita', 'case.viewed', NULL, '{}', ?3, ?4)",
                    params![id, 1000 + id, prev, hash],
                )
                .unwrap();
                prev = hash;
            }
        }
        let store = Store::open(&path, kyc_crypto::master::MasterKey::Key([3; 32])).unwrap();
        store.audit("rita", "case.viewed", None, json!({})).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            Verdict::Intact { entries: 4 }
        );
        let keyed: Vec<bool> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT keyed FROM audit ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keyed, [false, false, false, true]);
    }

    #[test]
    fn the_chain_catches_edits_and_gaps_made_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path, kyc_crypto::master::MasterKey::Key([3; 32])).unwrap();
        for i in 0..5 {
            store
                .audit("rita", "case.viewed", Some(i), json!({"i": i}))
                .unwrap();
        }
        assert_eq!(
            store.verify_audit().unwrap(),
            Verdict::Intact { entries: 5 }
        );
        // The program itself cannot change or delete entries.
        let c = Connection::open(&path).unwrap();
        assert!(c
            .execute("UPDATE audit SET actor = 'mallory' WHERE id = 3", [])
            .is_err());
        assert!(c.execute("DELETE FROM audit WHERE id = 3", []).is_err());
        // Someone with the file drops the trigger and edits entry 3: verify names it.
        c.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE id = 3;",
        )
        .unwrap();
        assert!(matches!(
            store.verify_audit().unwrap(),
            Verdict::Broken { id: 3, .. }
        ));
    }
}
