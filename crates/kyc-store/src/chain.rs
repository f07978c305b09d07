//! The audit trail's chain maths: each entry is linked over the previous entry's hash and its own
//! fields by HMAC-SHA256 under a key derived from the master key (entries from before schema 13:
//! SHA-256), so an edit made behind the program's back, even a whole chain recomputed, is found by
//! the store's verification (`store/audit.rs`, which keeps the append-only table); signed
//! checkpoints kept outside the database (`checkpoint.rs`) catch a cut tail.

use sha2::{Digest, Sha256};

use kyc_crypto::vault::Vault;

pub use kyc_domain::case::AuditEntry;

/// Result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
/// What verifying the chain found.
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// How many entries were checked.
        entries: u64,
    },
    /// The first entry whose link does not hold.
    Broken {
        /// Its id.
        id: i64,
        /// What does not hold.
        reason: String,
    },
}

/// The fields of an entry, length-prefixed (no two different entries share an encoding).
pub(crate) fn fields(
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
pub(crate) fn legacy_hash(prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
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
pub(crate) fn keyed_hash(vault: &Vault, prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![prev];
    parts.extend(fields.iter().map(|f| f.as_bytes()));
    vault.audit_mac(&parts)
}

/// Which audit entries a page or an export holds (every field optional).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor's entries.
    pub actor: Option<String>,
    /// Only this action's entries.
    pub action: Option<String>,
    /// At or after / before (unix ms).
    pub from_ms: Option<i64>,
    /// Before (unix ms).
    pub to_ms: Option<i64>,
    /// Only this case's entries.
    pub case_id: Option<i64>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Store;
    use rusqlite::{params, Connection};
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
            for sql in &crate::sqlite::MIGRATIONS[..12] {
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
