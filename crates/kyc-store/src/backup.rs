//! Online backup and verified restore. A backup is a folder: a consistent snapshot of the
//! database (`VACUUM INTO`, one read transaction, taken while the desk keeps receiving), exactly
//! the image files that snapshot references, and `manifest.json` with the SHA-256 of every file
//! and the audit chain's head. A restore checks the whole manifest before it writes anything and
//! only into a data folder without a store. The master key is never part of a backup.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::imagefiles::{ImageFiles, IMAGES_DIR};
use crate::Error;
use crate::{Store, DB_FILE};

/// The manifest's file name in a backup folder.
pub const MANIFEST: &str = "manifest.json";
const FORMAT: u32 = 1;

/// What a backup holds, and how to tell it is whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest's format version.
    pub format: u32,
    /// RFC 3339.
    pub created_at: String,
    /// The database's schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// How many cases the snapshot holds.
    pub cases: i64,
    /// The newest audit entry in the snapshot: a restored store must end its chain here.
    pub audit_head: Option<AuditHead>,
    /// Every file of the backup but the manifest, by path relative to the backup folder.
    pub files: Vec<FileSum>,
}

/// The newest audit entry of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Its id.
    pub id: i64,
    /// Hex.
    pub hash: String,
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Relative to the backup folder.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256.
    pub sha256: String,
}

fn bad(message: impl Into<String>) -> Error {
    Error::Backup(message.into())
}

fn sha256_file(path: &Path) -> Result<(u64, String), Error> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Copies `from` to a new private file `to` and makes it durable.
fn copy_durably(from: &Path, to: &Path) -> Result<(), Error> {
    let mut src = fs::File::open(from)?;
    let mut dst = crate::fsutil::private_options()
        .write(true)
        .create_new(true)
        .open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.sync_all()?;
    Ok(())
}

fn audit_head(c: &Connection) -> Result<Option<AuditHead>, Error> {
    Ok(c.query_row(
        "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            Ok(AuditHead {
                id: r.get(0)?,
                hash: hex::encode(r.get::<_, Vec<u8>>(1)?),
            })
        },
    )
    .optional()?)
}

impl Store {
    /// Writes a backup into `out` (a new or empty folder) while the store stays in use.
    ///
    /// A case erased after the snapshot was taken loses its image file before it can be copied;
    /// such a case is dropped from the backup too (its key and rows), so a backup never brings an
    /// erased person back. A missing image file of a case that still exists is an error.
    pub fn backup_to(&self, out: &Path) -> Result<Manifest, Error> {
        if out.exists() && fs::read_dir(out)?.next().is_some() {
            return Err(bad(format!(
                "{} is not empty: back up into a new folder",
                out.display()
            )));
        }
        let Some(path) = self.path() else {
            return Err(bad(
                "a PostgreSQL store is backed up with PostgreSQL's own tools (pg_dump, \
                 pg_basebackup); see the README's \"Several instances\"",
            ));
        };
        crate::fsutil::private_dir(out)?;
        let db_copy = out.join(DB_FILE);
        // One statement, one read transaction: a consistent snapshot of everything committed.
        {
            let live = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            live.busy_timeout(std::time::Duration::from_secs(10))?;
            let target = db_copy
                .to_str()
                .ok_or_else(|| bad("the backup folder's path is not valid UTF-8"))?;
            live.execute("VACUUM INTO ?1", [target])?;
        }
        crate::fsutil::restrict_file(&db_copy)?;
        let copy = Connection::open(&db_copy)?;
        let ids: Vec<i64> = copy
            .prepare("SELECT DISTINCT case_id FROM images WHERE file_len IS NOT NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let (live_files, out_images) = (ImageFiles::beside(path), out.join(IMAGES_DIR));
        crate::fsutil::private_dir(&out_images)?;
        let mut dropped = false;
        for id in ids {
            let from = live_files.path(id);
            let to = out_images.join(from.file_name().unwrap_or_default());
            match copy_durably(&from, &to) {
                Ok(()) => {}
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    if self.summary(id).is_ok() {
                        return Err(bad(format!(
                            "the image file of case {id} is missing from the store"
                        )));
                    }
                    // Erased since the snapshot: not in the backup either.
                    copy.execute("DELETE FROM case_keys WHERE case_id = ?1", [id])?;
                    copy.execute("DELETE FROM cases WHERE id = ?1", [id])?;
                    dropped = true;
                }
                Err(e) => return Err(e),
            }
        }
        if dropped {
            copy.execute_batch("VACUUM")?; // no page of a dropped case stays in the file
        }
        let manifest = Manifest {
            format: FORMAT,
            created_at: crate::timefmt::rfc3339(self.now_ms()),
            schema_version: copy.query_row("PRAGMA user_version", [], |r| r.get(0))?,
            cases: copy.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?,
            audit_head: audit_head(&copy)?,
            files: Vec::new(),
        };
        drop(copy);
        let mut manifest = manifest;
        manifest.files = sums(out)?;
        let text =
            serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
        let mut file = crate::fsutil::private_options()
            .write(true)
            .create_new(true)
            .open(out.join(MANIFEST))?;
        file.write_all(&text)?;
        file.sync_all()?;
        crate::imagefiles::sync_dir(&out_images)?;
        crate::imagefiles::sync_dir(out)?;
        Ok(manifest)
    }
}

/// The database and image files of a backup folder, summed.
fn sums(dir: &Path) -> Result<Vec<FileSum>, Error> {
    let mut paths: Vec<PathBuf> = vec![dir.join(DB_FILE)];
    let images = dir.join(IMAGES_DIR);
    if images.exists() {
        let mut found: Vec<PathBuf> = fs::read_dir(&images)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        found.sort();
        paths.extend(found);
    }
    paths
        .into_iter()
        .map(|p| {
            let (size, sha256) = sha256_file(&p)?;
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            Ok(FileSum {
                path: rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
                size,
                sha256,
            })
        })
        .collect()
}

/// Reads a backup's manifest and checks every file against it (size and SHA-256); names the
/// first file that is missing or differs.
pub fn check(from: &Path) -> Result<Manifest, Error> {
    let text = fs::read(from.join(MANIFEST)).map_err(|_| {
        bad(format!(
            "{} is not a KYC Desk backup: it has no {MANIFEST}",
            from.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("{MANIFEST} cannot be read: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "backup format {} is not one this version reads ({FORMAT})",
            manifest.format
        )));
    }
    if !manifest.files.iter().any(|f| f.path == DB_FILE) {
        return Err(bad(format!("{MANIFEST} lists no database")));
    }
    for f in &manifest.files {
        let safe = !f.path.is_empty()
            && f.path
                .split('/')
                .all(|part| !part.is_empty() && part != ".." && part != ".");
        if !safe {
            return Err(bad(format!("{MANIFEST} names an unsafe path {:?}", f.path)));
        }
        let path = from.join(&f.path);
        let (size, sha256) = sha256_file(&path)
            .map_err(|_| bad(format!("{} is missing from the backup", f.path)))?;
        if size != f.size || sha256 != f.sha256 {
            return Err(bad(format!(
                "{} is damaged: its SHA-256 differs from the manifest",
                f.path
            )));
        }
    }
    Ok(manifest)
}

/// Restores a checked backup into `data_dir`, which must not hold a store yet. Nothing is written
/// unless the whole backup matches its manifest.
pub fn restore(from: &Path, data_dir: &Path) -> Result<Manifest, Error> {
    let manifest = check(from)?;
    if data_dir.join(DB_FILE).exists() {
        return Err(bad(format!(
            "{} already holds a store: restore into an empty data folder",
            data_dir.display()
        )));
    }
    crate::fsutil::private_dir(data_dir)?;
    let images = data_dir.join(IMAGES_DIR);
    for f in &manifest.files {
        let to = data_dir.join(&f.path);
        if let Some(parent) = to.parent() {
            crate::fsutil::private_dir(parent)?;
        }
        copy_durably(&from.join(&f.path), &to)?;
    }
    if images.exists() {
        crate::imagefiles::sync_dir(&images)?;
    }
    crate::imagefiles::sync_dir(data_dir)?;
    Ok(manifest)
}

/// After a restore: the restored store's audit chain must end at the manifest's head.
pub fn head_matches(store_db: &Path, manifest: &Manifest) -> Result<(), Error> {
    let c = Connection::open_with_flags(store_db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let head = audit_head(&c)?;
    if head != manifest.audit_head {
        return Err(bad(
            "the restored audit trail does not end where the backup's manifest says",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyc_crypto::master::MasterKey;
    use kyc_domain::case::Inserted;
    use std::sync::Arc;

    const KEY: [u8; 32] = [9; 32];

    /// Twelve simulated people; drawing their images is the costly part, so it is done once.
    fn people() -> &'static [kyc_sim::Submission] {
        static PEOPLE: std::sync::OnceLock<Vec<kyc_sim::Submission>> = std::sync::OnceLock::new();
        PEOPLE.get_or_init(|| {
            let (year, month, day) = crate::timefmt::today();
            let today = kyc_sim::Today { year, month, day };
            kyc_sim::generate_many(kyc_sim::Scenario::Clean, 12, 21, &today)
        })
    }

    /// Stores submission `i`: one of the people coming back with a new request id.
    fn insert(store: &Store, i: u64) -> i64 {
        let person = &people()[i as usize % people().len()];
        let request = format!("b4c0ffee-0000-4000-8000-{i:012x}");
        let text = person
            .payload
            .to_string()
            .replace(&person.requester_id, &request);
        let sub = crate::testing::submission(&text);
        match store
            .insert_case(&sub, &[], crate::timefmt::now_ms())
            .unwrap()
        {
            Inserted::New(c) | Inserted::Existing(c) => c.id,
        }
    }

    /// A backup taken while submissions keep arriving restores every case stored before it
    /// started, with all its images byte for byte and an intact audit trail; a backup with one
    /// flipped byte is refused and writes nothing.
    #[test]
    fn a_backup_under_load_restores_whole_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join(DB_FILE), MasterKey::Key(KEY)).unwrap());
        let before: Vec<i64> = (0..20).map(|i| insert(&store, i)).collect();
        let erased = insert(&store, 99);
        // 200 more arrive while the backup runs; one stored case is erased meanwhile.
        let load = {
            let store = store.clone();
            std::thread::spawn(move || {
                let ids: Vec<i64> = (100..300).map(|i| insert(&store, i)).collect();
                ids.len()
            })
        };
        let out = dir.path().join("backup");
        let manifest = store.backup_to(&out).unwrap();
        store.erase(erased, "admin", "test").unwrap();
        assert_eq!(load.join().unwrap(), 200);
        assert!(manifest.cases >= 21, "{}", manifest.cases);
        assert!(manifest.audit_head.is_some());

        let restored_dir = dir.path().join("restored");
        let checked = restore(&out, &restored_dir).unwrap();
        assert_eq!(checked, manifest);
        let restored_db = restored_dir.join(DB_FILE);
        head_matches(&restored_db, &manifest).unwrap();
        let restored = Store::open(&restored_db, MasterKey::Key(KEY)).unwrap();
        assert!(matches!(
            restored.verify_audit().unwrap(),
            crate::chain::Verdict::Intact { .. }
        ));
        for id in before {
            let names = store.images(id).unwrap();
            assert!(names.len() >= 3, "case {id}: {names:?}");
            for info in names {
                assert_eq!(
                    restored.image(id, &info.name).unwrap(),
                    store.image(id, &info.name).unwrap(),
                    "case {id} {}",
                    info.name
                );
            }
            assert_eq!(restored.raw_json(id).unwrap(), store.raw_json(id).unwrap());
        }
        // Restoring over a store is refused.
        let err = restore(&out, &restored_dir).unwrap_err().to_string();
        assert!(err.contains("already holds a store"), "{err}");

        // One flipped byte in an image file: refused, naming the file; nothing is written.
        let victim = manifest
            .files
            .iter()
            .find(|f| f.path.starts_with("images/"))
            .unwrap();
        let path = out.join(&victim.path);
        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        fs::write(&path, bytes).unwrap();
        let empty = dir.path().join("never");
        let err = restore(&out, &empty).unwrap_err().to_string();
        assert!(
            err.contains(&victim.path) && err.contains("damaged"),
            "{err}"
        );
        assert!(!empty.join(DB_FILE).exists());
        // No manifest: not a backup.
        let err = check(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a KYC Desk backup"), "{err}");
    }
}
