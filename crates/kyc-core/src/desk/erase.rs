//! Erasure on request (a data-subject request) and by retention: crypto-shredding through the
//! store, refused while Ditto ID still waits on the case, finished in the background while a
//! reader holds an older snapshot of the WAL.

use std::sync::atomic::Ordering;
use std::time::Duration;

use kyc_domain::case::CaseSummary;
use kyc_domain::roles::Permission;

use super::{accounts, blocking, Desk, EventKind};
use crate::error::CoreError;

/// Cases a retention sweep looks up at a time (erased in short transactions, then the WAL
/// truncated once).
const SWEEP_ROUND: u32 = 500;

impl Desk {
    /// Erases a case on request (a data-subject request): refused while Ditto ID still waits on it.
    /// Returns the reference and whether the erasure is complete; a pending one (a reader still
    /// holds an older snapshot of the WAL) completes in the background.
    pub async fn erase(
        &self,
        key: &str,
        by: &crate::users::User,
        reason: &str,
    ) -> Result<(String, bool), CoreError> {
        accounts::allowed(by, Permission::Erase)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(CoreError::BadRequest(
                "reason: say why the case is erased (1 to 200 characters, e.g. a ticket number)"
                    .into(),
            ));
        }
        // Refused while Ditto ID waits on the case (the store checks, in the erasure's
        // transaction, the hold any instance stored).
        let store = self.store.clone();
        let (k, by, reason) = (key.to_string(), by.name.clone(), reason.to_string());
        let (id, (reference, complete)) = blocking(move || {
            let id = store.resolve(&k)?;
            Ok::<_, kyc_store::Error>((id, store.erase(id, &by, &reason)?))
        })
        .await?;
        tracing::info!(case = id, complete, "erased");
        if !complete {
            self.finish_erasures_in_background();
        }
        self.emit(
            EventKind::Erased,
            CaseSummary::erased(id, reference.clone()),
        );
        Ok((reference, complete))
    }

    /// Retries the pending erasures every second until the WAL can be truncated, one task at a
    /// time (also at start, for erasures a restart interrupted).
    pub fn finish_erasures_in_background(&self) {
        if self.finishing.swap(true, Ordering::SeqCst) {
            return;
        }
        let (store, finishing) = (self.store.clone(), self.finishing.clone());
        tokio::spawn(async move {
            loop {
                let s = store.clone();
                match blocking(move || s.finish_erasures()).await {
                    Ok(true) => {
                        tracing::info!("pending erasures completed");
                        finishing.store(false, Ordering::SeqCst);
                        // One queued while this task was finishing: take it on.
                        let s = store.clone();
                        let more = blocking(move || s.erasures_pending()).await.unwrap_or(true);
                        if !more || finishing.swap(true, Ordering::SeqCst) {
                            return;
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "finishing erasures"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// Erases every decided case whose final decision is older than `keep_days` days at `now_ms`;
    /// returns how many.
    pub async fn sweep_retention(&self, now_ms: i64, keep_days: u32) -> Result<usize, CoreError> {
        if keep_days == 0 {
            return Ok(0);
        }
        // One sweep at a time across the instances on a shared database: another one sweeping
        // now does this hour's work.
        let store = self.store.clone();
        let Some(lock) = blocking(move || store.try_job_lock("retention")).await? else {
            tracing::info!("retention sweep: another instance is sweeping");
            return Ok(0);
        };
        let swept = self.sweep_expired(now_ms, keep_days).await;
        // Released off the async threads (a PostgreSQL connection closes as it drops).
        let _ = tokio::task::spawn_blocking(move || drop(lock)).await;
        swept
    }

    async fn sweep_expired(&self, now_ms: i64, keep_days: u32) -> Result<usize, CoreError> {
        let keep_ms = i64::from(keep_days) * 86_400_000;
        let (mut erased, mut after) = (0, 0);
        loop {
            let store = self.store.clone();
            let due =
                blocking(move || store.expired_cases(now_ms, keep_ms, after, SWEEP_ROUND)).await?;
            let Some(&last) = due.last() else {
                break;
            };
            // A case skipped (still waited on) is the next hour's sweep's.
            after = last;
            let store = self.store.clone();
            let reason = format!("retention: decided more than {keep_days} days ago");
            let (done, complete) =
                blocking(move || store.erase_all(&due, "retention", &reason)).await?;
            if !complete {
                self.finish_erasures_in_background();
            }
            erased += done.len();
            for (id, reference) in done {
                self.emit(EventKind::Erased, CaseSummary::erased(id, reference));
            }
        }
        if erased > 0 {
            tracing::info!(erased, keep_days, "retention sweep");
        }
        Ok(erased)
    }
}
