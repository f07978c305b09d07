//! Shared harness for the HTTP tests: a KYC Desk on port 0 with a temporary data dir, a client
//! that trusts its certificate, and a signed-in reviewer.

use kyc_core::users::Accounts as _;
use std::time::Duration;

use kyc_core::config::{AuthMode, Config, Loaded};
use kyc_server::Running;
use kyc_sim::{Scenario, Today};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

pub struct Desk {
    pub running: Running,
    pub http: reqwest::Client,
    pub token: String,
    pub dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

pub fn today() -> Today {
    let (year, month, day) = kyc_store::timefmt::today();
    Today { year, month, day }
}

pub fn submission(scenario: Scenario, index: u64) -> kyc_sim::Submission {
    kyc_sim::generate(scenario, index, 0x5eed_0000 + index, &today())
}

pub async fn start(tune: impl FnOnce(&mut Config)) -> Desk {
    let tmp = tempfile::tempdir().unwrap();
    let mut desk = start_in(tmp.path(), tune).await;
    desk._tmp = Some(tmp);
    desk
}

/// A desk with no account at all (a first start); `token` is empty.
pub async fn start_bare(tune: impl FnOnce(&mut Config)) -> Desk {
    let tmp = tempfile::tempdir().unwrap();
    let mut desk = launch(tmp.path(), tune).await;
    desk._tmp = Some(tmp);
    desk
}

/// The test config (auth none, no encryption, both listeners on loopback port 0), tuned.
fn test_config(dir: &std::path::Path, tune: impl FnOnce(&mut Config)) -> Loaded {
    let mut config = Config::first_start();
    config.receiver.auth.mode = AuthMode::None;
    config.receiver.request_encryption = Default::default();
    config.receiver.response_encryption = Default::default();
    config.receiver.listen = "127.0.0.1:0".parse().unwrap();
    config.review.listen = "127.0.0.1:0".parse().unwrap();
    config.decision.hold_secs = 30;
    tune(&mut config);
    config.validate().unwrap();
    Loaded {
        config,
        path: dir.join("kyc-desk.toml"),
        data_dir: dir.to_path_buf(),
        created: false,
    }
}

/// Starts the services on `dir` with no sign-in.
async fn launch(dir: &std::path::Path, tune: impl FnOnce(&mut Config)) -> Desk {
    let running = kyc_server::start(&test_config(dir, tune), None)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&running.tls.cert_pem).unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    Desk {
        running,
        http,
        token: String::new(),
        dir: dir.to_path_buf(),
        _tmp: None,
    }
}

/// Starts on a given data dir (a restart reuses it); the reviewer account is created if missing.
pub async fn start_in(dir: &std::path::Path, tune: impl FnOnce(&mut Config)) -> Desk {
    let mut desk = launch(dir, tune).await;
    for (name, role) in [
        ("rita", kyc_core::users::Role::Reviewer),
        ("ada", kyc_core::users::Role::Admin),
    ] {
        match desk.running.desk.store().add_user(name, role, PASSWORD) {
            Ok(_) | Err(kyc_core::CoreError::UserExists(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let login: Value = desk
        .http
        .post(desk.review("/api/login"))
        .json(&json!({"username": "rita", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    desk.token = login["token"].as_str().unwrap().to_string();
    desk
}

impl Desk {
    pub async fn login(&self, name: &str) -> String {
        let v: Value = self
            .http
            .post(self.review("/api/login"))
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// Posts a payload as Ditto ID would and keeps waiting for the (held) answer in the background.
    pub fn post_in_background(&self, payload: &Value) -> tokio::task::JoinHandle<Value> {
        let (http, url, payload) = (self.http.clone(), self.receiver(), payload.clone());
        tokio::spawn(async move {
            let resp = http.post(url).json(&payload).send().await.unwrap();
            resp.json::<Value>().await.unwrap()
        })
    }

    pub async fn stop(self) {
        self.running.shutdown(Duration::from_secs(1)).await;
    }

    pub fn receiver(&self) -> String {
        format!("https://{}/kyc", self.running.receiver_addr)
    }

    pub fn review(&self, path: &str) -> String {
        format!("{}{path}", self.running.review_url())
    }

    pub async fn post_raw(&self, body: Vec<u8>, content_type: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(self.receiver())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, payload: &Value) -> (u16, Value) {
        self.post_raw(serde_json::to_vec(payload).unwrap(), "application/json")
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(&self.token, path).await
    }

    /// GETs JSON from the review API with another user's token.
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.review(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A decision as rita. One the test gives no comment gets "checked by the test": the desk
    /// wants a comment on approving error findings and on the reason "other"
    /// (`policy.rs::overrides_and_the_reason_other_need_a_comment` sends none on purpose).
    pub async fn decide(&self, id: i64, mut body: Value) -> (u16, Value) {
        if body.get("comment").is_none() {
            body["comment"] = json!("checked by the test");
        }
        self.post_as(&self.token, &format!("/api/cases/{id}/decision"), body)
            .await
    }

    /// POSTs JSON to the review API with another user's token.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.review(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// GETs raw bytes (images, reports) from the review API.
    pub async fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self
            .http
            .get(self.review(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    /// Waits until the case with this requester_id is listed, returning its summary.
    pub async fn wait_for_case(&self, requester_id: &str) -> Value {
        for _ in 0..200 {
            let (status, page) = self
                .get(&format!(
                    "/api/cases?status=all&requester_id={requester_id}"
                ))
                .await;
            assert_eq!(status, 200, "{page}");
            if let Some(c) = page["cases"].as_array().and_then(|a| a.first()) {
                return c.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("case {requester_id} never appeared");
    }

    /// Creates an account with the harness's password (straight in the store, as `user add` does).
    pub fn add_account(&self, name: &str, role: kyc_core::users::Role) {
        self.running
            .desk
            .store()
            .add_user(name, role, PASSWORD)
            .unwrap();
    }

    pub fn count(&self) -> i64 {
        self.running.desk.store().count().unwrap()
    }
}
