//! What a load balancer in front of several instances relies on: a health check that needs no
//! credentials, and a stop (`Running::drain`) that answers what the server still holds before it
//! ends, a request still arriving at the stop included.

use std::time::Duration;

use crate::common::{self, submission};
use kyc_core::config::{AuthMode, OnTimeout};
use kyc_sim::Scenario;
use serde_json::Value;

/// A request still arriving when the server is told to stop opens its window after the stop: the
/// drain waits to the end of that window (its fallback answers it), past `hold_secs` from the
/// stop, which is all a request still arriving is given to arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_waits_for_the_window_of_a_request_still_arriving_at_the_stop() {
    let desk = common::start(|c| {
        c.decision.hold_secs = 2;
        c.decision.on_timeout = OnTimeout::Reject;
    })
    .await;
    let body = serde_json::to_vec(&submission(Scenario::Clean, 1).payload).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(first.to_vec())).await.unwrap();
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let post = tokio::spawn(
        desk.http
            .post(desk.receiver())
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send(),
    );
    for _ in 0..100 {
        if desk.running.receiver_connections() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        desk.running.receiver_connections(),
        1,
        "the post is arriving"
    );

    let margin = Duration::from_secs(1);
    let drained = tokio::spawn(desk.running.drain(
        margin,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    // Within the 2 s a request still arriving is given, the post ends; its case is stored and
    // its 2 s window opens now, to end after the 3 s (hold_secs and the margin) the stop alone
    // would wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tx.send(Ok(rest.to_vec())).await.unwrap();
    drop(tx);
    let resp = post
        .await
        .unwrap()
        .expect("an answer, not a cut connection");
    assert_eq!(resp.status(), 200);
    let by = resp.headers()[kyc_server::receiver::ANSWERED_BY].clone();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["result"], false, "{answer}");
    assert_eq!(by, "timeout");
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("the drain ends once it owes nothing")
        .unwrap();
}

/// The health check answers without the receiver's credentials (a balancer has none), gives no
/// data, and is refused to other methods.
#[tokio::test]
async fn the_health_check_needs_no_credentials_and_says_ok_while_the_database_answers() {
    let desk = common::start(|c| {
        c.receiver.auth.mode = AuthMode::Bearer;
        c.receiver.auth.token = Some("a-token-for-ditto-id-0123456789".into());
    })
    .await;
    let health = format!("https://{}/healthz", desk.running.receiver_addr);
    let resp = desk.http.get(&health).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    // The receiver itself still wants its credentials.
    let resp = desk
        .http
        .post(desk.receiver())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = desk.http.post(&health).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    desk.stop().await;
}
