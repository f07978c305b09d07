//! The master key as it is supplied (32 bytes from a key file, or a passphrase), before the
//! store's salt and check value turn it into a [`crate::vault::Vault`].

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::vault::Vault;

/// Where the master key comes from, before the database says which salt it uses.
pub enum MasterKey {
    /// 32 raw key bytes (from the key file).
    Key([u8; 32]),
    /// A passphrase; the key is derived with Argon2id and the salt stored in the database.
    Passphrase(SecretString),
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MasterKey::Key(_) => "MasterKey::Key(..)",
            MasterKey::Passphrase(_) => "MasterKey::Passphrase(..)",
        })
    }
}

impl MasterKey {
    /// A passphrase master key.
    pub fn passphrase(text: impl Into<String>) -> MasterKey {
        MasterKey::Passphrase(SecretString::from(text.into()))
    }

    /// `file` or `passphrase`: what the store records, to say which kind a wrong key was.
    pub fn source(&self) -> &'static str {
        match self {
            MasterKey::Key(_) => "file",
            MasterKey::Passphrase(_) => "passphrase",
        }
    }

    /// Whether this key needs a salt (stored beside the data) to be turned into a vault.
    pub fn needs_salt(&self) -> bool {
        matches!(self, MasterKey::Passphrase(_))
    }

    /// The vault this key opens; `salt` is used by a passphrase only (Argon2id).
    pub fn unlock(&self, salt: &[u8]) -> Result<Vault, Error> {
        match self {
            MasterKey::Key(k) => Ok(Vault::from_key(k)),
            MasterKey::Passphrase(p) => Vault::from_passphrase(p.expose_secret(), salt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let shown = format!(
            "{:?} {:?}",
            MasterKey::Key([0x41; 32]),
            MasterKey::passphrase("correct horse battery")
        );
        assert!(!shown.contains("horse") && !shown.contains("65"), "{shown}");
    }

    #[test]
    fn the_same_passphrase_and_salt_open_the_same_vault() {
        let salt = b"0123456789abcdef";
        let a = MasterKey::passphrase("correct horse battery")
            .unlock(salt)
            .unwrap();
        let b = MasterKey::passphrase("correct horse battery")
            .unlock(salt)
            .unwrap();
        let other_salt = MasterKey::passphrase("correct horse battery")
            .unlock(b"fedcba9876543210")
            .unwrap();
        assert!(b.verify_check_value(&a.check_value()));
        assert!(!other_salt.verify_check_value(&a.check_value()));
        assert_eq!(MasterKey::Key([1; 32]).source(), "file");
        assert!(MasterKey::passphrase("x").needs_salt());
    }
}
