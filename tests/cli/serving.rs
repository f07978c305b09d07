//! `serve` and `simulate`: config errors, the first start, Ditto ID played against the server in
//! each of its security set-ups, and a SIGKILL in the middle of a stream of posts.

use super::*;

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
    let (year, month, day) = kyc_store::timefmt::today();
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
    let token = sign_in(&http, &review, "auditor1", "password for the crash test").await;
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

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_desk_takes_no_new_submission_and_answers_the_ones_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    // The fallback rejects: an approval in an answer can only be the reviewer's.
    let config = write_config(
        dir.path(),
        "[decision]\nhold_secs = 20\non_timeout = \"reject\"\n",
    );
    add_user(&config, "ada", "password of the drain");
    let mut server = serve(&config);
    let http = client(&dir.path().join("data"));
    let review = format!("http://{}", server.review);
    let token = sign_in(&http, &review, "ada", "password of the drain").await;
    let (decided, waited) = (body(1), body(2));
    let first = tokio::spawn(post(&http, &server, &decided).send());
    let second = tokio::spawn(post(&http, &server, &waited).send());
    let id = wait_for_case(&http, &review, &token, requester_id(&decided)).await;
    wait_for_case(&http, &review, &token, requester_id(&waited)).await;

    terminate(&server);
    // The receiver's port closes at once (a load balancer's check sends Ditto ID elsewhere)...
    refused(server.receiver).await;
    // ...while the desk goes on: its review desk serves, and a decision there is the answer.
    assert!(server.child.try_wait().unwrap().is_none(), "serve ended");
    decide(&http, &review, &token, id, true).await;
    let (answer, by) = answer_and_by(first.await.unwrap().unwrap()).await;
    assert_eq!(
        (answer["result"].as_bool(), by.as_str()),
        (Some(true), "reviewer"),
        "{answer}"
    );
    // The other is answered by the fallback when its window closes; then the desk ends.
    let (answer, by) = answer_and_by(second.await.unwrap().unwrap()).await;
    assert_eq!(
        (answer["result"].as_bool(), by.as_str()),
        (Some(false), "timeout"),
        "{answer}"
    );
    let status = ended(&mut server, Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_ends_the_desk_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[decision]\nhold_secs = 300\n");
    add_user(&config, "ada", "password of the drain");
    let mut server = serve(&config);
    let http = client(&dir.path().join("data"));
    let review = format!("http://{}", server.review);
    let token = sign_in(&http, &review, "ada", "password of the drain").await;
    let payload = body(1);
    let held = tokio::spawn(post(&http, &server, &payload).send());
    wait_for_case(&http, &review, &token, requester_id(&payload)).await;

    terminate(&server);
    refused(server.receiver).await;
    // Past the few seconds a stop used to give: it still waits on the held request.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(server.child.try_wait().unwrap().is_none(), "serve ended");
    terminate(&server);
    // Well before the 300 s window: the held request is cut.
    let status = ended(&mut server, Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    assert!(
        held.await.unwrap().is_err(),
        "the held request was answered"
    );
}
