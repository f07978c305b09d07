//! The audit trail's signed checkpoints as the desk keeps them (at start, every 100 entries or 10
//! minutes, at shutdown and with every export) and the verification of the chain against them.

use kyc_domain::roles::Permission;

use super::{accounts, blocking, AuditCheck, Desk};
use crate::error::CoreError;
use kyc_store::checkpoint::Checkpoint;

/// A checkpoint is written once the head is this many entries past the last one...
pub const CHECKPOINT_EVERY_ENTRIES: i64 = 100;
/// ...or this long after it, if the head moved (ms); and at shutdown.
pub const CHECKPOINT_EVERY_MS: i64 = 10 * 60 * 1000;

impl Desk {
    /// Signs the audit chain's head into the checkpoint folder unless the newest checkpoint
    /// there has it already; logged. `None` without a folder or when nothing is new.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, CoreError> {
        let (written, newest) = self.sign_head().await?;
        Ok(newest.filter(|_| written))
    }

    /// Signs the head if it moved; returns whether it wrote, and the newest checkpoint. The
    /// newest is remembered, so the folder is read once per process, not on every call.
    async fn sign_head(&self) -> Result<(bool, Option<Checkpoint>), CoreError> {
        let Some(dir) = self.checkpoints.clone() else {
            return Ok((false, None));
        };
        let known = self.last_checkpoint.lock().ok().and_then(|l| l.clone());
        let store = self.store.clone();
        let (written, newest) = blocking(move || {
            let last = match known {
                Some(c) => Some(c),
                None => store.last_checkpoint(&dir)?,
            };
            let written = store.write_checkpoint(&dir, last.as_ref().map(|c| c.entry_id))?;
            Ok::<_, CoreError>((written.is_some(), written.or(last)))
        })
        .await?;
        if let Ok(mut l) = self.last_checkpoint.lock() {
            l.clone_from(&newest);
        }
        if let (true, Some(cp)) = (written, &newest) {
            tracing::info!(entry = cp.entry_id, hash = %cp.hash, signature = %cp.signature, "audit checkpoint");
        }
        Ok((written, newest))
    }

    /// The audit chain's head entry id.
    pub async fn audit_head_id(&self) -> Result<Option<i64>, CoreError> {
        let store = self.store.clone();
        Ok(blocking(move || store.audit_head())
            .await?
            .map(|(id, _)| id))
    }

    /// Verifies the audit chain and, with a checkpoint folder, every checkpoint in it: the
    /// verdict, how many checkpoints agree, and the newest one (auditors and admins).
    pub async fn verify_audit(&self, by: &crate::users::User) -> Result<AuditCheck, CoreError> {
        accounts::allowed(by, Permission::ReadAudit)?;
        let store = self.store.clone();
        let dir = self.checkpoints.clone();
        blocking(move || match dir {
            Some(dir) => {
                let (verdict, agreed) = store.verify_with_checkpoints(&dir)?;
                Ok::<_, kyc_store::Error>((verdict, agreed, store.last_checkpoint(&dir)?))
            }
            None => Ok((store.verify_audit()?, 0, None)),
        })
        .await
    }

    /// A checkpoint of the chain's head now: a new one if the head moved, else the newest.
    pub async fn current_checkpoint(&self) -> Result<Option<Checkpoint>, CoreError> {
        Ok(self.sign_head().await?.1)
    }
}
