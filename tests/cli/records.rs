//! What the command line keeps and proves: the Ditto ID config round trip, backup and restore, the
//! audit trail's verification against edits and cut tails, and a passphrase master key.

use super::*;

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
