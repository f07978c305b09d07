//! Sealed images stored as one file per case next to the database (`images/<case id>.sealed`):
//! written once and fsync'd before the case's transaction commits, instead of going through the
//! SQLite WAL and again through its checkpoint. The rows in `images` keep each image's offset and
//! length; a file whose case never committed (a crash in between) is swept away on open.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Folder of the image files, next to the database file.
pub const IMAGES_DIR: &str = "images";
const SUFFIX: &str = ".sealed";

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

    /// A case's file.
    pub fn path(&self, case_id: i64) -> PathBuf {
        self.dir.join(format!("{case_id}{SUFFIX}"))
    }

    /// Writes a case's file (replacing a leftover one) and makes it durable: the data, then the
    /// folder entry.
    pub fn write(&self, case_id: i64, bytes: &[u8]) -> io::Result<()> {
        crate::fsutil::private_dir(&self.dir)?;
        let mut file = crate::fsutil::private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(case_id))?;
        file.write_all(bytes)?;
        file.sync_data()?;
        sync_dir(&self.dir)
    }

    /// Reads `len` bytes at `offset` of a case's file.
    pub fn read(&self, case_id: i64, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let mut file = File::open(self.path(case_id))?;
        file.seek(SeekFrom::Start(offset))?;
        let mut out = vec![0u8; len as usize];
        file.read_exact(&mut out)?;
        Ok(out)
    }

    /// Removes a case's file; a missing one is not an error.
    pub fn remove(&self, case_id: i64) -> io::Result<()> {
        match fs::remove_file(self.path(case_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every case file for which `keep` says no (files of cases that never committed, or
    /// whose removal after an erasure was interrupted). Returns how many went.
    pub fn sweep(&self, mut keep: impl FnMut(i64) -> bool) -> io::Result<usize> {
        let entries = match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(SUFFIX))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            if !keep(id) {
                self.remove(id)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
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
}
