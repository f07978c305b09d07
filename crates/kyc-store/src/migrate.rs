//! Opening a database: the master key checked against it, image files no committed case points
//! to swept, rows from before encryption at rest sealed, the image hashes read into their indexes.

use super::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Opens the vault against this database: the passphrase salt is created on first use, and the
/// stored check value tells a wrong key or passphrase apart from damage.
pub(super) fn unlock(conn: &dyn db::Connection, master: MasterKey) -> Result<Vault, Error> {
    let meta = |k: &str| -> Result<Option<Vec<u8>>, Error> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
    };
    let put = |k: &str, v: &[u8]| -> Result<(), Error> {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            crate::params![k, v],
        )?;
        Ok(())
    };
    let salt = match (master.needs_salt(), meta("passphrase_salt")?) {
        (false, _) => Vec::new(),
        (true, Some(s)) => s,
        (true, None) => {
            let mut s = vec![0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut s);
            put("passphrase_salt", &s)?;
            s
        }
    };
    let (vault, source) = (master.unlock(&salt)?, master.source());
    match meta("key_check")? {
        Some(check) if vault.verify_check_value(&check) => Ok(vault),
        Some(_) => {
            let was = meta("key_source")?.map(|v| String::from_utf8_lossy(&v).into_owned());
            Err(Error::Config(format!(
                "storage: the master key does not open this database (it was sealed with a {} key; \
                 wrong passphrase or key file?)",
                was.as_deref().unwrap_or("different")
            )))
        }
        None => {
            put("key_check", &vault.check_value())?;
            put("key_source", source.as_bytes())?;
            Ok(vault)
        }
    }
}

/// Removes image files no committed case points to, holding the write lock: another process on
/// the same database (the service while the CLI opens the store) writes a case's file inside its
/// write transaction, so no file is half-way to its commit while this looks.
///
/// Only where such a file can be: the files of erased cases listed in `file_removals` (a removal
/// interrupted after the erasure committed), and the files numbered past the last case (written
/// by an insert that never committed; its number was never given, so it is above the counter).
/// That is a few folder entries however many cases the store holds. A store from before
/// `file_removals` (`full`) has its whole folder compared with the `images` rows, once.
pub(super) fn sweep_image_files(
    conn: &mut Connection,
    files: &ImageFiles,
    full: bool,
) -> Result<(), Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A store from before the id-range folders: its files move into them first.
    let moved = files.move_into_folders()?;
    if moved > 0 {
        tracing::info!(files = moved, "moved image files into folders by id range");
    }
    let removed = if full {
        let live = {
            let mut stmt =
                tx.prepare("SELECT DISTINCT case_id FROM images WHERE file_len IS NOT NULL")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, i64>(0))?
                .collect::<Result<std::collections::HashSet<i64>, _>>()?;
            ids
        };
        files.sweep(|id| live.contains(&id))?
    } else {
        let erased = {
            let mut stmt = tx.prepare("SELECT case_id FROM file_removals")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, i64>(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            ids
        };
        for id in &erased {
            files.remove_durably(*id)?;
        }
        tx.execute("DELETE FROM file_removals", [])?;
        let last: i64 = tx
            .query_row("SELECT last FROM counters WHERE name = 'case'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0);
        files.sweep_above(last)?
    };
    tx.commit()?;
    if removed > 0 {
        tracing::info!(
            files = removed,
            "removed image files of cases that never committed"
        );
    }
    Ok(())
}

/// Seals cases stored in the clear by a version before encryption at rest, then vacuums so no
/// plaintext stays behind in free pages.
pub(super) fn seal_plaintext_rows(conn: &mut Connection, vault: &Vault) -> Result<(), Error> {
    let legacy: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT id FROM cases WHERE pii IS NULL")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if legacy.is_empty() {
        return Ok(());
    }
    tracing::info!(
        cases = legacy.len(),
        "sealing cases stored before encryption at rest"
    );
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    for id in legacy {
        type Plain = (
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            Option<String>,
        );
        let (name, number, flags, raw, user_id, answer_user): Plain = tx.query_row(
            "SELECT holder_name, document_number, flags, raw_json, user_id, answer_user_id FROM cases WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?;
        let flags: Vec<Flag> = serde_json::from_str(&flags).unwrap_or_default();
        let (key, wrapped) = vault.new_case_key(id);
        tx.execute(
            "INSERT INTO case_keys (case_id, wrapped) VALUES (?1, ?2)",
            params![id, wrapped],
        )?;
        insert_tags(
            &*tx,
            id,
            &vault.search_tags(name.as_deref(), number.as_deref()),
        )?;
        let user_tag = vault.tag("user", &user_id);
        let pii = Pii {
            user_id,
            holder_name: name,
            document_number: number.clone(),
            flags,
        };
        tx.execute(
            "UPDATE cases SET pii = ?2, raw = ?3, document_tag = ?4, flags = ?5, user_tag = ?6, answer_user = ?7, \
             holder_name = NULL, document_number = NULL, raw_json = '', user_id = '', answer_user_id = NULL \
             WHERE id = ?1",
            params![
                id,
                seal_json(&key, SealField::Pii, &pii)?,
                key.seal(SealField::Raw, raw.as_bytes()),
                number.map(|n| vault.tag("document", &n)),
                flag_codes(&pii.flags),
                user_tag,
                answer_user.map(|u| key.seal(SealField::AnswerUser, u.as_bytes())),
            ],
        )?;
        let images: Vec<(String, Vec<u8>)> = {
            let mut stmt =
                tx.prepare("SELECT name, bytes FROM images WHERE case_id = ?1 AND sealed = 0")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (name, bytes) in images {
            tx.execute(
                "UPDATE images SET bytes = ?3, sealed = 1 WHERE case_id = ?1 AND name = ?2",
                params![id, name, key.seal(SealField::Image(&name), &bytes)],
            )?;
        }
        let decisions: Vec<(i64, String, Option<String>)> = {
            let mut stmt =
                tx.prepare("SELECT id, comment, link_user_id FROM decisions WHERE case_id = ?1")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (row, comment, link) in decisions {
            let comment = (!comment.is_empty())
                .then(|| key.seal(SealField::Comment(row), comment.as_bytes()));
            let link = link.map(|l| key.seal(SealField::Link(row), l.as_bytes()));
            tx.execute(
                "UPDATE decisions SET comment = '', comment_sealed = ?2, link_user_id = NULL, link_sealed = ?3 WHERE id = ?1",
                params![row, comment, link],
            )?;
        }
        let deliveries: Vec<(i64, String)> = {
            let mut stmt = tx.prepare("SELECT id, body FROM deliveries WHERE case_id = ?1")?;
            let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (row, body) in deliveries {
            tx.execute(
                "UPDATE deliveries SET body = '', body_sealed = ?2 WHERE id = ?1",
                params![row, key.seal(SealField::Delivery(row), body.as_bytes())],
            )?;
        }
    }
    tx.commit()?;
    conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}

/// Reads every stored image hash into new indexes at open, SQLite's way (what
/// `history::load_hashes` does over any backend, in about half the time): the users' tags read
/// by a connection of their own while the hashes are, the hashes in two halves of the table on
/// two threads, each row's text and blob borrowed from SQLite rather than copied, and the two
/// indexes built side by side.
pub(super) fn load_hashes_in_parallel(path: &Path, vault: &Vault) -> Result<Indexes, Error> {
    let open = || crate::sqlite::open_reader(path);
    let conn = open()?;
    let last: i64 = conn.query_row(
        "SELECT coalesce(max(rowid), 0) FROM image_hashes",
        [],
        |r| r.get(0),
    )?;
    let middle = last / 2;
    let (users, (mut selfies, mut portraits), (upper_selfies, upper_portraits)) =
        std::thread::scope(|s| -> Result<_, Error> {
            // By case id: the hashes come nearly in case order, so looking each one up by a
            // binary search stays in cache (a hash map's 2,000,000 random probes took 0.3–0.6 s
            // at a million cases).
            let users = s.spawn(|| -> Result<Vec<(i64, u64)>, Error> {
                let conn = open()?;
                let mut users = Vec::new();
                let mut stmt =
                    conn.prepare("SELECT id, user_tag FROM cases WHERE user_tag IS NOT NULL")?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    let tag = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
                    users.push((r.get(0)?, crate::phash::user_key(tag)));
                }
                users.sort_unstable_by_key(|&(id, _)| id);
                Ok(users)
            });
            let upper = s.spawn(|| hashes_between(&open()?, vault, middle, last));
            let lower = hashes_between(&conn, vault, 0, middle)?;
            let join =
                |what| move |_| Error::Internal(format!("loading the hashes: {what} panicked"));
            Ok((
                users.join().map_err(join("the users' tags"))??,
                lower,
                upper.join().map_err(join("the upper half"))??,
            ))
        })?;
    selfies.extend(upper_selfies);
    portraits.extend(upper_portraits);
    let unknown = crate::phash::user_key(&[]);
    let users_of = |entries: &mut [Hashed]| {
        for e in entries.iter_mut() {
            e.user = users
                .binary_search_by_key(&e.case_id, |&(id, _)| id)
                .map_or(unknown, |at| users[at].1);
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| users_of(&mut selfies));
        users_of(&mut portraits);
    });
    drop(users);
    let mut indexes = Indexes::from_entries_side_by_side(selfies, portraits);
    indexes.stale = crate::history::stale_hashes(&conn)?;
    Ok(indexes)
}

/// The hashes of the `image_hashes` rows numbered in `(after, upto]`, their users left to fill.
fn hashes_between(
    conn: &Connection,
    vault: &Vault,
    after: i64,
    upto: i64,
) -> Result<(Vec<Hashed>, Vec<Hashed>), Error> {
    let (mut selfies, mut portraits) = (Vec::new(), Vec::new());
    let mut stmt = conn.prepare(
        "SELECT case_id, image, sealed FROM image_hashes WHERE rowid > ?1 AND rowid <= ?2",
    )?;
    let mut rows = stmt.query([after, upto])?;
    while let Some(r) = rows.next()? {
        let image = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let sealed = r.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
        let stored = (r.get(0)?, image, sealed, 0);
        crate::history::take_hash(vault, stored, (&mut selfies, &mut portraits))?;
    }
    Ok((selfies, portraits))
}
