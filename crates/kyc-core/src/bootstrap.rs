//! What a desk reads from its data folder before it opens the store: the master key (its key file,
//! created on first use, or the passphrase from `KYC_DESK_PASSPHRASE`) and the OAuth2 signing key.

use std::path::{Path, PathBuf};

use base64::Engine;
use kyc_crypto::master::MasterKey;
use kyc_crypto::token::TokenIssuer;
use rand::RngCore;

use crate::config::{AuthConfig, KeySource, Loaded, StorageConfig};
use crate::error::CoreError;
use kyc_store::fsutil::write_private;
use kyc_store::pg::PgTarget;
use kyc_store::Store;
/// The database file inside the data dir (the store's).
pub use kyc_store::DB_FILE;

/// Default master key file inside the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Environment variable holding the passphrase when `storage.key_source = "passphrase"`.
pub const PASSPHRASE_ENV: &str = "KYC_DESK_PASSPHRASE";
/// File in the data dir holding the token signing key.
pub const SIGNING_KEY_FILE: &str = "oauth2-signing.key";

/// Where the master key file is (`[storage] key_file`, relative to the data folder; default
/// `master.key` in it).
pub fn key_file_path(storage: &StorageConfig, data_dir: &Path) -> PathBuf {
    // Path::join keeps an absolute path as it is.
    data_dir.join(
        storage
            .key_file
            .as_deref()
            .unwrap_or(Path::new(MASTER_KEY_FILE)),
    )
}

/// Loads the master key as the config says: the key file (created, 0600, on first use) or
/// the passphrase from `KYC_DESK_PASSPHRASE`, else `prompt` (e.g. asked on the terminal).
pub fn master_key(
    storage: &StorageConfig,
    data_dir: &Path,
    prompt: impl FnOnce() -> Option<String>,
) -> Result<MasterKey, CoreError> {
    match storage.key_source {
        KeySource::File => Ok(MasterKey::Key(load_or_create_key_file(&key_file_path(
            storage, data_dir,
        ))?)),
        KeySource::Passphrase => {
            let pass = std::env::var(PASSPHRASE_ENV)
                .ok()
                .filter(|p| !p.is_empty())
                .or_else(prompt)
                .ok_or_else(|| {
                    CoreError::Config(format!(
                        "storage.key_source: \"passphrase\" needs the passphrase in {PASSPHRASE_ENV} \
                         or typed at the prompt"
                    ))
                })?;
            if pass.chars().count() < 12 {
                return Err(CoreError::Config(
                    "storage.key_source: the passphrase must be at least 12 characters".into(),
                ));
            }
            Ok(MasterKey::passphrase(pass))
        }
    }
}

/// Environment variable holding the PostgreSQL role's password (`[storage] url`).
pub const DB_PASSWORD_ENV: &str = "KYC_DESK_DB_PASSWORD";

/// Opens the store with the master key the config names (`prompt` asks for a passphrase when
/// `KYC_DESK_PASSPHRASE` is not set): the PostgreSQL database of `[storage] url`, or else
/// `<data_dir>/kyc-desk.sqlite3`.
pub fn open_store(
    loaded: &Loaded,
    prompt: impl FnOnce() -> Option<String>,
) -> Result<Store, CoreError> {
    kyc_store::fsutil::private_dir(&loaded.data_dir)?;
    let master = master_key(&loaded.config.storage, &loaded.data_dir, prompt)?;
    let store = match postgres_target(loaded)? {
        Some(target) => Store::open_postgres(&target, master)?,
        None => Store::open(&loaded.data_dir.join(DB_FILE), master)?,
    };
    crate::ingest::rehash_stale(&store)?;
    Ok(store)
}

/// The PostgreSQL database `[storage] url` names, with its password, if it names one.
pub fn postgres_target(loaded: &Loaded) -> Result<Option<PgTarget>, CoreError> {
    let storage = &loaded.config.storage;
    let Some(url) = storage.url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let password = match &storage.password_file {
        Some(file) => {
            let file = loaded.data_dir.join(file);
            let text = std::fs::read_to_string(&file).map_err(|e| {
                CoreError::Config(format!("storage.password_file {}: {e}", file.display()))
            })?;
            Some(text.trim_end_matches(['\r', '\n']).to_string())
        }
        None => std::env::var(DB_PASSWORD_ENV)
            .ok()
            .filter(|p| !p.is_empty()),
    };
    let ca_pem = match &storage.ca_file {
        Some(file) => {
            let file = loaded.data_dir.join(file);
            Some(std::fs::read(&file).map_err(|e| {
                CoreError::Config(format!("storage.ca_file {}: {e}", file.display()))
            })?)
        }
        None => None,
    };
    Ok(Some(PgTarget {
        url: url.to_string(),
        password,
        pool: storage.pool.unwrap_or(16).clamp(2, 256) as usize,
        ca_pem,
    }))
}

fn load_or_create_key_file(path: &Path) -> Result<[u8; 32], CoreError> {
    let bad =
        |why: String| CoreError::Config(format!("storage.key_file {}: {why}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| bad("not a base64 key".into()))?;
            bytes
                .try_into()
                .map_err(|_| bad("the key must be 32 bytes (base64)".into()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
            }
            let text = base64::engine::general_purpose::STANDARD.encode(key) + "\n";
            write_private(path, text.as_bytes()).map_err(|e| bad(e.to_string()))?;
            Ok(key)
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The OAuth2 token issuer for `[auth]`, its signing key read from `data_dir` (a random 256-bit
/// one is created, 0600, the first time, so tokens outlive a restart).
pub fn token_issuer(data_dir: &Path, auth: &AuthConfig) -> Result<TokenIssuer, CoreError> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    let key = match std::fs::read(&path) {
        Ok(k) if k.len() >= 32 => k,
        Ok(_) => {
            return Err(CoreError::Internal(format!(
                "{} is shorter than 32 bytes; delete it to generate a new key",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = TokenIssuer::generate_key();
            std::fs::create_dir_all(data_dir)?;
            write_private(&path, &k)?;
            k
        }
        Err(e) => return Err(e.into()),
    };
    let mut clients = Vec::new();
    if let (Some(id), Some(secret)) = (&auth.client_id, &auth.client_secret) {
        clients.push((id.clone(), secret.clone().into()));
    }
    clients.extend(
        auth.clients
            .iter()
            .map(|c| (c.client_id.clone(), c.client_secret.clone().into())),
    );
    Ok(TokenIssuer::new(key, auth.token_ttl_secs, clients))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig::default();
        let MasterKey::Key(a) = master_key(&cfg, dir.path(), || None).unwrap() else {
            panic!("file key expected");
        };
        let MasterKey::Key(b) = master_key(&cfg, dir.path(), || None).unwrap() else {
            panic!("file key expected");
        };
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join(MASTER_KEY_FILE), "c2hvcnQ=").unwrap();
        let err = master_key(&cfg, dir.path(), || None).unwrap_err();
        assert!(err.to_string().contains("storage.key_file"), "{err}");
    }

    #[test]
    fn a_short_passphrase_is_refused_naming_the_key() {
        let cfg = StorageConfig {
            key_source: KeySource::Passphrase,
            ..StorageConfig::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let err = master_key(&cfg, dir.path(), || Some("short".into())).unwrap_err();
        assert!(err.to_string().contains("at least 12"), "{err}");
        let ok = master_key(&cfg, dir.path(), || Some("long enough passphrase".into()));
        assert!(matches!(ok, Ok(MasterKey::Passphrase(_))));
    }

    #[test]
    fn the_signing_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let auth = AuthConfig {
            client_id: Some("ditto-idv".into()),
            client_secret: Some("0123456789abcdef-secret".into()),
            clients: vec![crate::config::OAuthClient {
                client_id: "ditto-next".into(),
                client_secret: "fedcba9876543210-secret".into(),
            }],
            ..AuthConfig::default()
        };
        let now = 1_800_000_000;
        let token = token_issuer(dir.path(), &auth)
            .unwrap()
            .issue("ditto-next", "fedcba9876543210-secret", now)
            .unwrap();
        let again = token_issuer(dir.path(), &auth).unwrap();
        assert_eq!(
            again.verify(&token.access_token, now).unwrap().sub,
            "ditto-next"
        );
        let other = tempfile::tempdir().unwrap();
        let foreign = token_issuer(other.path(), &auth).unwrap();
        assert!(foreign.verify(&token.access_token, now).is_err());
        std::fs::write(dir.path().join(SIGNING_KEY_FILE), b"short").unwrap();
        assert!(token_issuer(dir.path(), &auth).is_err());
    }
}
