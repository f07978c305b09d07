//! The desk's clock: the time its rules read (hold windows, received dates, audited looks,
//! sign-in throttles, report stamps), injected so a test can set it. The wall clock itself is read
//! in one place (`timefmt::now_ms`); the store stamps its rows from it.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time, in unix milliseconds.
pub trait Clock: Send + Sync {
    /// Now, in unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        kyc_store::timefmt::now_ms()
    }
}

/// A clock that says what it is told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `ms`.
    pub fn at(ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(ms))
    }

    /// Moves it on by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DecisionConfig, ReceiverConfig};
    use crate::desk::Desk;
    use crate::ingest::{CustomRules, OpenedBody};
    use kyc_crypto::master::MasterKey;
    use kyc_store::Store;
    use std::sync::Arc;

    /// The desk reads its injected clock: an opening is audited once, its refreshes within
    /// `OPENING_MS` are not, and a look after that idle time is a new opening; the case's
    /// received date the checks read is the clock's day.
    #[tokio::test]
    async fn the_desk_runs_on_the_clock_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), MasterKey::Key([6; 32])).unwrap();
        let policy = DecisionConfig {
            hold_secs: 0,
            ..DecisionConfig::default()
        };
        // 2031-01-15: the simulated document (valid for years from "today" below) is fine then.
        let clock = Arc::new(ManualClock::at(1_926_201_600_000));
        let desk = Desk::new(
            Arc::new(store),
            policy,
            CustomRules::of(&ReceiverConfig::default()),
        )
        .with_clock(clock.clone());
        assert_eq!(desk.now_ms(), 1_926_201_600_000);
        let today = kyc_sim::Today {
            year: 2031,
            month: 1,
            day: 15,
        };
        let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, 1, 4, &today);
        let body = OpenedBody::plain(sim.payload.to_string().into_bytes());
        let case = desk.accept(body).await.unwrap();
        assert_eq!(case.received_at, "2031-01-15T00:00:00Z");
        let viewed = |desk: &Desk| {
            let store = desk.store().clone();
            async move {
                store
                    .timeline(case.id)
                    .unwrap()
                    .iter()
                    .filter(|e| e.action == "case.viewed")
                    .count()
            }
        };
        let key = case.id.to_string();
        desk.detail_seen_by(&key, "rita").await.unwrap();
        clock.advance(crate::access::OPENING_MS - 1);
        desk.detail_seen_by(&key, "rita").await.unwrap();
        assert_eq!(viewed(&desk).await, 1, "a refresh within the opening");
        clock.advance(crate::access::OPENING_MS + 1);
        desk.detail_seen_by(&key, "rita").await.unwrap();
        assert_eq!(viewed(&desk).await, 2, "a new opening after the idle time");
    }
}
