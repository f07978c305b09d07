//! Scratch databases on a test server (`KYC_DESK_TEST_PG`, started by scripts/pg.sh): each
//! conformance or several-instance test starts from an empty one, dropped afterwards.

use postgres::{Client, NoTls};

use super::{cannot_connect, client_config, PgTarget};
use crate::{Error, Result};

/// A database of its own on a test server, dropped (with its connections) when this is: the
/// conformance suite and the several-instance tests each start from an empty one.
pub struct ScratchDatabase {
    admin: PgTarget,
    name: String,
    /// The scratch database's own target.
    pub target: PgTarget,
}

impl ScratchDatabase {
    /// The test server named by `KYC_DESK_TEST_PG` (password from `KYC_DESK_DB_PASSWORD`), if
    /// any. With `KYC_DESK_REQUIRE_PG` set, a missing one is an error, not a skip.
    pub fn test_server() -> Result<Option<PgTarget>> {
        match std::env::var("KYC_DESK_TEST_PG") {
            Ok(url) if !url.is_empty() => Ok(Some(PgTarget {
                url,
                password: std::env::var("KYC_DESK_DB_PASSWORD").ok(),
                pool: 8,
                ca_pem: None,
            })),
            _ if std::env::var_os("KYC_DESK_REQUIRE_PG").is_some() => Err(Error::Config(
                "KYC_DESK_REQUIRE_PG is set but KYC_DESK_TEST_PG names no server \
                 (scripts/pg.sh starts one)"
                    .into(),
            )),
            _ => Ok(None),
        }
    }

    /// Creates an empty database on `admin`'s server.
    pub fn create(admin: &PgTarget) -> Result<ScratchDatabase> {
        let mut suffix = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut suffix);
        let name = format!("kyc_scratch_{}", hex::encode(suffix));
        let mut client = admin_client(admin)?;
        client.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let base = admin
            .url
            .rsplit_once('/')
            .map_or(admin.url.as_str(), |(b, _)| b);
        Ok(ScratchDatabase {
            admin: admin.clone(),
            target: PgTarget {
                url: format!("{base}/{name}"),
                ..admin.clone()
            },
            name,
        })
    }
}

fn admin_client(admin: &PgTarget) -> Result<Client> {
    client_config(admin)?.connect(NoTls).map_err(cannot_connect)
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = admin_client(&self.admin) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
