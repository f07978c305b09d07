//! Ditto ID's security contract over real HTTPS, part one: the OAuth2 tokens we issue (and refuse),
//! and their life across a restart. Part two is `sender.rs`.

use crate::common;

use base64::Engine;
use common::{start, start_in, submission};
use kyc_core::bootstrap::token_issuer;
use kyc_core::config::{AuthConfig, AuthMode, Config};
use kyc_crypto::token::{Claims, AUDIENCE, ISSUER};
use kyc_sim::Scenario;
use serde_json::{json, Value};

/// A token request (form fields, HTTP Basic client auth) and the expected status and error code.
type TokenCase<'a> = (
    Vec<(&'a str, &'a str)>,
    Option<(&'a str, &'a str)>,
    u16,
    &'a str,
);

pub(crate) const CLIENT_ID: &str = "ditto-idv";
pub(crate) const CLIENT_SECRET: &str = "client-secret-0123456789";

pub(crate) fn oauth2(c: &mut Config) {
    c.decision.hold_secs = 0;
    c.receiver.auth.mode = AuthMode::Oauth2;
    c.receiver.auth.client_id = Some(CLIENT_ID.into());
    c.receiver.auth.client_secret = Some(CLIENT_SECRET.into());
    c.receiver.auth.clients = vec![kyc_core::config::OAuthClient {
        client_id: "ditto-idv-next".into(),
        client_secret: "next-secret-0123456789".into(),
    }];
}

pub(crate) fn token_url(d: &common::Desk) -> String {
    format!(
        "https://{}/kyc-service-access-token-endpoint",
        d.running.receiver_addr
    )
}

pub(crate) async fn take_token(
    d: &common::Desk,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = d.http.post(token_url(d)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

pub(crate) async fn post_with(d: &common::Desk, token: &str, payload: &Value) -> reqwest::Response {
    d.http
        .post(d.receiver())
        .bearer_auth(token)
        .json(payload)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_endpoint_follows_rfc_6749_client_credentials() {
    let d = start(oauth2).await;
    // Form-field client authentication.
    let (status, body, headers) = take_token(
        &d,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(headers["cache-control"], "no-store");
    let token = body["access_token"].as_str().unwrap().to_string();
    // HTTP Basic client authentication, with the rotated second pair.
    let (status, body, _) = take_token(
        &d,
        &[("grant_type", "client_credentials")],
        Some(("ditto-idv-next", "next-secret-0123456789")),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Errors per RFC 6749 §5.2.
    let cases: Vec<TokenCase> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", "wrong"),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials")],
            Some((CLIENT_ID, "wrong")),
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", CLIENT_SECRET),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)],
            None,
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "client_credentials")],
            None,
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            None,
            400,
            "invalid_request",
        ),
    ];
    for (form, basic, want, code) in cases {
        let (status, body, _) = take_token(&d, &form, basic).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap()),
            (want, code),
            "{form:?}"
        );
        assert!(body["error_description"].is_string());
    }
    let resp = d
        .http
        .post(token_url(&d))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // The token opens the receiver.
    let sub = submission(Scenario::Clean, 20);
    assert_eq!(post_with(&d, &token, &sub.payload).await.status(), 200);
}

#[tokio::test]
async fn the_token_endpoint_answers_get_only_where_configured_so() {
    let query = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let d = start(oauth2).await;
    let resp = d
        .http
        .get(token_url(&d))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405, "POST only by default");
    d.stop().await;

    let d = start(|c| {
        oauth2(c);
        c.receiver.auth.token_method = kyc_core::config::TokenMethod::Get;
    })
    .await;
    let resp = d
        .http
        .get(token_url(&d))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let issued: Value = resp.json().await.unwrap();
    let token = issued["access_token"].as_str().unwrap();
    let sub = submission(Scenario::Clean, 61);
    assert_eq!(post_with(&d, token, &sub.payload).await.status(), 200);
    // The same checks as a POST: a wrong secret is invalid_client; POST still works.
    let resp = d
        .http
        .get(token_url(&d))
        .query(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong-secret-0123456789"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    assert_eq!(take_token(&d, &query, None).await.0, 200);
    d.stop().await;
}

#[tokio::test]
async fn receiver_refuses_every_bad_token_with_invalid_token() {
    let d = start(oauth2).await;
    let sub = submission(Scenario::Clean, 21);
    let issuer = token_issuer(&d.dir, &AuthConfig::default()).unwrap();
    #[allow(clippy::disallowed_methods)] // A token forged by the test, with its own clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: CLIENT_ID.into(),
        iat: now,
        exp: now + 300,
        jti: "t".into(),
    };
    let other_dir = tempfile::tempdir().unwrap();
    let foreign = token_issuer(other_dir.path(), &AuthConfig::default()).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&good).unwrap())
    );
    let bad_tokens = [
        (
            "expired",
            issuer.sign_for_tests(&Claims {
                iat: now - 900,
                exp: now - 600,
                ..good.clone()
            }),
        ),
        (
            "wrong audience",
            issuer.sign_for_tests(&Claims {
                aud: "another-api".into(),
                ..good.clone()
            }),
        ),
        (
            "wrong issuer",
            issuer.sign_for_tests(&Claims {
                iss: "someone".into(),
                ..good.clone()
            }),
        ),
        ("wrong key", foreign.sign_for_tests(&good)),
        ("alg none", unsigned),
        ("garbage", "abc.def.ghi".to_string()),
    ];
    for (what, token) in bad_tokens {
        let resp = post_with(&d, &token, &sub.payload).await;
        assert_eq!(resp.status(), 401, "{what}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "invalid_token"
        );
    }
    let missing = d
        .http
        .post(d.receiver())
        .json(&sub.payload)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(d.count(), 0);
    // A token we signed ourselves is fine.
    assert_eq!(
        post_with(&d, &issuer.sign_for_tests(&good), &sub.payload)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn tokens_stay_valid_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = start_in(dir.path(), oauth2).await;
    let (_, body, _) = take_token(
        &d,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
        None,
    )
    .await;
    let token = body["access_token"].as_str().unwrap().to_string();
    d.stop().await;
    let again = start_in(dir.path(), oauth2).await;
    let sub = submission(Scenario::Clean, 22);
    assert_eq!(post_with(&again, &token, &sub.payload).await.status(), 200);
}
