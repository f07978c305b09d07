//! `kyc-desk simulate`: plays Ditto ID's IDV Server against this KYC Desk with generated,
//! realistic submissions (kyc-sim), speaking the same config the way the Java caller would: it
//! takes an OAuth2 token, builds the default or custom body, encrypts it, posts it, decrypts the
//! answer and reads it through the configured locators.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Args;
use kyc_core::config::{AuthMode, Config, Loaded};
use kyc_crypto::jce::AesSuite;
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
    /// Receiver URL (default: receiver.public_url, else receiver.listen on this machine).
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
    /// Also write each payload sent to DIR/<requester_id>.json (for tests and demos).
    #[arg(long, value_name = "DIR")]
    pub save_payloads: Option<PathBuf>,
}

/// Everything needed to talk to the receiver as Ditto ID does.
struct Caller {
    http: reqwest::Client,
    url: String,
    config: Config,
    request_suite: Option<AesSuite>,
    response_suite: Option<AesSuite>,
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

/// `https://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..].find('/').map_or(url, |i| &url[..after + i])
}

impl Caller {
    /// The `Authorization` header for one request (fetching a token first in oauth2 mode).
    async fn authorization(&self) -> anyhow::Result<Option<String>> {
        let a = &self.config.receiver.auth;
        Ok(match a.mode {
            AuthMode::None | AuthMode::Header => None,
            AuthMode::Basic => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    a.username.as_deref().unwrap_or_default(),
                    a.password.as_deref().unwrap_or_default()
                ))
            )),
            AuthMode::Bearer => Some(format!("Bearer {}", a.token.as_deref().unwrap_or_default())),
            AuthMode::Oauth2 => {
                let url = format!("{}{}", origin(&self.url), a.token_path);
                let form = [
                    ("client_id", a.client_id.as_deref().unwrap_or_default()),
                    (
                        "client_secret",
                        a.client_secret.as_deref().unwrap_or_default(),
                    ),
                    ("grant_type", "client_credentials"),
                ];
                let body = serde_urlencoded::to_string(form)?;
                let resp = self
                    .http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let v: Value = resp.json().await.unwrap_or(Value::Null);
                let token = v["access_token"].as_str().ok_or_else(|| {
                    anyhow::anyhow!("token endpoint {url} answered HTTP {status}: {v}")
                })?;
                Some(format!("Bearer {token}"))
            }
        })
    }

    /// The body Ditto ID would send: the default payload, or the custom template filled in.
    fn body(&self, sub: &kyc_sim::Submission) -> Vec<u8> {
        let mapping = &self.config.receiver.mapping;
        let json = if mapping.is_empty() {
            sub.payload.clone()
        } else {
            custom_body(sub, mapping)
        };
        let plain = serde_json::to_vec(&json).unwrap_or_default();
        match &self.request_suite {
            Some(s) => s.seal_body(&plain).0,
            None => plain,
        }
    }

    /// Posts one submission; returns the HTTP status, the (decrypted) answer and who answered
    /// (`reviewer`, `auto` or `timeout`, from KYC Desk's `X-KYC-Desk-Answered-By`).
    async fn send(
        &self,
        sub: &kyc_sim::Submission,
    ) -> anyhow::Result<(u16, Value, Option<String>)> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body(sub));
        if let Some(a) = self.authorization().await? {
            req = req.header("authorization", a);
        }
        let auth = &self.config.receiver.auth;
        if auth.mode == AuthMode::Header {
            req = req.header(
                auth.header_name.as_deref().unwrap_or_default(),
                auth.header_value.as_deref().unwrap_or_default(),
            );
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let by = resp
            .headers()
            .get("x-kyc-desk-answered-by")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await?;
        let plain = match (&self.response_suite, status) {
            (Some(s), 200) => s.open_body(&bytes).map_err(|_| {
                anyhow::anyhow!(
                    "the answer could not be decrypted with receiver.response_encryption"
                )
            })?,
            _ => bytes.to_vec(),
        };
        let v = serde_json::from_slice(&plain)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plain).into()));
        Ok((status, v, by))
    }

    /// Reads a field of the answer through the configured locator.
    fn read<'a>(&self, answer: &'a Value, path: &str) -> Option<&'a Value> {
        (!path.is_empty())
            .then(|| kyc_domain::answer::locate(answer, path))
            .flatten()
    }
}

/// Fills a custom template the way Ditto ID's macros do, from a generated submission.
pub fn custom_body(sub: &kyc_sim::Submission, mapping: &BTreeMap<String, String>) -> Value {
    let mut out = Value::Object(serde_json::Map::new());
    for (field, pointer) in mapping {
        let value = match field.as_str() {
            "name" => Some(Value::String(format!(
                "{} {}",
                sub.given_names, sub.surname
            ))),
            other => {
                kyc_core::ingest::model_pointer(other).and_then(|p| sub.payload.pointer(p).cloned())
            }
        };
        if let Some(v) = value {
            kyc_core::ingest::set_pointer(&mut out, pointer, v);
        }
    }
    out
}

pub fn run(config: Option<PathBuf>, args: SimulateArgs) -> anyhow::Result<()> {
    let loaded = crate::load_config(config.as_deref())?;
    let cfg = &loaded.config;
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("{}{}", kyc_core::ditto::public_base(cfg), cfg.receiver.path));
    let timeout = Duration::from_secs(cfg.decision.hold_secs + 60);
    let suite =
        |e: &kyc_core::config::EncryptionConfig, s: &str| -> anyhow::Result<Option<AesSuite>> {
            Ok(if e.enable { Some(e.suite(s)?) } else { None })
        };
    let caller = Arc::new(Caller {
        http: client(&loaded, args.ca.as_ref(), timeout)?,
        request_suite: suite(
            &cfg.receiver.request_encryption,
            "receiver.request_encryption",
        )?,
        response_suite: suite(
            &cfg.receiver.response_encryption,
            "receiver.response_encryption",
        )?,
        url: url.clone(),
        config: cfg.clone(),
    });
    let seed = args
        .seed
        .unwrap_or_else(|| kyc_store::timefmt::now_ms() as u64);
    let (year, month, day) = kyc_store::timefmt::today();
    let today = Today { year, month, day };
    println!(
        "Sending {} {} submission(s) to {url} as Ditto ID (auth {:?}{}{}; waits up to {} s per case)",
        args.count,
        args.scenario.as_str(),
        cfg.receiver.auth.mode,
        if caller.request_suite.is_some() { ", encrypted" } else { "" },
        if cfg.receiver.mapping.is_empty() { "" } else { ", custom body" },
        cfg.decision.hold_secs
    );
    if let Some(dir) = &args.save_payloads {
        std::fs::create_dir_all(dir)?;
    }
    let rt = tokio::runtime::Runtime::new()?;
    let failures = rt.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(args.parallel.max(1)));
        let mut tasks = Vec::new();
        for i in 0..args.count {
            let sub = kyc_sim::generate(args.scenario, i, seed, &today);
            if let Some(dir) = &args.save_payloads {
                let path = dir.join(format!("{}.json", sub.requester_id));
                std::fs::write(&path, serde_json::to_vec_pretty(&sub.payload)?)?;
            }
            let (caller, permits) = (caller.clone(), permits.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let started = Instant::now();
                let outcome = caller.send(&sub).await;
                let secs = started.elapsed().as_secs_f64();
                let label = format!(
                    "#{:<3} {:<9} {:<28} requester_id={}",
                    i + 1,
                    sub.scenario.as_str(),
                    format!("{} {}", sub.given_names, sub.surname),
                    sub.requester_id
                );
                let a = &caller.config.receiver.answer;
                match outcome {
                    Ok((200, body, by)) => {
                        let show = |path: &str| caller.read(&body, path).map_or("?".to_string(), |v| v.to_string());
                        let how = match by.as_deref() {
                            Some("timeout") => " [timeout fallback: nobody decided within decision.hold_secs]",
                            Some("reviewer") => " [decided by a reviewer]",
                            Some("auto") => " [automatic rule]",
                            _ => "",
                        };
                        println!(
                            "{label}\n     -> HTTP 200 in {secs:.1} s: result={} reference_number={} user_id={}{how}",
                            show(&a.result),
                            show(&a.reference_number).trim_matches('"'),
                            show(&a.user_id).trim_matches('"')
                        );
                        false
                    }
                    Ok((status, body, _)) => {
                        println!("{label}\n     -> HTTP {status} in {secs:.1} s: {body}");
                        true
                    }
                    Err(e) => {
                        println!("{label}\n     -> failed after {secs:.1} s: {e:#}");
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
        Ok::<_, anyhow::Error>(failures)
    })?;
    if failures > 0 {
        anyhow::bail!("{failures} of {} submission(s) failed", args.count);
    }
    Ok(())
}
