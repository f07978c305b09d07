//! A queue page as the desk shows it: the page, the cases Ditto ID waits on now (pinned on top)
//! and those the fallback answered that no reviewer decided yet (pinned under them), each
//! obeying the page's filters and search, read on one snapshot.

use kyc_domain::case::{CasePage, CaseQuery, CaseSummary, HELD_MAX};
use kyc_store::Snapshot;

use crate::error::CoreError;

/// At most this many cases answered by the fallback are pinned.
const NEEDS_REVIEW: u32 = 100;

/// The page `q` asks for at `now` (unix ms) and, on a first page, the waiting cases (soonest
/// deadline first) and the pinned ones (`needs_review`, oldest first).
pub(super) fn page(
    store: &Snapshot<'_>,
    q: CaseQuery,
    now: i64,
) -> Result<(CasePage, Vec<CaseSummary>), CoreError> {
    let first_page = q.cursor.is_none();
    let pin_view = q.status.as_deref().is_none_or(|s| s == "pending")
        && q.answered_by.as_deref().is_none_or(|b| b == "timeout");
    // The waiting cases (held by any instance, found from their own index first) and the
    // pinned ones, on a first page.
    let mut lists = Vec::new();
    if first_page {
        lists.push(CaseQuery {
            held_at: Some(now),
            limit: HELD_MAX,
            ..q.clone()
        });
        if pin_view {
            lists.push(CaseQuery {
                status: Some("pending".into()),
                answered_by: Some("timeout".into()),
                limit: NEEDS_REVIEW,
                ..q.clone()
            });
        }
    }
    // The first page says how many cases match (the pinned lists do not count); when its own
    // rows cannot tell, that count is read last. The lists come with it when they cost no
    // exchange of their own.
    let (mut page, count, read) = store.list_count_later_with(
        &CaseQuery {
            count: first_page,
            ..q
        },
        &lists,
    )?;
    if !first_page {
        return Ok((page, Vec::new()));
    }
    let waiting = |c: &CaseSummary| c.hold_until_ms.is_some_and(|until| until > now);
    let unreviewed = |c: &CaseSummary| {
        c.status == "pending" && c.answer.as_ref().is_some_and(|a| a.by == "timeout")
    };
    let (mut held, mut needs_review) = if let Some(read) = read {
        let mut read = read.into_iter();
        (
            read.next().unwrap_or_default(),
            read.next().unwrap_or_default(),
        )
    } else if page.next.is_none() {
        // Every match is on this page: the waiting and pinned cases are among them.
        let held = page.cases.iter().filter(|c| waiting(c)).cloned().collect();
        let pinned = match pin_view {
            true => page
                .cases
                .iter()
                .filter(|c| unreviewed(c))
                .cloned()
                .collect(),
            false => Vec::new(),
        };
        (held, pinned)
    } else {
        let mut read = store.first_of_each(&lists)?.into_iter();
        (
            read.next().unwrap_or_default(),
            read.next().unwrap_or_default(),
        )
    };
    if let Some(count) = count {
        store.count_last(&mut page, count)?;
    }
    held.sort_by_key(|c| (c.hold_until_ms, c.id));
    needs_review.sort_by_key(|c| c.id);
    needs_review.truncate(NEEDS_REVIEW as usize);
    page.needs_review = needs_review;
    Ok((page, held))
}
