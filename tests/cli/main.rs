//! End-to-end tests of the real `kyc-desk` binary: config errors, `user add`, `serve` + `simulate`,
//! and a SIGKILL in the middle of a stream of posts followed by a restart on the same data dir.

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
             token = \"test-token-0123456789abcdef\"\n[review]\nlisten = \"127.0.0.1:0\"\n"
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

fn client(data_dir: &Path) -> reqwest::Client {
    let pem = std::fs::read(data_dir.join("tls-cert.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn a_wrong_config_key_stops_the_program_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[decision]\non_timeout = \"perhaps\"\n").unwrap();
    let out = kyc(&path).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("decision.on_timeout"), "{err}");

    std::fs::write(&path, "[receiver]\nmax_body_mb = 0\n").unwrap();
    let out = kyc(&path).arg("serve").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("receiver.max_body_mb"));
}

#[test]
fn first_start_writes_a_config_and_a_certificate_reused_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fresh/kyc-desk.toml");
    // `user add` is a first start too: it writes the config with defaults.
    let mut c = kyc(&config);
    c.env("XDG_DATA_HOME", dir.path().join("xdg"));
    let mut child = c
        .args([
            "user",
            "add",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "a long enough password").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("mode = \"oauth2\""), "{text}");
    // Fails closed, and says why in the file.
    assert!(text.contains("on_timeout = \"reject\""), "{text}");
    assert!(
        text.contains(kyc_core::config::ON_TIMEOUT_COMMENT),
        "{text}"
    );
    // The written config holds a random token and parses back.
    kyc_core::config::parse(&text).unwrap();

    // Two starts on one data dir print the same certificate fingerprint.
    let fixed = write_config(dir.path(), "");
    let fingerprints: Vec<String> = (0..2)
        .map(|_| {
            let mut s = serve(&fixed);
            let fp = kyc_server::tls::fingerprint(&{
                use rustls::pki_types::pem::PemObject;
                rustls::pki_types::CertificateDer::from_pem_file(
                    dir.path().join("data/tls-cert.pem"),
                )
                .unwrap()
                .to_vec()
            });
            s.child.kill().unwrap();
            s.child.wait().unwrap();
            fp
        })
        .collect();
    assert_eq!(fingerprints[0], fingerprints[1]);
}

#[test]
fn simulate_plays_ditto_id_against_serve() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[decision]\nhold_secs = 1\non_timeout = \"accept\"\n",
    );
    let mut server = serve(&config);
    let stdout = simulate(&config, &server, 4, "mixed", 7);
    assert_eq!(stdout.matches("-> HTTP 200").count(), 4, "{stdout}");
    for scenario in ["clean", "expired", "mismatch", "tampered"] {
        assert!(stdout.contains(scenario), "{stdout}");
    }
    assert!(stdout.contains("reference_number=KYC-"), "{stdout}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// 1,000 distinct submissions: 40 simulated people (all scenarios, real images) with fresh ids.
fn crash_load(today: &kyc_sim::Today) -> Vec<(String, Value)> {
    let people: Vec<kyc_sim::Submission> = (0..40)
        .map(|i| kyc_sim::generate(kyc_sim::Scenario::Mixed, i, 99, today))
        .collect();
    (0..1000)
        .map(|i| {
            let p = &people[i % people.len()];
            let rid = format!("c0ffee00-0000-4000-8000-{i:012x}");
            let text = p
                .payload
                .to_string()
                .replace(&p.requester_id, &rid)
                .replace(&p.user_id, &format!("load-{i}@example.com"));
            (rid, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_1000_submission_load_loses_no_answered_submission() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[decision]\nhold_secs = 0\n");
    add_user(&config, "auditor1", "password for the crash test");
    let server = serve(&config);
    let http = client(&dir.path().join("data"));
    let url = format!("https://{}/kyc", server.receiver);
    let (year, month, day) = kyc_core::timefmt::today();
    let today = kyc_sim::Today { year, month, day };
    let subs = Arc::new(crash_load(&today));
    let answered: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let server = Arc::new(Mutex::new(server));

    // Eight senders post in a loop; the server is killed (SIGKILL) once 400 answers are in.
    let mut senders = Vec::new();
    for lane in 0..8 {
        let (http, url, answered, server, subs) = (
            http.clone(),
            url.clone(),
            answered.clone(),
            server.clone(),
            subs.clone(),
        );
        senders.push(tokio::spawn(async move {
            for (rid, payload) in subs.iter().skip(lane).step_by(8) {
                let resp = http
                    .post(&url)
                    .bearer_auth("test-token-0123456789abcdef")
                    .json(payload)
                    .send()
                    .await;
                let Ok(resp) = resp else { return };
                let Ok(body) = resp.json::<Value>().await else {
                    return;
                };
                let mut a = answered.lock().unwrap();
                a.push((rid.clone(), body));
                if a.len() == 400 {
                    server.lock().unwrap().child.kill().unwrap(); // SIGKILL on Unix
                }
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    server.lock().unwrap().child.wait().unwrap();
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 400 && answered.len() < subs.len(),
        "killed mid-load: {}",
        answered.len()
    );

    // Restart on the same data dir: every answered submission is there, whole.
    let mut restarted = serve(&config);
    let review = format!("http://{}", restarted.review);
    let login: Value = http
        .post(format!("{review}/api/login"))
        .json(&json!({"username": "auditor1", "password": "password for the crash test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let get = |path: String| {
        let (http, token, review) = (http.clone(), token.clone(), review.clone());
        async move {
            let resp = http
                .get(format!("{review}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{path}");
            resp.json::<Value>().await.unwrap()
        }
    };
    // Every stored case, page by page.
    let mut stored = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(format!("/api/cases?status=all&limit=500{cursor}")).await;
        stored.extend(page["cases"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    for (requester_id, answer) in &answered {
        let case = stored
            .iter()
            .find(|c| c["requester_id"] == requester_id.as_str())
            .unwrap_or_else(|| panic!("answered {requester_id} is not stored"));
        assert_eq!(
            case["reference"], answer["reference_number"],
            "{requester_id}"
        );
        assert_eq!(case["answer"]["result"], answer["result"]);
    }
    // Nothing half-written: every stored case opens (its sealed data decrypts) with all the
    // images its submission carried, byte for byte.
    assert!(stored.len() >= answered.len());
    for case in &stored {
        let (_, payload) = subs
            .iter()
            .find(|(rid, _)| case["requester_id"] == rid.as_str())
            .unwrap();
        let detail = get(format!("/api/cases/{}", case["id"])).await;
        let body = kyc_core::ingest::OpenedBody::plain(serde_json::to_vec(payload).unwrap());
        let expected = kyc_core::ingest::open(&body).unwrap().images;
        let images = detail["images"].as_array().unwrap();
        assert_eq!(images.len(), expected.len(), "{}", case["reference"]);
        let first = &expected[0];
        let resp = http
            .get(format!(
                "{review}/api/cases/{}/images/{}",
                case["id"], first.name
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.bytes().await.unwrap().as_ref(), first.bytes.as_slice());
    }
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

#[test]
fn simulate_speaks_oauth2_and_aes_both_ways_with_first_start_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_full_config(dir.path(), |c| {
        c.decision.hold_secs = 0;
        c.decision.on_timeout = kyc_core::config::OnTimeout::Accept;
    });
    let mut server = serve(&config);
    let stdout = simulate(&config, &server, 3, "clean", 11);
    assert!(stdout.contains("auth Oauth2, encrypted"), "{stdout}");
    assert_eq!(stdout.matches("-> HTTP 200").count(), 3, "{stdout}");
    assert_eq!(stdout.matches("result=true").count(), 3, "{stdout}");
    // simulate says when the answer was the timeout fallback, not a decision.
    assert_eq!(stdout.matches("[timeout fallback").count(), 3, "{stdout}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn simulate_sends_a_secret_in_a_header_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_full_config(dir.path(), |c| {
        c.decision.hold_secs = 0;
        c.receiver.auth.mode = kyc_core::config::AuthMode::Header;
        c.receiver.auth.header_name = Some("x-api-key".into());
        c.receiver.auth.header_value = Some("k3y-0123456789abcdef".into());
    });
    let mut server = serve(&config);
    let stdout = simulate(&config, &server, 1, "clean", 12);
    assert_eq!(stdout.matches("-> HTTP 200").count(), 1, "{stdout}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[test]
fn simulate_fills_a_custom_template_and_reads_shaped_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_full_config(dir.path(), |c| {
        c.decision.hold_secs = 0;
        c.decision.on_timeout = kyc_core::config::OnTimeout::Reject;
        for (k, v) in [
            ("user_id", "/user"),
            ("name", "/name"),
            ("date_of_birth", "/dob"),
            ("document_number", "/documentNumber"),
        ] {
            c.receiver.mapping.insert(k.into(), v.into());
        }
        c.receiver.answer.result = "kyc.ok".into();
        c.receiver.answer.reference_number = "kyc.ref".into();
    });
    let mut server = serve(&config);
    let stdout = simulate(&config, &server, 2, "clean", 12);
    assert!(stdout.contains("custom body"), "{stdout}");
    assert_eq!(
        stdout.matches("result=false reference_number=KYC-").count(),
        2,
        "{stdout}"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

fn receiver_of(path: &Path) -> kyc_core::config::ReceiverConfig {
    kyc_core::config::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .receiver
}

#[test]
fn ditto_config_then_import_reproduces_the_receiver_config() {
    let dir = tempfile::tempdir().unwrap();
    type Tune = Box<dyn Fn(&mut kyc_core::config::Config)>;
    let variants: Vec<(&str, Tune)> = vec![
        (
            "text",
            Box::new(|c| {
                c.receiver.public_url = Some("https://kyc.example.com:9005".into());
                c.receiver.listen = "0.0.0.0:9005".parse().unwrap();
                c.receiver.answer.status_message = "status.message".into();
                c.receiver
                    .mapping
                    .insert("user_id".into(), "/user/id".into());
                c.receiver
                    .mapping
                    .insert("document_number".into(), "/documentNumber".into());
            }),
        ),
        (
            "base64",
            Box::new(|c| {
                c.receiver.public_url = Some("https://kyc.example.com:9005".into());
                c.receiver.listen = "0.0.0.0:9005".parse().unwrap();
                c.receiver.request_encryption.cipher_spec = "AES/GCM/NoPadding".into();
                c.receiver.request_encryption.key =
                    Some("base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
                c.receiver.request_encryption.iv = Some("base64:AAECAwQFBgcICQoL".into());
                c.receiver.response_encryption.key = Some("base64:AAECAwQFBgcICQoLDA0ODw==".into());
                c.receiver.response_encryption.iv = Some("base64:AAECAwQFBgcICQoLDA0ODw==".into());
            }),
        ),
        (
            "text",
            Box::new(|c| {
                c.receiver.public_url = Some("https://10.0.0.5:8443".into());
                c.receiver.listen = "0.0.0.0:8443".parse().unwrap();
                c.receiver.path = "/ditto/kyc".into();
                c.receiver.auth.mode = kyc_core::config::AuthMode::Basic;
                c.receiver.auth.username = Some("ditto".into());
                c.receiver.auth.password = Some("pass:with:colons".into());
                (c.receiver.auth.client_id, c.receiver.auth.client_secret) = (None, None);
                c.receiver.response_encryption.enable = false;
            }),
        ),
    ];
    for (i, (encoding, tune)) in variants.into_iter().enumerate() {
        let sub = dir.path().join(format!("v{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        let original = write_full_config(&sub, |c| tune(c));
        let out = kyc(&original).arg("ditto-config").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exported = sub.join("ditto.json");
        std::fs::write(&exported, &out.stdout).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            json["url"].as_str().unwrap().starts_with("https://"),
            "{json}"
        );

        // Import into a fresh config (defaults of its own), then compare the receiver sections.
        let fresh = sub.join("imported.toml");
        let out = kyc(&fresh)
            .args(["ditto-config", "--key-encoding", encoding, "--import"])
            .arg(&exported)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (a, mut b) = (receiver_of(&original), receiver_of(&fresh));
        // What Ditto ID's config does not carry keeps the importing side's own values.
        b.listen.set_ip(a.listen.ip());
        b.auth.clients = a.auth.clients.clone();
        b.auth.token_ttl_secs = a.auth.token_ttl_secs;
        if !a.request_encryption.enable {
            b.request_encryption = a.request_encryption.clone();
        }
        if !a.response_encryption.enable {
            b.response_encryption = a.response_encryption.clone();
        }
        assert_eq!(a, b, "variant {i}");
    }
}

#[test]
fn backup_while_serving_then_restore_elsewhere_and_a_damaged_backup_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[decision]\nhold_secs = 0\n");
    let mut server = serve(&config);
    simulate(&config, &server, 5, "clean", 31);
    // The backup runs while another 20 submissions arrive.
    let backup = dir.path().join("backup");
    let load = {
        let url = format!("https://{}/kyc", server.receiver);
        let config = config.clone();
        std::thread::spawn(move || {
            kyc(&config)
                .args([
                    "simulate",
                    "--count",
                    "20",
                    "--scenario",
                    "clean",
                    "--seed",
                    "32",
                ])
                .arg("--url")
                .arg(url)
                .output()
                .unwrap()
        })
    };
    let out = kyc(&config)
        .arg("backup")
        .arg("--output")
        .arg(&backup)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Backup written") && text.contains("master key is not in it"),
        "{text}"
    );
    assert!(load.join().unwrap().status.success());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(
        !backup.join("master.key").exists(),
        "the key never goes into a backup"
    );

    // Elsewhere: without the master key, the restore refuses before writing anything.
    let other = tempfile::tempdir().unwrap();
    let other_config = write_config(other.path(), "");
    let restore = |config: &Path, from: &Path| {
        kyc(config)
            .arg("restore")
            .arg("--from")
            .arg(from)
            .output()
            .unwrap()
    };
    let refused = restore(&other_config, &backup);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("master key file"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    std::fs::create_dir_all(other.path().join("data")).unwrap();
    std::fs::copy(
        dir.path().join("data/master.key"),
        other.path().join("data/master.key"),
    )
    .unwrap();
    let restored = restore(&other_config, &backup);
    let text = String::from_utf8_lossy(&restored.stdout).to_string();
    assert!(
        restored.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(text.contains("audit trail intact"), "{text}");
    let verify = kyc(&other_config)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(verify.status.success());

    // One flipped byte in the backup's database: refused, naming it.
    let db = backup.join("kyc-desk.sqlite3");
    let mut bytes = std::fs::read(&db).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&db, bytes).unwrap();
    let third = tempfile::tempdir().unwrap();
    let third_config = write_config(third.path(), "");
    std::fs::create_dir_all(third.path().join("data")).unwrap();
    std::fs::copy(
        dir.path().join("data/master.key"),
        third.path().join("data/master.key"),
    )
    .unwrap();
    let damaged = restore(&third_config, &backup);
    assert!(!damaged.status.success());
    let err = String::from_utf8_lossy(&damaged.stderr);
    assert!(err.contains("kyc-desk.sqlite3 is damaged"), "{err}");
    assert!(!third.path().join("data/kyc-desk.sqlite3").exists());
}

#[test]
fn a_tail_cut_after_the_shutdown_checkpoint_is_reported_by_audit_verify() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[decision]\nhold_secs = 0\n");
    let mut server = serve(&config);
    simulate(&config, &server, 3, "clean", 41);
    // A graceful stop (SIGTERM, as systemd stops the service; Ctrl-C alike) signs the chain's
    // head as its last word.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.child.wait().unwrap().success());
    let checkpoints = dir.path().join("data/audit-checkpoints/checkpoints.jsonl");
    let lines = std::fs::read_to_string(&checkpoints).unwrap();
    let last: Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    let verify = || kyc(&config).args(["audit", "verify"]).output().unwrap();
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("signed checkpoints"));

    // Someone with the database file cuts the newest entries: the chain alone would still hold.
    let c = rusqlite::Connection::open(dir.path().join("data/kyc-desk.sqlite3")).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
    c.execute(
        "DELETE FROM audit WHERE id > ?1",
        [last["entry_id"].as_i64().unwrap() - 2],
    )
    .unwrap();
    drop(c);
    let cut = verify();
    assert!(!cut.status.success());
    let err = String::from_utf8_lossy(&cut.stderr);
    assert!(
        err.contains(&format!("broken at entry {}", last["entry_id"]))
            && err.contains("checkpoints.jsonl")
            && err.contains("cut or rewritten"),
        "{err}"
    );
}

#[test]
fn audit_verify_finds_an_entry_edited_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[decision]\nhold_secs = 0\n");
    add_user(&config, "auditor1", "a long enough password");
    let mut server = serve(&config);
    simulate(&config, &server, 3, "mixed", 21);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let verify = || kyc(&config).args(["audit", "verify"]).output().unwrap();
    let ok = verify();
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{text}");
    // user.created + 3 x (received, answered): at least 7 entries.
    let n: u64 = text
        .trim()
        .rsplit(": ")
        .next()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 7, "{text}");

    // Someone with the file rewrites history: drops the guard trigger and edits entry 2.
    let db = dir.path().join("data/kyc-desk.sqlite3");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'nobody' WHERE id = 2;",
    )
    .unwrap();
    drop(c);
    let broken = verify();
    assert!(!broken.status.success());
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("broken at entry 2"), "{err}");
}

#[test]
fn a_passphrase_master_key_comes_from_the_environment_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[storage]\nkey_source = \"passphrase\"\n");
    let user_add = |passphrase: Option<&str>, name: &str| {
        let mut cmd = kyc(&config);
        cmd.args(["user", "add", name, "--role", "admin", "--password-stdin"])
            .env_remove("KYC_DESK_PASSPHRASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = passphrase {
            cmd.env("KYC_DESK_PASSPHRASE", p);
        }
        let mut child = cmd.spawn().unwrap();
        writeln!(child.stdin.take().unwrap(), "a long enough password").unwrap();
        child.wait_with_output().unwrap()
    };
    let first = user_add(Some("a passphrase of some length"), "ada");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        !dir.path().join("data/master.key").exists(),
        "no key file in passphrase mode"
    );
    assert!(dir.path().join("data/kyc-desk.sqlite3").exists());
    let wrong = user_add(Some("another passphrase entirely"), "bob");
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("wrong passphrase or key file"), "{err}");
    // No terminal to ask on and no variable: a message naming the variable.
    let none = user_add(None, "bob");
    assert!(!none.status.success());
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("KYC_DESK_PASSPHRASE"), "{err}");
    let again = user_add(Some("a passphrase of some length"), "bob");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Runs `kyc-desk ARGS` with `stdin` on standard input; returns (success, stdout, stderr).
fn run_with_stdin(config: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = kyc(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{stdin}").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const STRONG: &str = "Quiet-Harbor-Lantern-47";

#[tokio::test]
async fn account_commands_manage_the_lifecycle_and_revoke_a_running_servers_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    add_user(&config, "boss", STRONG);
    let add_rita = |password: &str| {
        run_with_stdin(
            &config,
            &[
                "user",
                "add",
                "rita",
                "--role",
                "reviewer",
                "--password-stdin",
            ],
            password,
        )
    };
    let (ok, _, err) = add_rita("password1234");
    assert!(
        !ok && err.contains("password:"),
        "a weak password is refused: {err}"
    );
    let (ok, _, err) = add_rita(STRONG);
    assert!(ok, "{err}");

    // A session of rita's on the running server ends when the CLI disables her.
    let server = serve(&config);
    let http = client(&dir.path().join("data"));
    let review = format!("http://{}", server.review);
    let login: Value = http
        .post(format!("{review}/api/login"))
        .json(&json!({"username": "rita", "password": STRONG}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let me = |token: String| {
        let req = http.get(format!("{review}/api/me")).bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(token.clone()).await, 200);
    let cmd = |args: &[&str]| run_with_stdin(&config, args, "");
    let (ok, out, err) = cmd(&["user", "disable", "rita"]);
    assert!(ok && out.contains("rita disabled"), "{out}{err}");
    assert_eq!(me(token).await, 401, "revoked at once, across processes");

    let (ok, out, _) = cmd(&["user", "list"]);
    assert!(ok);
    let line = |out: &str, name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    assert!(line(&out, "rita").contains("disabled"), "{out}");
    assert!(
        !line(&out, "rita").ends_with("never"),
        "she signed in: {out}"
    );
    assert!(
        line(&out, "boss").contains("admin") && line(&out, "boss").ends_with("never"),
        "{out}"
    );

    assert!(cmd(&["user", "enable", "rita"]).0);
    let (ok, out, _) = cmd(&["user", "set-role", "rita", "supervisor"]);
    assert!(ok && out.contains("now supervisor"), "{out}");
    let (ok, _, err) = run_with_stdin(
        &config,
        &["user", "reset-password", "rita", "--password-stdin"],
        "Temporary-Walrus-Signal-88",
    );
    assert!(ok, "{err}");
    let (_, out, _) = cmd(&["user", "list"]);
    assert!(
        line(&out, "rita").contains("supervisor")
            && line(&out, "rita").contains("must change password"),
        "{out}"
    );

    // The last admin stays; an unknown name is named.
    let (ok, _, err) = cmd(&["user", "disable", "boss"]);
    assert!(!ok && err.contains("no enabled admin"), "{err}");
    let (ok, _, err) = cmd(&["user", "set-role", "nobody", "admin"]);
    assert!(!ok && err.contains("nobody"), "{err}");
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test]
async fn serve_prints_the_setup_code_that_alone_creates_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut child = kyc(&config)
        .arg("serve")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut review, mut code) = (None::<SocketAddr>, None::<String>);
    while code.is_none() {
        let line = lines.next().expect("serve exited early").unwrap();
        if let Some(a) = line.strip_prefix("review listening on ") {
            review = Some(a.trim().parse().unwrap());
        }
        if let Some(c) = line.trim().strip_prefix("Setup code:") {
            code = Some(c.trim().to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let (review, code) = (review.unwrap(), code.unwrap());
    assert_eq!(code.len(), 34, "{code}");
    // The log says it too, with the address to open.
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let wanted = format!("open http://{review} and enter the setup code {code}");
    let line = log
        .find(|l| l.as_ref().is_ok_and(|l| l.contains("setup code")))
        .unwrap()
        .unwrap();
    assert!(line.contains(&wanted), "{line}");
    std::thread::spawn(move || for _ in log {});

    let http = reqwest::Client::new();
    let setup = |body: Value| {
        let req = http.post(format!("http://{review}/api/setup")).json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        setup(json!({"setup_code": "WRONG", "username": "x", "password": STRONG})).await,
        403
    );
    assert_eq!(
        setup(json!({"setup_code": code, "username": "owner", "password": STRONG})).await,
        200
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // A restart with an account prints no code.
    let mut again = kyc(&config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(again.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(l)) = out.next() {
        let done = l.trim_start().starts_with("Data:");
        seen.push(l);
        if done {
            break;
        }
    }
    assert!(!seen.iter().any(|l| l.contains("Setup code")), "{seen:?}");
    again.kill().unwrap();
    again.wait().unwrap();
}

#[cfg(unix)]
#[test]
fn the_data_dir_and_every_data_file_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A data dir left readable by an older version is tightened.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = write_config(dir.path(), "[decision]\nhold_secs = 0\n");
    let mut server = serve(&config);
    simulate(&config, &server, 1, "clean", 3);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("images")), 0o700);
    for name in [
        "kyc-desk.sqlite3",
        "kyc-desk.sqlite3-wal",
        "kyc-desk.sqlite3-shm",
        "master.key",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    let images: Vec<_> = std::fs::read_dir(data.join("images")).unwrap().collect();
    assert!(!images.is_empty());
    for f in images {
        assert_eq!(mode(&f.unwrap().path()), 0o600);
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Resident memory of a process, in KiB (Linux).
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn db_bytes(data: &Path) -> u64 {
    ["kyc-desk.sqlite3", "kyc-desk.sqlite3-wal"]
        .iter()
        .map(|f| std::fs::metadata(data.join(f)).map_or(0, |m| m.len()))
        .sum()
}

/// 10,000 failed sign-ins with 10 KiB names, then 2,000 with short ones: every answer is 4xx,
/// the server's memory grows < 50 MB and the database < 1 MB.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_is_bounded_in_memory_and_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    add_user(&config, "boss", STRONG);
    let mut server = serve(&config);
    let data = dir.path().join("data");
    let url = format!("http://{}/api/login", server.review);
    let http = reqwest::Client::new();
    // Warm up (first allocations, reader connections) before the baseline.
    for _ in 0..3 {
        http.post(&url)
            .json(&json!({"username": "boss", "password": STRONG}))
            .send()
            .await
            .unwrap();
    }
    let (rss0, db0) = (rss_kib(server.child.id()), db_bytes(&data));
    let long_name = "n".repeat(10 * 1024);
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, u32>::new()));
    let mut tasks = Vec::new();
    for worker in 0..16u32 {
        let (http, url, long_name, statuses) = (
            http.clone(),
            url.clone(),
            long_name.clone(),
            statuses.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..750u32 {
                let name = if i < 625 {
                    long_name.clone()
                } else {
                    format!("w{worker}-{i}")
                };
                let resp = http
                    .post(&url)
                    .json(&json!({"username": name, "password": "guess guess guess"}))
                    .send()
                    .await
                    .unwrap();
                *statuses
                    .lock()
                    .unwrap()
                    .entry(resp.status().as_u16())
                    .or_default() += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    assert_eq!(statuses.values().sum::<u32>(), 12_000);
    assert!(
        statuses.keys().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.get(&429).is_some_and(|n| *n > 1_500),
        "throttled: {statuses:?}"
    );
    let (rss1, db1) = (rss_kib(server.child.id()), db_bytes(&data));
    eprintln!("flood: {statuses:?}; RSS {rss0} -> {rss1} KiB; database {db0} -> {db1} bytes");
    assert!(rss1 < rss0 + 50 * 1024, "RSS {rss0} KiB -> {rss1} KiB");
    assert!(db1 < db0 + 1024 * 1024, "database {db0} -> {db1} bytes");
    // The real user still signs in (the flood came from this address; her name was not in it).
    let resp = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
        .post(&url)
        .json(&json!({"username": "boss", "password": STRONG}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Writes a config whose review listener is on `listen` with the `[review]` keys in `review`.
fn write_review_config(dir: &Path, listen: &str, review: &str) -> PathBuf {
    let path = dir.join("kyc-desk.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"data\"\n[receiver]\nlisten = \"127.0.0.1:0\"\n[review]\nlisten = \"{listen}\"\n{review}"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn serve_refuses_plain_http_on_a_network_address_unless_opted_in() {
    // 0.0.0.0 is reachable from every network this machine is on.
    let dir = tempfile::tempdir().unwrap();
    let config = write_review_config(dir.path(), "0.0.0.0:0", "tls = false\n");
    let out = kyc(&config).arg("serve").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("review.tls") && err.contains("allow_plain_http"),
        "{err}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "refused before anything was created"
    );

    // The opt-in starts, and the desk says it on every page, the sign-in too.
    let config = write_review_config(
        dir.path(),
        "0.0.0.0:0",
        "tls = false\nallow_plain_http = true\n",
    );
    let mut server = serve(&config);
    let setup: Value = reqwest::get(format!(
        "http://127.0.0.1:{}/api/setup",
        server.review.port()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(setup["plain_http_on_network"], true, "{setup}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // `tls = true` on loopback: HTTPS with the receiver's certificate, HSTS, no plain HTTP.
    let config = write_review_config(dir.path(), "127.0.0.1:0", "tls = true\n");
    let mut server = serve(&config);
    let resp = client(&dir.path().join("data"))
        .get(format!("https://{}/api/setup", server.review))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("strict-transport-security"));
    let setup: Value = resp.json().await.unwrap();
    assert_eq!(setup["plain_http_on_network"], false, "{setup}");
    assert!(reqwest::get(format!("http://{}/api/setup", server.review))
        .await
        .is_err_and(|e| !e.is_status()));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
