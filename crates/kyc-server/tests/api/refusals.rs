//! How the API refuses malformed input: a JSON error body naming what is wrong, never the value.

use crate::common::start;
use serde_json::Value;

/// A query parameter that does not fit its type is a 400 with the JSON error body every refusal
/// has (axum's own Query answers in plain text), naming the parameter, never echoing the value.
#[tokio::test]
async fn a_malformed_query_is_a_json_400_naming_the_parameter() {
    let d = start(|_| {}).await;
    let admin = d.login("ada").await;
    for path in [
        "/api/cases?limit=secret-value",
        "/api/audit?before=secret-value",
        "/api/audit/export.csv?before=secret-value",
        "/api/cases/1/report.pdf?utc_offset=secret-value",
    ] {
        let resp = d
            .http
            .get(d.review(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 400, "{path}: {body}");
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let param = path.split(['?', '=']).nth(1).unwrap();
        assert!(
            v["message"].as_str().unwrap().contains(param),
            "{path}: {body}"
        );
        assert!(!body.contains("secret-value"), "{path}: {body}");
    }
    d.stop().await;
}
