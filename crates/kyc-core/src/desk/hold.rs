//! Holding Ditto ID's request open: the window stored on the case (so every instance sees who
//! waits), answered by a decision (heard here or from another instance), else by the fallback;
//! the stored hold ends with the answer, or with the request if Ditto ID hangs up.

use std::sync::Arc;
use std::time::Duration;

use kyc_domain::case::Answer;
use kyc_domain::case::CaseSummary;
use kyc_store::Store;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{blocking, Desk, EventKind};
use crate::config::OnTimeout;
use crate::error::CoreError;

/// How often a held request re-reads its case on a shared database, whatever the events say.
const RECHECK_HELD: Duration = Duration::from_secs(2);

impl Desk {
    /// The second half of `submit`: the stored answer, or the decision within the hold window
    /// `accept` opened, or the timeout fallback.
    pub async fn answer(&self, case: CaseSummary) -> Result<Answer, CoreError> {
        if let Some(answer) = case.answer {
            return Ok(answer);
        }
        // `accept` stored this request's window with the case (a window that has ended already,
        // with `hold_secs = 0`, gets the fallback at once: no second write).
        let until = match case.hold_until_ms {
            Some(until) => until,
            None => {
                let until = self.now_ms().saturating_add(self.hold_ms());
                let (store, id) = (self.store.clone(), case.id);
                blocking(move || store.hold(id, until)).await?;
                until
            }
        };
        self.hold(case.id, until).await
    }

    /// When the last window a request held here waits in ends (unix ms; 0 before any): a
    /// stopping server answers every request it holds by then ([`Desk::hold_ms`] past its stop
    /// for one still arriving).
    pub fn last_window_end(&self) -> i64 {
        self.last_window_end
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The hold window's length in milliseconds (`[decision] hold_secs`).
    pub fn hold_ms(&self) -> i64 {
        i64::try_from(self.policy.hold_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    async fn settle(&self, id: i64, fallback: Option<bool>) -> Result<Option<Answer>, CoreError> {
        let store = self.store.clone();
        blocking(move || store.settle_answer(id, fallback)).await
    }

    async fn answered(&self, id: i64, answer: Answer) -> Answer {
        let store = self.store.clone();
        if let Ok(case) = blocking(move || store.summary(id)).await {
            tracing::info!(case = id, result = answer.result, by = %answer.by, "answered");
            self.emit(EventKind::Answered, case);
        }
        answer
    }

    /// Waits for the case's decision until `until` (unix ms; the window the store holds it for).
    async fn hold(&self, id: i64, until: i64) -> Result<Answer, CoreError> {
        self.last_window_end
            .fetch_max(until, std::sync::atomic::Ordering::Relaxed);
        let mut held = HoldGuard {
            store: Some(self.store.clone()),
            id,
            until,
        };
        let answer = self.wait_for_answer(id, until).await?;
        // Settling cleared the stored hold.
        held.store = None;
        Ok(answer)
    }

    async fn wait_for_answer(&self, id: i64, until: i64) -> Result<Answer, CoreError> {
        let mut rx = self.events.subscribe();
        // Decided before we subscribed? Then answer at once.
        if let Some(a) = self.settle(id, None).await? {
            return Ok(self.answered(id, a).await);
        }
        let left = u64::try_from(until.saturating_sub(self.now_ms())).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(left);
        let shared = self.store.is_shared();
        loop {
            // On a shared database the row is also re-read every few seconds: a decision made on
            // another instance whose notice was missed (a lost connection) only delays the answer.
            let wake = if shared {
                deadline.min(Instant::now() + RECHECK_HELD)
            } else {
                deadline
            };
            let check = match tokio::time::timeout_at(wake, rx.recv()).await {
                Err(_) if wake >= deadline => break,
                Err(_) => true,
                Ok(Ok(ev)) => ev.kind == EventKind::Decided && ev.case.id == id,
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => true,
                Ok(Err(broadcast::error::RecvError::Closed)) => break,
            };
            if check {
                if let Some(a) = self.settle(id, None).await? {
                    return Ok(self.answered(id, a).await);
                }
            }
        }
        let fallback = self.policy.on_timeout == OnTimeout::Accept;
        let answer = self
            .settle(id, Some(fallback))
            .await?
            .ok_or_else(|| CoreError::Internal("timeout answer not stored".into()))?;
        Ok(self.answered(id, answer).await)
    }
}

/// Ends a request's stored hold when the request stops waiting without its answer (Ditto ID hung
/// up, or the wait failed): compare-and-clear, so a later window another request opened stays.
struct HoldGuard {
    /// None once the case is answered (settling cleared the hold).
    store: Option<Arc<Store>>,
    id: i64,
    until: i64,
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let (id, until) = (self.id, self.until);
        super::in_background(move || {
            if let Err(e) = store.release_hold(id, until) {
                tracing::warn!(case = id, error = %e, "could not end a hold");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Desk, EventKind};
    use crate::config::{AutoApprove, DecisionConfig, ReceiverConfig};
    use crate::ingest::{CustomRules, OpenedBody};
    use kyc_crypto::master::MasterKey;
    use kyc_store::Store;

    /// A case the policy approves on arrival comes out of `accept` already answered (decided and
    /// answered in the insert's transaction: `answer` has nothing left to write), and every view
    /// hears it created, decided and answered, in that order.
    #[tokio::test]
    async fn a_case_approved_on_arrival_is_accepted_answered_and_heard_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), MasterKey::Key([5; 32])).unwrap();
        let policy = DecisionConfig {
            hold_secs: 60,
            auto_approve: AutoApprove::Clean,
            ..DecisionConfig::default()
        };
        let desk = Desk::new(
            std::sync::Arc::new(store),
            policy,
            CustomRules::of(&ReceiverConfig::default()),
        );
        let mut events = desk.subscribe();
        let (year, month, day) = kyc_store::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, 1, 3, &today);
        let case = desk
            .accept(OpenedBody::plain(sim.payload.to_string().into_bytes()))
            .await
            .unwrap();
        assert_eq!(case.status, "approved");
        let answer = case.answer.as_ref().expect("answered as it was stored");
        assert_eq!((answer.result, answer.by.as_str()), (true, "auto"));
        assert_eq!(case.hold_until_ms, None);
        let mut heard = vec![];
        while let Ok(e) = events.try_recv() {
            assert_eq!(e.case.id, case.id);
            heard.push(e.kind);
        }
        assert_eq!(
            heard,
            [EventKind::Created, EventKind::Decided, EventKind::Answered]
        );
    }
}
