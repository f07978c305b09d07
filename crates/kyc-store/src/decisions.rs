//! Decisions and the answer: recording a decision (four-eyes, assignment, late decisions), the
//! answer settled once, and assignment.

use super::*;

/// Who made a decision, as its row and the answer record it: `reviewer` or `auto`.
fn by_kind(d: &NewDecision) -> &'static str {
    if d.by_user.is_some() {
        "reviewer"
    } else {
        "auto"
    }
}

/// A case's key as a write needs it: the caller's when it has it (a case stored in the same
/// transaction), else read and unwrapped at its first use, once.
pub(crate) struct KeyFor<'k> {
    id: i64,
    given: Option<&'k CaseKey>,
    read: std::cell::OnceCell<CaseKey>,
}

impl<'k> KeyFor<'k> {
    /// Case `id`'s key, `given` or to be read.
    pub(crate) fn new(id: i64, given: Option<&'k CaseKey>) -> KeyFor<'k> {
        KeyFor {
            id,
            given,
            read: std::cell::OnceCell::new(),
        }
    }

    fn get(&self, tx: &dyn Connection, vault: &Vault) -> Result<&CaseKey, Error> {
        if let Some(key) = self.given.or(self.read.get()) {
            return Ok(key);
        }
        let key = case_key_in(tx, vault, self.id)?;
        Ok(self.read.get_or_init(|| key))
    }
}

/// Records one decision row; the comment (free text, may name the person) and the linked user
/// id are sealed with the case's key (neither there: nothing to seal).
fn insert_decision(
    tx: &dyn Connection,
    vault: &Vault,
    key: &KeyFor,
    d: &NewDecision,
    now: i64,
    is_final: bool,
) -> Result<(), Error> {
    let id = key.id;
    let reasons = serde_json::to_string(&d.reasons).map_err(|e| Error::Internal(e.to_string()))?;
    let decision = if d.approve { "approve" } else { "reject" };
    let row: i64 = tx.query_row(
        "INSERT INTO decisions (case_id, decision, reasons, comment, by_kind, by_user, decided_at, rule, final) \
         VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![id, decision, reasons, by_kind(d), d.by_user, now, d.rule, is_final],
        |r| r.get(0),
    )?;
    if d.comment.is_empty() && d.link_user_id.is_none() {
        return Ok(());
    }
    let key = key.get(tx, vault)?;
    let comment =
        (!d.comment.is_empty()).then(|| key.seal(SealField::Comment(row), d.comment.as_bytes()));
    let link = d
        .link_user_id
        .as_ref()
        .map(|l| key.seal(SealField::Link(row), l.as_bytes()));
    tx.execute(
        "UPDATE decisions SET comment_sealed = ?2, link_sealed = ?3 WHERE id = ?1",
        params![row, comment, link],
    )?;
    Ok(())
}

impl Store {
    /// A case's decisions, oldest first ([`Snapshot::decisions`]).
    pub fn decisions(&self, id: i64) -> Result<Vec<DecisionRecord>, Error> {
        self.snapshot(|s| s.decisions(id))
    }

    /// Records a decision on a pending case; `AlreadyDecided` otherwise. With `notify`, the webhook
    /// delivery is queued in the same transaction (it cannot be lost between the two).
    ///
    /// With `four_eyes`, an approval becomes final only when a different person already approved;
    /// the first approval is recorded as not final and the case stays pending.
    pub fn decide(
        &self,
        id: i64,
        d: &NewDecision,
        notify: bool,
        four_eyes: bool,
    ) -> Result<CaseSummary, Error> {
        self.write(|tx| self.decide_in(tx, id, d, notify, four_eyes))
    }

    /// [`decide`](Store::decide) inside the caller's write transaction.
    pub(crate) fn decide_in(
        &self,
        tx: &dyn Connection,
        id: i64,
        d: &NewDecision,
        notify: bool,
        four_eyes: bool,
    ) -> Result<CaseSummary, Error> {
        self.record_decision(tx, &KeyFor::new(id, None), d, notify, four_eyes)?;
        summary(tx, &self.vault, id)
    }

    /// [`decide_in`](Store::decide_in)'s writes, for the case `key` is of: whether the decision
    /// is final (false: a first approval of two, the case still pending).
    pub(crate) fn record_decision(
        &self,
        tx: &dyn Connection,
        key: &KeyFor,
        d: &NewDecision,
        notify: bool,
        four_eyes: bool,
    ) -> Result<bool, Error> {
        let (vault, id) = (&self.vault, key.id);
        let row: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT status, assignee FROM cases WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let assignee = match row {
            None => return Err(Error::NotFound(id.to_string())),
            Some((status, assignee)) if status == "pending" => assignee,
            Some(_) => return Err(Error::AlreadyDecided(id.to_string())),
        };
        if let (Some(a), Some(u)) = (&assignee, &d.by_user) {
            // A second approval (four-eyes) is by definition someone else's.
            let awaiting_second: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM decisions WHERE case_id = ?1 AND final = 0)",
                [id],
                |r| r.get(0),
            )?;
            if d.respect_assignment && a != u && !awaiting_second {
                return Err(Error::AssignedElsewhere(a.clone()));
            }
        }
        let (decision, status) = if d.approve {
            ("approve", "approved")
        } else {
            ("reject", "rejected")
        };
        let now = self.now_ms();
        if d.approve && four_eyes {
            let first: Option<String> = tx
                    .query_row(
                        "SELECT by_user FROM decisions WHERE case_id = ?1 AND final = 0 AND decision = 'approve' \
                         ORDER BY id DESC LIMIT 1",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
            match first {
                Some(u) if Some(&u) == d.by_user.as_ref() => {
                    return Err(Error::FourEyes);
                }
                Some(_) => {}
                None => {
                    insert_decision(tx, vault, key, d, now, false)?;
                    crate::audit::append(
                        tx,
                        &self.vault,
                        self.now_ms(),
                        d.by_user.as_deref().unwrap_or("policy"),
                        "case.first_approval",
                        Some(id),
                        &serde_json::json!({"four_eyes": true}),
                    )?;
                    return Ok(false);
                }
            }
        }
        insert_decision(tx, vault, key, d, now, true)?;
        tx.execute(
            "UPDATE cases SET status = ?2, decided_at = ?3, decided_by = ?4 WHERE id = ?1",
            params![id, status, now, d.by_user],
        )?;
        crate::audit::append(
            tx,
            &self.vault,
            self.now_ms(),
            d.by_user.as_deref().unwrap_or("policy"),
            "case.decided",
            Some(id),
            &serde_json::json!({"decision": decision, "reasons": d.reasons, "rule": d.rule, "linked_user_id": d.link_user_id.is_some()}),
        )?;
        if notify {
            let case = summary(tx, vault, id)?;
            let body = serde_json::json!({
                "event": "case.decided",
                "reference": case.reference,
                "requester_id": case.requester_id,
                "user_id": case.user_id,
                "linked_user_id": d.link_user_id,
                "decision": decision,
                "reasons": d.reasons,
                "decided_by": by_kind(d),
                "rule": d.rule,
                "decided_at": rfc3339(now),
                // Late: Ditto ID had already been answered (by the timeout fallback).
                "late": case.answer.is_some(),
                "ditto_answer": case.answer.as_ref().map(|a| serde_json::json!({"result": a.result, "by": a.by, "at": a.at})),
            });
            let delivery: i64 = tx.query_row(
                "INSERT INTO deliveries (case_id, event, body, next_at, created_at) \
                     VALUES (?1, 'case.decided', '', ?2, ?2) RETURNING id",
                params![id, now],
                |r| r.get(0),
            )?;
            let sealed = key
                .get(tx, vault)?
                .seal(SealField::Delivery(delivery), body.to_string().as_bytes());
            tx.execute(
                "UPDATE deliveries SET body_sealed = ?2 WHERE id = ?1",
                params![delivery, sealed],
            )?;
        }
        Ok(true)
    }

    /// Fixes the answer Ditto ID gets, once: the stored answer if any; else the decision if the case
    /// is decided; else `fallback` (the timeout answer) if given; else None (still waiting).
    pub fn settle_answer(&self, id: i64, fallback: Option<bool>) -> Result<Option<Answer>, Error> {
        self.write(|tx| self.settle_in(tx, id, fallback))
    }

    /// [`settle_answer`](Store::settle_answer) inside the caller's write transaction.
    pub(crate) fn settle_in(
        &self,
        tx: &dyn Connection,
        id: i64,
        fallback: Option<bool>,
    ) -> Result<Option<Answer>, Error> {
        let (status, answered): (String, Option<bool>) = tx
            .query_row(
                "SELECT status, answer_result FROM cases WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        if answered.is_none() {
            let settled = match status.as_str() {
                "pending" => fallback.map(|r| (r, "timeout".to_string(), None)),
                decided => {
                    let (by, link, row): (String, Option<Vec<u8>>, i64) = tx.query_row(
                        "SELECT by_kind, link_sealed, id FROM decisions WHERE case_id = ?1 AND final = 1 \
                         ORDER BY id DESC LIMIT 1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )?;
                    Some((decided == "approved", by, link.map(|l| (row, l))))
                }
            };
            let Some((result, by, link)) = settled else {
                return Ok(None);
            };
            let key = case_key_in(tx, &self.vault, id)?;
            let user_id = match link {
                Some((row, sealed)) => open_text(&key, SealField::Link(row), &sealed)?,
                None => {
                    let pii: Vec<u8> =
                        tx.query_row("SELECT pii FROM cases WHERE id = ?1", [id], |r| r.get(0))?;
                    open_json::<Pii>(&key, SealField::Pii, &pii)?.user_id
                }
            };
            self.write_answer(tx, id, result, &by, &user_id, &key)?;
        }
        Ok(summary(tx, &self.vault, id)?.answer)
    }

    /// Writes case `id`'s answer (its hold ends) and audits it: the answer a settling found,
    /// or a decision made as the case arrived. `user_id` is the user id Ditto ID gets back.
    pub(crate) fn write_answer(
        &self,
        tx: &dyn Connection,
        id: i64,
        result: bool,
        by: &str,
        user_id: &str,
        key: &CaseKey,
    ) -> Result<(), Error> {
        tx.execute(
            "UPDATE cases SET answer_result = ?2, answer_at = ?3, answer_by = ?4, answer_user = ?5, \
             hold_until = NULL WHERE id = ?1",
            params![id, result, self.now_ms(), by, key.seal(SealField::AnswerUser, user_id.as_bytes())],
        )?;
        crate::audit::append(
            tx,
            &self.vault,
            self.now_ms(),
            "system",
            "case.answered",
            Some(id),
            &serde_json::json!({"result": result, "by": by}),
        )
    }

    /// The policy's decision on a case being stored ([`Store::receive`]), in its transaction,
    /// with what the insert already has (the case's key, the user id): recorded, and once final,
    /// answered. Nothing when the policy makes none.
    pub(crate) fn decide_on_arrival(
        &self,
        tx: &dyn Connection,
        (id, key): (i64, &CaseKey),
        user_id: &str,
        flags: &[Flag],
        arrival: &OnArrival,
    ) -> Result<(), Error> {
        let Some((d, four_eyes)) = (arrival.decide)(flags) else {
            return Ok(());
        };
        if self.record_decision(
            tx,
            &KeyFor::new(id, Some(key)),
            &d,
            arrival.notify,
            four_eyes,
        )? {
            let user_id = d.link_user_id.as_deref().unwrap_or(user_id);
            self.write_answer(tx, id, d.approve, by_kind(&d), user_id, key)?;
        }
        Ok(())
    }

    /// Marks an unanswered case as held until `until` (unix ms): a request waits on it. A later
    /// window another request (on any instance) opened is kept; an answered case is not touched.
    pub fn hold(&self, id: i64, until: i64) -> Result<(), Error> {
        self.write(|tx| {
            tx.execute(
                "UPDATE cases SET hold_until = ?2 WHERE id = ?1 AND answer_result IS NULL \
                 AND (hold_until IS NULL OR hold_until < ?2)",
                params![id, until],
            )?;
            Ok(())
        })
    }

    /// The request that held a case until `until` stopped waiting without an answer (Ditto ID hung
    /// up): the hold ends now, unless another request has opened a later window since.
    pub fn release_hold(&self, id: i64, until: i64) -> Result<(), Error> {
        self.write(|tx| {
            tx.execute(
                "UPDATE cases SET hold_until = NULL WHERE id = ?1 AND hold_until = ?2",
                params![id, until],
            )?;
            Ok(())
        })
    }

    /// Assigns a pending case to `to` (None: unassigned), as `by`. The target must be an account
    /// that may decide. Returns the updated summary.
    pub fn assign(&self, id: i64, to: Option<&str>, by: &str) -> Result<CaseSummary, Error> {
        self.write(|tx| self.assign_in(tx, id, to, by))
    }

    /// [`assign`](Store::assign) inside the caller's write transaction.
    pub(crate) fn assign_in(
        &self,
        tx: &dyn Connection,
        id: i64,
        to: Option<&str>,
        by: &str,
    ) -> Result<CaseSummary, Error> {
        let vault = &self.vault;
        if case_status(tx, id)? != "pending" {
            return Err(Error::AlreadyDecided(id.to_string()));
        }
        if let Some(name) = to {
            let role: Option<String> = tx
                .query_row("SELECT role FROM users WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            let may_decide = role
                .and_then(|r| r.parse::<kyc_domain::roles::Role>().ok())
                .is_some_and(|r| r.may(kyc_domain::roles::Permission::Decide));
            if !may_decide {
                return Err(Error::BadRequest(format!(
                    "to: {name:?} is not an account that may decide cases"
                )));
            }
        }
        tx.execute(
            "UPDATE cases SET assignee = ?2 WHERE id = ?1",
            params![id, to],
        )?;
        crate::audit::append(
            tx,
            &self.vault,
            self.now_ms(),
            by,
            "case.assigned",
            Some(id),
            &serde_json::json!({"to": to}),
        )?;
        summary(tx, vault, id)
    }
}

/// A case's decisions (`?1`: its id), oldest first ([`decision_from_row`]).
pub(crate) const DECISIONS_SQL: &str =
    "SELECT decision, reasons, comment_sealed, by_kind, by_user, \
     decided_at, rule, link_sealed, final, id FROM decisions WHERE case_id = ?1 ORDER BY id";

/// A row of [`DECISIONS_SQL`], its comment and link opened with the case's `key`.
pub(crate) fn decision_from_row(key: &CaseKey, r: &Row) -> Result<DecisionRecord, Error> {
    let reasons: String = r.get(1)?;
    let sealed: Option<Vec<u8>> = r.get(2)?;
    let row_id: i64 = r.get(9)?;
    let comment = match sealed {
        Some(s) => open_text(key, SealField::Comment(row_id), &s)?,
        None => String::new(),
    };
    let link: Option<Vec<u8>> = r.get(7)?;
    let link_user_id = match link {
        Some(l) => Some(open_text(key, SealField::Link(row_id), &l)?),
        None => None,
    };
    Ok(DecisionRecord {
        decision: r.get(0)?,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        comment,
        by: r.get(3)?,
        by_user: r.get(4)?,
        at: rfc3339(r.get(5)?),
        rule: r.get(6)?,
        link_user_id,
        is_final: r.get(8)?,
    })
}

impl Snapshot<'_> {
    /// A case's decisions, oldest first, their comments and links opened.
    pub fn decisions(&self, id: i64) -> Result<Vec<DecisionRecord>, Error> {
        self.read(|c| {
            let key = self.case_key(id)?;
            c.query_map(DECISIONS_SQL, [id], |r| decision_from_row(&key, r))
        })
    }
}
