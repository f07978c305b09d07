//! Several `kyc-desk serve` instances on one PostgreSQL database (issue 18): a request held by one
//! is answered with a decision made on another, live events cross instances, and a killed
//! instance loses nothing it stored. Each test runs on a scratch database of the test server
//! (`KYC_DESK_TEST_PG`, started by scripts/test.sh).

use super::*;
use kyc_store::pg::ScratchDatabase;

/// Two instances' folders with the same master key on one scratch database, or None without a
/// test server.
struct Pair {
    a: PathBuf,
    b: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    db: Option<ScratchDatabase>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        // The driver is blocking: the database is dropped off the test's runtime.
        if let Some(db) = self.db.take() {
            std::thread::spawn(move || drop(db)).join().unwrap();
        }
    }
}

/// [`pair_now`] off the test's runtime (the driver is blocking).
async fn pair(extra: &str) -> Option<Pair> {
    let extra = extra.to_string();
    tokio::task::spawn_blocking(move || pair_now(&extra))
        .await
        .unwrap()
}

fn pair_now(extra: &str) -> Option<Pair> {
    let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
    let db = ScratchDatabase::create(&server).expect("a scratch database");
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let storage = format!("[storage]\nurl = \"{}\"\n", db.target.url);
    let a = write_config(dirs.0.path(), &format!("{extra}\n{storage}"));
    let b = write_config(dirs.1.path(), &format!("{extra}\n{storage}"));
    // Every instance has the same master key (the README's "keys shared").
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    for d in [dirs.0.path(), dirs.1.path()] {
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::write(d.join("data/master.key"), format!("{key}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(
                d.join("data/master.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
    }
    Some(Pair {
        a,
        b,
        _dirs: dirs,
        db: Some(db),
    })
}

/// Both instances serving on one database with `extra` config, the admin "ada" added, and a
/// client that trusts their certificate; None without a test server. Bind them in this order:
/// the servers stop (dropped) before the database goes.
async fn serving(extra: &str) -> Option<(Pair, Server, Server, reqwest::Client)> {
    let p = pair(extra).await?;
    add_user(&p.a, "ada", "password of the several");
    let (a, b) = (serve(&p.a), serve(&p.b));
    let http = client(&p.a.parent().unwrap().join("data"));
    Some((p, a, b, http))
}

/// Signs in as the admin every test here adds; returns the session token.
async fn sign_in_ada(http: &reqwest::Client, review: &str) -> String {
    sign_in(http, review, "ada", "password of the several").await
}

/// Ada signed in on `review`, and her live event stream there.
async fn live_view(http: &reqwest::Client, review: &str) -> (String, reqwest::Response) {
    let token = sign_in_ada(http, review).await;
    let events = http
        .get(format!("{review}/api/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    (token, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_held_on_one_instance_is_answered_by_a_decision_on_the_other() {
    // The fallback would accept: a rejection in the answer can only be B's reviewer's.
    let Some((p, a, b, http)) =
        serving("[decision]\nhold_secs = 60\non_timeout = \"accept\"\n").await
    else {
        return;
    };
    let http_b = client(&p.b.parent().unwrap().join("data"));
    let review_b = format!("http://{}", b.review);
    // A reviewer's live view on B.
    let (token, mut events) = live_view(&http, &review_b).await;

    let payload = body(1);
    let rid = requester_id(&payload).to_string();
    let started = std::time::Instant::now();
    let held = tokio::spawn(post(&http, &a, &payload).send());

    // B's live view hears of the case A received.
    let mut seen = String::new();
    let heard = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: case.created") && seen.contains(&rid) {
                return;
            }
        }
    })
    .await;
    assert!(heard.is_ok(), "B's events never told of A's case: {seen}");

    let id = wait_for_case(&http, &review_b, &token, &rid).await;
    // Which cases are held is stored, not A's memory: B pins it as waiting, with A's window,
    // and refuses to erase it.
    let page = json_of(
        http.get(format!("{review_b}/api/cases"))
            .bearer_auth(&token),
    )
    .await;
    let pinned = page["held"].as_array().unwrap();
    assert_eq!(pinned.len(), 1, "{page}");
    assert_eq!(pinned[0]["id"], id);
    assert!(pinned[0]["hold_until"].is_string(), "{page}");
    let refused = http
        .post(format!("{review_b}/api/cases/{id}/erase"))
        .bearer_auth(&token)
        .json(&json!({"reason": "ticket 12"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"], "held", "{refused}");
    decide(&http, &review_b, &token, id, false).await;
    let answer: Value = held.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answered by the decision, not the hold window's end"
    );

    // The same requester id again, now to B: the stored answer.
    let again: Value = json_of(post(&http_b, &b, &payload)).await;
    assert_eq!(again, answer);

    // One requester id posted to both at once (Ditto ID's retries through the balancer): one
    // case, and every request, held on either instance, gets the one decision.
    let twice = body(2);
    let rid2 = requester_id(&twice).to_string();
    let posts: Vec<_> = (0..6)
        .map(|i| {
            let (client, server) = if i % 2 == 0 {
                (&http, &a)
            } else {
                (&http_b, &b)
            };
            tokio::spawn(post(client, server, &twice).send())
        })
        .collect();
    let id2 = wait_for_case(&http, &review_b, &token, &rid2).await;
    decide(&http, &review_b, &token, id2, true).await;
    let mut answers = Vec::new();
    for p in posts {
        answers.push(p.await.unwrap().unwrap().json::<Value>().await.unwrap());
    }
    assert!(
        answers
            .iter()
            .all(|x| *x == answers[0] && x["result"] == true),
        "{answers:?}"
    );
    let page = json_of(
        http.get(format!("{review_b}/api/cases?status=all"))
            .bearer_auth(&token),
    )
    .await;
    let cases = page["cases"].as_array().unwrap();
    assert_eq!(
        cases
            .iter()
            .filter(|c| c["requester_id"] == rid2.as_str())
            .count(),
        1,
        "one case for one requester id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_loses_nothing_and_its_held_cases_are_decided_on_the_other() {
    let Some((p, mut a, b, http)) = serving("[decision]\nhold_secs = 120\n").await else {
        return;
    };
    let http_b = client(&p.b.parent().unwrap().join("data"));
    let review_b = format!("http://{}", b.review);
    let token = sign_in_ada(&http, &review_b).await;

    // Three requests held open on A; every one is stored (B lists it) before A dies.
    let payloads: Vec<Value> = (10..13).map(body).collect();
    let held: Vec<_> = payloads
        .iter()
        .map(|p| tokio::spawn(post(&http, &a, p).send()))
        .collect();
    let mut ids = Vec::new();
    for p in &payloads {
        let rid = requester_id(p);
        ids.push(wait_for_case(&http, &review_b, &token, rid).await);
    }
    a.child.kill().unwrap(); // SIGKILL on Unix
    a.child.wait().unwrap();
    for h in held {
        assert!(h.await.unwrap().is_err(), "A died holding the request");
    }

    // B decides them; Ditto ID's retry of each, sent to B, gets that decision.
    for (i, (id, p)) in ids.iter().zip(&payloads).enumerate() {
        let approve = i % 2 == 0;
        decide(&http, &review_b, &token, *id, approve).await;
        let answer: Value = json_of(post(&http_b, &b, p)).await;
        assert_eq!(answer["result"], approve, "{answer}");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stopped_for_a_restart_answers_what_it_holds_with_the_others_decision() {
    // The fallback would accept: a rejection in the answer can only be B's reviewer's.
    let Some((p, mut a, b, http)) =
        serving("[decision]\nhold_secs = 60\non_timeout = \"accept\"\n").await
    else {
        return;
    };
    let review_b = format!("http://{}", b.review);
    let token = sign_in_ada(&http, &review_b).await;
    let payload = body(20);
    let held = tokio::spawn(post(&http, &a, &payload).send());
    let id = wait_for_case(&http, &review_b, &token, requester_id(&payload)).await;

    // A rolling restart stops A: its receiver's port closes at once, so the balancer sends new
    // submissions to B, which takes them...
    terminate(&a);
    refused(a.receiver).await;
    let next = body(21);
    let http_b = client(&p.b.parent().unwrap().join("data"));
    let on_b = tokio::spawn(post(&http_b, &b, &next).send());
    let next_id = wait_for_case(&http, &review_b, &token, requester_id(&next)).await;
    // ...while A waits on the request it holds, which B's reviewer decides.
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "A ended holding a request"
    );
    decide(&http, &review_b, &token, id, false).await;
    let answer: Value = held.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["result"], false, "{answer}");
    let status = ended(&mut a, Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");

    // A again, restarted: the same requester id gets the stored answer there.
    let a = serve(&p.a);
    let again: Value = json_of(post(&http, &a, &payload)).await;
    assert_eq!(again, answer);
    decide(&http, &review_b, &token, next_id, true).await;
    let answer: Value = on_b.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["result"], true, "{answer}");
}

/// What the health check at `server` says now: its status and body.
async fn health(http: &reqwest::Client, server: &Server) -> (u16, Value) {
    let resp = http
        .get(format!("https://{}/healthz", server.receiver))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Polls `server`'s health check until it answers `status`; fails the test after 20 s.
async fn health_becomes(http: &reqwest::Client, server: &Server, status: u16) -> Value {
    for _ in 0..100 {
        let (now, body) = health(http, server).await;
        if now == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the health check never answered {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_database_is_out_of_reach_fails_its_health_check_until_it_is_back() {
    // No window: a post is answered (by the fallback) as soon as it is stored.
    let Some((p, a, _b, http)) = serving("[decision]\nhold_secs = 0\n").await else {
        return;
    };
    assert_eq!(health(&http, &a).await, (200, json!({"status": "ok"})));
    let db = p.db.as_ref().unwrap();
    // Every connection ended and new ones refused, as when the database is out of reach: the
    // balancer is told to send Ditto ID elsewhere...
    tokio::task::block_in_place(|| db.allow_connections(false)).unwrap();
    let refused = health_becomes(&http, &a, 503).await;
    assert_eq!(refused["error"], "unavailable", "{refused}");
    // ...until it is back, and the instance serves again.
    tokio::task::block_in_place(|| db.allow_connections(true)).unwrap();
    health_becomes(&http, &a, 200).await;
    let answer: Value = json_of(post(&http, &a, &body(30))).await;
    assert!(answer["result"].is_boolean(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guesses_spread_over_the_instances_are_counted_together() {
    let Some((_db, a, b, http)) = serving("").await else {
        return;
    };
    let attempt = |server: &Server, password: &str| {
        http.post(format!("http://{}/api/login", server.review))
            .json(&json!({"username": "ada", "password": password}))
            .send()
    };
    // Five wrong passwords through a balancer that alternates: three reach A, two reach B.
    for i in 0..5 {
        let server = if i % 2 == 0 { &a } else { &b };
        let resp = attempt(server, "a guess").await.unwrap();
        assert_eq!(resp.status(), 401, "guess {i}");
    }
    // Each instance alone has seen fewer than the name's five; together they lock it, on both,
    // even for the right password.
    for server in [&b, &a] {
        let resp = attempt(server, "password of the several").await.unwrap();
        assert_eq!(resp.status(), 429, "{}", resp.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_viewing_a_case_on_one_instance_is_seen_on_the_other() {
    let Some((_db, a, b, http)) = serving("").await else {
        return;
    };
    let (review_a, review_b) = (
        format!("http://{}", a.review),
        format!("http://{}", b.review),
    );
    let token_a = sign_in_ada(&http, &review_a).await;
    let token_b = sign_in_ada(&http, &review_b).await;
    let viewers_on_b = || async {
        json_of(
            http.get(format!("{review_b}/api/presence"))
                .bearer_auth(&token_b),
        )
        .await
    };
    let wait_for_b = |want: Value| async move {
        let mut seen = Value::Null;
        for _ in 0..50 {
            seen = viewers_on_b().await;
            if seen == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("B never showed {want}: {seen}");
    };
    // Ada opens case 7 on A: B's desks show her viewing it; she closes it: gone on B too.
    let resp = http
        .put(format!("{review_a}/api/cases/7/presence"))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    wait_for_b(json!({"7": ["ada"]})).await;
    let resp = http
        .delete(format!("{review_a}/api/cases/7/presence"))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    wait_for_b(json!({})).await;
}

/// An account disabled through one instance is refused at once on the other, where its session
/// was just checked (an instance keeps the sessions it checked only while it hears every change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_disabled_on_one_instance_is_refused_on_the_other() {
    let Some((p, a, b, http)) = serving("").await else {
        return;
    };
    let (review_a, review_b) = (
        format!("http://{}", a.review),
        format!("http://{}", b.review),
    );
    add_user(&p.b, "bob", "password of bob");
    let bob = sign_in(&http, &review_a, "bob", "password of bob").await;
    let me_on_a = || async {
        let resp = http
            .get(format!("{review_a}/api/me"))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        resp.status().as_u16()
    };
    for _ in 0..3 {
        assert_eq!(me_on_a().await, 200);
    }
    let ada = sign_in_ada(&http, &review_b).await;
    let resp = http
        .post(format!("{review_b}/api/users/bob/disable"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let mut status = 0;
    for _ in 0..100 {
        status = me_on_a().await;
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 401, "A refuses bob's session");
    assert_eq!(me_on_a().await, 401, "and goes on refusing it");
}

/// B's listener to the other instances is cut (a database restart, a network blip): once it
/// listens again, B's live views are told to read their lists again (`resync`: what A announced
/// meanwhile was missed), and they hear A's next case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_view_is_told_to_reload_when_its_instance_may_have_missed_events() {
    let Some((p, a, b, http)) = serving("").await else {
        return;
    };
    let review_b = format!("http://{}", b.review);
    let (_token, mut events) = live_view(&http, &review_b).await;
    let db = p.db.as_ref().unwrap();
    let listeners = format!(
        "FROM pg_stat_activity WHERE application_name = '{}' AND datname = current_database()",
        kyc_store::pg::LISTENER_NAME
    );
    let mut connected = Vec::new();
    for _ in 0..100 {
        connected = tokio::task::block_in_place(|| db.as_admin(&format!("SELECT pid {listeners}")))
            .unwrap();
        if connected.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(connected.len(), 2, "both instances listen");
    let cut = tokio::task::block_in_place(|| {
        db.as_admin(&format!("SELECT pg_terminate_backend(pid) {listeners}"))
    })
    .unwrap();
    assert_eq!(cut, ["t", "t"]);
    let mut seen = String::new();
    read_until(
        &mut events,
        &mut seen,
        "event: resync\ndata: {\"type\":\"resync\"}",
    )
    .await;
    // Listening again: A's next case reaches B's view.
    let payload = body(3);
    let rid = requester_id(&payload).to_string();
    let _held = tokio::spawn(post(&http, &a, &payload).send());
    read_until(&mut events, &mut seen, &rid).await;
}

/// Reads a live event stream into `seen` until it holds `what` (20 s at most).
async fn read_until(events: &mut reqwest::Response, seen: &mut String, what: &str) {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(what) {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "the live view never showed {what}: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_store_moves_a_sqlite_desk_to_postgres() {
    let scratch = tokio::task::spawn_blocking(|| {
        let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
        Some(ScratchDatabase::create(&server).expect("a scratch database"))
    })
    .await
    .unwrap();
    let Some(db) = scratch else { return };
    let (old_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let old = write_config(old_dir.path(), "[decision]\nhold_secs = 0\n");
    add_user(&old, "ada", "password of the several");
    let mut server = serve(&old);
    let out = simulate(&old, &server, 3, "clean", 5);
    assert_eq!(out.matches("result").count(), 3, "{out}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let new = write_config(
        new_dir.path(),
        &format!("[storage]\nurl = \"{}\"\n", db.target.url),
    );
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (old_s, new_s) = (old.to_str().unwrap(), new.to_str().unwrap());
    // The new desk needs the old master key: without it, nothing moves.
    let (ok, said) = run(&["migrate-store", "--from", old_s, "--to", new_s]);
    assert!(!ok && said.contains("master key file"), "{said}");
    std::fs::create_dir_all(new_dir.path().join("data")).unwrap();
    std::fs::copy(
        old_dir.path().join("data/master.key"),
        new_dir.path().join("data/master.key"),
    )
    .unwrap();
    // --to must name a PostgreSQL database.
    let (ok, said) = run(&["migrate-store", "--from", old_s, "--to", old_s]);
    assert!(!ok && said.contains("[storage] url"), "{said}");

    let (ok, said) = run(&["migrate-store", "--from", old_s, "--to", new_s]);
    assert!(ok, "{said}");
    assert!(said.contains("Moved 3 cases (3 with images)"), "{said}");
    assert!(said.contains("audit trail intact"), "{said}");
    assert!(!said.contains(&std::env::var("KYC_DESK_DB_PASSWORD").unwrap_or("-".repeat(40))));
    // Once is enough: the database holds a desk now.
    let (ok, said) = run(&["migrate-store", "--from", old_s, "--to", new_s]);
    assert!(!ok && said.contains("already holds data"), "{said}");

    // The moved desk serves the same cases to the same accounts.
    let moved = serve(&new);
    let http = client(&new_dir.path().join("data"));
    let review = format!("http://{}", moved.review);
    let token = sign_in_ada(&http, &review).await;
    let page: Value = json_of(
        http.get(format!("{review}/api/cases?status=all"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(page["cases"].as_array().unwrap().len(), 3, "{page}");
    drop(moved);
    tokio::task::spawn_blocking(move || drop(db)).await.unwrap();
}
