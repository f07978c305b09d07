//! Statistics for supervisors: volumes per day, approval rate, time to decision (median, 90th
//! percentile), timeouts, and the same by reviewer — over the cases received in a date range.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::CoreError;
use kyc_store::Store;

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub received: u64,
    pub approved: u64,
    pub rejected: u64,
    pub pending: u64,
    /// Answered by the `on_timeout` fallback (no decision within the hold window).
    pub timeouts: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReviewerStats {
    /// An account name, or `automatic` for the policy's decisions.
    pub name: String,
    pub decided: u64,
    pub approved: u64,
    pub rejected: u64,
    pub median_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Stats {
    pub from: String,
    pub to: String,
    pub received: u64,
    pub approved: u64,
    pub rejected: u64,
    pub pending: u64,
    pub timeouts: u64,
    /// Answered by the fallback and not decided yet: a reviewer must still look.
    pub needs_review: u64,
    /// Decided against what Ditto ID was told (see `CaseSummary::conflict`).
    pub conflicts: u64,
    /// approved / (approved + rejected); null without decisions.
    pub approval_rate: Option<f64>,
    /// Seconds from receipt to the final decision.
    pub median_secs: Option<f64>,
    pub p90_secs: Option<f64>,
    /// Every day of the range, oldest first (days without cases are zeros).
    pub days: Vec<Day>,
    pub by_reviewer: Vec<ReviewerStats>,
}

/// The nearest-rank `p`th percentiles of `v` (reordered in place: selection, not a full sort).
fn percentiles<const N: usize>(v: &mut [f64], ps: [f64; N]) -> [Option<f64>; N] {
    ps.map(|p| {
        if v.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        let (_, at, _) = v.select_nth_unstable_by(rank.min(v.len()) - 1, f64::total_cmp);
        Some(*at)
    })
}

/// Statistics over cases received in `[from_ms, to_ms)`; `from`/`to` are the range's dates.
pub fn statistics(
    store: &Store,
    from: time::Date,
    to: time::Date,
    from_ms: i64,
    to_ms: i64,
) -> Result<Stats, CoreError> {
    let mut days: BTreeMap<time::Date, Day> = BTreeMap::new();
    let mut d = from;
    while d <= to && days.len() < 3660 {
        days.insert(
            d,
            Day {
                day: d.to_string(),
                ..Default::default()
            },
        );
        d = match d.next_day() {
            Some(n) => n,
            None => break,
        };
    }
    let mut out = Stats {
        from: from.to_string(),
        to: to.to_string(),
        ..Default::default()
    };
    let mut times = Vec::new();
    let mut reviewers: BTreeMap<String, (ReviewerStats, Vec<f64>)> = BTreeMap::new();
    // The rows come mostly in the order received: the day of the last one is kept with its
    // bounds, so most rows need no date arithmetic.
    let mut today: Option<(i64, i64, time::Date)> = None;
    store.stats_each(from_ms, to_ms, |r| {
        let date = match today {
            Some((start, end, date)) if (start..end).contains(&r.received_at) => date,
            _ => {
                let date = kyc_domain::time::date_of(r.received_at);
                let start = r.received_at - r.received_at.rem_euclid(86_400_000);
                today = Some((start, start + 86_400_000, date));
                date
            }
        };
        let day = days.entry(date).or_insert_with_key(|d| Day {
            day: d.to_string(),
            ..Default::default()
        });
        day.received += 1;
        out.received += 1;
        if r.timed_out {
            day.timeouts += 1;
            out.timeouts += 1;
            if r.approved.is_none() {
                out.needs_review += 1;
            }
        }
        if matches!(
            (r.approved, r.answer_result),
            (Some(true), Some(false)) | (Some(false), Some(true))
        ) {
            out.conflicts += 1;
        }
        match r.approved {
            Some(true) => {
                day.approved += 1;
                out.approved += 1;
            }
            Some(false) => {
                day.rejected += 1;
                out.rejected += 1;
            }
            None => {
                day.pending += 1;
                out.pending += 1;
            }
        }
        if let (Some(at), Some(by)) = (r.decided_at, r.by) {
            let secs = (at - r.received_at).max(0) as f64 / 1000.0;
            times.push(secs);
            if !reviewers.contains_key(&by) {
                let stats = ReviewerStats {
                    name: by.clone(),
                    ..Default::default()
                };
                reviewers.insert(by.clone(), (stats, Vec::new()));
            }
            if let Some((entry, t)) = reviewers.get_mut(&by) {
                entry.decided += 1;
                if r.approved == Some(true) {
                    entry.approved += 1;
                } else {
                    entry.rejected += 1;
                }
                t.push(secs);
            }
        }
        Ok::<_, CoreError>(true)
    })?;
    let decided = out.approved + out.rejected;
    out.approval_rate = (decided > 0).then(|| out.approved as f64 / decided as f64);
    [out.median_secs, out.p90_secs] = percentiles(&mut times, [50.0, 90.0]);
    out.days = days.into_values().collect();
    out.by_reviewer = reviewers
        .into_values()
        .map(|(mut r, mut t)| {
            [r.median_secs] = percentiles(&mut t, [50.0]);
            r
        })
        .collect();
    out.by_reviewer
        .sort_by(|a, b| b.decided.cmp(&a.decided).then(a.name.cmp(&b.name)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{percentiles, statistics};
    use crate::ingest::OpenedBody;
    use kyc_crypto::master::MasterKey;
    use kyc_store::Store;

    /// Each case counts on its own day, also when the rows cross midnight and one comes late.
    #[test]
    fn each_case_counts_on_the_day_it_was_received() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), MasterKey::Key([6; 32])).unwrap();
        let midnight = 1_764_460_800_000; // 2025-11-30T00:00:00Z
        let today = kyc_sim::Today {
            year: 2025,
            month: 11,
            day: 30,
        };
        let received = [midnight - 1, midnight, midnight + 1, midnight - 86_400_000];
        for (i, at) in received.into_iter().enumerate() {
            let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, i as u64, 3, &today);
            let body = OpenedBody::plain(sim.payload.to_string().into_bytes());
            let sub = crate::ingest::open(&body).unwrap();
            store.insert_case(&sub, &[], at).unwrap();
        }
        let date = |d: u8| time::Date::from_calendar_date(2025, time::Month::November, d).unwrap();
        let stats = statistics(
            &store,
            date(28),
            date(30),
            midnight - 2 * 86_400_000,
            midnight + 86_400_000,
        )
        .unwrap();
        let days: Vec<(String, u64)> = stats
            .days
            .iter()
            .map(|d| (d.day.clone(), d.received))
            .collect();
        assert_eq!(
            days,
            [
                ("2025-11-28".to_string(), 0),
                ("2025-11-29".to_string(), 2),
                ("2025-11-30".to_string(), 2)
            ]
        );
        assert_eq!((stats.received, stats.pending), (4, 4));
    }

    #[test]
    fn nearest_rank_percentiles() {
        // Out of order: the selection finds them without a sort.
        let mut v: Vec<f64> = [7, 3, 10, 1, 9, 2, 8, 5, 4, 6].map(f64::from).to_vec();
        assert_eq!(
            percentiles(&mut v, [50.0, 90.0, 100.0, 10.0]),
            [Some(5.0), Some(9.0), Some(10.0), Some(1.0)]
        );
        assert_eq!(percentiles(&mut [7.0], [90.0]), [Some(7.0)]);
        assert_eq!(percentiles(&mut [], [50.0]), [None]);
    }
}
