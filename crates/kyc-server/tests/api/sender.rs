//! Ditto ID's security contract over real HTTPS, part two: AES request decryption and answer
//! encryption for every JCE transformation, custom template bodies, shaped answers, the admin-only
//! Ditto ID config, real OAuth2 client libraries, refusals a whole-body sender can read, a secret in
//! a header of its own and a JSON token request.

use crate::common;
use crate::security::{oauth2, post_with, token_url, CLIENT_ID, CLIENT_SECRET};

use base64::Engine;
use common::{start, submission};
use kyc_core::config::{AuthMode, Config, EncryptionConfig};
use kyc_sim::Scenario;
use serde_json::{json, Value};

fn enc(spec: &str, key: &str, iv: &str) -> EncryptionConfig {
    EncryptionConfig {
        enable: true,
        cipher_spec: spec.into(),
        key: Some(key.into()),
        iv: Some(iv.into()),
        ..EncryptionConfig::default()
    }
}

#[tokio::test]
async fn every_cipher_round_trips_a_full_submission_and_its_answer() {
    let specs = [
        (
            "AES/CBC/PKCS5Padding",
            "0123456789abcdef0123456789abcdef",
            "fedcba9876543210",
        ),
        (
            "AES/GCM/NoPadding",
            "base64:AAECAwQFBgcICQoLDA0ODw==",
            "hex:000102030405060708090a0b",
        ),
        (
            "AES/CTR/NoPadding",
            "hex:000102030405060708090a0b0c0d0e0f1011121314151617",
            "base64:AAECAwQFBgcICQoLDA0ODw==",
        ),
        (
            "AES/ECB/PKCS5Padding",
            "0123456789abcdef",
            "unused-for-ecb!!",
        ),
    ];
    for (i, (spec, key, iv)) in specs.into_iter().enumerate() {
        let request = enc(spec, key, iv);
        // The answer is encrypted under a different key, as Ditto ID's responseDecryption may be.
        let response = enc(
            "AES/CBC/PKCS5Padding",
            "response-key-0123456789abcdef!!!",
            "response-iv-0123",
        );
        let (req_cfg, resp_cfg) = (request.clone(), response.clone());
        let d = start(move |c| {
            c.decision.hold_secs = 0;
            c.decision.on_timeout = kyc_core::config::OnTimeout::Accept;
            c.receiver.request_encryption = req_cfg;
            c.receiver.response_encryption = resp_cfg;
        })
        .await;
        let sender = request.suite("t").unwrap();
        let reader = response.suite("t").unwrap();
        let sub = submission(Scenario::Clean, 30 + i as u64);
        let (body, _) = sender.seal_body(&serde_json::to_vec(&sub.payload).unwrap());
        let resp = d
            .http
            .post(d.receiver())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{spec}");
        let sealed = resp.bytes().await.unwrap();
        let answer: Value = serde_json::from_slice(&reader.open_body(&sealed).unwrap()).unwrap();
        assert_eq!(answer["result"], true, "{spec}");
        assert_eq!(answer["user_id"], sub.user_id.as_str());
        assert_eq!(d.count(), 1);

        // Tampered ciphertext, bad base64, and a valid encryption of non-JSON: one uniform 422.
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x55;
        raw[0] ^= 0x01;
        let tampered = base64::engine::general_purpose::STANDARD.encode(&raw);
        let (not_json, _) = sender.seal_body(b"this is not JSON at all");
        // CTR and ECB carry no integrity: the flipped first byte breaks the JSON, which turns their
        // tampering into the same 422; GCM's tag and CBC's padding catch it before that.
        for bad in [
            tampered.into_bytes(),
            b"***not base64***".to_vec(),
            not_json,
        ] {
            let resp = d
                .http
                .post(d.receiver())
                .header("content-type", "text/plain")
                .body(bad)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 422, "{spec}");
            assert_eq!(
                resp.json::<Value>().await.unwrap(),
                json!({"error": "undecryptable", "message": "the body could not be decrypted with the configured key"})
            );
        }
        assert_eq!(
            d.count(),
            1,
            "nothing stored for undecryptable bodies ({spec})"
        );
        d.stop().await;
    }
}

#[tokio::test]
async fn custom_template_bodies_are_mapped_and_say_what_is_missing() {
    let d = start(|c| {
        c.decision.hold_secs = 0;
        for (k, v) in [
            ("user_id", "/userId"),
            ("name", "/name"),
            ("date_of_birth", "/dob"),
            ("document_number", "/documentNumber"),
            ("face_score", "/match/score"),
        ] {
            c.receiver.mapping.insert(k.into(), v.into());
        }
    })
    .await;
    let body = json!({"userId": "cust-000042", "name": "Anna Bērziņa", "dob": "12.03.1985", "documentNumber": "PA9992592",
                      "match": {"score": 0.93}});
    let (status, answer) = d.post(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user_id"], "cust-000042");
    let (_, page) = d.get("/api/cases?status=all").await;
    let case = &page["cases"][0];
    assert_eq!(case["holder_name"], "Anna Bērziņa");
    assert_eq!(case["document_number"], "PA9992592");
    let flag = case["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "custom_body")
        .unwrap();
    assert!(
        flag["message"].as_str().unwrap().contains("missing"),
        "{flag}"
    );
    assert!(
        flag["message"].as_str().unwrap().contains("selfie_image"),
        "{flag}"
    );
    let (_, detail) = d.get(&format!("/api/cases/{}", case["id"])).await;
    assert_eq!(detail["raw"]["dob"], "12.03.1985");
    // The case view shows what was mapped: the score and the document's fields.
    assert_eq!(detail["face_match"]["value"], 0.93, "{detail}");
    let fields = detail["fields"].to_string();
    assert!(
        fields.contains("PA9992592") && fields.contains("12.03.1985"),
        "{fields}"
    );
    // No correlation id in the template: the same body again is a new case (a person re-doing
    // KYC never gets the earlier answer).
    let (_, again) = d.post(&body).await;
    assert_ne!(again["reference_number"], answer["reference_number"]);
    assert_eq!(d.count(), 2);
    let (status, err) = d.post(&json!({"userId": 42, "name": "x"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["field"], "/userId");
}

#[tokio::test]
async fn the_docs_template_without_a_user_id_is_received_flagged_and_answered_without_one() {
    // Ditto ID's own short example: {"name":"${name}","dob":"${dob}","documentNumber":"${doc_no}"}.
    let template = |c: &mut kyc_core::config::Config| {
        c.decision.hold_secs = 0;
        c.decision.on_timeout = kyc_core::config::OnTimeout::Accept;
        for (k, v) in [
            ("name", "/name"),
            ("date_of_birth", "/dob"),
            ("document_number", "/documentNumber"),
        ] {
            c.receiver.mapping.insert(k.into(), v.into());
        }
    };
    let body = json!({"name": "Anna Bērziņa", "dob": "12.03.1985", "documentNumber": "PA9992592"});
    let d = start(template).await;
    let (status, answer) = d.post(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], true);
    assert!(
        answer.get("user_id").is_none(),
        "no user to rename to: {answer}"
    );
    let (_, page) = d.get("/api/cases?status=all").await;
    let case = &page["cases"][0];
    assert_eq!(case["user_id"], "");
    assert!(
        case["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "user_id_missing"),
        "{case}"
    );
    d.stop().await;

    // A default user id, and retries of a byte-identical body answered from the first case.
    let d = start(|c| {
        template(c);
        c.receiver.default_user_id = "web-onboarding".into();
        c.receiver.correlation = kyc_core::config::Correlation::Body;
    })
    .await;
    let (_, first) = d.post(&body).await;
    assert_eq!(first["user_id"], "web-onboarding");
    assert_eq!(d.post(&body).await.1, first);
    assert_eq!(d.count(), 1);
    d.stop().await;
}

#[tokio::test]
async fn answers_follow_the_configured_locators() {
    let d = start(|c| {
        c.decision.hold_secs = 0;
        c.decision.on_timeout = kyc_core::config::OnTimeout::Accept;
        c.receiver.answer.result = "data.kyc.passed".into();
        c.receiver.answer.reference_number = "data.reference".into();
        c.receiver.answer.user_id = "user.id".into();
        c.receiver.answer.status_message = "status.message".into();
    })
    .await;
    let sub = submission(Scenario::Clean, 40);
    let (status, answer) = d.post(&sub.payload).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["kyc"]["passed"], true);
    assert!(answer["data"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("KYC-"));
    assert_eq!(answer["user"]["id"], sub.user_id.as_str());
    assert_eq!(answer["status"]["message"], "accepted for offline review");
    assert!(answer.get("result").is_none());
}

#[tokio::test]
async fn the_ditto_config_is_for_admins_and_warnings_reach_the_desk() {
    let d = start(|c| {
        oauth2(c);
        c.receiver.request_encryption =
            enc("AES/GCM/NoPadding", "0123456789abcdef", "0123456789ab");
    })
    .await;
    let (status, settings) = d.get("/api/settings").await;
    assert_eq!(status, 200);
    assert!(
        settings["warnings"].to_string().contains("nonce"),
        "{settings}"
    );
    assert_eq!(settings["auth_mode"], "oauth2");
    assert!(
        !settings.to_string().contains(CLIENT_SECRET),
        "no secrets in settings"
    );
    let (status, _) = d.get("/api/settings/ditto-config").await;
    assert_eq!(status, 403, "a reviewer may not read secrets");
    let admin = d.login("ada").await;
    let resp = d
        .http
        .get(d.review("/api/settings/ditto-config"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cfg: Value = resp.json().await.unwrap();
    assert_eq!(
        cfg["headers"][1]["headerValue"],
        "Bearer __ACCESS_TOKEN_PLACEHOLDER__"
    );
    assert_eq!(cfg["requestEncryption"]["cipherSpec"], "AES/GCM/NoPadding");
    assert_eq!(
        cfg["accessTokenEndpoint"]["postParameters"][1]["value"],
        CLIENT_SECRET
    );
}

#[tokio::test]
async fn real_oauth2_client_libraries_get_tokens_that_open_the_receiver() {
    let d = start(oauth2).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth2_client.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(token_url(&d))
        .arg(d.dir.join(kyc_server::tls::SELF_SIGNED_CERT))
        .arg(CLIENT_ID)
        .arg(CLIENT_SECRET)
        .output()
        .await
        .expect("python3 (installed by scripts/setup.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens: Vec<&str> = stdout.lines().collect();
    assert_eq!(tokens.len(), 3, "{stdout}");
    for (i, token) in tokens.iter().enumerate() {
        let sub = submission(Scenario::Clean, 50 + i as u64);
        assert_eq!(post_with(&d, token, &sub.payload).await.status(), 200);
    }
}

/// A 5 MB body sent in 64 KiB chunks, written whole before the answer is read.
fn five_mb_stream() -> reqwest::Body {
    let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
    reqwest::Body::wrap_stream(futures::stream::iter(
        (0..80).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    ))
}

#[tokio::test]
async fn refusals_before_the_body_are_readable_by_senders_that_write_the_whole_body_first() {
    // Java's HttpClient (Ditto ID's sender), Python requests and reqwest all read 401, 415, 413
    // and 404 while their 5 MB body is still being sent.
    const TOKEN: &str = "bearer-token-0123456789";
    let d = start(|c| {
        c.receiver.auth.mode = AuthMode::Bearer;
        c.receiver.auth.token = Some(TOKEN.into());
        c.receiver.max_body_mb = 1;
    })
    .await;
    let ca = d.dir.join(kyc_server::tls::SELF_SIGNED_CERT);
    let wrong_path = format!("https://{}/not-kyc", d.running.receiver_addr);
    // (url, content type, authorization, status, error code)
    let cases = [
        (
            d.receiver(),
            "application/json",
            "Bearer wrong-token-0123456789",
            401,
            "unauthorized",
        ),
        (
            d.receiver(),
            "text/html",
            &*format!("Bearer {TOKEN}"),
            415,
            "unsupported_media_type",
        ),
        (
            d.receiver(),
            "application/json",
            &*format!("Bearer {TOKEN}"),
            413,
            "payload_too_large",
        ),
        (
            wrong_path,
            "application/json",
            &*format!("Bearer {TOKEN}"),
            404,
            "not_found",
        ),
    ];
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/refusal_client.py");
    for (url, content_type, authorization, status, code) in &cases {
        // Java's HttpClient, as Ditto ID's IDV Server sends (the JDK's source launcher).
        let java = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/RefusalClient.java");
        let out = tokio::process::Command::new("java")
            .args([java, url.as_str()])
            .arg(&ca)
            .args([content_type, authorization])
            .output()
            .await
            .expect("java from a JDK (installed by scripts/setup.sh)");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{status} {code}"),
            "Java HttpClient, {url} {content_type}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Python requests (sendall, then read).
        let out = tokio::process::Command::new("python3")
            .args([script, url.as_str()])
            .arg(&ca)
            .args([content_type, authorization])
            .output()
            .await
            .expect("python3 with requests (installed by scripts/setup.sh)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.trim(),
            format!("{status} {code}"),
            "{url} {content_type}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // reqwest with a streaming (chunked) body.
        let resp = d
            .http
            .post(url.as_str())
            .header("content-type", *content_type)
            .header("authorization", *authorization)
            .body(five_mb_stream())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url} {content_type}: the refusal was lost: {e:?}"));
        assert_eq!(resp.status().as_u16(), *status, "{url} {content_type}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], *code);
    }
    assert_eq!(d.count(), 0);
    d.stop().await;
}

#[tokio::test]
async fn a_secret_in_a_static_header_of_its_own_opens_the_receiver() {
    let d = start(|c| {
        c.decision.hold_secs = 0;
        c.receiver.auth.mode = AuthMode::Header;
        c.receiver.auth.header_name = Some("x-api-key".into());
        c.receiver.auth.header_value = Some("k3y-0123456789abcdef".into());
    })
    .await;
    let sub = submission(Scenario::Clean, 70);
    let post = |key: Option<&str>| {
        let mut req = d.http.post(d.receiver()).json(&sub.payload);
        if let Some(k) = key {
            req = req.header("X-Api-Key", k);
        }
        req.send()
    };
    for key in [None, Some("k3y-0123456789abcdeX"), Some("")] {
        let resp = post(key).await.unwrap();
        assert_eq!(resp.status(), 401, "{key:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
    }
    assert_eq!(d.count(), 0);
    assert_eq!(
        post(Some("k3y-0123456789abcdef")).await.unwrap().status(),
        200
    );
    assert_eq!(d.count(), 1);
    // The config names the key when the header or the secret is missing.
    let mut c = Config::first_start();
    c.receiver.auth.mode = AuthMode::Header;
    c.receiver.auth.header_name = Some("Authorization".into());
    c.receiver.auth.header_value = Some("k3y-0123456789abcdef".into());
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("receiver.auth.header_name"));
    c.receiver.auth.header_name = Some("x-api-key".into());
    c.receiver.auth.header_value = Some("short".into());
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("receiver.auth.header_value"));
}

#[tokio::test]
async fn the_token_endpoint_also_takes_a_json_body() {
    let d = start(oauth2).await;
    let resp = d
        .http
        .post(token_url(&d))
        .json(&json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.unwrap();
    let sub = submission(Scenario::Clean, 80);
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(post_with(&d, access, &sub.payload).await.status(), 200);
    // The same rules: a wrong secret is invalid_client, a non-text value a clear invalid_request.
    let wrong = json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong-secret-0123456789"});
    let resp = d
        .http
        .post(token_url(&d))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let odd =
        json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": 5});
    let resp = d.http.post(token_url(&d)).json(&odd).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    // Neither form nor JSON is still refused.
    let resp = d
        .http
        .post(token_url(&d))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
