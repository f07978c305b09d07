//! The webhook outbox: deliveries queued with decisions, claimed when due, retried, logged.

use super::*;

impl Store {
    /// Webhook deliveries due now (oldest first).
    pub fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<DueDelivery>, Error> {
        self.read(|c| due(c, &self.vault, now, limit))
    }

    /// Claims up to `limit` deliveries due now for one worker: each is not due again for
    /// `lease_ms` (its attempt's outcome sets its next time), so the workers of several instances
    /// never post the same delivery at once, and one that dies mid-attempt leaves it to be
    /// retried when the lease ends.
    pub fn claim_deliveries(
        &self,
        now: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<DueDelivery>, Error> {
        self.write(|c| {
            let claimed = due(c, &self.vault, now, limit)?;
            for d in &claimed {
                c.execute(
                    "UPDATE deliveries SET next_at = ?2 WHERE id = ?1",
                    params![d.id, now.saturating_add(lease_ms)],
                )?;
            }
            Ok(claimed)
        })
    }

    /// When the next pending delivery is due, if any (a claimed one: when its lease ends).
    pub fn next_delivery_at(&self) -> Result<Option<i64>, Error> {
        self.read(|c| {
            c.query_row(
                "SELECT min(next_at) FROM deliveries WHERE status = 'pending'",
                params![],
                |r| r.get(0),
            )
        })
    }

    /// Records one attempt: delivered, retry at `retry_at`, or (None) failed for good.
    pub fn delivery_attempt(
        &self,
        id: i64,
        delivered: bool,
        http_status: Option<u16>,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<(), Error> {
        self.write(|c| {
            let now = self.now_ms();
            let (status, next_at) = match (delivered, retry_at) {
                (true, _) => ("delivered", now),
                (false, Some(at)) => ("pending", at),
                (false, None) => ("failed", now),
            };
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1, status = ?2, next_at = ?3, last_status = ?4, \
                 last_error = ?5, delivered_at = CASE WHEN ?2 = 'delivered' THEN ?6 ELSE delivered_at END WHERE id = ?1",
                params![id, status, next_at, http_status, error, now],
            )?;
            Ok(())
        })
    }

    /// Queues a delivery again now (manual resend, whatever its state).
    pub fn resend_delivery(&self, id: i64) -> Result<(), Error> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE deliveries SET status = 'pending', next_at = ?2, attempts = 0 WHERE id = ?1",
                params![id, self.now_ms()],
            )?;
            if n == 0 {
                return Err(Error::NotFound(format!("delivery {id}")));
            }
            Ok(())
        })
    }

    /// The delivery log, newest first, optionally for one case.
    pub fn deliveries(&self, case_id: Option<i64>, limit: u32) -> Result<Vec<DeliveryInfo>, Error> {
        // One case's from its index (a condition that also lets every case through could use
        // none, and read the whole log newest first to find a case's few).
        let which = match case_id {
            Some(_) => "WHERE case_id = ?1",
            None => "WHERE CAST(?1 AS BIGINT) IS NULL",
        };
        self.read(|c| {
            let rows = c.query_map(&format!("SELECT id, case_id, event, status, attempts, next_at, last_status, last_error, created_at, delivered_at \
                 FROM deliveries {which} ORDER BY id DESC LIMIT ?2"), params![case_id, limit], |r| {
                Ok(DeliveryInfo {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    event: r.get(2)?,
                    status: r.get(3)?,
                    attempts: r.get(4)?,
                    next_at: rfc3339(r.get(5)?),
                    last_status: r.get(6)?,
                    last_error: r.get(7)?,
                    created_at: rfc3339(r.get(8)?),
                    delivered_at: r.get::<Option<i64>>(9)?.map(rfc3339),
                })
            })?;
            Ok(rows)
        })
    }
}

/// Pending deliveries due at `now`, oldest first, their bodies opened.
fn due(c: &dyn Connection, vault: &Vault, now: i64, limit: u32) -> Result<Vec<DueDelivery>, Error> {
    let rows = c.query_map(
        "SELECT id, case_id, body_sealed, attempts FROM deliveries \
         WHERE status = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
        params![now, limit],
        |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<i64>(1)?,
                r.get::<Vec<u8>>(2)?,
                r.get(3)?,
            ))
        },
    )?;
    let mut due = Vec::new();
    for (id, case_id, sealed, attempts) in rows {
        let key = case_key_in(c, vault, case_id)?;
        let body = open_text(&key, SealField::Delivery(id), &sealed)?;
        due.push(DueDelivery { id, body, attempts });
    }
    Ok(due)
}
