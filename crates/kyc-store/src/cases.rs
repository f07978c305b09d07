//! Cases: storing a submission (with its history, `history.rs`, in the same transaction),
//! resolving, summaries and the payload as stored (the queue's list: `list.rs`).

use super::*;

/// A case's status (`NotFound` when there is no such case).
pub(crate) fn case_status(c: &dyn Connection, id: i64) -> Result<String, Error> {
    c.query_row("SELECT status FROM cases WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NotFound(id.to_string()))
}

pub(super) fn insert_tags(c: &dyn Connection, id: i64, tags: &[Vec<u8>]) -> Result<(), Error> {
    let tags = tags.iter().map(|t| db::Param::Bytes(t));
    insert_for_case(c, "search_tags (tag, case_id)", tags, id)
}

/// Rows of a value and case `id` into `table` (its two columns named, `search_tags (tag,
/// case_id)`), with one statement; a row already there is skipped.
pub(crate) fn insert_for_case<'a>(
    c: &dyn Connection,
    table: &str,
    values: impl Iterator<Item = db::Param<'a>>,
    id: i64,
) -> Result<(), Error> {
    let rows: Vec<db::Param> = values.flat_map(|v| [v, db::Param::Int(id)]).collect();
    let head = format!("INSERT INTO {table}");
    db::insert_rows(c, &head, 2, &rows, " ON CONFLICT DO NOTHING")?;
    Ok(())
}

/// What an insert's transaction did: stored a new case, or found one with its requester id.
pub(crate) enum Stored {
    New(Box<CaseSummary>),
    Earlier(i64),
}

/// The decision for a new case's final flags (its history flags included), if the policy makes
/// one at once, and whether that decision needs a second person (four-eyes).
pub type ArrivalPolicy<'a> = &'a dyn Fn(&[Flag]) -> Option<(NewDecision, bool)>;

/// The policy's decision on a case as it arrives ([`Store::receive`]): the store records what
/// the policy decides and knows no policy itself.
pub struct OnArrival<'a> {
    /// What the policy decides ([`ArrivalPolicy`]).
    pub decide: ArrivalPolicy<'a>,
    /// Queue the decision's webhook delivery with it.
    pub notify: bool,
}

/// A new case's parts made before its rows ([`Store::stage_case`]), or the earlier case with
/// the same requester id.
enum Staged {
    Earlier(i64),
    New {
        id: i64,
        key: Box<CaseKey>,
        wrapped: Vec<u8>,
        /// Each image's (offset, length) in the case's blob, in the submission's order.
        places: Vec<(i64, i64)>,
    },
}

/// The case already stored for `sub`'s requester id.
fn earlier_case(tx: &dyn Connection, sub: &Submission) -> Result<Option<i64>, Error> {
    tx.query_row(
        "SELECT id FROM cases WHERE requester_id = ?1",
        [&sub.requester_id],
        |r| r.get(0),
    )
    .optional()
}

impl Store {
    /// Stores a new case with its images in one durable transaction, or finds the earlier one.
    /// The history flags (`document_reused`, `user_seen_before`) are added to `flags` inside that
    /// transaction, under the write lock: simultaneous submissions see each other.
    pub fn insert_case(
        &self,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
    ) -> Result<Inserted, Error> {
        self.receive(sub, flags, received_at_ms, None, None)
    }

    /// `insert_case` for a request that will wait on its answer: a new case is stored held until
    /// `hold_until` (unix ms) in the same transaction (an earlier case is not touched: see
    /// `hold`), with the policy's decision on arrival, if it is given one: a new case the policy
    /// decides at once (from its final flags, the history flags included) is stored with that
    /// decision and, when it is final, with Ditto ID's answer settled, in the one transaction
    /// (one commit and one turn of the write lock instead of three).
    pub fn receive(
        &self,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
        hold_until: Option<i64>,
        on_arrival: Option<&OnArrival>,
    ) -> Result<Inserted, Error> {
        let vault = &self.vault;
        // The case's id, key and sealed images are made and stored first: where the engine
        // gives ids without the write lock (PostgreSQL), before it is taken, so several
        // instances store images at once and the lock covers only the case's rows.
        let stage = |tx: &dyn Connection| self.stage_case(tx, sub);
        let insert = |tx: &dyn Connection, staged| {
            let times = (received_at_ms, hold_until);
            self.insert_staged(tx, staged, sub, flags, times, on_arrival)
        };
        // The index follows the commit, still under the writer lock (the next insert sees it).
        let committed = |stored: &Stored| {
            if let Stored::New(case) = stored {
                self.index_hashes(case.id, sub);
            }
        };
        match db::write_staged(self.db.as_ref(), stage, insert, committed)? {
            Stored::New(case) => Ok(Inserted::New(*case)),
            // The same requester id again: the same case if the same body and images, else a
            // conflict.
            Stored::Earlier(id) => self.read(|c| {
                if self.same_content(c, id, sub)? {
                    Ok(Inserted::Existing(summary(c, vault, id)?))
                } else {
                    Err(Error::Conflict(sub.requester_id.clone()))
                }
            }),
        }
    }

    /// Adds a stored case's image hashes to the in-memory indexes (under the writer lock).
    pub(crate) fn index_hashes(&self, case_id: i64, sub: &Submission) {
        let Ok(mut hashes) = self.hashes.lock() else {
            return;
        };
        let user = crate::phash::user_key(&self.vault.tag("user", &sub.user_id));
        let entry = |hash| Hashed {
            case_id,
            user,
            hash,
        };
        if let Some(hash) = sub.selfie_hash {
            hashes.selfie.insert(entry(hash));
        }
        if let Some(hash) = &sub.portrait_hash {
            hashes.portrait.insert(entry(crate::phash::fold(hash)));
        }
    }

    /// A case stored inside the caller's write transaction (see
    /// [`receive`](Store::receive)); the hash indexes are the caller's to
    /// update once it commits.
    pub(crate) fn insert_in(
        &self,
        tx: &dyn Connection,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
        hold_until: Option<i64>,
    ) -> Result<Stored, Error> {
        let staged = self.stage_case(tx, sub)?;
        self.insert_staged(tx, staged, sub, flags, (received_at_ms, hold_until), None)
    }

    /// What a new case needs before its rows: its id (never one given before), its key, and its
    /// images sealed and stored; or the earlier case with the same requester id.
    fn stage_case(&self, tx: &dyn Connection, sub: &Submission) -> Result<Staged, Error> {
        if let Some(id) = earlier_case(tx, sub)? {
            return Ok(Staged::Earlier(id));
        }
        let id = tx.next_case_id()?;
        let (key, wrapped) = self.vault.new_case_key(id);
        // The sealed images go to the case's blob, durable before the rows that point into it
        // commit; if the commit fails the blob goes too.
        let mut sealed = Vec::with_capacity(
            sub.images
                .iter()
                .map(|i| i.bytes.len() + kyc_crypto::vault::SEAL_OVERHEAD as usize)
                .sum(),
        );
        let mut places = Vec::with_capacity(sub.images.len());
        for img in &sub.images {
            let start = sealed.len();
            key.seal_append(SealField::Image(&img.name), &img.bytes, &mut sealed);
            places.push((start as i64, (sealed.len() - start) as i64));
        }
        if !sub.images.is_empty() {
            tx.put_blob(id, &sealed)?;
        }
        Ok(Staged::New {
            id,
            key: Box::new(key),
            wrapped,
            places,
        })
    }

    /// The rows of a case [`Store::stage_case`] made (under the write lock), received and held
    /// at `times` (unix ms), with the policy's decision `on_arrival`.
    fn insert_staged(
        &self,
        tx: &dyn Connection,
        staged: Staged,
        sub: &Submission,
        flags: &[Flag],
        (received_at_ms, hold_until): (i64, Option<i64>),
        on_arrival: Option<&OnArrival>,
    ) -> Result<Stored, Error> {
        let vault = &self.vault;
        let (next_id, key, wrapped, places) = match staged {
            // Compared after the (empty) transaction: reading and opening its images need no
            // write lock.
            Staged::Earlier(id) => return Ok(Stored::Earlier(id)),
            Staged::New {
                id,
                key,
                wrapped,
                places,
            } => (id, key, wrapped, places),
        };
        // Staged before the lock (PostgreSQL): another instance may have stored a case for the
        // same requester id since. It stands; this one's images go with the transaction.
        if let Some(id) = earlier_case(tx, sub)? {
            tx.drop_blob(next_id)?;
            return Ok(Stored::Earlier(id));
        }
        // The counter follows the ids an engine gives without it (a copy of the store to
        // another engine goes on after the highest).
        tx.execute(
            "UPDATE counters SET last = CASE WHEN last < ?1 THEN ?1 ELSE last END WHERE name = 'case'",
            [next_id],
        )?;
        let history = {
            let mut hashes = self
                .hashes
                .lock()
                .map_err(|_| Error::Internal("image hash index lock poisoned".into()))?;
            if self.is_shared() {
                // The cases other instances stored since: under the write lock every one
                // committed is visible, so the indexes miss none.
                let (selfies, portraits) = hashes_after(tx, vault, hashes.newest())?;
                selfies.into_iter().for_each(|h| hashes.selfie.insert(h));
                portraits
                    .into_iter()
                    .for_each(|h| hashes.portrait.insert(h));
            }
            history_in(tx, vault, &hashes, sub)?
        };
        let mut flags = flags.to_vec();
        flags.extend(history.flags());
        let flags = &flags[..];
        let year = crate::timefmt::year_of(received_at_ms);
        let reference = format!("KYC-{year}-{next_id:06}");
        let p = &sub.payload;
        let holder_name = p.holder_name();
        let pii = Pii {
            user_id: sub.user_id.clone(),
            holder_name: holder_name.clone(),
            document_number: p.document_number().map(str::to_string),
            flags: flags.to_vec(),
        };
        tx.execute(
                "INSERT INTO cases (id, reference, requester_id, user_id, app_id, body_sha256, received_at, \
                 document_type, flags, raw_json, pii, raw, document_tag, user_tag, model, hold_until) \
                 VALUES (?1, ?2, ?3, '', ?4, ?13, ?5, ?6, ?7, '', ?8, ?9, ?10, ?11, ?12, ?14)",
                params![
                    next_id,
                    reference,
                    sub.requester_id,
                    sub.app_id,
                    received_at_ms,
                    p.document_type(),
                    flag_codes(flags),
                    seal_json(&key, SealField::Pii, &pii)?,
                    key.seal(SealField::Raw, sub.raw_json.as_bytes()),
                    p.document_number().map(|n| vault.tag("document", n)),
                    vault.tag("user", &sub.user_id),
                    sub.model_json.as_ref().map(|m| key.seal(SealField::Model, m.as_bytes())),
                    crate::db::NO_BYTES,
                    hold_until,
                ],
            )?;
        tx.execute(
            "INSERT INTO case_keys (case_id, wrapped) VALUES (?1, ?2)",
            params![next_id, wrapped],
        )?;
        insert_tags(
            tx,
            next_id,
            &vault.search_tags(holder_name.as_deref(), p.document_number()),
        )?;
        let codes = flags.iter().map(|f| db::Param::Text(&f.code));
        insert_for_case(tx, "case_flags (code, case_id)", codes, next_id)?;
        crate::audit::append(
            tx,
            &self.vault,
            self.now_ms(),
            "ditto-id",
            "case.received",
            Some(next_id),
            &serde_json::json!({"reference": reference, "images": sub.images.len()}),
        )?;
        history.record(tx, (vault, self.now_ms()), next_id, &reference, sub)?;
        let rows: Vec<db::Param> = sub
            .images
            .iter()
            .zip(&places)
            .flat_map(|(img, (offset, len))| {
                [
                    db::Param::Int(next_id),
                    db::Param::Text(&img.name),
                    db::Param::Text(img.format.mime()),
                    db::ToParam::to_param(&img.width),
                    db::ToParam::to_param(&img.height),
                    db::Param::Bytes(crate::db::NO_BYTES),
                    db::Param::Int(1),
                    db::ToParam::to_param(offset),
                    db::ToParam::to_param(len),
                ]
            })
            .collect();
        db::insert_rows(
            tx,
            "INSERT INTO images (case_id, name, mime, width, height, bytes, sealed, file_offset, file_len)",
            9,
            &rows,
            "",
        )?;
        if let Some(arrival) = on_arrival {
            self.decide_on_arrival(tx, (next_id, &key), &sub.user_id, flags, arrival)?;
        }
        Ok(Stored::New(Box::new(summary(tx, vault, next_id)?)))
    }

    /// Finds a case by numeric id or by reference.
    pub fn resolve(&self, key: &str) -> Result<i64, Error> {
        self.snapshot(|s| s.resolve(key))
    }

    /// A case's summary (`NotFound` when there is none).
    pub fn summary(&self, id: i64) -> Result<CaseSummary, Error> {
        self.snapshot(|s| s.summary(id))
    }

    /// A page of the queue ([`Snapshot::list`]).
    pub fn list(&self, q: &CaseQuery) -> Result<CasePage, Error> {
        self.snapshot(|s| s.list(q))
    }

    /// The cases Ditto ID waits on at `now` ([`Snapshot::held_ids`]).
    pub fn held_ids(&self, now: i64) -> Result<Vec<i64>, Error> {
        self.snapshot(|s| s.held_ids(now))
    }

    /// The stored raw payload (images as markers).
    pub fn raw_json(&self, id: i64) -> Result<String, Error> {
        Ok(self.payload_json(id)?.0)
    }

    /// The stored raw payload and, for a custom body, the model it was mapped into
    /// ([`Snapshot::payload_json`]).
    pub fn payload_json(&self, id: i64) -> Result<(String, Option<String>), Error> {
        self.snapshot(|s| s.payload_json(id))
    }

    /// Whether a stored case holds the same content as a submission (a repeated POST): the same
    /// JSON (images as markers) and the same image bytes. Only read when a requester id repeats.
    pub(super) fn same_content(
        &self,
        c: &dyn Connection,
        id: i64,
        sub: &Submission,
    ) -> Result<bool, Error> {
        let key = case_key_in(c, &self.vault, id)?;
        let raw: Vec<u8> =
            c.query_row("SELECT raw FROM cases WHERE id = ?1", [id], |r| r.get(0))?;
        if key.open(SealField::Raw, &raw)? != sub.raw_json.as_bytes() {
            return Ok(false);
        }
        let stored = c.query_map(
            "SELECT name, bytes, file_offset, file_len FROM images WHERE case_id = ?1 ORDER BY name",
            [id],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<Vec<u8>>(1)?,
                    file_place(r, 2)?,
                ))
            },
        )?;
        if stored.len() != sub.images.len() {
            return Ok(false);
        }
        for (name, inline, place) in stored {
            let Some(new) = sub.images.iter().find(|i| i.name == name) else {
                return Ok(false);
            };
            let sealed = self.sealed_image(Some(c), id, &name, inline, place)?;
            if key.open(SealField::Image(&name), &sealed)? != new.bytes {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Several cases by id (those that still exist), in the given order.
    pub fn summaries(&self, ids: &[i64]) -> Result<Vec<CaseSummary>, Error> {
        self.read(|c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match summary(c, &self.vault, *id) {
                    Ok(s) => out.push(s),
                    Err(Error::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
    }

    /// The document types seen (for the queue's filter).
    pub fn document_types(&self) -> Result<Vec<String>, Error> {
        self.read(|c| {
            let rows = c.query_map("SELECT DISTINCT document_type FROM cases WHERE document_type IS NOT NULL ORDER BY 1 LIMIT 100", params![], |r| r.get(0))?;
            Ok(rows)
        })
    }

    /// Number of cases (for tests and status lines).
    pub fn count(&self) -> Result<i64, Error> {
        self.read(|c| c.query_row("SELECT count(*) FROM cases", params![], |r| r.get(0)))
    }

    /// For exports: the sealed user id of a case (from its wrapped key and `pii`) and a decision's
    /// sealed linked user id.
    pub(crate) fn open_user_ids(
        &self,
        case_id: i64,
        wrapped: &[u8],
        pii: &[u8],
        link: Option<(i64, Vec<u8>)>,
    ) -> Result<(String, Option<String>), Error> {
        let key = self.vault.unwrap_case_key(case_id, wrapped)?;
        let user = open_json::<Pii>(&key, SealField::Pii, pii)?.user_id;
        let link = match link {
            Some((row, sealed)) => Some(open_text(&key, SealField::Link(row), &sealed)?),
            None => None,
        };
        Ok((user, link))
    }
}

/// The condition on `cases` (as `table`) that finds the case `key` names, by its numeric id or
/// its reference, as placeholder `?1`, and `?1`'s value.
pub(crate) fn case_named(key: &str, table: &str) -> (String, db::Value) {
    match key.parse::<i64>() {
        Ok(id) => (format!("{table}.id = ?1"), id.into()),
        Err(_) => (format!("{table}.reference = ?1"), key.to_string().into()),
    }
}

impl Snapshot<'_> {
    /// Finds a case by numeric id or by reference.
    pub fn resolve(&self, key: &str) -> Result<i64, Error> {
        let (case, by) = case_named(key, "cases");
        self.read(|c| {
            c.query_row(&format!("SELECT id FROM cases WHERE {case}"), [by], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| Error::NotFound(key.to_string()))
        })
    }

    /// The case `key` names (its id or reference) as a reviewer opens it: its summary and its
    /// payload (raw, and the model a custom body was mapped into), read in one statement. Its
    /// key is kept for the snapshot's later reads of the case. `NotFound` when there is none
    /// or it was erased.
    pub fn case_of(&self, key: &str) -> Result<(CaseSummary, String, Option<String>), Error> {
        let (case, by) = case_named(key, "cases");
        let sql = format!("SELECT {SUMMARY_COLS}, raw, model FROM cases WHERE {case}");
        let (summary, case_key, raw, model) = self
            .read(|c| {
                c.query_row(&sql, [by], |r| {
                    let (summary, case_key) = summary_and_key(&self.store.vault, r)?;
                    let (raw, model): (Vec<u8>, Option<Vec<u8>>) = (r.get(15)?, r.get(16)?);
                    Ok((summary, case_key, raw, model))
                })
                .optional()
            })?
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        let case_key = self.keep_key(
            summary.id,
            case_key.ok_or_else(|| Error::NotFound(key.to_string()))?,
        );
        let raw = open_text(&case_key, SealField::Raw, &raw)?;
        let model = model
            .map(|m| open_text(&case_key, SealField::Model, &m))
            .transpose()?;
        Ok((summary, raw, model))
    }

    /// A case's summary (`NotFound` when there is none).
    pub fn summary(&self, id: i64) -> Result<CaseSummary, Error> {
        self.read(|c| summary(c, &self.store.vault, id))
    }

    /// The stored raw payload and, for a custom body, the model it was mapped into (None for a
    /// default body), read and opened together.
    pub fn payload_json(&self, id: i64) -> Result<(String, Option<String>), Error> {
        self.read(|c| {
            let (raw, model): (Vec<u8>, Option<Vec<u8>>) = c
                .query_row("SELECT raw, model FROM cases WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?
                .ok_or_else(|| Error::NotFound(id.to_string()))?;
            let key = self.case_key(id)?;
            Ok((
                open_text(&key, SealField::Raw, &raw)?,
                model
                    .map(|m| open_text(&key, SealField::Model, &m))
                    .transpose()?,
            ))
        })
    }
}
