//! Erasure (crypto-shredding): a case's key and rows destroyed, the WAL truncated so no copy is
//! left, retention's expired cases.

use super::*;

/// At most this many cases are erased per transaction by a retention sweep...
pub const ERASE_BATCH: usize = 50;
/// ...and no more are taken into a transaction once it has run this long: receiving waits on the
/// writer for about this at most, and the sweep is not one commit (and its fsync) per case.
pub const ERASE_BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(20);

impl Store {
    /// Erases a case (crypto-shredding): its wrapped key, sealed data, images, decisions, search
    /// tags and webhook deliveries go in one transaction, deleted rows are overwritten
    /// (`secure_delete`), and the WAL is checkpointed and truncated. The audit trail keeps the id,
    /// the reference and the event. Returns the reference.
    /// Returns the reference, and whether the erasure is complete: false while a reader's
    /// snapshot keeps the WAL from being truncated (then [`Store::finish_erasures`] completes it).
    pub fn erase(&self, id: i64, by: &str, reason: &str) -> Result<(String, bool), Error> {
        let reference = self.erase_rows(id, by, reason)?;
        Ok((reference, self.finish_erasures()?))
    }

    /// Erases several cases (retention), up to [`ERASE_BATCH`] per transaction for at most about
    /// [`ERASE_BATCH_TIME`] each, then checkpoints the WAL once; returns the erased ones' ids and
    /// references, and false when the erasures are still pending. A case already gone (another
    /// instance's sweep erased it first) or still waited on is skipped.
    pub fn erase_all(
        &self,
        ids: &[i64],
        by: &str,
        reason: &str,
    ) -> Result<(Vec<(i64, String)>, bool), Error> {
        let mut erased = Vec::with_capacity(ids.len());
        let mut rest = ids;
        while !rest.is_empty() {
            let began = std::time::Instant::now();
            let (done, taken) = db::write(
                self.db.as_ref(),
                |tx| {
                    let began = std::time::Instant::now();
                    let (mut done, mut taken) = (Vec::new(), 0);
                    for &id in rest.iter().take(ERASE_BATCH) {
                        if taken > 0 && began.elapsed() >= ERASE_BATCH_TIME {
                            break;
                        }
                        taken += 1;
                        // Checked before the case's first write: skipping it leaves nothing.
                        match self.erase_in(tx, id, by, reason) {
                            Ok(reference) => done.push((id, reference)),
                            // Gone already, or (decided but) still waited on: the next sweep
                            // takes it.
                            Err(Error::NotFound(_) | Error::Held(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok((done, taken))
                },
                |(done, _)| self.forget_hashes(done.iter().map(|(id, _)| *id)),
            )?;
            erased.extend(done);
            rest = &rest[taken..];
            // Receiving first: the writer is left alone as long as the batch held it (a
            // submission waiting for it gets it; the lock itself is not fair).
            if !rest.is_empty() {
                std::thread::sleep(began.elapsed());
            }
        }
        let complete = self.finish_erasures()?;
        Ok((erased, complete))
    }

    /// Completes the pending erasures: checkpoints and truncates the WAL (waiting at most
    /// `ERASURE_WAIT` for readers), then audits each as `case.erasure_completed`. False when a
    /// reader still holds an older snapshot (nothing changed; try again later).
    ///
    /// Only the erasures pending before the checkpoint began are marked complete: one that commits
    /// between the checkpoint and the marking is not covered by it, and stays pending.
    pub fn finish_erasures(&self) -> Result<bool, Error> {
        let pending: Vec<(i64, String)> = self.read(|c| {
            c.query_map(
                "SELECT case_id, reference FROM pending_erasures ORDER BY case_id",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })?;
        let Some(scrub) = self.db.after_erase()? else {
            return Ok(false);
        };
        self.write(|tx| {
            for (id, reference) in &pending {
                if tx.execute("DELETE FROM pending_erasures WHERE case_id = ?1", [id])? == 0 {
                    continue; // completed by another call meanwhile
                }
                crate::audit::append(
                    tx,
                    &self.vault,
                    self.now_ms(),
                    "system",
                    "case.erasure_completed",
                    Some(*id),
                    &serde_json::json!({"reference": reference, "scrub": scrub}),
                )?;
            }
            Ok(true)
        })
    }

    /// Whether erasures are waiting for readers to let go of the WAL.
    pub fn erasures_pending(&self) -> Result<bool, Error> {
        self.read(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM pending_erasures)",
                params![],
                |r| r.get(0),
            )
        })
    }

    pub(super) fn erase_rows(&self, id: i64, by: &str, reason: &str) -> Result<String, Error> {
        db::write(
            self.db.as_ref(),
            |tx| self.erase_in(tx, id, by, reason),
            |_| self.forget_hashes([id]),
        )
    }

    /// Takes erased cases out of the in-memory hash indexes (after their erasure committed).
    fn forget_hashes(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut hashes) = self.hashes.lock() {
            for id in ids {
                hashes.erase(id);
            }
        }
    }

    /// One case's erasure inside `tx`. Fails with [`Error::NotFound`] or [`Error::Held`] before
    /// writing anything.
    fn erase_in(
        &self,
        tx: &dyn Connection,
        id: i64,
        by: &str,
        reason: &str,
    ) -> Result<String, Error> {
        let (reference, held): (String, Option<i64>) = tx
            .query_row(
                "SELECT reference, CASE WHEN answer_result IS NULL THEN hold_until END \
                 FROM cases WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        // Ditto ID waits on it (a request held here or on another instance): checked inside
        // the erasure's transaction, so no hold can begin between the check and the delete.
        if held.is_some_and(|until| until > self.now_ms()) {
            return Err(Error::Held(reference));
        }
        tx.execute("DELETE FROM case_keys WHERE case_id = ?1", [id])?;
        tx.execute("DELETE FROM cases WHERE id = ?1", [id])?;
        tx.execute(
            "INSERT INTO pending_erasures (case_id, reference, requested_at) \
             VALUES (?1, ?2, ?3) ON CONFLICT (case_id) DO UPDATE \
             SET reference = excluded.reference, requested_at = excluded.requested_at",
            params![id, reference, self.now_ms()],
        )?;
        crate::audit::append(
            tx,
            &self.vault,
            self.now_ms(),
            by,
            "case.erased",
            Some(id),
            &serde_json::json!({"reference": reference, "reason": reason}),
        )?;
        tx.drop_blob(id)?;
        Ok(reference)
    }

    /// When the `n`-th oldest final decision (from 0) was made, if there are that many: a
    /// retention cut-off just after it erases about `n` cases (the sweep benchmark's).
    pub fn final_decision_at_rank(&self, n: u64) -> Result<Option<i64>, Error> {
        self.read(|c| {
            c.query_row(
                "SELECT decided_at FROM decisions WHERE final = 1 \
                 ORDER BY decided_at LIMIT 1 OFFSET ?1",
                params![n as i64],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Decided cases numbered after `after` whose final decision is older than `keep_ms` at
    /// `now_ms`, at most `limit`, in case order (a sweep goes on after the last one it was given).
    pub fn expired_cases(
        &self,
        now_ms: i64,
        keep_ms: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<i64>, Error> {
        self.read(|c| {
            c.query_map(
                "SELECT cases.id FROM cases \
                 JOIN decisions ON decisions.case_id = cases.id AND decisions.final = 1 \
                 WHERE cases.id > ?2 AND cases.status <> 'pending' GROUP BY cases.id \
                 HAVING max(decisions.decided_at) < ?1 ORDER BY cases.id LIMIT ?3",
                params![now_ms - keep_ms, after, limit],
                |r| r.get(0),
            )
        })
    }
}
