//! The audit trail's chain as the store uses it: the maths are kyc-domain's (`audit`), keyed here
//! by the vault's audit key; the store's verification (`audit.rs`, which keeps the append-only
//! table) walks the rows through [`ChainCheck`], and signed checkpoints kept outside the database
//! (`checkpoint.rs`) catch a cut tail. The tests tamper with a real database file.

use kyc_crypto::vault::Vault;

pub use kyc_domain::audit::{fields, legacy_hash, AuditFilter, ChainCheck, Link, Verdict};
pub use kyc_domain::case::AuditEntry;

/// A keyed link under the vault's audit key (see [`kyc_domain::audit::keyed_hash`]).
pub(crate) fn keyed_hash(vault: &Vault, prev: &[u8], fields: &[String; 6]) -> Vec<u8> {
    kyc_domain::audit::keyed_hash(&|parts| vault.audit_mac(parts), prev, fields)
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
