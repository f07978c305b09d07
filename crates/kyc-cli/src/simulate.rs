//! `kyc-desk simulate`: plays Ditto ID's IDV Server against this KYC Desk with generated,
//! realistic submissions (kyc-sim), using the same config for the address, credentials and TLS.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Args;
use kyc_core::config::{AuthMode, Loaded};
use kyc_sim::{Scenario, Today};
use serde_json::Value;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// How many submissions to send.
    #[arg(long, default_value_t = 4)]
    pub count: u64,
    /// clean | expired | mismatch | tampered | mixed (rotates through the others).
    #[arg(long, default_value = "mixed")]
    pub scenario: Scenario,
    /// Receiver URL (default: from the config, on this machine).
    #[arg(long)]
    pub url: Option<String>,
    /// How many requests may be held open at once (Ditto ID waits for each decision).
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Seed for the generated people and ids (default: the clock, so each run sends new cases).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Extra CA/self-signed certificate (PEM) to trust, besides the one in the data dir.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
}

/// The receiver URL this config describes (0.0.0.0 becomes 127.0.0.1).
pub fn receiver_url(loaded: &Loaded) -> String {
    let addr = kyc_server::services::browsable(loaded.config.receiver.listen);
    format!("https://{addr}{}", loaded.config.receiver.path)
}

fn client(
    loaded: &Loaded,
    extra_ca: Option<&PathBuf>,
    timeout: Duration,
) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(timeout).use_rustls_tls();
    let mut pems = Vec::new();
    match (&loaded.config.receiver.tls_cert, extra_ca) {
        (_, Some(ca)) => pems.push(std::fs::read(ca)?),
        (Some(cert), None) => pems.push(std::fs::read(cert)?),
        (None, None) => {
            let own = loaded.data_dir.join(kyc_server::tls::SELF_SIGNED_CERT);
            if let Ok(p) = std::fs::read(&own) {
                pems.push(p);
            }
        }
    }
    for pem in pems {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
    }
    Ok(builder.build()?)
}

/// The `Authorization` header Ditto ID would send for this config.
pub fn auth_header(loaded: &Loaded) -> Option<String> {
    let a = &loaded.config.receiver.auth;
    match a.mode {
        AuthMode::None | AuthMode::Oauth2 => None,
        AuthMode::Basic => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                a.username.as_deref().unwrap_or_default(),
                a.password.as_deref().unwrap_or_default()
            ))
        )),
        AuthMode::Bearer => Some(format!("Bearer {}", a.token.as_deref().unwrap_or_default())),
    }
}

pub fn run(config: Option<PathBuf>, args: SimulateArgs) -> anyhow::Result<()> {
    let loaded = crate::load_config(config.as_deref())?;
    let url = args.url.clone().unwrap_or_else(|| receiver_url(&loaded));
    let timeout = Duration::from_secs(loaded.config.decision.hold_secs + 60);
    let http = client(&loaded, args.ca.as_ref(), timeout)?;
    let auth = auth_header(&loaded);
    let seed = args
        .seed
        .unwrap_or_else(|| kyc_core::timefmt::now_ms() as u64);
    let (year, month, day) = kyc_core::timefmt::today();
    let today = Today { year, month, day };
    println!(
        "Sending {} {} submission(s) to {url} (Ditto ID waits up to {} s per case for a reviewer)",
        args.count,
        args.scenario.as_str(),
        loaded.config.decision.hold_secs
    );
    let rt = tokio::runtime::Runtime::new()?;
    let failures = rt.block_on(async {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(args.parallel.max(1)));
        let mut tasks = Vec::new();
        for i in 0..args.count {
            let sub = kyc_sim::generate(args.scenario, i, seed, &today);
            let (http, url, auth, permits) = (http.clone(), url.clone(), auth.clone(), permits.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let started = Instant::now();
                let mut req = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&sub.payload).unwrap_or_default());
                if let Some(a) = auth {
                    req = req.header("authorization", a);
                }
                let outcome = match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                        Ok((status, body))
                    }
                    Err(e) => Err(e),
                };
                let secs = started.elapsed().as_secs_f64();
                let label = format!(
                    "#{:<3} {:<9} {:<28} requester_id={}",
                    i + 1,
                    sub.scenario.as_str(),
                    format!("{} {}", sub.given_names, sub.surname),
                    sub.requester_id
                );
                match outcome {
                    Ok((status, body)) if status.is_success() => {
                        println!(
                            "{label}\n     -> HTTP {} in {secs:.1} s: result={} reference_number={} user_id={}",
                            status.as_u16(),
                            body["result"],
                            body["reference_number"].as_str().unwrap_or("?"),
                            body["user_id"].as_str().unwrap_or("?")
                        );
                        false
                    }
                    Ok((status, body)) => {
                        println!("{label}\n     -> HTTP {} in {secs:.1} s: {body}", status.as_u16());
                        true
                    }
                    Err(e) => {
                        println!("{label}\n     -> failed after {secs:.1} s: {e}");
                        true
                    }
                }
            }));
        }
        let mut failures = 0;
        for t in tasks {
            if t.await.unwrap_or(true) {
                failures += 1;
            }
        }
        failures
    });
    if failures > 0 {
        anyhow::bail!("{failures} of {} submission(s) failed", args.count);
    }
    Ok(())
}
