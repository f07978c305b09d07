//! OAuth2 client-credentials tokens that KYC Desk issues to Ditto ID (RFC 6749 §4.4): JWTs signed
//! with HS256 under a key kept in the data dir (so tokens outlive a restart), algorithm pinned,
//! and `exp`, `iat`, `iss`, `aud` checked on every use.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::config::AuthConfig;
use crate::error::CoreError;
use crate::fsutil::write_private;

/// File in the data dir holding the token signing key.
pub const SIGNING_KEY_FILE: &str = "oauth2-signing.key";
pub const ISSUER: &str = "kyc-desk";
pub const AUDIENCE: &str = "kyc-desk-receiver";
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The client id the token was issued to.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// What the token endpoint answers on success.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

pub struct TokenIssuer {
    key: Vec<u8>,
    ttl_secs: u64,
    clients: Vec<(String, String)>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenIssuer({} clients)", self.clients.len())
    }
}

fn now_secs() -> u64 {
    u64::try_from(crate::timefmt::now_ms() / 1000).unwrap_or(0)
}

impl TokenIssuer {
    /// Loads the signing key from `data_dir` (creating a random 256-bit one the first time).
    pub fn load_or_create(data_dir: &Path, auth: &AuthConfig) -> Result<TokenIssuer, CoreError> {
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
                let mut k = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut k);
                std::fs::create_dir_all(data_dir)?;
                write_private(&path, &k)?;
                k
            }
            Err(e) => return Err(e.into()),
        };
        let mut clients = Vec::new();
        if let (Some(id), Some(secret)) = (&auth.client_id, &auth.client_secret) {
            clients.push((id.clone(), secret.clone()));
        }
        clients.extend(
            auth.clients
                .iter()
                .map(|c| (c.client_id.clone(), c.client_secret.clone())),
        );
        Ok(TokenIssuer {
            key,
            ttl_secs: auth.token_ttl_secs,
            clients,
        })
    }

    /// Checks the client's credentials (constant time, every configured pair) and issues a token.
    pub fn issue(&self, client_id: &str, client_secret: &str) -> Result<IssuedToken, CoreError> {
        let mut ok = subtle::Choice::from(0);
        for (id, secret) in &self.clients {
            let id_ok = id.as_bytes().ct_eq(client_id.as_bytes());
            let secret_ok = secret.as_bytes().ct_eq(client_secret.as_bytes());
            ok |= id_ok & secret_ok;
        }
        if !bool::from(ok) {
            return Err(CoreError::InvalidClient);
        }
        let iat = now_secs();
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: client_id.into(),
            iat,
            exp: iat + self.ttl_secs,
            jti: hex::encode(jti),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )
        .map_err(|e| CoreError::Internal(format!("jwt: {e}")))?;
        Ok(IssuedToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.ttl_secs,
        })
    }

    /// Verifies a bearer token: HS256 only, our key, not expired, our issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, CoreError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.leeway = LEEWAY_SECS;
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&self.key), &v)
            .map_err(|_| CoreError::InvalidToken)?;
        if data.claims.iat > now_secs() + 60 {
            return Err(CoreError::InvalidToken);
        }
        Ok(data.claims)
    }

    /// Signs arbitrary claims with this issuer's key (tests forge expired or foreign tokens).
    pub fn sign_for_tests(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.key),
        )
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn issuer(dir: &Path) -> TokenIssuer {
        let auth = AuthConfig {
            client_id: Some("ditto-idv".into()),
            client_secret: Some("0123456789abcdef-secret".into()),
            clients: vec![crate::config::OAuthClient {
                client_id: "ditto-next".into(),
                client_secret: "fedcba9876543210-secret".into(),
            }],
            ..AuthConfig::default()
        };
        TokenIssuer::load_or_create(dir, &auth).unwrap()
    }

    #[test]
    fn issues_verifies_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let t = issuer(dir.path())
            .issue("ditto-idv", "0123456789abcdef-secret")
            .unwrap();
        assert_eq!(t.token_type, "Bearer");
        // A new issuer on the same data dir (a restart) accepts the token.
        let claims = issuer(dir.path()).verify(&t.access_token).unwrap();
        assert_eq!(claims.sub, "ditto-idv");
        // Rotation: the second pair works too; wrong secrets do not.
        assert!(issuer(dir.path())
            .issue("ditto-next", "fedcba9876543210-secret")
            .is_ok());
        assert!(matches!(
            issuer(dir.path()).issue("ditto-idv", "wrong"),
            Err(CoreError::InvalidClient)
        ));
        assert!(matches!(
            issuer(dir.path()).issue("nobody", "0123456789abcdef-secret"),
            Err(CoreError::InvalidClient)
        ));
    }

    #[test]
    fn refuses_forged_expired_foreign_and_unsigned_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let iss = issuer(dir.path());
        let now = now_secs();
        let good = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "ditto-idv".into(),
            iat: now,
            exp: now + 300,
            jti: "x".into(),
        };
        assert!(iss.verify(&iss.sign_for_tests(&good)).is_ok());
        let expired = Claims {
            iat: now - 600,
            exp: now - 300,
            ..good.clone()
        };
        let wrong_aud = Claims {
            aud: "someone-else".into(),
            ..good.clone()
        };
        let wrong_iss = Claims {
            iss: "evil".into(),
            ..good.clone()
        };
        for c in [expired, wrong_aud, wrong_iss] {
            assert!(matches!(
                iss.verify(&iss.sign_for_tests(&c)),
                Err(CoreError::InvalidToken)
            ));
        }
        let other = tempfile::tempdir().unwrap();
        assert!(
            iss.verify(&issuer(other.path()).sign_for_tests(&good))
                .is_err(),
            "wrong key"
        );
        // alg: none with the right claims.
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_vec(&good).unwrap())
        );
        assert!(iss.verify(&none).is_err(), "alg none");
        assert!(iss.verify("not.a.jwt").is_err());
    }
}
