//! Accounts and doors: the account commands against a running server, the one-time setup code,
//! private data files, a sign-in flood bounded in memory and on disk, and plain HTTP refused off
//! loopback unless opted in.

use super::*;

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
    let token = sign_in(&http, &review, "rita", STRONG).await;
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
    // The image files sit in folders by id range: every folder 0700, every file 0600.
    let (mut folders, mut files) = (vec![data.join("images")], 0);
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                folders.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert_eq!(files, 1, "one case, one file");
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
