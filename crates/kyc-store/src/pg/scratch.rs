//! Scratch databases on a test server (`KYC_DESK_TEST_PG`, started by scripts/pg.sh): each
//! conformance or several-instance test starts from an empty one, dropped afterwards.

use postgres::{Client, NoTls};

use super::{cannot_connect, client_config, PgTarget};

/// The `postgres` crate's settings for `target` (the scratch databases' admin connections).
fn blocking_config(target: &PgTarget) -> Result<postgres::Config> {
    Ok(postgres::Config::from(client_config(target)?))
}
use crate::{Error, Result};

/// A database of its own on a test server, dropped (with its connections) when this is: the
/// conformance suite and the several-instance tests each start from an empty one.
pub struct ScratchDatabase {
    admin: PgTarget,
    name: String,
    /// The role of its own that owns it, if it was made with one.
    role: Option<String>,
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
        Self::make(admin, false, "")
    }

    /// Creates an empty database whose text compares as the ICU locale `locale` says (`en-US`),
    /// as a database made under a language's locale does, rather than the test server's
    /// code-point order (PostgreSQL 15 or later).
    pub fn create_collated(admin: &PgTarget, locale: &str) -> Result<ScratchDatabase> {
        let locale = locale.replace('\'', "''");
        let options = format!(" LOCALE_PROVIDER icu ICU_LOCALE '{locale}' TEMPLATE template0");
        Self::make(admin, false, &options)
    }

    /// Creates an empty database owned by a login role of its own that is not a superuser (the
    /// admin's password), as an operator sets up a desk's database: the target connects as that
    /// role, so the desk may do there only what it may do in production.
    pub fn create_for_own_role(admin: &PgTarget) -> Result<ScratchDatabase> {
        Self::make(admin, true, "")
    }

    /// `options`: what follows the name in `CREATE DATABASE` (with a space first).
    fn make(admin: &PgTarget, own_role: bool, options: &str) -> Result<ScratchDatabase> {
        let mut suffix = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut suffix);
        let name = format!("kyc_scratch_{}", hex::encode(suffix));
        let mut client = admin_client(admin)?;
        let role = own_role.then(|| name.clone());
        let mut target = admin.clone();
        let (base, _) = admin
            .url
            .rsplit_once('/')
            .unwrap_or((admin.url.as_str(), ""));
        target.url = format!("{base}/{name}");
        match &role {
            None => client.batch_execute(&format!("CREATE DATABASE {name}{options}"))?,
            Some(role) => {
                let password = admin
                    .password
                    .clone()
                    .unwrap_or_default()
                    .replace('\'', "''");
                client.batch_execute(&format!(
                    "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'"
                ))?;
                client.batch_execute(&format!("CREATE DATABASE {name} OWNER {role}{options}"))?;
                let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                target.url = format!("{scheme}://{role}@{host}/{name}");
            }
        }
        Ok(ScratchDatabase {
            admin: admin.clone(),
            target,
            name,
            role,
        })
    }

    /// Runs `sql` as the server's admin in this database (what an operator grants, say); returns
    /// the first column of each row as text.
    pub fn as_admin(&self, sql: &str) -> Result<Vec<String>> {
        let mut config = blocking_config(&self.admin)?;
        config.dbname(&self.name);
        let mut client = config.connect(NoTls).map_err(cannot_connect)?;
        let mut out = Vec::new();
        for m in client.simple_query(sql)? {
            if let postgres::SimpleQueryMessage::Row(row) = m {
                out.push(row.get(0).unwrap_or_default().to_string());
            }
        }
        Ok(out)
    }

    /// Shuts every connection out of this database (those open are ended, new ones refused, as
    /// when the database is out of reach), or lets them in again.
    pub fn allow_connections(&self, allowed: bool) -> Result<()> {
        let mut client = admin_client(&self.admin)?;
        client.batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {allowed}",
            self.name
        ))?;
        if !allowed {
            // Each waited for (up to 5 s) until it has ended, not only signalled.
            client.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1",
                &[&self.name],
            )?;
        }
        Ok(())
    }

    /// Takes every instance's write lock from a session of its own, held until the returned
    /// value is dropped: writes meanwhile wait for it, as behind another instance's write.
    pub fn hold_write_lock(&self) -> Result<HeldWriteLock> {
        let mut config = blocking_config(&self.admin)?;
        config.dbname(&self.name);
        let mut client = config.connect(NoTls).map_err(cannot_connect)?;
        client.execute("SELECT pg_advisory_lock($1)", &[&super::WRITE_LOCK])?;
        Ok(HeldWriteLock { _session: client })
    }

    /// How many sessions are waiting for the write lock now.
    pub fn write_lock_waiters(&self) -> Result<usize> {
        let n = self.as_admin(&format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND classid = {} AND objid = {} AND objsubid = 1",
            super::WRITE_LOCK >> 32,
            super::WRITE_LOCK & 0xFFFF_FFFF
        ))?;
        Ok(n.first().and_then(|n| n.parse().ok()).unwrap_or(0))
    }
}

/// The write lock held by [`ScratchDatabase::hold_write_lock`]; released when dropped (its
/// session ends).
pub struct HeldWriteLock {
    _session: Client,
}

fn admin_client(admin: &PgTarget) -> Result<Client> {
    blocking_config(admin)?
        .connect(NoTls)
        .map_err(cannot_connect)
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = admin_client(&self.admin) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
            if let Some(role) = &self.role {
                let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
            }
        }
    }
}
