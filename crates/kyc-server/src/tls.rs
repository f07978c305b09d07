//! TLS material: the configured certificate, or a self-signed one generated once into the data dir
//! (rcgen) and reused on restart; its SHA-256 fingerprint is what Ditto ID's admin pins or checks.

use std::path::Path;
use std::sync::Arc;

use kyc_core::config::ReceiverConfig;
use kyc_core::fsutil::write_private;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ServerError;

pub const SELF_SIGNED_CERT: &str = "tls-cert.pem";
pub const SELF_SIGNED_KEY: &str = "tls-key.pem";

#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// SHA-256 of the leaf certificate's DER, as `AB:CD:...`.
    pub fingerprint: String,
    pub self_signed: bool,
}

fn tls_err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Tls(e.to_string())
}

/// Loads the configured cert/key, or the self-signed pair in `data_dir` (creating it the first time).
pub fn load_or_create(cfg: &ReceiverConfig, data_dir: &Path) -> Result<TlsMaterial, ServerError> {
    let (cert_pem, key_pem, self_signed) = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => (
            std::fs::read(c)
                .map_err(|e| tls_err(format!("receiver.tls_cert {}: {e}", c.display())))?,
            std::fs::read(k)
                .map_err(|e| tls_err(format!("receiver.tls_key {}: {e}", k.display())))?,
            false,
        ),
        _ => {
            let cert_path = data_dir.join(SELF_SIGNED_CERT);
            let key_path = data_dir.join(SELF_SIGNED_KEY);
            if !(cert_path.exists() && key_path.exists()) {
                let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
                if let Some(host) = std::env::var_os("HOSTNAME").and_then(|h| h.into_string().ok())
                {
                    if !host.is_empty() && !names.contains(&host) {
                        names.push(host);
                    }
                }
                let generated = rcgen::generate_simple_self_signed(names).map_err(tls_err)?;
                std::fs::create_dir_all(data_dir).map_err(tls_err)?;
                write_private(&key_path, generated.key_pair.serialize_pem().as_bytes())
                    .map_err(tls_err)?;
                write_private(&cert_path, generated.cert.pem().as_bytes()).map_err(tls_err)?;
                tracing::info!(path = %cert_path.display(), "generated a self-signed TLS certificate");
            }
            (
                std::fs::read(&cert_path).map_err(tls_err)?,
                std::fs::read(&key_path).map_err(tls_err)?,
                true,
            )
        }
    };
    let leaf = CertificateDer::pem_slice_iter(&cert_pem)
        .next()
        .ok_or_else(|| tls_err("the certificate file holds no certificate"))?
        .map_err(tls_err)?;
    Ok(TlsMaterial {
        fingerprint: fingerprint(&leaf),
        cert_pem,
        key_pem,
        self_signed,
    })
}

/// `AB:CD:...` SHA-256 fingerprint of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    kyc_core::config::cert_fingerprint(der)
}

/// A rustls server config (ring provider, TLS 1.2 and 1.3) for the material, offering HTTP/2 and
/// HTTP/1.1 (the review listener).
pub fn server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    config_with_alpn(m, &[b"h2", b"http/1.1"])
}

/// The receiver's config: HTTP/1.1 only, so every submission has a connection of its own and a
/// body not yet read waits in that connection's socket (HTTP/2 streams share one flow-control
/// window, where unread bodies would stall the others). Ditto ID's server-to-server calls are
/// HTTP/1.1 anyway.
pub fn receiver_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    config_with_alpn(m, &[b"http/1.1"])
}

fn config_with_alpn(
    m: &TlsMaterial,
    protocols: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let certs = CertificateDer::pem_slice_iter(&m.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_err)?;
    let key = PrivateKeyDer::from_pem_slice(&m.key_pem).map_err(tls_err)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(tls_err)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(tls_err)?;
    config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
