//! Image hashes of an earlier [`HASH_METHOD`](crate::phash::HASH_METHOD), found and replaced:
//! the store lists them and writes what kyc-core computed anew from the stored images, then reads
//! its indexes again.

use super::*;

/// A hash computed anew for one image of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewHash {
    /// The selfie's 128-bit hash.
    Selfie(u128),
    /// The document portrait's 512-bit hash.
    Portrait(crate::phash::WideHash),
    /// No hash any more (the image is gone, or the new computation finds it too plain).
    None,
}

/// One stored hash to compute again: the case and the image's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleHash {
    /// The case.
    pub case_id: i64,
    /// The image's name ([`HASHED_IMAGE`](crate::phash::HASHED_IMAGE) or
    /// [`PORTRAIT`](crate::phash::PORTRAIT)).
    pub image: String,
}

/// The stale hashes after a case, by case. Ordered by the case alone, so SQLite reads them from
/// the partial index `image_hashes_stale` (empty once none are left): ordered by the case and the
/// image it walked the primary key's 2,000,000 entries at a million cases, 1.3 s at every start.
const STALE_AFTER: &str =
    "SELECT case_id, image FROM image_hashes WHERE method = 1 AND case_id > ?1 \
                           ORDER BY case_id LIMIT ?2";

impl Store {
    /// Up to `limit` hashes of an earlier method, of the cases after `after`, by case (a case's
    /// images in no particular order).
    pub fn stale_hashes(&self, after: i64, limit: usize) -> Result<Vec<StaleHash>, Error> {
        self.read(|c| {
            c.query_map(STALE_AFTER, params![after, limit as i64], |r| {
                Ok(StaleHash {
                    case_id: r.get(0)?,
                    image: r.get(1)?,
                })
            })
        })
    }

    /// Replaces stale hashes with those computed anew, in one transaction, each written as of
    /// the current method (a case erased meanwhile is skipped). The indexes keep what they hold
    /// until [`reload_hashes`](Store::reload_hashes).
    pub fn replace_hashes(&self, new: &[(StaleHash, NewHash)]) -> Result<(), Error> {
        let vault = &self.vault;
        self.write(|tx| {
            for (stale, hash) in new {
                let (id, image) = (stale.case_id, stale.image.as_str());
                tx.execute(
                    "DELETE FROM image_hashes WHERE case_id = ?1 AND image = ?2 AND method = 1",
                    params![id, image],
                )?;
                let sealed = match hash {
                    NewHash::Selfie(h) => vault.seal_image_hash(id, *h),
                    NewHash::Portrait(h) => {
                        let bytes = crate::phash::wide_to_bytes(h);
                        vault.seal_named_hash(id, image, &bytes)
                    }
                    NewHash::None => continue,
                };
                // Another instance may have written the same value first.
                tx.execute(
                    "INSERT INTO image_hashes (case_id, image, sealed, method) \
                     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM cases WHERE id = ?1) \
                     ON CONFLICT (case_id, image) DO UPDATE SET sealed = excluded.sealed, \
                     method = excluded.method",
                    params![id, image, sealed, crate::phash::HASH_METHOD],
                )?;
            }
            Ok(())
        })
    }

    /// Whether the indexes were read in with hashes of an earlier method (they must be read
    /// again once those are replaced, even when another instance replaced them).
    pub fn hashes_were_stale(&self) -> bool {
        self.hashes.lock().map(|h| h.stale > 0).unwrap_or(true)
    }

    /// Reads the indexes again from the stored hashes, under the writer lock (an insert's entry
    /// is not lost between the read and the swap).
    pub fn reload_hashes(&self) -> Result<(), Error> {
        let fresh = |c: &dyn Connection| {
            load_hashes(c, &self.vault).map(|i| std::cell::RefCell::new(Some(i)))
        };
        let swap = |fresh: &std::cell::RefCell<Option<Indexes>>| {
            if let (Some(new), Ok(mut hashes)) = (fresh.borrow_mut().take(), self.hashes.lock()) {
                *hashes = new;
            }
        };
        db::write(self.db.as_ref(), fresh, swap)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// The search for stale hashes reads the partial index, not every stored hash.
    #[test]
    fn stale_hashes_are_found_through_their_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE);
        drop(crate::Store::open(&path, kyc_crypto::master::MasterKey::Key([4; 32])).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::STALE_AFTER))
            .unwrap()
            .query_map([0, 500], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("image_hashes_stale")),
            "{plan:?}"
        );
    }
}
