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
    // The post's head goes first; the server's "100 Continue" says its handler reads the body
    // (a connection whose request has not begun is closed by a stop, as an idle one is).
    let (reading, body_now) = (std::sync::mpsc::channel(), std::sync::mpsc::channel());
    let (addr, cert) = (
        desk.running.receiver_addr,
        desk.running.tls.cert_pem.clone(),
    );
    let post = tokio::task::spawn_blocking(move || {
        post_in_two_steps(addr, &cert, &body, reading.0, body_now.1)
    });
    tokio::task::spawn_blocking(move || reading.1.recv())
        .await
        .unwrap()
        .expect("the server reads the body");

    let margin = Duration::from_secs(1);
    let drained = tokio::spawn(desk.running.drain(
        margin,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    // Within the 2 s a request still arriving is given, the body ends; its case is stored and
    // its 2 s window opens now, to end after the 3 s (hold_secs and the margin) the stop alone
    // would wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    body_now.0.send(()).unwrap();
    let response = post.await.unwrap();
    let (head, answer) = response
        .split_once("\r\n\r\n")
        .expect("an answer, not a cut connection");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("{}: timeout", kyc_server::receiver::ANSWERED_BY)),
        "{head}"
    );
    let answer: Value = serde_json::from_str(answer).unwrap();
    assert_eq!(answer["result"], false, "{answer}");
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("the drain ends once it owes nothing")
        .unwrap();
}

/// Posts `body` to the receiver at `addr` over TLS (trusting `cert_pem`), as Ditto ID would with
/// `Expect: 100-continue`: the head first, `reading` told once the server answers "100
/// Continue", the body once `body_now` says so. Returns all the server wrote after that (empty
/// if it cut the connection).
fn post_in_two_steps(
    addr: std::net::SocketAddr,
    cert_pem: &[u8],
    body: &[u8],
    reading: std::sync::mpsc::Sender<()>,
    body_now: std::sync::mpsc::Receiver<()>,
) -> String {
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut stream = rustls::StreamOwned::new(tls, std::net::TcpStream::connect(addr).unwrap());
    write!(
        stream,
        "POST /kyc HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    reading.send(()).unwrap();
    body_now.recv().unwrap();
    stream.write_all(body).unwrap();
    stream.flush().unwrap();
    let mut rest = Vec::new();
    // The server closes the connection after its answer (it is stopping).
    let _ = stream.read_to_end(&mut rest);
    String::from_utf8_lossy(&rest).into_owned()
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
