//! Cases: storing a submission (with its history, `history.rs`, in the same transaction),
//! resolving, summaries, the queue's list with both flag-filter plans, and the payload as stored.

use super::*;

/// Whether `text` is part of what every reference of some year reads (`KYC-2026-`): such a
/// search matches nearly every case.
fn in_every_reference(text: &str) -> bool {
    const PREFIX: &[u8] = b"kyc-####-";
    let t: Vec<u8> = text
        .trim()
        .bytes()
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if t.is_empty() || t.len() > PREFIX.len() {
        return false;
    }
    (0..=PREFIX.len() - t.len()).any(|start| {
        t.iter().zip(&PREFIX[start..]).all(|(c, p)| {
            if *p == b'#' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
    })
}

/// The references a search for `text` can match when `text` is a reference's beginning up to at
/// least the first digit of its number (`kyc-2026-0001`, any case): a reference reads `KYC-`
/// once, first, so such a text matches only at a reference's start, and the unique index on
/// references finds them as a range of upper-case strings (from, to). None for any other text.
fn reference_prefix(text: &str) -> Option<(String, String)> {
    let t = text.trim().to_ascii_uppercase();
    let b = t.as_bytes();
    let reference = b.len() >= 10
        && t.starts_with("KYC-")
        && b[4..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..].iter().all(u8::is_ascii_digit);
    reference.then(|| (t.clone(), format!("{t}\x7f")))
}

/// Whether `text` could be part of a reference (`KYC-2026-000123`) or of a requester id as Ditto
/// ID makes them (a UUID): only digits, hyphens and the letters a-f, k, y. Any other text can
/// match a reference or such a requester id nowhere, so its search needs no substring test.
fn could_be_in_an_id(text: &str) -> bool {
    text.trim().chars().all(|c| {
        c.is_ascii_digit() || c == '-' || matches!(c.to_ascii_lowercase(), 'a'..='f' | 'k' | 'y')
    })
}

/// The search's condition as the matching ids from indexes, for a text that is in no reference
/// or UUID ([`could_be_in_an_id`]) and has a rare word: the user's tag, the words' tags, and the
/// requester ids that begin with the text as typed (`prefix`..`prefix_end`; a requester id that
/// is not a UUID is still found by its beginning).
/// `requester` is the requester id's column in code-point order ([`db::Backend::in_code_point_order`]).
fn search_by_words(
    prefix: usize,
    prefix_end: usize,
    user: usize,
    tags: &[usize],
    requester: &str,
) -> String {
    format!(
        " AND cases.id IN (SELECT c.id FROM cases AS c WHERE c.user_tag = ?{user} \
          UNION SELECT c.id FROM cases AS c WHERE {requester} >= ?{prefix} AND {requester} < ?{prefix_end}{})",
        tag_branch(tags)
    )
}

/// The whole-word branch of a search that starts from the matching ids: one `search_tags` range
/// per word, several words as the INTERSECT of theirs.
fn tag_branch(tags: &[usize]) -> String {
    let words: Vec<String> = tags
        .iter()
        .map(|t| format!("SELECT case_id FROM search_tags WHERE tag = ?{t}"))
        .collect();
    match &words[..] {
        [] => String::new(),
        [one] => format!(" UNION {one}"),
        _ => format!(
            " UNION SELECT case_id FROM ({}) AS words",
            words.join(" INTERSECT ")
        ),
    }
}

/// The search's condition for a reference's beginning ([`reference_prefix`]: `from` and `to` are
/// its range's parameters), as the matching ids from indexes on either engine: the references and
/// requester ids in the range, the user's tag, the words. (A requester id holding the text
/// further in is not found; a reference-shaped text names a case by its reference.) `columns`
/// are the reference's and the requester id's, in code-point order.
fn search_by_reference(
    from: usize,
    to: usize,
    user: usize,
    tags: &[usize],
    [reference, requester]: [&str; 2],
) -> String {
    format!(
        " AND cases.id IN (SELECT c.id FROM cases AS c WHERE {reference} >= ?{from} AND {reference} < ?{to} \
          UNION SELECT c.id FROM cases AS c WHERE {requester} >= ?{from} AND {requester} < ?{to} \
          UNION SELECT c.id FROM cases AS c WHERE c.user_tag = ?{user}{})",
        tag_branch(tags)
    )
}

/// The search's condition as the matching ids first, one branch per index (PostgreSQL: trigram
/// indexes serve the substring branches, one word is one index range whose size the planner
/// knows, several the INTERSECT of theirs), for a planner that starts from them. `like`, `user`
/// and `tags` are the parameters' numbers.
fn search_from_indexes(like: usize, user: usize, tags: &[usize]) -> String {
    let by_tags = tag_branch(tags);
    format!(
        " AND cases.id IN (SELECT c.id FROM cases AS c \
          WHERE lower(c.reference) LIKE lower(?{like}) ESCAPE '\\' \
          OR lower(c.requester_id) LIKE lower(?{like}) ESCAPE '\\' \
          OR c.user_tag = ?{user}{by_tags})"
    )
}

/// The search's condition tested on each case as the queue is walked in its order, stopping at
/// a full page (SQLite: no index serves a substring, and reading every wide row to collect the
/// matching ids first costs more than the walk).
fn search_in_queue_order(like: usize, user: usize, tags: &[usize]) -> String {
    // No word to look up (punctuation only): no tag matches. `1 = 0`, not `0`: a boolean on
    // every engine.
    let by_tags = if tags.is_empty() {
        "1 = 0".to_string()
    } else {
        let marks: Vec<String> = tags.iter().map(|t| format!("?{t}")).collect();
        format!(
            "(SELECT count(DISTINCT tag) FROM search_tags WHERE case_id = cases.id AND tag IN ({})) = {}",
            marks.join(", "),
            tags.len()
        )
    };
    format!(
        " AND (lower(reference) LIKE lower(?{like}) ESCAPE '\\' \
          OR lower(requester_id) LIKE lower(?{like}) ESCAPE '\\' \
          OR user_tag = ?{user} OR {by_tags})"
    )
}

/// A case's status (`NotFound` when there is no such case).
pub(crate) fn case_status(c: &dyn Connection, id: i64) -> Result<String, Error> {
    c.query_row("SELECT status FROM cases WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::NotFound(id.to_string()))
}

/// Runs a `count(*)` query, giving up (None) once it has run for `budget`.
pub(super) fn count_within(
    c: &dyn Connection,
    sql: &str,
    args: &[db::Value],
    budget: std::time::Duration,
) -> Result<Option<u32>, Error> {
    let params: Vec<db::Param> = args.iter().map(db::ToParam::to_param).collect();
    Ok(c.count_within(sql, &params, budget)?
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

pub(super) fn insert_tags(c: &dyn Connection, id: i64, tags: &[Vec<u8>]) -> Result<(), Error> {
    for t in tags {
        c.execute(
            "INSERT INTO search_tags (tag, case_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![t, id],
        )?;
    }
    Ok(())
}

/// What an insert's transaction did: stored a new case, or found one with its requester id.
pub(crate) enum Stored {
    New(Box<CaseSummary>),
    Earlier(i64),
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
        self.insert_held_case(sub, flags, received_at_ms, None)
    }

    /// `insert_case` for a request that will wait on its answer: a new case is stored held until
    /// `hold_until` (unix ms) in the same transaction (an earlier case is not touched: see `hold`).
    pub fn insert_held_case(
        &self,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
        hold_until: Option<i64>,
    ) -> Result<Inserted, Error> {
        let vault = &self.vault;
        // The case's id, key and sealed images are made and stored first: where the engine
        // gives ids without the write lock (PostgreSQL), before it is taken, so several
        // instances store images at once and the lock covers only the case's rows.
        let stage = |tx: &dyn Connection| self.stage_case(tx, sub);
        let insert = |tx: &dyn Connection, staged| {
            self.insert_staged(tx, staged, sub, flags, received_at_ms, hold_until)
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
    /// [`insert_held_case`](Store::insert_held_case)); the hash indexes are the caller's to
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
        self.insert_staged(tx, staged, sub, flags, received_at_ms, hold_until)
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

    /// The rows of a case [`Store::stage_case`] made (under the write lock).
    fn insert_staged(
        &self,
        tx: &dyn Connection,
        staged: Staged,
        sub: &Submission,
        flags: &[Flag],
        received_at_ms: i64,
        hold_until: Option<i64>,
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
        for f in flags {
            tx.execute(
                "INSERT INTO case_flags (code, case_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![f.code, next_id],
            )?;
        }
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
        for (img, (offset, len)) in sub.images.iter().zip(&places) {
            tx.execute(
                    "INSERT INTO images (case_id, name, mime, width, height, bytes, sealed, file_offset, file_len) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?8, 1, ?6, ?7)",
                    params![next_id, img.name, img.format.mime(), img.width, img.height, offset, len, crate::db::NO_BYTES],
                )?;
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
            let sealed = self.sealed_image(c, id, &name, inline, place)?;
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

    /// Copies the WAL into the database file and truncates it (best effort: readers may hold it).
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
        let sql = format!("SELECT {SUMMARY_COLS}, raw, model FROM {SUMMARY_FROM} WHERE {case}");
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

    /// [`Snapshot::list`] with its count, when one is asked for and the page's own rows do not
    /// tell it, left to be read later ([`Snapshot::count_last`]); the page's total is None then.
    pub fn list_count_later(&self, q: &CaseQuery) -> Result<(CasePage, Option<LaterCount>), Error> {
        let limit = q.limit.clamp(1, 500);
        let ascending = q.status.as_deref() == Some("pending");
        let mut sql = format!("SELECT {SUMMARY_COLS} FROM {SUMMARY_FROM} WHERE 1=1");
        let mut args: Vec<db::Value> = Vec::new();
        if let Some(s) = &q.status {
            args.push(s.clone().into());
            sql += &format!(" AND status = ?{}", args.len());
        }
        if let Some(r) = &q.requester_id {
            args.push(r.clone().into());
            sql += &format!(" AND requester_id = ?{}", args.len());
        }
        if let Some(u) = &q.user_id {
            args.push(self.store.vault.tag("user", u).into());
            sql += &format!(" AND user_tag = ?{}", args.len());
        }
        if let Some(f) = &q.flag {
            // A common flag: walk the cases in page order and look each one up (a page fills
            // quickly). A rare one: start from its few cases and sort them.
            let common = self.read(|c| {
                c.query_row(
                    "SELECT count(*) > ?2 FROM (SELECT 1 FROM case_flags WHERE code = ?1 LIMIT ?2 + 1) AS flagged",
                    params![f, RARE_FLAG_CASES],
                    |r| r.get::<bool>(0),
                )
            })?;
            args.push(f.clone().into());
            sql += &if common {
                format!(
                    " AND EXISTS (SELECT 1 FROM case_flags WHERE code = ?{} AND case_id = cases.id)",
                    args.len()
                )
            } else {
                format!(
                    " AND cases.id IN (SELECT case_id FROM case_flags WHERE code = ?{})",
                    args.len()
                )
            };
        }
        if let Some(t) = &q.document_type {
            args.push(t.clone().into());
            sql += &format!(" AND document_type = ?{}", args.len());
        }
        if let Some(a) = &q.assignee {
            args.push(a.clone().into());
            sql += &format!(" AND assignee = ?{}", args.len());
        }
        if q.awaiting_second {
            sql += " AND status = 'pending' AND EXISTS (SELECT 1 FROM decisions WHERE \
                    decisions.case_id = cases.id AND final = 0 AND decision = 'approve')";
        }
        if let Some(now) = q.held_at {
            args.push(now.into());
            sql += &format!(" AND cases.id IN ({})", held_select(args.len()));
        }
        if let Some(from) = q.from_ms {
            args.push(from.into());
            sql += &format!(" AND received_at >= ?{}", args.len());
        }
        if let Some(to) = q.to_ms {
            args.push(to.into());
            sql += &format!(" AND received_at < ?{}", args.len());
        }
        match q.answered_by.as_deref() {
            None => {}
            Some("none") => sql += " AND answer_by IS NULL",
            Some(by) => {
                args.push(by.to_string().into());
                sql += &format!(" AND answer_by = ?{}", args.len());
            }
        }
        if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            args.push(self.store.vault.tag("user", text).into());
            let user = args.len();
            // Names and document numbers are sealed: they match by whole words through their
            // blind-index tags (every word of the search must be one of the case's words; a
            // word said twice counts once). How the condition is written depends on the text
            // and the engine: see below.
            let mut words = self.store.vault.query_tags(text).unwrap_or_default();
            words.sort_unstable();
            words.dedup();
            let tags: Vec<usize> = words
                .into_iter()
                .map(|t| {
                    args.push(t.into());
                    args.len()
                })
                .collect();
            // The plan: a text that can be in no reference or UUID (words; on SQLite only a rare
            // one) and a reference's beginning are index ranges on either engine. Otherwise
            // PostgreSQL starts from its trigram indexes' ids, unless the text is in every case
            // (part of every reference's prefix): the walk meets those at once. (A text under
            // three letters has no trigram: ~200 ms either way at 100,000 cases on PostgreSQL,
            // but the walk's worst, for a rare one, is three times that.)
            let from_ids = self.store.db.search_starts_from_indexes();
            let requester = || self.store.db.in_code_point_order("c.requester_id");
            sql += &if !could_be_in_an_id(text)
                && !tags.is_empty()
                && (from_ids || self.a_word_is_rare(&args, &tags)?)
            {
                // Words (SQLite: a rare one): from their ids, not a walk of every case.
                args.push(text.to_string().into());
                args.push(format!("{text}\u{10ffff}").into());
                search_by_words(args.len() - 1, args.len(), user, &tags, &requester())
            } else if let Some((from, to)) = reference_prefix(text) {
                // SQLite's walk would read every case for one reference (440 ms at 100,000).
                args.push(from.into());
                args.push(to.into());
                let (reference, requester) = (
                    self.store.db.in_code_point_order("c.reference"),
                    requester(),
                );
                let columns = [reference.as_str(), requester.as_str()];
                search_by_reference(args.len() - 1, args.len(), user, &tags, columns)
            } else {
                // The text anywhere in a reference or requester id (a parameter only here: an
                // unused one has no type PostgreSQL can tell).
                let escaped = text
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                args.push(format!("%{escaped}%").into());
                if from_ids && !in_every_reference(text) {
                    search_from_indexes(args.len(), user, &tags)
                } else {
                    search_in_queue_order(args.len(), user, &tags)
                }
            };
        }
        // The first page also says how many cases match, counted up to a cap (a count must not
        // cost more than the page).
        let count_sql = (q.count && q.cursor.is_none()).then(|| {
            let filters = &sql[sql.find(" WHERE 1=1").unwrap_or(0)..];
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM cases{filters} LIMIT {}) AS matched",
                TOTAL_CAP + 1
            )
        });
        if let Some(cursor) = q.cursor {
            args.push(cursor.into());
            sql += &format!(
                " AND cases.id {} ?{}",
                if ascending { ">" } else { "<" },
                args.len()
            );
        }
        sql += &format!(
            " ORDER BY cases.id {} LIMIT {}",
            if ascending { "ASC" } else { "DESC" },
            limit + 1
        );
        let mut cases =
            self.read(|c| c.query_map(&sql, &args[..], summary_from_row(&self.store.vault)))?;
        let next = if cases.len() > limit as usize {
            cases.truncate(limit as usize);
            cases.last().map(|c| c.id.to_string())
        } else {
            None
        };
        let (total, later) = match count_sql {
            // A first page with no next one holds every match: that is the count.
            Some(_) if next.is_none() => (Some(cases.len() as u32), None),
            Some(sql) => (None, Some(LaterCount { sql, args })),
            None => (None, None),
        };
        let page = CasePage {
            cases,
            next,
            held: Vec::new(),
            needs_review: Vec::new(),
            total,
            total_capped: false,
        };
        Ok((page, later))
    }

    /// Reads the count `list_count_later` left as the snapshot's last read, into `page`'s
    /// total: nothing runs on the snapshot after it, so a count cut short at its budget needs no
    /// undoing (on PostgreSQL no savepoint: one exchange less). Any read after it fails.
    pub fn count_last(&self, page: &mut CasePage, count: LaterCount) -> Result<(), Error> {
        let n = self.read(|c| {
            let params: Vec<db::Param> = count.args.iter().map(db::ToParam::to_param).collect();
            c.count_last_within(&count.sql, &params, COUNT_BUDGET)
        })?;
        self.end();
        (page.total, page.total_capped) = totals(n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)));
        Ok(())
    }
}

/// The ids of the cases Ditto ID waits on at `?now`: unanswered, with a hold window some
/// instance opened that has not ended; soonest deadline first, at most [`HELD_MAX`]. Read from
/// their own small index, whatever else the queue holds.
fn held_select(now: usize) -> String {
    format!(
        "SELECT id FROM cases WHERE hold_until > ?{now} AND answer_result IS NULL \
         ORDER BY hold_until, id LIMIT {HELD_MAX}"
    )
}

/// A page's count of its matches, left to be read after the page
/// ([`Snapshot::list_count_later`], [`Snapshot::count_last`]).
pub struct LaterCount {
    sql: String,
    args: Vec<db::Value>,
}

/// A page's total and whether it is capped, from a count (None: cut short at its budget).
fn totals(n: Option<u32>) -> (Option<u32>, bool) {
    match n {
        Some(n) => (Some(n.min(TOTAL_CAP)), n > TOTAL_CAP),
        None => (None, true),
    }
}

impl Snapshot<'_> {
    /// A page of the queue: the cases `q` selects, newest first (pending: oldest first), with
    /// the count of all of them on a first page when asked.
    pub fn list(&self, q: &CaseQuery) -> Result<CasePage, Error> {
        let (mut page, later) = self.list_count_later(q)?;
        if let Some(count) = later {
            let n = self.read(|c| count_within(c, &count.sql, &count.args, COUNT_BUDGET))?;
            (page.total, page.total_capped) = totals(n);
        }
        Ok(page)
    }

    /// Whether one of the search's words (`tags`: their parameters' numbers in `args`) is on
    /// at most [`RARE_WORD_CASES`] cases.
    fn a_word_is_rare(&self, args: &[db::Value], tags: &[usize]) -> Result<bool, Error> {
        self.read(|c| {
            for &t in tags {
                let n: i64 = c.query_row(
                    "SELECT count(*) FROM (SELECT 1 FROM search_tags WHERE tag = ?1 LIMIT ?2) AS hits",
                    params![args[t - 1].clone(), RARE_WORD_CASES + 1],
                    |r| r.get(0),
                )?;
                if n <= RARE_WORD_CASES {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// The cases Ditto ID waits on at `now` (unix ms): unanswered, with a hold window some
    /// instance opened that has not ended; soonest deadline first, at most 500. Read from their
    /// own small index, whatever else the queue holds.
    pub fn held_ids(&self, now: i64) -> Result<Vec<i64>, Error> {
        self.read(|c| c.query_map(&held_select(1), params![now], |r| r.get(0)))
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

#[cfg(test)]
mod tests {
    use super::{in_every_reference, reference_prefix};

    #[test]
    fn a_references_beginning_is_a_range_of_the_reference_index() {
        for (text, range) in [
            ("KYC-2026-000123", Some("KYC-2026-000123")),
            (" kyc-2026-0001 ", Some("KYC-2026-0001")),
            ("KYC-2026-1", Some("KYC-2026-1")),
            ("KYC-2026-", None),
            ("KYC-2026", None),
            ("KYC-20x6-000123", None),
            ("KYC-2026-00012a", None),
            ("XKYC-2026-000123", None),
            ("000123", None),
        ] {
            let got = reference_prefix(text);
            assert_eq!(got.as_ref().map(|(f, _)| f.as_str()), range, "{text:?}");
            if let Some((from, to)) = got {
                assert!(
                    from < format!("{from}9") && format!("{from}9") < to,
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn a_text_in_every_references_prefix_is_told_apart() {
        for (text, every) in [
            ("KYC", true),
            ("kyc-", true),
            ("KYC-2026", true),
            ("kyc-2026-", true),
            ("2026", true),
            ("-19", true),
            ("yc-20", true),
            ("KYC-2026-000123", false),
            ("000123", false),
            ("2026-0001", false),
            ("berzina", false),
            ("kyd", false),
            ("", false),
        ] {
            assert_eq!(in_every_reference(text), every, "{text:?}");
        }
    }
}
