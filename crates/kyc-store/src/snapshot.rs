//! One read snapshot shared by several reads: a case as a reviewer opens it, a queue page with
//! the cases pinned above it. They run in one read transaction, so they agree with each other
//! (a decision committed meanwhile is in all of them or in none), and on PostgreSQL they take
//! one pooled connection, one start (sent with the first read) and one end (a ROLLBACK not waited
//! for) instead of one each; the reads that do not depend on each other go out together.

use super::*;
use kyc_domain::case::{AuditEntry, DecisionRecord, ImageInfo, Note};

/// What a reviewer opens with a case's summary ([`Snapshot::case_parts`]).
#[derive(Debug, Default)]
pub struct CaseParts {
    /// Its images (name, type, size), by name.
    pub images: Vec<ImageInfo>,
    /// Its decisions, oldest first.
    pub decisions: Vec<DecisionRecord>,
    /// Its timeline, oldest first.
    pub timeline: Vec<AuditEntry>,
    /// Its notes, oldest first.
    pub notes: Vec<Note>,
    /// The first cases of the list asked for with them (its limit at most).
    pub others: Vec<CaseSummary>,
}

/// An open read snapshot of the store ([`Store::snapshot`]). The reads offered here run on it;
/// the [`Store`]'s own methods of the same names each open a snapshot of their own.
pub struct Snapshot<'a> {
    pub(crate) store: &'a Store,
    c: &'a dyn Connection,
    /// The last case key read on this snapshot (a case's parts read one after another each
    /// need it; within one snapshot it cannot change).
    key: std::cell::RefCell<Option<(i64, std::rc::Rc<CaseKey>)>>,
    /// Set by the snapshot's last read ([`Snapshot::count_last`]): nothing may follow it.
    ended: std::cell::Cell<bool>,
    /// Whether a searched word (its tag) is on at most so many cases, as read on this snapshot
    /// (a queue page and the lists pinned above it ask the same; here it cannot change).
    pub(crate) rare_words: std::cell::RefCell<std::collections::HashMap<(Vec<u8>, i64), bool>>,
}

impl Store {
    /// Runs `f` on one read snapshot: every read `f` makes through the [`Snapshot`] sees the
    /// store as it was when the first of them ran. `f`'s own error is returned as it is.
    pub fn snapshot<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Snapshot<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut out = None;
        let read = self.read(|c| {
            let snapshot = Snapshot {
                store: self,
                c,
                key: Default::default(),
                ended: Default::default(),
                rare_words: Default::default(),
            };
            match f(&snapshot) {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    out = Some(Err(e));
                    // Ends the transaction without a commit; the error above is the one returned.
                    Err(Error::Internal("a snapshot's reads failed".into()))
                }
            }
        });
        match (out, read) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(e.into()),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (None, Ok(())) => Err(Error::Internal("a snapshot did not run".into()).into()),
        }
    }
}

impl Snapshot<'_> {
    /// Runs `f` on the snapshot's transaction.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&dyn Connection) -> Result<T>) -> Result<T> {
        if self.ended.get() {
            return Err(Error::Internal(
                "a read after its snapshot's last one".into(),
            ));
        }
        f(self.c)
    }

    /// Marks the read just made as the snapshot's last.
    pub(crate) fn end(&self) {
        self.ended.set(true);
    }

    /// Whether flag `code` is on more than [`RARE_FLAG_CASES`] cases: read at most once a
    /// [`FLAG_HINT_MS`] per store (a queue page and the lists pinned above it ask three times).
    pub(crate) fn flag_is_common(&self, code: &str) -> Result<bool> {
        let hints = || {
            self.store
                .flag_hints
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let now = self.store.now_ms();
        if let Some(&(common, at)) = hints().get(code) {
            if (at..at.saturating_add(FLAG_HINT_MS)).contains(&now) {
                return Ok(common);
            }
        }
        let common = self.read(|c| {
            c.query_row(
                "SELECT count(*) > ?2 FROM (SELECT 1 FROM case_flags WHERE code = ?1 LIMIT ?2 + 1) AS flagged",
                params![code, RARE_FLAG_CASES],
                |r| r.get::<bool>(0),
            )
        })?;
        let mut hints = hints();
        // Flag codes come from the request: the map stays small whatever they are.
        if hints.len() >= 256 {
            hints.clear();
        }
        hints.insert(code.to_string(), (common, now));
        Ok(common)
    }

    /// Case `id`'s images, decisions, timeline and notes, and the first cases `others` selects
    /// (no cursor, no count), read together: on PostgreSQL in one exchange.
    pub fn case_parts(&self, id: i64, others: &CaseQuery) -> Result<CaseParts> {
        let key = self.case_key(id)?;
        let (others, others_limit) = self.first_page(others)?;
        let timeline = crate::audit::timeline_sql();
        let by_id = [db::Param::Int(id)];
        let others_params = others.params();
        let queries: [(&str, &[db::Param]); 5] = [
            (crate::images::IMAGES_SQL, &by_id),
            (crate::decisions::DECISIONS_SQL, &by_id),
            (&timeline, &by_id),
            (crate::notes::NOTES_SQL, &by_id),
            (&others.sql, &others_params),
        ];
        let mut parts = CaseParts::default();
        let summary = summary_from_row(&self.store.vault);
        self.read(|c| {
            c.fetch_each(&queries, &mut |i, row| {
                match i {
                    0 => parts.images.push(crate::images::image_info_from_row(&row)?),
                    1 => parts
                        .decisions
                        .push(crate::decisions::decision_from_row(&key, &row)?),
                    2 => parts.timeline.push(crate::audit::entry_from_row(&row)?),
                    3 => parts.notes.push(crate::notes::note_from_row(&key, &row)?),
                    _ => parts.others.push(summary(&row)?),
                }
                Ok(())
            })
        })?;
        parts.others.truncate(others_limit);
        Ok(parts)
    }

    /// Case `id`'s key, read once per snapshot.
    pub(crate) fn case_key(&self, id: i64) -> Result<std::rc::Rc<CaseKey>> {
        if let Some((held, key)) = self.key.borrow().as_ref() {
            if *held == id {
                return Ok(key.clone());
            }
        }
        let key = self.store.case_key(self.c, id)?;
        Ok(self.keep_key(id, key))
    }

    /// Keeps case `id`'s key, read with another of its parts, for the snapshot's later reads.
    pub(crate) fn keep_key(&self, id: i64, key: CaseKey) -> std::rc::Rc<CaseKey> {
        let key = std::rc::Rc::new(key);
        *self.key.borrow_mut() = Some((id, key.clone()));
        key
    }
}
