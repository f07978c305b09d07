//! Certificate pinning: a rustls verifier that accepts exactly one certificate (the SHA-256 of
//! its DER), whatever its name or issuer, while still checking the handshake's signature (so
//! only the holder of that certificate's key passes), and the probe that reads a server's
//! fingerprint without sending it a request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kyc_core::config::{cert_fingerprint, check_server_url};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::ClientError;

/// How long connecting to the server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A team server's address, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `https://host[:port]`, no trailing slash.
    pub base: String,
    pub host: String,
    pub port: u16,
}

impl Server {
    pub fn parse(raw: &str) -> Result<Server, ClientError> {
        let base = check_server_url(raw).map_err(|e| ClientError::BadServer(e.to_string()))?;
        let url = reqwest::Url::parse(&base)
            .map_err(|e| ClientError::BadServer(format!("client.server: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| ClientError::BadServer("client.server: no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Server {
            port: url.port_or_known_default().unwrap_or(443),
            host,
            base,
        })
    }

    fn server_name(&self) -> Result<ServerName<'static>, ClientError> {
        ServerName::try_from(self.host.clone())
            .map_err(|e| ClientError::BadServer(format!("client.server: {e}")))
    }
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The marker of a refused certificate inside rustls' error (read back by the relay).
pub(crate) const NOT_PINNED: &str = "certificate is not the pinned one";

/// Accepts exactly the certificate whose fingerprint is `pin`; without a pin (the probe) it
/// only notes the certificate's fingerprint and refuses it, ending the handshake.
#[derive(Debug)]
pub struct Pinned {
    pin: Option<String>,
    seen: Mutex<Option<String>>,
    algs: WebPkiSupportedAlgorithms,
}

impl Pinned {
    pub fn new(pin: &str) -> Result<Pinned, ClientError> {
        let pin =
            kyc_core::config::normalize_fingerprint(pin).ok_or(ClientError::BadFingerprint)?;
        Ok(Pinned::with(Some(pin)))
    }

    fn with(pin: Option<String>) -> Pinned {
        Pinned {
            pin,
            seen: Mutex::new(None),
            algs: algorithms(),
        }
    }

    /// A rustls client config that trusts only the pinned certificate (HTTP/1.1).
    pub fn client_config(self) -> Result<rustls::ClientConfig, ClientError> {
        client_config(Arc::new(self))
    }
}

fn client_config(verifier: Arc<Pinned>) -> Result<rustls::ClientConfig, ClientError> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::BadServer(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = cert_fingerprint(end_entity);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(seen.clone());
        // The pin replaces names and issuers: a self-signed certificate for "localhost" is the
        // team server's as long as it is exactly the one its admin read out.
        match &self.pin {
            Some(pin) if *pin == seen => Ok(ServerCertVerified::assertion()),
            Some(_) => Err(rustls::Error::General(NOT_PINNED.into())),
            None => Err(rustls::Error::General("probe only".into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The fingerprint of the certificate `server` presents. Only the TLS handshake's first half
/// happens: the probe refuses the certificate as soon as it has read it, so nothing is sent.
pub async fn probe(server: &Server) -> Result<String, ClientError> {
    let unreachable = |reason: String| ClientError::Unreachable {
        server: server.base.clone(),
        reason,
    };
    let recorder = Arc::new(Pinned::with(None));
    let config = client_config(recorder.clone())?;
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| unreachable("no answer within 10 s".into()))?
    .map_err(|e| unreachable(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = tokio::time::timeout(
        CONNECT_TIMEOUT,
        connector.connect(server.server_name()?, tcp),
    )
    .await
    .map_err(|_| unreachable("no TLS answer within 10 s".into()))?;
    let seen = recorder
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match (seen, handshake) {
        (Some(fp), _) => Ok(fp),
        (None, Err(e)) => Err(unreachable(format!("not a TLS server: {e}"))),
        (None, Ok(_)) => Err(unreachable("the server presented no certificate".into())),
    }
}

/// Probes `server` and checks its certificate against `pin`.
pub async fn check(server: &Server, pin: &str) -> Result<String, ClientError> {
    let expected =
        kyc_core::config::normalize_fingerprint(pin).ok_or(ClientError::BadFingerprint)?;
    let got = probe(server).await?;
    if got != expected {
        return Err(ClientError::Mismatch {
            server: server.base.clone(),
            expected,
            got,
        });
    }
    Ok(got)
}
