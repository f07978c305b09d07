//! Row sources for what kyc-core aggregates and writes: the cases of a date range for statistics,
//! and the decisions of a date range for the CSV export (streamed, their user ids opened).

use crate::{Error, Store};

/// One case received in a statistics range, with its final decision if it has one.
#[derive(Debug, Clone)]
pub struct StatsRow {
    /// When it was received (unix ms).
    pub received_at: i64,
    /// Approved (true), rejected (false) or still pending (None). (Numbers, not the status's
    /// text: a year's statistics read a million of these.)
    pub approved: Option<bool>,
    /// Whether the timeout fallback answered Ditto ID.
    pub timed_out: bool,
    /// What Ditto ID was answered, if it was.
    pub answer_result: Option<bool>,
    /// When the final decision was recorded (unix ms).
    pub decided_at: Option<i64>,
    /// Who made it: an account name, or `automatic` for the policy's.
    pub by: Option<String>,
}

/// One decision for the CSV export (no personal data beyond the ids Ditto ID sent).
#[derive(Debug, Clone)]
pub struct DecisionRow {
    /// Unix ms.
    pub decided_at: i64,
    /// The case's reference.
    pub reference: String,
    /// Ditto ID's requester id.
    pub requester_id: String,
    /// Ditto ID's user id (opened).
    pub user_id: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Whether it decided the case (a four-eyes first approval does not).
    pub is_final: bool,
    /// `reviewer` or `auto`.
    pub by_kind: String,
    /// The reviewer's account name.
    pub by_user: Option<String>,
    /// The reasons' codes.
    pub reasons: Vec<String>,
    /// The policy rule of an automatic decision.
    pub rule: Option<String>,
    /// The user id a reviewer linked the case to (opened).
    pub linked_user_id: Option<String>,
    /// When the case was received (unix ms).
    pub received_at: i64,
    /// What Ditto ID was answered, if it was.
    pub answer_result: Option<bool>,
    /// Who answered it.
    pub answer_by: Option<String>,
    /// When (unix ms).
    pub answer_at: Option<i64>,
}

impl Store {
    /// The cases received in `[from_ms, to_ms)`, each with its final decision if any.
    pub fn stats_rows(&self, from_ms: i64, to_ms: i64) -> Result<Vec<StatsRow>, Error> {
        let mut rows = Vec::new();
        self.stats_each(from_ms, to_ms, |r| {
            rows.push(r);
            Ok::<_, Error>(true)
        })?;
        Ok(rows)
    }

    /// What [`stats_rows`](Store::stats_rows) returns, handed to `each` one row at a time over one
    /// read snapshot (memory stays flat however long the range).
    pub fn stats_each<E: From<Error>>(
        &self,
        from_ms: i64,
        to_ms: i64,
        each: impl FnMut(StatsRow) -> Result<bool, E>,
    ) -> Result<u64, E> {
        self.stream(
            "SELECT c.received_at, \
             CASE c.status WHEN 'approved' THEN 1 WHEN 'rejected' THEN 0 END, \
             CASE WHEN c.answer_by = 'timeout' THEN 1 ELSE 0 END, c.answer_result, c.decided_at, \
             CASE WHEN c.decided_at IS NOT NULL THEN coalesce(c.decided_by, 'automatic') END \
             FROM cases c WHERE c.received_at >= ?1 AND c.received_at < ?2",
            [from_ms, to_ms],
            |r| {
                Ok(StatsRow {
                    received_at: r.get(0)?,
                    approved: r.get(1)?,
                    timed_out: r.get(2)?,
                    answer_result: r.get(3)?,
                    decided_at: r.get(4)?,
                    by: r.get(5)?,
                })
            },
            each,
        )
    }

    /// How many decisions fall in `[from_ms, to_ms)`.
    pub fn decision_count(&self, from_ms: i64, to_ms: i64) -> Result<u64, Error> {
        self.read(|c| {
            c.query_row(
                "SELECT count(*) FROM decisions WHERE decided_at >= ?1 AND decided_at < ?2",
                [from_ms, to_ms],
                |r| r.get(0),
            )
        })
    }

    /// Every decision in `[from_ms, to_ms)`, oldest first, handed to `each` one at a time over
    /// one read snapshot (memory stays flat); stops when `each` returns false or fails.
    /// Returns how many were handed over.
    pub fn decisions_each<E: From<Error>>(
        &self,
        from_ms: i64,
        to_ms: i64,
        each: impl FnMut(DecisionRow) -> Result<bool, E>,
    ) -> Result<u64, E> {
        self.stream(
            "SELECT d.decided_at, c.reference, c.requester_id, c.id, d.decision, d.final, \
             d.by_kind, d.by_user, d.reasons, d.rule, d.link_sealed, c.received_at, \
             c.answer_result, c.answer_by, c.answer_at, k.wrapped, c.pii, d.id \
             FROM decisions d JOIN cases c ON c.id = d.case_id \
             JOIN case_keys k ON k.case_id = c.id \
             WHERE d.decided_at >= ?1 AND d.decided_at < ?2 ORDER BY d.id",
            [from_ms, to_ms],
            |r| {
                let reasons: String = r.get(8)?;
                let link: Option<Vec<u8>> = r.get(10)?;
                let link = match link {
                    Some(l) => Some((r.get(17)?, l)),
                    None => None,
                };
                let (user_id, linked_user_id) = self.open_user_ids(
                    r.get(3)?,
                    &r.get::<Vec<u8>>(15)?,
                    &r.get::<Vec<u8>>(16)?,
                    link,
                )?;
                Ok(DecisionRow {
                    decided_at: r.get(0)?,
                    reference: r.get(1)?,
                    requester_id: r.get(2)?,
                    user_id,
                    decision: r.get(4)?,
                    is_final: r.get(5)?,
                    by_kind: r.get(6)?,
                    by_user: r.get(7)?,
                    reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                    rule: r.get(9)?,
                    linked_user_id,
                    received_at: r.get(11)?,
                    answer_result: r.get(12)?,
                    answer_by: r.get(13)?,
                    answer_at: r.get(14)?,
                })
            },
            each,
        )
    }
}
