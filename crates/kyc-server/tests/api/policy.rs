//! The decision engine over real HTTPS: automatic rules and which rule decided, late decisions,
//! user-id linking, history flags, and the signed outbound webhook with retries and resend.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use common::{start, submission};
use kyc_core::config::{AutoApprove, Config, OnTimeout};
use kyc_sim::Scenario;
use serde_json::{json, Value};

const SECRET: &str = "webhook-secret-0123456789";

/// A stand-in for the enterprise's system: records every delivery, fails the first `fail` ones.
#[derive(Clone, Default)]
struct Hook {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    fail: Arc<Mutex<u32>>,
}

impl Hook {
    async fn start(fail: u32) -> (Hook, String) {
        let hook = Hook::default();
        *hook.fail.lock().unwrap() = fail;
        let h = hook.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let h = h.clone();
                async move {
                    h.seen.lock().unwrap().push((headers, body));
                    let mut f = h.fail.lock().unwrap();
                    if *f > 0 {
                        *f -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (hook, url)
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    async fn wait_for(&self, n: usize) {
        for _ in 0..400 {
            if self.count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("webhook got {} deliveries, expected {n}", self.count());
    }
}

fn with_hook(url: String, max_attempts: u32) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.notify.url = url;
        c.notify.secret = Some(SECRET.into());
        c.notify.retry_base_ms = 50;
        c.notify.max_attempts = max_attempts;
    }
}

async fn deliveries(d: &common::Desk) -> Vec<Value> {
    d.get("/api/deliveries").await.1["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_delivery_status(d: &common::Desk, status: &str) -> Value {
    for _ in 0..400 {
        if let Some(x) = deliveries(d)
            .await
            .into_iter()
            .find(|x| x["status"] == status)
        {
            return x;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no delivery reached {status}: {:?}", deliveries(d).await);
}

#[tokio::test]
async fn held_then_timed_out_then_decided_late_is_recorded_and_delivered_signed() {
    let (hook, url) = Hook::start(0).await;
    let d = start(|c| {
        c.decision.hold_secs = 1;
        c.decision.on_timeout = OnTimeout::Accept;
        with_hook(url, 5)(c);
    })
    .await;
    let sub = submission(Scenario::Mismatch, 300);
    let (_, answer) = d.post(&sub.payload).await;
    assert_eq!(
        answer["result"], true,
        "timeout: accepted for offline review"
    );
    let case = d.wait_for_case(&sub.requester_id).await;
    assert_eq!(case["answer"]["by"], "timeout");
    let id = case["id"].as_i64().unwrap();
    assert_eq!(hook.count(), 0, "nothing final yet");

    // The late rejection is recorded; Ditto ID's answer stays what it was told.
    let (status, detail) = d
        .decide(
            id,
            json!({"decision": "reject", "reasons": ["face_mismatch"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["status"], "rejected");
    assert_eq!(detail["answer"]["result"], true);
    assert_eq!(detail["answer"]["by"], "timeout");

    hook.wait_for(1).await;
    let (headers, body) = hook.seen.lock().unwrap()[0].clone();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["event"], "case.decided");
    assert_eq!(v["decision"], "reject");
    assert_eq!(v["late"], true);
    assert_eq!(v["ditto_answer"]["result"], true);
    assert_eq!(v["reference"], case["reference"]);
    // The signature verifies: HMAC-SHA256(secret, "<timestamp>.<body>").
    let ts: i64 = headers["x-kyc-desk-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((ts - kyc_store::timefmt::now_ms() / 1000).abs() < 60);
    let sig = headers["x-kyc-desk-signature"].to_str().unwrap();
    assert_eq!(sig, kyc_server::notify::sign(SECRET, ts, &body));
    assert_ne!(
        sig,
        kyc_server::notify::sign("another-secret-xxxxxxxx", ts, &body)
    );
    let x = wait_delivery_status(&d, "delivered").await;
    assert_eq!(x["attempts"], 1);
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_then_resent_by_hand() {
    let (hook, url) = Hook::start(3).await;
    let d = start(|c| {
        c.decision.hold_secs = 0;
        c.decision.auto_approve = AutoApprove::Clean;
        with_hook(url, 2)(c);
    })
    .await;
    let sub = submission(Scenario::Clean, 301);
    let (_, answer) = d.post(&sub.payload).await;
    assert_eq!(answer["result"], true);
    // Two attempts, both refused: the delivery is marked failed with what went wrong.
    let failed = wait_delivery_status(&d, "failed").await;
    assert_eq!(failed["attempts"], 2);
    assert_eq!(failed["last_status"], 500);
    assert_eq!(failed["last_error"], "HTTP 500");
    assert_eq!(hook.count(), 2);
    // A reviewer may not resend; an admin may. The receiver still fails once, then accepts.
    let id = failed["id"].as_i64().unwrap();
    let resp = d
        .http
        .post(d.review(&format!("/api/deliveries/{id}/resend")))
        .bearer_auth(&d.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let admin = d.login("ada").await;
    let resp = d
        .http
        .post(d.review(&format!("/api/deliveries/{id}/resend")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let delivered = wait_delivery_status(&d, "delivered").await;
    assert_eq!(delivered["attempts"], 2, "one more failure, then success");
    assert_eq!(hook.count(), 4);
    let v: Value = serde_json::from_str(&hook.seen.lock().unwrap()[3].1).unwrap();
    assert_eq!(v["decided_by"], "auto");
    assert_eq!(v["rule"], "auto_approve:clean");
    assert_eq!(v["late"], false);
}

#[tokio::test]
async fn a_reviewer_can_link_the_user_to_another_id_on_approval() {
    let d = start(|_| {}).await;
    let sub = submission(Scenario::Clean, 302);
    let held = d.post_in_background(&sub.payload);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, _) = d
        .decide(
            id,
            json!({"decision": "reject", "reasons": ["other"], "user_id": "CUST-1"}),
        )
        .await;
    assert_eq!(status, 400, "linking goes with an approval only");
    let (status, _) = d
        .decide(id, json!({"decision": "approve", "user_id": "bad\u{7}id"}))
        .await;
    assert_eq!(status, 400);
    let (status, detail) = d
        .decide(id, json!({"decision": "approve", "user_id": "CUST-000042"}))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["decisions"][0]["link_user_id"], "CUST-000042");
    let answer = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["user_id"], "CUST-000042");
    assert_eq!(answer["result"], true);
}

#[tokio::test]
async fn the_customer_id_linked_on_approval_fills_the_primary_and_login_id_locators() {
    let d = start(|c| {
        let a = &mut c.receiver.answer;
        a.primary_user_id = "primaryUserId".into();
        a.login_ids = "loginIds".into();
        a.for_user_id = "forUserId".into();
        a.orchestration_use_case = "useCase".into();
        a.use_case_approved = "onboarding-complete".into();
        a.use_case_rejected = "manual-review".into();
    })
    .await;
    let sub = submission(Scenario::Clean, 304);
    let held = d.post_in_background(&sub.payload);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, detail) = d
        .decide(id, json!({"decision": "approve", "user_id": "CUST-000043"}))
        .await;
    assert_eq!(status, 200, "{detail}");
    let answer = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    let sent = sub.payload["request_info"]["user_id"].clone();
    assert_eq!(
        answer["user_id"], sent,
        "no rename while the primary id carries the link"
    );
    assert_eq!(answer["primaryUserId"], "CUST-000043");
    assert_eq!(answer["loginIds"], json!([sent, "CUST-000043"]));
    assert_eq!(answer["forUserId"], sent);
    assert_eq!(answer["useCase"], "onboarding-complete");
    // A rejection names its own use case and no primary id.
    let other = submission(Scenario::Clean, 305);
    let held = d.post_in_background(&other.payload);
    let id = d.wait_for_case(&other.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, _) = d
        .decide(
            id,
            json!({"decision": "reject", "reasons": ["other"], "comment": "x"}),
        )
        .await;
    assert_eq!(status, 200);
    let answer = held.await.unwrap();
    assert_eq!(answer["useCase"], "manual-review");
    assert!(answer.get("primaryUserId").is_none(), "{answer}");
}

#[tokio::test]
async fn history_flags_show_reused_documents_and_returning_users() {
    let d = start(|c| c.decision.hold_secs = 0).await;
    let first = submission(Scenario::Clean, 303);
    assert_eq!(d.post(&first.payload).await.0, 200);
    // Same person again (new request), and the same document under another user id.
    let mut again = first.payload.clone();
    again["request_info"]["requester_id"] = json!("again-303");
    assert_eq!(d.post(&again).await.0, 200);
    let mut other = first.payload.clone();
    other["request_info"]["requester_id"] = json!("other-303");
    other["request_info"]["user_id"] = json!("someone.else@example.com");
    assert_eq!(d.post(&other).await.0, 200);
    let flags = |c: &Value| -> Vec<String> {
        c["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let c3 = d.wait_for_case("other-303").await;
    assert!(flags(&c3).contains(&"document_reused".to_string()), "{c3}");
    let reused = |c: &Value| -> Value {
        c["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "document_reused")
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(reused(&c3)["severity"], "error");
    let c1 = d.wait_for_case(&first.requester_id).await;
    let c2 = d.wait_for_case("again-303").await;
    assert_eq!(
        reused(&c3)["cases"],
        json!([c2["reference"], c1["reference"]]),
        "names the other user's earlier cases, newest first: {c3}"
    );
    // The same user's second case is no reuse by itself; the other user's later one flags it back.
    assert!(flags(&c2).contains(&"user_seen_before".to_string()), "{c2}");
    for earlier in [&c1, &c2] {
        assert_eq!(
            reused(earlier)["cases"],
            json!([c3["reference"]]),
            "{earlier}"
        );
    }
}

/// A document photo posted again for another user, its number edited and the picture re-encoded
/// smaller, is found by its portrait's perceptual hash (the number's tag cannot see it); another
/// person's document is not.
#[tokio::test]
async fn a_document_photo_reused_with_an_edited_number_is_found_by_its_portrait() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    const IMAGES: &str = "/kyc_info/document/document_info/document_images";
    let reencoded = |payload: &Value, name: &str| {
        let sent = payload.pointer(&format!("{IMAGES}/{name}")).unwrap();
        let bytes = b64.decode(sent.as_str().unwrap()).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        let smaller = img.resize(
            img.width() * 4 / 5,
            img.height() * 4 / 5,
            image::imageops::FilterType::Lanczos3,
        );
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
            .encode_image(&smaller.to_rgb8())
            .unwrap();
        Value::String(b64.encode(out))
    };
    let d = start(|c| c.decision.hold_secs = 0).await;
    let first = submission(Scenario::Clean, 340);
    assert_eq!(d.post(&first.payload).await.0, 200);
    let mut forged = submission(Scenario::Clean, 341).payload;
    for name in ["portrait_image", "front_page"] {
        *forged.pointer_mut(&format!("{IMAGES}/{name}")).unwrap() = reencoded(&first.payload, name);
    }
    forged["request_info"]["user_id"] = json!("forger@example.com");
    let forged_rid = forged["request_info"]["requester_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(d.post(&forged).await.0, 200);
    let stranger = submission(Scenario::Clean, 342);
    assert_eq!(d.post(&stranger.payload).await.0, 200);
    // Two other users whose portrait is the same plain placeholder: no photo, no finding.
    let mut placeholder = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut placeholder, 80)
        .encode_image(&image::RgbImage::from_pixel(
            300,
            400,
            image::Rgb([210, 210, 214]),
        ))
        .unwrap();
    let mut plain_rids = Vec::new();
    for i in [343, 344] {
        let mut p = submission(Scenario::Clean, i).payload;
        *p.pointer_mut(&format!("{IMAGES}/portrait_image")).unwrap() =
            Value::String(b64.encode(&placeholder));
        plain_rids.push(
            p["request_info"]["requester_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        assert_eq!(d.post(&p).await.0, 200);
    }

    let finding = |c: &Value, code: &str| -> Value {
        c["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let c1 = d.wait_for_case(&first.requester_id).await;
    let c2 = d.wait_for_case(&forged_rid).await;
    let c3 = d.wait_for_case(&stranger.requester_id).await;
    let reused = finding(&c2, "portrait_reused");
    assert_eq!(reused["severity"], "error", "{c2}");
    assert_eq!(reused["cases"], json!([c1["reference"]]));
    assert_eq!(
        finding(&c2, "document_reused"),
        Value::Null,
        "another number"
    );
    // The earlier case is flagged back, naming the new one; another person's document is no match.
    assert_eq!(
        finding(&c1, "portrait_reused")["cases"],
        json!([c2["reference"]])
    );
    assert_eq!(finding(&c3, "portrait_reused"), Value::Null, "{c3}");
    for rid in &plain_rids {
        let c = d.wait_for_case(rid).await;
        assert_eq!(finding(&c, "portrait_reused"), Value::Null, "{c}");
    }
}

#[tokio::test]
async fn simultaneous_submissions_of_one_document_do_not_miss_each_other() {
    let d = start(|c| c.decision.hold_secs = 0).await;
    for pair in 0..6 {
        let first = submission(Scenario::Clean, 320 + pair);
        let mut second = first.payload.clone();
        second["request_info"]["requester_id"] = json!(format!("twin-{pair}"));
        second["request_info"]["user_id"] = json!(format!("twin-{pair}@example.com"));
        let (a, b) = tokio::join!(d.post(&first.payload), d.post(&second));
        assert_eq!((a.0, b.0), (200, 200));
        // Whichever was stored second names the other.
        let cases = [
            d.wait_for_case(&first.requester_id).await,
            d.wait_for_case(&format!("twin-{pair}")).await,
        ];
        let later = cases.iter().max_by_key(|c| c["id"].as_i64()).unwrap();
        let earlier = cases.iter().min_by_key(|c| c["id"].as_i64()).unwrap();
        let reused = |c: &Value| {
            c["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "document_reused")
        };
        assert!(reused(later), "pair {pair}: {later}");
        assert!(later["flags"]
            .to_string()
            .contains(earlier["reference"].as_str().unwrap()));
        // The earlier one is flagged back in the same transaction, naming the later.
        assert!(reused(earlier), "pair {pair}: {earlier}");
        assert!(earlier["flags"]
            .to_string()
            .contains(later["reference"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn the_mixed_scenario_carries_its_flags_and_answers_follow_the_policy() {
    let d = start(|c| {
        c.decision.hold_secs = 1;
        c.decision.on_timeout = OnTimeout::Reject;
        c.decision.auto_approve = AutoApprove::Clean;
        c.decision.auto_reject = vec!["document_expired".into(), "mrz_check_digit".into()];
    })
    .await;
    for i in 0..8 {
        let sub = submission(Scenario::Mixed, 400 + i);
        let (status, answer) = d.post(&sub.payload).await;
        assert_eq!(status, 200);
        let case = d.wait_for_case(&sub.requester_id).await;
        let (_, detail) = d.get(&format!("/api/cases/{}", case["id"])).await;
        let codes: Vec<&str> = detail["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        let serious = detail["flags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] != "info")
            .count();
        let rule = detail["decisions"][0]["rule"].as_str();
        let by = detail["answer"]["by"].as_str().unwrap();
        let what = format!("{} #{i}: {codes:?}", sub.scenario.as_str());
        match sub.scenario {
            Scenario::Clean => {
                assert_eq!(serious, 0, "{what}");
                assert_eq!(
                    (answer["result"].as_bool(), by, rule),
                    (Some(true), "auto", Some("auto_approve:clean")),
                    "{what}"
                );
            }
            Scenario::Expired => {
                assert!(codes.contains(&"document_expired"), "{what}");
                assert_eq!(
                    (answer["result"].as_bool(), by, rule),
                    (Some(false), "auto", Some("auto_reject:document_expired")),
                    "{what}"
                );
            }
            Scenario::Tampered => {
                assert!(
                    codes.contains(&"mrz_check_digit") && codes.contains(&"check_failed"),
                    "{what}"
                );
                assert_eq!(
                    (answer["result"].as_bool(), by, rule),
                    (Some(false), "auto", Some("auto_reject:mrz_check_digit")),
                    "{what}"
                );
            }
            Scenario::Mismatch => {
                assert!(
                    codes.contains(&"face_mismatch") && codes.contains(&"mrz_mismatch"),
                    "{what}"
                );
                assert_eq!(
                    (answer["result"].as_bool(), by),
                    (Some(false), "timeout"),
                    "{what}: held for a human, then the fallback"
                );
                assert!(detail["decisions"].as_array().unwrap().is_empty());
            }
            Scenario::Mixed => unreachable!(),
        }
    }
}

#[tokio::test]
async fn four_eyes_blocks_a_single_person_approval_and_passes_with_two() {
    let d = start(|c| c.decision.four_eyes = true).await;
    // A flagged case (expired document) is held for Ditto ID.
    let sub = submission(Scenario::Expired, 600);
    let held = d.post_in_background(&sub.payload);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, detail) = d.decide(id, json!({"decision": "approve"})).await;
    assert_eq!(status, 200);
    assert_eq!(detail["status"], "pending", "a first approval is not final");
    assert_eq!(detail["decisions"][0]["final"], false);
    // The same person again: refused.
    let (status, body) = d.decide(id, json!({"decision": "approve"})).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "four_eyes");
    assert!(!held.is_finished(), "Ditto ID still waits");
    // The checker's queue lists it with who gave the first approval; the refusal is audited.
    let (_, queue) = d.get("/api/cases?awaiting_second=true").await;
    assert_eq!(queue["cases"].as_array().unwrap().len(), 1, "{queue}");
    assert_eq!(queue["cases"][0]["id"], id);
    assert_eq!(queue["cases"][0]["first_approval_by"], "rita");
    let admin = d.login("ada").await;
    let (_, audit) = d.get_as(&admin, "/api/audit?action=decision.refused").await;
    let refused = &audit["entries"][0];
    assert_eq!(
        (refused["actor"].as_str(), refused["case_id"].as_i64()),
        (Some("rita"), Some(id)),
        "{audit}"
    );
    // A second, different person: final, and Ditto ID hears true.
    let resp = d
        .http
        .post(d.review(&format!("/api/cases/{id}/decision")))
        .bearer_auth(&admin)
        .json(&json!({"decision": "approve", "comment": "expiry checked with the issuer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["result"], true);
    let (_, queue) = d.get("/api/cases?awaiting_second=true").await;
    assert_eq!(
        queue["cases"],
        json!([]),
        "approved twice: out of the checker's queue"
    );
    // A clean case needs only one approval.
    let clean = submission(Scenario::Clean, 601);
    let held = d.post_in_background(&clean.payload);
    let id = d.wait_for_case(&clean.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, detail) = d.decide(id, json!({"decision": "approve"})).await;
    assert_eq!((status, detail["status"].as_str()), (200, Some("approved")));
    assert_eq!(held.await.unwrap()["result"], true);
}

#[tokio::test]
async fn overrides_and_the_reason_other_need_a_comment() {
    let d = start(|c| c.decision.hold_secs = 0).await;
    let sub = submission(Scenario::Mismatch, 910);
    assert_eq!(d.post(&sub.payload).await.0, 200);
    let case = d.wait_for_case(&sub.requester_id).await;
    let id = case["id"].as_i64().unwrap();
    let errors: Vec<&str> = case["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        !errors.is_empty(),
        "a mismatch case has error findings: {case}"
    );
    let path = format!("/api/cases/{id}/decision");
    let decide = |body: Value| d.post_as(&d.token, &path, body);
    // Approving over error findings without a word: refused, naming them; nothing is recorded.
    let (status, body) = decide(json!({"decision": "approve"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "bad_request");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("comment:") && message.contains(errors[0]),
        "{message}"
    );
    let (status, body) = decide(json!({"decision": "approve", "comment": "   "})).await;
    assert_eq!(status, 400, "{body}");
    // "other" without a comment: refused too.
    let (status, body) = decide(json!({"decision": "reject", "reasons": ["other"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("other"),
        "{body}"
    );
    let (_, now) = d.get(&format!("/api/cases/{id}")).await;
    assert_eq!(now["status"], "pending");
    assert_eq!(now["decisions"], json!([]), "nothing half-stored");
    // With a reason for the override: accepted, and the comment is on the record.
    let (status, body) =
        decide(json!({"decision": "approve", "comment": "photo retaken in branch"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
}

#[tokio::test]
async fn every_case_the_fallback_answered_is_pinned_whether_or_not_the_page_holds_it() {
    let d = start(|c| {
        c.decision.hold_secs = 1;
        c.decision.on_timeout = OnTimeout::Accept;
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let sub = submission(Scenario::Clean, 930 + i);
        let (status, answer) = d.post(&sub.payload).await;
        assert_eq!(status, 200, "{answer}");
        ids.push(
            d.wait_for_case(&sub.requester_id).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let pinned = |page: &Value| -> Vec<i64> {
        page["needs_review"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    // The whole queue on its first page, and a first page of one with a next page.
    for path in [
        "/api/cases?status=pending",
        "/api/cases?status=pending&limit=1",
    ] {
        let (_, page) = d.get(path).await;
        assert_eq!(pinned(&page), ids, "{path}: {page}");
    }
    let (_, short) = d.get("/api/cases?status=all&limit=1").await;
    assert!(short["next"].is_string(), "{short}");
    assert_eq!(pinned(&short), ids, "{short}");
    // Later pages pin nothing.
    let next = short["next"].as_str().unwrap();
    let (_, later) = d
        .get(&format!("/api/cases?status=all&limit=1&cursor={next}"))
        .await;
    assert_eq!(pinned(&later), Vec::<i64>::new(), "{later}");
}

#[tokio::test]
async fn a_timeout_answer_needs_review_and_a_contradicting_late_decision_is_a_conflict() {
    let d = start(|c| {
        c.decision.hold_secs = 1;
        c.decision.on_timeout = OnTimeout::Accept;
    })
    .await;
    let sub = submission(Scenario::Clean, 920);
    let (status, answer) = d.post(&sub.payload).await;
    assert_eq!(
        (status, answer["result"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let admin = d.login("ada").await;
    // Pinned as "needs review" in the pending list (and its filters apply).
    let (_, page) = d.get("/api/cases?status=pending").await;
    let pinned: Vec<i64> = page["needs_review"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(pinned, [id], "{page}");
    let (_, none) = d.get("/api/cases?status=pending&q=zzzz").await;
    assert_eq!(none["needs_review"], json!([]));
    let (_, stats) = d.get_as(&admin, "/api/stats").await;
    assert_eq!(
        (stats["needs_review"].as_u64(), stats["conflicts"].as_u64()),
        (Some(1), Some(0)),
        "{stats}"
    );
    // A late rejection contradicts the `true` Ditto ID got: a conflict, counted.
    let (status, detail) = d
        .decide(
            id,
            json!({"decision": "reject", "reasons": ["face_mismatch"]}),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["conflict"], true, "{detail}");
    assert_eq!(
        detail["answer"]["result"], true,
        "Ditto ID's answer is not changed"
    );
    let (_, page) = d.get("/api/cases?status=all").await;
    assert_eq!(
        page["needs_review"],
        json!([]),
        "decided: no longer needs review"
    );
    assert_eq!(page["cases"][0]["conflict"], true);
    let (_, stats) = d.get_as(&admin, "/api/stats").await;
    assert_eq!(
        (stats["needs_review"].as_u64(), stats["conflicts"].as_u64()),
        (Some(0), Some(1)),
        "{stats}"
    );
}
