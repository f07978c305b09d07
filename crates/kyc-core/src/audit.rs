//! The audit trail: an append-only table (update and delete refused by triggers) whose entries
//! are chained by SHA-256 over the previous entry's hash and this entry's fields, so an edit made
//! behind the program's back (in the database file itself) is found by [`verify`].

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::CoreError;
use crate::store::Store;
use crate::timefmt::{now_ms, rfc3339};

/// One entry as the desk shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub case_id: Option<i64>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

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

fn entry_hash(
    prev: &[u8],
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    case_id: Option<i64>,
    detail: &str,
) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    // Length-prefixed fields: no two different entries share an encoding.
    for part in [
        id.to_string(),
        at.to_string(),
        actor.to_string(),
        action.to_string(),
        case_id.map_or(String::new(), |c| c.to_string()),
        detail.to_string(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_vec()
}

/// Appends an entry inside the caller's transaction (so the entry and the action commit together).
/// `detail` must hold ids and codes only, never personal data.
pub fn append(
    c: &Connection,
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
    let hash = entry_hash(&prev, id, at, actor, action, case_id, &detail);
    c.execute(
        "INSERT INTO audit (id, at, actor, action, case_id, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, at, actor, action, case_id, detail, prev, hash],
    )?;
    Ok(())
}

/// Walks the whole chain and reports the first broken link.
pub fn verify(c: &Connection) -> Result<Verdict, CoreError> {
    let mut stmt = c.prepare(
        "SELECT id, at, actor, action, case_id, detail, prev_hash, hash FROM audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = vec![0u8; 32];
    let mut expected_id = 1i64;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let (at, actor, action): (i64, String, String) = (r.get(1)?, r.get(2)?, r.get(3)?);
        let (case_id, detail): (Option<i64>, String) = (r.get(4)?, r.get(5)?);
        let (prev_hash, hash): (Vec<u8>, Vec<u8>) = (r.get(6)?, r.get(7)?);
        if id != expected_id {
            return Ok(Verdict::Broken {
                id,
                reason: format!("entry {expected_id} is missing"),
            });
        }
        if prev_hash != prev {
            return Ok(Verdict::Broken {
                id,
                reason: "its link to the previous entry does not match".into(),
            });
        }
        if entry_hash(&prev, id, at, &actor, &action, case_id, &detail) != hash {
            return Ok(Verdict::Broken {
                id,
                reason: "its content does not match its hash (edited)".into(),
            });
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
            append(&tx, actor, action, case_id, &detail)?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn verify_audit(&self) -> Result<Verdict, CoreError> {
        self.with_reader(verify)
    }

    /// A case's timeline, oldest first.
    pub fn timeline(&self, case_id: i64) -> Result<Vec<AuditEntry>, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ENTRY_COLS} FROM audit WHERE case_id = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([case_id], entry_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The whole trail, newest first, a page at a time (`before`: entries with a smaller id);
    /// optionally only one actor's or one action's entries.
    pub fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
        actor: Option<&str>,
        action: Option<&str>,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ENTRY_COLS} FROM audit WHERE id < ?1 AND (?2 IS NULL OR actor = ?2) \
                 AND (?3 IS NULL OR action = ?3) ORDER BY id DESC LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                rusqlite::params![
                    before.unwrap_or(i64::MAX),
                    actor,
                    action,
                    limit.clamp(1, 500)
                ],
                entry_from_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

const ENTRY_COLS: &str = "id, at, actor, action, case_id, detail";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    let detail: String = r.get(5)?;
    Ok(AuditEntry {
        id: r.get(0)?,
        at: rfc3339(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        case_id: r.get(4)?,
        detail: serde_json::from_str(&detail).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_chain_catches_edits_and_gaps_made_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path, crate::vault::MasterKey::Key([3; 32])).unwrap();
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
