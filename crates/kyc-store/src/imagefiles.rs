//! Sealed images stored as one file per case next to the database, in folders by id range
//! (`images/<millions>/<thousands>/<case id>.sealed`: at most 1,000 entries in any folder, however
//! many cases): written once and fsync'd before the case's transaction commits, instead of going
//! through the SQLite WAL and again through its checkpoint. The rows in `images` keep each image's
//! offset and length; a file whose case never committed (a crash in between) is swept away on
//! open, found among the files numbered past the last case without listing the others. A store
//! from before the folders (`images/<case id>.sealed`) has its files moved into them at open, one
//! rename each, resumed at the next open if interrupted.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Folder of the image files, next to the database file.
pub const IMAGES_DIR: &str = "images";
const SUFFIX: &str = ".sealed";
/// A sync of this many files or more is spread over [`SYNC_THREADS`] threads.
const PARALLEL_SYNC_FROM: usize = 16;
const SYNC_THREADS: usize = 4;

/// The image files of one database.
#[derive(Debug, Clone)]
pub struct ImageFiles {
    dir: PathBuf,
}

impl ImageFiles {
    /// The image folder for the database at `db_path`.
    pub fn beside(db_path: &Path) -> ImageFiles {
        let parent = db_path.parent().unwrap_or_else(|| Path::new("."));
        ImageFiles {
            dir: parent.join(IMAGES_DIR),
        }
    }

    /// The image folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A case's folder: `<millions>/<thousands>` of its id, three digits each.
    fn folder(&self, case_id: i64) -> PathBuf {
        let n = case_id.max(0);
        self.dir
            .join(format!("{:03}", n / 1_000_000))
            .join(format!("{:03}", (n / 1_000) % 1_000))
    }

    /// A case's file.
    pub fn path(&self, case_id: i64) -> PathBuf {
        self.folder(case_id).join(format!("{case_id}{SUFFIX}"))
    }

    /// Where a store from before the folders kept a case's file.
    fn flat_path(&self, case_id: i64) -> PathBuf {
        self.dir.join(format!("{case_id}{SUFFIX}"))
    }

    /// Makes a case's folder (owner-only), its new entries durable.
    fn make_folder(&self, case_id: i64) -> io::Result<PathBuf> {
        let folder = self.folder(case_id);
        if folder.is_dir() {
            return Ok(folder);
        }
        let top = folder.parent().unwrap_or(&self.dir).to_path_buf();
        let new_top = !top.is_dir();
        crate::fsutil::private_dir(&self.dir)?;
        crate::fsutil::private_dir(&top)?;
        crate::fsutil::private_dir(&folder)?;
        sync_dir(&top)?;
        if new_top {
            sync_dir(&self.dir)?;
        }
        Ok(folder)
    }

    /// Writes a case's file (replacing a leftover one) and makes it durable: the data, then the
    /// folder entry.
    pub fn write(&self, case_id: i64, bytes: &[u8]) -> io::Result<()> {
        self.write_unsynced(case_id, bytes)?;
        self.sync(&[case_id])
    }

    /// Writes a case's file (replacing a leftover one) without waiting for the disk: durable only
    /// after [`sync`](ImageFiles::sync) (a transaction of many cases syncs them all before it
    /// commits, each folder once).
    pub fn write_unsynced(&self, case_id: i64, bytes: &[u8]) -> io::Result<()> {
        self.make_folder(case_id)?;
        let mut file = crate::fsutil::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(case_id))?;
        file.write_all(bytes)
    }

    /// Makes the files of `case_ids` durable: each file's data, then each of their folders once.
    /// Many files are synced from a few threads at once: the disk takes the flushes together
    /// (500 small files: 0.23 ms a file from one thread, 0.08 from four, on the benchmark VM).
    pub fn sync(&self, case_ids: &[i64]) -> io::Result<()> {
        let sync_files = |ids: &[i64]| -> io::Result<()> {
            ids.iter()
                .try_for_each(|&id| File::open(self.path(id))?.sync_data())
        };
        if case_ids.len() < PARALLEL_SYNC_FROM {
            sync_files(case_ids)?;
        } else {
            let chunk = case_ids.len().div_ceil(SYNC_THREADS);
            std::thread::scope(|s| {
                let others: Vec<_> = case_ids
                    .chunks(chunk)
                    .skip(1)
                    .map(|ids| s.spawn(move || sync_files(ids)))
                    .collect();
                let first = sync_files(&case_ids[..chunk]);
                // Every thread is joined before the first failure (if any) is returned.
                others.into_iter().fold(first, |done, t| {
                    let synced = t.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                    done.and(synced)
                })
            })?;
        }
        let mut folders: Vec<PathBuf> = Vec::new();
        for &id in case_ids {
            let folder = self.folder(id);
            if !folders.contains(&folder) {
                folders.push(folder);
            }
        }
        folders.iter().try_for_each(|f| sync_dir(f))
    }

    /// Reads `len` bytes at `offset` of a case's file (where a store from before the folders
    /// kept it, while another process is moving it).
    pub fn read(&self, case_id: i64, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let mut file = match File::open(self.path(case_id)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => File::open(self.flat_path(case_id))?,
            other => other?,
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut out = vec![0u8; len as usize];
        file.read_exact(&mut out)?;
        Ok(out)
    }

    /// Removes a case's file (wherever the layout put it); a missing one is not an error.
    pub fn remove(&self, case_id: i64) -> io::Result<()> {
        for path in [self.path(case_id), self.flat_path(case_id)] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes a case's file and makes the removal durable (its folder synced), before anything
    /// that records it as done: a power loss must not bring back an erased case's file.
    pub fn remove_durably(&self, case_id: i64) -> io::Result<()> {
        self.remove(case_id)?;
        self.sync_folders(&[case_id])
    }

    /// Removes several cases' files, then syncs each folder that held one once (and the image
    /// folder, for files from before the folders). Returns the ids whose files are gone for good;
    /// a failure is logged by id and leaves that case to the next open's sweep.
    pub fn remove_all_durably(&self, case_ids: &[i64]) -> Vec<i64> {
        let mut gone = Vec::with_capacity(case_ids.len());
        for &id in case_ids {
            match self.remove(id) {
                Ok(()) => gone.push(id),
                Err(e) => {
                    tracing::warn!(case = id, error = %e, "could not remove the erased case's image file")
                }
            }
        }
        if let Err(e) = self.sync_folders(&gone) {
            // Removed but perhaps not durably: the next open's sweep removes what comes back.
            tracing::warn!(error = %e, "could not sync the folders of removed image files");
            return Vec::new();
        }
        gone
    }

    /// Syncs the folders of these cases' files and the image folder, each once.
    fn sync_folders(&self, case_ids: &[i64]) -> io::Result<()> {
        let mut folders: std::collections::BTreeSet<PathBuf> =
            case_ids.iter().map(|&id| self.folder(id)).collect();
        if !case_ids.is_empty() {
            folders.insert(self.dir.clone());
        }
        for folder in folders {
            match sync_dir(&folder) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Moves the files of a store from before the folders into them, one rename each (the bytes
    /// are durable already; a move interrupted is done at the next open). Returns how many moved.
    pub fn move_into_folders(&self) -> io::Result<usize> {
        let mut moved = 0;
        let mut touched = std::collections::BTreeSet::new();
        for (id, flat) in case_files(&self.dir)? {
            let folder = self.make_folder(id)?;
            let to = self.path(id);
            if to.exists() {
                // Moved before, and the old name came back after a crash: the copy in the
                // folder is the one.
                fs::remove_file(&flat)?;
            } else {
                fs::rename(&flat, &to)?;
            }
            touched.insert(folder);
            moved += 1;
        }
        for folder in &touched {
            sync_dir(folder)?;
        }
        if moved > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(moved)
    }

    /// Removes every case file for which `keep` says no (files of cases that never committed, or
    /// whose removal after an erasure was interrupted). Returns how many went.
    pub fn sweep(&self, mut keep: impl FnMut(i64) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        let mut sweep_in = |dir: &Path| -> io::Result<()> {
            for (id, path) in case_files(dir)? {
                if !keep(id) {
                    fs::remove_file(path)?;
                    removed += 1;
                }
            }
            Ok(())
        };
        sweep_in(&self.dir)?;
        for top in numbered_folders(&self.dir)? {
            for folder in numbered_folders(&top)? {
                sweep_in(&folder)?;
            }
        }
        Ok(removed)
    }

    /// Removes the case files numbered above `last` (inserts that never committed), looking
    /// only into the folders whose id range reaches past it. Returns how many went.
    pub fn sweep_above(&self, last: i64) -> io::Result<usize> {
        let first = last.max(0) + 1;
        let number = |p: &Path| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<i64>().ok())
        };
        let mut removed = 0;
        for top in numbered_folders(&self.dir)? {
            let Some(millions) = number(&top).filter(|m| *m >= first / 1_000_000) else {
                continue;
            };
            for folder in numbered_folders(&top)? {
                let Some(thousands) = number(&folder) else {
                    continue;
                };
                if millions * 1_000 + thousands < first / 1_000 {
                    continue;
                }
                for (id, path) in case_files(&folder)? {
                    if id >= first {
                        fs::remove_file(path)?;
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// The entries of `dir`; none if it is missing.
fn entries(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other?.collect(),
    }
}

/// The case files directly in `dir` (`<case id>.sealed`), with their ids; none if it is missing.
fn case_files(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in entries(dir)? {
        let name = entry.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<i64>().ok())
        {
            out.push((id, entry.path()));
        }
    }
    Ok(out)
}

/// The folders in `dir` named by a number (the id-range folders); none if it is missing.
fn numbered_folders(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in entries(dir)? {
        let numbered = entry
            .file_name()
            .to_str()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if numbered && entry.file_type()?.is_dir() {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Makes a new or removed folder entry durable (on Unix; Windows has no folder handles to sync,
/// and NTFS journals its metadata).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sync of many files (spread over threads) syncs them all, and a file missing in any
    /// thread's share fails the whole sync instead of being skipped.
    #[test]
    fn many_files_sync_together_and_one_missing_fails_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let files = ImageFiles::beside(&dir.path().join("db.sqlite3"));
        let ids: Vec<i64> = (1..=PARALLEL_SYNC_FROM as i64 * 3).collect();
        for &id in &ids {
            files.write_unsynced(id, b"sealed").unwrap();
        }
        files.sync(&ids).unwrap();
        for gone in [ids[0], ids[ids.len() / 2], ids[ids.len() - 1]] {
            files.remove(gone).unwrap();
            let e = files.sync(&ids).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{gone}");
            files.write_unsynced(gone, b"sealed").unwrap();
        }
        files.sync(&ids).unwrap();
    }

    #[test]
    fn write_read_sweep_remove() {
        let dir = tempfile::tempdir().unwrap();
        let files = ImageFiles::beside(&dir.path().join("db.sqlite3"));
        files.write(7, b"hello world").unwrap();
        files.write(8, b"x").unwrap();
        assert_eq!(files.read(7, 6, 5).unwrap(), b"world");
        assert!(files.read(7, 8, 10).is_err(), "reading past the end");
        files.write(7, b"again").unwrap();
        assert_eq!(
            files.read(7, 0, 5).unwrap(),
            b"again",
            "replaced, not appended"
        );
        fs::write(files.dir().join("notes.txt"), "kept").unwrap();
        assert_eq!(files.sweep(|id| id == 7).unwrap(), 1);
        assert!(files.path(7).exists() && !files.path(8).exists());
        assert!(
            files.dir().join("notes.txt").exists(),
            "foreign files are left alone"
        );
        files.remove(7).unwrap();
        files.remove(7).unwrap();
        assert!(!files.path(7).exists());
    }

    #[test]
    fn files_go_to_folders_by_id_range() {
        let dir = tempfile::tempdir().unwrap();
        let files = ImageFiles::beside(&dir.path().join("db.sqlite3"));
        let table = [
            (7, "images/000/000/7.sealed"),
            (1_234, "images/000/001/1234.sealed"),
            (1_234_567, "images/001/234/1234567.sealed"),
            (2_000_999_000, "images/2000/999/2000999000.sealed"),
        ];
        for (id, rel) in table {
            assert_eq!(files.path(id), dir.path().join(rel), "{id}");
            files.write(id, format!("case {id}").as_bytes()).unwrap();
            assert_eq!(files.read(id, 0, 5).unwrap(), b"case ");
        }
        // The sweep finds files in every folder, and a stray flat one.
        fs::write(files.dir().join("99.sealed"), "orphan").unwrap();
        assert_eq!(files.sweep(|id| id != 1_234).unwrap(), 1);
        assert!(!files.path(1_234).exists() && files.flat_path(99).exists());
        assert_eq!(files.sweep(|id| id != 99).unwrap(), 1);
        assert!(!files.flat_path(99).exists());
    }

    #[test]
    fn a_store_from_before_the_folders_is_moved_into_them_and_an_interrupted_move_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let files = ImageFiles::beside(&dir.path().join("db.sqlite3"));
        fs::create_dir_all(files.dir()).unwrap();
        let ids = [1_i64, 2, 999, 1_000, 1_000_001];
        for id in ids {
            fs::write(files.flat_path(id), format!("bytes of {id}")).unwrap();
        }
        // Still readable where they are (another process may read while one moves them).
        assert_eq!(files.read(999, 0, 12).unwrap(), b"bytes of 999");
        // An interrupted move: two already in their folders, and one whose old name came back.
        for id in [2, 1_000] {
            files.make_folder(id).unwrap();
            fs::rename(files.flat_path(id), files.path(id)).unwrap();
        }
        fs::write(files.flat_path(2), "stale").unwrap();
        assert_eq!(files.move_into_folders().unwrap(), 4);
        for id in ids {
            assert!(!files.flat_path(id).exists(), "{id} moved");
            let want = format!("bytes of {id}");
            assert_eq!(
                files.read(id, 0, want.len() as u64).unwrap(),
                want.as_bytes()
            );
        }
        assert_eq!(
            files.move_into_folders().unwrap(),
            0,
            "nothing left to move"
        );
    }
}
