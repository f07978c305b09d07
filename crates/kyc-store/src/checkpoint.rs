//! Signed checkpoints of the audit chain, kept outside the database: the chain's head (entry id,
//! hash, time) signed with an Ed25519 key derived from the master key, appended as one JSON line
//! to `checkpoints.jsonl` in `[audit] checkpoint_dir`. A trail whose newest entries were cut, or
//! any entry rewritten, no longer holds a checkpoint's head: [`Store::verify_with_checkpoints`]
//! says which entry and which checkpoint.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::db::OptionalRow;
use crate::params;
use ring::signature::{KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::chain::Verdict;
use crate::Error;
use crate::Store;

/// The file checkpoints are appended to, in the checkpoint folder.
pub const FILE: &str = "checkpoints.jsonl";

/// One signed head of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The audit entry it signs.
    pub entry_id: i64,
    /// Hex.
    pub hash: String,
    /// RFC 3339.
    pub at: String,
    /// Hex Ed25519 public key (the same for every checkpoint of one master key).
    pub public_key: String,
    /// Hex Ed25519 signature over [`message`].
    pub signature: String,
}

impl Checkpoint {
    /// One line for a log or a report: `#id hash signature`.
    pub fn line(&self) -> String {
        format!(
            "audit checkpoint #{} {} at {} signed {}",
            self.entry_id, self.hash, self.at, self.signature
        )
    }
}

fn message(entry_id: i64, hash: &str, at: &str) -> Vec<u8> {
    format!("kyc-desk audit checkpoint v1\n{entry_id}\n{hash}\n{at}\n").into_bytes()
}

/// A checkpoint line: where it is (`file:line`) and what it holds (or why it is not one).
pub type Found = (String, Result<Checkpoint, String>);

/// Every checkpoint in `dir`'s files, with the file and line it came from; a line that does not
/// parse is returned as an error naming it.
pub fn read_all(dir: &Path) -> Result<Vec<Found>, Error> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let reader = std::io::BufReader::new(std::fs::File::open(&file)?);
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let place = format!("{name}:{}", i + 1);
            out.push((
                place,
                serde_json::from_str(&line).map_err(|_| "not a checkpoint".to_string()),
            ));
        }
    }
    Ok(out)
}

impl Store {
    /// The chain's head: (entry id, hash).
    pub fn audit_head(&self) -> Result<Option<(i64, Vec<u8>)>, Error> {
        self.read(|c| {
            c.query_row(
                "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// This store's checkpoint public key (hex).
    pub fn checkpoint_public_key(&self) -> String {
        hex::encode(self.vault().checkpoint_key().public_key().as_ref())
    }

    /// Signs the chain's head and appends it to `dir/checkpoints.jsonl` (made durable); `None`
    /// when there is no entry yet or the head is `last` already.
    pub fn write_checkpoint(
        &self,
        dir: &Path,
        last: Option<i64>,
    ) -> Result<Option<Checkpoint>, Error> {
        let Some((id, hash)) = self.audit_head()? else {
            return Ok(None);
        };
        if last == Some(id) {
            return Ok(None);
        }
        let (hash, at) = (hex::encode(hash), crate::timefmt::rfc3339(self.now_ms()));
        let key = self.vault().checkpoint_key();
        let checkpoint = Checkpoint {
            entry_id: id,
            signature: hex::encode(key.sign(&message(id, &hash, &at)).as_ref()),
            public_key: hex::encode(key.public_key().as_ref()),
            hash,
            at,
        };
        crate::fsutil::private_dir(dir)?;
        let mut file = crate::fsutil::private_options()
            .create(true)
            .append(true)
            .open(dir.join(FILE))?;
        let mut line =
            serde_json::to_string(&checkpoint).map_err(|e| Error::Internal(e.to_string()))?;
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_all()?;
        Ok(Some(checkpoint))
    }

    /// The newest checkpoint in `dir` this store signed, if any.
    pub fn last_checkpoint(&self, dir: &Path) -> Result<Option<Checkpoint>, Error> {
        let key = self.checkpoint_public_key();
        Ok(read_all(dir)?
            .into_iter()
            .filter_map(|(_, c)| c.ok())
            .filter(|c| c.public_key == key)
            .max_by_key(|c| c.entry_id))
    }

    /// The chain ([`crate::chain::verify`]) and every checkpoint in `dir`: each must be signed by
    /// this store's key and name an entry the trail still has, with the same hash. Returns the
    /// verdict and how many checkpoints agree.
    pub fn verify_with_checkpoints(&self, dir: &Path) -> Result<(Verdict, usize), Error> {
        let verdict = self.verify_audit()?;
        if !matches!(verdict, Verdict::Intact { .. }) {
            return Ok((verdict, 0));
        }
        let ours = self.vault().checkpoint_key();
        let public = UnparsedPublicKey::new(&ED25519, ours.public_key().as_ref().to_vec());
        let mut agreed = 0;
        for (place, parsed) in read_all(dir)? {
            let cp = match parsed {
                Ok(cp) => cp,
                Err(e) => {
                    return Ok((
                        Verdict::Broken {
                            id: 0,
                            reason: format!("checkpoint {place}: {e}"),
                        },
                        agreed,
                    ))
                }
            };
            let signed = hex::decode(&cp.signature).ok().is_some_and(|sig| {
                public
                    .verify(&message(cp.entry_id, &cp.hash, &cp.at), &sig)
                    .is_ok()
            });
            if !signed {
                return Ok((
                    Verdict::Broken {
                        id: cp.entry_id,
                        reason: format!(
                            "checkpoint {place} is forged: its signature is not this store's"
                        ),
                    },
                    agreed,
                ));
            }
            let held: Option<Vec<u8>> = self.read(|c| {
                c.query_row("SELECT hash FROM audit WHERE id = ?1", [cp.entry_id], |r| {
                    r.get(0)
                })
                .optional()
            })?;
            if held.map(hex::encode).as_deref() != Some(cp.hash.as_str()) {
                return Ok((
                    Verdict::Broken {
                        id: cp.entry_id,
                        reason: format!(
                            "checkpoint {place} signed entry {} with hash {}, which the trail no \
                             longer holds: entries were cut or rewritten",
                            cp.entry_id, cp.hash
                        ),
                    },
                    agreed,
                ));
            }
            agreed += 1;
        }
        Ok((verdict, agreed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DB_FILE;
    use kyc_crypto::master::MasterKey;
    use rusqlite::Connection;
    use serde_json::json;

    const KEY: [u8; 32] = [12; 32];

    /// A store with `n` audit entries and a checkpoint of its head.
    fn trail(n: i64) -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE), MasterKey::Key(KEY)).unwrap();
        for i in 0..n {
            store
                .audit("rita", "case.viewed", Some(i), json!({"i": i}))
                .unwrap();
        }
        let cps = dir.path().join("checkpoints");
        assert!(store.write_checkpoint(&cps, None).unwrap().is_some());
        (dir, store, cps)
    }

    /// What someone with the database file (but not the master key) can do.
    fn tamper(dir: &tempfile::TempDir, sql: &str) {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        c.execute_batch(sql).unwrap();
    }

    fn broken(store: &Store, cps: &Path) -> (i64, String) {
        match store.verify_with_checkpoints(cps).unwrap() {
            (Verdict::Broken { id, reason }, _) => (id, reason),
            other => panic!("not detected: {other:?}"),
        }
    }

    #[test]
    fn an_intact_trail_agrees_with_its_checkpoints() {
        let (_dir, store, cps) = trail(5);
        store
            .audit("rita", "case.viewed", Some(9), json!({}))
            .unwrap();
        let second = store.write_checkpoint(&cps, Some(5)).unwrap().unwrap();
        assert_eq!(second.entry_id, 6);
        assert!(store.write_checkpoint(&cps, Some(6)).unwrap().is_none());
        assert_eq!(
            store.verify_with_checkpoints(&cps).unwrap(),
            (Verdict::Intact { entries: 6 }, 2)
        );
        assert_eq!(store.last_checkpoint(&cps).unwrap().unwrap(), second);
    }

    #[test]
    fn an_edit_is_detected() {
        let (dir, store, cps) = trail(5);
        tamper(&dir, "UPDATE audit SET actor = 'mallory' WHERE id = 3");
        assert_eq!(broken(&store, &cps).0, 3);
    }

    #[test]
    fn a_middle_deletion_is_detected() {
        let (dir, store, cps) = trail(5);
        tamper(&dir, "DELETE FROM audit WHERE id = 2");
        let (id, reason) = broken(&store, &cps);
        assert_eq!(id, 3);
        assert!(reason.contains("entry 2 is missing"), "{reason}");
    }

    #[test]
    fn cutting_the_tail_after_a_checkpoint_is_detected() {
        let (dir, store, cps) = trail(5);
        tamper(&dir, "DELETE FROM audit WHERE id >= 4");
        // The chain alone still holds: only the checkpoint knows entry 5 existed.
        assert_eq!(
            store.verify_audit().unwrap(),
            Verdict::Intact { entries: 3 }
        );
        let (id, reason) = broken(&store, &cps);
        assert_eq!(id, 5);
        assert!(
            reason.contains("checkpoints.jsonl:1") && reason.contains("cut or rewritten"),
            "{reason}"
        );
    }

    #[test]
    fn a_chain_recomputed_without_the_master_key_is_detected() {
        let (dir, store, cps) = trail(5);
        // Rewrite every entry as an unkeyed SHA-256 chain, as anyone could compute it.
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        let mut prev = vec![0u8; 32];
        for id in 1..=5i64 {
            let (at, actor, action, case_id, detail): (i64, String, String, Option<i64>, String) =
                c.query_row(
                    "SELECT at, actor, action, case_id, detail FROM audit WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .unwrap();
            let actor = if id == 3 {
                "mallory".to_string()
            } else {
                actor
            };
            let hash =
                crate::chain::tests::unkeyed(&prev, id, at, &actor, &action, case_id, &detail);
            c.execute(
                "UPDATE audit SET actor = ?2, prev_hash = ?3, hash = ?4, keyed = 0 WHERE id = ?1",
                rusqlite::params![id, actor, prev, hash],
            )
            .unwrap();
            prev = hash;
        }
        assert!(matches!(
            store.verify_audit().unwrap(),
            Verdict::Broken { id: 1, .. }
        ));
        // Moving the marker of where keyed entries begin does not help: it is MAC'd.
        c.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'audit_keyed_from'",
            [[&99i64.to_be_bytes()[..], &[0u8; 32][..]].concat()],
        )
        .unwrap();
        let (id, reason) = broken(&store, &cps);
        assert_eq!(id, 0);
        assert!(reason.contains("marker"), "{reason}");
    }

    #[test]
    fn a_forged_checkpoint_is_detected() {
        let (_dir, store, cps) = trail(5);
        // A checkpoint signed by another key (another master key's store).
        let other_dir = tempfile::tempdir().unwrap();
        let other = Store::open(&other_dir.path().join(DB_FILE), MasterKey::Key([13; 32])).unwrap();
        other.audit("x", "y", None, json!({})).unwrap();
        let forged = other
            .write_checkpoint(other_dir.path(), None)
            .unwrap()
            .unwrap();
        let mut line = serde_json::to_string(&Checkpoint {
            public_key: store.checkpoint_public_key(),
            ..forged
        })
        .unwrap();
        line.push('\n');
        std::fs::OpenOptions::new()
            .append(true)
            .open(cps.join(FILE))
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        let (_, reason) = broken(&store, &cps);
        assert!(
            reason.contains("forged") && reason.contains(":2"),
            "{reason}"
        );
    }
}
