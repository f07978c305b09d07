//! The desk's clock is the store's (`kyc_store::clock`): one time for the rows and the rules,
//! set by a test through `Store::with_clock`.

pub use kyc_store::clock::{Clock, ManualClock, SystemClock};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DecisionConfig, ReceiverConfig};
    use crate::desk::Desk;
    use crate::ingest::{CustomRules, OpenedBody};
    use kyc_crypto::master::MasterKey;
    use kyc_store::Store;
    use std::sync::Arc;

    /// The desk and the store read the injected clock: an opening is audited once, its refreshes
    /// within `OPENING_MS` are not, and a look after that idle time is a new opening; the case's
    /// received date and its audit entries carry the clock's time.
    #[tokio::test]
    async fn the_desk_runs_on_the_clock_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        // 2031-01-15: the simulated document (valid for years from "today" below) is fine then.
        let clock = Arc::new(ManualClock::at(1_926_201_600_000));
        let store = Store::open(&dir.path().join("db"), MasterKey::Key([6; 32]))
            .unwrap()
            .with_clock(clock.clone());
        let policy = DecisionConfig {
            hold_secs: 0,
            ..DecisionConfig::default()
        };
        let desk = Desk::new(
            Arc::new(store),
            policy,
            CustomRules::of(&ReceiverConfig::default()),
        );
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
        let trail = desk.store().timeline(case.id).unwrap();
        assert_eq!(trail[0].action, "case.received");
        assert_eq!(trail[0].at, "2031-01-15T00:00:00Z", "stamped by the clock");
        assert_eq!(trail[2].at, "2031-01-15T00:20:00Z", "after both advances");
    }
}
