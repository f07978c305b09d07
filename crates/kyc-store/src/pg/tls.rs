//! TLS to the PostgreSQL server (`[storage] ca_file`): rustls, the server's certificate verified
//! against the configured CA and the URL's host; never in the clear once a CA is configured.

use postgres::{Client, NoTls};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conn::Conn;
use super::PgTarget;
use crate::{Error, Result};

/// How connections to the server are made: in the clear, or TLS verified against a CA.
#[derive(Clone)]
pub(super) enum Tls {
    Off,
    Verified(MakeRustlsConnect),
}

impl Tls {
    pub(super) fn of(target: &PgTarget, config: &mut tokio_postgres::Config) -> Result<Tls> {
        let Some(pem) = &target.ca_pem else {
            if config.get_ssl_mode() == SslMode::Require {
                return Err(Error::Config(
                    "storage.url asks for sslmode=require: set storage.ca_file to the CA \
                     certificate that signed the database server's certificate"
                        .into(),
                ));
            }
            return Ok(Tls::Off);
        };
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Config(format!("storage.ca_file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("storage.ca_file: {e}")))?;
        }
        if roots.is_empty() {
            return Err(Error::Config(
                "storage.ca_file holds no PEM certificate".into(),
            ));
        }
        let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        // Never in the clear once a CA is configured.
        config.ssl_mode(SslMode::Require);
        Ok(Tls::Verified(MakeRustlsConnect::new(client)))
    }

    /// A connection of the pool, driven by its user ([`Conn`]).
    pub(super) fn connect(&self, config: &tokio_postgres::Config) -> Result<Conn> {
        match self {
            Tls::Off => Conn::connect(config, NoTls),
            Tls::Verified(make) => Conn::connect(config, make.clone()),
        }
    }

    /// A connection of the `postgres` crate's own (the event listener's).
    pub(super) fn connect_blocking(
        &self,
        config: &tokio_postgres::Config,
    ) -> std::result::Result<Client, postgres::Error> {
        let config = postgres::Config::from(config.clone());
        match self {
            Tls::Off => config.connect(NoTls),
            Tls::Verified(make) => config.connect(make.clone()),
        }
    }
}
