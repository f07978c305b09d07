//! The review side shared by a team, tried as an attacker on the LAN would: the setup code, the
//! Host allow-list, the account lifecycle and session revocation (streams included), bounded
//! sign-in floods, the hardening headers, errors that never echo values, CSV formulas.

use crate::common;

use std::time::{Duration, Instant};

use common::{start, start_bare, submission, Desk, PASSWORD};
use kyc_sim::Scenario;
use serde_json::{json, Value};

/// A client whose connections come from another loopback address (another machine, to the
/// server's throttles).
fn client_from(desk: &Desk, addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&desk.running.tls.cert_pem).unwrap())
        .local_address(addr.parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn post_json(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let resp = http.post(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const STRONG: &str = "Quiet-Harbor-Lantern-47";

#[tokio::test]
async fn setup_needs_the_one_time_code_and_closes_for_good() {
    let d = start_bare(|_| {}).await;
    let code = d
        .running
        .setup
        .display()
        .expect("a fresh desk has a setup code");
    assert!(d.running.window_url().ends_with(&format!("/#setup={code}")));
    let url = d.review("/api/setup");
    let (status, info) = d.get("/api/setup").await;
    assert_eq!(
        (status, &info["needs_setup"], &info["code_required"]),
        (200, &json!(true), &json!(true))
    );

    // Without the code, or with a wrong one, nobody becomes admin.
    let (status, body) = post_json(
        &d.http,
        url.clone(),
        json!({"username": "mallory", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let wrong = json!({"setup_code": "0000-0000-0000-0000-0000-0000-0000", "username": "mallory", "password": STRONG});
    let (status, body) = post_json(&d.http, url.clone(), wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("bad_setup_code")),
        "{body}"
    );
    assert_eq!(d.running.desk.store().user_count().unwrap(), 0);

    // A weak password is refused with the reason, and the code still works afterwards.
    let weak = json!({"setup_code": code, "username": "owner", "password": "password1234"});
    let (status, body) = post_json(&d.http, url.clone(), weak).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("weak_password")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("too easy to guess"),
        "{body}"
    );

    // The code is typed forgivingly (lower case, spaces for dashes).
    let typed = code.to_lowercase().replace('-', " ");
    let (status, session) = post_json(
        &d.http,
        url.clone(),
        json!({"setup_code": typed, "username": "owner", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user"]["role"], "admin");
    assert_eq!(
        d.running.setup.display(),
        None,
        "the code expires with the first account"
    );
    let (status, body) = post_json(
        &d.http,
        url,
        json!({"setup_code": code, "username": "second", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 400, "setup is closed: {body}");
    assert_eq!(d.running.desk.store().user_count().unwrap(), 1);
    d.stop().await;
}

#[tokio::test]
async fn wrong_setup_codes_are_throttled_per_address() {
    let d = start_bare(|_| {}).await;
    let code = d.running.setup.display().unwrap();
    let url = d.review("/api/setup");
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let wrong = json!({"setup_code": "ZZZZ", "username": "mallory", "password": STRONG});
        statuses.push(post_json(&d.http, url.clone(), wrong).await.0);
    }
    assert!(statuses[..20].iter().all(|s| *s == 403), "{statuses:?}");
    assert_eq!(statuses[20], 429);
    // Even the right code waits from that address; the owner's machine is not locked out.
    let right = json!({"setup_code": code, "username": "owner", "password": STRONG});
    assert_eq!(post_json(&d.http, url.clone(), right.clone()).await.0, 429);
    let owner = client_from(&d, "127.0.0.2");
    assert_eq!(post_json(&owner, url, right).await.0, 200);
    d.stop().await;
}

#[tokio::test]
async fn only_allowed_host_names_are_answered() {
    let d = start(|c| c.review.public_names = vec!["desk.example.lan".into()]).await;
    let port = d.running.review_addr.port();
    let with_host = |host: String| {
        d.http
            .get(d.review("/api/cases"))
            .bearer_auth(&d.token)
            .header("host", host)
            .send()
    };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("desk.example.lan:{port}"),
    ] {
        assert_eq!(
            with_host(host.clone()).await.unwrap().status(),
            200,
            "{host}"
        );
    }
    for host in [
        format!("rebind.attacker.example:{port}"),
        format!("192.168.1.50:{port}"),
        "localhost.attacker.example".to_string(),
    ] {
        let resp = with_host(host.clone()).await.unwrap();
        assert_eq!(resp.status(), 421, "{host}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "misdirected_request", "{host}");
    }
    d.stop().await;
}

#[tokio::test]
async fn every_review_response_carries_the_hardening_headers() {
    let d = start(|_| {}).await;
    let sub = submission(Scenario::Clean, 1);
    let held = d.post_in_background(&sub.payload);
    let case = d.wait_for_case(&sub.requester_id).await;
    let id = case["id"].as_i64().unwrap();
    for path in [
        "/api/cases".to_string(),
        format!("/api/cases/{id}"),
        format!("/api/cases/{id}/images/selfie"),
        "/api/nothing-here".to_string(),
    ] {
        let resp = d
            .http
            .get(d.review(&path))
            .bearer_auth(&d.token)
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            h["cache-control"], "no-store",
            "{path}: ID images never stay in a browser cache"
        );
    }
    // Unauthenticated answers and the UI pages get them too.
    let resp = d.http.get(d.review("/")).send().await.unwrap();
    assert!(resp.headers().contains_key("content-security-policy"));
    d.decide(id, json!({"decision": "approve"})).await;
    held.await.unwrap();
    d.stop().await;
}

#[tokio::test]
async fn account_changes_are_audited_and_revoke_sessions_at_once() {
    let d = start(|_| {}).await;
    let admin = d.login("ada").await;
    let rita = d.token.clone();
    assert_eq!(d.get_as(&rita, "/api/cases").await.0, 200);

    // Reviewers cannot manage accounts.
    assert_eq!(
        d.post_as(&rita, "/api/users/ada/disable", json!({}))
            .await
            .0,
        403
    );

    // Disable: rita's session ends, she cannot sign in, the account stays listed.
    let (status, acc) = d
        .post_as(&admin, "/api/users/rita/disable", json!({}))
        .await;
    assert_eq!((status, &acc["disabled"]), (200, &json!(true)), "{acc}");
    assert_eq!(d.get_as(&rita, "/api/cases").await.0, 401);
    let (status, body) = post_json(
        &d.http,
        d.review("/api/login"),
        json!({"username": "rita", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("account_disabled")),
        "{body}"
    );
    let (status, body) = post_json(
        &d.http,
        d.review("/api/login"),
        json!({"username": "rita", "password": "not her password"}),
    )
    .await;
    assert_eq!(
        status, 401,
        "a wrong password tells nothing about the account: {body}"
    );

    // Enable, then a role change: the old session ends, the new one has the new role.
    assert_eq!(
        d.post_as(&admin, "/api/users/rita/enable", json!({}))
            .await
            .0,
        200
    );
    let rita = d.login("rita").await;
    let (status, acc) = d
        .post_as(
            &admin,
            "/api/users/rita/role",
            json!({"role": "supervisor"}),
        )
        .await;
    assert_eq!((status, &acc["role"]), (200, &json!("supervisor")), "{acc}");
    assert_eq!(d.get_as(&rita, "/api/me").await.0, 401);
    let rita = d.login("rita").await;
    assert_eq!(d.get_as(&rita, "/api/me").await.1["role"], "supervisor");

    // Reset: the temporary password signs in only to choose a new one.
    let (status, acc) = d
        .post_as(
            &admin,
            "/api/users/rita/reset-password",
            json!({"password": "Temporary-Walrus-Signal-88"}),
        )
        .await;
    assert_eq!(
        (status, &acc["must_change_password"]),
        (200, &json!(true)),
        "{acc}"
    );
    assert_eq!(d.get_as(&rita, "/api/me").await.0, 401);
    let (status, session) = post_json(
        &d.http,
        d.review("/api/login"),
        json!({"username": "rita", "password": "Temporary-Walrus-Signal-88"}),
    )
    .await;
    assert_eq!(
        (status, &session["user"]["must_change_password"]),
        (200, &json!(true)),
        "{session}"
    );
    let temp = session["token"].as_str().unwrap().to_string();
    let (status, body) = d.get_as(&temp, "/api/cases").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("password_change_required"))
    );
    assert_eq!(d.get_as(&temp, "/api/me").await.0, 200);
    let (status, body) = d
        .post_as(
            &temp,
            "/api/me/password",
            json!({"current_password": "Temporary-Walrus-Signal-88", "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("weak_password")),
        "{body}"
    );
    // A wrong current password counts as a failed sign-in (same throttle and audit folding).
    let (status, body) = d
        .post_as(
            &temp,
            "/api/me/password",
            json!({"current_password": "not the temporary one", "new_password": "Granite-Orchid-Bicycle-12"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("bad_credentials")),
        "{body}"
    );
    let (status, session) = d
        .post_as(&temp, "/api/me/password", json!({"current_password": "Temporary-Walrus-Signal-88", "new_password": "Granite-Orchid-Bicycle-12"}))
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(
        d.get_as(&temp, "/api/me").await.0,
        401,
        "the old session ended"
    );
    let fresh = session["token"].as_str().unwrap();
    assert_eq!(d.get_as(fresh, "/api/cases").await.0, 200);

    // The last enabled admin cannot be disabled or demoted.
    let (status, body) = d.post_as(&admin, "/api/users/ada/disable", json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("last_admin")),
        "{body}"
    );
    let (status, _) = d
        .post_as(&admin, "/api/users/ada/role", json!({"role": "reviewer"}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        d.post_as(&admin, "/api/users/nobody/disable", json!({}))
            .await
            .0,
        404
    );

    // The list shows state and last sign-in; every change is in the audit trail, by ada.
    let (_, users) = d.get_as(&admin, "/api/users").await;
    let r = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "rita")
        .unwrap();
    assert_eq!(
        (&r["disabled"], &r["must_change_password"]),
        (&json!(false), &json!(false))
    );
    assert!(
        r["last_login_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{r}"
    );
    for action in [
        "user.disabled",
        "user.enabled",
        "user.role_changed",
        "user.password_reset",
        "user.password_changed",
    ] {
        let (_, page) = d
            .get_as(&admin, &format!("/api/audit?action={action}"))
            .await;
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{action}: {page}");
        assert_eq!(entries[0]["detail"]["name"], "rita");
        assert_eq!(
            entries[0]["actor"],
            if action == "user.password_changed" {
                "rita"
            } else {
                "ada"
            }
        );
    }
    d.stop().await;
}

/// Reads an event stream until it ends; returns when it ended (or `None` after `limit`).
fn watch_stream(
    resp: reqwest::Response,
    limit: Duration,
) -> tokio::task::JoinHandle<Option<Instant>> {
    tokio::spawn(async move {
        let mut resp = resp;
        let end = tokio::time::timeout(limit, async {
            while let Ok(Some(_)) = resp.chunk().await {}
        })
        .await;
        end.ok().map(|_| Instant::now())
    })
}

#[tokio::test]
async fn event_streams_end_when_their_session_ends() {
    let d = start(|_| {}).await;
    let admin = d.login("ada").await;
    let open = |token: String| {
        let req = d.http.get(d.review("/api/events")).bearer_auth(token);
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp
        }
    };
    // Logout.
    let rita = d.login("rita").await;
    let watch = watch_stream(open(rita.clone()).await, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !watch.is_finished(),
        "the stream stays open while the session lives"
    );
    let resp = d
        .http
        .post(d.review("/api/logout"))
        .bearer_auth(&rita)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let t0 = Instant::now();
    let ended = watch.await.unwrap().expect("the stream ended after logout");
    assert!(
        ended - t0 < Duration::from_secs(2),
        "ended {:?} after logout",
        ended - t0
    );

    // An admin disabling the account.
    let rita = d.login("rita").await;
    let watch = watch_stream(open(rita).await, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    assert_eq!(
        d.post_as(&admin, "/api/users/rita/disable", json!({}))
            .await
            .0,
        200
    );
    let ended = watch
        .await
        .unwrap()
        .expect("the stream ended after the account was disabled");
    assert!(
        ended - t0 < Duration::from_secs(2),
        "ended {:?} after disable",
        ended - t0
    );

    // Expiry (the session row's end passing) ends it the same way.
    assert_eq!(
        d.post_as(&admin, "/api/users/rita/enable", json!({}))
            .await
            .0,
        200
    );
    let rita = d.login("rita").await;
    let watch = watch_stream(open(rita).await, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // As if its time had passed: another connection ends the session's lifetime in the file.
    rusqlite::Connection::open(d.dir.join(kyc_core::bootstrap::DB_FILE))
        .unwrap()
        .execute(
            "UPDATE sessions SET expires_at = 0 WHERE user_name = 'rita'",
            [],
        )
        .unwrap();
    assert!(
        watch.await.unwrap().is_some(),
        "the stream ended after expiry"
    );
    d.stop().await;
}

#[tokio::test]
async fn sign_in_floods_are_refused_cheaply_and_never_lock_out_the_real_user() {
    let d = start(|_| {}).await;
    let login = d.review("/api/login");
    // Too large, too long: 4xx before any work (no hash, no audit row).
    let huge = json!({"username": "x".repeat(10 * 1024), "password": "p"});
    let (status, body) = post_json(&d.http, login.clone(), huge).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large")),
        "{body}"
    );
    let long = json!({"username": "y".repeat(65), "password": "p"});
    assert_eq!(post_json(&d.http, login.clone(), long).await.0, 400);

    // Guessing one account from one address: locked from there after 5 failures...
    let guess = json!({"username": "ada", "password": "guess guess guess"});
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(post_json(&d.http, login.clone(), guess.clone()).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // ...while the real user signs in from her own machine.
    let ada = client_from(&d, "127.0.0.2");
    let (status, session) = post_json(
        &ada,
        login.clone(),
        json!({"username": "ada", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let admin = session["token"].as_str().unwrap().to_string();

    // Spraying names from one address: that address waits; others do not.
    let sprayer = client_from(&d, "127.0.0.3");
    let mut last = 0;
    for i in 0..40 {
        last = post_json(
            &sprayer,
            login.clone(),
            json!({"username": format!("n{i}"), "password": "guess guess guess"}),
        )
        .await
        .0;
    }
    assert_eq!(last, 429);
    assert_eq!(
        post_json(
            &d.http,
            login.clone(),
            json!({"username": "rita", "password": PASSWORD})
        )
        .await
        .0,
        200
    );

    // The audit trail holds one entry per name and address per minute, with the count.
    let (_, page) = d
        .get_as(&admin, "/api/audit?action=login.failed&limit=500")
        .await;
    let entries = page["entries"].as_array().unwrap();
    let for_ada: Vec<_> = entries.iter().filter(|e| e["actor"] == "ada").collect();
    assert_eq!(for_ada.len(), 1, "{page}");
    assert_eq!(for_ada[0]["detail"]["address"], "127.0.0.1");
    assert!(entries.len() <= 1 + 20, "{} entries", entries.len());
    d.stop().await;
}

#[tokio::test]
async fn the_token_endpoint_throttles_wrong_client_secrets() {
    let d = start(|c| {
        c.receiver.auth.mode = kyc_core::config::AuthMode::Oauth2;
    })
    .await;
    let url = format!(
        "https://{}/kyc-service-access-token-endpoint",
        d.running.receiver_addr
    );
    let form = |secret: &str| {
        d.http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "ditto-idv"),
                ("client_secret", secret),
            ])
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..21 {
        statuses.push(
            form("wrong-secret-0123456789")
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[20], 429);
    d.stop().await;
}

#[tokio::test]
async fn errors_name_the_field_never_the_value() {
    let d = start(|_| {}).await;
    let phone = "+447911123456";
    // The receiver: a phone number as a number where the user id (text) belongs.
    let mut sub = submission(Scenario::Clean, 2);
    *sub.payload.pointer_mut("/request_info/user_id").unwrap() = json!(447911123456_u64);
    let (status, body) = d.post(&sub.payload).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "request_info.user_id", "{body}");
    assert!(!body.to_string().contains("447911123456"), "{body}");
    assert_eq!(d.count(), 0);

    // The review API: mistyped fields and unknown values.
    let held_sub = submission(Scenario::Clean, 3);
    let held = d.post_in_background(&held_sub.payload);
    let id = d.wait_for_case(&held_sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    for body in [
        json!({"decision": "approve", "comment": 447911123456_u64}),
        json!({"decision": phone}),
        json!({"decision": "reject", "reasons": [phone]}),
        json!({"decision": true}),
    ] {
        let (status, answer) = d.decide(id, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            !answer.to_string().contains("447911123456"),
            "{body}: {answer}"
        );
    }
    let (status, answer) = d
        .decide(id, json!({"decision": "approve", "comment": 5}))
        .await;
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("comment: invalid type"),
        "{status} {answer}"
    );
    let (status, answer) = d.get(&format!("/api/cases?limit={phone}")).await;
    assert_eq!(status, 400);
    assert!(!answer.to_string().contains("447911123456"), "{answer}");
    d.decide(id, json!({"decision": "approve"})).await;
    held.await.unwrap();
    d.stop().await;
}

#[tokio::test]
async fn the_decisions_csv_neutralises_every_formula_cell() {
    let d = start(|_| {}).await;
    let supervisor = {
        d.add_account("sam", kyc_core::users::Role::Supervisor);
        d.login("sam").await
    };
    let mut ids = Vec::new();
    for (i, user_id) in ["-2+3+cmd|' /C calc'!A0", "=1+1", "+37120000000", "@SUM(A1)"]
        .iter()
        .enumerate()
    {
        let mut sub = submission(Scenario::Clean, 10 + i as u64);
        *sub.payload.pointer_mut("/request_info/user_id").unwrap() = json!(user_id);
        let held = d.post_in_background(&sub.payload);
        let id = d.wait_for_case(&sub.requester_id).await["id"]
            .as_i64()
            .unwrap();
        d.decide(id, json!({"decision": "approve"})).await;
        held.await.unwrap();
        ids.push(id);
    }
    let resp = d
        .http
        .get(d.review("/api/exports/decisions.csv"))
        .bearer_auth(&supervisor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csv = resp.text().await.unwrap();
    for cell in [
        "'-2+3+cmd|' /C calc'!A0",
        "'=1+1",
        "'+37120000000",
        "'@SUM(A1)",
    ] {
        assert!(csv.contains(cell), "{cell} missing in\n{csv}");
    }
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "{cell:?} in {line}"
            );
        }
    }
    d.stop().await;
}

/// `/api/me` lists what the account may do, from the server's one table: the UI shows exactly
/// these. Each listed (or unlisted) permission is tried for real, so the list is what the server
/// enforces, not a second opinion.
#[tokio::test]
async fn me_lists_the_permissions_the_server_enforces() {
    use kyc_core::users::Role;
    let d = start(|_| {}).await;
    for (name, role) in [("sam", Role::Supervisor), ("otto", Role::Auditor)] {
        d.add_account(name, role);
    }
    let admin = d.login("ada").await;
    let expect = [
        ("rita", vec!["decide"]),
        (
            "sam",
            vec![
                "decide",
                "reassign",
                "statistics",
                "export",
                "resend_delivery",
            ],
        ),
        ("otto", vec!["statistics", "read_audit", "export"]),
        (
            "ada",
            vec![
                "decide",
                "reassign",
                "statistics",
                "read_audit",
                "export",
                "resend_delivery",
                "manage_users",
                "ditto_config",
                "erase",
            ],
        ),
    ];
    for (name, perms) in expect {
        let token = if name == "ada" {
            admin.clone()
        } else {
            d.login(name).await
        };
        let (status, me) = d.get_as(&token, "/api/me").await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["permissions"], json!(perms), "{name}: {me}");
        // What the list says is what the server does.
        let may = |p: &str| perms.contains(&p);
        let probes = [
            ("statistics", "/api/stats"),
            ("read_audit", "/api/audit"),
            ("ditto_config", "/api/settings/ditto-config"),
        ];
        for (perm, path) in probes {
            let (status, body) = d.get_as(&token, path).await;
            let want = if may(perm) { 200 } else { 403 };
            assert_eq!(status, want, "{name} {path}: {body}");
        }
    }
    d.stop().await;
}
