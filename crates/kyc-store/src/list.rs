//! The queue's list: a page of the cases a query selects (its filters, both flag-filter plans,
//! the search's plans by text and engine), the count of its matches within a time budget, and
//! the ids of the cases Ditto ID waits on.

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

/// Whether a reference's beginning ([`reference_prefix`]) names at most ten references: five
/// digits of its number or more (`KYC-2026-00012`).
fn names_few_references(text: &str) -> bool {
    text.trim().len() >= "KYC-2026-00012".len()
}

/// Whether `text` could be part of a reference (`KYC-2026-000123`) or of a requester id as Ditto
/// ID makes them (a UUID): only digits, hyphens and the letters a-f, k, y. Any other text can
/// match a reference or such a requester id nowhere, so its search needs no substring test.
fn could_be_in_an_id(text: &str) -> bool {
    text.trim().chars().all(|c| {
        c.is_ascii_digit() || c == '-' || matches!(c.to_ascii_lowercase(), 'a'..='f' | 'k' | 'y')
    })
}

/// The search's matching ids from indexes, for a text that is in no reference
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
        "SELECT c.id FROM cases AS c WHERE c.user_tag = ?{user} \
         UNION SELECT c.id FROM cases AS c WHERE {requester} >= ?{prefix} AND {requester} < ?{prefix_end}{}",
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

/// The search's matching ids for a reference's beginning ([`reference_prefix`]: `from` and `to`
/// are its range's parameters), from indexes on either engine: the references and
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
        "SELECT c.id FROM cases AS c WHERE {reference} >= ?{from} AND {reference} < ?{to} \
         UNION SELECT c.id FROM cases AS c WHERE {requester} >= ?{from} AND {requester} < ?{to} \
         UNION SELECT c.id FROM cases AS c WHERE c.user_tag = ?{user}{}",
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

impl Snapshot<'_> {
    /// [`Snapshot::list`] with its count, when one is asked for and the page's own rows do not
    /// tell it, left to be read later ([`Snapshot::count_last`]); the page's total is None then.
    pub fn list_count_later(&self, q: &CaseQuery) -> Result<(CasePage, Option<LaterCount>), Error> {
        let (page, count, _) = self.list_count_later_with(q, &[])?;
        Ok((page, count))
    }

    /// [`Snapshot::list_count_later`] and, with it, the first cases of each of `lists`
    /// ([`Snapshot::first_of_each`]) when they are likely wanted and cost no exchange of their
    /// own: on a database server, for a page without a search (filters alone seldom leave one
    /// page only; a search mostly finds a few cases, and then the page holds the lists' cases).
    /// None when they were not read.
    #[allow(clippy::type_complexity)]
    pub fn list_count_later_with(
        &self,
        q: &CaseQuery,
        lists: &[CaseQuery],
    ) -> Result<(CasePage, Option<LaterCount>, Option<Vec<Vec<CaseSummary>>>), Error> {
        let searched = q.q.as_deref().is_some_and(|t| !t.trim().is_empty());
        let with_lists = !lists.is_empty() && !searched && self.store.db.sends_together();
        let mut pages = vec![(self.page_sql(q)?, usize::MAX)];
        if with_lists {
            for list in lists {
                pages.push(self.first_page(list)?);
            }
        }
        let mut read = self.read_together(&pages)?.into_iter();
        let cases = read.next().unwrap_or_default();
        let (page, _) = pages.swap_remove(0);
        let (page, count) = page_of(q, cases, page);
        Ok((page, count, with_lists.then(|| read.collect())))
    }

    /// The first cases each of `queries` selects (at most its limit; no cursor, no count),
    /// read together: on PostgreSQL in one exchange, each query its own statement.
    pub fn first_of_each(&self, queries: &[CaseQuery]) -> Result<Vec<Vec<CaseSummary>>, Error> {
        let pages = queries
            .iter()
            .map(|q| self.first_page(q))
            .collect::<Result<Vec<_>, _>>()?;
        self.read_together(&pages)
    }

    /// The cases each of `pages` selects, at most its number of them, read together.
    fn read_together(&self, pages: &[(PageSql, usize)]) -> Result<Vec<Vec<CaseSummary>>, Error> {
        let params: Vec<Vec<db::Param>> = pages.iter().map(|(p, _)| p.params()).collect();
        let statements: Vec<(&str, &[db::Param])> = pages
            .iter()
            .zip(&params)
            .map(|((p, _), params)| (p.sql.as_str(), params.as_slice()))
            .collect();
        let mut out = vec![Vec::new(); pages.len()];
        let summary = summary_from_row(&self.store.vault);
        self.read(|c| {
            c.fetch_each(&statements, &mut |i, row| {
                out[i].push(summary(&row)?);
                Ok(())
            })
        })?;
        for (list, (_, limit)) in out.iter_mut().zip(pages) {
            list.truncate(*limit);
        }
        Ok(out)
    }

    /// The statement of `q`'s first page, uncounted, and how many cases that page holds (its
    /// statement reads one more, to tell whether a next page follows).
    pub(crate) fn first_page(&self, q: &CaseQuery) -> Result<(PageSql, usize), Error> {
        let page = self.page_sql(&CaseQuery {
            count: false,
            cursor: None,
            ..q.clone()
        })?;
        Ok((page, q.limit.clamp(1, 500) as usize))
    }

    /// The statement of the page `q` asks for: its limit plus one case (to tell whether a next
    /// page follows), its parameters and, on a first page asked to count, its count.
    pub(crate) fn page_sql(&self, q: &CaseQuery) -> Result<PageSql, Error> {
        let limit = q.limit.clamp(1, 500);
        let ascending = q.status.as_deref() == Some("pending");
        let mut sql = format!("SELECT {SUMMARY_COLS} FROM cases WHERE 1=1");
        // Whether its plan may be made once for all values ([`db::ONE_PLAN`]).
        let mut one_plan = false;
        let unfiltered = sql.len();
        let mut args: Vec<db::Value> = Vec::new();
        // Where the flag's condition ends, when nothing came before it.
        let mut flag_first = None;
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
            let common = self.flag_is_common(f)?;
            let first = sql.len() == unfiltered;
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
            flag_first = first.then_some(sql.len());
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
            // The ids below come from index ranges. When they are few whatever the filters (a
            // word on few cases, most of a reference), their plan need not wait for the values:
            // one made once reads them one by one from the cases' index (PostgreSQL plans a
            // statement on the cases anew each run otherwise, 0.1-0.2 ms with their indexes,
            // more than such a search reads). Many, they are planned for what they are.
            let mut ids_among = |ids: String, few: bool| {
                one_plan |= few;
                let among = if few {
                    self.store.db.id_among("cases.id", &ids)
                } else {
                    format!("cases.id IN ({ids})")
                };
                format!(" AND {among}")
            };
            sql += &if !could_be_in_an_id(text)
                && !tags.is_empty()
                && (from_ids || self.a_word_is_rare(&args, &tags, RARE_WORD_CASES)?)
            {
                // Words (SQLite: a rare one): from their ids, not a walk of every case.
                let few = !from_ids || self.a_word_is_rare(&args, &tags, FEW_IDS)?;
                args.push(text.to_string().into());
                args.push(format!("{text}\u{10ffff}").into());
                let ids = search_by_words(args.len() - 1, args.len(), user, &tags, &requester());
                ids_among(ids, few)
            } else if let Some((from, to)) = reference_prefix(text) {
                // SQLite's walk would read every case for one reference (440 ms at 100,000).
                args.push(from.into());
                args.push(to.into());
                let (reference, requester) = (
                    self.store.db.in_code_point_order("c.reference"),
                    requester(),
                );
                let columns = [reference.as_str(), requester.as_str()];
                let ids = search_by_reference(args.len() - 1, args.len(), user, &tags, columns);
                ids_among(ids, names_few_references(text))
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
        // A flag alone (no condition before its own or after it) is counted from its own
        // index: each of its rows is one case's (a case's rows go with it). Walking the cases
        // for it cost more than the page: PostgreSQL merged the two id orders from the oldest
        // case, 2 ms at 100,000 cases.
        let flag_alone = flag_first == Some(sql.len());
        let count_sql = (q.count && q.cursor.is_none()).then(|| {
            let matched = match flag_alone {
                true => "case_flags WHERE code = ?1".to_string(),
                false => format!("cases{}", &sql[sql.find(" WHERE 1=1").unwrap_or(0)..]),
            };
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM {matched} LIMIT {}) AS matched",
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
        if one_plan {
            sql.insert_str(0, db::ONE_PLAN);
        }
        Ok(PageSql {
            sql,
            args,
            count: count_sql,
        })
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

/// A page's statement ([`Snapshot::page_sql`]).
pub(crate) struct PageSql {
    pub(crate) sql: String,
    args: Vec<db::Value>,
    /// Its count's statement (same parameters), on a first page asked to count.
    count: Option<String>,
}

impl PageSql {
    /// Its parameters, as a statement takes them.
    pub(crate) fn params(&self) -> Vec<db::Param<'_>> {
        self.args.iter().map(db::ToParam::to_param).collect()
    }
}

/// A page's count of its matches, left to be read after the page
/// ([`Snapshot::list_count_later`], [`Snapshot::count_last`]).
pub struct LaterCount {
    sql: String,
    args: Vec<db::Value>,
}

/// The page `q` asked for from the `cases` its statement `page` read (its limit and one more):
/// its next cursor and, on a first page asked to count, its count (from its own rows when no
/// next page follows, else left for later).
fn page_of(
    q: &CaseQuery,
    mut cases: Vec<CaseSummary>,
    page: PageSql,
) -> (CasePage, Option<LaterCount>) {
    let limit = q.limit.clamp(1, 500) as usize;
    let next = if cases.len() > limit {
        cases.truncate(limit);
        cases.last().map(|c| c.id.to_string())
    } else {
        None
    };
    let (total, later) = match page.count {
        // A first page with no next one holds every match: that is the count.
        Some(_) if next.is_none() => (Some(cases.len() as u32), None),
        Some(sql) => (
            None,
            Some(LaterCount {
                sql,
                args: page.args,
            }),
        ),
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
    (page, later)
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
    /// at most `cases` cases; each word's answer read once per snapshot.
    fn a_word_is_rare(
        &self,
        args: &[db::Value],
        tags: &[usize],
        cases: i64,
    ) -> Result<bool, Error> {
        for &t in tags {
            let tag = &args[t - 1];
            let db::Value::Bytes(bytes) = tag else {
                return Err(Error::Internal("a word's tag is not bytes".into()));
            };
            let known = self
                .rare_words
                .borrow()
                .get(&(bytes.clone(), cases))
                .copied();
            let rare = match known {
                Some(rare) => rare,
                None => {
                    let n: i64 = self.read(|c| {
                        c.query_row(
                            "SELECT count(*) FROM (SELECT 1 FROM search_tags WHERE tag = ?1 LIMIT ?2) AS hits",
                            params![tag.clone(), cases + 1],
                            |r| r.get(0),
                        )
                    })?;
                    let rare = n <= cases;
                    self.rare_words
                        .borrow_mut()
                        .insert((bytes.clone(), cases), rare);
                    rare
                }
            };
            if rare {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The cases Ditto ID waits on at `now` (unix ms): unanswered, with a hold window some
    /// instance opened that has not ended; soonest deadline first, at most [`HELD_MAX`]. Read
    /// from their own small index, whatever else the queue holds.
    pub fn held_ids(&self, now: i64) -> Result<Vec<i64>, Error> {
        self.read(|c| c.query_map(&held_select(1), params![now], |r| r.get(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::{in_every_reference, names_few_references, reference_prefix};
    use crate::{db, Store};
    use kyc_domain::case::{CaseQuery, Inserted};

    #[test]
    fn a_reference_with_five_digits_of_its_number_names_few() {
        for (text, few) in [
            ("KYC-2026-000123", true),
            (" kyc-2026-00012 ", true),
            ("KYC-2026-0001", false),
            ("KYC-2026-1", false),
        ] {
            assert_eq!(names_few_references(text), few, "{text:?}");
        }
    }

    /// A word's rarity is read once per snapshot and bound: asked again (the lists pinned above
    /// a page), it is not read again; asked with another bound, it is.
    #[test]
    fn a_words_rarity_is_read_once_per_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let key = kyc_crypto::master::MasterKey::Key([5; 32]);
        let store = Store::open(&dir.path().join(crate::DB_FILE), key).unwrap();
        let args = [db::Value::Bytes(b"a tag no case has".to_vec())];
        store
            .snapshot(|s| {
                assert!(s.a_word_is_rare(&args, &[1], 5)?);
                // Nothing may be read after this: the next answer is the one kept.
                s.end();
                assert!(s.a_word_is_rare(&args, &[1], 5)?);
                assert!(
                    s.a_word_is_rare(&args, &[1], 6).is_err(),
                    "another bound reads"
                );
                Ok::<_, crate::Error>(())
            })
            .unwrap();
    }

    /// On PostgreSQL a search whose ids are few whatever the filters (a word on few cases) is
    /// planned once for all values; one for a word on many cases is planned for what it is;
    /// each finds the cases that have the word.
    #[test]
    fn a_search_for_a_common_word_is_planned_for_its_values() {
        let Some(server) = crate::pg::ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")
        else {
            return;
        };
        let db = crate::pg::ScratchDatabase::create(&server).unwrap();
        let store =
            Store::open_postgres(&db.target, kyc_crypto::master::MasterKey::Key([5; 32])).unwrap();
        let (year, month, day) = crate::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let mut by_word = std::collections::BTreeMap::<String, Vec<i64>>::new();
        // The simulator's names come round every 16 cases: 4 of them on 3 cases, 12 on 2.
        for i in 0..36 {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i, 3, &today);
            let sub = crate::testing::submission(&sim.payload.to_string());
            let now = crate::timefmt::now_ms();
            let Inserted::New(case) = store.insert_case(&sub, &[], now).unwrap() else {
                panic!("new case expected");
            };
            let name = store.summary(case.id).unwrap().holder_name.unwrap();
            let word = name.split_whitespace().last().unwrap().to_string();
            by_word.entry(word).or_default().push(case.id);
        }
        let (common, on_many) = by_word.iter().max_by_key(|(_, ids)| ids.len()).unwrap();
        let (rare, on_few) = by_word.iter().min_by_key(|(_, ids)| ids.len()).unwrap();
        assert!(on_many.len() as i64 > crate::FEW_IDS, "{by_word:?}");
        assert!(on_few.len() as i64 <= crate::FEW_IDS, "{by_word:?}");
        for (word, cases, one_plan) in [(common, on_many, false), (rare, on_few, true)] {
            let q = CaseQuery {
                q: Some(word.clone()),
                status: Some("pending".into()),
                limit: 50,
                ..Default::default()
            };
            let sql = store.snapshot(|s| s.page_sql(&q)).unwrap().sql;
            assert_eq!(sql.starts_with(db::ONE_PLAN), one_plan, "{word}: {sql}");
            let mut found: Vec<i64> = store.list(&q).unwrap().cases.iter().map(|c| c.id).collect();
            found.sort();
            assert!(
                cases.iter().all(|id| found.contains(id)),
                "{word}: {found:?}"
            );
        }
        drop(store);
    }

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
