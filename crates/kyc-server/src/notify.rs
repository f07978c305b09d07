//! The outbound webhook (`[notify]`): a worker that posts every queued final decision to the
//! enterprise's URL, signed with HMAC-SHA256 over `<timestamp>.<body>`, retrying with exponential
//! backoff; the outbox lives in the database, so nothing is lost across restarts.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use kyc_core::config::NotifyConfig;
use kyc_core::desk::Desk;
use kyc_domain::case::DueDelivery;
use sha2::Sha256;

/// Header carrying the unix time (seconds) that is part of the signed text.
pub const TIMESTAMP_HEADER: &str = "X-KYC-Desk-Timestamp";
/// Header carrying `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-KYC-Desk-Signature";

/// The signature header value for a body sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delay before retry number `attempt` (1-based): base × 2^(attempt-1), at most one hour.
pub fn backoff_ms(base_ms: u64, attempt: u32) -> i64 {
    let factor = 1u64 << attempt.saturating_sub(1).min(20);
    base_ms.saturating_mul(factor).min(3_600_000) as i64
}

/// Deliveries one worker claims at a time, attempted one after the other.
const BATCH: u32 = 5;
/// How long a claimed delivery is this worker's: longer than its batch's attempts can take
/// (`BATCH` × the client's 15 s timeout), so no other instance posts it meanwhile.
const LEASE_MS: i64 = 120_000;

/// Starts the worker; it runs until the runtime stops.
pub fn spawn(desk: Arc<Desk>, cfg: NotifyConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = match reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .use_rustls_tls()
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client could not start; deliveries stay queued");
                return;
            }
        };
        let wake = desk.deliveries_changed();
        loop {
            let due = desk
                .claim_deliveries(desk.now_ms(), BATCH, LEASE_MS)
                .await
                .unwrap_or_default();
            for d in due {
                attempt(&http, &desk, &cfg, d).await;
            }
            let next = desk.next_delivery_at().await.ok().flatten();
            let wait = next.map_or(60_000, |at| (at - desk.now_ms()).clamp(0, 60_000));
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
    })
}

async fn attempt(http: &reqwest::Client, desk: &Desk, cfg: &NotifyConfig, d: DueDelivery) {
    let ts = desk.now_ms() / 1000;
    let signature = sign(cfg.secret.as_deref().unwrap_or_default(), ts, &d.body);
    let result = http
        .post(cfg.url.trim())
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(d.body.clone())
        .send()
        .await;
    // Errors are summarised by kind: never the URL (it may carry credentials) or the body.
    let (delivered, status, error) = match result {
        Ok(r) if r.status().is_success() => (true, Some(r.status().as_u16()), None),
        Ok(r) => (
            false,
            Some(r.status().as_u16()),
            Some(format!("HTTP {}", r.status().as_u16())),
        ),
        Err(e) if e.is_timeout() => (false, None, Some("timeout".to_string())),
        Err(e) if e.is_connect() => (false, None, Some("connection failed".to_string())),
        Err(_) => (false, None, Some("request failed".to_string())),
    };
    let attempts = d.attempts + 1;
    let retry_at = (!delivered && attempts < cfg.max_attempts)
        .then(|| desk.now_ms() + backoff_ms(cfg.retry_base_ms, attempts));
    tracing::info!(delivery = d.id, delivered, attempts, status = ?status, "webhook attempt");
    if let Err(e) = (desk)
        .delivery_attempted(d.id, (delivered, status, error), retry_at)
        .await
    {
        tracing::error!(delivery = d.id, "recording a webhook attempt failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference value computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sign("secret", 1_700_000_000, r#"{"a":1}"#),
            format!(
                "sha256={}",
                "49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
            )
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1000, 1), 1000);
        assert_eq!(backoff_ms(1000, 2), 2000);
        assert_eq!(backoff_ms(1000, 5), 16000);
        assert_eq!(backoff_ms(1000, 40), 3_600_000);
    }
}
