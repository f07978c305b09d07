//! End-to-end tests of the real `kyc-desk` binary, one test binary: the harness here (config
//! files, running the binary, `serve` and `simulate` as child processes); the tests by concern in
//! `serving`, `records` and `accounts`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kyc-desk");

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("kyc-desk.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"data\"\n{extra}\n[receiver]\nlisten = \"127.0.0.1:0\"\n[receiver.auth]\nmode = \"bearer\"\n\
             token = \"{TOKEN}\"\n[review]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .unwrap();
    path
}

/// Writes a whole config: first-start defaults (OAuth2, AES both ways) on port 0, tuned.
fn write_full_config(dir: &Path, tune: impl FnOnce(&mut kyc_core::config::Config)) -> PathBuf {
    let mut c = kyc_core::config::Config::first_start();
    c.data_dir = Some("data".into());
    c.receiver.listen = "127.0.0.1:0".parse().unwrap();
    c.review.listen = "127.0.0.1:0".parse().unwrap();
    tune(&mut c);
    let path = dir.join("kyc-desk.toml");
    std::fs::write(&path, toml::to_string_pretty(&c).unwrap()).unwrap();
    path
}

fn kyc(config: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config").arg(config).env("RUST_LOG", "warn");
    c
}

fn add_user(config: &Path, name: &str, password: &str) {
    let mut child = kyc(config)
        .args(["user", "add", name, "--role", "admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created admin account"));
}

struct Server {
    child: Child,
    receiver: SocketAddr,
    review: SocketAddr,
}

impl Drop for Server {
    /// A test that fails part-way leaves no server running (killing one already stopped is a
    /// no-op).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path) -> Server {
    let mut child = kyc(config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut receiver, mut review) = (None, None);
    while receiver.is_none() || review.is_none() {
        let line = lines.next().expect("serve exited early").unwrap();
        if let Some(a) = line.strip_prefix("receiver listening on ") {
            receiver = Some(a.trim().parse().unwrap());
        }
        if let Some(a) = line.strip_prefix("review listening on ") {
            review = Some(a.trim().parse().unwrap());
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        receiver: receiver.unwrap(),
        review: review.unwrap(),
    }
}

/// Runs `kyc-desk simulate` against a running server; asserts it succeeded and returns its output.
fn simulate(config: &Path, server: &Server, count: u32, scenario: &str, seed: u64) -> String {
    let out = kyc(config)
        .args([
            "simulate",
            "--count",
            &count.to_string(),
            "--scenario",
            scenario,
            "--seed",
            &seed.to_string(),
        ])
        .arg("--url")
        .arg(format!("https://{}/kyc", server.receiver))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Stops `server` as a service manager does (SIGTERM).
#[cfg(unix)]
fn terminate(server: &Server) {
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success(), "kill -TERM {pid}");
}

/// Waits until nothing takes a TCP connection at `addr` any more; fails the test after 10 s.
#[cfg(unix)]
async fn refused(addr: SocketAddr) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{addr} still takes connections");
}

/// Waits for `server`'s process to end (within `limit`, or the test fails); how it ended.
#[cfg(unix)]
async fn ended(server: &mut Server, limit: Duration) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "serve still runs after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ditto ID's answer to a post, and who gave it (`reviewer`, `auto` or `timeout`: the receiver's
/// header for tools).
async fn answer_and_by(response: reqwest::Response) -> (Value, String) {
    let by = response
        .headers()
        .get(kyc_server::receiver::ANSWERED_BY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (response.json().await.unwrap(), by)
}

/// A payload's requester id.
fn requester_id(payload: &Value) -> &str {
    payload["request_info"]["requester_id"].as_str().unwrap()
}

/// A request's JSON answer (any failure to get one fails the test).
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Signs in on the review API at `review` (`http://host:port`); returns the session token.
async fn sign_in(http: &reqwest::Client, review: &str, name: &str, password: &str) -> String {
    let login = json_of(
        http.post(format!("{review}/api/login"))
            .json(&json!({"username": name, "password": password})),
    )
    .await;
    match login["token"].as_str() {
        Some(t) => t.to_string(),
        None => panic!("{name} not signed in on {review}: {login}"),
    }
}

fn client(data_dir: &Path) -> reqwest::Client {
    let pem = std::fs::read(data_dir.join("tls-cert.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The receiver's bearer token in [`write_config`]'s configs.
const TOKEN: &str = "test-token-0123456789abcdef";

/// A clean submission, the `i`th of the simulator's sequence, dated today.
fn body(i: u64) -> Value {
    let (year, month, day) = kyc_store::timefmt::today();
    let today = kyc_sim::Today { year, month, day };
    kyc_sim::generate_with(
        kyc_sim::Scenario::Clean,
        i,
        42,
        &today,
        kyc_sim::Pictures::Placeholders,
    )
    .payload
}

/// Polls `review`'s queue until the case with this requester id shows; returns its id.
async fn wait_for_case(http: &reqwest::Client, review: &str, token: &str, rid: &str) -> i64 {
    for _ in 0..100 {
        let page: Value = json_of(
            http.get(format!("{review}/api/cases?status=all"))
                .bearer_auth(token),
        )
        .await;
        if let Some(c) = page["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["requester_id"] == rid)
        {
            return c["id"].as_i64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{rid} never showed on {review}");
}

/// Decides case `id` through `review`'s API, as a reviewer does.
async fn decide(http: &reqwest::Client, review: &str, token: &str, id: i64, approve: bool) {
    let resp = http
        .post(format!("{review}/api/cases/{id}/decision"))
        .bearer_auth(token)
        .json(&json!({
            "decision": if approve { "approve" } else { "reject" },
            "reasons": if approve { json!([]) } else { json!(["document_expired"]) },
            // Placeholder pictures repeat: a reused-selfie finding needs a comment.
            "comment": "checked with the sender",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

/// A post of `payload` to `server`'s receiver, as Ditto ID sends it.
fn post(http: &reqwest::Client, server: &Server, payload: &Value) -> reqwest::RequestBuilder {
    http.post(format!("https://{}/kyc", server.receiver))
        .bearer_auth(TOKEN)
        .json(payload)
}

mod accounts;
mod instances;
mod records;
mod serving;
