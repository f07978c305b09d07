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

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Statistics over cases received in `[from_ms, to_ms)`; `from`/`to` are the range's dates.
pub fn statistics(
    store: &Store,
    from: time::Date,
    to: time::Date,
    from_ms: i64,
    to_ms: i64,
) -> Result<Stats, CoreError> {
    let rows = store.stats_rows(from_ms, to_ms)?;

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
    for r in rows {
        let day = days
            .entry(kyc_domain::time::date_of(r.received_at))
            .or_insert_with_key(|d| Day {
                day: d.to_string(),
                ..Default::default()
            });
        day.received += 1;
        out.received += 1;
        if r.answer_by.as_deref() == Some("timeout") {
            day.timeouts += 1;
            out.timeouts += 1;
            if r.status == "pending" {
                out.needs_review += 1;
            }
        }
        if matches!(
            (r.status.as_str(), r.answer_result),
            ("approved", Some(false)) | ("rejected", Some(true))
        ) {
            out.conflicts += 1;
        }
        match r.status.as_str() {
            "approved" => {
                day.approved += 1;
                out.approved += 1;
            }
            "rejected" => {
                day.rejected += 1;
                out.rejected += 1;
            }
            _ => {
                day.pending += 1;
                out.pending += 1;
            }
        }
        if let (Some(at), Some(by)) = (r.decided_at, r.by) {
            let secs = (at - r.received_at).max(0) as f64 / 1000.0;
            times.push(secs);
            let (entry, t) = reviewers.entry(by.clone()).or_insert_with(|| {
                (
                    ReviewerStats {
                        name: by,
                        ..Default::default()
                    },
                    Vec::new(),
                )
            });
            entry.decided += 1;
            if r.status == "approved" {
                entry.approved += 1;
            } else {
                entry.rejected += 1;
            }
            t.push(secs);
        }
    }
    let decided = out.approved + out.rejected;
    out.approval_rate = (decided > 0).then(|| out.approved as f64 / decided as f64);
    let times = sorted(times);
    out.median_secs = percentile(&times, 50.0);
    out.p90_secs = percentile(&times, 90.0);
    out.days = days.into_values().collect();
    out.by_reviewer = reviewers
        .into_values()
        .map(|(mut r, t)| {
            r.median_secs = percentile(&sorted(t), 50.0);
            r
        })
        .collect();
    out.by_reviewer
        .sort_by(|a, b| b.decided.cmp(&a.decided).then(a.name.cmp(&b.name)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(5.0));
        assert_eq!(percentile(&v, 90.0), Some(9.0));
        assert_eq!(percentile(&v, 100.0), Some(10.0));
        assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
