//! Client mode against a real KYC Desk server whose review listener is HTTPS on loopback: the
//! probe reads its fingerprint, the relay carries the desk's API (sign-in, cookies, events) only
//! to the pinned certificate, and a wrong pin sends nothing.

use kyc_core::users::Accounts as _;
use std::time::Duration;

use kyc_client::{probe, ClientError, Relay, Server};
use kyc_core::config::{AuthMode, Config, Loaded};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

async fn team_server(dir: &std::path::Path) -> kyc_server::Running {
    let mut config = Config::first_start();
    config.receiver.auth.mode = AuthMode::None;
    config.receiver.request_encryption = Default::default();
    config.receiver.response_encryption = Default::default();
    config.receiver.listen = "127.0.0.1:0".parse().unwrap();
    config.review.listen = "127.0.0.1:0".parse().unwrap();
    config.review.tls = Some(true);
    let loaded = Loaded {
        config,
        path: dir.join("kyc-desk.toml"),
        data_dir: dir.to_path_buf(),
        created: false,
    };
    let running = kyc_server::start(&loaded, None).await.unwrap();
    running
        .desk
        .store()
        .add_user("rita", kyc_core::users::Role::Reviewer, PASSWORD)
        .unwrap();
    running
}

fn server_of(running: &kyc_server::Running) -> Server {
    assert!(running.review_https);
    Server::parse(&format!("https://127.0.0.1:{}", running.review_addr.port())).unwrap()
}

#[tokio::test]
async fn the_relay_carries_the_desk_to_the_pinned_server_only() {
    let tmp = tempfile::tempdir().unwrap();
    let running = team_server(tmp.path()).await;
    let server = server_of(&running);
    // The probe reads what the server prints.
    assert_eq!(probe(&server).await.unwrap(), running.tls.fingerprint);

    // Pinned (in any spelling): the window's loopback leg reaches the desk.
    let pin = running.tls.fingerprint.replace(':', "").to_lowercase();
    let relay = Relay::start(server.clone(), &pin).await.unwrap();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let setup: Value = http
        .get(format!("{}/api/setup", relay.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(setup["tls_fingerprint"], running.tls.fingerprint.as_str());
    let login = http
        .post(format!("{}/api/login", relay.url()))
        .json(&json!({"username": "rita", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && !cookie.to_lowercase().contains("secure"),
        "{cookie}"
    );
    assert!(!login.headers().contains_key("strict-transport-security"));
    // The cookie alone signs in through the relay (as the window's event stream does).
    let me: Value = http
        .get(format!("{}/api/me", relay.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "rita");
    // Live events stream through it.
    let mut events = http
        .get(format!("{}/api/events", relay.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: presence"));
    // A page that rebinds a name to the relay's address is refused.
    let rebound = http
        .get(format!("{}/api/me", relay.url()))
        .header("host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    relay.stop();
}

#[tokio::test]
async fn a_wrong_pin_is_refused_in_the_handshake_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let running = team_server(tmp.path()).await;
    let server = server_of(&running);
    let wrong = "AB:".repeat(31) + "AB";
    match Relay::start(server.clone(), &wrong).await {
        Err(ClientError::Mismatch { expected, got, .. }) => {
            assert_eq!(expected, wrong);
            assert_eq!(got, running.tls.fingerprint);
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a wrong pin was accepted"),
    }
    let err = Relay::start(server, "not a fingerprint")
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "bad_fingerprint");
    assert!(matches!(
        Server::parse("http://127.0.0.1:1"),
        Err(ClientError::BadServer(_))
    ));
    let nobody = Server::parse("https://127.0.0.1:1").unwrap();
    assert_eq!(probe(&nobody).await.unwrap_err().code(), "unreachable");
}

/// A TLS server of the test's own: it sees whether a client that refused its certificate sent
/// anything at all.
#[tokio::test]
async fn the_probe_and_a_refused_pin_never_finish_the_handshake() {
    use tokio::io::AsyncReadExt as _;
    let cert = rcgen_cert();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.0.clone()], cert.1)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let outcomes = tokio::spawn(async move {
        let mut out = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            out.push(match acceptor.accept(tcp).await {
                Ok(mut tls) => {
                    let mut buf = Vec::new();
                    let _ = tls.read_to_end(&mut buf).await;
                    format!("handshake done, {} bytes of request", buf.len())
                }
                Err(_) => "refused".to_string(),
            });
        }
        out
    });
    let server = Server::parse(&format!("https://127.0.0.1:{port}")).unwrap();
    let seen = probe(&server).await.unwrap();
    assert_eq!(seen, kyc_core::config::cert_fingerprint(&cert.0));
    let wrong = "01:".repeat(31) + "01";
    assert!(Relay::start(server, &wrong).await.is_err());
    assert_eq!(outcomes.await.unwrap(), ["refused", "refused"]);
}

fn rcgen_cert() -> (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (
        c.cert.der().clone(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(c.key_pair.serialize_der().into()),
    )
}
