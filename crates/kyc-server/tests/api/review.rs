//! End-to-end tests of the review API over real HTTP on port 0: the case timeline, each role's
//! refusals, the receiver's HTTP/1-only offer, tolerant reading, images of every kind, what a case
//! names, presence and audited sign-ins.

use crate::common;

use std::time::Duration;

use crate::http::{png_bomb, read_events_until};
use base64::Engine;
use common::{start, submission, PASSWORD};
use kyc_sim::Scenario;
use serde_json::{json, Value};

#[tokio::test]
async fn the_case_timeline_records_receipt_views_and_decisions_and_auditors_cannot_decide() {
    let desk = start(|_| {}).await;
    desk.add_account("audrey", kyc_core::users::Role::Auditor);
    let sub = submission(Scenario::Clean, 500);
    let held = desk.post_in_background(&sub.payload);
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let auditor = desk.login("audrey").await;
    let resp = desk
        .http
        .post(desk.review(&format!("/api/cases/{id}/decision")))
        .bearer_auth(&auditor)
        .json(&json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(desk.decide(id, json!({"decision": "approve"})).await.0, 200);
    held.await.unwrap();
    // The first view is recorded as it is served; the second read shows it.
    desk.get(&format!("/api/cases/{id}")).await;
    let (_, detail) = desk.get(&format!("/api/cases/{id}")).await;
    let actions: Vec<(&str, &str)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions[0], ("ditto-id", "case.received"));
    assert!(actions.contains(&("rita", "case.decided")), "{actions:?}");
    assert!(
        actions.contains(&("system", "case.answered")),
        "{actions:?}"
    );
    assert!(actions.contains(&("rita", "case.viewed")), "{actions:?}");
    assert!(
        !detail["timeline"]
            .to_string()
            .contains(&sub.document_number),
        "no personal data in the trail"
    );
    assert!(matches!(
        desk.running.desk.store().verify_audit().unwrap(),
        kyc_domain::audit::Verdict::Intact { .. }
    ));
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down() {
    let desk = start(|_| {}).await;
    let attempt = |password: &'static str| {
        let (http, url) = (desk.http.clone(), desk.review("/api/login"));
        async move {
            let resp = http
                .post(url)
                .json(&json!({"username": "rita", "password": password}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("not the password").await.0, 401);
    }
    let (status, body) = attempt(PASSWORD).await;
    assert_eq!(status, 429, "even the right password waits: {body}");
    assert_eq!(body["error"], "too_many_attempts");
    // Another account is not affected.
    let resp = desk
        .http
        .post(desk.review("/api/login"))
        .json(&json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn each_role_is_refused_what_it_may_not_do() {
    let desk = start(|_| {}).await;
    let admin = desk.login("ada").await;
    // Admins create accounts from the desk.
    for (name, role) in [("sam", "supervisor"), ("audrey", "auditor")] {
        let resp = desk
            .http
            .post(desk.review("/api/users"))
            .bearer_auth(&admin)
            .json(&json!({"username": name, "role": role, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
    }
    let dup = desk
        .http
        .post(desk.review("/api/users"))
        .bearer_auth(&admin)
        .json(&json!({"username": "sam", "role": "reviewer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    // Each account made in the desk is one audit entry naming the admin who made it.
    let (_, trail) = desk.get_as(&admin, "/api/audit?action=user.created").await;
    let made: Vec<(&str, &str)> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "ada")
        .map(|e| {
            (
                e["detail"]["name"].as_str().unwrap(),
                e["detail"]["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(made.len(), 2, "{trail}");
    assert!(made.contains(&("sam", "supervisor")) && made.contains(&("audrey", "auditor")));
    let sub = submission(Scenario::Clean, 700);
    let held = desk.post_in_background(&sub.payload);
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let tokens = [
        ("reviewer", desk.token.clone()),
        ("supervisor", desk.login("sam").await),
        ("auditor", desk.login("audrey").await),
        ("admin", admin.clone()),
    ];
    for (role, token) in &tokens {
        let get = |path: &str| desk.http.get(desk.review(path)).bearer_auth(token).send();
        let may_admin = *role == "admin";
        assert_eq!(
            get("/api/users").await.unwrap().status() == 200,
            may_admin || *role == "supervisor",
            "{role} users"
        );
        assert_eq!(
            get("/api/settings/ditto-config").await.unwrap().status() == 200,
            may_admin,
            "{role} ditto"
        );
        let create = desk
            .http
            .post(desk.review("/api/users"))
            .bearer_auth(token)
            .json(
                &json!({"username": format!("x-{role}"), "role": "reviewer", "password": PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(create.status() == 200, may_admin, "{role} create");
        let may_see_stats = *role != "reviewer";
        for path in ["/api/stats", "/api/exports/decisions.csv"] {
            let status = get(path).await.unwrap().status();
            assert_eq!(status == 200, may_see_stats, "{role} {path}");
        }
        let may_audit = matches!(*role, "admin" | "auditor");
        for path in ["/api/audit", "/api/audit/verify"] {
            let status = get(path).await.unwrap().status();
            assert_eq!(status == 200, may_audit, "{role} {path}");
        }
        let post = |path: String, body: Value| {
            desk.http
                .post(desk.review(&path))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let erase = post(
            format!("/api/cases/{id}/erase"),
            json!({"reason": "ticket 7"}),
        );
        // Only an admin gets past the role check (then: Ditto ID still waits on the case).
        let expected = if may_admin { 409 } else { 403 };
        assert_eq!(erase.await.unwrap().status(), expected, "{role} erase");
        let (to, expected) = match *role {
            "reviewer" => (json!("sam"), 403),
            "supervisor" => (json!("rita"), 200),
            "auditor" => (json!("audrey"), 403),
            _ => (Value::Null, 200),
        };
        let assign = post(format!("/api/cases/{id}/assign"), json!({ "to": to }));
        assert_eq!(assign.await.unwrap().status(), expected, "{role} assign");
        // Everyone may read the queue and the case.
        assert_eq!(get("/api/cases").await.unwrap().status(), 200, "{role}");
        assert_eq!(
            get(&format!("/api/cases/{id}")).await.unwrap().status(),
            200,
            "{role}"
        );
    }
    let decide_as = |token: &String| {
        desk.http
            .post(desk.review(&format!("/api/cases/{id}/decision")))
            .bearer_auth(token)
            .json(&json!({"decision": "approve"}))
            .send()
    };
    assert_eq!(
        decide_as(&tokens[2].1).await.unwrap().status(),
        403,
        "an auditor may not decide"
    );
    assert_eq!(
        decide_as(&tokens[0].1).await.unwrap().status(),
        200,
        "a reviewer may"
    );
    assert_eq!(held.await.unwrap()["result"], true);
}

#[tokio::test]
async fn the_receiver_offers_http1_only_so_waiting_bodies_stay_in_their_own_connections() {
    let desk = start(|c| c.decision.hold_secs = 0).await;
    let sub = submission(Scenario::Clean, 900);
    let resp = desk
        .http
        .post(desk.receiver())
        .json(&sub.payload)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.version(),
        reqwest::Version::HTTP_11,
        "ALPN picked HTTP/1.1"
    );
    desk.stop().await;
}

#[tokio::test]
async fn optional_fields_of_an_unexpected_type_are_read_tolerantly_and_flagged() {
    let desk = start(|c| c.decision.hold_secs = 0).await;
    let mut sub = submission(Scenario::Clean, 8);
    let status = "/kyc_info/document/document_status";
    *sub.payload
        .pointer_mut(&format!("{status}/is_nfc_document"))
        .unwrap() = json!("true");
    *sub.payload
        .pointer_mut("/kyc_info/face_matcher_result/score")
        .unwrap() = json!("NaN");
    let (code, answer) = desk.post(&sub.payload).await;
    assert_eq!(code, 200, "the whole KYC is not refused: {answer}");
    let case = desk.wait_for_case(&sub.requester_id).await;
    let (_, detail) = desk.get(&format!("/api/cases/{}", case["id"])).await;
    let flags = detail["flags"].as_array().unwrap();
    let coerced = flags
        .iter()
        .find(|f| f["code"] == "payload_coerced")
        .expect("flagged");
    let message = coerced["message"].as_str().unwrap();
    assert!(
        message.contains("is_nfc_document sent as text; read as a boolean"),
        "{message}"
    );
    assert!(message.contains("face_matcher_result.score"), "{message}");
    // The case view reads the stored payload back as tolerantly: the document is all there.
    assert_eq!(
        detail["document"]["is_nfc_document"],
        json!(true),
        "{}",
        detail["document"]
    );
    // The missing score is a finding of its own; what was sent is kept as sent.
    assert!(
        flags.iter().any(|f| f["code"] == "face_score_missing"),
        "{flags:?}"
    );
    assert_eq!(
        detail["raw"].pointer("/kyc_info/face_matcher_result/score"),
        Some(&json!("NaN")),
        "the raw payload keeps what was sent"
    );
}

#[tokio::test]
async fn images_of_every_kind_are_kept_as_sent_shown_where_possible_and_never_refuse_the_case() {
    let desk = start(|c| c.decision.hold_secs = 0).await;
    let fixture = |f: &str| {
        std::fs::read(format!(
            "{}/../kyc-core/tests/fixtures/images/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut sub = submission(Scenario::Clean, 9);
    let images = "/kyc_info/document/document_info/document_images";
    let (jp2, pdf, webp) = (
        fixture("portrait.jp2"),
        fixture("scan.pdf"),
        fixture("page.webp"),
    );
    for (name, bytes) in [
        ("portrait_image", &jp2),
        ("front_page", &pdf),
        ("back_page", &webp),
    ] {
        kyc_core::ingest::set_pointer(
            &mut sub.payload,
            &format!("{images}/{name}"),
            json!(b64(bytes)),
        );
    }
    let selfie = "/kyc_info/liveness_check/video/autocapture_result/selfie_image";
    *sub.payload.pointer_mut(selfie).unwrap() = json!(png_bomb());
    let (status, answer) = desk.post(&sub.payload).await;
    assert_eq!(status, 200, "{answer}");
    let case = desk.wait_for_case(&sub.requester_id).await;
    let id = case["id"].as_i64().unwrap();
    let (_, detail) = desk.get(&format!("/api/cases/{id}")).await;
    let mime = |n: &str| {
        detail["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()["mime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(mime("portrait_image"), "image/jp2");
    assert_eq!(mime("front_page"), "application/pdf");
    assert_eq!(mime("back_page"), "image/webp");
    let flag = detail["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "image_unreadable")
        .expect("flagged");
    let message = flag["message"].as_str().unwrap();
    assert!(
        message.contains("front_page: PDF") && message.contains("selfie: PNG of 50000x50000"),
        "{message}"
    );
    assert!(
        !message.contains("portrait_image") && !message.contains("back_page"),
        "{message}"
    );

    let get = |path: String| {
        let req = desk.http.get(desk.review(&path)).bearer_auth(&desk.token);
        async move {
            let resp = req.send().await.unwrap();
            let headers = resp.headers().clone();
            (headers, resp.bytes().await.unwrap().to_vec())
        }
    };
    // JPEG 2000 is shown as a PNG of the same picture; the original is a download, byte for byte.
    let (h, png) = get(format!("/api/cases/{id}/images/portrait_image")).await;
    assert_eq!(h["content-type"], "image/png");
    let shown = image::load_from_memory(&png).unwrap();
    assert_eq!((shown.width(), shown.height()), (60, 80));
    let (h, original) = get(format!(
        "/api/cases/{id}/images/portrait_image?original=true"
    ))
    .await;
    assert_eq!(
        (h["content-type"].to_str().unwrap(), original),
        ("image/jp2", jp2)
    );
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    // A PDF is a download, never shown inline; WebP is shown as sent.
    let (h, bytes) = get(format!("/api/cases/{id}/images/front_page")).await;
    assert_eq!(h["content-type"], "application/pdf");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"front_page.pdf"));
    assert_eq!(bytes, pdf);
    let (h, bytes) = get(format!("/api/cases/{id}/images/back_page")).await;
    assert_eq!(
        (h["content-type"].to_str().unwrap(), bytes),
        ("image/webp", webp)
    );
    assert!(h.get("content-disposition").is_none());
    // The PDF report still renders (the JPEG 2000 portrait placed, the others listed).
    let (status, pdf_report) = desk.get_bytes(&format!("/api/cases/{id}/report.pdf")).await;
    assert_eq!(status, 200);
    assert!(pdf_report.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn the_case_names_its_app_portrait_source_locales_and_hologram_images() {
    let desk = start(|c| c.decision.hold_secs = 0).await;
    let sub = submission(Scenario::Tampered, 3);
    let (status, _) = desk.post(&sub.payload).await;
    assert_eq!(status, 200);
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (_, detail) = desk.get(&format!("/api/cases/{id}")).await;
    assert_eq!(detail["app_id"], sub.payload["request_info"]["app_id"]);
    // portrait_image_source "V": read from the visual zone.
    assert_eq!(detail["portrait_source"], "Visual");
    // National fields are labelled by their locale's name, not its LCID.
    let locales = sub.payload["kyc_info"]["document"]["document_info"]["field_locales"]
        .as_object()
        .unwrap();
    let (code, language) = locales.iter().find(|(k, _)| *k != "0").unwrap();
    let names: Vec<&str> = detail["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let language = language.as_str().unwrap();
    assert!(
        names.contains(&format!("Surname ({language})").as_str()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains(&format!("({code})"))));
    // The hologram check's reference and captured images are stored and served, next to the
    // check they belong to (checks_performed[3].check_detail[0]).
    let checks = detail["document"]["checks"].as_array().unwrap();
    assert_eq!(checks[3]["check_name"], "Hologram");
    for which in ["etalon", "actual"] {
        let (status, bytes) = desk
            .get_bytes(&format!("/api/cases/{id}/images/check-3-0-{which}"))
            .await;
        assert_eq!(status, 200, "{which}");
        assert!(image::load_from_memory(&bytes).is_ok(), "{which}");
    }
    assert_eq!(
        checks[3]["check_detail"][0]["match_percentage"]
            .as_str()
            .map(|p| p.parse::<u32>().is_ok()),
        Some(true)
    );
    desk.stop().await;
}

#[tokio::test]
async fn presence_shows_who_views_a_case_live_and_fades_when_beats_stop() {
    let desk = start(|c| c.decision.hold_secs = 0).await;
    let sub = submission(Scenario::Clean, 31);
    assert_eq!(desk.post(&sub.payload).await.0, 200);
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let ada = desk.login("ada").await;
    let mut stream = desk
        .http
        .get(desk.review("/api/events"))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    let beat = |method: reqwest::Method, token: &str, path: String| {
        let req = desk
            .http
            .request(method, desk.review(&path))
            .bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let path = format!("/api/cases/{id}/presence");
    assert_eq!(
        beat(reqwest::Method::PUT, &desk.token, path.clone()).await,
        204
    );
    // Ada's stream says rita is viewing, and so does the list.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let wanted = format!("\"{id}\":[\"rita\"]");
    let seen = read_events_until(&mut stream, deadline, |s| s.contains(&wanted)).await;
    assert!(seen.contains("event: presence"), "{seen}");
    let (_, now) = desk.get_as(&ada, "/api/presence").await;
    assert_eq!(now[id.to_string()], json!(["rita"]), "{now}");
    // Closing the case: gone at once.
    assert_eq!(
        beat(reqwest::Method::DELETE, &desk.token, path.clone()).await,
        204
    );
    assert_eq!(desk.get_as(&ada, "/api/presence").await.1, json!({}));
    // A lost connection: the beats stop and the viewer fades within 10 s.
    assert_eq!(
        beat(reqwest::Method::PUT, &desk.token, path.clone()).await,
        204
    );
    let started = tokio::time::Instant::now();
    loop {
        let (_, now) = desk.get_as(&ada, "/api/presence").await;
        if now == json!({}) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still {now}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Bad ids are refused with a JSON error; no session, no presence.
    let resp = desk
        .http
        .put(desk.review("/api/cases/KYC-x/presence"))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "bad_request");
    let anonymous = desk.http.put(desk.review(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_sign_in_is_audited_with_its_client_address_and_user_agent() {
    let desk = start(|_| {}).await;
    // A tab is a legal header character and a control character: it is not recorded.
    let resp = desk
        .http
        .post(desk.review("/api/login"))
        .header("user-agent", "Mozilla/5.0\t(KYC test)")
        .json(&json!({"username": "ada", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, audit) = desk
        .get_as(&token, "/api/audit?action=login&actor=ada")
        .await;
    let detail = &audit["entries"][0]["detail"];
    assert_eq!(detail["address"], "127.0.0.1", "{audit}");
    assert_eq!(detail["user_agent"], "Mozilla/5.0(KYC test)", "{audit}");
}
