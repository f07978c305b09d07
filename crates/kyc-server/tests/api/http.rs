//! End-to-end tests of both listeners over real HTTPS/HTTP on port 0: Ditto ID's request held
//! until a reviewer decides, timeouts, idempotency, the malformed corpus, auth and the review API.

use crate::common;

use std::time::Duration;

use base64::Engine;
use common::{start, submission, PASSWORD};
use kyc_core::config::{AuthMode, OnTimeout};
use kyc_sim::Scenario;
use serde_json::{json, Value};

fn b64_field(payload: &Value, pointer: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(payload.pointer(pointer).unwrap().as_str().unwrap())
        .unwrap()
}

#[tokio::test]
async fn approve_while_held_answers_true_with_the_reference() {
    let desk = start(|_| {}).await;
    let sub = submission(Scenario::Clean, 0);
    let held = desk.post_in_background(&sub.payload);
    let case = desk.wait_for_case(&sub.requester_id).await;
    assert_eq!(case["status"], "pending");
    assert!(case["answer"].is_null());
    let id = case["id"].as_i64().unwrap();

    // The case as the desk shows it carries the payload's values and images.
    let (status, detail) = desk.get(&format!("/api/cases/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["user_id"], sub.user_id);
    assert_eq!(detail["document_number"], sub.document_number);
    let face = sub
        .payload
        .pointer("/kyc_info/face_matcher_result/score")
        .unwrap()
        .as_f64()
        .unwrap();
    assert_eq!(detail["face_match"]["value"].as_f64().unwrap(), face);
    let names: Vec<&str> = detail["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for expected in ["front_page", "portrait_image", "selfie"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(detail["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "Document number"));
    let img = desk
        .http
        .get(desk.review(&format!("/api/cases/{id}/images/selfie")))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(img.headers()["content-type"], "image/jpeg");
    let selfie = b64_field(
        &sub.payload,
        "/kyc_info/liveness_check/video/autocapture_result/selfie_image",
    );
    assert_eq!(img.bytes().await.unwrap().to_vec(), selfie);

    let (status, decided) = desk
        .decide(id, json!({"decision": "approve", "comment": "looks right"}))
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "approved");

    let answer = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        answer,
        json!({"result": true, "reference_number": case["reference"], "user_id": sub.user_id})
    );
    assert!(case["reference"].as_str().unwrap().starts_with("KYC-20"));

    // Deciding again is a conflict; the stored answer records who decided.
    let (status, body) = desk
        .decide(id, json!({"decision": "reject", "reasons": ["other"]}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "already_decided");
    let (_, detail) = desk.get(&format!("/api/cases/{id}")).await;
    assert_eq!(detail["answer"]["by"], "reviewer");
    assert_eq!(detail["answer"]["result"], true);
    assert_eq!(detail["decisions"][0]["by_user"], "rita");
}

#[tokio::test]
async fn reject_while_held_answers_false_and_needs_a_reason() {
    let desk = start(|_| {}).await;
    let sub = submission(Scenario::Expired, 1);
    let held = desk.post_in_background(&sub.payload);
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = desk.decide(id, json!({"decision": "reject"})).await;
    assert_eq!(
        status, 400,
        "a rejection without a reason is refused: {body}"
    );
    let (status, _) = desk
        .decide(
            id,
            json!({"decision": "reject", "reasons": ["document_expired"]}),
        )
        .await;
    assert_eq!(status, 200);
    let answer = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["result"], false);
    assert_eq!(answer["user_id"], sub.user_id.as_str());
}

#[tokio::test]
async fn timeout_answers_the_fallback_and_a_repost_gets_the_same_answer() {
    let desk = start(|c| {
        c.decision.hold_secs = 1;
        c.decision.on_timeout = OnTimeout::Reject;
    })
    .await;
    let sub = submission(Scenario::Mismatch, 2);
    let (status, first) = desk.post(&sub.payload).await;
    assert_eq!(status, 200);
    assert_eq!(first["result"], false);
    let case = desk.wait_for_case(&sub.requester_id).await;
    assert_eq!(case["answer"]["by"], "timeout");
    assert_eq!(
        case["status"], "pending",
        "the case still waits for a (late) decision"
    );

    // A late approval is recorded, but Ditto ID was already told `false`, and a repost hears the same.
    let id = case["id"].as_i64().unwrap();
    let (status, _) = desk.decide(id, json!({"decision": "approve"})).await;
    assert_eq!(status, 200);
    let (status, again) = desk.post(&sub.payload).await;
    assert_eq!(status, 200);
    assert_eq!(again, first);
    assert_eq!(desk.count(), 1);

    // Same requester_id, different body: a conflict, nothing stored.
    let mut changed = sub.payload.clone();
    changed["request_info"]["user_id"] = json!("someone-else");
    let (status, body) = desk.post(&changed).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "requester_id_conflict");
    assert_eq!(desk.count(), 1);

    // Same JSON, but one byte of the selfie differs: also a conflict (images are compared too).
    let selfie_at = "/kyc_info/liveness_check/video/autocapture_result/selfie_image";
    let mut selfie = b64_field(&sub.payload, selfie_at);
    let mid = selfie.len() / 2;
    selfie[mid] ^= 0x01;
    let mut changed = sub.payload.clone();
    *changed.pointer_mut(selfie_at).unwrap() =
        json!(base64::engine::general_purpose::STANDARD.encode(&selfie));
    let (status, body) = desk.post(&changed).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(desk.count(), 1);
}

#[tokio::test]
async fn zero_hold_accept_answers_at_once() {
    let desk = start(|c| {
        c.decision.hold_secs = 0;
        c.decision.on_timeout = OnTimeout::Accept;
    })
    .await;
    let sub = submission(Scenario::Clean, 3);
    let (status, answer) = desk.post(&sub.payload).await;
    assert_eq!(status, 200);
    assert_eq!(answer["result"], true);
}

#[tokio::test]
async fn auto_approve_clean_decides_clean_cases_only() {
    let desk = start(|c| {
        c.decision.hold_secs = 1;
        c.decision.on_timeout = OnTimeout::Reject;
        c.decision.auto_approve = kyc_core::config::AutoApprove::Clean;
    })
    .await;
    let clean = submission(Scenario::Clean, 4);
    let (_, answer) = desk.post(&clean.payload).await;
    assert_eq!(answer["result"], true);
    let case = desk.wait_for_case(&clean.requester_id).await;
    assert_eq!(case["answer"]["by"], "auto");
    assert_eq!(case["status"], "approved");

    let expired = submission(Scenario::Expired, 5);
    let (_, answer) = desk.post(&expired.payload).await;
    assert_eq!(
        answer["result"], false,
        "a flagged case waits and times out"
    );
    let case = desk.wait_for_case(&expired.requester_id).await;
    assert_eq!(case["answer"]["by"], "timeout");
}

pub(crate) fn png_bomb() -> String {
    // A real PNG header claiming 50000 x 50000 pixels (the IHDR CRC is recomputed).
    let mut png = Vec::new();
    image::RgbImage::new(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &png[12..29] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    png[29..33].copy_from_slice(&(!crc).to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(png)
}

#[tokio::test]
async fn malformed_corpus_is_refused_with_json_errors_and_nothing_stored() {
    let desk = start(|c| c.receiver.max_body_mb = 1).await;
    let good = submission(Scenario::Clean, 6).payload;
    let with = |pointer: &str, v: Value| {
        let mut p = good.clone();
        *p.pointer_mut(pointer).unwrap() = v;
        p
    };
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (
            b"{\"request_info\": {".to_vec(),
            "application/json",
            400,
            "invalid_json",
        ),
        (
            b"[1, 2, 3]".to_vec(),
            "application/json",
            400,
            "invalid_payload",
        ),
        (
            serde_json::to_vec(&with("/request_info/user_id", json!(42))).unwrap(),
            "application/json",
            400,
            "request_info.user_id",
        ),
        (
            serde_json::to_vec(&with("/request_info/requester_id", json!(""))).unwrap(),
            "application/json",
            400,
            "request_info.requester_id",
        ),
        (
            serde_json::to_vec(&json!({"request_info": {"user_id": "u"}})).unwrap(),
            "application/json",
            400,
            "request_info.requester_id",
        ),
        (
            serde_json::to_vec(&with(
                "/kyc_info/document/document_info/document_images/portrait_image",
                json!("not base64 at all!"),
            ))
            .unwrap(),
            "application/json",
            400,
            "kyc_info.document.document_info.document_images.portrait_image",
        ),
        (
            serde_json::to_vec(&good).unwrap(),
            "text/plain",
            415,
            "unsupported_media_type",
        ),
        (
            vec![b' '; 1024 * 1024 + 10],
            "application/json",
            413,
            "payload_too_large",
        ),
    ];
    // The same limit holds for a chunked body that declares no length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..17).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let resp = desk
        .http
        .post(desk.receiver())
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(resp.status(), 413, "a chunked over-long body");
    for (body, ct, want_status, want_text) in cases {
        let (status, err) = desk.post_raw(body, ct).await;
        assert_eq!(status, want_status, "{want_text}: {err}");
        assert!(
            err["error"].is_string() && err["message"].is_string(),
            "{err}"
        );
        assert!(
            err.to_string().contains(want_text),
            "{want_text} not in {err}"
        );
        assert!(
            !err.to_string().contains("Document number"),
            "no personal data echoed"
        );
    }
    assert_eq!(desk.count(), 0);
}

#[tokio::test]
async fn receiver_auth_modes_refuse_missing_and_wrong_credentials() {
    let token = "0123456789abcdef0123456789abcdef";
    let desk = start(|c| {
        c.decision.hold_secs = 0;
        c.receiver.auth.mode = AuthMode::Bearer;
        c.receiver.auth.token = Some(token.into());
    })
    .await;
    let sub = submission(Scenario::Clean, 7);
    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token-wrong"),
        Some("Basic dXNlcjpwYXNz"),
    ] {
        let mut req = desk.http.post(desk.receiver()).json(&sub.payload);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unauthorized");
    }
    assert_eq!(desk.count(), 0);
    let resp = desk
        .http
        .post(desk.receiver())
        .bearer_auth(token)
        .json(&sub.payload)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let basic = start(|c| {
        c.decision.hold_secs = 0;
        c.receiver.auth.mode = AuthMode::Basic;
        c.receiver.auth.username = Some("ditto".into());
        c.receiver.auth.password = Some("s3cret-pass".into());
    })
    .await;
    let wrong = basic
        .http
        .post(basic.receiver())
        .basic_auth("ditto", Some("nope"))
        .json(&sub.payload)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = basic
        .http
        .post(basic.receiver())
        .basic_auth("ditto", Some("s3cret-pass"))
        .json(&sub.payload)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn review_api_needs_a_session() {
    let desk = start(|_| {}).await;
    for path in [
        "/api/cases",
        "/api/cases/1",
        "/api/cases/1/images/selfie",
        "/api/events",
        "/api/me",
    ] {
        let resp = desk.http.get(desk.review(path)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let resp = desk
            .http
            .get(desk.review(path))
            .bearer_auth("forged")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
    }
    let resp = desk
        .http
        .post(desk.review("/api/cases/1/decision"))
        .json(&json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = desk
        .http
        .post(desk.review("/api/login"))
        .json(&json!({"username": "rita", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The cookie from login works for the browser UI.
    let resp = desk
        .http
        .post(desk.review("/api/login"))
        .json(&json!({"username": "rita", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let resp = desk
        .http
        .get(desk.review("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["role"], "reviewer");
}

/// Reads the event stream until `done` says what was read is enough (or the deadline fails it).
pub(crate) async fn read_events_until(
    stream: &mut reqwest::Response,
    deadline: tokio::time::Instant,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut seen = String::new();
    while !done(&seen) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn events_stream_announces_new_cases() {
    let desk = start(|c| c.decision.hold_secs = 0).await;
    let mut stream = desk
        .http
        .get(desk.review("/api/events"))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let sub = submission(Scenario::Clean, 8);
    let (status, _) = desk.post(&sub.payload).await;
    assert_eq!(status, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let seen = read_events_until(&mut stream, deadline, |seen| {
        seen.contains("event: case.created") && seen.contains("event: case.answered")
    })
    .await;
    assert!(seen.contains(&sub.requester_id));

    // An erasure is announced too, with the id and reference only.
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let admin = desk.login("ada").await;
    let (status, body) = desk
        .post_as(
            &admin,
            &format!("/api/cases/{id}/erase"),
            json!({"reason": "DSR 1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let seen = read_events_until(&mut stream, deadline, |seen| {
        seen.contains("event: case.erased") && seen.ends_with("\n\n")
    })
    .await;
    let data = seen[seen.find("event: case.erased").unwrap()..]
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["type"], "case.erased");
    assert_eq!(event["case"]["id"], id);
    assert_eq!(event["case"]["reference"], body["erased"]);
    assert_eq!(event["case"]["status"], "erased");
    assert!(
        !data.contains(&sub.surname) && !data.contains(&sub.requester_id),
        "{data}"
    );
}

#[tokio::test]
async fn many_held_requests_do_not_block_each_other_or_the_review_api() {
    let desk = start(|_| {}).await;
    let subs: Vec<_> = (0..12)
        .map(|i| submission(Scenario::Mixed, 100 + i))
        .collect();
    let mut held = Vec::new();
    for s in &subs {
        held.push(desk.post_in_background(&s.payload));
    }
    let mut ids = Vec::new();
    for s in &subs {
        ids.push(
            desk.wait_for_case(&s.requester_id).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // All twelve are held; the review API still answers.
    let (status, page) = desk.get("/api/cases?status=pending&limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(page["cases"].as_array().unwrap().len(), 5);
    assert!(page["next"].is_string());
    let (_, rest) = desk
        .get(&format!(
            "/api/cases?status=pending&limit=50&cursor={}",
            page["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rest["cases"].as_array().unwrap().len(), 7);
    for (i, id) in ids.iter().enumerate().rev() {
        let body = if i % 2 == 0 {
            json!({"decision": "approve"})
        } else {
            json!({"decision": "reject", "reasons": ["other"]})
        };
        assert_eq!(desk.decide(*id, body).await.0, 200);
    }
    for (i, h) in held.into_iter().enumerate() {
        let answer = tokio::time::timeout(Duration::from_secs(10), h)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer["result"], i % 2 == 0, "case {i}");
        assert_eq!(answer["user_id"], subs[i].user_id.as_str());
    }
}

#[tokio::test]
async fn a_case_stops_being_held_when_ditto_id_hangs_up() {
    let desk = start(|c| {
        c.decision.hold_secs = 60;
    })
    .await;
    let sub = submission(Scenario::Clean, 250);
    let request = desk.post_in_background(&sub.payload);
    let id = desk.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let held_ids = |page: &Value| -> Vec<i64> {
        page["held"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    let (_, page) = desk.get("/api/cases").await;
    assert_eq!(held_ids(&page), [id], "{page}");
    // Ditto ID gives up (its connection closes): the stored hold ends with the request, so the
    // case is no longer pinned as waiting and may be erased, long before the window's end.
    request.abort();
    let mut page = Value::Null;
    for _ in 0..100 {
        page = desk.get("/api/cases").await.1;
        if held_ids(&page).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held_ids(&page), Vec::<i64>::new(), "{page}");
    let (status, detail) = desk.get(&format!("/api/cases/{id}")).await;
    assert_eq!(status, 200);
    assert!(detail.get("hold_until").is_none(), "{detail}");
}

#[tokio::test]
async fn queue_filters_held_cases_and_reason_codes() {
    let desk = start(|c| {
        c.decision.hold_secs = 30;
    })
    .await;
    // Three held requests; two get decided (answered by the reviewer), one stays held.
    let subs: Vec<_> = (0..3)
        .map(|i| submission(Scenario::Mixed, 200 + i))
        .collect();
    let mut held = Vec::new();
    for s in &subs {
        held.push(desk.post_in_background(&s.payload));
    }
    let mut ids = Vec::new();
    for s in &subs {
        ids.push(
            desk.wait_for_case(&s.requester_id).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let (_, page) = desk.get("/api/cases?status=pending").await;
    assert_eq!(page["held"].as_array().unwrap().len(), 3, "{page}");
    assert!(page["held"][0]["hold_until"].is_string());
    // A first page that does not hold every match reads the waiting cases on their own.
    let (_, short) = desk.get("/api/cases?status=pending&limit=1").await;
    assert!(short["next"].is_string(), "{short}");
    assert_eq!(short["held"], page["held"], "{short}");
    // Search and filters apply to the waiting cases too: nothing matches "zzzz".
    let (_, none) = desk.get("/api/cases?status=pending&q=zzzz").await;
    assert_eq!(none["held"], json!([]), "{none}");
    assert_eq!(none["cases"], json!([]), "{none}");
    let reference = page["held"][0]["reference"].as_str().unwrap().to_string();
    let (_, one) = desk
        .get(&format!("/api/cases?status=pending&q={reference}"))
        .await;
    let held_refs: Vec<&str> = one["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reference"].as_str().unwrap())
        .collect();
    assert_eq!(held_refs, [reference.as_str()], "{one}");
    // "Assigned to me": the case rita took, held or not.
    let (status, _) = desk
        .post_as(
            &desk.token,
            &format!("/api/cases/{}/assign", ids[0]),
            json!({"to": "rita"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, mine) = desk.get("/api/cases?status=pending&assignee=me").await;
    let mine_ids = |k: &str| -> Vec<i64> {
        mine[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(mine_ids("held"), [ids[0]], "{mine}");
    assert_eq!(mine_ids("cases"), [ids[0]], "{mine}");
    // Unknown reason codes are refused; configured ones are accepted.
    let (status, body) = desk
        .decide(
            ids[1],
            json!({"decision": "reject", "reasons": ["because"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        desk.decide(
            ids[1],
            json!({"decision": "reject", "reasons": ["document_expired"]})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        desk.decide(ids[2], json!({"decision": "approve"})).await.0,
        200
    );
    held.remove(2).await.unwrap();
    held.remove(1).await.unwrap();
    // Filters.
    let count = |v: &Value| v["cases"].as_array().unwrap().len();
    let (_, v) = desk.get("/api/cases?status=all&answered_by=reviewer").await;
    assert_eq!(count(&v), 2);
    let (_, v) = desk.get("/api/cases?status=all&answered_by=none").await;
    assert_eq!(count(&v), 1);
    let (_, v) = desk.get("/api/cases?status=all&flag=check_failed").await;
    assert!(count(&v) >= 1 && count(&v) < 3, "{v}");
    let (_, v) = desk
        .get(&format!(
            "/api/cases?status=all&user_id={}",
            subs[0].user_id
        ))
        .await;
    assert_eq!(count(&v), 1);
    let (_, v) = desk
        .get(&format!(
            "/api/cases?status=all&q={}",
            &subs[0].document_number
        ))
        .await;
    assert_eq!(v["cases"][0]["requester_id"], subs[0].requester_id.as_str());
    let today = kyc_domain::time::rfc3339(kyc_store::timefmt::now_ms())[..10].to_string();
    let (_, v) = desk
        .get(&format!("/api/cases?status=all&from={today}&to={today}"))
        .await;
    assert_eq!(count(&v), 3);
    let (_, v) = desk.get("/api/cases?status=all&to=2000-01-01").await;
    assert_eq!(count(&v), 0);
    let (status, _) = desk.get("/api/cases?from=yesterday").await;
    assert_eq!(status, 400);
    let (_, v) = desk.get("/api/cases?status=approved").await;
    assert_eq!(
        v["held"].as_array().unwrap().len(),
        0,
        "held cases are pending, not approved"
    );
    let (_, facets) = desk.get("/api/facets").await;
    assert!(!facets["document_types"].as_array().unwrap().is_empty());
    let (_, detail) = desk.get(&format!("/api/cases/{}", ids[0])).await;
    assert!(detail["hold_until"].is_string());
    assert!(detail["history"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_team_review_listener_is_https_and_the_local_window_gets_loopback_http() {
    let desk = start(|c| c.review.listen = "0.0.0.0:0".parse().unwrap()).await;
    let r = &desk.running;
    assert!(r.review_https);
    assert!(r.review_url().starts_with("https://"));
    assert!(r.local_review_addr.ip().is_loopback() && r.local_review_addr != r.review_addr);
    // The team URL speaks TLS with the receiver's certificate (the harness logged in through it).
    assert!(!desk.token.is_empty());
    let plain = reqwest::Client::new();
    let resp = plain
        .post(format!("{}/api/login", r.local_review_url()))
        .json(&json!({"username": "rita", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        !cookie.contains("Secure"),
        "a loopback HTTP cookie must not be Secure: {cookie}"
    );
}

#[tokio::test]
async fn openapi_describes_both_apis() {
    let desk = start(|_| {}).await;
    let resp = desk
        .http
        .get(desk.review("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, doc) = desk.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/kyc",
        "/kyc-service-access-token-endpoint",
        "/api/login",
        "/api/cases",
        "/api/cases/{id}",
        "/api/cases/{id}/decision",
        "/api/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    for schema in ["CaseSummary", "CaseDetail", "ErrorBody", "Flag"] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema} missing"
        );
    }
}
