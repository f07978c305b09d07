//! Many cases stored in one write transaction (seeding a benchmark's store, importing history):
//! each case as `insert_case` stores it, then what happened to it (a decision, an assignment), all
//! committed together, every image file durable before the commit.

use super::*;

/// What happened to an imported case after it was received.
#[derive(Debug, Clone)]
pub enum Then {
    /// Nothing: it waits in the queue.
    Nothing,
    /// Decided (with `four_eyes`, a first approval leaves it pending), as `decide` records it.
    Decide {
        /// The decision.
        decision: NewDecision,
        /// Whether approvals need a second person.
        four_eyes: bool,
    },
    /// Assigned to `to` by `by`.
    Assign {
        /// The account it is assigned to.
        to: String,
        /// Who assigned it.
        by: String,
    },
}

/// One case to import.
#[derive(Debug, Clone)]
pub struct Import {
    /// The submission as ingest opened it.
    pub sub: Submission,
    /// Its findings (the history findings are added in the transaction, as at ingest).
    pub flags: Vec<Flag>,
    /// When it was received (unix ms).
    pub received_at_ms: i64,
    /// What happened to it then.
    pub then: Then,
}

impl Store {
    /// Stores `cases` in one write transaction and returns their ids (for a requester id already
    /// stored, that case's id; its `then` is not applied). Nothing is stored if one fails. The
    /// hash indexes take each case at once, so the later cases of the batch find its hashes.
    pub fn import(&self, cases: &[Import]) -> Result<Vec<i64>, Error> {
        let stored = db::write(
            self.db.as_ref(),
            |tx| {
                let mut ids = Vec::with_capacity(cases.len());
                for c in cases {
                    let case = match self.insert_in(tx, &c.sub, &c.flags, c.received_at_ms, None)? {
                        cases::Stored::Earlier(id) => {
                            ids.push(id);
                            continue;
                        }
                        cases::Stored::New(case) => case,
                    };
                    self.index_hashes(case.id, &c.sub);
                    match &c.then {
                        Then::Nothing => {}
                        Then::Decide {
                            decision,
                            four_eyes,
                        } => drop(self.record_decision(
                            tx,
                            &crate::decisions::KeyFor::new(case.id, None),
                            decision,
                            false,
                            *four_eyes,
                        )?),
                        Then::Assign { to, by } => {
                            drop(self.assign_in(tx, case.id, Some(to), by)?)
                        }
                    }
                    ids.push(case.id);
                }
                Ok(ids)
            },
            |_| {},
        );
        if stored.is_err() {
            // The indexes took hashes of cases that were not committed. The batch's own error is
            // the one to return; a failed re-read is logged.
            if let Err(e) = self.reload_hashes() {
                tracing::error!(error = %e, "the hash indexes could not be read again after a failed import");
            }
        }
        stored
    }
}
