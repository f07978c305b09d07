//! What the desk keeps beside the cases, as the edges read it: the audit trail (pages, its CSV
//! export), statistics and the decisions CSV, the webhook outbox, and the queue's filter values.
//! Reads of personal data and every export are audited here, in the desk, not by the edges.

use kyc_domain::case::{DeliveryInfo, DueDelivery};
use kyc_domain::roles::Permission;
use serde_json::{json, Value};

use super::accounts::allowed;
use super::{blocking, Desk};
use crate::error::CoreError;
use crate::users::User;
use kyc_domain::audit::AuditFilter;
use kyc_domain::case::AuditEntry;

/// Writes a CSV in chunks into a sink (false from the sink: the reader went away); returns the
/// rows written. Runs on a blocking thread.
pub type CsvWriter =
    Box<dyn FnOnce(&mut dyn FnMut(Vec<u8>) -> bool) -> Result<u64, CoreError> + Send>;

/// An export ready to stream: its rows (when counted first), the signed checkpoint of the audit
/// chain taken after the export's own entry (the file ends with it), and its writer.
pub struct CsvExport {
    /// Rows that will follow, when counted before writing (the decisions CSV).
    pub rows: Option<u64>,
    /// The `# audit checkpoint …` line to end the file with.
    pub checkpoint: Option<String>,
    /// Writes the rows.
    pub write: CsvWriter,
}

impl Desk {
    /// A case's id from its id or reference.
    pub async fn resolve(&self, key: String) -> Result<i64, CoreError> {
        let store = self.store.clone();
        blocking(move || store.resolve(key.trim())).await
    }

    /// Writes an entry of `by`'s into the audit trail.
    pub async fn record(
        &self,
        by: &User,
        action: &'static str,
        case: Option<i64>,
        detail: Value,
    ) -> Result<(), CoreError> {
        let store = self.store.clone();
        let name = by.name.clone();
        blocking(move || store.audit(&name, action, case, detail)).await
    }

    /// A page of the audit trail, newest first, before entry `before` (auditors and admins).
    pub async fn audit_page(
        &self,
        by: &User,
        filter: AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        allowed(by, Permission::ReadAudit)?;
        let store = self.store.clone();
        blocking(move || store.audit_page(before, limit, &filter)).await
    }

    /// The audit trail as CSV, oldest first (auditors and admins); the export is audited first
    /// with `noted` (the filter as asked).
    pub async fn export_audit(
        &self,
        by: &User,
        filter: AuditFilter,
        noted: Value,
    ) -> Result<CsvExport, CoreError> {
        allowed(by, Permission::ReadAudit)?;
        self.record(by, "export.audit", None, noted).await?;
        let checkpoint = self.current_checkpoint().await?.map(|c| c.line());
        let store = self.store.clone();
        Ok(CsvExport {
            rows: None,
            checkpoint,
            write: Box::new(move |sink| crate::export::audit_csv(&store, &filter, sink)),
        })
    }

    /// The decisions made in `[from_ms, to_ms)` as CSV (supervisors, admins, auditors); audited
    /// with the days asked (`days`) and the row count.
    pub async fn export_decisions(
        &self,
        by: &User,
        days: (time::Date, time::Date),
        (from_ms, to_ms): (i64, i64),
    ) -> Result<CsvExport, CoreError> {
        allowed(by, Permission::Export)?;
        let store = self.store.clone();
        let rows = blocking(move || crate::export::count(&store, from_ms, to_ms)).await?;
        let detail = json!({"from": days.0.to_string(), "to": days.1.to_string(), "rows": rows});
        self.record(by, "export.decisions", None, detail).await?;
        // A signed checkpoint taken after the export's own audit entry.
        let checkpoint = self.current_checkpoint().await?.map(|c| c.line());
        let store = self.store.clone();
        Ok(CsvExport {
            rows: Some(rows),
            checkpoint,
            write: Box::new(move |sink| crate::export::decisions_csv(&store, from_ms, to_ms, sink)),
        })
    }

    /// Statistics over the cases received in `[from_ms, to_ms)`, the days `from` to `to`
    /// (supervisors, admins, auditors).
    pub async fn statistics(
        &self,
        by: &User,
        (from, to): (time::Date, time::Date),
        (from_ms, to_ms): (i64, i64),
    ) -> Result<crate::stats::Stats, CoreError> {
        allowed(by, Permission::Statistics)?;
        let store = self.store.clone();
        blocking(move || crate::stats::statistics(&store, from, to, from_ms, to_ms)).await
    }

    /// The webhook delivery log, newest first (one case's, given its id or reference).
    pub async fn deliveries(&self, case: Option<String>) -> Result<Vec<DeliveryInfo>, CoreError> {
        let store = self.store.clone();
        blocking(move || {
            let case = match case.filter(|c| !c.is_empty()) {
                Some(key) => Some(store.resolve(&key)?),
                None => None,
            };
            store.deliveries(case, 200)
        })
        .await
    }

    /// Queues a delivery again at once (supervisors and admins); audited, and the worker woken.
    pub async fn resend_delivery(&self, by: &User, id: i64) -> Result<(), CoreError> {
        allowed(by, Permission::ResendDelivery)?;
        let store = self.store.clone();
        blocking(move || store.resend_delivery(id)).await?;
        tracing::info!(delivery = id, "delivery resent");
        self.record(by, "delivery.resent", None, json!({"delivery": id}))
            .await?;
        self.deliveries_changed().notify_one();
        Ok(())
    }

    /// Claims up to `limit` deliveries due at `now` for this worker (the webhook worker's next
    /// batch), each leased for `lease_ms` so no other instance posts it meanwhile.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<DueDelivery>, CoreError> {
        let store = self.store.clone();
        blocking(move || store.claim_deliveries(now, limit, lease_ms)).await
    }

    /// When the next pending delivery is due, if any.
    pub async fn next_delivery_at(&self) -> Result<Option<i64>, CoreError> {
        let store = self.store.clone();
        blocking(move || store.next_delivery_at()).await
    }

    /// Records a delivery attempt: delivered, or failed with a status or an error (never the body)
    /// and, while attempts are left, when to retry.
    pub async fn delivery_attempted(
        &self,
        id: i64,
        (delivered, status, error): (bool, Option<u16>, Option<String>),
        retry_at: Option<i64>,
    ) -> Result<(), CoreError> {
        let store = self.store.clone();
        blocking(move || store.delivery_attempt(id, delivered, status, error.as_deref(), retry_at))
            .await
    }

    /// The document types the store has seen (the queue's filter offers them).
    pub async fn document_types(&self) -> Result<Vec<String>, CoreError> {
        let store = self.store.clone();
        blocking(move || store.document_types()).await
    }

    /// Records that `by` viewed Ditto ID's config, which holds the secrets (admins only).
    pub async fn ditto_config_viewed(&self, by: &User) -> Result<(), CoreError> {
        allowed(by, Permission::DittoConfig)?;
        tracing::info!("ditto config viewed");
        self.record(by, "settings.ditto_config_viewed", None, json!({}))
            .await
    }

    /// Whether erasures a restart interrupted still wait for the WAL to be truncated.
    pub async fn erasures_pending(&self) -> Result<bool, CoreError> {
        let store = self.store.clone();
        blocking(move || store.erasures_pending()).await
    }
}
